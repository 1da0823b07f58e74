//! The merge queue's speed-ups on real repositories: speculative checks (`--jobs`),
//! batches that bisect (`--batch`), the reused scratch worktrees, and the conflict
//! forecast (`--plan`, `--order forecast`, `list --conflicts`). The claim tested first
//! is that none of them changes the outcome: the same tasks land, in the same order,
//! with the same final tree, as with the one-at-a-time queue.

mod common;

use common::{Env, tasks};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// Spawn tasks `(id, script)`, in this order: the fake agent runs the task's script (sh)
/// in its worktree. Every task must succeed.
fn spawn(env: &Env, specs: &[(String, String)]) {
    let dir = env.root.join("specs");
    std::fs::create_dir_all(&dir).unwrap();
    env.agent(
        "script-agent",
        &format!(". \"{}/$GIT_AGENTS_TASK\"", dir.display()),
    );
    let mut manifest = String::from("command: [script-agent]\ntasks:\n");
    for (id, script) in specs {
        std::fs::write(dir.join(id), script).unwrap();
        manifest.push_str(&format!("  - id: {id}\n    prompt: Do {id}\n"));
    }
    env.write("agents.yaml", &manifest);
    let run = env.run(&["spawn", "-j", "1", "--json"]).ok();
    for (id, t) in tasks(&run.json()) {
        assert_eq!(t["state"], "succeeded", "{id}: {t}");
    }
}

fn rev(env: &Env, r: &str) -> String {
    env.git(&["rev-parse", r]).trim().to_string()
}

/// The tasks landed on main since `from`, oldest first (their `Agent-Task` trailers).
fn landed(env: &Env, from: &str) -> Vec<String> {
    let log = env.git(&[
        "log",
        "--first-parent",
        "--reverse",
        "--format=%(trailers:key=Agent-Task,valueonly)",
        &format!("{from}..main"),
    ]);
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
        .collect()
}

/// What a merge run decided: each task's result, the tasks landed in order, the tree.
#[derive(Debug, PartialEq)]
struct Outcome {
    results: BTreeMap<String, String>,
    landed: Vec<String>,
    tree: String,
}

