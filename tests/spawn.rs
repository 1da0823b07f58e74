//! `git agents spawn` on real repositories with fake agents.

mod common;

use common::{Env, alive, read_pid, tasks};
use std::time::{Duration, Instant};

/// A fake agent that writes its prompt (first argument) into a file named after the task.
fn writer(env: &Env) {
    env.agent(
        "fake-agent",
        r#"printf '%s' "$1" > "out-$GIT_AGENTS_TASK.txt"
echo "wrote out-$GIT_AGENTS_TASK.txt""#,
    );
}

const THREE: &str = "command: [fake-agent, \"{prompt}\"]\ntasks:\n  - id: alpha\n    prompt: Do alpha\n  - id: beta\n    prompt: Do beta\n  - id: gamma\n    prompt: |\n      Do gamma\n      with a second line\n";

#[test]
fn three_tasks_each_committed_on_its_branch() {
    let env = Env::new();
    writer(&env);
    env.write("agents.yaml", THREE);
    let run = env.run(&["spawn", "--json", "-j", "3"]).ok();
    let doc = run.json();
    let t = tasks(&doc);
    assert_eq!(t.len(), 3);
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(t[id]["state"], "succeeded", "{id}: {}", t[id]);
        assert_eq!(t[id]["branch"], format!("agent/{id}"));
        assert_eq!(t[id]["base"], "main");
        assert_eq!(t[id]["ahead"], 1);
        assert_eq!(t[id]["behind"], 0);
        assert_eq!(t[id]["dirty"], 0);
        assert_eq!(t[id]["attempts"], 1);
        assert_eq!(t[id]["exit_code"], 0);
        let wt = env.worktree(id);
        assert_eq!(t[id]["worktree"], wt.to_str().unwrap());
        assert!(wt.join(format!("out-{id}.txt")).is_file());
        // The commit holds exactly the agent's file, on top of main.
        let files = env.git(&["show", "--name-only", "--format=", &format!("agent/{id}")]);
        assert_eq!(files.trim(), format!("out-{id}.txt"));
        assert_eq!(
            env.git(&["rev-parse", &format!("agent/{id}~1")]),
            env.git(&["rev-parse", "main"])
        );
    }
    // Subject is the prompt's first line; trailer names the task; identity is the user's.
    let msg = env.git(&["log", "-1", "--format=%s%n%b%an <%ae>", "agent/gamma"]);
    assert_eq!(
        msg,
        "Do gamma\nAgent-Task: gamma\nTest User <test@example.com>\n"
    );
    // The worktree dir is excluded through info/exclude, not a tracked .gitignore.
    let exclude = std::fs::read_to_string(env.repo.join(".git/info/exclude")).unwrap();
    assert!(exclude.lines().any(|l| l == "/.worktrees/"));
    assert!(!env.repo.join(".gitignore").exists());
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=all"]),
        "?? agents.yaml\n"
    );
    // The log holds the agent's output.
    let log = env.run(&["logs", "beta"]).ok().stdout();
    assert!(log.contains("wrote out-beta.txt"), "{log}");
    let path = env.run(&["path", "beta"]).ok().stdout();
    assert_eq!(path.trim(), env.worktree("beta").to_str().unwrap());
    // Running again spawns nothing: every task has a record.
    let again = env.run(&["spawn"]).ok();
    assert!(
        again.stderr().contains("nothing to spawn"),
        "{}",
        again.stderr()
    );
}

#[test]
fn agent_commits_are_kept_and_leftovers_committed_after_them() {
    let env = Env::new();
    env.agent(
        "committer",
        r#"echo one > one.txt && git add one.txt && git commit -q -m "agent's own commit"
echo two > two.txt"#,
    );
    env.run(&[
        "spawn",
        "-p",
        "Make two files",
        "--command",
        "committer",
        "--json",
    ])
    .ok();
    let log = env.git(&["log", "--format=%s", "main..agent/make-two-files"]);
    assert_eq!(log, "Make two files\nagent's own commit\n");
    let body = env.git(&["log", "-1", "--format=%b", "agent/make-two-files"]);
    assert_eq!(body.trim(), "Agent-Task: make-two-files");
}

