//! Issue 16: `sandbox: bwrap`. A hostile fake agent tries to escape its worktree; under
//! the sandbox every attempt fails and its own work lands on its branch; without it the
//! same agent succeeds at all of them (so these tests can fail). Needs bubblewrap
//! (`.ci/run` installs it); never skipped.

mod common;

use common::{Env, alive};
use std::path::Path;
use std::time::{Duration, Instant};

/// A repository with a remote, another task's finished branch (`agent/other`), and
/// another task's agent running in its worktree (`victim`, detached), its pid in
/// `$HOME/victim.pid`.
fn scene() -> (Env, u32) {
    let env = Env::new();
    let remote = env.root.join("remote.git");
    env.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    env.agent("tidy", "echo tidy > tidy.txt");
    env.run(&["spawn", "other", "-p", "tidy up", "--command", "tidy"])
        .ok();
    // Its worktree goes (its branch stays), so `git branch -f` may move it at all.
    let wt = env.worktree("other");
    env.git(&["worktree", "remove", wt.to_str().unwrap()]);
    let pidfile = env.home.join("victim.pid");
    env.agent(
        "victim",
        &format!(
            "echo $$ > {}.tmp; mv {0}.tmp {0}; exec sleep 60",
            pidfile.display()
        ),
    );
    env.run(&[
        "spawn",
        "victim",
        "-p",
        "wait",
        "--command",
        "victim",
        "--detach",
    ])
    .ok();
    let until = Instant::now() + Duration::from_secs(20);
    let pid = loop {
        if let Ok(s) = std::fs::read_to_string(&pidfile)
            && let Ok(p) = s.trim().parse::<u32>()
        {
            break p;
        }
        assert!(Instant::now() < until, "the victim's agent never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    (env, pid)
}

/// The hostile agent: each escape attempt, then its own work (a commit of its own, and
/// a file left for git-agents to commit). Each line of `escapes.txt` says how one went.
fn hostile(env: &Env, victim: u32) {
    let repo = env.repo.display();
    let other = env.worktree("victim");
    let other = other.display();
    let home = env.home.display();
    env.agent(
        "hostile",
        &format!(
            r#"try() {{ name=$1; shift; if "$@" >/dev/null 2>&1; then echo "$name ok"; else echo "$name fail"; fi; }}
{{
try checkout sh -c 'echo pwned >> {repo}/README.md'
try other-worktree sh -c 'echo pwned > {other}/pwned.txt'
try bashrc sh -c 'echo pwned >> {home}/.bashrc'
try update-ref git update-ref refs/heads/main HEAD
try branch-f git branch -f agent/other HEAD
try push git push origin HEAD:refs/heads/pushed
try kill kill {victim}
}} > escapes.txt
echo mine > mine.txt
git add mine.txt escapes.txt
git commit -q -m "the agent's own commit"
echo left > left.txt
"#
        ),
    );
}

fn tip(env: &Env, rev: &str) -> String {
    env.git(&["rev-parse", rev]).trim().to_string()
}

fn remote_has(env: &Env, r: &str) -> bool {
    let remote = env.root.join("remote.git");
    env.git_in(&remote, &["for-each-ref", "--format=%(refname)"])
        .lines()
        .any(|l| l == r)
}

fn run_hostile(sandbox: &str) -> (Env, String, bool) {
    let (env, victim) = scene();
    hostile(&env, victim);
    let main = tip(&env, "main");
    let other = tip(&env, "agent/other");
    env.run(&[
        "spawn",
        "hostile",
        "-p",
        "escape",
        "--command",
        "hostile",
        "--sandbox",
        sandbox,
    ])
    .ok();
    let report = env.git(&["show", "agent/hostile:escapes.txt"]);
    // The agent's own work landed: its commit, and the file it left, committed after.
    let log = env.git(&["log", "--format=%s", "main..agent/hostile"]);
    assert!(log.contains("the agent's own commit"), "{log}");
    assert_eq!(env.git(&["show", "agent/hostile:mine.txt"]), "mine\n");
    assert_eq!(env.git(&["show", "agent/hostile:left.txt"]), "left\n");
    let moved = tip(&env, "main") != main
        || tip(&env, "agent/other") != other
        || std::fs::read_to_string(env.repo.join("README.md")).unwrap() != "hello\n";
    let victim_alive = alive(victim);
    env.run(&["stop", "victim"]);
    (env, report, moved || !victim_alive)
}

#[test]
fn a_sandboxed_agent_fails_every_escape_and_its_work_lands() {
    if !common::needs("bwrap") {
        return;
    }
    let (env, report, harmed) = run_hostile("bwrap");
    for name in [
        "checkout",
        "other-worktree",
        "bashrc",
        "update-ref",
        "branch-f",
        "push",
        "kill",
    ] {
        assert!(
            report.contains(&format!("{name} fail")),
            "{name} did not fail:\n{report}"
        );
    }
    assert!(!harmed, "something outside the worktree changed:\n{report}");
    assert!(!env.worktree("victim").join("pwned.txt").exists());
    assert!(!env.home.join(".bashrc").exists());
    assert!(!remote_has(&env, "refs/heads/pushed"));
    // The record, show and --json say how it ran.
    let rec = env.record("hostile");
    assert_eq!(rec["isolation"]["sandbox"], "bwrap");
    assert_eq!(rec["isolation"]["sandbox_network"], true);
    let show = env.run(&["show", "hostile"]).ok().stdout();
    assert!(show.contains("bwrap"), "{show}");
    let doc = env.run(&["show", "hostile", "--json"]).ok().json();
    assert_eq!(doc["tasks"][0]["isolation"]["sandbox"], "bwrap");
}

#[test]
fn the_same_agent_without_a_sandbox_escapes() {
    let (env, report, harmed) = run_hostile("none");
    for name in [
        "checkout",
        "other-worktree",
        "bashrc",
        "update-ref",
        "branch-f",
        "push",
        "kill",
    ] {
        assert!(
            report.contains(&format!("{name} ok")),
            "{name} failed without a sandbox:\n{report}"
        );
    }
    assert!(harmed);
    assert!(env.worktree("victim").join("pwned.txt").exists());
    assert!(remote_has(&env, "refs/heads/pushed"));
    assert_eq!(env.record("hostile")["isolation"]["sandbox"], "none");
}

/// Setup and check run sandboxed too; /tmp is private; `sandbox_write` is writable;
/// `sandbox_network: false` takes the network away.
#[test]
fn setup_check_tmp_write_paths_and_network() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    let shared = env.root.join("cache");
    std::fs::create_dir_all(shared.join("q")).unwrap();
    let host_tmp = std::path::PathBuf::from(format!("/tmp/git-agents-sb-{}", std::process::id()));
    std::fs::write(&host_tmp, "host").unwrap();
    let agent_tmp = format!("/tmp/git-agents-sb-agent-{}", std::process::id());
    env.agent(
        "probe",
        &format!(
            r#"echo tmp > {agent_tmp} || exit 3
if [ -e {host_tmp} ]; then echo visible; else echo hidden; fi > tmp.txt
echo cached > {shared}/c-$GIT_AGENTS_TASK.txt
echo cached > {shared}/q/c-$GIT_AGENTS_TASK.txt
readlink /proc/self/ns/net > net.txt
"#,
            shared = shared.display(),
            host_tmp = host_tmp.display(),
        ),
    );
    let escape = |name: &str| env.repo.join(name).display().to_string();
    let manifest = [
        "sandbox: bwrap".to_string(),
        format!("sandbox_write: [{}]", shared.display()),
        "sandbox_network: false".into(),
        format!(
            "setup: [\"echo s > setup.txt; echo s > {} || true\"]",
            escape("setup-escape")
        ),
        format!(
            "check: \"echo c > {} || true; test -f setup.txt\"",
            escape("check-escape")
        ),
        "tasks:".into(),
        "  - id: p".into(),
        "    prompt: probe".into(),
        "    command: probe".into(),
        "  - id: q".into(),
        "    prompt: probe".into(),
        "    command: probe".into(),
        "    sandbox_network: true".into(),
        format!("    sandbox_write: [{}/q]", shared.display()),
    ];
    env.write("agents.yaml", &(manifest.join("\n") + "\n"));
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    let out = env.run(&["spawn", "--trust", "--json"]);
    let doc = out.json();
    let t = &common::tasks(&doc)["p"];
    let _ = std::fs::remove_file(&host_tmp);
    assert_eq!(t["state"], "succeeded", "{doc}");
    assert_eq!(t["check"], "passed");
    assert!(
        !env.repo.join("setup-escape").exists(),
        "setup wrote the checkout"
    );
    assert!(
        !env.repo.join("check-escape").exists(),
        "check wrote the checkout"
    );
    assert!(!Path::new(&agent_tmp).exists(), "/tmp was not private");
    assert_eq!(env.git(&["show", "agent/p:tmp.txt"]), "hidden\n");
    assert_eq!(env.git(&["show", "agent/p:setup.txt"]), "s\n");
    assert_eq!(
        std::fs::read_to_string(shared.join("c-p.txt")).unwrap(),
        "cached\n"
    );
    // The network namespace: a new one without the network, ours with it.
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    let net = |id: &str| env.git(&["show", &format!("agent/{id}:net.txt")]);
    assert_ne!(net("p").trim(), host_net.to_str().unwrap());
    assert_eq!(net("q").trim(), host_net.to_str().unwrap());
    assert_eq!(common::tasks(&doc)["q"]["state"], "succeeded", "{doc}");
    // q's own sandbox_write replaced the top level's: the top-level dir was read-only.
    assert!(shared.join("q/c-q.txt").exists());
    assert!(!shared.join("c-q.txt").exists());
    let rec = env.record("p");
    assert_eq!(rec["isolation"]["sandbox_network"], false);
    assert_eq!(
        rec["isolation"]["sandbox_write"][0],
        shared.display().to_string()
    );
}

/// Nothing of a task exists: no branch, no worktree, no record.
fn nothing_created(env: &Env) {
    assert_eq!(env.branches(), ["main"]);
    assert!(!env.repo.join(".worktrees").exists());
    let tasks = env.agents_dir().join("tasks");
    assert!(!tasks.exists() || std::fs::read_dir(&tasks).unwrap().next().is_none());
}

#[test]
fn bad_sandbox_settings_are_usage_errors_and_create_nothing() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    env.agent("inside", "true");
    for (manifest, says) in [
        ("sandbox: firejail\n", "unknown sandbox \"firejail\""),
        (
            "sandbox: bwrap\nsandbox_write: [relative/dir]\n",
            "is relative",
        ),
        ("sandbox: bwrap\nsandbox_write: /\n", "whole filesystem"),
        ("sandbox: bwrap\nsandbox_write: [/a/../etc]\n", "`..`"),
        ("sandbox_network: sometimes\n", "sandbox_network"),
    ] {
        env.write(
            "agents.yaml",
            &format!("{manifest}tasks:\n  - id: t1\n    prompt: work\n    command: inside\n"),
        );
        let out = env.run(&["spawn", "--trust"]).code_is(2);
        assert!(out.stderr().contains(says), "{manifest}: {}", out.stderr());
        assert!(out.stderr().contains("agents.yaml:"), "{}", out.stderr());
        nothing_created(&env);
    }
    env.write(
        "agents.yaml",
        "tasks:\n  - id: t1\n    prompt: work\n    command: inside\n",
    );
    let out = env
        .run(&["spawn", "--trust", "--sandbox", "firejail"])
        .code_is(2);
    assert!(out.stderr().contains("firejail"), "{}", out.stderr());
    for (k, v) in [
        ("agents.sandbox", "firejail"),
        ("agents.sandboxWrite", "rel"),
        ("agents.sandboxWrite", "/"),
    ] {
        env.git(&["config", k, v]);
        let out = env.run(&["spawn", "--trust"]).code_is(2);
        assert!(out.stderr().contains(k), "{k}: {}", out.stderr());
        env.git(&["config", "--unset-all", k]);
        nothing_created(&env);
    }
}

