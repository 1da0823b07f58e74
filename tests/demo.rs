//! `git agents demo` end to end, with nothing on PATH but git and git-agents.

mod common;

use common::Env;
use std::path::{Path, PathBuf};

/// A PATH directory holding only `git` and `git-agents`.
fn minimal_path(env: &Env) -> PathBuf {
    let dir = env.root.join("only");
    std::fs::create_dir_all(&dir).unwrap();
    let git = ["/usr/local/bin/git", "/usr/bin/git", "/bin/git"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("git is installed");
    std::os::unix::fs::symlink(git, dir.join("git")).unwrap();
    std::os::unix::fs::symlink(common::BIN, dir.join("git-agents")).unwrap();
    dir
}

#[test]
fn demo_runs_the_whole_cycle_with_only_git_on_path() {
    let env = Env::new();
    let path = minimal_path(&env);
    // No identity configured anywhere: the demo brings its own.
    std::fs::write(env.home.join(".gitconfig"), "").unwrap();
    let target = env.root.join("scratch");
    let out = env
        .cmd(&["demo", "--dir", target.to_str().unwrap()])
        .env("PATH", &path)
        .env("GIT_AGENTS_TOY_PAUSE_MS", "20")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // Each command is printed before it runs.
    for cmd in [
        "$ git agents spawn",
        "$ git agents list",
        "$ git agents merge\n",
        "$ git agents merge formal-greeting --on-conflict agent",
        "$ git agents prune",
    ] {
        assert!(stderr.contains(cmd), "{cmd:?} missing in:\n{stderr}");
    }
    // The conflict was shown, then resolved by the agent.
    assert!(stdout.contains("conflicts in greeting.txt"), "{stdout}");
    let repo = target.join("demo");
    let git = |args: &[&str]| {
        let mut c = std::process::Command::new("git");
        env.apply(&mut c);
        let o = c.current_dir(&repo).args(args).output().unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(git(&["branch", "--format=%(refname:short)"]), "main\n");
    assert_eq!(git(&["status", "--porcelain"]), "?? agents.yaml\n");
    let greeting = std::fs::read_to_string(repo.join("greeting.txt")).unwrap();
    assert_eq!(greeting, "Good day to you, world.\nHi there, friend!\n");
    assert!(repo.join("LICENSE").is_file());
    assert_eq!(git(&["log", "-1", "--format=%an"]), "git-agents demo\n");
    // --dir keeps the repository; every task merged and pruned.
    assert_eq!(git(&["worktree", "list"]).lines().count(), 1);
}

#[test]
fn demo_removes_its_scratch_repository_unless_kept() {
    let env = Env::new();
    let tmp = env.root.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let out = env
        .cmd(&["demo"])
        .env("TMPDIR", &tmp)
        .env("GIT_AGENTS_TOY_PAUSE_MS", "5")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "scratch left behind"
    );

    let out = env
        .cmd(&["demo", "--keep"])
        .env("TMPDIR", &tmp)
        .env("GIT_AGENTS_TOY_PAUSE_MS", "5")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let kept: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert_eq!(kept.len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kept at"), "{stderr}");

    // A non-empty --dir is refused.
    let run = env
        .run(&["demo", "--dir", env.repo.to_str().unwrap()])
        .code_is(2);
    assert!(run.stderr().contains("not empty"), "{}", run.stderr());
}