#[test]
fn empty_task_is_cleaned_up_unless_kept() {
    let env = Env::new();
    env.agent("idle", "echo nothing to do");
    let run = env
        .run(&["spawn", "-p", "Nothing", "--command", "idle", "--json"])
        .ok();
    let t = tasks(&run.json());
    assert_eq!(t["nothing"]["state"], "empty");
    assert!(!env.worktree("nothing").exists());
    assert_eq!(env.branches(), vec!["main"]);

    let run = env
        .run(&[
            "spawn",
            "keep",
            "-p",
            "Nothing",
            "--command",
            "idle",
            "--keep-empty",
            "--json",
        ])
        .ok();
    assert_eq!(tasks(&run.json())["keep"]["state"], "empty");
    assert!(env.worktree("keep").is_dir());
    assert!(env.branches().contains(&"agent/keep".to_string()));
}

#[test]
fn failing_agent_keeps_its_worktree_and_exits_1() {
    let env = Env::new();
    env.agent(
        "broken",
        "echo partial > partial.txt\necho 'fatal: no luck' >&2\nexit 1",
    );
    let run = env
        .run(&["spawn", "bad", "-p", "Try", "--command", "broken", "--json"])
        .code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["bad"]["state"], "failed");
    assert_eq!(t["bad"]["exit_code"], 1);
    assert!(env.worktree("bad").is_dir());
    // Its partial work is committed, never lost.
    assert!(
        env.git(&["show", "--name-only", "--format=", "agent/bad"])
            .contains("partial.txt")
    );
    let log = env.run(&["logs", "bad"]).ok().stdout();
    assert!(log.contains("fatal: no luck"), "{log}");
}

#[test]
fn retry_succeeds_on_second_attempt_reading_the_notes() {
    let env = Env::new();
    // Attempt 1 fails; attempt 2 finds the failure in the notes file and succeeds.
    env.agent(
        "learner",
        r#"if grep -q "secret-hint-42" "$GIT_AGENTS_NOTES" 2>/dev/null; then
  echo "attempt $GIT_AGENTS_ATTEMPT fixed it" > fixed.txt
else
  echo "secret-hint-42: the config is missing"
  echo first > first.txt
  exit 3
fi"#,
    );
    let run = env
        .run(&[
            "spawn",
            "learn",
            "-p",
            "Learn",
            "--command",
            "learner",
            "--retries",
            "2",
            "--json",
        ])
        .ok();
    let t = &tasks(&run.json())["learn"];
    assert_eq!(t["state"], "succeeded");
    assert_eq!(t["attempts"], 2);
    let wt = env.worktree("learn");
    assert_eq!(
        std::fs::read_to_string(wt.join("fixed.txt")).unwrap(),
        "attempt 2 fixed it\n"
    );
    // A fresh worktree: nothing of attempt 1 in it or on the branch.
    assert!(!wt.join("first.txt").exists());
    assert_eq!(
        env.git(&["rev-list", "--count", "main..agent/learn"])
            .trim(),
        "1"
    );
    // The discarded attempt's commit is logged and recoverable.
    let pruned = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    let sha = pruned.split_whitespace().last().unwrap();
    let files = env.git(&["show", "--name-only", "--format=", sha]);
    assert_eq!(files.trim(), "first.txt");
    let notes = std::fs::read_to_string(env.agents_dir().join("notes/learn.md")).unwrap();
    assert!(
        notes.contains("Attempt 1 failed: agent exited 3"),
        "{notes}"
    );
}

#[test]
fn timeout_stops_the_agent_and_its_children() {
    let env = Env::new();
    env.agent(
        "sleeper",
        "sleep 60 &\necho $! > \"$GIT_AGENTS_WORKTREE.child\"\nsleep 60",
    );
    let start = Instant::now();
    let run = env
        .run(&[
            "spawn",
            "slow",
            "-p",
            "Sleep",
            "--command",
            "sleeper",
            "--timeout",
            "1s",
            "--json",
        ])
        .code_is(1);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(tasks(&run.json())["slow"]["state"], "timed-out");
    let child = read_pid(&env.repo.join(".worktrees/slow.child"));
    assert!(!alive(child), "grandchild {child} survived the timeout");
}

