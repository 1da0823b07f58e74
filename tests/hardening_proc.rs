//! Hardening (issue 12) of processes, numbers, ports, merge progress and re-spawning:
//! no input panics, no process an agent started outlives its task, no agent starts
//! without its port, the merge progress line tells what landed, and a task whose
//! worktree and branch are gone can run again.

mod common;

use common::{Env, alive, read_pid, tasks};
use std::path::Path;
use std::time::{Duration, Instant};

const HUGE: &str = "18446744073709551615";

/// Exit 2, the message names the problem in at most two lines, nothing was created.
#[track_caller]
fn refused_cleanly(env: &Env, args: &[&str], expect: &[&str]) {
    let run = env.run(args).code_is(2);
    let err = run.stderr();
    for e in expect {
        assert!(err.contains(e), "{args:?}: expected {e:?} in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    let lines = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
        .count();
    assert!(lines <= 3, "{args:?}: too long:\n{err}");
    assert!(
        !env.agents_dir().join("tasks").exists()
            || std::fs::read_dir(env.agents_dir().join("tasks"))
                .unwrap()
                .next()
                .is_none(),
        "{args:?}: a record was written"
    );
    assert_eq!(env.branches(), vec!["main"], "{args:?}: a branch was made");
}

fn no_record_running(env: &Env) {
    let Ok(dir) = std::fs::read_dir(env.agents_dir().join("tasks")) else {
        return;
    };
    for e in dir.flatten() {
        let rec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(e.path()).unwrap()).unwrap();
        assert_ne!(rec["state"], "running", "{rec}");
        assert_ne!(rec["state"], "pending", "{rec}");
    }
}

#[test]
fn huge_timeouts_and_retries_are_refused_from_every_source() {
    let env = Env::new();
    env.agent("ag", "echo x > x.txt");
    for t in [
        format!("{HUGE}s"),
        HUGE.to_string(),
        "99999999999999999999999".into(),
        "366d".into(),
        "100000000000h".into(),
    ] {
        refused_cleanly(
            &env,
            &["spawn", "-p", "x", "--command", "ag", "--timeout", &t],
            &["--timeout", "at most 365d"],
        );
    }
    for r in ["101", "4294967296", HUGE] {
        refused_cleanly(
            &env,
            &["spawn", "-p", "x", "--command", "ag", "--retries", r],
            &["--retries"],
        );
    }

    // Git config.
    env.git(&["config", "agents.timeout", &format!("{HUGE}s")]);
    refused_cleanly(
        &env,
        &["spawn", "-p", "x", "--command", "ag"],
        &["agents.timeout", "at most 365d"],
    );
    env.git(&["config", "--unset", "agents.timeout"]);
    env.git(&["config", "agents.retries", HUGE]);
    refused_cleanly(
        &env,
        &["spawn", "-p", "x", "--command", "ag"],
        &["agents.retries", "from 0 to 100"],
    );
    env.git(&["config", "--unset", "agents.retries"]);
    // `git -c` reaches us through the environment: same rule.
    let out = env
        .cmd(&["spawn", "-p", "x", "--command", "ag"])
        .env(
            "GIT_CONFIG_PARAMETERS",
            format!("'agents.timeout'='{HUGE}s'"),
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 365d"));
    // An absurd GIT_CONFIG_COUNT neither hangs nor panics (git refuses it too).
    let start = Instant::now();
    let out = env
        .cmd(&["list"])
        .env("GIT_CONFIG_COUNT", HUGE)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    assert!(start.elapsed() < Duration::from_secs(20));

    // The manifest: top level and task level, with file:line:col.
    for (m, expect) in [
        (
            format!("command: ag\ntimeout: {HUGE}s\ntasks:\n  - {{id: a, prompt: x}}\n"),
            "at most 365d",
        ),
        (
            format!("command: ag\ntasks:\n  - {{id: a, prompt: x, timeout: \"{HUGE}\"}}\n"),
            "at most 365d",
        ),
        (
            "command: ag\nretries: 101\ntasks:\n  - {id: a, prompt: x}\n".into(),
            "at most 100",
        ),
        (
            format!("command: ag\ntasks:\n  - {{id: a, prompt: x, retries: {HUGE}}}\n"),
            "retries",
        ),
    ] {
        env.write("agents.yaml", &m);
        refused_cleanly(&env, &["spawn"], &["agents.yaml:", expect]);
    }
    std::fs::remove_file(env.repo.join("agents.yaml")).unwrap();

    // The largest accepted values run.
    let run = env
        .run(&[
            "spawn",
            "-p",
            "big",
            "--command",
            "ag",
            "--timeout",
            "365d",
            "--retries",
            "100",
            "--json",
        ])
        .ok();
    assert_eq!(tasks(&run.json())["big"]["state"], "succeeded");
    no_record_running(&env);
}

#[test]
fn absurd_environment_knobs_never_panic() {
    let env = Env::new();
    env.agent("ag", "echo x > x.txt");
    for (k, v) in [
        ("GIT_AGENTS_LOCK_TIMEOUT", HUGE),
        ("GIT_AGENTS_KILL_GRACE_MS", HUGE),
    ] {
        let id = format!("k{}", k.len());
        let out = env
            .cmd(&["spawn", &id, "-p", "x", "--command", "ag"])
            .env(k, v)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{k}: {err}");
    }
    // A hand-edited record with a time beyond year 9999 still shows.
    let path = env.agents_dir().join("tasks").join("k23.json");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    rec["created_at"] = u64::MAX.into();
    rec["started_at"] = u64::MAX.into();
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    let run = env.run(&["show", "k23"]).ok();
    assert!(run.stdout().contains("9999-12-31"), "{}", run.stdout());
    env.run(&["list", "--json"]).ok();
}

#[test]
fn a_panic_in_a_task_records_it_failed_and_stops_its_agent() {
    let env = Env::new();
    env.agent("ag", "exec sleep 300");
    let out = env
        .cmd(&["spawn", "boom", "-p", "x", "--command", "ag", "--json"])
        .env("GIT_AGENTS_FAULT", "panic:spawn:child-started")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &tasks(&doc)["boom"];
    assert_eq!(t["state"], "failed", "{t}");
    assert!(
        t["detail"].as_str().unwrap().contains("internal error"),
        "{t}"
    );
    no_record_running(&env);
    assert_eq!(leftovers(&env), Vec::<u32>::new());
}

/// Processes (not zombies) whose working directory lies inside the test's temp dir.
fn leftovers(env: &Env) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd"))
            && cwd.starts_with(&env.root)
            && alive(pid)
        {
            out.push(pid);
        }
    }
    out
}

