//! `git agents prune` on real repositories: every selection, every refusal, forced
//! removal and its recovery, hand-deleted worktrees, tombstones, dry runs.

mod common;

use common::Env;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A fake agent that writes its prompt into a file named after the task.
fn writer(env: &Env) {
    env.agent(
        "fake-agent",
        r#"printf '%s\n' "$1" > "out-$GIT_AGENTS_TASK.txt""#,
    );
}

fn manifest(env: &Env, ids: &[&str]) {
    let mut m = String::from("command: [fake-agent, \"{prompt}\"]\ntasks:\n");
    for id in ids {
        m.push_str(&format!("  - {{id: {id}, prompt: Do {id}}}\n"));
    }
    env.write("agents.yaml", &m);
}

fn has_branch(env: &Env, id: &str) -> bool {
    env.branches().contains(&format!("agent/{id}"))
}

fn registered(env: &Env, id: &str) -> bool {
    let list = env.git(&["worktree", "list", "--porcelain"]);
    list.lines()
        .any(|l| l == format!("worktree {}", env.worktree(id).display()))
}

/// The background deletion finishes: nothing but finished batches' pid files remain.
fn wait_trash_empty(env: &Env) {
    let trash = env.agents_dir().join("trash");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left: Vec<_> = std::fs::read_dir(&trash)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_none_or(|x| x != "pid"))
                    .collect()
            })
            .unwrap_or_default();
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "trash never emptied: {left:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Everything prune could change, to compare before and after.
fn snapshot(env: &Env) -> String {
    let mut s = env.git(&["for-each-ref", "--format=%(refname) %(objectname)"]);
    s.push_str(&env.git(&["worktree", "list", "--porcelain"]));
    s.push_str(&env.git(&["status", "--porcelain", "--untracked-files=all"]));
    let mut files = Vec::new();
    walk(&env.repo, &mut files);
    files.sort();
    s.push_str(&files.join("\n"));
    for f in files.iter().filter(|f| f.contains("/agents/tasks/")) {
        s.push_str(&std::fs::read_to_string(f).unwrap());
    }
    s
}

fn walk(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.ends_with(".git/objects") || p.ends_with(".git/logs") {
            continue;
        }
        out.push(p.display().to_string());
        if e.file_type().unwrap().is_dir() {
            walk(&p, out);
        }
    }
}

#[test]
fn default_prunes_merged_empty_and_squashed_and_keeps_the_rest() {
    let env = Env::new();
    writer(&env);
    env.agent("idle", "echo nothing to do");
    env.agent("broken", "exit 1");
    manifest(&env, &["merged", "squashed", "open"]);
    env.run(&["spawn"]).ok();
    env.run(&[
        "spawn",
        "nothing",
        "-p",
        "No-op",
        "--command",
        "idle",
        "--keep-empty",
    ])
    .ok();
    env.run(&["spawn", "bad", "-p", "Fail", "--command", "broken"])
        .code_is(1);
    // Merged by plain git: one by a merge commit, one squashed (no ancestry).
    env.git(&["merge", "-q", "--no-ff", "-m", "merge", "agent/merged"]);
    env.git(&["merge", "-q", "--squash", "agent/squashed"]);
    env.git(&["commit", "-q", "-m", "squash"]);

    let run = env.run(&["prune"]).ok();
    let out = run.stdout();
    assert!(
        out.contains("pruned merged (work in main): removed .worktrees/merged, deleted branch agent/merged (was "),
        "{out}"
    );
    assert!(
        out.contains("pruned squashed (changes already in main)"),
        "{out}"
    );
    assert!(out.contains("pruned nothing (empty)"), "{out}");
    assert!(!out.contains("open") && !out.contains("bad"), "{out}");
    for id in ["merged", "squashed", "nothing"] {
        assert!(!env.worktree(id).exists(), "{id}");
        assert!(!has_branch(&env, id), "{id}");
        assert!(!registered(&env, id), "{id}");
        assert_eq!(env.record(id)["pruned"], true, "{id}");
    }
    // Unmerged work and a failed task are not the default's business.
    for id in ["open", "bad"] {
        assert!(env.worktree(id).is_dir(), "{id}");
        assert!(has_branch(&env, id), "{id}");
        assert_eq!(env.record(id)["pruned"], false, "{id}");
    }
    wait_trash_empty(&env);

    // Nothing left: a second run is a quiet no-op.
    let again = env.run(&["prune"]).ok();
    assert_eq!(again.stdout(), "");
    assert!(
        again.stderr().contains("nothing to prune"),
        "{}",
        again.stderr()
    );
}

