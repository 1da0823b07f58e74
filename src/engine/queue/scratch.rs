//! Scratch worktrees, where merge checks run on a candidate result: under the state
//! dir, named with the merging process's pid so a dead run's leftovers can be told and
//! removed.

use std::path::{Path, PathBuf};

use crate::git::{self, Repo};
use crate::store::{Proc, Store};

pub(super) fn scratch_root(store: &Store) -> PathBuf {
    store.dir.join("scratch")
}

/// Remove scratch worktrees left by a merge that died (their pid is gone).
pub fn clean_scratch(repo: &Repo, store: &Store) {
    let Ok(entries) = std::fs::read_dir(scratch_root(store)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('.').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Proc::of(p).is_alive()) {
            remove_scratch(repo, &e.path());
        }
    }
}

pub(super) fn remove_scratch(repo: &Repo, dir: &Path) {
    let removed = git::remove_worktree(&repo.root, dir);
    if removed.is_err() || dir.exists() {
        let admin = admin_of(repo, dir);
        let _ = std::fs::remove_dir_all(dir);
        // Only this scratch worktree's metadata: `git worktree prune` would also clear
        // hand-deleted task worktrees', with the submodule stores inside them.
        if let Some(a) = admin
            && let Ok(_lock) = git::worktree_lock()
        {
            let _ = std::fs::remove_dir_all(a);
        }
    }
}

/// Remove a scratch worktree as `git worktree remove --force` would, but without keeping
/// anyone waiting for its files: the directory and then git's metadata of it are moved
/// into `trash` (a rename each, under the worktree lock, as prune moves a task's; the
/// trash is emptied in the background).
pub(super) fn trash_scratch(
    repo: &Repo,
    dir: &Path,
    trash: &crate::engine::cleanup::Trash,
) -> anyhow::Result<()> {
    let admin = admin_of(repo, dir);
    trash.take(dir, "scratch")?;
    if let Some(a) = admin {
        trash.take(&a, "scratch.git")?;
    }
    Ok(())
}

/// The directory of git's metadata for the worktree at `dir` (under
/// `<common dir>/worktrees/`), looked up before the worktree goes.
fn admin_of(repo: &Repo, dir: &Path) -> Option<std::path::PathBuf> {
    let wt = crate::worktree::canon(dir);
    crate::worktree::admins(&repo.common_dir)
        .into_iter()
        .find(|a| a.worktree == wt)
        .map(|a| a.dir)
}
