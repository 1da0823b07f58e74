//! The merge queue and prune's decisions below the commands: merge's event log against
//! its `--json` results, the merge results' names, the one answer to "what is
//! uncommitted here", and prune's decisions as actions made from facts alone.

mod common;

use common::{Env, tasks};
use serde_json::Value;
use std::path::PathBuf;

use git_agents::dirty::Changes;
use git_agents::engine::cleanup::{
    Action, Discard, Done, Facts, Removal, Task, Unmerged, Why, WorktreeStep, decide,
};
use git_agents::git::InBase;
use git_agents::task::{MergeResult, State};
use git_agents::worktree::{Admin, Found};

/// A fake agent driven by spec files (`specs/ID`: a file name, then its content). In a
/// worktree with a merge in progress it says so and resolves every conflicted file.
fn spawn(env: &Env, specs: &[(&str, &str, &str)]) {
    let dir = env.root.join("specs");
    std::fs::create_dir_all(&dir).unwrap();
    env.agent(
        "fake-agent",
        &format!(
            r#"if git rev-parse -q --verify MERGE_HEAD >/dev/null; then
  echo "resolving for $GIT_AGENTS_TASK"
  git diff --name-only --diff-filter=U | while read -r f; do
    echo "resolved by $GIT_AGENTS_TASK" > "$f"
  done
  exit 0
fi
spec="{}/$GIT_AGENTS_TASK"
f=$(sed -n 1p "$spec")
sed -n '2,$p' "$spec" > "$f""#,
            dir.display()
        ),
    );
    let mut manifest = String::from("command: [fake-agent, \"{prompt}\"]\ntasks:\n");
    for (id, file, content) in specs {
        std::fs::write(dir.join(id), format!("{file}\n{content}\n")).unwrap();
        manifest.push_str(&format!("  - id: {id}\n    prompt: Do {id}\n"));
    }
    env.write("agents.yaml", &manifest);
    let run = env.run(&["spawn", "-j", "1", "--json"]).ok();
    for (id, t) in tasks(&run.json()) {
        assert_eq!(t["state"], "succeeded", "{id}: {t}");
    }
}

/// alpha and beta both write shared.txt; gamma is unrelated.
const CLASH: &[(&str, &str, &str)] = &[
    ("alpha", "shared.txt", "from alpha"),
    ("beta", "shared.txt", "from beta"),
    ("gamma", "g.txt", "gamma"),
];

fn events_dir(env: &Env) -> PathBuf {
    env.agents_dir().join("events")
}

/// Every merge run's event log (spawns write their own), oldest batch first, each as its
/// file stem and its lines as JSON.
fn event_logs(env: &Env) -> Vec<(String, Vec<Value>)> {
    let Ok(dir) = std::fs::read_dir(events_dir(env)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.ends_with('\n'), "{}: a torn last line", p.display());
            let lines = text
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, lines)
        })
        .filter(|(_, lines): &(String, Vec<Value>)| {
            lines.first().is_some_and(|e| e["command"] == "merge")
        })
        .collect()
}

/// The events about one task, in order.
fn of<'a>(events: &'a [Value], id: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["task"] == id).collect()
}

