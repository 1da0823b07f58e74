//! Issue 17: remote runs. The "remote" is a local bare repository and the dispatcher a
//! `command` that runs each job as a background process in its own clone on this
//! machine (a stand-in for a pod): it clones the remote and runs `git agents run-task`.

mod common;

use common::{BIN, Env};
use serde_json::Value;
use std::time::{Duration, Instant};

/// The job: a fresh clone of the remote, `run-task` in it. `$1` url, `$2` task, `$3` job.
fn job_script() -> String {
    format!(
        "set -e\nd=\"$HOME/jobs/$3\"\nmkdir -p \"$d\"\ngit clone -q \"$1\" \"$d/c\"\ncd \"$d/c\"\nexec {BIN} run-task \"$2\"\n"
    )
}

const MANIFEST: &str = r#"check: test ! -f bad.txt
tasks:
  - id: add-a
    prompt: write a
    command: [agent]
  - id: add-b
    prompt: write b
    command: [agent]
  - id: nothing
    prompt: change nothing
    command: [agent]
  - id: check-fails
    prompt: write bad
    command: [agent]
  - id: agent-fails
    prompt: exit 3
    command: [agent]
  - id: flaky
    prompt: flaky
    command: [agent]
    retries: 1
  - id: add-c
    prompt: write c
    command: [agent]
  - id: add-d
    prompt: write d
    command: [agent]
"#;

const AGENT: &str = r#"case "$GIT_AGENTS_TASK" in
nothing) exit 0 ;;
check-fails) echo bad > bad.txt ;;
agent-fails) echo failing; exit 3 ;;
flaky) [ "$GIT_AGENTS_ATTEMPT" = 1 ] && { echo first try fails; exit 1; }; echo ok > flaky.txt ;;
*) echo "$GIT_AGENTS_TASK" > "$GIT_AGENTS_TASK.txt" ;;
esac"#;

/// A repository with the batch's manifest, and (for `remote`) a bare clone as `origin`
/// and `runner: remote` in git config (so both repositories hold the same commits).
fn setup(remote: bool) -> Env {
    let env = Env::new();
    env.agent("agent", AGENT);
    env.agent("job", &job_script());
    env.write("agents.yaml", MANIFEST);
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    if remote {
        let bare = env.root.join("remote.git");
        env.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
        env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
        env.git(&["config", "agents.runner", "remote"]);
        env.git(&["config", "agents.remoteDispatch", "job {url} {task} {job}"]);
    }
    env
}

fn spawn(env: &Env, args: &[&str]) -> common::Run {
    let mut cmd = env.cmd(&["spawn", "--trust", "--json"]);
    cmd.args(args).env("GIT_AGENTS_REMOTE_POLL_MS", "50");
    common::Run(cmd.output().unwrap())
}

/// What must match between a local and a remote run of a task.
fn essence(rec: &Value) -> Value {
    let attempts: Vec<Value> = rec["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            serde_json::json!({
                "n": a["n"], "state": a["state"], "exit_code": a["exit_code"],
                "head": a["head"], "detail": a["detail"],
            })
        })
        .collect();
    serde_json::json!({
        "state": rec["state"], "head": rec["head"], "check": rec["check"],
        "exit_code": rec["exit_code"], "detail": rec["detail"], "base": rec["base"],
        "base_commit": rec["base_commit"], "command": rec["command"], "attempts": attempts,
    })
}

const IDS: [&str; 8] = [
    "add-a",
    "add-b",
    "nothing",
    "check-fails",
    "agent-fails",
    "flaky",
    "add-c",
    "add-d",
];

fn remote_refs(env: &Env) -> Vec<String> {
    env.git(&["ls-remote", "origin", "refs/agents/*"])
        .lines()
        .map(|l| l.split('\t').nth(1).unwrap().to_string())
        .collect()
}