#[test]
fn ctrl_c_interrupts_every_task_keeps_worktrees_and_exits_130() {
    let env = Env::new();
    env.agent(
        "forever",
        "echo $$ > \"$GIT_AGENTS_WORKTREE.pid\"\nsleep 60 &\necho $! > \"$GIT_AGENTS_WORKTREE.child\"\nwait",
    );
    env.write(
        "agents.yaml",
        "command: forever\ntasks:\n  - {id: a, prompt: x}\n  - {id: b, prompt: y}\n  - {id: c, prompt: z}\n",
    );
    let mut child = env.cmd(&["spawn", "-j", "2"]).spawn().unwrap();
    // Wait until both running agents have started.
    for id in ["a", "b"] {
        read_pid(&env.repo.join(format!(".worktrees/{id}.child")));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    for id in ["a", "b"] {
        assert_eq!(env.record(id)["state"], "interrupted");
        assert!(env.worktree(id).is_dir());
        for f in ["pid", "child"] {
            let pid = read_pid(&env.repo.join(format!(".worktrees/{id}.{f}")));
            assert!(!alive(pid), "{id}: process {pid} survived Ctrl-C");
        }
    }
    // c never started: no record, so a later spawn runs it.
    assert!(!env.agents_dir().join("tasks/c.json").exists());
    assert!(!env.worktree("c").exists());
}

#[test]
fn prompt_arrives_byte_identical_as_one_argument() {
    let env = Env::new();
    env.agent(
        "argv",
        r#"printf '%s' "$#" > argc.txt; printf '%s' "$1" > prompt.txt"#,
    );
    let prompt = "Fix it; rm -rf / && echo $HOME `id` $(whoami) \"dq\" 'sq' \\ * ? {task} {branch}\nsecond line\n\ttab ";
    env.run(&[
        "spawn",
        "meta",
        "-p",
        prompt,
        "--command",
        "argv --msg={prompt}",
    ])
    .ok();
    let wt = env.worktree("meta");
    assert_eq!(std::fs::read_to_string(wt.join("argc.txt")).unwrap(), "1");
    assert_eq!(
        std::fs::read_to_string(wt.join("prompt.txt")).unwrap(),
        format!("--msg={prompt}")
    );
}

#[test]
fn stdin_is_closed_with_a_placeholder_and_carries_the_prompt_without() {
    let env = Env::new();
    // `cat` would hang forever on an open terminal-less stdin that nobody closes.
    env.agent("reader", "cat > stdin.txt");
    let start = Instant::now();
    env.run(&[
        "spawn",
        "closed",
        "-p",
        "P1",
        "--command",
        "reader {task}",
        "--keep-empty",
    ])
    .ok();
    assert!(start.elapsed() < Duration::from_secs(10));
    env.run(&[
        "spawn",
        "fed",
        "-p",
        "Prompt on stdin",
        "--command",
        "reader",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(env.worktree("fed").join("stdin.txt")).unwrap(),
        "Prompt on stdin"
    );
    // With {task} only, stdin still carries the prompt (no prompt placeholder).
    assert_eq!(
        std::fs::read_to_string(env.worktree("closed").join("stdin.txt")).unwrap(),
        "P1"
    );
    env.run(&[
        "spawn",
        "null",
        "-p",
        "P2",
        "--command",
        "reader {prompt_file}",
        "--keep-empty",
    ])
    .ok();
    assert_eq!(
        std::fs::read_to_string(env.worktree("null").join("stdin.txt")).unwrap(),
        ""
    );
}

#[test]
fn agent_environment_and_prompt_file() {
    let env = Env::new();
    env.agent(
        "envdump",
        r#"{ for v in GIT_AGENTS_TASK GIT_AGENTS_BRANCH GIT_AGENTS_WORKTREE GIT_AGENTS_BASE GIT_AGENTS_ATTEMPT GIT_AGENTS_INDEX COMPOSE_PROJECT_NAME LOG_LEVEL; do eval "echo $v=\$$v"; done
  test -n "$GIT_AGENTS_PORT" && echo port-set
  test -z "$GIT_DIR" && echo no-git-dir
  cat "$1"; } > env.txt"#,
    );
    env.write(
        "agents.yaml",
        "command: [envdump, \"{prompt_file}\"]\nenv: { LOG_LEVEL: debug }\ntasks:\n  - id: e1\n    prompt: The prompt\n",
    );
    env.run(&["spawn"]).ok();
    let wt = env.worktree("e1");
    let text = std::fs::read_to_string(wt.join("env.txt")).unwrap();
    let expected = format!(
        "GIT_AGENTS_TASK=e1\nGIT_AGENTS_BRANCH=agent/e1\nGIT_AGENTS_WORKTREE={}\nGIT_AGENTS_BASE=main\n\
         GIT_AGENTS_ATTEMPT=1\nGIT_AGENTS_INDEX=0\nCOMPOSE_PROJECT_NAME=repo-e1\nLOG_LEVEL=debug\nport-set\nno-git-dir\nThe prompt",
        wt.display()
    );
    assert_eq!(text, expected);
}

#[test]
fn setup_and_check_run_in_the_worktree() {
    let env = Env::new();
    writer(&env);
    env.write(
        "agents.yaml",
        "command: [fake-agent, x]\nsetup: [\"echo set > setup-ran.txt\"]\ncheck: test -f setup-ran.txt\ntasks:\n  - {id: ok, prompt: a}\n  - {id: bad, prompt: b, check: \"echo checking; exit 4\"}\n",
    );
    let run = env.run(&["spawn", "--json"]).code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["ok"]["state"], "succeeded");
    assert_eq!(t["ok"]["check"], "passed");
    assert_eq!(t["bad"]["state"], "failed");
    assert_eq!(t["bad"]["check"], "failed");
    assert_eq!(t["bad"]["exit_code"], 4);
    // --no-check overrides the manifest.
    let run = env
        .run(&[
            "spawn",
            "x2",
            "-p",
            "p",
            "--command",
            "fake-agent y",
            "--no-check",
            "--json",
        ])
        .ok();
    assert_eq!(tasks(&run.json())["x2"]["check"], serde_json::Value::Null);
}