/// An agent that detaches two sleepers, one into a new session (`setsid ... &`) and one
/// through a double fork (its parent exits at once, so it is orphaned), writes their
/// pids next to the repository, says it is ready, then runs `then`.
fn detaching_agent(env: &Env, then: &str) {
    let r = env.root.display();
    env.agent(
        "detacher",
        &format!(
            "t=\"$GIT_AGENTS_TASK\"\n\
             setsid sh -c \"echo \\$\\$ > '{r}/$t.setsid'; exec sleep 300\" &\n\
             (setsid sh -c \"echo \\$\\$ > '{r}/$t.orphan'; exec sleep 300\" &)\n\
             (sh -c \"trap '' TERM; echo \\$\\$ > '{r}/$t.stubborn'; while :; do sleep 1; done\" &)\n\
             while [ ! -s '{r}/'$t.setsid ] || [ ! -s '{r}/'$t.orphan ] || [ ! -s '{r}/'$t.stubborn ]; do sleep 0.01; done\n\
             echo work > work.txt\n\
             touch '{r}/'$t.ready\n\
             {then}"
        ),
    );
}

#[track_caller]
fn tree_gone(env: &Env, id: &str) {
    for what in ["setsid", "orphan", "stubborn"] {
        let pid = read_pid(&env.root.join(format!("{id}.{what}")));
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "{id}: the {what} process {pid} outlived its task (alive: {})",
            alive(pid)
        );
    }
}