/// Run `merge ARGS --json` from the state saved in `saved` (records) and `orig`
/// (main), and put both back afterwards.
fn merge_from(env: &Env, orig: &str, saved: &Path, args: &[&str]) -> (Outcome, String) {
    let mut all = vec!["merge", "--json"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    assert!(
        run.code() == 0 || run.code() == 1,
        "{all:?}: {}\n{}",
        run.stdout(),
        run.stderr()
    );
    let results = tasks(&run.json())
        .into_iter()
        .map(|(id, t)| (id, t["result"].as_str().unwrap().to_string()))
        .collect();
    let out = Outcome {
        results,
        landed: landed(env, orig),
        tree: rev(env, "main^{tree}"),
    };
    // No scratch worktree outlives the queue: git knows none, the scratch dir is empty
    // at once, and their files, moved into the trash, are deleted in the background.
    assert!(
        !env.git(&["worktree", "list"]).contains("scratch"),
        "{all:?}: scratch left behind"
    );
    let scratch = env.agents_dir().join("scratch");
    assert!(
        std::fs::read_dir(&scratch).map_or(true, |mut d| d.next().is_none()),
        "{all:?}: files left in {}",
        scratch.display()
    );
    let trash = env.agents_dir().join("trash");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(&trash).is_ok_and(|d| {
        d.flatten()
            .any(|e| e.path().extension().is_none_or(|x| x != "pid"))
    }) {
        assert!(
            std::time::Instant::now() < until,
            "{all:?}: the trash was not emptied"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    env.git(&["update-ref", "refs/heads/main", orig]);
    env.git(&["reset", "-q", "--hard", "main"]);
    let tasks_dir = env.agents_dir().join("tasks");
    for e in std::fs::read_dir(saved).unwrap().flatten() {
        std::fs::copy(e.path(), tasks_dir.join(e.file_name())).unwrap();
    }
    (out, run.stderr())
}

fn save_records(env: &Env) -> std::path::PathBuf {
    let saved = env.root.join("saved-records");
    std::fs::create_dir_all(&saved).unwrap();
    for e in std::fs::read_dir(env.agents_dir().join("tasks"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(e.path(), saved.join(e.file_name())).unwrap();
    }
    saved
}

/// The events of every merge so far (not spawn's), as JSON values.
fn events(env: &Env) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(env.agents_dir().join("events")) else {
        return out;
    };
    for e in dir.flatten() {
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(e.path())
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.first().is_some_and(|f| f["command"] == "merge") {
            out.extend(lines);
        }
    }
    out
}

/// A small deterministic generator (xorshift), so each seed is one fixed queue.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A random queue of 8–20 tasks: most add a file of their own, some rewrite one of a
/// few shared files (conflicting with each other), some add a file the check refuses.
fn random_queue(seed: u64) -> Vec<(String, String)> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let n = 8 + rng.below(13);
    (0..n)
        .map(|i| {
            let id = format!("t{i:02}");
            let mut script = format!("echo {id} > own-{id}.txt\n");
            if rng.below(4) == 0 {
                let k = rng.below(2);
                script.push_str(&format!("echo {id} > shared-{k}.txt\n"));
            }
            if rng.below(5) == 0 {
                script.push_str(&format!("mkdir -p bad; echo {id} > bad/{id}\n"));
            }
            (id, script)
        })
        .collect()
}

#[test]
fn jobs_and_batches_land_exactly_what_the_sequential_queue_lands() {
    // Each seed is its own repository; they run side by side (the time is spent in
    // child processes, mostly waiting).
    let seen: Vec<(bool, bool)> = std::thread::scope(|s| {
        let runs: Vec<_> = [3u64, 11, 42]
            .into_iter()
            .map(|seed| s.spawn(move || differential(seed)))
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    // The speculation really ran: candidates were re-queued after a failure, and a
    // check decided a batch of several.
    assert!(seen.iter().any(|s| s.0), "no requeued event in any seed");
    assert!(seen.iter().any(|s| s.1), "no batch check in any seed");
}

/// One seeded queue merged with `--jobs 1`, `--jobs 4`, `--batch 4` and `--batch 4
/// --jobs 3`: the same outcome each time. Returns whether a check was re-queued and
/// whether one decided a batch of several.
fn differential(seed: u64) -> (bool, bool) {
    let env = Env::new();
    let queue = random_queue(seed);
    spawn(&env, &queue);
    let orig = rev(&env, "main");
    let saved = save_records(&env);
    // A deterministic check that fails on any result holding a refused file.
    let check = "test ! -e bad";
    let run = |extra: &[&str]| {
        let mut args = vec!["--check", check, "--on-conflict", "skip"];
        args.extend_from_slice(extra);
        merge_from(&env, &orig, &saved, &args).0
    };
    let sequential = run(&["--jobs", "1"]);
    assert!(!sequential.landed.is_empty(), "seed {seed}: {sequential:?}");
    for extra in [
        &["--jobs", "4"][..],
        &["--batch", "4"],
        &["--batch", "4", "--jobs", "3"],
    ] {
        let got = run(extra);
        assert_eq!(got, sequential, "seed {seed}, {extra:?}");
    }
    if seed == 3 {
        // And with the queue stopping at the first conflict.
        let stop = |extra: &[&str]| {
            let mut args = vec!["--check", check];
            args.extend_from_slice(extra);
            merge_from(&env, &orig, &saved, &args).0
        };
        let sequential = stop(&["--jobs", "1"]);
        assert_eq!(stop(&["--jobs", "4"]), sequential, "seed {seed}, stop");
        assert_eq!(stop(&["--batch", "3"]), sequential, "seed {seed}, stop");
    }
    let ev = events(&env);
    (
        ev.iter().any(|e| e["kind"] == "requeued"),
        ev.iter().any(|e| {
            e["kind"] == "queue-check" && e["tasks"].as_array().is_some_and(|t| t.len() > 1)
        }),
    )
}

#[test]
fn a_stopped_speculative_check_loses_its_whole_process_group() {
    let env = Env::new();
    let queue: Vec<(String, String)> = vec![
        ("t1".into(), "mkdir -p bad; echo 1 > bad/t1\n".into()),
        ("t2".into(), "echo 2 > two.txt\n".into()),
        ("t3".into(), "echo 3 > three.txt\n".into()),
    ];
    spawn(&env, &queue);
    let pids = env.root.join("pids");
    std::fs::create_dir_all(&pids).unwrap();
    // On a result holding t1's refused file, t1's own check fails once a check
    // speculated on it has started (so the test does not hang on which comes first);
    // those start a background sleeper and wait: only killing their group ends them.
    let check = format!(
        "if [ -e bad ]; then \
           if [ \"$GIT_AGENTS_TASK\" = t1 ]; then \
             i=0; while [ -z \"$(ls {p})\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; \
             exit 1; \
           fi; \
           sleep 30 & echo $! > {p}/$GIT_AGENTS_TASK.$$; wait; \
         fi; exit 0",
        p = pids.display()
    );
    let started = Instant::now();
    let run = env
        .run(&["merge", "--check", &check, "--jobs", "3", "--json"])
        .code_is(1);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    let t = tasks(&run.json());
    assert_eq!(t["t1"]["result"], "check-failed");
    assert_eq!(t["t2"]["result"], "merged");
    assert_eq!(t["t3"]["result"], "merged");
    let sleepers: Vec<u32> = std::fs::read_dir(&pids)
        .unwrap()
        .flatten()
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        !sleepers.is_empty(),
        "no speculative check ran on t1's result"
    );
    for pid in sleepers {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|s| s.contains(") Z ")),
            "sleeper {pid} of a stopped check still runs"
        );
    }
    let ev = events(&env);
    // t2 was first checked on the result predicted to hold t1, then without it.
    let t2: Vec<&serde_json::Value> = ev
        .iter()
        .filter(|e| e["kind"] == "queue-check" && e["task"] == "t2")
        .collect();
    assert_eq!(t2[0]["ahead"], serde_json::json!(["t1"]), "{t2:?}");
    assert_eq!(t2.last().unwrap()["ahead"], serde_json::json!([]), "{t2:?}");
    let requeued: Vec<&serde_json::Value> = ev.iter().filter(|e| e["kind"] == "requeued").collect();
    assert!(!requeued.is_empty());
    assert!(
        requeued
            .iter()
            .all(|e| e["reason"].as_str().unwrap().contains("t1")),
        "{requeued:?}"
    );
    assert!(run.stderr().contains("re-queued"), "{}", run.stderr());
}

#[test]
fn kill_9_during_a_speculative_queue_leaves_whole_tasks_and_prune_cleans_up() {
    let env = Env::new();
    let queue: Vec<(String, String)> = (1..=5)
        .map(|i| (format!("t{i}"), format!("echo {i} > f{i}.txt\n")))
        .collect();
    spawn(&env, &queue);
    let orig = rev(&env, "main");
    let marks = env.root.join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    // t1 and t2 pass at once; the others' checks hang until the merge is killed.
    let check = format!(
        "touch {}/$GIT_AGENTS_TASK; case $GIT_AGENTS_TASK in t1|t2) exit 0;; esac; exec sleep 30",
        marks.display()
    );
    let mut child = env
        .cmd(&["merge", "--check", &check, "--jobs", "3"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !marks.join("t3").exists() || landed(&env, &orig).len() < 2 {
        assert!(Instant::now() < deadline, "the queue never got to t3");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The base holds whole tasks, in order, and the checkout is clean.
    let got = landed(&env, &orig);
    assert_eq!(got, vec!["t1", "t2"]);
    for (i, id) in got.iter().enumerate() {
        assert!(env.repo.join(format!("f{}.txt", i + 1)).exists(), "{id}");
    }
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
    let scratch = env.agents_dir().join("scratch");
    assert!(
        std::fs::read_dir(&scratch).unwrap().next().is_some(),
        "the killed queue left no scratch worktree to clean"
    );
    env.run(&["prune"]).ok();
    assert!(
        std::fs::read_dir(&scratch)
            .map(|mut d| d.next().is_none())
            .unwrap_or(true),
        "prune left scratch worktrees"
    );
    assert!(!env.git(&["worktree", "list"]).contains("scratch"));
    // And the next merge lands the rest.
    env.run(&["merge", "--check", "true", "--jobs", "3"]).ok();
    assert_eq!(landed(&env, &orig), vec!["t1", "t2", "t3", "t4", "t5"]);
}

#[test]
fn bad_queue_requests_exit_2_and_change_nothing() {
    let env = Env::new();
    spawn(
        &env,
        &[
            ("a".into(), "echo a > a.txt\n".into()),
            ("b".into(), "echo b > b.txt\n".into()),
        ],
    );
    let before = rev(&env, "main");
    let cases: &[(&[&str], &str)] = &[
        (&["merge", "--jobs", "0"], "--jobs 0: it must be 1 or more"),
        (
            &["merge", "--batch", "0"],
            "--batch 0: it must be 1 or more",
        ),
        (&["merge", "--batch", "2", "--pr"], "cannot be used with"),
        (&["merge", "--plan", "--prune"], "cannot be used with"),
        (&["merge", "--jobs", "many"], "invalid value 'many'"),
        (&["merge", "--order", "random"], "invalid value 'random'"),
    ];
    for (args, want) in cases {
        let run = env.run(args).code_is(2);
        assert!(run.stderr().contains(want), "{args:?}: {}", run.stderr());
        assert!(run.stderr().lines().count() <= 4, "{}", run.stderr());
    }
    assert_eq!(rev(&env, "main"), before);
    assert!(events(&env).is_empty());
    for id in ["a", "b"] {
        assert_eq!(env.record(id)["state"], "succeeded");
    }
}

/// All objects in the repository's object database, loose or packed.
fn object_count(env: &Env) -> String {
    env.git(&["count-objects", "-v"])
}

/// b1 rewrites x and y; b2 rewrites x; b3 rewrites y; c adds its own file; d edits the
/// README that main changes after the spawn.
fn conflicting_queue(env: &Env) {
    spawn(
        env,
        &[
            ("b1".into(), "echo b1 > x.txt; echo b1 > y.txt\n".into()),
            ("b2".into(), "echo b2 > x.txt\n".into()),
            ("b3".into(), "echo b3 > y.txt\n".into()),
            ("c".into(), "echo c > c.txt\n".into()),
            ("d".into(), "echo d > README.md\n".into()),
        ],
    );
    env.write("README.md", "main moved on\n");
    env.git(&["commit", "-q", "-am", "main edits the README"]);
}

#[test]
fn plan_forecasts_conflicts_in_memory_and_the_order_that_lands_most() {
    let env = Env::new();
    conflicting_queue(&env);
    let before = rev(&env, "main");
    let objects = object_count(&env);
    let run = env.run(&["merge", "--plan", "--json"]).ok();
    let doc = run.json();
    assert_eq!(doc["version"], 1);
    let by_id: BTreeMap<String, serde_json::Value> = doc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_string(), t.clone()))
        .collect();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&by_id["b1"]["conflicts_with"]), ["b2", "b3"]);
    assert_eq!(ids(&by_id["b2"]["conflicts_with"]), ["b1"]);
    assert_eq!(ids(&by_id["b3"]["conflicts_with"]), ["b1"]);
    assert_eq!(ids(&by_id["c"]["conflicts_with"]), Vec::<String>::new());
    assert_eq!(by_id["b1"]["conflict_paths"]["b2"][0], "x.txt");
    assert_eq!(by_id["c"]["onto_base"], "clean");
    assert_eq!(by_id["d"]["onto_base"], "conflict");
    assert_eq!(ids(&by_id["d"]["base_conflicts"]), ["README.md"]);
    assert_eq!(ids(&doc["order"]), ["b2", "b3", "c", "b1", "d"]);
    assert_eq!(doc["lands"], 3);
    // The text form: the matrix and the order.
    let text = env.run(&["merge", "--plan"]).ok().stdout();
    assert!(text.contains("ONTO BASE"), "{text}");
    assert!(
        text.contains("order that lands the most (3 of 5): b2 b3 c b1 d"),
        "{text}"
    );
    let b1 = text.lines().find(|l| l.contains(" b1 ")).unwrap();
    assert!(b1.contains("-  x  x  ."), "{b1}");
    // Nothing was written: no object, no ref, no record, no event log.
    assert_eq!(object_count(&env), objects);
    assert_eq!(rev(&env, "main"), before);
    assert!(events(&env).is_empty());
    assert_eq!(env.record("b1")["state"], "succeeded");
}