#[test]
fn a_task_merged_by_git_agents_is_pruned_unless_its_branch_moved_since() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["done", "moved"]);
    env.run(&["spawn"]).ok();
    // What `merge --strategy squash` leaves: state merged, tip as recorded.
    for id in ["done", "moved"] {
        let path = env.agents_dir().join(format!("tasks/{id}.json"));
        let mut rec = env.record(id);
        rec["state"] = "merged".into();
        std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    }
    // A commit made after the merge is not in base.
    let wt = env.worktree("moved");
    std::fs::write(wt.join("late.txt"), "late\n").unwrap();
    env.git_in(&wt, &["add", "late.txt"]);
    env.git_in(&wt, &["commit", "-q", "-m", "late"]);

    let run = env.run(&["prune"]).code_is(1);
    assert!(
        run.stdout().contains("pruned done (merged)"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr()
            .contains("kept moved: agent/moved has 2 commits not in main"),
        "{}",
        run.stderr()
    );
    assert!(env.worktree("moved").is_dir());
    assert!(has_branch(&env, "moved"));
}

#[test]
fn failed_selects_failed_tasks_and_all_selects_everything() {
    let env = Env::new();
    writer(&env);
    env.agent("broken", "exit 1");
    env.agent("broken-partial", "echo partial > partial.txt\nexit 1");
    manifest(&env, &["ok"]);
    env.run(&["spawn"]).ok();
    env.run(&["spawn", "clean-fail", "-p", "x", "--command", "broken"])
        .code_is(1);
    env.run(&[
        "spawn",
        "dirty-fail",
        "-p",
        "x",
        "--command",
        "broken-partial",
    ])
    .code_is(1);

    // --failed: the failure with nothing of its own goes; the one with a commit is kept.
    let run = env.run(&["prune", "--failed"]).code_is(1);
    assert!(
        run.stdout().contains("pruned clean-fail (failed)"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr()
            .contains("kept dirty-fail: agent/dirty-fail has 1 commit not in main"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stderr().contains("hint: merge them first"),
        "{}",
        run.stderr()
    );
    assert!(!has_branch(&env, "clean-fail"));
    assert!(has_branch(&env, "dirty-fail") && has_branch(&env, "ok"));

    // --all: the succeeded, unmerged task is selected too, and refused the same way.
    let run = env.run(&["prune", "--all"]).code_is(1);
    assert!(
        run.stderr()
            .contains("kept ok: agent/ok has 1 commit not in main")
    );
    assert!(
        run.stderr().contains("error: kept 2 of 2 tasks"),
        "{}",
        run.stderr()
    );

    let run = env.run(&["prune", "--all", "--force", "--yes"]).ok();
    assert!(run.stdout().contains("pruned ok (forced)"));
    assert!(run.stdout().contains("pruned dirty-fail (forced)"));
    assert_eq!(env.branches(), vec!["main"]);
}

#[test]
fn ids_select_exactly_those_and_unknown_ids_change_nothing() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["one", "two"]);
    env.run(&["spawn"]).ok();
    env.git(&["merge", "-q", "--no-ff", "-m", "m1", "agent/one"]);
    env.git(&["merge", "-q", "--no-ff", "-m", "m2", "agent/two"]);

    let before = snapshot(&env);
    for (args, msg) in [
        (vec!["prune", "nope"], "no task \"nope\""),
        (vec!["prune", "one", "nope"], "no task \"nope\""),
        (vec!["prune", "Bad/Id"], "invalid task id"),
        (vec!["prune", "one", "--all"], "cannot be used with"),
    ] {
        let run = env.run(&args).code_is(2);
        assert!(run.stderr().contains(msg), "{args:?}: {}", run.stderr());
    }
    assert_eq!(before, snapshot(&env));

    let run = env.run(&["prune", "two"]).ok();
    assert!(run.stdout().contains("pruned two"));
    assert!(!run.stdout().contains("one"));
    assert!(has_branch(&env, "one") && !has_branch(&env, "two"));
    // Pruning it again is harmless.
    let run = env.run(&["prune", "two"]).ok();
    assert!(
        run.stderr().contains("two was pruned already"),
        "{}",
        run.stderr()
    );
}

