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
