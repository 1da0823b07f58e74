//! Filesystem safety (issue 12): copies never reach outside the new worktree, the worktree
//! dir and `.git` are never copied, the state dir is private whatever the umask,
//! worktreeDir and branchPrefix cannot break the repository, and a full disk leaves no
//! record claiming `running` and no temp files.

mod common;

use common::{Env, Run};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Run git-agents under `umask 000`.
fn under_umask_000(env: &Env, args: &[&str]) -> Run {
    let mut sh = std::process::Command::new("sh");
    env.apply(&mut sh);
    sh.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(common::BIN)
        .args(args);
    Run(sh.output().unwrap())
}

/// Every path under the state dir with a group or other permission bit, except what
/// lies inside a trash batch (a removed worktree, git's modes, kept out of reach by its
/// private batch dir until deleted).
fn loose_paths(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue; // deleted meanwhile (the trash empties in the background)
        };
        let mode = meta.permissions().mode() & 0o777;
        if !meta.file_type().is_symlink() && mode & 0o077 != 0 {
            out.push(format!("{} {mode:o}", p.display()));
        }
        let in_trash = p.parent().and_then(Path::file_name) == Some("trash".as_ref());
        if meta.is_dir() && !in_trash {
            loose_paths(&p, out);
        }
    }
}

#[test]
fn the_state_dir_is_private_under_umask_000() {
    let env = Env::new();
    env.agent("w", "echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"");
    env.write(
        "agents.yaml",
        "command: w\ntasks:\n  - {id: t1, prompt: a}\n  - {id: t2, prompt: b}\n",
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
    // `trust` is the first command to create the state dir.
    under_umask_000(&env, &["trust"]).ok();
    under_umask_000(&env, &["spawn", "--check", "true"]).ok();
    // A merge with a check makes a scratch worktree and takes merge.lock.
    under_umask_000(&env, &["merge", "t1", "--check", "test -f t1.txt"]).ok();
    // prune moves worktrees into the trash.
    under_umask_000(&env, &["prune", "--all", "--force", "--yes"]).ok();
    let dir = env.agents_dir();
    for sub in ["trust", "scratch", "trash", "merge.lock", "tasks", "logs"] {
        assert!(dir.join(sub).exists(), "{sub} was not made");
    }
    let mut loose = Vec::new();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    if mode != 0o700 {
        loose.push(format!("{} {mode:o}", dir.display()));
    }
    loose_paths(&dir, &mut loose);
    assert!(loose.is_empty(), "not private:\n{}", loose.join("\n"));
}

#[test]
fn a_state_dir_left_open_by_an_older_version_is_closed() {
    let env = Env::new();
    let dir = env.agents_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::fs::write(dir.join("merge.lock"), "").unwrap();
    std::fs::set_permissions(
        dir.join("merge.lock"),
        std::fs::Permissions::from_mode(0o666),
    )
    .unwrap();
    env.agent("w", "echo x > x.txt");
    env.run(&["spawn", "t1", "-p", "x", "--command", "w"]).ok();
    env.run(&["merge", "t1"]).ok();
    let mut loose = Vec::new();
    loose_paths(&dir, &mut loose);
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    assert!(loose.is_empty(), "not private:\n{}", loose.join("\n"));
}

// ---- copy never reaches outside the new worktree -------------------------------------

/// Files outside the repository a hostile symlink points at.
fn outside(env: &Env) -> std::path::PathBuf {
    let out = env.root.join("outside");
    std::fs::create_dir_all(out.join("docs")).unwrap();
    std::fs::write(out.join("important.txt"), "precious\n").unwrap();
    std::fs::write(out.join("docs/a.md"), "# keep me\n").unwrap();
    out
}

#[track_caller]
fn assert_intact(out: &Path) {
    let mut found = Vec::new();
    for (rel, text) in [
        ("important.txt", "precious\n"),
        ("docs/a.md", "# keep me\n"),
    ] {
        match std::fs::read(out.join(rel)) {
            Ok(bytes) if bytes == text.as_bytes() => {}
            other => found.push(format!("{rel}: {other:?}")),
        }
    }
    let names: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        found.is_empty() && names.len() == 2,
        "outside files changed: {found:?}, now holds {names:?}"
    );
}

/// A symlink, committed.
fn tracked_symlink(env: &Env, at: &str, target: &Path) {
    let p = env.repo.join(at);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, &p).unwrap();
    env.git(&["add", at]);
    env.git(&["commit", "-q", "-m", &format!("link {at}")]);
}