/// What `merge --json` says of a task and what its `merge-result` event says must agree,
/// field by field; and the batch's events frame it as the records end.
/// `changed`: the tasks whose state this run changed.
fn assert_log_matches(
    env: &Env,
    (batch, events): &(String, Vec<Value>),
    doc: &Value,
    exit: i32,
    changed: &[&str],
) {
    for e in events {
        assert_eq!(e["version"], 1, "{e}");
        assert_eq!(e["batch"], batch.as_str(), "{e}");
        assert!(e["ts"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    }
    let ids: Vec<String> = doc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let first = &events[0];
    assert_eq!(first["kind"], "batch-started", "{first}");
    assert_eq!(first["command"], "merge");
    assert_eq!(first["tasks"], serde_json::json!(ids));
    assert_eq!(first["detached"], false);
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "batch-ended", "{last}");
    assert_eq!(last["exit_code"], exit);

    // One verdict per task, in queue order, saying what --json says.
    let results: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "merge-result")
        .collect();
    let order: Vec<&str> = results
        .iter()
        .map(|e| e["task"].as_str().unwrap())
        .collect();
    assert_eq!(order, ids);
    for (id, t) in tasks(doc) {
        let e = results.iter().find(|e| e["task"] == id.as_str()).unwrap();
        assert_eq!(e["result"], t["result"], "{id}");
        assert_eq!(e["into"], t["into"], "{id}");
        assert_eq!(e["commit"], t["commit"], "{id}");
        assert_eq!(e["check"], t["merge_check"], "{id}");
        // --json shows the record's detail when the verdict has none.
        if e["detail"] != "" {
            assert_eq!(e["detail"], t["detail"], "{id}");
        }
        let conflicts = e.get("conflicts").cloned().unwrap_or(serde_json::json!([]));
        assert_eq!(conflicts, t["conflicts"], "{id}");

        // The task's state, when this run changed it, and its final one.
        let record = env.record(&id);
        let ended: Vec<&Value> = of(events, &id)
            .into_iter()
            .filter(|e| e["kind"] == "task-ended")
            .collect();
        if changed.contains(&id.as_str()) {
            assert_eq!(ended.len(), 1, "{id}: {ended:?}");
            assert_eq!(ended[0]["state"], record["state"], "{id}");
        } else {
            assert!(ended.is_empty(), "{id}: {ended:?}");
        }
        assert_eq!(last["states"][&id], record["state"], "{id}");
        // Its events start with the merge and end with the verdict (and its state).
        let mine = of(events, &id);
        let verdict = mine
            .iter()
            .position(|e| e["kind"] == "merge-result")
            .unwrap();
        if t["result"] != "not-reached" {
            assert_eq!(mine[0]["kind"], "phase", "{id}");
            assert_eq!(mine[0]["phase"], "merging", "{id}");
        }
        assert!(
            mine[verdict + 1..]
                .iter()
                .all(|e| e["kind"] == "task-ended"),
            "{id}: {mine:?}"
        );
    }
}

#[test]
fn the_event_log_of_each_merge_matches_its_json_results() {
    let env = Env::new();
    spawn(&env, CLASH);
    // A queue that stops at the conflict: gamma is not reached.
    // One check at a time: no `queue-check` events of a speculative queue.
    let first = env
        .run(&["merge", "--jobs", "1", "--check", "true", "--json"])
        .code_is(1);
    let doc = first.json();
    let t = tasks(&doc);
    assert_eq!(t["beta"]["result"], "conflicted");
    assert_eq!(t["gamma"]["result"], "not-reached");
    let logs = event_logs(&env);
    assert_eq!(logs.len(), 1, "one log per merge run");
    let events = &logs[0].1;
    assert_log_matches(&env, &logs[0], &doc, 1, &["alpha", "beta"]);
    // The check ran as a phase of alpha's, between its merge and its verdict.
    let alpha: Vec<&str> = of(events, "alpha")
        .iter()
        .filter_map(|e| e["phase"].as_str().or(e["kind"].as_str()))
        .collect();
    assert_eq!(
        alpha,
        ["merging", "check", "merge-result", "task-ended"],
        "{events:?}"
    );

    // Again, skipping the conflict: a second batch, a log of its own.
    let second = env
        .run(&["merge", "--all", "--on-conflict", "skip", "--json"])
        .code_is(1);
    let doc = second.json();
    assert_eq!(tasks(&doc)["gamma"]["result"], "merged");
    let logs = event_logs(&env);
    assert_eq!(logs.len(), 2, "{logs:?}");
    let second = logs
        .iter()
        .find(|(_, e)| e[0]["tasks"] == serde_json::json!(["beta", "gamma"]))
        .unwrap();
    // beta was conflicted already: its state did not change, so no task-ended.
    assert_log_matches(&env, second, &doc, 1, &["gamma"]);
}