#[test]
fn order_forecast_lands_more_than_the_queue_order() {
    let env = Env::new();
    conflicting_queue(&env);
    let orig = rev(&env, "main");
    let saved = save_records(&env);
    let (queue_order, _) = merge_from(&env, &orig, &saved, &["--on-conflict", "skip"]);
    assert_eq!(queue_order.landed, ["b1", "c"]);
    let (forecast, _) = merge_from(
        &env,
        &orig,
        &saved,
        &["--on-conflict", "skip", "--order", "forecast"],
    );
    assert_eq!(forecast.landed, ["b2", "b3", "c"]);
    assert_eq!(forecast.results["b1"], "conflicted");
    assert_eq!(forecast.results["d"], "conflicted");
}

#[test]
fn list_shows_conflicts_only_when_asked() {
    let env = Env::new();
    conflicting_queue(&env);
    let plain = env.run(&["list", "--json"]).ok().json();
    for t in plain["tasks"].as_array().unwrap() {
        assert!(t.get("conflicts_with").is_none(), "{t}");
    }
    let doc = env.run(&["list", "--conflicts", "--json"]).ok().json();
    let t = tasks(&doc);
    assert_eq!(t["b1"]["conflicts_with"], serde_json::json!(["b2", "b3"]));
    assert_eq!(t["b2"]["conflicts_with"], serde_json::json!(["b1"]));
    assert_eq!(t["c"]["conflicts_with"], serde_json::json!([]));
    let text = env.run(&["list", "--conflicts"]).ok().stdout();
    let header = text.lines().next().unwrap();
    assert!(header.contains("CONFLICTS"), "{text}");
    let b1 = text.lines().find(|l| l.starts_with("b1 ")).unwrap();
    assert!(b1.contains("b2,b3"), "{text}");
    assert!(!env.run(&["list"]).ok().stdout().contains("CONFLICTS"));
}