#[test]
fn setup_failure_fails_the_task_not_the_batch() {
    let env = Env::new();
    writer(&env);
    env.write(
        "agents.yaml",
        "command: [fake-agent, x]\ntasks:\n  - {id: good, prompt: a}\n  - {id: nosetup, prompt: b, setup: \"exit 7\"}\n",
    );
    let run = env.run(&["spawn", "--json"]).code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["good"]["state"], "succeeded");
    assert_eq!(t["nosetup"]["state"], "failed");
    assert!(t["nosetup"]["detail"].as_str().unwrap().contains("setup"));
}

#[test]
fn git_config_sets_defaults_below_the_manifest_task() {
    let env = Env::new();
    env.agent("cfg-agent", "echo cfg > cfg.txt");
    writer(&env);
    env.git(&["config", "agents.command", "cfg-agent"]);
    env.git(&["config", "agents.branchPrefix", "bot/"]);
    env.write(
        "agents.yaml",
        "command: [fake-agent, top]\ntasks:\n  - {id: from-git, prompt: a}\n  - {id: from-task, prompt: b, command: [fake-agent, task]}\n",
    );
    env.run(&["spawn"]).ok();
    assert!(env.worktree("from-git").join("cfg.txt").is_file());
    assert!(
        env.worktree("from-task")
            .join("out-from-task.txt")
            .is_file()
    );
    assert!(env.branches().contains(&"bot/from-git".to_string()));
}

#[test]
fn an_already_spawned_task_is_refused() {
    let env = Env::new();
    writer(&env);
    env.write("agents.yaml", THREE);
    env.run(&["spawn", "alpha"]).ok();
    let run = env.run(&["spawn", "alpha"]).code_is(2);
    assert!(run.stderr().contains("already spawned"), "{}", run.stderr());
    assert!(
        run.stderr().contains("hint: prune it first"),
        "{}",
        run.stderr()
    );
}

