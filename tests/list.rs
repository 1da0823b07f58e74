//! `git agents list` and `show` on real repositories: states read from reality, facts
//! that agree with git's own, and the human table.

mod common;

use common::{Env, tasks};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// A fake agent that writes its prompt (first argument) into a file named after the task.
fn writer(env: &Env) {
    env.agent(
        "fake-agent",
        r#"printf '%s\n' "$1" > "out-$GIT_AGENTS_TASK.txt"
echo "wrote out-$GIT_AGENTS_TASK.txt""#,
    );
}

fn list(env: &Env, args: &[&str]) -> BTreeMap<String, Value> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    tasks(&env.run(&all).ok().json())
}

fn edit_record(env: &Env, id: &str, f: impl FnOnce(&mut Value)) {
    let path = env.agents_dir().join("tasks").join(format!("{id}.json"));
    let mut rec = env.record(id);
    f(&mut rec);
    std::fs::write(path, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
}

fn lines(s: &str) -> usize {
    s.lines().filter(|l| !l.is_empty()).count()
}

#[test]
fn facts_agree_with_git_and_states_cover_the_manifest() {
    let env = Env::new();
    writer(&env);
    env.agent("broken", "echo half > half.txt\nexit 3");
    env.write(
        "agents.yaml",
        "command: [fake-agent, \"{prompt}\"]\ntasks:\n  - {id: ok, prompt: Do ok}\n  - {id: bad, prompt: Do bad, command: broken}\n  - {id: later, prompt: Not yet}\n",
    );
    env.run(&["spawn", "ok", "bad"]).code_is(1);

    // Every kind of uncommitted change in `ok`, and a new commit on main.
    let wt = env.worktree("ok");
    std::fs::write(wt.join("README.md"), "changed\n").unwrap();
    std::fs::write(wt.join("staged.txt"), "new\n").unwrap();
    env.git_in(&wt, &["add", "staged.txt"]);
    std::fs::write(wt.join("out-ok.txt"), "staged then changed\n").unwrap();
    env.git_in(&wt, &["add", "out-ok.txt"]);
    std::fs::write(wt.join("out-ok.txt"), "changed again\n").unwrap();
    std::fs::create_dir_all(wt.join("dir/sub")).unwrap();
    std::fs::write(wt.join("dir/sub/x.txt"), "x\n").unwrap();
    std::fs::write(wt.join("dir/y.txt"), "y\n").unwrap();
    std::fs::write(wt.join("ignored.log"), "noise\n").unwrap();
    std::fs::write(wt.join(".gitignore"), "*.log\n").unwrap();
    env.write("main.txt", "main moves on\n");
    env.git(&["add", "main.txt"]);
    env.git(&["commit", "-q", "-m", "main moves"]);

    let t = list(&env, &[]);
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        ["bad", "later", "ok"],
        "{t:?}"
    );
    let ok = &t["ok"];
    assert_eq!(ok["state"], "succeeded");
    let porcelain = env.git_in(&wt, &["status", "--porcelain", "--untracked-files=all"]);
    assert_eq!(lines(&porcelain), 6, "{porcelain}");
    assert_eq!(ok["dirty"], 6, "git says:\n{porcelain}");
    let counts = env.git(&["rev-list", "--left-right", "--count", "agent/ok...main"]);
    assert_eq!(counts.trim(), "1\t1");
    assert_eq!(
        (ok["ahead"].clone(), ok["behind"].clone()),
        (1.into(), 1.into())
    );
    assert_eq!(
        ok["head"],
        env.git_in(&wt, &["rev-parse", "HEAD"]).trim(),
        "head is the worktree's HEAD"
    );
    assert_eq!(ok["worktree"], wt.to_str().unwrap());
    assert_eq!(ok["attempts"], 1);

    assert_eq!(t["bad"]["state"], "failed");
    assert_eq!(t["bad"]["exit_code"], 3);
    assert_eq!(t["bad"]["dirty"], 0);

    let later = &t["later"];
    assert_eq!(later["state"], "pending");
    assert_eq!(later["branch"], Value::Null);
    assert_eq!(later["worktree"], Value::Null);
    assert_eq!(later["base"], "main");

    // A clean worktree reads 0, and `ls` is the same command.
    let t = tasks(&env.run(&["ls", "bad", "--json"]).ok().json());
    assert_eq!(t.len(), 1);
    assert_eq!(t["bad"]["dirty"], 0);
}