#[test]
fn an_agent_resolution_is_a_resolving_phase_with_its_output_in_the_log() {
    let env = Env::new();
    spawn(&env, CLASH);
    let run = env.run(&["merge", "--on-conflict", "agent", "--json"]).ok();
    let doc = run.json();
    let logs = event_logs(&env);
    let events = &logs[0].1;
    assert_log_matches(&env, &logs[0], &doc, 0, &["alpha", "beta", "gamma"]);
    let beta: Vec<String> = of(events, "beta")
        .iter()
        .map(|e| match e["kind"].as_str().unwrap() {
            "phase" => e["phase"].as_str().unwrap().to_string(),
            "output" => format!("output: {}", e["line"].as_str().unwrap()),
            k => k.to_string(),
        })
        .collect();
    assert_eq!(
        beta,
        [
            "merging",
            "resolving",
            "output: resolving for beta",
            "merging",
            "merge-result",
            "task-ended",
        ],
        "{events:?}"
    );
    let err = run.stderr();
    assert!(
        err.contains("beta: conflicts; merging main into agent/beta and running its agent"),
        "{err}"
    );
    assert!(err.contains("beta: merged (main) "), "{err}");
}

#[test]
fn a_dry_run_and_refused_merges_write_no_event_log() {
    let env = Env::new();
    spawn(&env, CLASH);
    env.run(&["merge", "--dry-run", "--json"]).code_is(1); // beta would conflict
    env.run(&["merge", "nope"]).code_is(2);
    env.run(&["merge", "--pr"]).code_is(2); // no remote
    env.write("README.md", "my own edit\n");
    env.run(&["merge"]).code_is(1); // a dirty base checkout
    assert_eq!(event_logs(&env), Vec::new());
}

/// Every merge result, with the name `merge --json` has always given it.
fn name(r: MergeResult) -> &'static str {
    // A match, so that a new result cannot be added without a name here.
    match r {
        MergeResult::Merged => "merged",
        MergeResult::UpToDate => "up-to-date",
        MergeResult::Empty => "empty",
        MergeResult::WouldMerge => "would-merge",
        MergeResult::WouldConflict => "would-conflict",
        MergeResult::Conflicted => "conflicted",
        MergeResult::CheckFailed => "check-failed",
        MergeResult::NotReached => "not-reached",
        MergeResult::Error => "error",
        MergeResult::PrOpened => "pr-opened",
        MergeResult::Pushed => "pushed",
        MergeResult::WouldPush => "would-push",
        MergeResult::Blocked => "blocked",
        MergeResult::Failed => "failed",
        MergeResult::Interrupted => "interrupted",
    }
}

const RESULTS: &[MergeResult] = &[
    MergeResult::Merged,
    MergeResult::UpToDate,
    MergeResult::Empty,
    MergeResult::WouldMerge,
    MergeResult::WouldConflict,
    MergeResult::Conflicted,
    MergeResult::CheckFailed,
    MergeResult::NotReached,
    MergeResult::Error,
    MergeResult::PrOpened,
    MergeResult::Pushed,
    MergeResult::WouldPush,
    MergeResult::Blocked,
    MergeResult::Failed,
    MergeResult::Interrupted,
];

#[test]
fn merge_results_round_trip_their_json_names() {
    for &r in RESULTS {
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, format!("\"{}\"", name(r)));
        assert_eq!(r.as_str(), name(r));
        assert_eq!(r.to_string(), name(r));
        assert_eq!(serde_json::from_str::<MergeResult>(&json).unwrap(), r);
    }
    // The exit code's idea of success, as the list of names it was.
    let ok: Vec<&str> = RESULTS
        .iter()
        .filter(|r| r.is_success())
        .map(|r| name(*r))
        .collect();
    assert_eq!(
        ok,
        [
            "merged",
            "up-to-date",
            "empty",
            "would-merge",
            "pr-opened",
            "pushed",
            "would-push"
        ]
    );
}

