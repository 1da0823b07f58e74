//! Issue 11: `spawn --detach`, `git agents watch` and `agents.notify`, on real
//! repositories with fake agents. A detached batch runs in a session of its own and
//! outlives the shell and the terminal that started it; `watch` follows it from anywhere;
//! `notify` hears of its end.

mod common;

use common::{Env, Run, alive, tasks};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Three tasks: one succeeds, one fails its check after a retry, one changes nothing.
/// The agent sleeps first, so the batch is still running when a test looks.
const MIXED: &str = "command: [slow-agent]\nretries: 1\ncheck: test ! -f fail-check\ntasks:\n  - id: ok\n    prompt: Write ok\n  - id: bad\n    prompt: Fail the check\n  - id: none\n    prompt: Change nothing\n";

fn slow_agent(env: &Env, secs: &str) {
    env.agent(
        "slow-agent",
        &format!(
            r#"sleep {secs}
echo "working on $GIT_AGENTS_TASK"
case "$GIT_AGENTS_TASK" in
  ok) echo ok > ok.txt ;;
  bad) echo bad > fail-check ;;
  *) ;;
esac"#
        ),
    );
}

/// The pid `spawn --detach` names on stderr ("... (pid N) ...").
fn detached_pid(run: &Run) -> u32 {
    pid_in(&run.stderr())
}

fn pid_in(err: &str) -> u32 {
    let at = err
        .find("(pid ")
        .unwrap_or_else(|| panic!("no pid in: {err}"));
    err[at + 5..]
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("no pid in: {err}"))
}

/// Fields 3 (state), 6 (session) and 7 (tty) of /proc/PID/stat; `None` once it is gone.
fn proc_stat(pid: u32) -> Option<(char, i64, i64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f[0].chars().next()?, f[3].parse().ok()?, f[4].parse().ok()?))
}

#[track_caller]
fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[track_caller]
fn wait_gone(pid: u32) {
    wait_until(
        &format!("process {pid} to end"),
        Duration::from_secs(60),
        || !alive(pid),
    );
}

/// What must match between a detached and a foreground run: everything but times,
/// pids and paths.
fn comparable(env: &Env) -> BTreeMap<String, Value> {
    let doc = env.run(&["list", "--json"]).ok().json();
    tasks(&doc)
        .into_iter()
        .map(|(id, t)| {
            let keep: BTreeMap<&str, Value> = [
                "state",
                "branch",
                "base",
                "ahead",
                "behind",
                "dirty",
                "check",
                "exit_code",
                "attempts",
                "detail",
            ]
            .into_iter()
            .map(|k| (k, t[k].clone()))
            .collect();
            (id, serde_json::to_value(keep).unwrap())
        })
        .collect()
}

/// NDJSON from `watch`: every line an event object of version 1.
#[track_caller]
fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}"));
            assert_eq!(v["version"], 1, "{l}");
            assert!(v["ts"].is_string() && v["batch"].is_string(), "{l}");
            v
        })
        .collect()
}