#[test]
fn uncommitted_and_untracked_files_are_refused_without_force() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["edited", "untracked"]);
    env.run(&["spawn"]).ok();
    for id in ["edited", "untracked"] {
        env.git(&["merge", "-q", "--no-ff", "-m", id, &format!("agent/{id}")]);
    }
    std::fs::write(env.worktree("edited").join("README.md"), "changed\n").unwrap();
    std::fs::write(env.worktree("untracked").join("notes.txt"), "mine\n").unwrap();
    // Ignored files are nobody's work in progress.
    std::fs::write(env.repo.join(".git/info/exclude"), "*.log\n").unwrap();
    std::fs::write(env.worktree("untracked").join("build.log"), "noise\n").unwrap();

    let before = snapshot(&env);
    let run = env.run(&["prune"]).code_is(1);
    let err = run.stderr();
    assert!(
        err.contains("kept edited: .worktrees/edited has 1 uncommitted change (README.md)"),
        "{err}"
    );
    assert!(
        err.contains("kept untracked: .worktrees/untracked has 1 uncommitted change (notes.txt)"),
        "{err}"
    );
    assert_eq!(run.stdout(), "");
    assert_eq!(before, snapshot(&env));
}

#[test]
fn force_off_a_terminal_needs_yes_and_never_waits_for_input() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["work"]);
    env.run(&["spawn"]).ok();
    let before = snapshot(&env);
    // stdin closed, and stdin an open pipe nobody writes to: neither may block.
    for stdin in [Stdio::null(), Stdio::piped()] {
        let start = Instant::now();
        let mut child = env
            .cmd(&["prune", "work", "--force"])
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "prune --force waited for input");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(start.elapsed() < Duration::from_secs(20));
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--force would discard work of work"), "{err}");
        assert!(err.contains("hint:") && err.contains("--yes"), "{err}");
    }
    assert_eq!(before, snapshot(&env));
}

#[test]
fn forced_removal_logs_every_discarded_tip_and_the_work_comes_back() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["lost"]);
    env.run(&["spawn"]).ok();
    let wt = env.worktree("lost");
    let tip = env.git(&["rev-parse", "agent/lost"]).trim().to_string();
    std::fs::write(wt.join("draft.txt"), "unsaved draft\n").unwrap();
    std::fs::write(wt.join("README.md"), "edited\n").unwrap();

    let run = env.run(&["prune", "lost", "--force", "-y"]).ok();
    assert!(
        run.stdout().contains(&format!(
            "pruned lost (forced): removed .worktrees/lost, deleted branch agent/lost (was {tip})"
        )),
        "{}",
        run.stdout()
    );
    let err = run.stderr();
    assert!(
        err.contains(&format!(
            "discarded 1 commit of agent/lost: git branch agent/lost {tip} brings it back"
        )),
        "{err}"
    );
    assert!(
        err.contains("discarded 2 uncommitted changes in .worktrees/lost"),
        "{err}"
    );
    assert!(!has_branch(&env, "lost") && !wt.exists());

    // pruned.log: `time id branch sha`, one line per discarded tip.
    let log = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    let lines: Vec<Vec<&str>> = log.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{log}");
    for l in &lines {
        assert_eq!(l.len(), 4, "{log}");
        assert!(l[0].ends_with('Z'));
        assert_eq!((l[1], l[2]), ("lost", "agent/lost"));
    }
    assert_eq!(lines[0][3], tip);
    // Both come back with plain git.
    env.git(&["branch", "back", lines[0][3]]);
    assert_eq!(env.git(&["show", "back:out-lost.txt"]), "Do lost\n");
    env.git(&["branch", "saved", lines[1][3]]);
    assert_eq!(env.git(&["show", "saved:draft.txt"]), "unsaved draft\n");
    assert_eq!(env.git(&["show", "saved:README.md"]), "edited\n");
    assert_eq!(env.git(&["rev-parse", "saved~1"]).trim(), tip);
    wait_trash_empty(&env);
}