#[test]
fn checks_reuse_one_scratch_worktree_that_starts_clean_each_time() {
    let env = Env::new();
    let queue: Vec<(String, String)> = (1..=3)
        .map(|i| (format!("t{i}"), format!("echo {i} > f{i}.txt\n")))
        .collect();
    spawn(&env, &queue);
    env.write(".gitignore", "cache/\n");
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-qm", "ignore cache"]);
    let orig = rev(&env, "main");
    let saved = save_records(&env);
    let seen = env.root.join("seen");
    // Each check must find the checkout exactly as committed (no leftovers of the last
    // check: tracked edits, untracked or ignored files), then leaves some behind.
    let check = format!(
        "pwd >> {}; test -z \"$(git status --porcelain --ignored)\" || exit 1; \
         echo junk >> README.md; touch junk; mkdir -p cache; touch cache/x",
        seen.display()
    );
    let (out, _) = merge_from(&env, &orig, &saved, &["--check", &check, "--jobs", "1"]);
    assert_eq!(out.landed, ["t1", "t2", "t3"]);
    let dirs = std::fs::read_to_string(&seen).unwrap();
    let dirs: Vec<&str> = dirs.lines().collect();
    assert_eq!(dirs.len(), 3);
    assert!(dirs.iter().all(|d| *d == dirs[0]), "not reused: {dirs:?}");
    assert!(dirs[0].contains("/.git/agents/scratch/pool-"), "{dirs:?}");
    assert!(!Path::new(dirs[0]).exists(), "the pool outlived the queue");
    // GIT_AGENTS_MERGE_SCRATCH=fresh: a new worktree per check, as before.
    std::fs::remove_file(&seen).unwrap();
    let run = env
        .cmd(&["merge", "--check", &check, "--jobs", "1"])
        .env("GIT_AGENTS_MERGE_SCRATCH", "fresh")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let dirs = std::fs::read_to_string(&seen).unwrap();
    let unique: std::collections::BTreeSet<&str> = dirs.lines().collect();
    assert_eq!(unique.len(), 3, "{dirs}");
}

