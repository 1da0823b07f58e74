//! A task spawned again (SPEC §5): whether it may be, and clearing what its last run
//! left before the new one starts. Both ask prune's own decisions (`cleanup`), so a
//! re-spawn never removes what `prune --force` would keep.

use anyhow::Result;

use crate::error::Error;
use crate::git::Repo;
use crate::store::{Record, Store};
use crate::task::State;

/// Whether a task that has a record may be spawned again: always when its worktree and
/// branch are both gone; when they exist, only after it ended `interrupted`, `failed`,
/// `timed-out` or `empty`, and nothing keeps them (a process working in the worktree, a
/// lock, another checkout of the branch). A running task, and work that succeeded or
/// merged, are refused with the reason.
pub fn check(repo: &Repo, store: &Store, rec: &Record) -> Result<()> {
    let id = &rec.id;
    let refuse = |what: String, hint: String| -> Result<()> {
        Err(Error::usage(format!("task {id} {what}"))
            .with_hint(hint)
            .into())
    };
    let state = crate::engine::cleanup::effective(rec);
    if state == State::Running {
        let pid = rec
            .child
            .filter(|c| c.group_alive())
            .or(rec.owner)
            .map(|p| format!(" (pid {})", p.pid))
            .unwrap_or_default();
        return refuse(
            format!("is running{pid}"),
            "wait for it to end, or interrupt the git agents process running it".into(),
        );
    }
    let worktree_there = rec.worktree.symlink_metadata().is_ok();
    if !worktree_there && !repo.branch_exists(&rec.branch) {
        return Ok(());
    }
    let prune = format!("prune it first to run it again: git agents prune {id}");
    match state {
        State::Interrupted | State::Failed | State::TimedOut | State::Empty => {}
        State::Succeeded => {
            return refuse(
                format!(
                    "was already spawned and succeeded: its work is on {}",
                    rec.branch
                ),
                format!("{prune} (or merge it: git agents merge {id})"),
            );
        }
        State::Conflicted => {
            return refuse(
                "was already spawned, and its merge conflicted".into(),
                format!("merge it with --on-conflict agent or retry, or {prune}"),
            );
        }
        s => return refuse(format!("was already spawned (state {s})"), prune),
    }
    let trash = crate::engine::cleanup::Trash::new(store);
    let cleanup = crate::engine::cleanup::Context::new(repo, store, &trash, true);
    let task = previous(rec, Some(rec.clone()));
    let f = cleanup.facts(&task);
    let mut keep = f.never.clone();
    if let crate::worktree::Found::Plain = f.found {
        keep.push(format!(
            "{} is not a git worktree of this repository",
            rec.worktree.display()
        ));
    }
    if let crate::worktree::Found::Linked(a) = &f.found
        && a.locked().is_some()
    {
        keep.push(format!(
            "{} is locked (git worktree lock)",
            rec.worktree.display()
        ));
    }
    for (pid, name) in f.users.iter().take(3) {
        keep.push(format!(
            "{} is in use by {name} (pid {pid})",
            rec.worktree.display()
        ));
    }
    if keep.is_empty() {
        return Ok(());
    }
    refuse(
        format!("cannot be spawned again: {}", keep.join("; ")),
        format!("deal with that, or {prune}"),
    )
}

fn previous(rec: &Record, with: Option<Record>) -> crate::engine::cleanup::Task {
    crate::engine::cleanup::Task {
        id: rec.id.clone(),
        state: crate::engine::cleanup::effective(rec),
        rec: with,
        branch: rec.branch.clone(),
        worktree: Some(rec.worktree.clone()),
        base: rec.base.clone(),
    }
}

/// Remove what a task spawned again left of its last run, as `prune --force` would:
/// every tip not in its base and every uncommitted file (as a commit) logged to
/// pruned.log first. Nothing is removed when any of it cannot be logged.
pub fn replace(repo: &Repo, store: &Store, prior: &Record) -> Result<()> {
    if prior.worktree.symlink_metadata().is_err() && !repo.branch_exists(&prior.branch) {
        return Ok(());
    }
    let trash = crate::engine::cleanup::Trash::new(store);
    let cleanup = crate::engine::cleanup::Context::new(repo, store, &trash, false);
    // No record given: the task's record is already the new claim, not a tombstone to be.
    let fate = cleanup.remove(&previous(prior, None), true);
    trash.empty_in_background(Vec::new())?;
    match fate {
        crate::engine::cleanup::Fate::Pruned { .. } => Ok(()),
        crate::engine::cleanup::Fate::Kept { reasons, .. } => Err(Error::refused(format!(
            "cannot replace the last attempt: {}",
            reasons.join("; ")
        ))
        .into()),
        crate::engine::cleanup::Fate::Failed(e) => {
            Err(anyhow::anyhow!("cannot replace the last attempt: {e}"))
        }
    }
}