#[test]
fn results_a_merge_gives_are_named_results() {
    let env = Env::new();
    spawn(&env, CLASH);
    env.write("g.txt", "mine, untracked\n");
    let runs = [
        env.run(&["merge", "--dry-run", "--json"]).code_is(1),
        env.run(&["merge", "--on-conflict", "skip", "--json"])
            .code_is(1),
    ];
    let mut seen = Vec::new();
    for run in &runs {
        for (_, t) in tasks(&run.json()) {
            let r: MergeResult = serde_json::from_value(t["result"].clone()).unwrap();
            seen.push(r);
        }
    }
    for want in [
        MergeResult::WouldMerge,
        MergeResult::WouldConflict,
        MergeResult::Merged,
        MergeResult::Conflicted,
        MergeResult::Blocked,
    ] {
        assert!(seen.contains(&want), "{want}: {seen:?}");
    }
}

/// `--on-conflict retry` replaces the task's worktree: an untracked file there (the one
/// answer counts them) keeps it from being re-run, and the file stays.
#[test]
fn retry_leaves_a_worktree_with_untracked_files_alone() {
    let env = Env::new();
    spawn(&env, CLASH);
    let notes = env.worktree("beta").join("notes.txt");
    std::fs::write(&notes, "mine\n").unwrap();
    let run = env
        .run(&["merge", "--on-conflict", "retry", "--json"])
        .code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["beta"]["result"], "conflicted", "{}", t["beta"]);
    let detail = t["beta"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("1 uncommitted change(s), so it was not re-run"),
        "{detail}"
    );
    assert_eq!(t["beta"]["attempts"], 1);
    assert_eq!(std::fs::read_to_string(&notes).unwrap(), "mine\n");
}

/// An agent resolves conflicts inside the task's worktree with `git merge`: a tracked
/// change there keeps it from starting; an untracked file does not (git judges it).
#[test]
fn agent_resolution_refuses_tracked_changes_only() {
    let env = Env::new();
    spawn(&env, CLASH);
    let wt = env.worktree("beta");
    std::fs::write(wt.join("shared.txt"), "edited by hand\n").unwrap();
    let run = env
        .run(&["merge", "--on-conflict", "agent", "--json"])
        .code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["beta"]["result"], "conflicted");
    assert!(
        t["beta"]["detail"]
            .as_str()
            .unwrap()
            .ends_with("its worktree has uncommitted changes"),
        "{}",
        t["beta"]
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("shared.txt")).unwrap(),
        "edited by hand\n"
    );

    env.git_in(&wt, &["checkout", "--", "shared.txt"]);
    std::fs::write(wt.join("notes.txt"), "mine\n").unwrap();
    let run = env
        .run(&["merge", "beta", "--on-conflict", "agent", "--json"])
        .ok();
    assert_eq!(tasks(&run.json())["beta"]["result"], "merged");
    assert_eq!(
        std::fs::read_to_string(wt.join("notes.txt")).unwrap(),
        "mine\n"
    );
}

// Prune's decisions, from facts made by hand: nothing here reads or writes a file.

const TIP: &str = "1111111111111111111111111111111111111111";
const HEAD: &str = "2222222222222222222222222222222222222222";

fn oid(hex: &str) -> gix::ObjectId {
    gix::ObjectId::from_hex(hex.as_bytes()).unwrap()
}

fn task(rec: bool) -> Task {
    let json = serde_json::json!({
        "version": 1, "id": "t", "state": "merged", "branch": "agent/t", "base": "main",
        "base_commit": TIP, "worktree": "/nowhere/.worktrees/t", "prompt": "p",
        "command": ["a"], "created_at": 0,
    });
    Task {
        id: "t".into(),
        rec: rec.then(|| serde_json::from_value(json).expect("a record")),
        state: State::Merged,
        branch: "agent/t".into(),
        worktree: Some(PathBuf::from("/nowhere/.worktrees/t")),
        base: "main".into(),
    }
}

