//! What to do with a task, decided from its facts alone: nothing here reads or writes
//! anything, so every decision can be tested on facts made by hand.

use gix::ObjectId;
use std::fmt;
use std::path::PathBuf;

use super::{Done, Facts, Task, plural};
use crate::git::InBase;
use crate::task::State;
use crate::worktree::Found;

/// What to do with one task, decided from its [`Facts`].
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Leave it as it is.
    Keep {
        reasons: Vec<String>,
        /// Whether `--force` would remove it.
        forceable: bool,
    },
    Remove(Box<Removal>),
}

/// Everything a removal does, in the order it does it: nothing is moved before what
/// would be lost is logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Removal {
    pub why: Why,
    /// Whether `--force` was given (it may be needed by a step that fails only then).
    pub force: bool,
    /// Work that `--force` discards, each saved and logged to `pruned.log` first.
    pub discards: Vec<Discard>,
    /// The worktree's admin dir, whose submodule stores may hold an agent's only copy of
    /// a commit, and the tips whose submodule commits are kept: they are moved to the
    /// main repository's module store first.
    pub modules: Option<(PathBuf, Vec<ObjectId>)>,
    /// Tips that no other ref reaches, logged to `pruned.log` (those not discarded).
    pub unreached: Vec<ObjectId>,
    /// The worktree's HEAD, when it is among `unreached`.
    pub head_logged: Option<ObjectId>,
    pub worktree: Option<WorktreeStep>,
    /// The branch's tip: it is deleted only if it is still there.
    pub branch: Option<ObjectId>,
    /// The record becomes a tombstone, so a plain `spawn` never runs the task again.
    pub tombstone: bool,
}

/// Work `--force` discards.
#[derive(Debug, Clone, PartialEq)]
pub enum Discard {
    /// Commits of a tip not in base.
    Tip { what: String, sha: ObjectId },
    /// Uncommitted files of a linked worktree (with its admin dir), saved as a commit
    /// first.
    Uncommitted {
        what: String,
        worktree: PathBuf,
        admin: PathBuf,
    },
}

/// What happens to the worktree.
#[derive(Debug, Clone, PartialEq)]
pub enum WorktreeStep {
    /// Moved into the trash, and its git admin dir with it when it has one.
    Move {
        path: PathBuf,
        admin: Option<PathBuf>,
        shown: String,
    },
    /// Gone already: the metadata git keeps of it is cleared.
    ClearStale { admin: PathBuf, shown: String },
}

/// Why a task may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `--force`, over the risks it was told about.
    Forced,
    Merged,
    Empty,
    /// It ended this way (failed, timed out, interrupted, conflicted) or is in this
    /// state (an orphan).
    Ended(State),
    /// Its tips are reachable from the base (named).
    WorkIn(String),
    /// Merging its tips into the base (named) would change nothing.
    ChangesIn(String),
    /// A best-of-N candidate whose task's winner is merged.
    Lost,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Forced => f.write_str("forced"),
            Why::Merged => f.write_str("merged"),
            Why::Empty => f.write_str("empty"),
            Why::Ended(s) => f.write_str(s.as_str()),
            Why::WorkIn(base) => write!(f, "work in {base}"),
            Why::ChangesIn(base) => write!(f, "changes already in {base}"),
            Why::Lost => f.write_str("lost to the merged winner"),
        }
    }
}

/// Decide what to do with task `t` from its facts `f`, with or without `--force`.
/// Reads nothing: everything it needs is in the facts.
pub fn decide(t: &Task, f: &Facts, force: bool) -> Action {
    if !f.never.is_empty() {
        return Action::Keep {
            reasons: f.never.clone(),
            forceable: false,
        };
    }
    let risks = f.risks(t);
    if !risks.is_empty() && !force {
        return Action::Keep {
            reasons: risks,
            forceable: true,
        };
    }
    let forced = !risks.is_empty();
    let why = if forced {
        Why::Forced
    } else {
        match (f.state, f.done) {
            (_, Some(Done::Lost)) => Why::Lost,
            (State::Merged, _) | (_, Some(Done::Merged)) => Why::Merged,
            (State::Empty, _) => Why::Empty,
            (s @ (State::Failed | State::TimedOut | State::Interrupted | State::Conflicted), _) => {
                Why::Ended(s)
            }
            (_, Some(Done::InBase(InBase::Reachable))) => Why::WorkIn(t.base.clone()),
            (_, Some(Done::InBase(InBase::Applied))) => Why::ChangesIn(t.base.clone()),
            (s, None) => Why::Ended(s),
        }
    };

    let mut discards = Vec::new();
    if forced {
        for u in &f.unmerged {
            let n = u.commits;
            let what = if Some(u.tip) == f.tip {
                format!("{n} commit{} of {}", plural(n), t.branch)
            } else {
                format!("the worktree's HEAD ({n} commit{})", plural(n))
            };
            discards.push(Discard::Tip { what, sha: u.tip });
        }
        if let (Found::Linked(a), Some(Ok(c))) = (&f.found, &f.changes)
            && c.count > 0
        {
            let what = format!(
                "{} uncommitted change{} in {}",
                c.count,
                plural(c.count),
                f.shown
            );
            discards.push(Discard::Uncommitted {
                what,
                worktree: a.worktree.clone(),
                admin: a.dir.clone(),
            });
        }
    }

    let tips: Vec<ObjectId> = f.tip.into_iter().chain(f.head).collect();
    let modules = match (&f.found, &f.stale_admin) {
        (Found::Linked(a), _) | (Found::Missing, Some(a)) => Some((a.dir.clone(), tips)),
        _ => None,
    };
    // Whatever the reason for deleting (forced or not: a squash merge, a deleted base),
    // a tip that no other ref reaches is logged before anything goes.
    let discarded: Vec<ObjectId> = discards
        .iter()
        .filter_map(|d| match d {
            Discard::Tip { sha, .. } => Some(*sha),
            Discard::Uncommitted { .. } => None,
        })
        .collect();
    let unreached: Vec<ObjectId> = f
        .unreached
        .iter()
        .copied()
        .filter(|sha| !discarded.contains(sha))
        .collect();
    let head_logged = f.head.filter(|h| unreached.contains(h));

    let worktree = match &f.found {
        Found::Linked(a) => Some(WorktreeStep::Move {
            path: t.worktree.clone().unwrap_or_else(|| a.worktree.clone()),
            admin: Some(a.dir.clone()),
            shown: f.shown.clone(),
        }),
        Found::Plain => t.worktree.clone().map(|path| WorktreeStep::Move {
            path,
            admin: None,
            shown: f.shown.clone(),
        }),
        Found::Missing => f.stale_admin.as_ref().map(|a| WorktreeStep::ClearStale {
            admin: a.dir.clone(),
            shown: f.shown.clone(),
        }),
        // Refused above: another repository's files are never ours to move.
        Found::Foreign(_) => None,
    };
    Action::Remove(Box::new(Removal {
        why,
        force,
        discards,
        modules,
        unreached,
        head_logged,
        worktree,
        branch: f.tip,
        tombstone: t.rec.is_some(),
    }))
}
