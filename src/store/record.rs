//! A task's record (`agents/tasks/ID.json`) and its attempts, and what the record says
//! about the processes behind the task.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use super::Proc;
use crate::task::State;

pub const RECORD_VERSION: u32 = 1;

/// One attempt at a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub n: u32,
    pub started_at: u64,
    pub finished_at: Option<u64>,
    pub state: State,
    pub exit_code: Option<i32>,
    /// The branch tip when the attempt ended (kept even when a retry discards it).
    pub head: Option<String>,
    /// Which phase failed, and a short reason.
    pub detail: Option<String>,
    /// What the agent reported about this attempt (session, turns, tokens, cost, final
    /// message, its own error flag), when its output format says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::adapter::Usage>,
    /// Why it ended when no exit code tells (`budget`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub id: String,
    pub state: State,
    pub branch: String,
    /// The base as named (`main`).
    pub base: String,
    /// The commit the task's worktree started from.
    pub base_commit: String,
    pub worktree: PathBuf,
    pub prompt: String,
    /// The agent command template that runs.
    pub command: Vec<String>,
    #[serde(default)]
    pub check_command: Option<String>,
    /// `passed`, `failed`, or none when no check ran.
    pub check: Option<String>,
    pub exit_code: Option<i32>,
    pub head: Option<String>,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The git-agents process that drives the task while it is pending or running.
    pub owner: Option<Proc>,
    /// The agent (or setup/check) process group leader while one runs.
    pub child: Option<Proc>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub detail: Option<String>,
    /// Pruned: kept as a tombstone so a plain `spawn` does not run the task again.
    #[serde(default)]
    pub pruned: bool,
    #[serde(default)]
    pub pr_url: Option<String>,
    /// When `merge` landed the task, the commit that holds it, and the branch it went into.
    #[serde(default)]
    pub merged_at: Option<u64>,
    #[serde(default)]
    pub merged_commit: Option<String>,
    #[serde(default)]
    pub merged_into: Option<String>,
    /// Paths that conflicted the last time `merge` tried the task.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// `passed` or `failed`: the check `merge` ran on the merged result.
    #[serde(default)]
    pub merge_check: Option<String>,
    /// The batch that last ran the task: its events are in `events/<batch>.ndjson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// The agent's output format (`claude-stream-json`, ...), so `logs` can render it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Why the task ended when no exit code tells: `budget`, or the agent CLI's own
    /// words when its output matched a known failure signature of its preset (see
    /// `signature`; cleared when an attempt begins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the user can do about `reason`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// How the task's jobs were isolated (sandbox, runner); none for older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<crate::sandbox::Isolation>,
    /// While a job runs in a runner's container: the command that stops it (so `git
    /// agents stop` reaches the container, not only its client).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_stop: Option<Vec<String>>,
    /// Dependencies and best-of-N (README "Task graphs and best-of-N").
    #[serde(flatten, default)]
    pub graph: Graph,
    /// `runner: remote`: where the task runs (remote, dispatcher, job) and what the
    /// protocol cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<crate::remote::Where>,
}

/// What a record says of the task's place in a graph or a best-of-N group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    /// The tasks (ids as the manifest names them) this one starts from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
    /// The task this record is a candidate of (best-of-N).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_of: Option<String>,
    /// The group's winner, once chosen (on every candidate's record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner_reason: Option<String>,
    /// The dependencies that kept the task from starting.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked_by: Vec<String>,
}

impl Record {
    /// Whether the process driving this task is still alive.
    pub fn owner_alive(&self) -> bool {
        self.owner.is_some_and(|p| p.is_alive())
    }

    /// The recorded state corrected for a dead driver: a pending or running task whose
    /// git-agents process is gone (crash, `kill -9`) was interrupted.
    pub fn process_state(&self) -> State {
        match self.state {
            State::Pending | State::Running if self.owner_alive() => self.state,
            State::Pending | State::Running => State::Interrupted,
            s => s,
        }
    }

    /// What the agents of all its attempts reported, added up; `None` when none did.
    pub fn usage(&self) -> Option<crate::adapter::Usage> {
        let all: Vec<&crate::adapter::Usage> = self
            .attempts
            .iter()
            .filter_map(|a| a.usage.as_ref())
            .collect();
        (!all.is_empty()).then(|| crate::adapter::Usage::total(all))
    }

    /// Whether the agent, or anything still in the process group it led, runs.
    pub fn agent_alive(&self) -> bool {
        self.child.is_some_and(|c| c.group_alive())
    }
}
