//! Task graphs (`depends_on`): which tasks a spawn runs besides those asked for, when a
//! task may start, and where it starts from.
//!
//! A dependency is named by its manifest id. It is done when its task succeeded, came
//! back empty or was merged; for a best-of-N task, when its winner was chosen. A task
//! starts from its base with every dependency's branch merged in, computed in memory
//! (the merge queue's [`Merger`]) and recorded as its base commit. A dependency that
//! failed, timed out or was stopped, or dependencies whose branches conflict with each
//! other, keep it from starting: it ends `failed`, `blocked_by` naming them.

use anyhow::Result;

use super::plan::Planned;
use crate::git::Repo;
use crate::merge::{Landing, Merger, Messages};
use crate::store::{Record, Store};
use crate::task::State;

mod expand;
mod merge;
mod ready;

pub use expand::{BestOf, Want, expand};
pub use merge::{dependency_order, merge_set};
pub use ready::{Next, Ready};

/// Where a dependency stands, as the store tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Succeeded, empty or merged (best-of-N: a winner chosen).
    Done,
    /// Pending or running under a live process.
    Running,
    /// Its process died before it ended (`kill -9`, a crash): a spawn resumes it.
    Interrupted,
    /// Never spawned (or pruned before it was merged).
    Unspawned,
    /// Ended without work to build on: why, e.g. `failed`.
    Bad(String),
}

/// The status of one record's task.
fn status_of(rec: &Record) -> Status {
    if rec.pruned {
        return if rec.state == State::Merged || rec.merged_commit.is_some() {
            Status::Done
        } else {
            Status::Unspawned
        };
    }
    match (rec.state, super::cleanup::effective(rec)) {
        (_, State::Running) => Status::Running,
        // Its process died while it was pending or running.
        (State::Pending | State::Running, _) => Status::Interrupted,
        (_, State::Succeeded | State::Empty | State::Merged | State::Conflicted) => Status::Done,
        (_, s) => Status::Bad(s.to_string()),
    }
}

/// Where the task (or best-of-N group) `id` stands.
pub fn status(store: &Store, id: &str) -> Status {
    let members = super::candidates::members(store, id);
    if let Ok(Some(rec)) = store.load(id)
        && (members.is_empty() || !rec.pruned)
    {
        return status_of(&rec);
    }
    if members.is_empty() {
        return Status::Unspawned;
    }
    let each: Vec<Status> = members.iter().map(status_of).collect();
    if each.contains(&Status::Running) {
        return Status::Running;
    }
    if each.contains(&Status::Interrupted) {
        return Status::Interrupted;
    }
    match members[0].graph.winner.as_deref() {
        Some(w) => match members.iter().find(|m| m.id == w).map(status_of) {
            Some(Status::Done) => Status::Done,
            _ => Status::Bad(format!("its winner {w} has no work to build on")),
        },
        None => Status::Bad("no candidate succeeded".into()),
    }
}

/// The dependencies of `rec` that are not done: what it waits for (or is blocked by).
pub fn waiting_for(store: &Store, rec: &Record) -> Vec<String> {
    rec.graph
        .depends_on
        .iter()
        .filter(|d| status(store, d) != Status::Done)
        .cloned()
        .collect()
}

/// The branch holding a done dependency's work, and its tip: the task's own, or its
/// winner's. None when there is none to merge (empty, or merged and pruned).
fn work_of(repo: &Repo, store: &Store, id: &str) -> Option<(String, gix::ObjectId)> {
    let rec = match store.load(id).ok().flatten() {
        Some(r) if !r.pruned || r.graph.candidate_of.is_some() => r,
        _ => {
            let members = super::candidates::members(store, id);
            let w = members.first()?.graph.winner.clone()?;
            members.into_iter().find(|m| m.id == w)?
        }
    };
    let tip = repo.branch_tip(&rec.branch)?;
    Some((rec.branch, tip))
}