fn admin() -> Admin {
    Admin {
        dir: PathBuf::from("/nowhere/.git/worktrees/t"),
        worktree: PathBuf::from("/nowhere/.worktrees/t"),
    }
}

/// A merged task with a clean linked worktree.
fn facts() -> Facts {
    Facts {
        state: State::Merged,
        never: Vec::new(),
        found: Found::Linked(admin()),
        shown: ".worktrees/t".into(),
        locked: None,
        stale_admin: None,
        tip: Some(oid(TIP)),
        head: None,
        unmerged: Vec::new(),
        unmerged_commits: 0,
        done: Some(Done::Merged),
        changes: Some(Ok(Changes::default())),
        users: Vec::new(),
        modules_stuck: None,
        unreached: Vec::new(),
    }
}

fn removal(a: Action) -> Removal {
    match a {
        Action::Remove(r) => *r,
        Action::Keep { reasons, .. } => panic!("kept: {reasons:?}"),
    }
}

#[test]
fn a_merged_task_is_removed_step_by_step() {
    let r = removal(decide(&task(true), &facts(), false));
    assert_eq!(r.why, Why::Merged);
    assert!(r.discards.is_empty());
    assert_eq!(
        r.modules,
        Some((admin().dir, vec![oid(TIP)])),
        "submodule commits are kept first"
    );
    assert!(r.unreached.is_empty());
    assert_eq!(
        r.worktree,
        Some(WorktreeStep::Move {
            path: admin().worktree,
            admin: Some(admin().dir),
            shown: ".worktrees/t".into(),
        })
    );
    assert_eq!(r.branch, Some(oid(TIP)));
    assert!(r.tombstone);
    // The same facts with --force decide the same: nothing was at risk.
    assert_eq!(
        removal(decide(&task(true), &facts(), true)).why,
        Why::Merged
    );
}

#[test]
fn what_must_never_be_touched_is_kept_even_by_force() {
    let f = Facts {
        state: State::Running,
        never: vec!["its agent is still running (pid 7)".into()],
        ..facts()
    };
    for force in [false, true] {
        assert_eq!(
            decide(&task(true), &f, force),
            Action::Keep {
                reasons: vec!["its agent is still running (pid 7)".into()],
                forceable: false,
            }
        );
    }
}

#[test]
fn work_not_in_base_is_kept_unless_forced_then_logged_first() {
    let f = Facts {
        state: State::Succeeded,
        done: None,
        unmerged: vec![Unmerged {
            tip: oid(TIP),
            commits: 2,
        }],
        unmerged_commits: 2,
        // The branch is reached by no other ref; it is logged once, as discarded.
        unreached: vec![oid(TIP)],
        changes: Some(Ok(Changes {
            count: 1,
            paths: vec!["x.txt".into()],
        })),
        ..facts()
    };
    assert_eq!(
        decide(&task(true), &f, false),
        Action::Keep {
            reasons: vec![
                "agent/t has 2 commits not in main".into(),
                ".worktrees/t has 1 uncommitted change (x.txt)".into(),
            ],
            forceable: true,
        }
    );
    let r = removal(decide(&task(true), &f, true));
    assert_eq!(r.why, Why::Forced);
    assert_eq!(
        r.discards,
        vec![
            Discard::Tip {
                what: "2 commits of agent/t".into(),
                sha: oid(TIP),
            },
            Discard::Uncommitted {
                what: "1 uncommitted change in .worktrees/t".into(),
                worktree: admin().worktree,
                admin: admin().dir,
            },
        ]
    );
    assert!(r.unreached.is_empty(), "{:?}", r.unreached);
    assert!(r.force);
}