#[test]
fn a_remote_batch_ends_like_the_same_batch_run_locally() {
    let local = setup(false);
    let remote = setup(true);
    spawn(&local, &["-j", "8"]).code_is(1);
    let t0 = Instant::now();
    let doc = spawn(&remote, &["-j", "8"]).code_is(1).json();
    let took = t0.elapsed();
    assert_eq!(common::tasks(&doc).len(), 8, "{doc}");
    for id in IDS {
        let (l, r) = (local.record(id), remote.record(id));
        assert_eq!(essence(&l), essence(&r), "task {id}");
        assert_eq!(r["remote"]["dispatcher"], "command", "{r}");
        assert_eq!(r["remote"]["remote"], "origin");
        // No worktree here: the work ran in the job's clone.
        assert!(!remote.worktree(id).exists(), "{id}");
        assert!(
            r["remote"]["job"]
                .as_str()
                .unwrap()
                .starts_with(&format!("agents-{id}-"))
        );
    }
    assert_eq!(
        local.record("flaky")["attempts"].as_array().unwrap().len(),
        2
    );
    assert_eq!(local.branches(), remote.branches());
    for b in local.branches() {
        assert_eq!(
            local.git(&["rev-parse", &b]),
            remote.git(&["rev-parse", &b]),
            "{b}"
        );
    }
    // The remote saw the private refs and the branches.
    let refs = remote_refs(&remote);
    for id in IDS {
        for kind in ["base", "task", "status"] {
            assert!(
                refs.contains(&format!("refs/agents/{kind}/{id}")),
                "{refs:?}"
            );
        }
    }
    // list, show and logs work for remote tasks.
    let list = remote.run(&["list", "--json"]).ok().json();
    assert_eq!(common::tasks(&list)["add-a"]["state"], "succeeded");
    assert_eq!(
        common::tasks(&list)["add-a"]["remote"]["dispatcher"],
        "command"
    );
    let show = remote.run(&["show", "add-a"]).ok().stdout();
    assert!(
        show.contains("where") && show.contains("(command) via origin"),
        "{show}"
    );
    remote.run(&["wait", "add-a"]).ok();
    let logs = remote.run(&["logs", "agent-fails"]).ok().stdout();
    assert!(logs.contains("failing"), "{logs}");
    // Merge everything that succeeded: the same result.
    for env in [&local, &remote] {
        env.run(&["trust"]).ok();
        env.run(&["merge", "--all"]).ok();
    }
    assert_eq!(
        local.git(&["rev-parse", "main^{tree}"]),
        remote.git(&["rev-parse", "main^{tree}"])
    );
    for id in ["add-a", "add-b", "flaky", "add-c", "add-d"] {
        assert_eq!(remote.record(id)["state"], "merged", "{id}");
    }
    // A worktree only when asked.
    let path = remote.run(&["path", "check-fails"]).ok().stdout();
    assert_eq!(
        std::fs::read_to_string(format!("{}/bad.txt", path.trim())).unwrap(),
        "bad\n"
    );
    // Prune removes the remote's private refs too.
    remote.run(&["prune", "--all", "--force", "--yes"]).ok();
    let left = remote_refs(&remote);
    assert!(left.is_empty(), "{left:?}");
    eprintln!("8 remote tasks took {took:?}");
}

#[test]
fn a_job_that_dies_without_status_fails_after_the_timeout() {
    let env = setup(true);
    env.agent("dies", "exit 0");
    env.git(&["config", "agents.remoteDispatch", "dies {task}"]);
    env.git(&["config", "agents.remoteTimeout", "1s"]);
    let t0 = Instant::now();
    let doc = spawn(&env, &["add-a"]).code_is(1).json();
    assert!(t0.elapsed() >= Duration::from_secs(1));
    let t = &common::tasks(&doc)["add-a"];
    assert_eq!(t["state"], "failed", "{doc}");
    let rec = env.record("add-a");
    let detail = rec["detail"].as_str().unwrap();
    assert!(
        detail.contains("lost") && detail.contains("remote_timeout"),
        "{detail}"
    );
}

