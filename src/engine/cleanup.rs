//! Whether a task's worktree and branch may go, and their removal: the engine behind
//! `git agents prune` (and anything else that removes a task, such as `merge --prune`).
//!
//! Safety is decided per task at the moment of removal, from the repository as it is
//! then, never from what spawn recorded: a live agent is never touched; uncommitted or
//! untracked files, commits not in base, a lock, or a process working inside keep a
//! worktree unless forced, and whatever force discards is appended to `pruned.log`
//! first (branch tips, and a commit holding the uncommitted files).
//!
//! Three steps, so that the decision can be looked at on its own: [`Context::facts`]
//! reads the repository, [`decide`] turns the facts into an [`Action`] without touching
//! anything, and [`Context::carry_out`] does it (or, in a dry run, says what it would
//! do). Removal renames the worktree and its git admin dir into the [`Trash`]
//! (instant), deletes the branch by compare-and-swap, turns the record into a
//! tombstone, and leaves the file deletion to a background process.

mod carry;
mod decide;
mod facts;
mod select;
mod trash;

pub use carry::Fate;
pub use decide::{Action, Discard, Removal, Why, WorktreeStep, decide};
pub use facts::{Facts, Unmerged};
pub use select::{Selection, Stale};
pub use trash::{Moved, Trash};

use gix::ObjectId;
use std::path::{Path, PathBuf};

use crate::git::{InBase, Repo};
use crate::store::{Record, Store};
use crate::task::State;
use crate::worktree::{self, Admin};

/// A task that may be removed: one with a record, or an orphan (a worktree in the
/// worktree dir or a branch under the prefix that no record claims).
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub rec: Option<Record>,
    pub state: State,
    pub branch: String,
    pub worktree: Option<PathBuf>,
    /// The base as named (`main`).
    pub base: String,
}

/// Why a task's work needs nothing more from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Merged,
    InBase(InBase),
    /// A best-of-N candidate that lost to a winner that is merged.
    Lost,
}

/// What every removal needs: the repository, its store, this run's trash.
pub struct Context<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub trash: &'a Trash,
    /// Linked worktrees as registered when the run started.
    pub admins: Vec<Admin>,
    /// Decide and describe, change nothing.
    pub dry_run: bool,
}

/// The state a record really is in: a running or pending task whose processes are gone
/// was interrupted; an agent process alive in any state means running.
pub fn effective(rec: &Record) -> State {
    match rec.process_state() {
        State::Pending | State::Running => State::Running,
        _ if rec.agent_alive() => State::Running,
        s => s,
    }
}

/// The commit a linked worktree's HEAD (kept in its admin dir) is at.
pub fn admin_head(repo: &Repo, a: &Admin) -> Option<ObjectId> {
    match a.head()? {
        Ok(r) => repo.resolve_commit(&r),
        Err(hex) => ObjectId::from_hex(hex.as_bytes()).ok(),
    }
}

/// The base's current tip; if the base no longer resolves, where the task started.
fn base_tip(repo: &Repo, t: &Task, rec: Option<&Record>) -> Option<ObjectId> {
    repo.resolve_commit(&t.base)
        .or_else(|| rec.and_then(|r| ObjectId::from_hex(r.base_commit.as_bytes()).ok()))
}

impl<'a> Context<'a> {
    pub fn new(repo: &'a Repo, store: &'a Store, trash: &'a Trash, dry_run: bool) -> Self {
        Context {
            repo,
            store,
            trash,
            admins: worktree::admins(&repo.common_dir),
            dry_run,
        }
    }

    /// Check one task now and, unless it is a dry run, remove it.
    pub fn remove(&self, t: &Task, force: bool) -> Fate {
        let facts = self.facts(t);
        let action = decide(t, &facts, force);
        self.carry_out(t, action)
    }
}

/// A path relative to the repository root when inside it.
pub fn show(p: &Path, root: &Path) -> String {
    let c = worktree::canon(p);
    match c.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => p.display().to_string(),
    }
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