#[test]
fn a_head_off_the_branch_is_named_and_logged() {
    let f = Facts {
        state: State::Empty,
        done: None,
        head: Some(oid(HEAD)),
        unmerged: vec![Unmerged {
            tip: oid(HEAD),
            commits: 1,
        }],
        unmerged_commits: 1,
        unreached: vec![oid(HEAD)],
        ..facts()
    };
    let Action::Keep { reasons, forceable } = decide(&task(true), &f, false) else {
        panic!("removed");
    };
    assert!(forceable);
    assert_eq!(
        reasons,
        ["the HEAD of .worktrees/t has 1 commit not in main"]
    );
    let r = removal(decide(&task(true), &f, true));
    assert_eq!(
        r.discards,
        [Discard::Tip {
            what: "the worktree's HEAD (1 commit)".into(),
            sha: oid(HEAD),
        }]
    );
    assert_eq!(r.modules, Some((admin().dir, vec![oid(TIP), oid(HEAD)])));
    assert_eq!(r.head_logged, None, "logged once, as discarded");
}

#[test]
fn a_squash_merged_orphan_branch_is_logged_then_deleted() {
    let f = Facts {
        state: State::Orphaned,
        found: Found::Missing,
        shown: String::new(),
        done: Some(Done::InBase(InBase::Applied)),
        changes: None,
        unreached: vec![oid(TIP)],
        ..facts()
    };
    let t = Task {
        rec: None,
        state: State::Orphaned,
        worktree: None,
        ..task(false)
    };
    let r = removal(decide(&t, &f, false));
    assert_eq!(r.why, Why::ChangesIn("main".into()));
    assert_eq!(r.unreached, [oid(TIP)]);
    assert_eq!(r.worktree, None);
    assert_eq!(r.modules, None);
    assert_eq!(r.branch, Some(oid(TIP)));
    assert!(!r.tombstone, "an orphan has no record to keep");
}

#[test]
fn a_worktree_deleted_by_hand_leaves_only_its_metadata_to_clear() {
    let f = Facts {
        state: State::Failed,
        found: Found::Missing,
        stale_admin: Some(admin()),
        done: Some(Done::InBase(InBase::Reachable)),
        changes: None,
        head: Some(oid(HEAD)),
        unreached: vec![oid(HEAD)],
        ..facts()
    };
    let r = removal(decide(&task(true), &f, false));
    assert_eq!(r.why, Why::Ended(State::Failed));
    assert_eq!(
        r.worktree,
        Some(WorktreeStep::ClearStale {
            admin: admin().dir,
            shown: ".worktrees/t".into(),
        })
    );
    assert_eq!(r.modules, Some((admin().dir, vec![oid(TIP), oid(HEAD)])));
    assert_eq!(r.head_logged, Some(oid(HEAD)));
}

#[test]
fn locks_users_and_plain_directories_need_force() {
    let cases: Vec<(Facts, &str)> = vec![
        (
            Facts {
                locked: Some("on a usb disk".into()),
                ..facts()
            },
            ".worktrees/t is locked (git worktree lock): on a usb disk",
        ),
        (
            Facts {
                users: vec![(42, "vim".into())],
                ..facts()
            },
            ".worktrees/t is in use by vim (pid 42)",
        ),
        (
            Facts {
                found: Found::Plain,
                changes: None,
                ..facts()
            },
            ".worktrees/t is not a git worktree: its files cannot be checked",
        ),
        (
            Facts {
                changes: Some(Err("bad index".into())),
                ..facts()
            },
            "cannot read the status of .worktrees/t: bad index",
        ),
    ];
    for (f, why) in cases {
        assert_eq!(
            decide(&task(true), &f, false),
            Action::Keep {
                reasons: vec![why.into()],
                forceable: true,
            }
        );
        let r = removal(decide(&task(true), &f, true));
        assert_eq!(r.why, Why::Forced, "{why}");
    }
    // A plain directory has no admin dir: only the directory moves.
    let f = Facts {
        found: Found::Plain,
        changes: None,
        ..facts()
    };
    assert_eq!(
        removal(decide(&task(true), &f, true)).worktree,
        Some(WorktreeStep::Move {
            path: admin().worktree,
            admin: None,
            shown: ".worktrees/t".into(),
        })
    );
}