/// Why a task cannot start from its dependencies' work.
#[derive(Debug)]
pub struct Blocked {
    pub by: Vec<String>,
    pub detail: String,
}

/// The commit `t` starts from: its base with each dependency's branch merged in (a
/// fast-forward where one already holds the other), written to the object database.
pub fn start_point(repo: &Repo, store: &Store, t: &Planned) -> Result<Result<String, Blocked>> {
    let mut onto = gix::ObjectId::from_hex(t.base_commit.as_bytes())?;
    let mut merger = Merger::new(repo, false)?;
    let mut merged: Vec<&str> = Vec::new();
    for dep in &t.deps {
        let Some((branch, tip)) = work_of(repo, store, dep) else {
            continue;
        };
        if merger.is_ancestor(tip, onto)? {
            continue;
        }
        if merger.is_ancestor(onto, tip)? {
            onto = tip;
            merged.push(dep);
            continue;
        }
        let subject = format!("dependency {dep} of {}", t.id);
        let msg = Messages {
            id: t.id.as_str(),
            branch: &branch,
            subject: &subject,
        };
        match merger.land(crate::manifest::Strategy::Merge, onto, tip, &msg)? {
            Landing::UpToDate => {}
            Landing::Merged { tip, .. } => onto = tip,
            Landing::Conflict { paths } => {
                merger.forget();
                let mut by: Vec<String> = merged.iter().map(|s| s.to_string()).collect();
                by.push(dep.clone());
                let shown: Vec<&str> = paths.iter().take(5).map(String::as_str).collect();
                let more = paths.len().saturating_sub(shown.len());
                return Ok(Err(Blocked {
                    detail: format!(
                        "blocked: its dependencies {} conflict in {}{}",
                        by.join(", "),
                        shown.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        }
                    ),
                    by,
                }));
            }
        }
        merged.push(dep);
    }
    merger.keep()?;
    Ok(Ok(onto.to_string()))
}

/// `waiting_for` in JSON: the dependencies not done of a task that has not started.
pub fn waiting_json(store: &Store, rec: &Record) -> Vec<String> {
    if rec.graph.depends_on.is_empty() || !rec.attempts.is_empty() {
        return Vec::new();
    }
    if !rec.graph.blocked_by.is_empty() {
        return rec.graph.blocked_by.clone();
    }
    waiting_for(store, rec)
}

/// What the STATE column adds for a task in a graph: `waiting for a, b` while it waits,
/// `blocked by a` once a dependency kept it from starting.
pub fn state_note(store: &Store, rec: &Record) -> Option<String> {
    if !rec.graph.blocked_by.is_empty() && rec.attempts.is_empty() {
        return Some(format!("blocked by {}", rec.graph.blocked_by.join(", ")));
    }
    if rec.state == State::Pending && rec.attempts.is_empty() && !rec.graph.depends_on.is_empty() {
        let w = waiting_for(store, rec);
        if !w.is_empty() {
            return Some(format!("waiting for {}", w.join(", ")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependants_follow_their_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.prepare().unwrap();
        for (id, deps) in [
            ("d", vec!["b", "c"]),
            ("c", vec!["a"]),
            ("b", vec!["a"]),
            ("a", vec![]),
        ] {
            let rec: Record = serde_json::from_value(serde_json::json!({
                "version": 1, "id": id, "state": "succeeded", "branch": format!("agent/{id}"),
                "base": "main", "base_commit": "0", "worktree": "/w", "prompt": "",
                "command": [], "check": null, "exit_code": null, "head": null,
                "created_at": 0, "started_at": null, "finished_at": null, "owner": null,
                "child": null, "depends_on": deps,
            }))
            .unwrap();
            store.save(&rec).unwrap();
        }
        let ids = ["d", "c", "b", "a"].map(String::from).to_vec();
        assert_eq!(dependency_order(&store, ids), ["a", "b", "c", "d"]);
    }
}
