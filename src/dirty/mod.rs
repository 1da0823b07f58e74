//! The one place that answers "is this worktree dirty?", in two forms: [`count`], the
//! exact number list and show print (fast, below), and [`changes`], what removing or
//! updating a worktree would lose or trip over, with the first paths for a message.
//!
//! How many uncommitted changes a worktree has, counted the way
//! `git status --porcelain --untracked-files=all` lists them: one per path that is
//! staged, modified, deleted or conflicted, plus one per untracked file (ignored files
//! do not count). A staged rename counts as its two paths.
//!
//! gix's status gives the exact answer but stats every tracked file by its absolute path
//! and walks the whole tree for untracked files; with dozens of worktrees `list` would
//! spend nearly all its time there. So the common case takes a shorter road to the same
//! answer: one pass per directory (read it, then stat each entry relative to the open
//! directory, as git does) compares tracked files with the index by gix's own rules
//! (stat comparison, racy-git, file modes). What that pass cannot settle alone goes back
//! to gix, restricted to those paths: whether names the index does not know are
//! untracked or ignored, and submodules. Layouts the pass does not handle
//! (case-insensitive or Unicode-precomposing file systems, sparse checkouts) take gix's
//! full status.
//!
//! Each file is stat'ed once. A file whose stat data changed, or that is racily clean
//! (written in the same second as the index, so equal stat data proves nothing), has its
//! content compared here, through the repository's filters, by gix's rules (`FastEq`).
//! What that taught is written back to the index as `git status` does (see
//! [`write_back`]), so the next count reads no file's content for the same answer.

mod content;
mod count;
mod learnt;

pub use count::{Refresh, count};

use anyhow::{Context as _, Result};
use std::path::Path;

/// Uncommitted changes of a worktree: tracked files, and untracked ones when asked
/// (ignored files never).
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub count: usize,
    /// The first few changed paths, for messages.
    pub paths: Vec<String>,
}

/// Whether untracked files count as changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Untracked {
    /// They do: removing the worktree would lose them (prune, a re-run, a retry).
    Count,
    /// They do not: git itself judges them when it updates the checkout (a merge).
    Skip,
}

/// What would be lost or be in the way here: a worktree's changes, with their paths,
/// read in-process with gix (index against HEAD, files against the index, and
/// untracked files as `untracked` says, whatever `status.showUntrackedFiles` says).
pub fn changes(worktree: &Path, untracked: Untracked) -> Result<Changes> {
    let repo = gix::open(worktree)
        .with_context(|| format!("cannot open the worktree {}", worktree.display()))?;
    let files = match untracked {
        Untracked::Count => gix::status::UntrackedFiles::Collapsed,
        Untracked::Skip => gix::status::UntrackedFiles::None,
    };
    let iter = repo
        .status(gix::progress::Discard)?
        .untracked_files(files)
        .index_worktree_rewrites(None)
        .into_iter(None)?;
    let mut changes = Changes::default();
    for item in iter {
        let item = item?;
        // Entries that only need their stat data refreshed are not changes.
        if let gix::status::Item::IndexWorktree(wt) = &item
            && wt.summary().is_none()
        {
            continue;
        }
        changes.count += 1;
        if changes.paths.len() < 3 {
            changes.paths.push(item.location().to_string());
        }
    }
    Ok(changes)
}