#[test]
fn the_reason_names_how_the_work_is_done() {
    let cases = [
        (State::Empty, None, "empty"),
        (State::TimedOut, None, "timed-out"),
        (
            State::Succeeded,
            Some(Done::InBase(InBase::Reachable)),
            "work in main",
        ),
        (
            State::Succeeded,
            Some(Done::InBase(InBase::Applied)),
            "changes already in main",
        ),
        (State::Succeeded, Some(Done::Merged), "merged"),
    ];
    for (state, done, want) in cases {
        let f = Facts {
            state,
            done,
            ..facts()
        };
        assert_eq!(
            removal(decide(&task(true), &f, false)).why.to_string(),
            want
        );
    }
}

/// Writes the names of the task environment's variables (`GIT_AGENTS_*` and
/// `COMPOSE_PROJECT_NAME`), one a line and sorted, to `<root>/<label>-<task>`, and the
/// values of a few to `<root>/<label>-<task>.values`.
fn dumper(env: &Env) {
    let r = env.root.display();
    env.agent(
        "dumper",
        &format!(
            "out='{r}/'\"$1-$GIT_AGENTS_TASK\"\n\
             env | sed -n 's/^\\(GIT_AGENTS_[A-Z_]*\\|COMPOSE_PROJECT_NAME\\)=.*/\\1/p' | sort > \"$out\"\n\
             printf 'task=%s\\nbase=%s\\nport=%s\\n' \"$GIT_AGENTS_TASK\" \"$GIT_AGENTS_BASE\" \"$GIT_AGENTS_PORT\" > \"$out.values\""
        ),
    );
}