/// A PATH of its own: git and sh, and whatever `bwrap` the test gives.
fn without_bwrap(env: &Env, fake: Option<&str>) -> std::process::Command {
    let bin = env.root.join("nobwrap");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in ["git", "sh"] {
        let real = which(tool);
        let _ = std::os::unix::fs::symlink(real, bin.join(tool));
    }
    let _ = std::fs::remove_file(bin.join("bwrap"));
    if let Some(body) = fake {
        let p = bin.join("bwrap");
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut cmd = env.cmd(&[
        "spawn",
        "t1",
        "-p",
        "work",
        "--command",
        "inside",
        "--sandbox",
        "bwrap",
    ]);
    cmd.env("PATH", format!("{}:{}", env.bin.display(), bin.display()));
    cmd
}

fn which(tool: &str) -> std::path::PathBuf {
    for dir in ["/usr/local/bin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!("{tool} not found");
}

#[test]
fn bwrap_missing_or_unusable_is_an_error_naming_the_package() {
    let env = Env::new();
    env.agent("inside", "true");
    let out = without_bwrap(&env, None).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("bwrap is not installed"), "{err}");
    assert!(err.contains("apt-get install bubblewrap"), "{err}");
    nothing_created(&env);
    // Installed, but no user namespaces here.
    let out = without_bwrap(
        &env,
        Some("echo 'bwrap: No permissions to create new namespace' >&2; exit 1"),
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("No permissions to create new namespace"),
        "{err}"
    );
    assert!(err.contains("bubblewrap"), "{err}");
    nothing_created(&env);
}

/// What git-agents itself runs git on after the agent (the worktree's `.git` file, its
/// admin dir's `commondir` and `gitdir`, the repository's config and hooks) cannot be
/// rewritten from inside, nor can other refs be made; the packs cannot be deleted.
#[test]
fn the_repository_git_agents_relies_on_stays_intact() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    env.agent(
        "meddler",
        r#"try() { name=$1; shift; if "$@" >/dev/null 2>&1; then echo "$name ok"; else echo "$name fail"; fi; }
admin=$(git rev-parse --absolute-git-dir)
common=$(cd "$(git rev-parse --git-common-dir)" && pwd)
{
try gitfile sh -c 'echo "gitdir: /nowhere" > .git'
try gitfile-rm rm -f .git
try commondir sh -c "echo /nowhere > $admin/commondir"
try gitdir sh -c "echo /nowhere > $admin/gitdir"
try config-worktree sh -c "printf '[core]\n\thooksPath = /tmp\n' > $admin/config.worktree"
try config sh -c "printf '[core]\n\tfsmonitor = touch /tmp/owned\n' >> $common/config"
try hook sh -c "echo 'touch /tmp/owned' > $common/hooks/post-commit"
try packs rm -rf "$common/objects/pack"
try new-branch git branch newone
try tag git tag v1
try packed-refs sh -c "echo x >> $common/packed-refs"
} > meddle.txt
echo mine > mine.txt
git add -A
git commit -q -m "own work"
"#,
    );
    env.run(&[
        "spawn",
        "m",
        "-p",
        "meddle",
        "--command",
        "meddler",
        "--sandbox",
        "bwrap",
    ])
    .ok();
    let report = env.git(&["show", "agent/m:meddle.txt"]);
    for name in [
        "gitfile",
        "gitfile-rm",
        "commondir",
        "gitdir",
        "config",
        "hook",
        "packs",
        "new-branch",
        "tag",
        "packed-refs",
    ] {
        assert!(
            report.contains(&format!("{name} fail")),
            "{name}:\n{report}"
        );
    }
    assert_eq!(env.branches(), ["agent/m", "main"]);
    assert!(env.git(&["tag"]).trim().is_empty());
    assert!(env.repo.join(".git/objects/pack").is_dir());
    assert!(!env.git(&["config", "--list"]).contains("fsmonitor"));
}