#[test]
fn a_kill_9_of_spawn_reads_interrupted() {
    let env = Env::new();
    env.agent(
        "forever",
        "echo $$ > \"$GIT_AGENTS_WORKTREE.pid\"\nexec sleep 30",
    );
    let mut spawn = env
        .cmd(&[
            "spawn",
            "long",
            "-p",
            "Take your time",
            "--command",
            "forever",
        ])
        .spawn()
        .unwrap();
    let pid_file = env.repo.join(".worktrees/long.pid");
    let agent = common::read_pid(&pid_file);
    assert_eq!(list(&env, &[])["long"]["state"], "running");

    unsafe { libc::kill(spawn.id() as i32, libc::SIGKILL) };
    spawn.wait().unwrap();
    let t = list(&env, &[]);
    // The agent outlives its supervisor (own process group); the task is still
    // interrupted: nobody drives it any more.
    assert_eq!(t["long"]["state"], "interrupted");
    assert_eq!(
        env.record("long")["state"],
        "running",
        "list changes nothing"
    );
    let show = env.run(&["show", "long"]).ok().stdout();
    assert!(show.contains("interrupted (recorded as running)"), "{show}");

    unsafe { libc::kill(-(agent as i32), libc::SIGKILL) };
}

#[test]
fn a_removed_worktree_and_unrecorded_ones_read_orphaned() {
    let env = Env::new();
    writer(&env);
    env.run(&[
        "spawn",
        "gone",
        "-p",
        "Vanish",
        "--command",
        "fake-agent {prompt}",
    ])
    .ok();
    std::fs::remove_dir_all(env.worktree("gone")).unwrap();
    // A worktree under the worktree dir and a branch with the prefix, no record.
    env.git(&["worktree", "add", "-q", ".worktrees/stray", "-b", "feature"]);
    env.git(&["branch", "agent/lost", "main"]);
    // Not ours: a file, and a name that is not a task id.
    std::fs::write(env.repo.join(".worktrees/notes.txt"), "x").unwrap();
    std::fs::create_dir_all(env.repo.join(".worktrees/Not An Id")).unwrap();

    let t = list(&env, &[]);
    assert_eq!(
        t.keys().collect::<Vec<_>>(),
        ["gone", "lost", "stray"],
        "{t:?}"
    );
    assert_eq!(t["gone"]["state"], "orphaned");
    assert_eq!(t["gone"]["dirty"], Value::Null);
    assert_eq!(t["gone"]["ahead"], 1, "the branch is still there");
    assert_eq!(t["stray"]["state"], "orphaned");
    assert_eq!(t["stray"]["branch"], "feature");
    assert_eq!(t["stray"]["dirty"], 0);
    assert_eq!(
        t["stray"]["worktree"],
        env.worktree("stray").to_str().unwrap()
    );
    assert_eq!(t["lost"]["state"], "orphaned");
    assert_eq!(t["lost"]["branch"], "agent/lost");
    assert_eq!(t["lost"]["worktree"], Value::Null);

    let show = env.run(&["show", "gone"]).ok().stdout();
    assert!(show.contains("(missing)"), "{show}");
    assert!(show.contains("its worktree is gone"), "{show}");
    let show = env.run(&["show", "lost"]).ok().stdout();
    assert!(show.contains("no git-agents record"), "{show}");
    let show = env.run(&["show", "stray", "--json"]).ok().json();
    assert_eq!(show["tasks"][0]["state"], "orphaned");
    assert_eq!(show["tasks"][0]["history"], serde_json::json!([]));
}

#[test]
fn a_branch_contained_in_base_reads_merged() {
    let env = Env::new();
    writer(&env);
    env.run(&[
        "spawn",
        "done",
        "-p",
        "Finish",
        "--command",
        "fake-agent {prompt}",
    ])
    .ok();
    assert_eq!(list(&env, &[])["done"]["state"], "succeeded");
    env.git(&["merge", "-q", "--no-ff", "-m", "merge done", "agent/done"]);
    let t = list(&env, &[]);
    assert_eq!(t["done"]["state"], "merged");
    assert_eq!(t["done"]["ahead"], 0);
    assert_eq!(t["done"]["behind"], 1);
    // Even with its worktree gone, merged work is not an orphan.
    std::fs::remove_dir_all(env.worktree("done")).unwrap();
    assert_eq!(list(&env, &[])["done"]["state"], "merged");
}

