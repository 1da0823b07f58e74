//! Runtime isolation and setup cost: copies, `.worktreeinclude`, ports, disk floor.

mod common;

use common::{Env, tasks};
use std::collections::HashSet;

#[test]
fn copy_entries_arrive_uncommitted_with_symlinks_kept() {
    let env = Env::new();
    env.write(".gitignore", ".env\ndeps/\n");
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore"]);
    env.write(".env", "TOKEN=abc\n");
    env.write("deps/lib/code.js", "module.exports = 1\n");
    std::os::unix::fs::symlink("lib/code.js", env.repo.join("deps/main.js")).unwrap();
    env.agent("touch-agent", "cat .env deps/main.js > seen.txt");
    env.write(
        "agents.yaml",
        "command: touch-agent\ncopy: [.env, deps]\ntasks:\n  - {id: c1, prompt: x}\n",
    );
    env.run(&["spawn"]).ok();
    let wt = env.worktree("c1");
    assert_eq!(
        std::fs::read_to_string(wt.join("seen.txt")).unwrap(),
        "TOKEN=abc\nmodule.exports = 1\n"
    );
    let link = wt.join("deps/main.js");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_link(&link).unwrap().to_str(),
        Some("lib/code.js")
    );
    // Only the agent's file is in the commit: never the copied secrets.
    let files = env.git(&["show", "--name-only", "--format=", "agent/c1"]);
    assert_eq!(files.trim(), "seen.txt");
}

#[test]
fn copied_files_are_excluded_from_the_commit_even_when_not_ignored() {
    let env = Env::new();
    env.write("local.cfg", "mine\n"); // untracked, not ignored
    env.agent("noop-writer", "echo work > work.txt");
    env.run(&["spawn", "c2", "-p", "x", "--command", "noop-writer"])
        .ok();
    env.git(&["config", "agents.copy", "local.cfg"]);
    env.run(&["spawn", "c3", "-p", "x", "--command", "noop-writer"])
        .ok();
    assert!(env.worktree("c3").join("local.cfg").is_file());
    let files = env.git(&["show", "--name-only", "--format=", "agent/c3"]);
    assert_eq!(files.trim(), "work.txt");
}

#[test]
fn worktreeinclude_copies_only_ignored_matches() {
    let env = Env::new();
    env.write(".gitignore", "*.local\ncache/\n");
    env.write(".worktreeinclude", "*.local\ncache/\nnotes.txt\n");
    env.git(&["add", ".gitignore", ".worktreeinclude"]);
    env.git(&["commit", "-q", "-m", "setup"]);
    env.write("db.local", "db\n");
    env.write("cache/a/b.bin", "bin\n");
    env.write("notes.txt", "untracked but not ignored\n");
    env.agent("w", "echo x > x.txt");
    env.run(&["spawn", "inc", "-p", "x", "--command", "w"]).ok();
    let wt = env.worktree("inc");
    assert_eq!(
        std::fs::read_to_string(wt.join("db.local")).unwrap(),
        "db\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("cache/a/b.bin")).unwrap(),
        "bin\n"
    );
    assert!(
        !wt.join("notes.txt").exists(),
        "a file git does not ignore was copied"
    );
}

/// Each agent records its port, then waits until all eight are running at once.
fn port_agent(env: &Env) -> std::path::PathBuf {
    let shared = env.root.join("ports");
    std::fs::create_dir_all(&shared).unwrap();
    env.agent(
        "port-agent",
        &format!(
            "echo \"$GIT_AGENTS_PORT\" > {d}/$GIT_AGENTS_TASK\ni=0\nwhile [ $(ls {d} | wc -l) -lt 8 ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done\n[ $(ls {d} | wc -l) -ge 8 ] || exit 9",
            d = shared.display()
        ),
    );
    shared
}

fn ports_in(dir: &std::path::Path) -> Vec<u16> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

#[test]
fn eight_concurrent_tasks_get_distinct_bindable_ports() {
    let env = Env::new();
    let shared = port_agent(&env);
    let mut m = String::from("command: port-agent\ntasks:\n");
    for i in 0..8 {
        m.push_str(&format!("  - {{id: p{i}, prompt: x}}\n"));
    }
    env.write("agents.yaml", &m);
    env.run(&["spawn", "-j", "8", "--keep-empty"]).ok();
    let ports = ports_in(&shared);
    assert_eq!(ports.len(), 8);
    assert_eq!(ports.iter().collect::<HashSet<_>>().len(), 8, "{ports:?}");
    for p in &ports {
        assert!((20000..=29999).contains(p));
        // Released when the task ended, and free.
        std::net::TcpListener::bind(("127.0.0.1", *p)).unwrap();
    }
}

#[test]
fn two_processes_never_share_a_port() {
    let env = Env::new();
    let shared = port_agent(&env);
    env.git(&["config", "agents.portRange", "30000-30007"]);
    let mut m = String::from("command: port-agent\ntasks:\n");
    for i in 0..8 {
        m.push_str(&format!("  - {{id: q{i}, prompt: x}}\n"));
    }
    env.write("agents.yaml", &m);
    let a = env
        .cmd(&["spawn", "q0", "q1", "q2", "q3", "-j", "4", "--keep-empty"])
        .spawn()
        .unwrap();
    let b = env
        .cmd(&["spawn", "q4", "q5", "q6", "q7", "-j", "4", "--keep-empty"])
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
    let ports = ports_in(&shared);
    assert_eq!(ports.iter().collect::<HashSet<_>>().len(), 8, "{ports:?}");
    assert!(ports.iter().all(|p| (30000..=30007).contains(p)));
}

#[test]
fn setup_output_has_its_own_log_section() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    env.write(
        "agents.yaml",
        "command: w\nsetup: [\"echo preparing\", \"echo broken >&2; exit 5\"]\ntasks:\n  - {id: s1, prompt: x}\n",
    );
    let run = env.run(&["spawn", "--json"]).code_is(1);
    let t = &tasks(&run.json())["s1"];
    assert_eq!(t["state"], "failed");
    assert_eq!(t["exit_code"], 5);
    assert_eq!(t["detail"], "setup `echo broken >&2; exit 5` exited 5");
    let log = env.run(&["logs", "s1"]).ok().stdout();
    assert!(
        log.contains("==> setup: echo preparing\npreparing\n"),
        "{log}"
    );
    assert!(log.contains("broken"), "{log}");
    assert!(
        !log.contains("==> agent"),
        "the agent ran after a failed setup:\n{log}"
    );
}

#[test]
fn disk_floor_refuses_before_anything_is_created() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    env.git(&["config", "agents.minFreeDisk", "900000TiB"]);
    let run = env
        .run(&["spawn", "d1", "-p", "x", "--command", "w"])
        .code_is(1);
    assert!(
        run.stderr().contains("not enough disk space"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("--force"), "{}", run.stderr());
    assert!(!env.repo.join(".worktrees").exists());
    assert_eq!(env.branches(), vec!["main"]);
    env.run(&["spawn", "d1", "-p", "x", "--command", "w", "--force"])
        .ok();
    env.git(&["config", "agents.minFreeDisk", "lots"]);
    let run = env
        .run(&["spawn", "d2", "-p", "x", "--command", "w"])
        .code_is(2);
    assert!(
        run.stderr().contains("agents.minFreeDisk"),
        "{}",
        run.stderr()
    );
}