/// The agent's own branch moved inside the sandbox lands only as a commit: a symbolic
/// ref (which would make git-agents' own commit move `main`) or garbage fails the attempt
/// and leaves every branch where it was.
#[test]
fn a_branch_left_as_a_symref_or_garbage_is_refused() {
    if !common::needs("bwrap") {
        return;
    }
    for (name, text) in [("sym", "ref: refs/heads/main"), ("junk", "not a sha")] {
        let env = Env::new();
        env.agent(
            "forge",
            &format!(
                "echo x > x.txt; git add x.txt; git commit -qm x\n\
                 printf '%s\\n' '{text}' > \"$(git rev-parse --git-common-dir)/refs/heads/agent/{name}\""
            ),
        );
        let main = tip(&env, "main");
        let out = env.run(&[
            "spawn",
            name,
            "-p",
            "forge",
            "--command",
            "forge",
            "--sandbox",
            "bwrap",
            "--json",
        ]);
        let doc = out.json();
        let t = &common::tasks(&doc)[name];
        assert_eq!(t["state"], "failed", "{doc}");
        assert!(
            t["detail"].as_str().unwrap().contains("not a commit"),
            "{doc}"
        );
        assert_eq!(tip(&env, "main"), main);
        assert_eq!(
            tip(&env, &format!("agent/{name}")),
            main,
            "the branch stays at its start"
        );
    }
}

