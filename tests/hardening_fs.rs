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
    std::fs::set_permissions(dir.join("merge.lock"), std::fs::Permissions::from_mode(0o666))
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