/// Everything wrong with the request is found before anything is created.
#[test]
fn bad_input_exits_2_and_creates_nothing() {
    let env = Env::new();
    writer(&env);
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "tasks:\n  - id: a\n    prompt: x\n    promt: y\n",
            &["spawn"],
            "agents.yaml:4:5: tasks[0]: unknown field `promt`",
        ),
        (
            "tasks:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}\n",
            &["spawn"],
            "duplicate task id \"a\"",
        ),
        (
            "tasks:\n  - {id: a, prompt: x, prompt_file: f.md}\n",
            &["spawn"],
            "both `prompt` and `prompt_file`",
        ),
        (
            "tasks:\n  - {id: a}\n",
            &["spawn"],
            "neither `prompt` nor `prompt_file`",
        ),
        (
            "tasks:\n  - {id: a, prompt_file: missing.md}\n",
            &["spawn"],
            "cannot read prompt_file missing.md",
        ),
        ("timeout: soon\ntasks: []\n", &["spawn"], "agents.yaml:1:"),
        ("retries: -1\ntasks: []\n", &["spawn"], "agents.yaml:1:"),
        (
            "tasks:\n  - {id: Bad_ID, prompt: x}\n",
            &["spawn"],
            "invalid task id \"Bad_ID\"",
        ),
        (
            "tasks:\n  - {id: a, prompt: x, agent: robot}\n",
            &["spawn"],
            "unknown agent \"robot\"",
        ),
        (
            "tasks:\n  - {id: a, prompt: x, command: no-such-agent}\n",
            &["spawn"],
            "\"no-such-agent\" not found on PATH",
        ),
        (
            "command: fake-agent\ntasks:\n  - {id: a, prompt: x}\n",
            &["spawn", "zzz"],
            "no task \"zzz\"",
        ),
        (
            "command: fake-agent\ntasks:\n  - {id: a, prompt: x}\n",
            &["spawn", "../x"],
            "invalid task id",
        ),
        (
            "command: fake-agent\ntasks:\n  - {id: a, prompt: x, base: nope}\n",
            &["spawn"],
            "base \"nope\" does not name a commit",
        ),
        (
            "command: fake-agent\ntasks:\n  - {id: a, prompt: x}\n",
            &["spawn", "--timeout", "soon"],
            "invalid value 'soon'",
        ),
        (
            "command: fake-agent\ntasks:\n  - {id: a, prompt: x}\n",
            &["spawn", "-j", "0"],
            "-j",
        ),
        (
            "command: fake-agent\ntasks:\n  - {id: a, prompt: x}\n",
            &["spawn", "-p", "x", "a"],
            "is in the manifest",
        ),
        (
            "command: fake-agent\ntasks:\n  - {id: a, prompt: x}\n",
            &["spawn", "-p", "x", "b", "c"],
            "at most one ID",
        ),
        ("[1, 2\n", &["spawn"], "agents.yaml:"),
        (
            "command: \"unclosed 'quote\"\ntasks: []\n",
            &["spawn"],
            "cannot split command",
        ),
    ];
    for (manifest, args, expected) in cases {
        env.write("agents.yaml", manifest);
        let run = env.run(args);
        assert_eq!(
            run.code(),
            2,
            "{args:?} with {manifest:?}: {}",
            run.stderr()
        );
        assert!(
            run.stderr().contains(expected),
            "{args:?} with {manifest:?}: expected {expected:?} in\n{}",
            run.stderr()
        );
        let lines = run
            .stderr()
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
            .count();
        assert!(lines <= 2, "{}", run.stderr());
        assert!(!run.stderr().contains("panicked"));
        assert!(
            !env.repo.join(".worktrees").exists(),
            "{args:?} created worktrees"
        );
        assert!(
            !env.agents_dir().join("tasks").exists(),
            "{args:?} created records"
        );
        assert_eq!(env.branches(), vec!["main"], "{args:?} created branches");
    }
    // A branch the user owns blocks its task.
    env.write(
        "agents.yaml",
        "command: fake-agent\ntasks:\n  - {id: mine, prompt: x}\n",
    );
    env.git(&["branch", "agent/mine"]);
    let run = env.run(&["spawn"]).code_is(2);
    assert!(
        run.stderr().contains("branch agent/mine already exists"),
        "{}",
        run.stderr()
    );
    assert!(!env.repo.join(".worktrees").exists());
    // No manifest and no prompt.
    std::fs::remove_file(env.repo.join("agents.yaml")).unwrap();
    let run = env.run(&["spawn"]).code_is(2);
    assert!(
        run.stderr().contains("no manifest found"),
        "{}",
        run.stderr()
    );
    // Outside a repository.
    let run = env
        .run(&["-C", env.home.to_str().unwrap(), "spawn", "-p", "x"])
        .code_is(2);
    assert!(
        run.stderr().contains("not a git repository"),
        "{}",
        run.stderr()
    );
}