/// An agent that moves its branch back (a reset) leaves the commits it dropped in
/// pruned.log: here setup's commit, made in the sandbox before the agent ran.
#[test]
fn a_branch_moved_back_logs_what_it_dropped() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    env.agent("rewind", "git reset -q --hard \"$GIT_AGENTS_BASE\"");
    env.write(
        "agents.yaml",
        "sandbox: bwrap\nsetup: [\"echo s > s.txt && git add s.txt && git commit -qm from-setup\"]\n\
         tasks:\n  - id: r\n    prompt: rewind\n    command: rewind\n",
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    env.run(&["spawn", "--trust", "--keep-empty"]).ok();
    let pruned = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    let sha = pruned
        .lines()
        .find(|l| l.contains(" r agent/r "))
        .and_then(|l| l.split_whitespace().last())
        .unwrap_or_else(|| panic!("{pruned}"))
        .to_string();
    assert!(
        env.git(&["log", "-1", "--format=%s", &sha])
            .contains("from-setup")
    );
    assert_eq!(tip(&env, "agent/r"), tip(&env, "main"));
}

/// Processes whose command line is `argv` (joined with NULs), anywhere on the machine.
fn running_with(arg: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
            && alive(pid)
        {
            out.push(pid);
        }
    }
    out
}

/// A timeout and `git agents stop` reach a sandboxed agent and everything it started:
/// its own PID namespace does not hide it from git-agents.
#[test]
fn timeouts_and_stop_end_a_sandboxed_agent() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    let mark = format!("31.{}", std::process::id());
    env.agent("sleeper", &format!("sleep {mark} & exec sleep {mark}"));
    let start = Instant::now();
    let doc = env
        .run(&[
            "spawn",
            "t",
            "-p",
            "sleep",
            "--command",
            "sleeper",
            "--sandbox",
            "bwrap",
            "--timeout",
            "1s",
            "--json",
        ])
        .json();
    assert_eq!(common::tasks(&doc)["t"]["state"], "timed-out", "{doc}");
    assert!(start.elapsed() < Duration::from_secs(15));
    assert!(
        running_with(&mark).is_empty(),
        "survivors: {:?}",
        running_with(&mark)
    );

    env.run(&[
        "spawn",
        "s",
        "-p",
        "sleep",
        "--command",
        "sleeper",
        "--sandbox",
        "bwrap",
        "--detach",
    ])
    .ok();
    let until = Instant::now() + Duration::from_secs(20);
    while running_with(&mark).len() < 2 {
        assert!(Instant::now() < until, "the agent never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    env.run(&["stop", "s"]).ok();
    assert_eq!(env.record("s")["state"], "interrupted");
    // --sandbox reached the detached batch.
    assert_eq!(env.record("s")["isolation"]["sandbox"], "bwrap");
    assert!(
        running_with(&mark).is_empty(),
        "survivors: {:?}",
        running_with(&mark)
    );
}

/// A `HEAD` turned into a symbolic ref to `main` inside the sandbox would make
/// git-agents' own commit of the leftovers, outside it, move `main`: the attempt fails,
/// `HEAD` is put back, `main` stays.
#[test]
fn a_head_pointed_at_another_branch_is_put_back() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    env.agent(
        "pivot",
        "git symbolic-ref HEAD refs/heads/main && echo x > leftover.txt",
    );
    let main = tip(&env, "main");
    let doc = env
        .run(&[
            "spawn",
            "h",
            "-p",
            "pivot",
            "--command",
            "pivot",
            "--sandbox",
            "bwrap",
            "--json",
        ])
        .json();
    let t = &common::tasks(&doc)["h"];
    assert_eq!(t["state"], "failed", "{doc}");
    assert!(t["detail"].as_str().unwrap().contains("HEAD"), "{doc}");
    assert_eq!(tip(&env, "main"), main);
    let head = env.git_in(&env.worktree("h"), &["symbolic-ref", "HEAD"]);
    assert_eq!(head.trim(), "refs/heads/agent/h");
}