#[test]
fn ctrl_c_stops_detached_and_orphaned_descendants() {
    let env = Env::new();
    detaching_agent(&env, "exec sleep 300");
    env.write(
        "agents.yaml",
        "command: detacher\ntasks:\n  - {id: a, prompt: x}\n  - {id: b, prompt: y}\n",
    );
    let mut child = env.cmd(&["spawn", "-j", "2"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(env.root.join("a.ready").exists() && env.root.join("b.ready").exists()) {
        assert!(Instant::now() < deadline, "agents did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    for id in ["a", "b"] {
        assert_eq!(env.record(id)["state"], "interrupted");
        tree_gone(&env, id);
    }
    assert_eq!(leftovers(&env), Vec::<u32>::new());
}

#[test]
fn background_processes_do_not_outlive_a_finished_or_timed_out_task() {
    let env = Env::new();
    // Ends by itself, leaving its daemons behind; the check daemonises one too.
    detaching_agent(&env, "exit 0");
    let r = env.root.display();
    let check = format!("setsid sh -c \"echo \\$\\$ > '{r}/check.pid'; exec sleep 300\" & true");
    let run = env
        .run(&[
            "spawn",
            "done",
            "-p",
            "x",
            "--command",
            "detacher",
            "--check",
            &check,
            "--json",
        ])
        .ok();
    assert_eq!(tasks(&run.json())["done"]["state"], "succeeded");
    tree_gone(&env, "done");
    let pid = read_pid(&env.root.join("check.pid"));
    assert!(!alive(pid), "the check's daemon {pid} outlived it");

    // Timed out while it still runs.
    detaching_agent(&env, "exec sleep 300");
    let start = Instant::now();
    let run = env
        .run(&[
            "spawn",
            "slow",
            "-p",
            "x",
            "--command",
            "detacher",
            "--timeout",
            "2s",
            "--json",
        ])
        .code_is(1);
    assert_eq!(tasks(&run.json())["slow"]["state"], "timed-out");
    assert!(start.elapsed() < Duration::from_secs(20));
    tree_gone(&env, "slow");
    assert_eq!(leftovers(&env), Vec::<u32>::new());
}

/// A port nothing listens on right now (the kernel picks it).
fn a_free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An agent that insists on its port and proves nobody else holds it while it runs.
fn port_agent(env: &Env, hold: &str) {
    let r = env.root.display();
    env.agent(
        "porter",
        &format!(
            "[ -n \"$GIT_AGENTS_PORT\" ] || {{ echo \"no GIT_AGENTS_PORT\"; exit 8; }}\n\
             mkdir '{r}/holding-'$GIT_AGENTS_PORT || {{ echo \"port shared\"; exit 9; }}\n\
             echo \"$GIT_AGENTS_PORT\" > port.txt\n\
             sleep {hold}\n\
             rmdir '{r}/holding-'$GIT_AGENTS_PORT"
        ),
    );
}

#[test]
fn tasks_wait_for_the_only_port_and_never_run_without_one() {
    let env = Env::new();
    let port = a_free_port();
    env.git(&["config", "agents.portRange", &format!("{port}-{port}")]);
    port_agent(&env, "0.3");
    env.write(
        "agents.yaml",
        "command: porter\ntasks:\n  - {id: a, prompt: x}\n  - {id: b, prompt: y}\n  - {id: c, prompt: z}\n",
    );
    let run = env.run(&["spawn", "-j", "3", "--json"]).ok();
    let t = tasks(&run.json());
    for id in ["a", "b", "c"] {
        assert_eq!(t[id]["state"], "succeeded", "{id}: {}", t[id]);
        let got = std::fs::read_to_string(env.worktree(id).join("port.txt")).unwrap();
        assert_eq!(got.trim(), port.to_string());
        assert!(env.record(id)["port"].is_null(), "{id} kept its port");
    }
}

#[test]
fn a_waiting_task_times_out_and_a_range_taken_by_others_fails_with_the_reason() {
    let env = Env::new();
    let port = a_free_port();
    env.git(&["config", "agents.portRange", &format!("{port}-{port}")]);
    port_agent(&env, "3");
    // `slow` holds the only port for 3s; `hasty` may wait 1s for it. `slow` runs first,
    // in a spawn of its own, so which task holds the port never depends on the machine's
    // load.
    env.write(
        "agents.yaml",
        "command: porter\ntasks:\n  - {id: slow, prompt: x}\n  - {id: hasty, prompt: y, timeout: 1s}\n",
    );
    let slow = env
        .cmd(&["spawn", "slow", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let holding = env.root.join(format!("holding-{port}"));
    let start = std::time::Instant::now();
    while !holding.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "slow never got the port"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = env.run(&["spawn", "hasty", "--json"]).code_is(1);
    let out = slow.wait_with_output().unwrap();
    let slow_doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut t = tasks(&run.json());
    t.extend(tasks(&slow_doc));
    assert_eq!(t["slow"]["state"], "succeeded", "{}", t["slow"]);
    assert_eq!(t["hasty"]["state"], "timed-out", "{}", t["hasty"]);
    let detail = t["hasty"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("no free port") && detail.contains("timed out"),
        "{detail}"
    );
    assert!(!env.worktree("hasty").exists());

    // The only port is bound by another program: waiting would not help.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let taken = listener.local_addr().unwrap().port();
    env.git(&["config", "agents.portRange", &format!("{taken}-{taken}")]);
    let run = env
        .run(&[
            "spawn",
            "blocked",
            "-p",
            "x",
            "--command",
            "porter",
            "--json",
        ])
        .code_is(1);
    let t = &tasks(&run.json())["blocked"];
    assert_eq!(t["state"], "failed", "{t}");
    let detail = t["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("agents.portRange {taken}"))
            && detail.contains("in use by other programs"),
        "{detail}"
    );
    assert!(
        !env.worktree("blocked").exists(),
        "the agent's worktree was made"
    );
    drop(listener);
}

/// Two tasks, each adding its own file, spawned one at a time.
fn two_tasks(env: &Env) {
    env.agent(
        "maker",
        "echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"",
    );
    env.write(
        "agents.yaml",
        "command: maker\ntasks:\n  - {id: a, prompt: Do a}\n  - {id: b, prompt: Do b}\n",
    );
    env.run(&["spawn", "-j", "1"]).ok();
}

#[test]
fn the_merge_progress_line_says_merged_only_once_the_base_moved() {
    let env = Env::new();
    two_tasks(&env);
    let main_before = env.git(&["rev-parse", "main"]);
    // The check of the first task moves main under the queue (as a user committing
    // meanwhile would); the queue lands `a` only when `b`'s check is due, and the
    // compare-and-swap must then fail.
    let r = env.repo.display();
    let check = format!(
        "if [ ! -e '{root}/moved' ]; then touch '{root}/moved'; \
         git -C '{r}' commit -q --allow-empty -m 'moved meanwhile'; fi",
        root = env.root.display()
    );
    let run = env.run(&["merge", "a", "b", "--check", &check]).code_is(1);
    let err = run.stderr();
    assert!(!err.contains("a: merged"), "a did not land:\n{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("a: error (main): not landed: main moved while merging")),
        "{err}"
    );
    assert_ne!(env.record("a")["state"], "merged");
    let log = env.git(&["log", "--format=%s", "main"]);
    assert!(log.starts_with("moved meanwhile\n"), "{log}");
    assert!(!log.contains("Do a"), "{log}");
    assert_ne!(env.git(&["rev-parse", "main"]), main_before);

    // Run again onto the new tip: both land, each line after its move, in queue order.
    let run = env.run(&["merge", "a", "b", "--check", "true"]).ok();
    let err = run.stderr();
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(": merged (")).collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(lines[0].starts_with("a: merged (main) "), "{err}");
    assert!(lines[1].starts_with("b: merged (main) "), "{err}");
    assert_eq!(env.record("b")["state"], "merged");
}

#[test]
fn a_failed_compare_and_swap_on_a_branch_not_checked_out_is_reported_as_such() {
    let env = Env::new();
    two_tasks(&env);
    env.git(&["branch", "release", "main"]);
    // `release` is checked out nowhere: the ref's compare-and-swap alone decides.
    let r = env.repo.display();
    let check = format!(
        "if [ ! -e '{root}/moved' ]; then touch '{root}/moved'; \
         git -C '{r}' update-ref refs/heads/release \
         $(git -C '{r}' commit-tree -p release -m moved 'release^{{tree}}'); fi",
        root = env.root.display()
    );
    let run = env
        .run(&["merge", "a", "b", "--into", "release", "--check", &check])
        .code_is(1);
    let err = run.stderr();
    assert!(!err.contains(": merged"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("a: error (release): not landed: release moved while merging")),
        "{err}"
    );
    for id in ["a", "b"] {
        assert_ne!(env.record(id)["state"], "merged", "{id}");
    }
    assert_eq!(env.git(&["log", "-1", "--format=%s", "release"]), "moved\n");
}

fn pruned_log(env: &Env) -> String {
    std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap_or_default()
}

/// An agent whose behaviour a file decides: `empty` changes nothing, `fail` commits
/// work, leaves a file uncommitted and exits 3, `sleep` sleeps, anything else writes it.
fn moody_agent(env: &Env) -> std::path::PathBuf {
    let mood = env.root.join("mood");
    env.agent(
        "moody",
        &format!(
            "m=$(cat '{}')\n\
             case \"$m\" in\n\
             empty) exit 0;;\n\
             fail) echo committed > c.txt; git add c.txt; git commit -qm 'own commit'; echo loose > loose.txt; exit 3;;\n\
             sleep) echo $$ > \"$GIT_AGENTS_WORKTREE.pid\"; exec sleep 300;;\n\
             *) echo \"$m attempt $GIT_AGENTS_ATTEMPT\" > out.txt;;\n\
             esac",
            mood.display()
        ),
    );
    mood
}

fn spawn_one(id: &str) -> [&str; 7] {
    ["spawn", id, "-p", "Do it", "--command", "moody", "--json"]
}

#[test]
fn a_task_whose_worktree_and_branch_are_gone_spawns_again() {
    let env = Env::new();
    let mood = moody_agent(&env);
    // `empty`: its worktree and branch were removed at once.
    std::fs::write(&mood, "empty").unwrap();
    let run = env.run(&spawn_one("e")).ok();
    assert_eq!(tasks(&run.json())["e"]["state"], "empty");
    assert!(!env.worktree("e").exists());
    std::fs::write(&mood, "work").unwrap();
    let run = env.run(&spawn_one("e")).ok();
    let t = &tasks(&run.json())["e"];
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(
        t["attempts"], 2,
        "a new attempt, numbered after the last: {t}"
    );
    let out = std::fs::read_to_string(env.worktree("e").join("out.txt")).unwrap();
    assert_eq!(out, "work attempt 2\n");

    // Succeeded, then removed by hand: worktree and branch both gone.
    env.run(&spawn_one("h")).ok();
    let tip = env.git(&["rev-parse", "agent/h"]);
    env.git(&["worktree", "remove", "--force", ".worktrees/h"]);
    env.git(&["branch", "-D", "agent/h"]);
    std::fs::write(&mood, "again").unwrap();
    let run = env.run(&spawn_one("h")).ok();
    assert_eq!(tasks(&run.json())["h"]["state"], "succeeded");
    assert_ne!(env.git(&["rev-parse", "agent/h"]), tip);
    // Only its worktree gone (its branch holds the work): still refused.
    env.git(&["worktree", "remove", "--force", ".worktrees/h"]);
    let run = env.run(&spawn_one("h")).code_is(2);
    assert!(run.stderr().contains("succeeded"), "{}", run.stderr());
}

#[test]
fn failed_timed_out_and_interrupted_tasks_spawn_again_with_their_work_logged() {
    let env = Env::new();
    let mood = moody_agent(&env);
    let base = env.git(&["rev-parse", "main"]).trim().to_string();

    // failed: an own commit, plus a file git-agents committed for it.
    std::fs::write(&mood, "fail").unwrap();
    let run = env.run(&spawn_one("f")).code_is(1);
    assert_eq!(tasks(&run.json())["f"]["state"], "failed");
    let old_tip = env.git(&["rev-parse", "agent/f"]).trim().to_string();
    // Something the user left in the worktree since: saved, not lost.
    std::fs::write(env.worktree("f").join("mine.txt"), "user's\n").unwrap();
    std::fs::write(&mood, "fixed").unwrap();
    let run = env.run(&spawn_one("f")).ok();
    let t = &tasks(&run.json())["f"];
    assert_eq!(t["state"], "succeeded", "{t}");
    assert_eq!(t["attempts"], 2);
    assert!(
        !env.worktree("f").join("c.txt").exists(),
        "not a fresh worktree"
    );
    assert_eq!(
        env.git(&["rev-parse", "agent/f~1"]).trim(),
        base,
        "the new branch starts from base"
    );
    let log = pruned_log(&env);
    assert!(log.contains(&format!(" f agent/f {old_tip}")), "{log}");
    let saved = log
        .lines()
        .filter(|l| l.contains(" f agent/f "))
        .map(|l| l.rsplit(' ').next().unwrap().to_string())
        .find(|sha| *sha != old_tip)
        .unwrap_or_else(|| panic!("the user's file was not saved: {log}"));
    assert_eq!(env.git(&["show", &format!("{saved}:mine.txt")]), "user's\n");

    // timed-out.
    std::fs::write(&mood, "sleep").unwrap();
    let run = env
        .run(&[
            "spawn",
            "t",
            "-p",
            "x",
            "--command",
            "moody",
            "--timeout",
            "1s",
            "--json",
        ])
        .code_is(1);
    assert_eq!(tasks(&run.json())["t"]["state"], "timed-out");
    std::fs::write(&mood, "done").unwrap();
    let run = env.run(&spawn_one("t")).ok();
    assert_eq!(tasks(&run.json())["t"]["state"], "succeeded");

    // interrupted: git-agents killed while the agent's work was still uncommitted.
    std::fs::write(&mood, "half").unwrap();
    let out = env
        .cmd(&spawn_one("i"))
        .env("GIT_AGENTS_FAULT", "spawn:agent-done")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), None);
    let list = env.run(&["list", "--json"]).ok().json();
    assert_eq!(tasks(&list)["i"]["state"], "interrupted");
    std::fs::write(&mood, "whole").unwrap();
    let run = env.run(&spawn_one("i")).ok();
    assert_eq!(tasks(&run.json())["i"]["state"], "succeeded");
    let out = std::fs::read_to_string(env.worktree("i").join("out.txt")).unwrap();
    assert_eq!(out, "whole attempt 2\n");
    // The half-done, uncommitted output of the interrupted attempt was saved.
    let log = pruned_log(&env);
    let saved: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" i agent/i "))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(saved.len(), 1, "{log}");
    assert_eq!(
        env.git(&["show", &format!("{}:out.txt", saved[0])]),
        "half attempt 1\n"
    );
}