fn dumped(env: &Env, name: &str) -> String {
    let p = env.root.join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The merge check and the conflict-resolving agent are built by spawn's launcher: they
/// get the variables spawn's check and agent get, `GIT_AGENTS_PORT` included.
#[test]
fn merge_jobs_get_the_environment_spawns_jobs_get() {
    let env = Env::new();
    dumper(&env);
    env.agent(
        "fake-agent",
        r#"if git rev-parse -q --verify MERGE_HEAD >/dev/null; then
  dumper merge-agent
  git diff --name-only --diff-filter=U | while read -r f; do echo resolved > "$f"; done
  exit 0
fi
dumper spawn-agent
echo "from $GIT_AGENTS_TASK" > shared.txt"#,
    );
    env.write(
        "agents.yaml",
        "command: [fake-agent]\nsetup: [dumper setup]\ntasks:\n  - {id: alpha, prompt: a}\n  - {id: beta, prompt: b}\n",
    );
    let run = env
        .run(&[
            "spawn",
            "-j",
            "1",
            "--check",
            "dumper spawn-check",
            "--json",
        ])
        .ok();
    for (id, t) in tasks(&run.json()) {
        assert_eq!(t["state"], "succeeded", "{id}: {t}");
    }
    let spawned = dumped(&env, "spawn-agent-beta");
    assert!(spawned.contains("GIT_AGENTS_PORT\n"), "{spawned}");
    assert_eq!(dumped(&env, "spawn-check-beta"), spawned);
    std::fs::remove_file(env.root.join("setup-beta")).unwrap();

    let run = env
        .run(&[
            "merge",
            "--on-conflict",
            "agent",
            "--check",
            "dumper merge-check",
            "--json",
        ])
        .ok();
    let t = tasks(&run.json());
    assert_eq!(t["beta"]["result"], "merged", "{t:?}");
    // beta conflicted with alpha: its agent resolved it, then its merge was checked.
    for name in ["merge-agent-beta", "merge-check-beta", "setup-beta"] {
        assert_eq!(dumped(&env, name), spawned, "{name}");
        let values = dumped(&env, &format!("{name}.values"));
        assert!(
            values.starts_with("task=beta\nbase=main\nport="),
            "{values}"
        );
        assert!(
            values["task=beta\nbase=main\nport=".len()..]
                .trim()
                .parse::<u16>()
                .is_ok(),
            "{name}: {values}"
        );
    }
    // The port is given back once the job is done.
    assert_eq!(env.record("beta")["port"], Value::Null);
}

/// `git agents stop` of a task whose conflict-resolving agent runs stops it like a
/// spawned agent: the task ends `interrupted` (not `conflicted`), its branch and
/// worktree as they were before the merge began.
#[test]
fn stop_during_a_merge_agent_leaves_the_task_interrupted() {
    let env = Env::new();
    let r = env.root.display();
    env.agent(
        "fake-agent",
        &format!(
            r#"if git rev-parse -q --verify MERGE_HEAD >/dev/null; then
  echo $$ > '{r}/'$GIT_AGENTS_TASK.agent
  exec sleep 300
fi
f=shared.txt
[ "$GIT_AGENTS_TASK" = gamma ] && f=g.txt
echo "from $GIT_AGENTS_TASK" > "$f""#
        ),
    );
    env.write(
        "agents.yaml",
        "command: [fake-agent]\ntasks:\n  - {id: alpha, prompt: a}\n  - {id: beta, prompt: b}\n  - {id: gamma, prompt: c}\n",
    );
    env.run(&["spawn", "-j", "1"]).ok();
    let beta_tip = env.git(&["rev-parse", "agent/beta"]);
    let merge = env
        .cmd(&["merge", "--on-conflict", "agent", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid_file = env.root.join("beta.agent");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&pid_file).map_or(true, |s| s.trim().is_empty()) {
        assert!(std::time::Instant::now() < deadline, "the agent never ran");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(env.record("beta")["state"], "running");

    let run = env.run(&["stop", "beta"]).ok();
    assert!(
        run.stderr().contains("recorded it interrupted"),
        "{}",
        run.stderr()
    );
    let out = merge.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let t = tasks(&serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(t["alpha"]["result"], "merged", "{t:?}");
    assert_eq!(t["beta"]["result"], "interrupted", "{t:?}");
    // One task stopped, as in a spawn: the queue goes on with the rest.
    assert_eq!(t["gamma"]["result"], "merged", "{t:?}");
    let rec = env.record("beta");
    assert_eq!(rec["state"], "interrupted", "{rec}");
    assert_eq!(rec["owner"], Value::Null, "{rec}");
    // The merge in its worktree was undone; its branch is as the agent left it.
    let wt = env.worktree("beta");
    assert!(!env.git_ok(&[
        "-C",
        &wt.to_string_lossy(),
        "rev-parse",
        "-q",
        "--verify",
        "MERGE_HEAD"
    ]));
    assert_eq!(env.git(&["rev-parse", "agent/beta"]), beta_tip);
    assert_eq!(
        std::fs::read_to_string(wt.join("shared.txt")).unwrap(),
        "from beta\n"
    );
    assert!(!env.agents_dir().join("stop/beta.json").exists());
}

/// A `copy` entry that does not parse is refused before anything merges, as spawn
/// refuses it.
#[test]
fn a_bad_copy_entry_refuses_the_merge_and_changes_nothing() {
    let env = Env::new();
    spawn(&env, CLASH);
    let before = env.git(&["rev-parse", "main"]);
    env.git(&["config", "agents.copy", "../outside"]);
    let run = env.run(&["merge", "--check", "true"]).code_is(2);
    let err = run.stderr();
    assert!(
        err.contains("task alpha: copy entry \"../outside\" must be a relative path"),
        "{err}"
    );
    assert_eq!(env.git(&["rev-parse", "main"]), before);
    assert_eq!(env.record("alpha")["state"], "succeeded");
}