#[test]
fn checks_run_ahead_by_agents_jobs_unless_told_one_at_a_time() {
    let env = Env::new();
    let queue: Vec<(String, String)> = (1..=3)
        .map(|i| (format!("t{i}"), format!("echo {i} > f{i}.txt\n")))
        .collect();
    spawn(&env, &queue);
    let orig = rev(&env, "main");
    let saved = save_records(&env);
    let checks = |env: &Env| {
        events(env)
            .iter()
            .filter(|e| e["kind"] == "queue-check")
            .count()
    };
    // No --jobs, no agents.jobs: 4 at once, as spawn.
    let (out, _) = merge_from(&env, &orig, &saved, &["--check", "true"]);
    assert_eq!(out.landed, ["t1", "t2", "t3"]);
    let speculative = checks(&env);
    assert!(speculative >= 3, "no check ran ahead: {speculative}");
    // agents.jobs = 1: one result at a time, no speculation.
    env.git(&["config", "agents.jobs", "1"]);
    let (out, _) = merge_from(&env, &orig, &saved, &["--check", "true"]);
    assert_eq!(out.landed, ["t1", "t2", "t3"]);
    assert_eq!(checks(&env), speculative, "agents.jobs = 1 still ran ahead");
}

#[test]
fn new_scratch_worktrees_are_made_at_the_results_waiting_for_them() {
    let env = Env::new();
    let queue: Vec<(String, String)> = (1..=4)
        .map(|i| (format!("t{i}"), format!("echo {i} > f{i}.txt\n")))
        .collect();
    spawn(&env, &queue);
    let orig = rev(&env, "main");
    let saved = save_records(&env);
    // Every checkout of a new scratch worktree says on which commit it is made.
    let log = env.root.join("pool.log");
    let hook = env.repo.join(".git/hooks/post-checkout");
    std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\n\
             case \"$PWD\" in */scratch/pool-*) git rev-parse HEAD >> {} ;; esac\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (out, _) = merge_from(&env, &orig, &saved, &["--check", "true", "--jobs", "4"]);
    assert_eq!(out.landed, ["t1", "t2", "t3", "t4"]);
    // Each was made on the predicted result of a different candidate (none made on one
    // result to be moved to another at once), the head's among them.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut made: Vec<String> = text
        .lines()
        .map(|c| {
            env.git(&[
                "show",
                "-s",
                "--format=%(trailers:key=Agent-Task,valueonly)",
                c,
            ])
            .trim()
            .to_string()
        })
        .collect();
    made.sort();
    let n = made.len();
    made.dedup();
    assert_eq!(made.len(), n, "{text}");
    assert!(made.contains(&"t1".to_string()), "{made:?}");
    assert!(
        made.iter()
            .all(|t| ["t1", "t2", "t3", "t4"].contains(&t.as_str())),
        "{made:?}"
    );
}