#[test]
fn tombstones_are_hidden_unless_asked_for_or_left_behind() {
    let env = Env::new();
    writer(&env);
    for id in ["old", "half"] {
        env.run(&[
            "spawn",
            id,
            "-p",
            "Work",
            "--command",
            "fake-agent {prompt}",
        ])
        .ok();
        edit_record(&env, id, |r| r["pruned"] = true.into());
    }
    // `old` was pruned for real; `half` kept its worktree and branch.
    env.git(&["worktree", "remove", "--force", ".worktrees/old"]);
    env.git(&["branch", "-D", "agent/old"]);

    let t = list(&env, &[]);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["half"]);
    assert_eq!(t["half"]["state"], "orphaned");
    let t = list(&env, &["--all"]);
    assert_eq!(t["old"]["state"], "succeeded");
    assert_eq!(t["old"]["pruned"], true);
    let t = list(&env, &["old"]);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["old"]);
    let table = env.run(&["list", "--all"]).ok().stdout();
    assert!(table.contains("(pruned)"), "{table}");
}

#[test]
fn a_worktree_dir_outside_the_repository() {
    let env = Env::new();
    writer(&env);
    env.git(&["config", "agents.worktreeDir", "../{repo}.agents"]);
    env.run(&[
        "spawn",
        "out",
        "-p",
        "Elsewhere",
        "--command",
        "fake-agent {prompt}",
    ])
    .ok();
    let dir = env.root.join("repo.agents");
    std::fs::create_dir_all(dir.join("leftover")).unwrap();
    std::fs::write(dir.join("out/new.txt"), "untracked\n").unwrap();

    let t = list(&env, &[]);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["leftover", "out"]);
    assert_eq!(t["out"]["state"], "succeeded");
    assert_eq!(t["out"]["worktree"], dir.join("out").to_str().unwrap());
    assert_eq!(t["out"]["dirty"], 1);
    assert_eq!(t["leftover"]["state"], "orphaned");
    // Run from inside the agent's worktree: same answer.
    let inside = dir.join("out");
    let t = tasks(
        &env.run(&["-C", inside.to_str().unwrap(), "list", "--json"])
            .ok()
            .json(),
    );
    assert_eq!(t["out"]["dirty"], 1);
    // The PATH column: relative below the current directory, absolute elsewhere.
    let table = env.run(&["list", "out"]).ok().stdout();
    let row = table.lines().nth(1).unwrap();
    assert!(row.ends_with(&format!(" {}", inside.display())), "{table}");
}

#[test]
fn unknown_or_invalid_ids_are_usage_errors() {
    let env = Env::new();
    writer(&env);
    env.run(&[
        "spawn",
        "one",
        "-p",
        "One",
        "--command",
        "fake-agent {prompt}",
    ])
    .ok();
    let before = env.record("one");
    let run = env.run(&["list", "nope"]).code_is(2);
    assert!(
        run.stderr().contains("no task \"nope\""),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("hint:"), "{}", run.stderr());
    assert_eq!(run.stdout(), "");
    let run = env.run(&["list", "Bad/Id"]).code_is(2);
    assert!(run.stderr().contains("an id is"), "{}", run.stderr());
    env.run(&["show", "nope"]).code_is(2);
    env.run(&["show", "../x", "--json"]).code_is(2);
    env.run(&["show"]).code_is(2);
    assert_eq!(env.record("one"), before);
    // Outside a repository.
    let run = env
        .run(&["-C", env.home.to_str().unwrap(), "list"])
        .code_is(2);
    assert!(
        run.stderr().contains("not a git repository"),
        "{}",
        run.stderr()
    );
}

#[test]
fn nothing_to_list() {
    let env = Env::new();
    let run = env.run(&["list"]).ok();
    assert_eq!(run.stdout(), "");
    assert!(run.stderr().contains("no agent tasks"), "{}", run.stderr());
    assert_eq!(list(&env, &[]).len(), 0);
}