/// The task-ended states in a stream, by task.
fn ended(events: &[Value]) -> BTreeMap<String, String> {
    events
        .iter()
        .filter(|e| e["kind"] == "task-ended")
        .map(|e| {
            (
                e["task"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn record_states(env: &Env, ids: &[&str]) -> BTreeMap<String, String> {
    ids.iter()
        .map(|id| {
            (
                id.to_string(),
                env.record(id)["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Run `line` (a shell command line) on a fresh pseudo-terminal with `script`.
fn on_pty(env: &Env, line: &str) -> Run {
    let mut cmd = Command::new("script");
    env.apply(&mut cmd);
    // A terminal has a TERM: without one indicatif draws nothing at all.
    cmd.env("TERM", "xterm")
        .args(["-qfec", line, "/dev/null"])
        .stdin(Stdio::null());
    Run(cmd.output().unwrap())
}

fn bin() -> &'static str {
    common::BIN
}

#[test]
fn a_detached_batch_outlives_its_shell_and_sighup_and_ends_as_a_foreground_one() {
    // The same batch in the foreground, for reference.
    let fg = Env::new();
    slow_agent(&fg, "0");
    fg.write("agents.yaml", MIXED);
    fg.run(&["spawn", "-j", "3", "--timeout", "1m"]).code_is(1);
    let want = comparable(&fg);
    assert_eq!(want["ok"]["state"], "succeeded", "{want:?}");
    assert_eq!(want["bad"]["state"], "failed", "{want:?}");
    assert_eq!(want["bad"]["attempts"], 2, "{want:?}");
    assert_eq!(want["none"]["state"], "empty", "{want:?}");

    let env = Env::new();
    slow_agent(&env, "1");
    env.write("agents.yaml", MIXED);
    // A shell in a process group of its own starts the batch and lingers; then its
    // whole group gets SIGHUP, as when a terminal hangs up, and the shell dies of it.
    let mut cmd = Command::new("sh");
    env.apply(&mut cmd);
    let started = env.root.join("started");
    let script = format!(
        "'{}' spawn -d -j 3 --timeout 1m >ids 2>err; touch '{}'; sleep 30",
        bin(),
        started.display()
    );
    use std::os::unix::process::CommandExt;
    let mut shell = cmd
        .args(["-c", &script])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    wait_until("spawn -d to return", Duration::from_secs(20), || {
        started.exists()
    });
    let returned = t0.elapsed();
    let pgid = shell.id() as i32;
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGHUP) }, 0);
    let status = shell.wait().unwrap();
    assert!(!status.success(), "the shell was to die of SIGHUP");
    let ids = std::fs::read_to_string(env.repo.join("ids")).unwrap();
    assert_eq!(ids, "ok\nbad\nnone\n");
    let err = std::fs::read_to_string(env.repo.join("err")).unwrap();
    assert!(err.contains("git agents watch"), "{err}");
    // It returned before any agent finished its first second of sleep.
    assert!(returned < Duration::from_secs(1), "{returned:?}");
    let pid = pid_in(&err);
    // The batch is in a session of its own, and still running after the hang-up.
    let (_, session, _) = proc_stat(pid).expect("the detached batch is running");
    assert_eq!(session, i64::from(pid), "the batch leads a new session");
    assert_ne!(session, i64::from(pgid));
    let state = env.record("ok")["state"].clone();
    assert!(state == "running" || state == "pending", "{state}");
    wait_gone(pid);
    assert_eq!(comparable(&env), want);
    // Its agents' work is there, as in the foreground.
    assert_eq!(
        env.git(&["show", "agent/ok:ok.txt"]),
        fg.git(&["show", "agent/ok:ok.txt"])
    );
    let log = env.run(&["logs", "ok"]).ok().stdout();
    assert!(log.contains("working on ok"), "{log}");
}

#[test]
fn a_detached_batch_outlives_the_terminal_that_started_it() {
    let env = Env::new();
    slow_agent(&env, "1");
    env.write("agents.yaml", MIXED);
    // `script` gives the command a terminal and closes it (SIGHUP to its session) as
    // soon as spawn returns.
    let run = on_pty(
        &env,
        &format!("'{}' spawn --detach --retries 0 ok bad", bin()),
    )
    .ok();
    let out = run.stdout();
    assert!(out.contains("ok\r\nbad\r\n"), "{out}");
    let pid = pid_in(&out);
    let (_, session, tty) = proc_stat(pid).expect("the detached batch is running");
    assert_eq!(session, i64::from(pid));
    assert_eq!(tty, 0, "the batch has no controlling terminal");
    wait_gone(pid);
    assert_eq!(env.record("ok")["state"], "succeeded");
    assert_eq!(env.record("bad")["state"], "failed");
    assert_eq!(env.record("bad")["attempts"].as_array().unwrap().len(), 1);
    assert!(!env.agents_dir().join("tasks/none.json").exists());
}

#[test]
fn detached_ad_hoc_task_and_json() {
    let env = Env::new();
    // The agent tells whether the batch's marker reached it (it must not).
    env.agent(
        "ag",
        "sleep 0.3; echo \"hi ${GIT_AGENTS_DETACHED_BATCH:-unmarked}\" > hi.txt; echo \"$GIT_AGENTS_PORT\" > port.txt",
    );
    let run = env
        .run(&["spawn", "-d", "--json", "--command", "ag", "-p", "Say hi"])
        .ok();
    let doc = run.json();
    let t = tasks(&doc);
    assert_eq!(t.len(), 1);
    // Truthful at the time it is printed: the batch may already have started it.
    let state = t["say-hi"]["state"].as_str().unwrap_or_default();
    assert!(matches!(state, "pending" | "running"), "{doc}");
    wait_gone(detached_pid(&run));
    assert_eq!(env.record("say-hi")["state"], "succeeded");
    assert_eq!(env.git(&["show", "agent/say-hi:hi.txt"]), "hi unmarked\n");
    // It had its port, as in the foreground.
    let port: u16 = env
        .git(&["show", "agent/say-hi:port.txt"])
        .trim()
        .parse()
        .unwrap();
    assert!((20000..=29999).contains(&port), "{port}");
}

#[test]
fn watch_on_a_terminal_shows_the_running_tasks_and_ends_with_them() {
    let env = Env::new();
    slow_agent(&env, "2");
    env.write("agents.yaml", MIXED);
    let run = env.run(&["spawn", "-d", "--no-check"]).ok();
    let pid = detached_pid(&run);
    let t0 = Instant::now();
    let watch = on_pty(&env, &format!("'{}' watch", bin())).ok();
    let took = t0.elapsed();
    let out = watch.stdout();
    for id in ["ok", "bad", "none"] {
        assert!(out.contains(id), "{id} not shown:\n{out}");
    }
    // The live lines (a spinner per running task), then each task's end.
    assert!(out.contains("running") || out.contains("pending"), "{out}");
    assert!(out.contains("tasks done"), "{out}");
    let table = &out[out.rfind("ID").expect("a final table")..];
    assert!(table.contains("succeeded"), "{table}");
    assert!(table.contains("empty"), "{table}");
    // It ended with the tasks, not long after.
    for id in ["ok", "bad", "none"] {
        let state = env.record(id)["state"].clone();
        assert!(state != "running" && state != "pending", "{id}: {state}");
    }
    assert!(took < Duration::from_secs(15), "{took:?}");
    wait_gone(pid);
}

#[test]
fn watch_json_off_a_terminal_streams_the_events_and_two_watchers_agree() {
    let env = Env::new();
    slow_agent(&env, "1");
    env.write("agents.yaml", MIXED);
    let run = env.run(&["spawn", "-d"]).ok();
    let pid = detached_pid(&run);
    // Two watchers at once, one asked for JSON, one just off a terminal.
    let spawn_watch = |args: &[&str]| {
        env.cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let a = spawn_watch(&["watch", "--json"]);
    let b = spawn_watch(&["watch"]);
    let a = Run(a.wait_with_output().unwrap()).ok();
    let b = Run(b.wait_with_output().unwrap()).ok();
    let ids = ["ok", "bad", "none"];
    let records = record_states(&env, &ids);
    for run in [&a, &b] {
        let evs = events(&run.stdout());
        let first = &evs[0];
        assert_eq!(first["kind"], "batch-started", "{first}");
        assert_eq!(first["tasks"], serde_json::json!(ids));
        assert_eq!(first["pid"], pid);
        assert_eq!(first["detached"], true);
        assert_eq!(ended(&evs), records, "{}", run.stdout());
        let last = evs.last().unwrap();
        assert_eq!(last["kind"], "batch-ended", "{last}");
        assert_eq!(last["exit_code"], 1);
        let states: BTreeMap<String, String> =
            serde_json::from_value(last["states"].clone()).unwrap();
        assert_eq!(states, records);
    }
    assert_eq!(a.stdout(), b.stdout());
    wait_gone(pid);
}

#[test]
fn watch_named_tasks_follows_only_them() {
    let env = Env::new();
    slow_agent(&env, "1");
    env.write("agents.yaml", MIXED);
    let run = env.run(&["spawn", "-d"]).ok();
    let pid = detached_pid(&run);
    let w = env.run(&["watch", "--json", "ok"]).ok();
    let evs = events(&w.stdout());
    for e in &evs {
        assert!(e["task"].is_null() || e["task"] == "ok", "{e}");
    }
    assert_eq!(ended(&evs).keys().collect::<Vec<_>>(), vec!["ok"]);
    assert_eq!(env.record("ok")["state"], "succeeded");
    wait_gone(pid);
}

#[test]
fn ctrl_c_stops_watching_not_the_agents() {
    let env = Env::new();
    slow_agent(&env, "2");
    env.write("agents.yaml", MIXED);
    let run = env.run(&["spawn", "-d", "ok"]).ok();
    let pid = detached_pid(&run);
    let watch = env
        .cmd(&["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(400));
    unsafe { libc::kill(watch.id() as i32, libc::SIGINT) };
    let w = Run(watch.wait_with_output().unwrap()).code_is(130);
    assert!(w.stderr().contains("the tasks go on"), "{}", w.stderr());
    assert!(alive(pid));
    assert_eq!(env.record("ok")["state"], "running");
    wait_gone(pid);
    assert_eq!(env.record("ok")["state"], "succeeded");
}

#[test]
fn watch_with_nothing_to_watch_and_bad_ids() {
    let env = Env::new();
    let none = env.run(&["watch"]).ok();
    assert!(
        none.stderr().contains("nothing is running"),
        "{}",
        none.stderr()
    );
    assert_eq!(none.stdout(), "");
    let unknown = env.run(&["watch", "nope"]).code_is(2);
    assert!(
        unknown.stderr().contains("no task \"nope\""),
        "{}",
        unknown.stderr()
    );
    let bad = env.run(&["watch", "../x"]).code_is(2);
    assert!(bad.stderr().contains("error:"), "{}", bad.stderr());
    assert!(!bad.stderr().contains("panicked"), "{}", bad.stderr());
    // A task that ended is named: said so, nothing to wait for.
    env.agent("ag", "echo x > x.txt");
    env.run(&["spawn", "--command", "ag", "-p", "Do x", "x"])
        .ok();
    let done = env.run(&["watch", "x"]).ok();
    assert!(
        done.stderr().contains("task x is not running (succeeded)"),
        "{}",
        done.stderr()
    );
}

#[test]
fn garbage_and_torn_event_logs_are_warned_about_and_skipped() {
    let env = Env::new();
    slow_agent(&env, "2");
    env.write("agents.yaml", MIXED);
    let events_dir = env.agents_dir().join("events");
    std::fs::create_dir_all(&events_dir).unwrap();
    // A log that is garbage from its first byte, and one cut in its first line.
    std::fs::write(events_dir.join("0-garbage.ndjson"), "\x00\x01 not json\n").unwrap();
    std::fs::write(
        events_dir.join("1-torn.ndjson"),
        "{\"version\":1,\"ts\":\"2",
    )
    .unwrap();
    let run = env.run(&["spawn", "-d", "ok", "none"]).ok();
    let pid = detached_pid(&run);
    let log = std::fs::read_dir(&events_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .contains(&format!("\"pid\":{pid}"))
        })
        .expect("the batch's log");
    // Garbage lands in the middle of the running batch's log.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    use std::io::Write;
    f.write_all(b"garbage in the middle\n{\"half\":\n").unwrap();
    drop(f);
    let w = env.run(&["watch", "--json"]).ok();
    let err = w.stderr();
    assert!(err.contains("warning:"), "{err}");
    assert!(err.contains("2 lines of the event log"), "{err}");
    assert!(err.contains("are not events: skipped"), "{err}");
    let evs = events(&w.stdout());
    assert_eq!(ended(&evs), record_states(&env, &["ok", "none"]));
    wait_gone(pid);
}

#[test]
fn watch_ends_when_the_supervisor_is_killed_mid_write() {
    let env = Env::new();
    slow_agent(&env, "30");
    env.write("agents.yaml", MIXED);
    let run = env.run(&["spawn", "-d", "ok"]).ok();
    let pid = detached_pid(&run);
    let watch = env
        .cmd(&["watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // A torn last line, as a kill in the middle of a write leaves it, then the kill.
    let events_dir = env.agents_dir().join("events");
    let log = std::fs::read_dir(&events_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .next()
        .unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    use std::io::Write;
    f.write_all(b"{\"version\":1,\"ts\":\"2026").unwrap();
    drop(f);
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let t0 = Instant::now();
    let w = Run(watch.wait_with_output().unwrap()).ok();
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    let err = w.stderr();
    assert!(err.contains("task ok was interrupted"), "{err}");
    let evs = events(&w.stdout());
    assert_eq!(evs[0]["kind"], "batch-started");
    wait_gone(pid);
}

#[test]
fn detach_refuses_what_the_foreground_refuses_and_changes_nothing() {
    let env = Env::new();
    env.agent("ag", "echo x > x.txt");
    env.run(&["spawn", "--command", "ag", "-p", "First", "taken"])
        .ok();
    let before = env.branches();
    for args in [
        &["spawn", "-d", "--command", "ag", "-p", "Again", "taken"][..],
        &["spawn", "--command", "ag", "-p", "Again", "taken"][..],
    ] {
        let r = env.run(args).code_is(2);
        assert!(
            r.stderr()
                .contains("task taken was already spawned and succeeded"),
            "{args:?}: {}",
            r.stderr()
        );
        assert!(r.stderr().contains("hint:"), "{}", r.stderr());
    }
    assert_eq!(env.branches(), before);
    // No manifest, unknown ids, a bad flag: all before anything detaches.
    let r = env.run(&["spawn", "-d"]).code_is(2);
    assert!(r.stderr().contains("no manifest found"), "{}", r.stderr());
    env.write(
        "agents.yaml",
        "command: [ag]\ntasks:\n  - id: a\n    prompt: A\n",
    );
    let r = env.run(&["spawn", "-d", "zzz"]).code_is(2);
    assert!(r.stderr().contains("no task \"zzz\""), "{}", r.stderr());
    assert!(!env.agents_dir().join("tasks/a.json").exists());
    // A tracked manifest nobody trusted: refused off a terminal, before detaching.
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
    let r = env.run(&["spawn", "-d"]).code_is(2);
    assert!(r.stderr().contains("not trusted"), "{}", r.stderr());
    assert!(!env.agents_dir().join("tasks/a.json").exists());
    // Everything spawned already: said so, exit 0.
    let r = env.run(&["spawn", "-d", "--trust"]).ok();
    wait_gone(detached_pid(&r));
    let r = env.run(&["spawn", "-d"]).ok();
    assert!(r.stderr().contains("nothing to spawn"), "{}", r.stderr());
}

#[test]
fn notify_gets_the_summary_on_stdin_once() {
    let env = Env::new();
    env.agent("ag", "echo x > x.txt");
    env.write(
        "agents.yaml",
        "command: [ag]\ntasks:\n  - id: a\n    prompt: A\n  - id: b\n    prompt: B\n",
    );
    env.git(&[
        "config",
        "agents.notify",
        "cat > \"$HOME/summary.json\"; echo ran >> \"$HOME/count\"",
    ]);
    let run = env.run(&["spawn", "--json"]).ok();
    let summary: Value =
        serde_json::from_slice(&std::fs::read(env.home.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary, run.json());
    assert_eq!(tasks(&summary).len(), 2);
    assert_eq!(
        std::fs::read_to_string(env.home.join("count")).unwrap(),
        "ran\n"
    );
    // A failing notify is a warning; the batch's exit stays its own.
    env.git(&["config", "agents.notify", "echo oops; exit 3"]);
    env.run(&["prune", "--all", "--force", "-y"]).ok();
    let r = env.run(&["spawn", "a"]).ok();
    assert!(
        r.stderr().contains("warning: notify command"),
        "{}",
        r.stderr()
    );
    assert!(r.stderr().contains("exited 3"), "{}", r.stderr());
    let log = std::fs::read_to_string(env.agents_dir().join("notify.log")).unwrap();
    assert!(log.contains("oops"), "{log}");
}

#[test]
fn notify_from_the_manifest_needs_trust_and_git_config_wins() {
    let env = Env::new();
    env.agent("ag", "echo x > x.txt");
    env.write(
        "agents.yaml",
        "command: [ag]\nnotify: cat > \"$HOME/from-manifest.json\"\ntasks:\n  - id: a\n    prompt: A\n  - id: b\n    prompt: B\n",
    );
    // Untracked: the user's own file, no trust needed.
    env.run(&["spawn", "a"]).ok();
    assert!(env.home.join("from-manifest.json").exists());
    std::fs::remove_file(env.home.join("from-manifest.json")).unwrap();
    // Tracked: its notify is one of the commands trust covers.
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
    let r = env.run(&["spawn", "b"]).code_is(2);
    assert!(r.stderr().contains("not trusted"), "{}", r.stderr());
    assert!(!env.home.join("from-manifest.json").exists());
    assert!(!env.agents_dir().join("tasks/b.json").exists());
    let t = env.run(&["trust"]).ok();
    assert!(t.stdout().contains("notify: cat >"), "{}", t.stdout());
    // Git config wins over the manifest; an empty value turns notify off.
    let mut cmd = env.cmd(&["spawn", "--trust", "b"]);
    cmd.env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "agents.notify")
        .env("GIT_CONFIG_VALUE_0", "");
    Run(cmd.output().unwrap()).ok();
    assert!(!env.home.join("from-manifest.json").exists());
    // A notify that is not text is a manifest error with its position.
    env.write(
        "agents.yaml",
        "command: [ag]\nnotify: [a, b]\ntasks:\n  - id: c\n    prompt: C\n",
    );
    let r = env.run(&["spawn", "c"]).code_is(2);
    assert!(r.stderr().contains("agents.yaml:2:"), "{}", r.stderr());
}

#[test]
fn a_detached_batch_notifies_and_the_next_command_on_a_terminal_says_it_ended_once() {
    let env = Env::new();
    env.agent("ag", "sleep 0.2; echo x > x.txt");
    env.write(
        "agents.yaml",
        "command: [ag]\ntasks:\n  - id: a\n    prompt: A\n  - id: b\n    prompt: B\n",
    );
    env.git(&["config", "agents.notify", "cat > \"$HOME/summary.json\""]);
    let run = env.run(&["spawn", "-d"]).ok();
    wait_gone(detached_pid(&run));
    let summary: Value =
        serde_json::from_slice(&std::fs::read(env.home.join("summary.json")).unwrap()).unwrap();
    let t = tasks(&summary);
    assert_eq!(t["a"]["state"], "succeeded");
    assert_eq!(t["b"]["state"], "succeeded");
    // Off a terminal nothing is said (and nothing is used up).
    let piped = env.run(&["list"]).ok();
    assert!(!piped.stderr().contains("detached"), "{}", piped.stderr());
    let first = on_pty(&env, &format!("'{}' list", bin())).ok().stdout();
    assert!(
        first.contains("a detached spawn of 2 tasks ended"),
        "{first}"
    );
    assert!(first.contains("2 succeeded"), "{first}");
    let second = on_pty(&env, &format!("'{}' list", bin())).ok().stdout();
    assert!(!second.contains("detached spawn"), "{second}");
}

#[test]
fn the_trust_question_is_asked_before_detaching() {
    let env = Env::new();
    env.agent("ag", "echo hi > hi.txt");
    env.write(
        "agents.yaml",
        "command: [ag]\ntasks:\n  - id: a\n    prompt: A\n",
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
    // On a terminal the foreground asks; the answer comes a moment later.
    let mut cmd = Command::new("script");
    env.apply(&mut cmd);
    let mut child = cmd
        .env("TERM", "xterm")
        .args(["-qfec", &format!("'{}' spawn -d", bin()), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"y\n").unwrap();
    let run = Run(child.wait_with_output().unwrap()).ok();
    let out = run.stdout();
    assert!(out.contains("Trust them and run?"), "{out}");
    wait_gone(pid_in(&out));
    assert_eq!(env.record("a")["state"], "succeeded");
}

#[test]
fn an_interrupted_detached_batch_is_told_too() {
    let env = Env::new();
    slow_agent(&env, "30");
    env.write("agents.yaml", MIXED);
    let run = env.run(&["spawn", "-d", "ok"]).ok();
    let pid = detached_pid(&run);
    wait_until("the agent to start", Duration::from_secs(20), || {
        env.record("ok")["state"] == "running"
    });
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    wait_gone(pid);
    assert_eq!(env.record("ok")["state"], "interrupted");
    let said = on_pty(&env, &format!("'{}' list", bin())).ok().stdout();
    assert!(
        said.contains("a detached spawn of 1 task was interrupted"),
        "{said}"
    );
}
