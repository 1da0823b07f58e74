//! `git agents stop` and `git agents wait` (issue 11): stopping supervised tasks and the
//! orphans of a killed spawn, `list`/`show` naming what an interrupted task left running,
//! `stop` + `prune` leaving nothing behind, and `wait`'s exit codes.

mod common;

use common::{Env, alive, read_pid, tasks};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
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

/// No process of ours left: prune's background `rm` of the trash (its working directory
/// is in the trash) gets a few seconds to finish.
#[track_caller]
fn no_leftovers(env: &Env) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = leftovers(env);
        if left.is_empty() {
            return;
        }
        if Instant::now() > deadline {
            let what: Vec<String> = left
                .iter()
                .map(|p| {
                    let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                    format!("{p}: {}", String::from_utf8_lossy(&cmd).replace('\0', " "))
                })
                .collect();
            panic!("processes left: {what:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for a child, killing it if it takes longer than a minute.
fn finish(mut child: Child) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("a git agents process did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn background(env: &Env, args: &[&str]) -> Child {
    env.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The processes an agent that "leaves the terminal" starts, by the name of the file that
/// holds each one's pid: one in a new session (`setsid`), one left in the agent's process
/// group, one orphaned by a double fork that ignores SIGTERM.
const SPREAD: [&str; 3] = ["setsid", "group", "stubborn"];

/// An agent that starts the [`SPREAD`] processes, writes their pids and its own next to
/// the repository (`ID.what`), commits nothing, says it is ready (`ID.ready`) and sleeps
/// until stopped. When `<root>/mood` says `quick`, it writes a file and exits 0 instead.
fn spreading_agent(env: &Env) {
    let r = env.root.display();
    env.agent(
        "spreader",
        &format!(
            "t=\"$GIT_AGENTS_TASK\"\n\
             if [ \"$(cat '{r}/mood' 2>/dev/null)\" = quick ]; then echo done > done.txt; exit 0; fi\n\
             echo $$ > '{r}/'$t.agent\n\
             setsid sh -c \"echo \\$\\$ > '{r}/$t.setsid'; exec sleep 300\" &\n\
             sh -c \"echo \\$\\$ > '{r}/$t.group'; exec sleep 300\" &\n\
             (sh -c \"trap '' TERM; echo \\$\\$ > '{r}/$t.stubborn'; while :; do sleep 1; done\" &)\n\
             while [ ! -s '{r}/'$t.setsid ] || [ ! -s '{r}/'$t.group ] || [ ! -s '{r}/'$t.stubborn ]; do sleep 0.01; done\n\
             echo work > work.txt\n\
             touch '{r}/'$t.ready\n\
             exec sleep 300"
        ),
    );
}

/// The pids of a task's agent and of what it spread, once it is ready.
fn tree_of(env: &Env, id: &str) -> Vec<u32> {
    wait_for(&env.root.join(format!("{id}.ready")));
    let mut pids = vec![read_pid(&env.root.join(format!("{id}.agent")))];
    for what in SPREAD {
        pids.push(read_pid(&env.root.join(format!("{id}.{what}"))));
    }
    pids
}

#[track_caller]
fn all_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while pids.iter().any(|p| alive(*p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let live: Vec<&u32> = pids.iter().filter(|p| alive(**p)).collect();
    assert!(live.is_empty(), "still running: {live:?}");
}

#[test]
fn stop_of_a_supervised_task_is_recorded_interrupted_by_its_spawn() {
    let env = Env::new();
    spreading_agent(&env);
    env.write(
        "agents.yaml",
        "command: spreader\ntasks:\n  - {id: a, prompt: x}\n  - {id: b, prompt: y}\n",
    );
    // Retries would start the agent again after a failure: a stop is not one.
    let spawn = background(&env, &["spawn", "-j", "2", "--retries", "2", "--json"]);
    let a = tree_of(&env, "a");
    let b = tree_of(&env, "b");

    let run = env.run(&["stop", "a"]).ok();
    let err = run.stderr();
    assert!(
        err.contains(&format!("(pid {})", spawn.id())) && err.contains("recorded it interrupted"),
        "{err}"
    );
    all_gone(&a);
    // Recorded by the spawn itself, which goes on with b.
    let rec = env.record("a");
    assert_eq!(rec["state"], "interrupted", "{rec}");
    assert_eq!(rec["attempts"].as_array().unwrap().len(), 1, "{rec}");
    assert!(env.worktree("a").join("work.txt").exists(), "worktree kept");
    assert_eq!(env.record("b")["state"], "running");
    assert!(b.iter().all(|p| alive(*p)), "b must run on");
    // The stop request was consumed.
    assert!(!env.agents_dir().join("stop/a.json").exists());

    env.run(&["stop", "b"]).ok();
    all_gone(&b);
    let out = finish(spawn);
    // Stopped tasks did not succeed; the spawn itself was not interrupted (not 130).
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for (id, t) in tasks(&doc) {
        assert_eq!(t["state"], "interrupted", "{id}: {t}");
    }
    no_leftovers(&env);

    // Not running any more: said, exit 0, nothing changed.
    let before = env.record("a");
    let run = env.run(&["stop", "a"]).ok();
    assert!(
        run.stderr().contains("a: not running (interrupted)"),
        "{}",
        run.stderr()
    );
    assert_eq!(env.record("a"), before);
    let run = env.run(&["stop", "--all"]).ok();
    assert!(run.stderr().contains("nothing to stop"), "{}", run.stderr());
}

#[test]
fn a_pending_task_stopped_never_starts_and_a_stale_request_stops_nothing() {
    let env = Env::new();
    spreading_agent(&env);
    env.write(
        "agents.yaml",
        "command: spreader\ntasks:\n  - {id: p1, prompt: x}\n  - {id: p2, prompt: y}\n",
    );
    let spawn = background(&env, &["spawn", "-j", "1"]);
    let p1 = tree_of(&env, "p1");
    assert_eq!(env.record("p2")["state"], "pending");
    let run = env.run(&["stop", "p2"]).ok();
    assert!(
        run.stderr()
            .contains("will end it interrupted before its next step"),
        "{}",
        run.stderr()
    );
    env.run(&["stop", "p1"]).ok();
    all_gone(&p1);
    assert_eq!(finish(spawn).status.code(), Some(1));
    let rec = env.record("p2");
    assert_eq!(rec["state"], "interrupted", "{rec}");
    assert!(!env.worktree("p2").exists(), "p2 never started");
    assert!(!env.root.join("p2.agent").exists());

    // Run again by a new spawn: the old request names the old spawn and is ignored.
    std::fs::write(env.root.join("mood"), "quick").unwrap();
    let run = env.run(&["spawn", "p2", "--json"]).ok();
    assert_eq!(tasks(&run.json())["p2"]["state"], "succeeded");
}

#[test]
fn after_kill_9_of_a_spawn_stop_all_then_prune_leaves_nothing() {
    let env = Env::new();
    spreading_agent(&env);
    let mut spawn = background(&env, &["spawn", "o", "-p", "x", "--command", "spreader"]);
    let tree = tree_of(&env, "o");
    spawn.kill().unwrap(); // SIGKILL
    spawn.wait().unwrap();
    // The agent itself got SIGTERM by its parent-death signal; what it spread runs on.
    let left = &tree[1..];
    std::thread::sleep(Duration::from_millis(100));
    assert!(left.iter().all(|p| alive(*p)), "{left:?}");

    // list and show name what still runs.
    let run = env.run(&["list"]).ok();
    assert!(
        run.stderr().contains("o is interrupted, but")
            && run.stderr().contains("git agents stop o"),
        "{}",
        run.stderr()
    );
    let doc = env.run(&["list", "--json"]).ok().json();
    let t = &tasks(&doc)["o"];
    assert_eq!(t["state"], "interrupted");
    let listed: Vec<u64> = t["leftover_pids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    for p in left {
        assert!(listed.contains(&u64::from(*p)), "{p} not in {listed:?}");
    }
    let run = env.run(&["show", "o"]).ok();
    assert!(
        run.stdout().contains("processes:") && run.stdout().contains(&left[0].to_string()),
        "{}",
        run.stdout()
    );
    let doc = env.run(&["show", "o", "--json"]).ok().json();
    assert!(
        !tasks(&doc)["o"]["leftover_pids"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // The record names a batch: stop writes into its event log.
    let path = env.agents_dir().join("tasks/o.json");
    let mut rec = env.record("o");
    rec["batch"] = "20260101T000000Z-1".into();
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();

    let start = Instant::now();
    let run = env.run(&["stop", "--all"]).ok();
    let err = run.stderr();
    assert!(
        err.contains("o: its git agents process was gone; stopped what it left running")
            && err.contains("recorded interrupted"),
        "{err}"
    );
    // The stubborn one needed SIGKILL after the grace (500 ms here), no more.
    assert!(start.elapsed() < Duration::from_secs(10));
    all_gone(&tree);
    let rec = env.record("o");
    assert_eq!(rec["state"], "interrupted", "{rec}");
    assert_eq!(rec["child"], serde_json::Value::Null);
    let events =
        std::fs::read_to_string(env.agents_dir().join("events/20260101T000000Z-1.ndjson")).unwrap();
    let kinds: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(kinds.len(), 2, "{events}");
    assert_eq!(kinds[0]["kind"], "stopped");
    assert_eq!(kinds[0]["task"], "o");
    assert!(kinds[0]["by"].as_u64().unwrap() > 0);
    assert_eq!(kinds[1]["kind"], "task-ended");
    assert_eq!(kinds[1]["state"], "interrupted");

    // Nothing is left for list to warn about.
    let run = env.run(&["list"]).ok();
    assert!(!run.stderr().contains("still run"), "{}", run.stderr());

    env.run(&["prune", "--all", "--force", "-y"]).ok();
    assert!(!env.worktree("o").exists());
    assert!(
        !env.branches().iter().any(|b| b.starts_with("agent/")),
        "{:?}",
        env.branches()
    );
    no_leftovers(&env);
    all_gone(&tree);
}

/// Wait until a process has its SIGINT handler in place (`SigCgt` in its status), so a
/// signal sent next is caught rather than killing it.
fn catches_sigint(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << (libc::SIGINT - 1)) != 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{pid} never caught SIGINT");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// An agent that waits for `<root>/ID.go`, then writes a file and exits with the code
/// that file holds.
fn gated_agent(env: &Env) {
    let r = env.root.display();
    env.agent(
        "gated",
        &format!(
            "t=\"$GIT_AGENTS_TASK\"\n\
             touch '{r}/'$t.ready\n\
             while [ ! -s '{r}/'$t.go ]; do sleep 0.02; done\n\
             echo $t > out.txt\n\
             exit $(cat '{r}/'$t.go)"
        ),
    );
}

#[test]
fn wait_exits_by_how_the_tasks_ended_and_gives_up_at_its_timeout() {
    let env = Env::new();
    gated_agent(&env);
    env.write(
        "agents.yaml",
        "command: gated\ntasks:\n  - {id: ok, prompt: x}\n  - {id: bad, prompt: y}\n",
    );
    let spawn = background(&env, &["spawn", "-j", "2"]);
    wait_for(&env.root.join("ok.ready"));
    wait_for(&env.root.join("bad.ready"));

    // Timeout: exit 1, naming what still runs.
    let start = Instant::now();
    let run = env.run(&["wait", "--timeout", "300ms"]).code_is(1);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        run.stderr()
            .contains("timed out after 300ms; still running: ")
            && run.stderr().contains("ok")
            && run.stderr().contains("bad"),
        "{}",
        run.stderr()
    );

    let one = background(&env, &["wait", "ok"]);
    let all = background(&env, &["wait"]);
    let interrupted = background(&env, &["wait", "bad"]);
    std::fs::write(env.root.join("ok.go"), "0").unwrap();
    let out = finish(one);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("ok: succeeded"), "{err}");
    // Ctrl-C leaves the task running: exit 130.
    catches_sigint(interrupted.id());
    unsafe { libc::kill(interrupted.id() as i32, libc::SIGINT) };
    assert_eq!(finish(interrupted).status.code(), Some(130));
    assert_eq!(env.record("bad")["state"], "running");

    std::fs::write(env.root.join("bad.go"), "1").unwrap();
    let out = finish(all);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ok: succeeded") && err.contains("bad: failed"),
        "{err}"
    );
    assert_eq!(finish(spawn).status.code(), Some(1));

    // Ended tasks: answered at once.
    env.run(&["wait", "ok"]).ok();
    env.run(&["wait", "ok", "bad"]).code_is(1);
    env.run(&["wait", "bad", "--timeout", "1s"]).code_is(1);
    let run = env.run(&["wait"]).ok();
    assert!(
        run.stderr().contains("nothing to wait for"),
        "{}",
        run.stderr()
    );
}

#[test]
fn wait_sees_a_task_end_when_its_spawn_is_killed() {
    let env = Env::new();
    gated_agent(&env);
    let mut spawn = background(&env, &["spawn", "k", "-p", "x", "--command", "gated"]);
    wait_for(&env.root.join("k.ready"));
    let waiting = background(&env, &["wait", "k"]);
    spawn.kill().unwrap();
    spawn.wait().unwrap();
    let out = finish(waiting);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("k: interrupted"), "{err}");
    env.run(&["stop", "--all"]).ok();
    no_leftovers(&env);
}

#[test]
fn stop_and_wait_refuse_bad_input_and_change_nothing() {
    let env = Env::new();
    env.agent("quick", "echo hi > hi.txt");
    env.run(&["spawn", "done", "-p", "x", "--command", "quick"])
        .ok();
    let before = env.record("done");
    // The spawn wrote its batch's event log; bad input must add nothing to it.
    let events = |env: &Env| -> Vec<(std::path::PathBuf, u64)> {
        let dir = env.agents_dir().join("events");
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| (e.path(), e.metadata().unwrap().len()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let events_before = events(&env);
    let cases: &[(&[&str], &str)] = &[
        (&["stop", "nope"], "no task \"nope\" has been spawned"),
        (&["stop", "done", "nope"], "no task \"nope\""),
        (&["stop"], "required"),
        (&["stop", "--all", "done"], "cannot be used with"),
        (&["stop", "Bad/Id"], "invalid task id"),
        (&["wait", "nope"], "no task \"nope\" has been spawned"),
        (&["wait", "done", "nope"], "no task \"nope\""),
        (&["wait", "--timeout", "0", "done"], "greater than zero"),
        (&["wait", "--timeout", "0"], "greater than zero"),
        (&["wait", "--timeout", "soon"], "expected a duration"),
        (&["wait", "..", "done"], "invalid task id"),
    ];
    for (args, says) in cases {
        let run = env.run(args).code_is(2);
        let err = run.stderr();
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(err.lines().count() <= 2, "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(env.record("done"), before);
    assert!(!env.agents_dir().join("stop").exists());
    assert_eq!(events(&env), events_before);
    // Outside a repository: a clear error, not a panic.
    let out = env
        .cmd(&["stop", "--all"])
        .current_dir(&env.home)
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}