#[test]
fn show_tells_attempts_check_commits_and_log() {
    let env = Env::new();
    env.agent(
        "learner",
        r#"if grep -q "hint-42" "$GIT_AGENTS_NOTES" 2>/dev/null; then
  echo fixed > fixed.txt
  echo "second try worked"
else
  echo "hint-42: config missing"
  exit 3
fi"#,
    );
    env.run(&[
        "spawn",
        "learn",
        "-p",
        "Learn the lesson\nsecond line",
        "--command",
        "learner",
        "--retries",
        "1",
        "--check",
        "test -f fixed.txt",
    ])
    .ok();

    let doc = env.run(&["show", "learn", "--json"]).ok().json();
    assert_eq!(doc["version"], 1);
    let t = &doc["tasks"][0];
    assert_eq!(t["id"], "learn");
    assert_eq!(t["state"], "succeeded");
    assert_eq!(t["attempts"], 2);
    assert_eq!(t["check"], "passed");
    assert_eq!(t["check_command"], "test -f fixed.txt");
    let history = t["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["state"], "failed");
    assert_eq!(history[0]["exit_code"], 3);
    assert_eq!(history[0]["detail"], "agent exited 3");
    assert_eq!(history[1]["state"], "succeeded");
    let sha = env.git(&["rev-parse", "agent/learn"]);
    assert_eq!(
        t["commits"],
        serde_json::json!([{ "sha": sha.trim(), "subject": "Learn the lesson" }])
    );
    let tail: Vec<&str> = t["log_tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(tail.contains(&"second try worked"), "{tail:?}");
    assert_eq!(t["prompt"], "Learn the lesson\nsecond line");

    let text = env.run(&["show", "learn"]).ok().stdout();
    for want in [
        "state:",
        "succeeded",
        "agent/learn (1 ahead, 0 behind main)",
        "passed (test -f fixed.txt)",
        "Attempts",
        "agent exited 3",
        "Commits over main (1)",
        "Learn the lesson",
        "second try worked",
    ] {
        assert!(text.contains(want), "{want:?} missing in\n{text}");
    }
    assert!(text.contains(&sha[..10]), "{text}");
}

/// `list` and `show` read through gix: a `git` on the PATH that records its calls
/// is never called, however many worktrees there are.
#[test]
fn no_git_process_is_started() {
    let env = Env::new();
    writer(&env);
    env.write(
        "agents.yaml",
        "command: [fake-agent, \"{prompt}\"]\ntasks:\n  - {id: a, prompt: A}\n  - {id: b, prompt: B}\n  - {id: c, prompt: C}\n",
    );
    env.run(&["spawn", "-j", "3"]).ok();
    std::fs::write(env.worktree("b").join("extra.txt"), "x").unwrap();
    let real = ["/usr/local/bin/git", "/usr/bin/git", "/bin/git"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("git installed");
    let calls = env.root.join("git-calls");
    env.agent(
        "git",
        &format!("echo \"$@\" >> '{}'\nexec {real} \"$@\"", calls.display()),
    );
    let t = list(&env, &[]);
    assert_eq!(t["b"]["dirty"], 1);
    env.run(&["show", "b"]).ok();
    env.run(&["list"]).ok();
    assert!(
        !calls.exists(),
        "git was run: {}",
        std::fs::read_to_string(&calls).unwrap_or_default()
    );
    // The wrapper does record what runs git (the test can fail).
    env.git(&["status"]);
    assert!(calls.exists());
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let env = Env::new();
    writer(&env);
    env.run(&["spawn", "c", "-p", "C", "--command", "fake-agent {prompt}"])
        .ok();
    let plain = env.run(&["list"]).ok().stdout();
    assert!(!plain.contains('\x1b'), "{plain:?}");
    let coloured = env.run(&["list", "--color", "always"]).ok().stdout();
    assert!(
        coloured.contains("\x1b[32msucceeded\x1b[0m"),
        "{coloured:?}"
    );
    let mut cmd = env.cmd(&["list", "--color", "auto"]);
    cmd.env("NO_COLOR", "1");
    let out = cmd.output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains('\x1b'));
}

#[test]
fn human_table() {
    let env = Env::new();
    writer(&env);
    env.agent("broken", "exit 2");
    env.write(
        "agents.yaml",
        "command: [fake-agent, \"{prompt}\"]\ntasks:\n  - {id: alpha, prompt: A}\n  - {id: beta-long-name, prompt: B, command: broken}\n  - {id: gamma, prompt: G}\n  - {id: pending, prompt: P}\n",
    );
    env.run(&[
        "spawn",
        "alpha",
        "beta-long-name",
        "gamma",
        "--check",
        "true",
    ])
    .code_is(1);
    std::fs::write(env.worktree("alpha").join("wip.txt"), "x").unwrap();
    std::fs::remove_dir_all(env.worktree("gamma")).unwrap();
    env.git(&["branch", "agent/stray", "main"]);
    env.write("more.txt", "more\n");
    env.git(&["add", "more.txt"]);
    env.git(&["commit", "-q", "-m", "more"]);
    // Ages are measured from the records' creation: pin them three hours back.
    let three_hours_ago = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        - (3 * 3600 + 20) * 1000;
    for id in ["alpha", "beta-long-name", "gamma"] {
        edit_record(&env, id, |r| r["created_at"] = three_hours_ago.into());
    }
    let table = env.run(&["list"]).ok().stdout();
    insta::assert_snapshot!(table, @r"
    ID              STATE      BRANCH                COMMITS  DIRTY  CHECK   AGE    COST  PATH
    alpha           succeeded  agent/alpha           +1 -1    1      passed  3h00m  -     .worktrees/alpha
    beta-long-name  failed     agent/beta-long-name  +0 -1    0      -       3h00m  -     .worktrees/beta-long-name
    gamma           orphaned   agent/gamma           +1 -1    -      passed  3h00m  -     -
    pending         pending    -                     -        -      -       -      -     -
    stray           orphaned   agent/stray           +0 -1    -      -       -      -     -
    ");
}

/// The DIRTY count equals the number of lines of
/// `git status --porcelain --untracked-files=all`, change by change.
#[test]
fn dirty_counts_match_git_status_case_by_case() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let env = Env::new();
    for (path, text) in [
        ("src/a.txt", "a\n"),
        ("src/deep/b.txt", "b\n"),
        ("src/deep/c.txt", "c\n"),
        ("empty.txt", ""),
        ("script.sh", "#!/bin/sh\n"),
        (".gitignore", "*.log\nbuild/\nvendor/\n"),
        ("vendor/keep.txt", "kept\n"),
    ] {
        env.write(path, text);
    }
    symlink("src/a.txt", env.repo.join("link")).unwrap();
    env.git(&["add", "-A"]);
    env.git(&["add", "-f", "vendor/keep.txt"]);
    env.git(&["commit", "-q", "-m", "layout"]);
    env.git(&["branch", "other"]);

    type Change = fn(&Env, &std::path::Path);
    let cases: Vec<(&str, Change)> = vec![
        ("clean", |_, _| {}),
        ("modified", |_, w| {
            std::fs::write(w.join("src/a.txt"), "A\n").unwrap()
        }),
        ("deleted", |_, w| {
            std::fs::remove_file(w.join("src/deep/b.txt")).unwrap()
        }),
        ("dir-deleted", |_, w| {
            std::fs::remove_dir_all(w.join("src")).unwrap()
        }),
        ("untracked", |_, w| {
            std::fs::write(w.join("new.txt"), "n").unwrap();
            std::fs::write(w.join("src/deep/new.txt"), "n").unwrap();
            std::fs::create_dir_all(w.join("fresh/inner")).unwrap();
            std::fs::write(w.join("fresh/one"), "1").unwrap();
            std::fs::write(w.join("fresh/inner/two"), "2").unwrap();
            std::fs::create_dir_all(w.join("hollow/er")).unwrap();
            std::fs::write(w.join("with space é.txt"), "s").unwrap();
        }),
        ("ignored", |_, w| {
            std::fs::write(w.join("x.log"), "l").unwrap();
            std::fs::write(w.join("src/y.log"), "l").unwrap();
            std::fs::create_dir_all(w.join("build/o")).unwrap();
            std::fs::write(w.join("build/o/a.o"), "o").unwrap();
            std::fs::write(w.join("vendor/new.txt"), "v").unwrap();
            std::fs::create_dir_all(w.join("only-ignored")).unwrap();
            std::fs::write(w.join("only-ignored/z.log"), "l").unwrap();
        }),
        ("chmod", |_, w| {
            std::fs::set_permissions(w.join("src/a.txt"), std::fs::Permissions::from_mode(0o755))
                .unwrap()
        }),
        ("file-to-symlink", |_, w| {
            std::fs::remove_file(w.join("src/a.txt")).unwrap();
            symlink("deep/b.txt", w.join("src/a.txt")).unwrap();
        }),
        ("symlink-to-file", |_, w| {
            std::fs::remove_file(w.join("link")).unwrap();
            std::fs::write(w.join("link"), "src/a.txt").unwrap();
        }),
        ("dir-to-file", |_, w| {
            std::fs::remove_dir_all(w.join("src/deep")).unwrap();
            std::fs::write(w.join("src/deep"), "now a file").unwrap();
        }),
        ("file-to-dir", |_, w| {
            std::fs::remove_file(w.join("empty.txt")).unwrap();
            std::fs::create_dir_all(w.join("empty.txt")).unwrap();
            std::fs::write(w.join("empty.txt/inside"), "i").unwrap();
        }),
        ("staged", |e, w| {
            std::fs::write(w.join("staged.txt"), "s").unwrap();
            std::fs::write(w.join("src/deep/c.txt"), "C staged\n").unwrap();
            e.git_in(w, &["add", "staged.txt", "src/deep/c.txt"]);
            std::fs::write(w.join("src/deep/c.txt"), "C staged, then changed\n").unwrap();
            e.git_in(w, &["rm", "-q", "--cached", "src/deep/b.txt"]);
        }),
        ("nested-repo", |e, w| {
            let n = w.join("nested");
            std::fs::create_dir_all(&n).unwrap();
            e.git_in(&n, &["init", "-q"]);
            std::fs::write(n.join("f"), "f").unwrap();
        }),
        ("intent-to-add", |e, w| {
            std::fs::write(w.join("later.txt"), "l").unwrap();
            e.git_in(w, &["add", "-N", "later.txt"]);
        }),
        ("conflict", |e, w| {
            std::fs::write(w.join("src/a.txt"), "ours\n").unwrap();
            e.git_in(w, &["commit", "-q", "-am", "ours"]);
            let mut cmd = std::process::Command::new("git");
            e.apply(&mut cmd);
            let out = cmd
                .current_dir(w)
                .args(["merge", "-q", "theirs"])
                .output()
                .unwrap();
            assert!(!out.status.success(), "the merge must conflict");
        }),
    ];
    // A branch the conflict case merges.
    env.git(&["checkout", "-q", "-b", "theirs"]);
    env.write("src/a.txt", "theirs\n");
    env.git(&["commit", "-q", "-am", "theirs"]);
    env.git(&["checkout", "-q", "main"]);

    let mut dirs = Vec::new();
    for (name, _) in &cases {
        let wt = env.worktree(name);
        env.git(&[
            "worktree",
            "add",
            "-q",
            wt.to_str().unwrap(),
            "-b",
            &format!("case-{name}"),
            "main",
        ]);
        dirs.push(wt);
    }
    // Past the racy-git second, then let git refresh each index, as it would in use:
    // unchanged files are then judged by their stat data alone.
    std::thread::sleep(Duration::from_millis(1100));
    for wt in &dirs {
        env.git_in(wt, &["status", "--porcelain"]);
    }
    for ((_, change), wt) in cases.iter().zip(&dirs) {
        change(&env, wt);
    }

    let t = list(&env, &[]);
    let mut wrong = Vec::new();
    for ((name, _), wt) in cases.iter().zip(&dirs) {
        let porcelain = env.git_in(wt, &["status", "--porcelain", "--untracked-files=all"]);
        let want = lines(&porcelain);
        if t[*name]["dirty"] != want {
            wrong.push(format!(
                "{name}: list says {}, git says {want}:\n{porcelain}",
                t[*name]["dirty"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
