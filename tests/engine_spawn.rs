//! The spawn engine below the commands: every batch writes an NDJSON event log that
//! agrees with the tasks' records, a reader survives a torn or garbage log, and `cmd/`
//! stays thin (small files that import no other command).

mod common;

use common::{Env, tasks};
use git_agents::engine::events::{self, Kind, Phase};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Four tasks that end four ways: `ok` passes its check, `flaky` fails its first attempt
/// and succeeds on the retry, `bad` fails its check on both attempts, `idle` changes
/// nothing. Each agent prints a line, so output events are there too.
fn four_ways(env: &Env) {
    let count = env.root.join("flaky-runs");
    env.agent(
        "worker",
        &format!(
            "echo \"working on $GIT_AGENTS_TASK attempt $GIT_AGENTS_ATTEMPT\"\n\
             case \"$GIT_AGENTS_TASK\" in\n\
             idle) exit 0 ;;\n\
             flaky) echo x >> '{}'; [ \"$(wc -l < '{}')\" -ge 2 ] || exit 3 ;;\n\
             esac\n\
             echo done > \"out-$GIT_AGENTS_TASK.txt\"",
            count.display(),
            count.display()
        ),
    );
    env.write(
        "agents.yaml",
        "command: [worker]\nretries: 1\nsetup: [\"echo setting up\"]\ntasks:\n\
         \x20 - {id: ok, prompt: a, check: \"test -f out-ok.txt\"}\n\
         \x20 - {id: flaky, prompt: b}\n\
         \x20 - {id: bad, prompt: c, check: \"echo nope; exit 4\"}\n\
         \x20 - {id: idle, prompt: d}\n",
    );
}

fn event_logs(env: &Env) -> Vec<PathBuf> {
    let dir = env.agents_dir().join("events");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

/// Every line of the log as JSON: each one must parse, and carry the envelope.
fn lines_of(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "the log ends mid-line:\n{text}");
    text.lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            assert_eq!(v["version"], 1, "{l}");
            assert!(v["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
            assert!(v["kind"].is_string(), "{l}");
            v
        })
        .collect()
}

const ORDER: [Phase; 8] = [
    Phase::Replacing,
    Phase::WaitingForPort,
    Phase::Worktree,
    Phase::Copy,
    Phase::Setup,
    Phase::Agent,
    Phase::Commit,
    Phase::Check,
];