#[track_caller]
fn assert_nothing_spawned(env: &Env) {
    assert!(!env.repo.join(".worktrees").exists(), "a worktree was made");
    assert!(
        !env.branches().iter().any(|b| b.starts_with("agent/")),
        "a branch was made"
    );
    let records = std::fs::read_dir(env.agents_dir().join("tasks"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(records, 0, "a record was made");
}

/// Spawn `t1` with `entry` given as the manifest's `copy`, or as `agents.copy`.
fn spawn_copying(env: &Env, entry: &str, via_manifest: bool, extra: &[&str]) -> Run {
    env.agent("w", "echo done > done.txt");
    let _ = std::fs::remove_file(env.repo.join("agents.yaml"));
    let _ = env.git_ok(&["config", "--unset-all", "agents.copy"]);
    let mut args = vec!["spawn", "t1"];
    if via_manifest {
        env.write(
            "agents.yaml",
            &format!("command: w\ncopy: [{entry:?}]\ntasks:\n  - {{id: t1, prompt: x}}\n"),
        );
    } else {
        env.git(&["config", "agents.copy", entry]);
        args.extend(["-p", "x", "--command", "w"]);
    }
    args.extend(extra);
    env.run(&args)
}

#[test]
fn copy_through_a_symlink_in_the_main_checkout_is_refused_before_anything_is_made() {
    for (link, entries) in [
        // The first component is the symlink.
        (
            "cfg",
            &["cfg/important.txt", "cfg/docs", "cfg/docs/a.md"][..],
        ),
        // A component in the middle is.
        ("a/b/cfg", &["a/b/cfg/important.txt", "a/b/cfg/docs"][..]),
    ] {
        for entry in entries {
            for mode in ["", "hardlink:"] {
                for via_manifest in [true, false] {
                    let env = Env::new();
                    let out = outside(&env);
                    env.write("a/keep.txt", "tracked\n");
                    env.git(&["add", "a"]);
                    env.git(&["commit", "-q", "-m", "a"]);
                    tracked_symlink(&env, link, &out);
                    let entry = format!("{mode}{entry}");
                    let run = spawn_copying(&env, &entry, via_manifest, &[]).code_is(2);
                    let err = run.stderr();
                    assert!(err.contains(&format!("{entry:?}")), "{entry}: {err}");
                    assert!(err.contains("is a symlink"), "{entry}: {err}");
                    assert!(err.lines().count() <= 2, "{entry}: {err}");
                    assert_intact(&out);
                    assert_nothing_spawned(&env);
                }
            }
        }
    }
}

#[test]
fn a_symlink_as_the_entry_or_inside_a_copied_dir_is_copied_as_a_symlink() {
    let env = Env::new();
    let out = outside(&env);
    env.write(".gitignore", "deps/\nlink\n");
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore"]);
    // The entry itself is a symlink pointing out (untracked), and so are a file and a
    // dir inside a copied directory.
    std::os::unix::fs::symlink(&out, env.repo.join("link")).unwrap();
    std::fs::create_dir_all(env.repo.join("deps/pkg")).unwrap();
    std::fs::write(env.repo.join("deps/pkg/index.js"), "x\n").unwrap();
    std::os::unix::fs::symlink(out.join("important.txt"), env.repo.join("deps/file-out")).unwrap();
    std::os::unix::fs::symlink(out.join("docs"), env.repo.join("deps/dir-out")).unwrap();
    // A tracked symlink named as an entry: replaced by the copy, never followed.
    tracked_symlink(&env, "cfg", &out);
    for (i, mode) in ["", "hardlink:"].iter().enumerate() {
        let id = format!("s{i}");
        env.agent("w", "echo done > done.txt");
        env.write(
            "agents.yaml",
            &format!(
                "command: w\ncopy: [{mode}link, {mode}deps, {mode}cfg]\ntasks:\n  - {{id: {id}, prompt: x}}\n"
            ),
        );
        env.run(&["spawn", &id]).ok();
        let wt = env.worktree(&id);
        for (p, target) in [
            ("link", out.clone()),
            ("cfg", out.clone()),
            ("deps/file-out", out.join("important.txt")),
            ("deps/dir-out", out.join("docs")),
        ] {
            let meta = std::fs::symlink_metadata(wt.join(p)).unwrap();
            assert!(meta.file_type().is_symlink(), "{mode}{p} is not a symlink");
            assert_eq!(std::fs::read_link(wt.join(p)).unwrap(), target);
        }
        assert_eq!(
            std::fs::read_to_string(wt.join("deps/pkg/index.js")).unwrap(),
            "x\n"
        );
        assert_intact(&out);
    }
}

/// The base commit tracks a symlink where the main checkout has a real directory: the
/// new worktree would hold the symlink, so a copy into it would land outside.
#[test]
fn copy_through_a_symlink_of_the_base_commit_is_refused_before_anything_is_made() {
    let env = Env::new();
    let out = outside(&env);
    env.git(&["checkout", "-q", "-b", "other"]);
    tracked_symlink(&env, "cfg", &out);
    env.git(&["checkout", "-q", "main"]);
    env.write(".gitignore", "cfg/\n");
    env.write(".worktreeinclude", "cfg/\n");
    env.git(&["add", ".gitignore", ".worktreeinclude"]);
    env.git(&["commit", "-q", "-m", "ignore cfg"]);
    env.write("cfg/important.txt", "main's own\n");
    env.write("cfg/docs/a.md", "main's own\n");
    // From .worktreeinclude alone.
    env.agent("w", "echo done > done.txt");
    let run = env
        .run(&[
            "spawn",
            "t1",
            "-p",
            "x",
            "--command",
            "w",
            "--base",
            "other",
        ])
        .code_is(2);
    assert!(
        run.stderr().contains(".worktreeinclude entry \"cfg\""),
        "{}",
        run.stderr()
    );
    assert_nothing_spawned(&env);
    std::fs::remove_file(env.repo.join(".worktreeinclude")).unwrap();
    for entry in [
        "cfg/important.txt",
        "cfg/docs",
        "cfg",
        "hardlink:cfg/docs/a.md",
    ] {
        for via_manifest in [true, false] {
            let run = spawn_copying(&env, entry, via_manifest, &["--base", "other"]).code_is(2);
            let err = run.stderr();
            assert!(err.contains(&format!("{entry:?}")), "{entry}: {err}");
            assert!(err.contains("symlink in the base commit"), "{entry}: {err}");
            assert_intact(&out);
            assert_nothing_spawned(&env);
        }
    }
}

/// What only the checkout shows (a post-checkout hook made the symlink): the copy checks
/// the new worktree itself, and the task fails naming the entry.
#[test]
fn copy_through_a_symlink_made_in_the_new_worktree_fails_the_task() {
    let env = Env::new();
    let out = outside(&env);
    env.write(".gitignore", "cfg/\n");
    env.write(".worktreeinclude", "cfg/\n");
    env.git(&["add", ".gitignore", ".worktreeinclude"]);
    env.git(&["commit", "-q", "-m", "ignore cfg"]);
    env.write("cfg/important.txt", "main's own\n");
    env.write("cfg/docs/a.md", "main's own\n");
    let hook = env.repo.join(".git/hooks/post-checkout");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\ncase \"$PWD\" in */.worktrees/*) ln -s '{}' cfg ;; esac\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cases: Vec<(String, bool, &str)> = vec![(String::new(), true, ".worktreeinclude")];
    for entry in ["cfg/important.txt", "cfg/docs", "hardlink:cfg/docs"] {
        cases.push((entry.to_string(), true, entry));
        cases.push((entry.to_string(), false, entry));
    }
    for (i, (entry, via_manifest, named)) in cases.iter().enumerate() {
        let id = format!("h{i}");
        env.agent("w", "echo done > done.txt");
        let _ = env.git_ok(&["config", "--unset-all", "agents.copy"]);
        let mut args = vec!["spawn", id.as_str()];
        if entry.is_empty() {
            args.extend(["-p", "x", "--command", "w"]);
        } else if *via_manifest {
            env.write(
                "agents.yaml",
                &format!("command: w\ncopy: [{entry:?}]\ntasks:\n  - {{id: {id}, prompt: x}}\n"),
            );
        } else {
            env.git(&["config", "agents.copy", entry]);
            args.extend(["-p", "x", "--command", "w"]);
        }
        let run = env.run(&args).code_is(1);
        let rec = env.record(&id);
        assert_eq!(rec["state"], "failed", "{entry}");
        let detail = rec["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{entry}: {detail}");
        assert!(
            detail.contains("symlink in the new worktree"),
            "{entry}: {detail}"
        );
        assert!(!env.repo.join("done.txt").exists());
        assert!(
            !env.worktree(&id).join("done.txt").exists(),
            "the agent ran"
        );
        assert_intact(&out);
        let _ = run;
        let _ = std::fs::remove_file(env.repo.join("agents.yaml"));
    }
}

// ---- the worktree dir and .git are never copy sources --------------------------------

#[test]
fn worktreeinclude_star_never_copies_the_worktrees_or_git() {
    let env = Env::new();
    env.write(".gitignore", "build/\n*.log\n");
    env.write(".worktreeinclude", "*\n");
    env.git(&["add", ".gitignore", ".worktreeinclude"]);
    env.git(&["commit", "-q", "-m", "include everything"]);
    env.write("build/out.txt", "built\n");
    env.write("debug.log", "log\n");
    env.agent("w", "echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"");
    // The second spawn finds the first one's worktree in `.worktrees/`.
    for id in ["t1", "t2"] {
        env.run(&["spawn", id, "-p", "x", "--command", "w"]).ok();
        let wt = env.worktree(id);
        assert_eq!(
            std::fs::read_to_string(wt.join("build/out.txt")).unwrap(),
            "built\n"
        );
        assert_eq!(
            std::fs::read_to_string(wt.join("debug.log")).unwrap(),
            "log\n"
        );
        assert!(!wt.join(".worktrees").exists(), "{id}: worktrees copied");
        assert!(wt.join(".git").is_file(), "{id}: .git replaced");
    }
}

#[test]
fn copying_a_dir_that_holds_the_worktree_dir_or_git_skips_them() {
    let env = Env::new();
    env.write(".gitignore", "build/\n");
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore"]);
    env.write("build/out.txt", "built\n");
    // A nested repository's .git inside a copied dir is not taken either.
    env.write("build/vendored/.git/HEAD", "ref: refs/heads/main\n");
    env.write("build/vendored/lib.txt", "lib\n");
    env.agent("w", "echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"");
    // The worktree dir inside the copied dir.
    env.git(&["config", "agents.worktreeDir", "build/wt"]);
    env.run(&["spawn", "t1", "-p", "x", "--command", "w"]).ok();
    env.git(&["config", "agents.copy", "build"]);
    env.run(&["spawn", "t2", "-p", "x", "--command", "w"]).ok();
    let wt = env.repo.join("build/wt/t2");
    assert_eq!(
        std::fs::read_to_string(wt.join("build/out.txt")).unwrap(),
        "built\n"
    );
    assert_eq!(
        std::fs::read_to_string(wt.join("build/vendored/lib.txt")).unwrap(),
        "lib\n"
    );
    assert!(!wt.join("build/wt").exists(), "the worktree dir was copied");
    assert!(
        !wt.join("build/vendored/.git").exists(),
        "a .git was copied"
    );
    // `.` holds everything.
    env.git(&["config", "--unset-all", "agents.copy"]);
    env.git(&["config", "agents.copy", "."]);
    env.run(&["spawn", "t3", "-p", "x", "--command", "w", "--keep-empty"])
        .ok();
    let wt = env.repo.join("build/wt/t3");
    assert_eq!(
        std::fs::read_to_string(wt.join("build/out.txt")).unwrap(),
        "built\n"
    );
    assert!(!wt.join("build/wt").exists(), "the worktree dir was copied");
    assert!(wt.join(".git").is_file(), ".git replaced");
}

#[test]
fn entries_naming_git_or_the_worktree_dir_are_refused() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    env.run(&["spawn", "t0", "-p", "x", "--command", "w"]).ok();
    for entry in [
        ".git",
        ".git/config",
        "hardlink:.git/objects",
        ".worktrees",
        ".worktrees/t0",
    ] {
        let run = spawn_copying(&env, entry, false, &[]).code_is(2);
        assert!(
            run.stderr().contains(&format!("{entry:?}")),
            "{entry}: {}",
            run.stderr()
        );
        assert!(
            run.stderr().contains("never copied"),
            "{entry}: {}",
            run.stderr()
        );
        assert!(!env.worktree("t1").exists());
    }
}

// ---- worktreeDir and branchPrefix cannot break the repository ------------------------

#[test]
fn worktree_dirs_and_branch_prefixes_that_break_git_are_refused_before_anything_is_made() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    // A tracked symlink into `.git`, for a worktree dir that goes through it.
    std::fs::create_dir_all(env.repo.join("sub")).unwrap();
    std::os::unix::fs::symlink("../.git/refs", env.repo.join("sub/into-git")).unwrap();
    env.git(&["add", "sub/into-git"]);
    env.git(&["commit", "-q", "-m", "hostile link"]);
    let fsck_before = env.git(&["fsck", "--no-progress"]);
    for (key, value, rule) in [
        (
            "agents.worktreeDir",
            ".git/refs/heads",
            "inside the git directory",
        ),
        ("agents.worktreeDir", ".git", "inside the git directory"),
        (
            "agents.worktreeDir",
            "sub/into-git/heads",
            "inside the git directory",
        ),
        ("agents.worktreeDir", ".", "repository root itself"),
        ("agents.worktreeDir", "sub/..", "repository root itself"),
        ("agents.worktreeDir", "..", "contains the repository"),
        ("agents.worktreeDir", "~bob/wt", "only ~ and ~/"),
        ("agents.branchPrefix", "-", "must not start with '-'"),
        ("agents.branchPrefix", "refs/tags/", "refs/heads/"),
        ("agents.branchPrefix", "a..b/", "dots"),
        ("agents.branchPrefix", "a b/", "invalid byte"),
        ("agents.branchPrefix", "x.lock/", ".lock"),
        ("agents.branchPrefix", "at@{/", "'@{'"),
    ] {
        env.git(&["config", key, value]);
        for args in [
            &["spawn", "t1", "-p", "x", "--command", "w"][..],
            &["list"][..],
        ] {
            let run = env.run(args).code_is(2);
            let err = run.stderr();
            assert!(err.contains(key), "{key}={value}: {err}");
            assert!(err.contains(rule), "{key}={value}: {err}");
            assert!(err.lines().count() <= 2, "{key}={value}: {err}");
        }
        env.git(&["config", "--unset", key]);
        assert_nothing_spawned(&env);
        assert_eq!(env.git(&["worktree", "list"]).lines().count(), 1);
        assert_eq!(
            env.git(&["fsck", "--no-progress"]),
            fsck_before,
            "{key}={value}"
        );
    }
}

#[test]
fn worktree_dir_expands_home_like_git() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    env.git(&["config", "agents.worktreeDir", "~/wts/{repo}"]);
    env.run(&["spawn", "t1", "-p", "x", "--command", "w"]).ok();
    let wt = env.home.join("wts/repo/t1");
    assert_eq!(std::fs::read_to_string(wt.join("x.txt")).unwrap(), "x\n");
    assert!(!env.repo.join("~").exists());
    let path = env.run(&["path", "t1"]).ok().stdout();
    assert_eq!(path.trim(), wt.display().to_string());
}

// ---- a full disk during spawn -------------------------------------------------------

/// Temp files anywhere in the git dir.
fn tmp_litter(env: &Env) -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "tmp") {
                out.push(p.display().to_string());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(&env.repo.join(".git"), &mut out);
    out
}