#[test]
fn a_running_agent_is_never_removed_even_with_force() {
    let env = Env::new();
    env.agent(
        "waiter",
        "echo started > started.txt\ntouch \"$GIT_AGENTS_WORKTREE.up\"\nwhile [ ! -e \"$GIT_AGENTS_WORKTREE.go\" ]; do sleep 0.05; done",
    );
    let mut spawn = env
        .cmd(&["spawn", "busy", "-p", "Work", "--command", "waiter"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = env.repo.join(".worktrees/busy.up");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !up.exists() {
        assert!(Instant::now() < deadline, "agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    for args in [
        vec!["prune", "busy", "--force", "--yes"],
        vec!["prune", "--all", "--force", "--yes"],
    ] {
        let run = env.run(&args).code_is(1);
        assert!(
            run.stderr()
                .contains("kept busy: its agent is still running (pid "),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(!run.stderr().contains("hint:"), "{}", run.stderr());
    }
    // Not even picked by the default selection.
    let run = env.run(&["prune", "--failed"]).ok();
    assert!(!run.stdout().contains("busy"));
    assert!(env.worktree("busy").join("started.txt").is_file());
    assert!(has_branch(&env, "busy"));
    std::fs::write(env.repo.join(".worktrees/busy.go"), "").unwrap();
    assert!(spawn.wait().unwrap().success());
}

#[test]
fn a_worktree_in_use_or_locked_is_kept_without_force() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["shell", "locked"]);
    env.run(&["spawn"]).ok();
    for id in ["shell", "locked"] {
        env.git(&["merge", "-q", "--no-ff", "-m", id, &format!("agent/{id}")]);
    }
    // Someone's shell sits in the worktree.
    let mut user = std::process::Command::new("sleep")
        .arg("30")
        .current_dir(env.worktree("shell"))
        .spawn()
        .unwrap();
    env.git(&[
        "worktree",
        "lock",
        "--reason",
        "on a USB disk",
        env.worktree("locked").to_str().unwrap(),
    ]);
    let run = env.run(&["prune"]).code_is(1);
    let err = run.stderr();
    if Path::new("/proc/self/cwd").exists() {
        assert!(
            err.contains(&format!(
                "kept shell: .worktrees/shell is in use by sleep (pid {})",
                user.id()
            )),
            "{err}"
        );
    }
    assert!(
        err.contains("kept locked: .worktrees/locked is locked (git worktree lock): on a USB disk"),
        "{err}"
    );
    assert!(env.worktree("locked").is_dir());
    let _ = user.kill();
    let _ = user.wait();
    let run = env.run(&["prune", "--force", "-y"]).ok();
    assert!(
        run.stdout().contains("pruned locked (forced)"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("pruned shell (work in main)"),
        "{}",
        run.stdout()
    );
    assert_eq!(env.branches(), vec!["main"]);
}

#[test]
fn a_hand_deleted_worktree_is_pruned_and_its_unmerged_branch_kept() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["merged", "unmerged"]);
    env.run(&["spawn"]).ok();
    env.git(&["merge", "-q", "--no-ff", "-m", "m", "agent/merged"]);
    for id in ["merged", "unmerged"] {
        std::fs::remove_dir_all(env.worktree(id)).unwrap();
        assert!(registered(&env, id), "{id}: git still lists it");
    }

    let dry = env.run(&["prune", "-n", "merged", "unmerged"]).code_is(1);
    assert_eq!(
        dry.stdout(),
        format!(
            "would prune merged (work in main): clear stale metadata of .worktrees/merged, delete branch agent/merged (at {})\n\
             would keep unmerged: agent/unmerged has 1 commit not in main\n\
             would clear stale worktree metadata of .worktrees/unmerged\n",
            env.git(&["rev-parse", "--short", "agent/merged"]).trim()
        )
    );
    assert!(registered(&env, "merged") && registered(&env, "unmerged"));

    let run = env.run(&["prune", "merged", "unmerged"]).code_is(1);
    let out = run.stdout();
    assert!(
        out.contains("pruned merged (work in main): cleared stale metadata of .worktrees/merged, deleted branch agent/merged"),
        "{out}"
    );
    assert!(
        run.stderr()
            .contains("kept unmerged: agent/unmerged has 1 commit not in main"),
        "{}",
        run.stderr()
    );
    assert!(!has_branch(&env, "merged") && has_branch(&env, "unmerged"));
    // Stale metadata is cleared for both, kept branch or not.
    assert!(!registered(&env, "merged") && !registered(&env, "unmerged"));
    assert!(
        out.contains("cleared stale worktree metadata of .worktrees/unmerged"),
        "{out}"
    );
    assert_eq!(env.record("unmerged")["pruned"], false);

    let tip = env.git(&["rev-parse", "agent/unmerged"]).trim().to_string();
    let run = env.run(&["prune", "unmerged", "--force", "--yes"]).ok();
    assert!(
        run.stdout()
            .contains("pruned unmerged (forced): deleted branch agent/unmerged")
    );
    let log = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    assert!(
        log.trim_end()
            .ends_with(&format!("unmerged agent/unmerged {tip}")),
        "{log}"
    );
}

#[test]
fn a_branch_checked_out_elsewhere_is_never_deleted() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["here"]);
    env.run(&["spawn"]).ok();
    env.git(&["merge", "-q", "--no-ff", "-m", "m", "agent/here"]);
    std::fs::remove_dir_all(env.worktree("here")).unwrap();
    env.git(&["worktree", "prune"]);
    env.git(&["checkout", "-q", "agent/here"]);
    let run = env.run(&["prune", "here", "--force", "-y"]).code_is(1);
    assert!(
        run.stderr()
            .contains("kept here: agent/here is checked out in "),
        "{}",
        run.stderr()
    );
    assert!(has_branch(&env, "here"));
}

