//! What a task looks like to a user: the SPEC §6 JSON object and table rows, computed
//! from its record plus the repository as it is now.

use serde_json::{Value, json};
use std::time::Duration;

use crate::git::Repo;
use crate::store::{Record, Store};

/// Facts read from the repository rather than the record.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub head: Option<String>,
    /// Commits on the branch not in the base's current tip, and the reverse.
    pub ahead: Option<usize>,
    pub behind: Option<usize>,
    /// Uncommitted changes, untracked files included; `None` if the worktree is gone.
    pub dirty: Option<usize>,
}

pub fn live(repo: &Repo, rec: &Record) -> Live {
    let head = repo.branch_tip(&rec.branch);
    let base = repo
        .resolve_commit(&rec.base)
        .or_else(|| gix::ObjectId::from_hex(rec.base_commit.as_bytes()).ok());
    let (ahead, behind) = match (head, base) {
        (Some(h), Some(b)) => match repo.ahead_behind(h, b) {
            Ok((a, b)) => (Some(a), Some(b)),
            Err(_) => (None, None),
        },
        _ => (None, None),
    };
    Live {
        head: head.map(|h| h.to_string()),
        ahead,
        behind,
        dirty: crate::git::dirty_count(&rec.worktree),
    }
}

pub fn task_json(store: &Store, rec: &Record, live: &Live) -> Value {
    json!({
        "id": rec.id,
        "state": rec.state.as_str(),
        "branch": rec.branch,
        "base": rec.base,
        "worktree": rec.worktree,
        "head": live.head.clone().or(rec.head.clone()),
        "ahead": live.ahead,
        "behind": live.behind,
        "dirty": live.dirty,
        "check": rec.check,
        "exit_code": rec.exit_code,
        "attempts": rec.attempts.len(),
        "started_at": rec.started_at.map(crate::time::rfc3339),
        "finished_at": rec.finished_at.map(crate::time::rfc3339),
        "log": store.log_path(&rec.id),
        "detail": rec.detail,
        "port": rec.port,
        "pr_url": rec.pr_url,
    })
}

/// The JSON document every `--json` prints.
pub fn document(tasks: Vec<Value>) -> String {
    let doc = json!({ "version": 1, "tasks": tasks });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// How long the task ran (or has been running).
pub fn elapsed(rec: &Record) -> Option<Duration> {
    let start = rec.started_at?;
    let end = rec.finished_at.unwrap_or_else(crate::time::now);
    Some(Duration::from_millis(end.saturating_sub(start)))
}