#[test]
fn the_event_log_of_a_spawn_matches_its_records() {
    let env = Env::new();
    four_ways(&env);
    let run = env.run(&["spawn", "--json", "-j", "2"]).code_is(1);
    let summary = tasks(&run.json());
    let logs = event_logs(&env);
    assert_eq!(logs.len(), 1, "one batch, one log: {logs:?}");
    let raw = lines_of(&logs[0]);
    let found = events::read(&logs[0]).unwrap();
    assert_eq!(found.skipped, 0);
    assert_eq!(found.events.len(), raw.len());
    let evs = found.events;

    // One batch id everywhere: the file name, every event, every record.
    let batch = evs[0].batch.clone();
    assert_eq!(logs[0].file_name().unwrap(), &*format!("{batch}.ndjson"));
    assert!(evs.iter().all(|e| e.batch == batch));
    let ids = ["ok", "flaky", "bad", "idle"];
    let records: BTreeMap<&str, Value> = ids.iter().map(|id| (*id, env.record(id))).collect();
    for (id, rec) in &records {
        assert_eq!(rec["batch"], batch.as_str(), "{id}");
    }

    // Opens with batch-started, closes with batch-ended, nothing else without a task.
    match &evs[0].kind {
        Kind::BatchStarted {
            command,
            tasks,
            pid,
            detached,
        } => {
            assert_eq!(command, "spawn");
            assert_eq!(tasks, &ids.map(String::from));
            assert!(*pid > 0);
            assert!(!detached);
        }
        k => panic!("first event is {k:?}"),
    }
    match &evs.last().unwrap().kind {
        Kind::BatchEnded { states, exit_code } => {
            assert_eq!(*exit_code, 1);
            let want: BTreeMap<String, String> = records
                .iter()
                .map(|(id, r)| (id.to_string(), r["state"].as_str().unwrap().to_string()))
                .collect();
            let got: BTreeMap<String, String> = states
                .iter()
                .map(|(id, s)| (id.clone(), s.to_string()))
                .collect();
            assert_eq!(got, want);
        }
        k => panic!("last event is {k:?}"),
    }
    assert!(evs[1..evs.len() - 1].iter().all(|e| e.task.is_some()));

    let want_states = [
        ("ok", "succeeded"),
        ("flaky", "succeeded"),
        ("bad", "failed"),
        ("idle", "empty"),
    ];
    for (id, state) in want_states {
        let rec = &records[id];
        assert_eq!(rec["state"], state, "{id}: {rec}");
        assert_eq!(summary[id]["state"], state, "{id}");
        let mine: Vec<&events::Event> = evs
            .iter()
            .filter(|e| e.task.as_deref() == Some(id))
            .collect();

        // Phases: attempt numbers never go back, and within an attempt the phases come
        // in the lifecycle's order, each of worktree, setup, agent, commit present.
        let phases: Vec<(u32, Phase)> = mine
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::Phase { phase, attempt } => Some((*attempt, *phase)),
                _ => None,
            })
            .collect();
        let attempts = rec["attempts"].as_array().unwrap();
        for (i, a) in attempts.iter().enumerate() {
            let n = a["n"].as_u64().unwrap() as u32;
            assert_eq!(n as usize, i + 1, "{id}");
            let of_n: Vec<Phase> = phases
                .iter()
                .filter(|(m, _)| *m == n)
                .map(|(_, p)| *p)
                .collect();
            let rank = |p: &Phase| ORDER.iter().position(|o| o == p).unwrap();
            assert!(
                of_n.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
                "{id} attempt {n}: {of_n:?}"
            );
            for p in [Phase::Worktree, Phase::Setup, Phase::Agent, Phase::Commit] {
                assert!(of_n.contains(&p), "{id} attempt {n}: no {p:?} in {of_n:?}");
            }
            // A retry first replaces the last attempt.
            assert_eq!(of_n.contains(&Phase::Replacing), n > 1, "{id}: {of_n:?}");
        }
        assert!(
            phases.windows(2).all(|w| w[0].0 <= w[1].0),
            "{id}: {phases:?}"
        );
        let checked = phases.iter().any(|(_, p)| *p == Phase::Check);
        assert_eq!(checked, id == "ok" || id == "bad", "{id}: {phases:?}");

        // One attempt-ended per attempt of the record, with its state, code and detail.
        let ended: Vec<(u32, String, Option<i32>, String)> = mine
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::AttemptEnded {
                    attempt,
                    state,
                    exit_code,
                    detail,
                } => Some((*attempt, state.to_string(), *exit_code, detail.clone())),
                _ => None,
            })
            .collect();
        let recorded: Vec<(u32, String, Option<i32>, String)> = attempts
            .iter()
            .map(|a| {
                (
                    a["n"].as_u64().unwrap() as u32,
                    a["state"].as_str().unwrap().to_string(),
                    a["exit_code"].as_i64().map(|c| c as i32),
                    a["detail"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(ended, recorded, "{id}");

        // Exactly one task-ended, the task's last event, with the record's state.
        let task_ended: Vec<(String, String)> = mine
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::TaskEnded { state, detail } => Some((state.to_string(), detail.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            task_ended,
            [(
                state.to_string(),
                rec["detail"].as_str().unwrap_or_default().to_string()
            )],
            "{id}"
        );
        assert!(
            matches!(mine.last().unwrap().kind, Kind::TaskEnded { .. }),
            "{id}"
        );

        // What the agent and the setup printed is there, line by line.
        let output: Vec<&str> = mine
            .iter()
            .filter_map(|e| match &e.kind {
                Kind::Output { line } => Some(line.as_str()),
                _ => None,
            })
            .collect();
        assert!(output.contains(&"setting up"), "{id}: {output:?}");
        assert!(
            output.contains(&format!("working on {id} attempt 1").as_str()),
            "{id}: {output:?}"
        );
    }
    assert_eq!(records["flaky"]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(records["bad"]["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(records["bad"]["check"], "failed");
    assert_eq!(records["ok"]["check"], "passed");
    let bad_out = evs.iter().any(|e| {
        e.task.as_deref() == Some("bad")
            && e.kind
                == Kind::Output {
                    line: "nope".into(),
                }
    });
    assert!(bad_out, "the check's output is an event too");

    // A second batch gets a log of its own.
    env.run(&["spawn", "-p", "Another", "--command", "worker"])
        .ok();
    assert_eq!(event_logs(&env).len(), 2);
}

#[test]
fn a_torn_or_garbage_log_is_read_up_to_the_damage_never_failed() {
    let env = Env::new();
    env.agent("talker", "echo one; echo two; echo three > t.txt");
    env.run(&["spawn", "t1", "-p", "Talk", "--command", "talker"])
        .ok();
    let log = event_logs(&env).pop().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let whole = events::read(&log).unwrap();
    assert_eq!(whole.skipped, 0);
    let n = whole.events.len();
    assert!(n >= 6, "{text}");

    // The writer died mid-line: the torn line is left out, the rest read as written.
    let cut = text.len() - text.lines().last().unwrap().len() / 2 - 1;
    let torn = env.root.join("torn.ndjson");
    std::fs::write(&torn, &text[..cut]).unwrap();
    let got = events::read(&torn).unwrap();
    assert_eq!(got.skipped, 0);
    assert_eq!(got.events, whole.events[..n - 1]);

    // Another writer went on after the torn line: it is one bad line, skipped.
    let mut resumed = text[..cut].to_string();
    resumed.push('\n');
    resumed.push_str(text.lines().last().unwrap());
    resumed.push('\n');
    std::fs::write(&torn, &resumed).unwrap();
    let got = events::read(&torn).unwrap();
    assert_eq!(got.skipped, 1);
    assert_eq!(got.events, whole.events);

    // Garbage, binary and empty lines in the middle: skipped and counted, never fatal.
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        bad.extend_from_slice(line.as_bytes());
        bad.push(b'\n');
        if i == 1 {
            bad.extend_from_slice(b"{\"version\":1,\"kind\":\n\xff\xfe garbage\n\n[1,2]\n");
        }
    }
    std::fs::write(&torn, &bad).unwrap();
    let got = events::read(&torn).unwrap();
    assert_eq!(got.skipped, 3);
    assert_eq!(got.events, whole.events);

    // A missing log reads empty; the commands that read the state still work with a
    // damaged one in place.
    let gone = events::read(&env.root.join("nope.ndjson")).unwrap();
    assert!(gone.events.is_empty());
    std::fs::write(&log, &text[..cut]).unwrap();
    env.run(&["list"]).ok();
    env.run(&["show", "t1"]).ok();
}

#[test]
fn a_task_spawned_again_and_interrupted_before_its_turn_keeps_its_record() {
    let env = Env::new();
    let started = env.root.join("started");
    env.agent("failer", "echo wip > wip.txt; exit 1");
    env.agent(
        "sleeper",
        &format!("touch '{}'; exec sleep 30", started.display()),
    );
    env.write(
        "agents.yaml",
        "tasks:\n  - {id: a, prompt: A, command: [failer]}\n  - {id: b, prompt: B, command: [sleeper]}\n",
    );
    env.run(&["spawn", "a"]).code_is(1);
    let before = env.record("a");
    assert_eq!(before["state"], "failed");

    // One slot: b runs, a waits its turn; Ctrl-C while b runs.
    let child = env.cmd(&["spawn", "-j", "1", "b", "a"]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !started.exists() {
        assert!(std::time::Instant::now() < deadline, "b never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // a never ran: its record is the one of its last run, not lost, not claimed.
    let after = env.record("a");
    for key in ["state", "attempts", "batch", "head", "owner", "created_at"] {
        assert_eq!(after[key], before[key], "{key}");
    }
    assert!(env.branches().contains(&"agent/a".to_string()));
    assert_eq!(env.record("b")["state"], "interrupted");
    // The batch's log says so: a ended "not started", and only b counts in the end.
    let log = event_logs(&env).pop().unwrap();
    let evs = events::read(&log).unwrap().events;
    let a_end: Vec<&Kind> = evs
        .iter()
        .filter(|e| e.task.as_deref() == Some("a"))
        .map(|e| &e.kind)
        .collect();
    assert_eq!(
        a_end,
        [&Kind::TaskEnded {
            state: git_agents::task::State::Pending,
            detail: "not started".into()
        }]
    );
    match &evs.last().unwrap().kind {
        Kind::BatchEnded { states, exit_code } => {
            assert_eq!(*exit_code, 130);
            assert_eq!(states.keys().collect::<Vec<_>>(), ["b"]);
        }
        k => panic!("{k:?}"),
    }
    // And it runs again later, as a task that failed does.
    std::fs::remove_file(&started).unwrap();
    env.run(&["spawn", "a"]).code_is(1);
    assert_eq!(env.record("a")["attempts"].as_array().unwrap().len(), 2);
}

/// The files of `src/cmd/`, with their text up to their unit tests.
fn cmd_files() -> Vec<(String, String)> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, root, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let code = match text.find("#[cfg(test)]") {
                    Some(i) => text[..i].to_string(),
                    None => text,
                };
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.push((rel, code));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cmd");
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

/// Files still allowed above ~400 lines or still importing another command: none left.
const NOT_YET_THIN: &[&str] = &[];
const NOT_YET_ALONE: &[&str] = &[];

#[test]
fn cmd_files_are_thin_and_import_no_other_command() {
    let files = cmd_files();
    let commands: Vec<String> = files
        .iter()
        .filter(|(f, _)| !f.contains('/') && f != "mod.rs")
        .map(|(f, _)| f.trim_end_matches(".rs").to_string())
        .collect();
    assert!(commands.contains(&"spawn".to_string()), "{commands:?}");
    let mut fat = Vec::new();
    let mut tangled = Vec::new();
    for (file, code) in &files {
        let lines = code.lines().count();
        if lines > 420 && !NOT_YET_THIN.contains(&file.as_str()) {
            fat.push(format!("{file}: {lines} lines"));
        }
        if NOT_YET_ALONE.contains(&file.as_str()) {
            continue;
        }
        // The command this file belongs to (merge/steps.rs is merge's).
        let own = file.split('/').next().unwrap().trim_end_matches(".rs");
        for c in &commands {
            if c == own {
                continue;
            }
            for pat in [
                format!("super::{c}::"),
                format!("super::{c};"),
                format!("super::{{{c}"),
                format!("super::super::{c}"),
                format!("crate::cmd::{c}::"),
                format!("crate::cmd::{c};"),
                format!("cmd::{c}::"),
            ] {
                if code.contains(&pat) {
                    tangled.push(format!("{file} uses `{pat}`"));
                }
            }
        }
    }
    assert!(fat.is_empty(), "cmd/ files above ~400 lines: {fat:?}");
    assert!(
        tangled.is_empty(),
        "cmd/ files importing another command: {tangled:?}"
    );
    // The spawn engine has left cmd/ for good.
    assert!(!NOT_YET_THIN.contains(&"spawn.rs") && !NOT_YET_ALONE.contains(&"spawn.rs"));
}