#[test]
fn ad_hoc_prompt_ids_are_unique_slugs() {
    let env = Env::new();
    writer(&env);
    env.run(&[
        "spawn",
        "-p",
        "Add a README section!",
        "--command",
        "fake-agent {prompt}",
    ])
    .ok();
    env.run(&[
        "spawn",
        "-p",
        "Add a README section!",
        "--command",
        "fake-agent {prompt}",
    ])
    .ok();
    let b = env.branches();
    assert!(
        b.contains(&"agent/add-a-readme-section".to_string()),
        "{b:?}"
    );
    assert!(
        b.contains(&"agent/add-a-readme-section-2".to_string()),
        "{b:?}"
    );
}

#[test]
fn plain_progress_lines_and_summary_table() {
    let env = Env::new();
    writer(&env);
    let run = env
        .run(&[
            "spawn",
            "t1",
            "-p",
            "One",
            "--command",
            "fake-agent {prompt}",
        ])
        .ok();
    let err = run.stderr();
    for phase in ["t1: worktree", "t1: agent", "t1: commit", "t1: succeeded"] {
        assert!(err.contains(phase), "{phase} missing in\n{err}");
    }
    let table = run.stdout();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID", "STATE", "BRANCH", "COMMITS", "CHECK", "TIME", "COST", "DETAIL"
        ]
    );
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(&row[..5], ["t1", "succeeded", "agent/t1", "+1", "-"]);
    // -q mutes status but keeps data.
    let run = env
        .run(&[
            "-q",
            "spawn",
            "t2",
            "-p",
            "Two",
            "--command",
            "fake-agent {prompt}",
        ])
        .ok();
    assert_eq!(run.stderr(), "");
    assert!(run.stdout().contains("t2"));
}

