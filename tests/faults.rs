//! Crash tests: git-agents SIGKILLs itself at named steps (GIT_AGENTS_FAULT) of spawn,
//! merge and prune. After every crash the repository is sound, no agent commit is lost,
//! `list` tells the truth, `prune --all --force -y` cleans everything, and the base
//! branch is at its old commit or after whole tasks.

mod common;

use common::{Env, tasks};

/// An agent that commits its own work (logging the commit) and leaves one more file
/// for git-agents to commit.
fn committing_agent(env: &Env) {
    let log = env.root.join("agent-commits.txt");
    env.agent(
        "committer",
        &format!(
            "echo \"$GIT_AGENTS_TASK\" > \"own-$GIT_AGENTS_TASK.txt\"\n\
             git add . && git commit -q -m \"own work of $GIT_AGENTS_TASK\"\n\
             git rev-parse HEAD >> '{}'\n\
             echo left > \"left-$GIT_AGENTS_TASK.txt\"",
            log.display()
        ),
    );
    env.write(
        "agents.yaml",
        "command: committer\ntasks:\n  - {id: f1, prompt: one}\n  - {id: f2, prompt: two}\n",
    );
}

fn crash(env: &Env, point: &str, args: &[&str]) {
    let out = env
        .cmd(args)
        .env("GIT_AGENTS_FAULT", point)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        None,
        "{point}: expected a SIGKILL, got {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A commit is recoverable when a ref reaches it, or a tip logged in pruned.log does.
fn recoverable(env: &Env, sha: &str) -> bool {
    let by_ref = !env
        .git(&["for-each-ref", "--contains", sha, "--format=%(refname)"])
        .trim()
        .is_empty();
    let logged = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap_or_default();
    by_ref
        || logged
            .lines()
            .filter_map(|l| l.split_whitespace().last())
            .any(|tip| env.git_ok(&["merge-base", "--is-ancestor", sha, tip]))
}

/// After git-agents dies, an agent it started may still finish what it was doing (its
/// `git add`, say) before it notices; wait for every recorded process group to end, as a
/// user would before calling the repository quiet.
fn wait_for_orphans(env: &Env) {
    let Ok(dir) = std::fs::read_dir(env.agents_dir().join("tasks")) else {
        return;
    };
    for e in dir.flatten() {
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        let Some(pgid) = rec["child"]["pid"].as_i64() else {
            continue;
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        // SAFETY: signal 0 to a process group only checks that it exists.
        while unsafe { libc::kill(-(pgid as i32), 0) } == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "group {pgid} never ended"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// Everything that must hold after any crash.
fn assert_sound(env: &Env, point: &str, base_before: &str) {
    wait_for_orphans(env);
    let mut fsck = std::process::Command::new("git");
    env.apply(&mut fsck);
    let fsck = fsck.args(["fsck", "--no-progress"]).output().unwrap();
    assert!(
        fsck.status.success(),
        "{point}: fsck failed:\n{}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    // Every commit an agent made is reachable from a ref or logged for recovery.
    let made = std::fs::read_to_string(env.root.join("agent-commits.txt")).unwrap_or_default();
    for sha in made.lines() {
        assert!(recoverable(env, sha), "{point}: agent commit {sha} is lost");
    }
    // list reads and tells no lies: nothing is running any more.
    let run = env.run(&["list", "--json", "--all"]).ok();
    for (id, t) in tasks(&run.json()) {
        let state = t["state"].as_str().unwrap();
        assert!(
            state != "running",
            "{point}: {id} reads running after the crash"
        );
        if t["log"].is_string() && env.agents_dir().join(format!("tasks/{id}.json")).exists() {
            assert!(
                state != "pending",
                "{point}: {id} reads pending after the crash"
            );
        }
    }
    // The base moved by whole tasks only, and the checkout is not mid-merge.
    assert!(
        !env.repo.join(".git/MERGE_HEAD").exists(),
        "{point}: MERGE_HEAD left"
    );
    let subjects = env.git(&[
        "log",
        "--first-parent",
        "--format=%s",
        &format!("{base_before}..main"),
    ]);
    for s in subjects.lines() {
        assert!(
            s.starts_with("Merge agent/"),
            "{point}: partial task on main: {s}"
        );
    }
    let status = env.git(&["status", "--porcelain"]);
    assert!(
        status.lines().all(|l| l == "?? agents.yaml"),
        "{point}: checkout not clean:\n{status}"
    );
    // And prune can clean up everything.
    let run = env.run(&["prune", "--all", "--force", "--yes"]);
    assert!(
        run.code() == 0,
        "{point}: prune failed:\n{}\n{}",
        run.stdout(),
        run.stderr()
    );
    assert_eq!(env.branches(), vec!["main"], "{point}: branches left");
    let worktrees = env.git(&["worktree", "list", "--porcelain"]);
    assert_eq!(
        worktrees.matches("worktree ").count(),
        1,
        "{point}: {worktrees}"
    );
    let left: Vec<_> = std::fs::read_dir(env.repo.join(".worktrees"))
        .map(|d| d.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{point}: worktree dirs left: {left:?}");
    // Every commit an agent made is still recoverable after the forced prune.
    for sha in made.lines() {
        assert!(recoverable(env, sha), "{point}: {sha} lost by prune");
    }
}

#[test]
fn crashes_during_spawn() {
    for point in [
        "spawn:claimed",
        "spawn:worktree-staged",
        "spawn:worktree-added",
        "spawn:child-started",
        "spawn:agent-done",
        "spawn:committed",
    ] {
        let env = Env::new();
        committing_agent(&env);
        let base = env.git(&["rev-parse", "main"]).trim().to_string();
        crash(&env, point, &["spawn", "-j", "1"]);
        assert_sound(&env, point, &base);
    }
}

#[test]
fn crash_before_a_retry_discards_nothing_unlogged() {
    let env = Env::new();
    let log = env.root.join("agent-commits.txt");
    env.agent(
        "flaky",
        &format!(
            "echo x > x.txt && git add x.txt && git commit -q -m work && git rev-parse HEAD >> '{}'\nexit 1",
            log.display()
        ),
    );
    let base = env.git(&["rev-parse", "main"]).trim().to_string();
    crash(
        &env,
        "spawn:before-discard",
        &[
            "spawn",
            "r1",
            "-p",
            "x",
            "--command",
            "flaky",
            "--retries",
            "1",
        ],
    );
    assert_sound(&env, "spawn:before-discard", &base);
}

#[test]
fn crashes_during_merge() {
    for point in ["merge:before-advance", "merge:advanced"] {
        let env = Env::new();
        committing_agent(&env);
        env.run(&["spawn", "-j", "1"]).ok();
        let base = env.git(&["rev-parse", "main"]).trim().to_string();
        crash(&env, point, &["merge"]);
        assert_sound(&env, point, &base);
    }
}

#[test]
fn crashes_during_prune() {
    for (point, args) in [
        ("prune:logged", &["prune", "--all", "--force", "--yes"][..]),
        ("prune:moved", &["prune", "--all", "--force", "--yes"][..]),
        (
            "prune:branch-deleted",
            &["prune", "--all", "--force", "--yes"][..],
        ),
        ("prune:moved", &["prune"][..]),
    ] {
        let env = Env::new();
        committing_agent(&env);
        env.run(&["spawn", "-j", "1"]).ok();
        if args.len() == 1 {
            // Plain prune removes merged tasks: merge one first.
            env.run(&["merge", "f1"]).ok();
        }
        let base = env.git(&["rev-parse", "main"]).trim().to_string();
        crash(&env, point, args);
        assert_sound(&env, point, &base);
    }
}