/// Sandboxed tasks at once: each one's commits land on its own branch alone.
#[test]
fn parallel_sandboxed_tasks_each_land_their_own_commits() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    env.agent(
        "committer",
        "for i in 1 2 3; do echo $i > \"$GIT_AGENTS_TASK-$i.txt\"; git add -A; git commit -qm \"$GIT_AGENTS_TASK $i\"; done",
    );
    let mut manifest = String::from("sandbox: bwrap\njobs: 4\ntasks:\n");
    for id in ["a", "b", "c", "d"] {
        manifest.push_str(&format!(
            "  - id: {id}\n    prompt: commit\n    command: committer\n"
        ));
    }
    env.write("agents.yaml", &manifest);
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    env.run(&["spawn", "--trust"]).ok();
    for id in ["a", "b", "c", "d"] {
        let log = env.git(&["log", "--format=%s", &format!("main..agent/{id}")]);
        assert_eq!(log, format!("{id} 3\n{id} 2\n{id} 1\n"), "{id}");
    }
}

/// A reftable repository keeps every ref in shared tables: no per-branch view is
/// possible, so the sandbox refuses it before anything is created.
#[test]
fn a_reftable_repository_is_refused_up_front() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    env.agent("inside", "true");
    let repo = env.root.join("rt");
    env.git(&[
        "init",
        "-q",
        "-b",
        "main",
        "--ref-format=reftable",
        repo.to_str().unwrap(),
    ]);
    env.git_in(&repo, &["commit", "-q", "--allow-empty", "-m", "i"]);
    let out = env
        .cmd(&[
            "spawn",
            "t1",
            "-p",
            "work",
            "--command",
            "inside",
            "--sandbox",
            "bwrap",
        ])
        .current_dir(&repo)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("reftable"), "{err}");
    assert!(!repo.join(".worktrees").exists());
}

/// The private ref dir lives only as long as a job.
#[test]
fn the_private_ref_dir_is_gone_after_the_job() {
    if !common::needs("bwrap") {
        return;
    }
    let env = Env::new();
    env.agent(
        "one",
        "echo 1 > one.txt; git add one.txt; git commit -qm one",
    );
    env.run(&[
        "spawn",
        "o",
        "-p",
        "one",
        "--command",
        "one",
        "--sandbox",
        "bwrap",
    ])
    .ok();
    assert_eq!(env.git(&["log", "-1", "--format=%s", "agent/o"]), "one\n");
    assert!(!env.agents_dir().join("sandbox/o").exists());
}