#[test]
fn a_bisection_leaves_its_spare_slots_to_batches_of_the_candidates_after_it() {
    let env = Env::new();
    let queue: Vec<(String, String)> = (1..=10)
        .map(|i| {
            let id = format!("t{i:02}");
            let mut script = format!("echo {i} > f{i}.txt\n");
            if i == 3 {
                script.push_str("mkdir -p bad; echo 3 > bad/t03\n");
            }
            (id, script)
        })
        .collect();
    spawn(&env, &queue);
    let orig = rev(&env, "main");
    let saved = save_records(&env);
    let check = "test ! -e bad";
    let (sequential, _) = merge_from(&env, &orig, &saved, &["--check", check, "--jobs", "1"]);
    let (batched, _) = merge_from(
        &env,
        &orig,
        &saved,
        &["--check", check, "--batch", "4", "--jobs", "4"],
    );
    assert_eq!(batched, sequential);
    // Ten candidates over four slots: batches of 3, 3, 3 and 1; t01–t03 fails. Its
    // bisection takes two slots (t01, t02), and the seven candidates after t03 are
    // spread over the two left: t04–t07 and t08–t10, so no third round is needed
    // for them (batches sized for all nine undecided over four slots would be of 3).
    let batches: Vec<Vec<String>> = events(&env)
        .iter()
        .filter(|e| e["kind"] == "queue-check")
        .map(|e| {
            e["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert!(
        batches.contains(&vec![
            "t04".to_string(),
            "t05".into(),
            "t06".into(),
            "t07".into()
        ]),
        "{batches:?}"
    );
}