#[test]
fn tombstones_keep_plain_spawn_from_running_a_pruned_task_again() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["once"]);
    env.run(&["spawn"]).ok();
    env.git(&["merge", "-q", "--no-ff", "-m", "m", "agent/once"]);
    env.run(&["prune"]).ok();
    let rec = env.record("once");
    assert_eq!(
        (rec["pruned"].clone(), rec["state"].clone()),
        (true.into(), "succeeded".into())
    );
    let run = env.run(&["spawn"]).ok();
    assert!(
        run.stderr().contains("nothing to spawn"),
        "{}",
        run.stderr()
    );
    assert!(!env.worktree("once").exists());
    // Asked for by id, it runs again (with new work, or it would end empty).
    env.agent("fake-agent", r#"echo again > "again-$GIT_AGENTS_TASK.txt""#);
    env.run(&["spawn", "once"]).ok();
    assert!(env.worktree("once").join("again-once.txt").is_file());
    assert_eq!(env.record("once")["pruned"], false);
}

#[test]
fn dry_run_prints_the_plan_and_changes_nothing() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["merged", "open"]);
    env.run(&["spawn"]).ok();
    env.git(&["merge", "-q", "--no-ff", "-m", "m", "agent/merged"]);
    std::fs::write(env.worktree("open").join("wip.txt"), "wip\n").unwrap();
    let tip = env.git(&["rev-parse", "agent/open"]).trim().to_string();
    let before = snapshot(&env);

    let run = env.run(&["prune", "--dry-run", "--all"]).code_is(1);
    let out = run.stdout();
    assert!(
        out.contains("would prune merged (work in main): remove .worktrees/merged, delete branch agent/merged (at "),
        "{out}"
    );
    assert!(
        out.contains("would keep open: agent/open has 1 commit not in main; .worktrees/open has 1 uncommitted change (wip.txt)"),
        "{out}"
    );
    // With --force it shows what would be discarded; no confirmation is needed to look.
    let run = env.run(&["prune", "-n", "--all", "--force"]).ok();
    let out = run.stdout();
    assert!(out.contains("would prune open (forced)"), "{out}");
    assert!(
        out.contains(&format!(
            "would discard 1 commit of agent/open (at {tip}, logged to pruned.log)"
        )),
        "{out}"
    );
    assert!(
        out.contains("would discard 1 uncommitted change in .worktrees/open"),
        "{out}"
    );
    assert_eq!(before, snapshot(&env));
    assert!(!env.agents_dir().join("pruned.log").exists());
}

