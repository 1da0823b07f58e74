//! Several `git agents` processes in one repository: no task runs twice, no record is
//! lost or corrupt, and a lock that stays held is reported instead of waited on forever.

mod common;

use common::Env;
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

#[test]
fn racing_spawns_of_the_same_tasks_run_each_once() {
    let env = Env::new();
    // Each run appends to a shared file: a task run twice shows up twice.
    let ran = env.root.join("ran.txt");
    env.agent(
        "count",
        &format!(
            "echo \"$GIT_AGENTS_TASK\" >> '{}'\necho x > x.txt",
            ran.display()
        ),
    );
    let mut m = String::from("command: count\ntasks:\n");
    for i in 0..12 {
        m.push_str(&format!("  - {{id: r{i}, prompt: x}}\n"));
    }
    env.write("agents.yaml", &m);
    for _round in 0..3 {
        let children: Vec<_> = (0..3)
            .map(|_| env.cmd(&["-q", "spawn", "-j", "2"]).spawn().unwrap())
            .collect();
        for c in children {
            let out = c.wait_with_output().unwrap();
            // A loser of the race skips what others took and runs the rest.
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let text = std::fs::read_to_string(&ran).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    let mut expected: Vec<String> = (0..12).map(|i| format!("r{i}")).collect();
    expected.sort();
    assert_eq!(lines, expected, "every task exactly once");
    for i in 0..12 {
        let rec = env.record(&format!("r{i}"));
        assert_eq!(rec["state"], "succeeded");
    }
}

#[test]
fn disjoint_spawns_in_parallel_keep_every_record() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    let mut m = String::from("command: w\ntasks:\n");
    for i in 0..10 {
        m.push_str(&format!("  - {{id: d{i}, prompt: x}}\n"));
    }
    env.write("agents.yaml", &m);
    let a = env
        .cmd(&["-q", "spawn", "d0", "d1", "d2", "d3", "d4"])
        .spawn()
        .unwrap();
    let b = env
        .cmd(&["-q", "spawn", "d5", "d6", "d7", "d8", "d9"])
        .spawn()
        .unwrap();
    for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for i in 0..10 {
        assert_eq!(env.record(&format!("d{i}"))["state"], "succeeded");
        assert!(env.branches().contains(&format!("agent/d{i}")));
    }
}

#[test]
fn a_held_lock_times_out_with_a_clear_message() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    // Make the state dir and take its lock, as another process would.
    env.run(&["spawn", "first", "-p", "x", "--command", "w"])
        .ok();
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(env.agents_dir().join("lock"))
        .unwrap();
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let start = Instant::now();
    let out = env
        .cmd(&["spawn", "second", "-p", "x", "--command", "w"])
        .env("GIT_AGENTS_LOCK_TIMEOUT", "1")
        .output()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("another git agents process has held"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    drop(lock);
    env.run(&["spawn", "second", "-p", "x", "--command", "w"])
        .ok();
}

#[test]
fn list_while_spawn_runs_always_reads_whole_records() {
    let env = Env::new();
    env.agent("slowish", "sleep 0.2\necho x > x.txt");
    let mut m = String::from("command: slowish\ntasks:\n");
    for i in 0..8 {
        m.push_str(&format!("  - {{id: l{i}, prompt: x}}\n"));
    }
    env.write("agents.yaml", &m);
    let mut spawn = env.cmd(&["-q", "spawn", "-j", "4"]).spawn().unwrap();
    let mut reads = 0;
    loop {
        let done = spawn.try_wait().unwrap().is_some();
        let out = env.cmd(&["list", "--json"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(doc["tasks"].as_array().unwrap().len(), 8);
        reads += 1;
        if done {
            break;
        }
    }
    assert!(spawn.wait().unwrap().success());
    assert!(reads >= 2, "list never overlapped the spawn");
}

#[test]
fn merge_and_prune_at_once_lose_nothing() {
    for round in 0..3 {
        let env = Env::new();
        env.agent("w", "echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"");
        let mut m = String::from("command: w\ntasks:\n");
        for i in 0..6 {
            m.push_str(&format!("  - {{id: m{i}, prompt: task {i}}}\n"));
        }
        env.write("agents.yaml", &m);
        env.run(&["-q", "spawn", "-j", "3"]).ok();
        let tips: Vec<String> = (0..6)
            .map(|i| {
                env.git(&["rev-parse", &format!("agent/m{i}")])
                    .trim()
                    .to_string()
            })
            .collect();
        let merge = env.cmd(&["-q", "merge"]).spawn().unwrap();
        let prune = env.cmd(&["-q", "prune"]).spawn().unwrap();
        let merge = merge.wait_with_output().unwrap();
        let prune = prune.wait_with_output().unwrap();
        // Either may find the other in its way (exit 1), never a usage error or a crash.
        for (what, out) in [("merge", &merge), ("prune", &prune)] {
            let code = out.status.code();
            assert!(
                code == Some(0) || code == Some(1),
                "round {round}: {what} exited {code:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            env.git_ok(&["fsck", "--no-progress"]),
            "round {round}: fsck"
        );
        // Every task's work is in main or still on its branch.
        for (i, tip) in tips.iter().enumerate() {
            let in_main = env.git_ok(&["merge-base", "--is-ancestor", tip, "main"]);
            let on_branch = env
                .git(&["for-each-ref", "--contains", tip, "--format=%(refname)"])
                .contains("refs/heads/");
            assert!(in_main || on_branch, "round {round}: work of m{i} lost");
        }
        // Finishing the job afterwards works and leaves everything merged.
        env.run(&["-q", "merge"]);
        env.run(&["-q", "prune"]);
        for i in 0..6 {
            assert!(
                env.repo.join(format!("m{i}.txt")).is_file(),
                "round {round}: m{i}"
            );
        }
        assert!(
            env.git(&["status", "--porcelain"])
                .lines()
                .all(|l| l == "?? agents.yaml")
        );
    }
}