#[test]
fn kill_9_of_spawn_does_not_leave_the_agent_running_unsupervised() {
    let env = Env::new();
    env.agent(
        "stuck",
        "echo $$ > \"$GIT_AGENTS_WORKTREE.pid\"\nexec sleep 60",
    );
    let mut child = env
        .cmd(&["spawn", "k9", "-p", "x", "--command", "stuck"])
        .spawn()
        .unwrap();
    let pid_file = env.repo.join(".worktrees/k9.pid");
    let pid = read_pid(&pid_file);
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while alive(pid) {
        assert!(
            Instant::now() < deadline,
            "agent {pid} outlived a kill -9 of spawn"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The record still says running, but its owner is gone: readers can tell.
    let rec = env.record("k9");
    assert_eq!(rec["state"], "running");
    let owner = rec["owner"]["pid"].as_u64().unwrap() as u32;
    assert!(!alive(owner));
}

#[test]
fn logs_follow_prints_until_the_task_ends() {
    let env = Env::new();
    env.agent(
        "ticker",
        "for i in 1 2 3 4 5; do echo \"tick $i\"; sleep 0.1; done\necho done > done.txt",
    );
    let mut spawn = env
        .cmd(&["spawn", "tick", "-p", "x", "--command", "ticker"])
        .spawn()
        .unwrap();
    let record = env.agents_dir().join("tasks/tick.json");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !record.exists() {
        assert!(Instant::now() < deadline, "spawn did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let follow = env.run(&["logs", "tick", "-f"]).ok();
    assert!(spawn.wait().unwrap().success());
    let out = follow.stdout();
    for i in 1..=5 {
        assert!(out.contains(&format!("tick {i}\n")), "{out}");
    }
}

#[test]
fn secrets_in_the_environment_stay_out_of_logs_records_and_json() {
    let env = Env::new();
    env.agent("quiet", "echo working; echo x > x.txt");
    let out = env
        .cmd(&["spawn", "sec", "-p", "x", "--command", "quiet", "--json"])
        .env("MY_API_TOKEN", "tok-supersecret-123")
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut seen = String::from_utf8_lossy(&out.stdout).into_owned();
    seen += &String::from_utf8_lossy(&out.stderr);
    seen += &env.run(&["list", "--json"]).stdout();
    seen += &env.run(&["show", "sec", "--json"]).stdout();
    for sub in ["tasks/sec.json", "logs/sec.log", "prompts/sec.md"] {
        seen += &std::fs::read_to_string(env.agents_dir().join(sub)).unwrap();
    }
    assert!(seen.contains("working"));
    assert!(!seen.contains("supersecret"), "an environment value leaked");
}

#[test]
fn new_worktrees_run_the_post_checkout_hook() {
    let env = Env::new();
    writer(&env);
    let log = env.root.join("hook.log");
    let hook = env.repo.join(".git/hooks/post-checkout");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(&hook, format!("#!/bin/sh\npwd >> '{}'\n", log.display())).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.run(&["spawn", "h1", "-p", "x", "--command", "fake-agent {prompt}"])
        .ok();
    let ran = std::fs::read_to_string(&log).unwrap();
    assert_eq!(ran.trim(), env.worktree("h1").to_str().unwrap());
    // And the checkout is complete: the base's files are there.
    assert!(env.worktree("h1").join("README.md").is_file());
}

#[test]
fn commits_an_agent_made_off_its_branch_are_never_thrown_away() {
    let env = Env::new();
    let sha_file = env.root.join("detached.sha");
    // The agent detaches HEAD and commits there: nothing lands on agent/<id>.
    env.agent(
        "detacher",
        &format!(
            "git checkout -q --detach\necho work > work.txt\ngit add work.txt\ngit commit -q -m detached\ngit rev-parse HEAD > '{}'",
            sha_file.display()
        ),
    );
    let run = env
        .run(&["spawn", "det", "-p", "x", "--command", "detacher", "--json"])
        .code_is(1);
    let t = &tasks(&run.json())["det"];
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["detail"].as_str().unwrap().contains("not on agent/det"),
        "{t}"
    );
    let sha = std::fs::read_to_string(&sha_file).unwrap();
    // Kept where it was, in the worktree, for the user to pick up.
    assert!(env.worktree("det").is_dir());
    assert!(env.git_ok(&["cat-file", "-e", &format!("{}^{{commit}}", sha.trim())]));

    // A retry that discards such an attempt logs the commit first.
    env.run(&[
        "spawn",
        "det2",
        "-p",
        "x",
        "--command",
        "detacher",
        "--retries",
        "1",
    ])
    .code_is(1);
    let sha = std::fs::read_to_string(&sha_file).unwrap();
    let logged = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    assert!(
        logged.contains(sha.trim()) || env.worktree("det2").is_dir(),
        "{logged}"
    );
}

#[test]
fn verbose_shows_each_tasks_command_worktree_base_and_log() {
    let env = Env::new();
    writer(&env);
    let run = env
        .run(&[
            "-v",
            "spawn",
            "v1",
            "-p",
            "x",
            "--command",
            "fake-agent --msg={prompt}",
        ])
        .ok();
    let err = run.stderr();
    assert!(err.contains("v1: fake-agent '--msg={prompt}' in "), "{err}");
    assert!(err.contains(".git/agents/logs/v1.log"), "{err}");
    let quiet = env
        .run(&["spawn", "v2", "-p", "x", "--command", "fake-agent {prompt}"])
        .ok();
    assert!(!quiet.stderr().contains("log:"), "{}", quiet.stderr());
}