#[test]
fn stop_cancels_a_remote_job() {
    let env = setup(true);
    env.agent("agent", "sleep 30");
    // The job's status push outlives the stop's SIGTERM (it ignores it), so the status of
    // an agent that died of the stop reaches the remote while the stop request stands:
    // the task must still read `interrupted`, not the job's `failed`.
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v git"])
        .output()
        .unwrap()
        .stdout;
    let real = String::from_utf8(real).unwrap();
    env.agent(
        "git",
        &format!(
            "case \" $* \" in *' push '*) trap '' TERM;; esac\nexec '{}' \"$@\"",
            real.trim()
        ),
    );
    let mut child = env
        .cmd(&["spawn", "--trust", "add-a"])
        .env("GIT_AGENTS_REMOTE_POLL_MS", "1000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    // Running remotely once the job's own run-task has started the agent.
    loop {
        assert!(t0.elapsed() < Duration::from_secs(20), "never started");
        let jobs = env.home.join("jobs");
        let started = std::fs::read_dir(&jobs).is_ok_and(|d| {
            d.flatten()
                .any(|j| j.path().join("c/.git/agents/tasks/add-a.json").exists())
        });
        if started {
            let list = env.run(&["list", "--json"]).ok().json();
            assert_eq!(common::tasks(&list)["add-a"]["state"], "running");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    env.run(&["stop", "add-a"]).ok();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(t0.elapsed() < Duration::from_secs(20));
    let rec = env.record("add-a");
    assert_eq!(rec["state"], "interrupted", "{rec}");
    // Nothing of the job is left running.
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("{}/jobs", env.home.display())])
        .output();
    if let Ok(out) = out {
        assert!(
            out.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

#[test]
fn an_unknown_dispatcher_is_refused_before_anything_runs() {
    let env = setup(true);
    env.git(&["config", "agents.remoteDispatch", "nomad"]);
    let r = spawn(&env, &["add-a"]).code_is(2);
    assert!(
        r.stderr().contains("unknown remote dispatcher \"nomad\""),
        "{}",
        r.stderr()
    );
    assert!(!env.agents_dir().join("tasks/add-a.json").exists());
    env.write(
        "agents.yaml",
        &MANIFEST.replace("tasks:", "remote_dispatch: nomad\ntasks:"),
    );
    let r = spawn(&env, &["add-a"]).code_is(2);
    assert!(
        r.stderr().contains("unknown remote dispatcher"),
        "{}",
        r.stderr()
    );
}

#[test]
fn a_missing_or_refusing_remote_fails_the_task_with_the_reason() {
    let env = setup(true);
    env.git(&["remote", "remove", "origin"]);
    spawn(&env, &["add-a"]).code_is(1);
    let d = env.record("add-a")["detail"].as_str().unwrap().to_string();
    assert!(d.contains("remote \"origin\" does not exist"), "{d}");

    let env = setup(true);
    let hook = env.root.join("remote.git/hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\necho no pushes here >&2\nexit 1\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    spawn(&env, &["add-a"]).code_is(1);
    let d = env.record("add-a")["detail"].as_str().unwrap().to_string();
    assert!(d.contains("the push to remote \"origin\" failed"), "{d}");
    assert!(d.contains("no pushes here"), "{d}");
}

#[test]
fn a_status_with_garbage_fails_the_task_with_the_reason() {
    let env = setup(true);
    // A "job" that pushes garbage where the status goes.
    env.agent(
        "garbage",
        "set -e\nd=$(mktemp -d)\ncd \"$d\"\ngit init -q\nsha=$(printf '\\033[31mnot json' | git hash-object -w --stdin)\ngit push -q \"$1\" \"$sha:refs/agents/status/$2\"\n",
    );
    env.git(&["config", "agents.remoteDispatch", "garbage {url} {task}"]);
    spawn(&env, &["add-a"]).code_is(1);
    let rec = env.record("add-a");
    let d = rec["detail"].as_str().unwrap();
    assert!(
        d.contains("refs/agents/status/add-a") && d.contains("refused"),
        "{d}"
    );
    assert!(d.contains("not a git-agents status"), "{d}");
}

/// Run `program args` (a schema checker installed by .ci/run) and insist it passes.
#[track_caller]
fn validates(program: &str, args: &[&str]) {
    if !common::needs(program) {
        return;
    }
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is not installed (.ci/run installs it): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < Duration::from_secs(20), "never: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn kubernetes_renders_a_valid_job_naming_the_secret_and_stop_deletes_it() {
    let env = setup(true);
    env.agent(
        "kubectl",
        "case \"$1\" in\napply) cp \"$3\" \"$HOME/job.tmp\" && mv \"$HOME/job.tmp\" \"$HOME/job.yaml\"; echo job created ;;\ndelete) echo \"$@\" > \"$HOME/delete.args\" ;;\nlogs) echo \"pod says hello from $2 in $4\" ;;\nesac",
    );
    env.git(&["config", "agents.remoteDispatch", "kubernetes"]);
    env.git(&["config", "agents.remoteImage", "registry.example/agents:1"]);
    env.git(&["config", "agents.remoteSecret", "agent-keys"]);
    let mut child = env
        .cmd(&["spawn", "--trust", "add-a"])
        .env("GIT_AGENTS_REMOTE_POLL_MS", "50")
        .env("ANTHROPIC_API_KEY", "sk-very-secret")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let job = env.home.join("job.yaml");
    wait_for("the Job applied", || job.exists());
    let yaml = std::fs::read_to_string(&job).unwrap();
    validates("kubernetes-validate", &["--strict", job.to_str().unwrap()]);
    assert!(yaml.contains("name: \"agent-keys\""), "{yaml}");
    assert!(
        yaml.contains("image: \"registry.example/agents:1\""),
        "{yaml}"
    );
    assert!(!yaml.contains("sk-very-secret"));
    let rec = env.record("add-a");
    assert_eq!(rec["state"], "running");
    let name = rec["remote"]["job"].as_str().unwrap().to_string();
    assert!(yaml.contains(&format!("name: \"{name}\"")), "{yaml}");
    let logs = env.run(&["logs", "add-a"]).ok().stdout();
    assert!(
        logs.contains(&format!("pod says hello from job/{name} in default")),
        "{logs}"
    );
    env.run(&["stop", "add-a"]).ok();
    child.wait().unwrap();
    let del = std::fs::read_to_string(env.home.join("delete.args")).unwrap();
    assert_eq!(
        del.trim(),
        format!("delete job {name} --namespace default --ignore-not-found --wait=false")
    );
    assert_eq!(env.record("add-a")["state"], "interrupted");
    // The secret is in no record and no ref.
    let spec = env.git_in(
        &env.root.join("remote.git"),
        &["cat-file", "blob", "refs/agents/task/add-a"],
    );
    assert!(
        !spec.contains("sk-very-secret") && spec.contains("write a"),
        "{spec}"
    );
    assert!(!env.record("add-a").to_string().contains("sk-very-secret"));
}

#[test]
fn github_actions_runs_the_shipped_workflow_which_is_valid() {
    let wf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/remote/examples/github-workflow.yml"
    );
    validates(
        "check-jsonschema",
        &["--builtin-schema", "vendor.github-workflows", wf],
    );
    let env = setup(true);
    env.agent(
        "gh",
        "echo \"$@\" >> \"$HOME/gh.args\"\ncase \"$1 $2\" in\n'run list') echo 4242 ;;\n'run view') echo \"run $3 log\" ;;\nesac",
    );
    env.git(&["config", "agents.remoteDispatch", "github-actions"]);
    let mut child = env
        .cmd(&["spawn", "--trust", "add-a"])
        .env("GIT_AGENTS_REMOTE_POLL_MS", "50")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let args = env.home.join("gh.args");
    wait_for("gh workflow run", || args.exists());
    let name = env.record("add-a")["remote"]["job"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = env.run(&["logs", "add-a"]).ok().stdout();
    assert!(logs.contains("run 4242 log"), "{logs}");
    env.run(&["stop", "add-a"]).ok();
    child.wait().unwrap();
    let calls = std::fs::read_to_string(&args).unwrap();
    let lines: Vec<&str> = calls.lines().collect();
    assert_eq!(
        lines[0],
        format!("workflow run git-agents.yml -f task=add-a -f job={name}")
    );
    assert!(
        lines[1].starts_with("run list --workflow git-agents.yml"),
        "{calls}"
    );
    assert_eq!(lines[2], "run view 4242 --log", "{calls}");
    assert!(lines[3].starts_with("run list --workflow git-agents.yml"));
    assert_eq!(lines[4], "run cancel 4242", "{calls}");
}

#[test]
fn ssh_takes_hosts_round_robin_within_their_job_limit() {
    let env = setup(true);
    std::os::unix::fs::symlink(BIN, env.bin.join("git-agents")).unwrap();
    // A stand-in for ssh: runs the command here, noting the host and any overlap.
    env.agent(
        "ssh",
        "host=$3\necho \"$host\" >> \"$HOME/ssh.log\"\nmkdir \"$HOME/busy-$host\" 2>/dev/null || echo OVERLAP >> \"$HOME/ssh.log\"\nsh -c \"$4\" >/dev/null; rc=$?\nrmdir \"$HOME/busy-$host\"\nexit $rc",
    );
    env.git(&["config", "agents.remoteDispatch", "ssh"]);
    env.git(&["config", "agents.remoteHosts", "h1 h2"]);
    env.git(&["config", "agents.remoteHostJobs", "1"]);
    let doc = spawn(&env, &["-j", "4", "add-a", "add-b", "add-c", "add-d"])
        .ok()
        .json();
    for (id, t) in common::tasks(&doc) {
        assert_eq!(t["state"], "succeeded", "{id}: {doc}");
        let job = env.record(&id)["remote"]["job"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(job.starts_with("h1:") || job.starts_with("h2:"), "{job}");
    }
    let log = std::fs::read_to_string(env.home.join("ssh.log")).unwrap();
    assert!(!log.contains("OVERLAP"), "{log}");
    let hosts: Vec<&str> = log.lines().collect();
    assert_eq!(hosts.len(), 4);
    assert_eq!(hosts.iter().filter(|h| **h == "h1").count(), 2, "{log}");
    assert_eq!(env.git(&["show", "agent/add-c:add-c.txt"]), "add-c\n");
}

#[test]
fn a_detached_remote_batch_is_waited_for_and_logs_its_events() {
    let env = setup(true);
    env.cmd(&["spawn", "--trust", "--detach", "add-a", "add-b"])
        .env("GIT_AGENTS_REMOTE_POLL_MS", "50")
        .output()
        .map(common::Run)
        .unwrap()
        .ok();
    env.run(&["wait", "add-a", "add-b"]).ok();
    for id in ["add-a", "add-b"] {
        assert_eq!(env.record(id)["state"], "succeeded", "{id}");
        assert_eq!(
            env.git(&["show", &format!("agent/{id}:{id}.txt")]),
            format!("{id}\n")
        );
    }
    // The batch's event log (what watch follows) has the remote tasks' ends.
    let mut events = String::new();
    for e in std::fs::read_dir(env.agents_dir().join("events"))
        .unwrap()
        .flatten()
    {
        events += &std::fs::read_to_string(e.path()).unwrap();
    }
    let ended: Vec<&str> = events
        .lines()
        .filter(|l| l.contains("\"task-ended\"") && l.contains("succeeded"))
        .collect();
    assert_eq!(ended.len(), 2, "{events}");
}

#[test]
fn merge_on_conflict_agent_makes_a_remote_task_s_worktree_and_resolves_there() {
    let env = Env::new();
    env.agent(
        "clash",
        r#"if git rev-parse -q --verify MERGE_HEAD >/dev/null; then
  git diff --name-only --diff-filter=U | while read -r f; do
    echo "resolved by $GIT_AGENTS_TASK" > "$f"
  done
  exit 0
fi
echo "from $GIT_AGENTS_TASK" > shared.txt"#,
    );
    env.agent("job", &job_script());
    env.write(
        "agents.yaml",
        "tasks:\n  - id: one\n    prompt: one\n    command: [clash]\n  - id: two\n    prompt: two\n    command: [clash]\n",
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    let bare = env.root.join("remote.git");
    env.git(&["clone", "-q", "--bare", ".", bare.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", bare.to_str().unwrap()]);
    env.git(&["config", "agents.runner", "remote"]);
    env.git(&["config", "agents.remoteDispatch", "job {url} {task} {job}"]);
    spawn(&env, &[]).ok();
    for id in ["one", "two"] {
        assert_eq!(env.record(id)["state"], "succeeded");
        assert!(
            !env.worktree(id).exists(),
            "a remote task got a local worktree"
        );
    }
    let run = env
        .cmd(&["merge", "--trust", "--on-conflict", "agent", "--json"])
        .output()
        .unwrap();
    let run = common::Run(run);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    let t = common::tasks(&run.json());
    assert_eq!(t["one"]["result"], "merged");
    assert_eq!(t["two"]["result"], "merged", "{}", run.stderr());
    // The conflict was resolved by the task's agent, in a worktree made for it here.
    assert!(env.worktree("two").is_dir());
    assert_eq!(env.git(&["show", "main:shared.txt"]), "resolved by two\n");
}
