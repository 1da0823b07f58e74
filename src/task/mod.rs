//! Task identifiers, task states, attempt outcomes, and the transitions of a task's
//! record.
//!
//! An ID names a worktree directory and a branch, so it is restricted to
//! `^[a-z0-9][a-z0-9._-]{0,63}$`, never `.`/`..`: it can never escape the worktree dir,
//! never holds a path separator, and is always a valid ref name component.

mod id;
mod outcome;

pub use id::{ID_RULE, MAX_ID_LEN, TaskId};
pub use outcome::AttemptOutcome;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Task states (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Pending,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
    Empty,
    Merged,
    Conflicted,
    Orphaned,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::TimedOut => "timed-out",
            State::Interrupted => "interrupted",
            State::Empty => "empty",
            State::Merged => "merged",
            State::Conflicted => "conflicted",
            State::Orphaned => "orphaned",
        }
    }

    /// Whether a task in this state counts as asked-for work that went well (exit 0).
    pub fn is_success(self) -> bool {
        matches!(self, State::Succeeded | State::Empty | State::Merged)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The merge queue's verdict on one task (the `result` of `merge --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeResult {
    Merged,
    /// The base already holds the task's work.
    UpToDate,
    /// The task's branch adds nothing.
    Empty,
    WouldMerge,
    WouldConflict,
    Conflicted,
    CheckFailed,
    /// The queue stopped before this task.
    NotReached,
    Error,
    PrOpened,
    Pushed,
    WouldPush,
    /// Untracked files in the base checkout are where the merge would write.
    Blocked,
    /// Re-run from the new base (`--on-conflict retry`), the task failed.
    Failed,
    /// Stopped by a signal while the task's merged result was being checked.
    Interrupted,
}

impl MergeResult {
    pub fn as_str(self) -> &'static str {
        match self {
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

    /// Whether this result counts as success for the exit code (SPEC §6).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            MergeResult::Merged
                | MergeResult::UpToDate
                | MergeResult::Empty
                | MergeResult::WouldMerge
                | MergeResult::PrOpened
                | MergeResult::Pushed
                | MergeResult::WouldPush
        )
    }
}

impl fmt::Display for MergeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