#[test]
fn orphans_and_leftover_trash_are_cleaned_up() {
    let env = Env::new();
    // A branch and a worktree under the prefix that no record claims (a crash, say).
    env.git(&["branch", "agent/stray"]);
    env.git(&[
        "worktree",
        "add",
        "-q",
        "-b",
        "agent/lonely",
        env.worktree("lonely").to_str().unwrap(),
    ]);
    env.git(&["branch", "agent/ahead"]);
    env.git(&["commit", "-q", "--allow-empty", "-m", "on main"]);
    env.git_in(&env.repo, &["checkout", "-q", "agent/ahead"]);
    env.write("own.txt", "own work\n");
    env.git(&["add", "own.txt"]);
    env.git(&["commit", "-q", "-m", "own work"]);
    env.git(&["checkout", "-q", "main"]);
    // Trash an earlier prune left behind (its deleter died).
    let stale = env.agents_dir().join("trash/1-1");
    std::fs::create_dir_all(stale.join("old/deep")).unwrap();
    std::fs::write(stale.join("old/deep/file"), "x").unwrap();
    std::fs::write(env.agents_dir().join("trash/1-1.pid"), "999999999 1\n").unwrap();

    let run = env.run(&["prune"]).ok();
    let out = run.stdout();
    assert!(
        out.contains("pruned stray (work in main): deleted branch agent/stray"),
        "{out}"
    );
    assert!(
        out.contains(
            "pruned lonely (work in main): removed .worktrees/lonely, deleted branch agent/lonely"
        ),
        "{out}"
    );
    assert!(!out.contains("ahead"), "{out}");
    assert_eq!(env.branches(), vec!["agent/ahead", "main"]);
    wait_trash_empty(&env);
}

#[test]
fn a_task_whose_agent_died_counts_as_interrupted() {
    let env = Env::new();
    env.agent("idle", "echo nothing to do");
    env.run(&[
        "spawn",
        "crashed",
        "-p",
        "x",
        "--command",
        "idle",
        "--keep-empty",
    ])
    .ok();
    // What a `kill -9` of spawn leaves: running, with a driver that no longer exists.
    let path = env.agents_dir().join("tasks/crashed.json");
    let mut rec = env.record("crashed");
    rec["state"] = "running".into();
    rec["owner"] = serde_json::json!({"pid": 999_999_999u32, "start": 1});
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();

    let run = env.run(&["prune"]).ok();
    assert!(!run.stdout().contains("crashed"), "{}", run.stdout());
    let run = env.run(&["prune", "--failed"]).ok();
    assert!(
        run.stdout()
            .contains("pruned crashed (interrupted): removed .worktrees/crashed"),
        "{}",
        run.stdout()
    );
}

#[test]
fn a_branch_that_conflicts_with_base_is_not_in_base() {
    let env = Env::new();
    env.agent("editor", "echo agent > README.md");
    env.run(&["spawn", "edit", "-p", "x", "--command", "editor"])
        .ok();
    env.write("README.md", "someone else\n");
    env.git(&["commit", "-q", "-am", "conflicting change"]);
    let run = env.run(&["prune", "--all"]).code_is(1);
    assert!(
        run.stderr()
            .contains("kept edit: agent/edit has 1 commit not in main"),
        "{}",
        run.stderr()
    );
    // The same change made on main: merging the branch adds nothing.
    env.write("README.md", "agent\n");
    env.git(&["commit", "-q", "-am", "same change"]);
    let run = env.run(&["prune"]).ok();
    assert!(
        run.stdout()
            .contains("pruned edit (changes already in main)"),
        "{}",
        run.stdout()
    );
}

#[test]
fn commits_on_a_detached_head_in_the_worktree_are_not_lost() {
    let env = Env::new();
    writer(&env);
    manifest(&env, &["detached"]);
    env.run(&["spawn"]).ok();
    env.git(&["merge", "-q", "--no-ff", "-m", "m", "agent/detached"]);
    // The branch is merged, but the worktree moved on without it.
    let wt = env.worktree("detached");
    env.git_in(&wt, &["checkout", "-q", "--detach"]);
    std::fs::write(wt.join("extra.txt"), "extra\n").unwrap();
    env.git_in(&wt, &["add", "extra.txt"]);
    env.git_in(&wt, &["commit", "-q", "-m", "extra"]);
    let head = env.git_in(&wt, &["rev-parse", "HEAD"]).trim().to_string();

    let run = env.run(&["prune"]).ok();
    assert!(!run.stdout().contains("detached"), "{}", run.stdout());
    let run = env.run(&["prune", "detached"]).code_is(1);
    assert!(
        run.stderr()
            .contains("kept detached: the HEAD of .worktrees/detached has 1 commit not in main"),
        "{}",
        run.stderr()
    );
    env.run(&["prune", "detached", "--force", "--yes"]).ok();
    let log = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    assert!(log.contains(&head), "{log}");
    env.git(&["branch", "back", &head]);
    assert_eq!(env.git(&["show", "back:extra.txt"]), "extra\n");
}