fn two_tasks(env: &Env) {
    env.agent("w", "echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"");
    env.write(
        "agents.yaml",
        "command: w\ntasks:\n  - {id: t1, prompt: a}\n  - {id: t2, prompt: b}\n",
    );
}

fn spawn_with_fault(env: &Env, fault: &str, args: &[&str]) -> Run {
    Run(env
        .cmd(args)
        .env("GIT_AGENTS_FAULT", fault)
        .output()
        .unwrap())
}

/// The state `list` reports, by id.
fn listed_states(env: &Env) -> std::collections::BTreeMap<String, String> {
    common::tasks(&env.run(&["list", "--json"]).ok().json())
        .into_iter()
        .map(|(id, t)| (id, t["state"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn a_full_disk_while_claiming_leaves_nothing_claimed() {
    // Full from the start of the claim, or after the first task's claim was written.
    for fault in [
        "enospc:spawn:planned",
        "enospc:spawn:claimed-one",
        "enospc-once:spawn:planned",
    ] {
        let env = Env::new();
        two_tasks(&env);
        let run = spawn_with_fault(&env, fault, &["spawn"]).code_is(1);
        assert!(
            run.stderr().contains("No space left on device"),
            "{fault}: {}",
            run.stderr()
        );
        assert!(
            run.stderr().lines().count() <= 2,
            "{fault}: {}",
            run.stderr()
        );
        assert_eq!(tmp_litter(&env), Vec::<String>::new(), "{fault}");
        assert_nothing_spawned(&env);
        // The manifest's tasks read as never spawned.
        for (id, state) in listed_states(&env) {
            assert_eq!(state, "pending", "{fault}: {id}");
        }
        // With room again, the same spawn runs both tasks.
        env.run(&["spawn"]).ok();
        let states = listed_states(&env);
        assert_eq!(states["t1"], "succeeded", "{fault}");
        assert_eq!(states["t2"], "succeeded", "{fault}");
    }
}

#[test]
fn a_full_disk_while_recording_a_result_never_leaves_a_running_task() {
    for fault in [
        "enospc:spawn:claimed",
        "enospc:spawn:agent-done",
        "enospc:spawn:committed",
    ] {
        let env = Env::new();
        env.agent("w", "echo x > x.txt");
        let run = spawn_with_fault(
            &env,
            fault,
            &["spawn", "t1", "-p", "x", "--command", "w", "--json"],
        )
        .code_is(1);
        // The summary tells what happened, not what the stale record says.
        let doc = run.json();
        let t = &common::tasks(&doc)["t1"];
        assert_eq!(t["state"], "failed", "{fault}: {doc}");
        assert!(
            t["detail"]
                .as_str()
                .unwrap()
                .contains("No space left on device"),
            "{fault}: {doc}"
        );
        assert!(
            run.stderr().contains("could not be written"),
            "{fault}: {}",
            run.stderr()
        );
        assert_eq!(tmp_litter(&env), Vec::<String>::new(), "{fault}");
        // Nothing claims to run once the process is gone.
        assert_eq!(listed_states(&env)["t1"], "interrupted", "{fault}");
        // An agent's commit is kept on its branch, and prune can clean up.
        if fault != "enospc:spawn:claimed" {
            assert_eq!(env.git(&["show", "agent/t1:x.txt"]), "x\n", "{fault}");
        }
        env.run(&["prune", "t1", "--force", "--yes"]).ok();
    }
}

#[test]
fn a_passing_disk_full_while_recording_is_recorded_as_the_failure() {
    for fault in ["enospc-once:spawn:claimed", "enospc-once:spawn:agent-done"] {
        let env = Env::new();
        env.agent("w", "echo x > x.txt");
        spawn_with_fault(&env, fault, &["spawn", "t1", "-p", "x", "--command", "w"]).code_is(1);
        let rec = env.record("t1");
        assert_eq!(rec["state"], "failed", "{fault}: {rec}");
        assert!(
            rec["detail"]
                .as_str()
                .unwrap()
                .contains("No space left on device"),
            "{fault}: {rec}"
        );
        for a in rec["attempts"].as_array().unwrap() {
            assert_ne!(a["state"], "running", "{fault}: {rec}");
        }
        assert_eq!(tmp_litter(&env), Vec::<String>::new(), "{fault}");
        // Failed, even when that was before its worktree was made.
        assert_eq!(listed_states(&env)["t1"], "failed", "{fault}");
    }
}