#[test]
fn running_succeeded_and_merged_tasks_are_refused_with_the_reason() {
    let env = Env::new();
    let mood = moody_agent(&env);
    std::fs::write(&mood, "work").unwrap();
    env.run(&spawn_one("ok")).ok();
    env.run(&spawn_one("m")).ok();
    env.run(&["merge", "m"]).ok();
    for (id, says) in [
        ("ok", "already spawned and succeeded"),
        ("m", "already spawned (state merged)"),
    ] {
        let before = env.record(id);
        let run = env.run(&spawn_one(id)).code_is(2);
        let err = run.stderr();
        assert!(err.contains(says), "{id}: {err}");
        assert!(err.contains("hint: prune it first"), "{id}: {err}");
        assert_eq!(env.record(id), before, "{id}: its record changed");
    }

    // Running: refused while its agent works.
    std::fs::write(&mood, "sleep").unwrap();
    let mut running = env.cmd(&spawn_one("r")).spawn().unwrap();
    let pid_file = env.repo.join(".worktrees/r.pid");
    read_pid(&pid_file);
    let run = env.run(&spawn_one("r")).code_is(2);
    assert!(
        run.stderr().contains("task r is running (pid "),
        "{}",
        run.stderr()
    );
    unsafe { libc::kill(running.id() as i32, libc::SIGINT) };
    assert_eq!(running.wait().unwrap().code(), Some(130));

    // Interrupted, but someone works in its worktree: refused, naming them.
    let mut shell = std::process::Command::new("sleep")
        .arg("300")
        .current_dir(env.worktree("r"))
        .spawn()
        .unwrap();
    std::fs::write(&mood, "work").unwrap();
    let run = env.run(&spawn_one("r")).code_is(2);
    assert!(
        run.stderr()
            .contains(&format!("in use by sleep (pid {})", shell.id())),
        "{}",
        run.stderr()
    );
    shell.kill().unwrap();
    shell.wait().unwrap();
    let run = env.run(&spawn_one("r")).ok();
    assert_eq!(tasks(&run.json())["r"]["state"], "succeeded");
}
