//! The slow steps of the merge queue, each a child process (the check of a merged
//! result is in [`super::check`]): an agent resolving conflicts in its task's worktree, a task
//! re-run from the new base, and pruning a merged task.
//!
//! None of them touches the user's checkout. Trouble a task can have (an agent that
//! fails, a check that fails) becomes that task's verdict; only our own failures are
//! errors.

use anyhow::Result;
use gix::ObjectId;
use std::io::Write;
use std::path::Path;

use super::check::{hold_port, seat, supervised};
use super::{Item, Queue, agent_of, phase};
use crate::copy;
use crate::dirty::Untracked;
use crate::engine::cleanup;
use crate::engine::events::Phase;
use crate::git::{self, Repo};
use crate::merge;
use crate::store::{Proc, Record, Store};
use crate::supervise::Outcome;
use crate::task::State;

/// How an attempt to get past a conflict ended.
pub enum Resolution {
    /// The task's branch changed: merge it again.
    Again,
    /// Re-run from the new base, the task changed nothing.
    Empty,
    /// Still conflicted, and why.
    Conflicted(String),
    /// The re-run failed (its record says how).
    Failed(String),
    /// Its agent was stopped (`git agents stop`, Ctrl-C): the task is `interrupted`.
    Interrupted(String),
}

/// Merge `tip` (the queue's landed base) into the task's branch inside its worktree,
/// leaving conflict markers, and run the task's agent there to resolve them. A good
/// resolution is committed as the merge; anything else is undone with `merge --abort`.
pub fn resolve_with_agent(
    q: &Queue,
    it: &Item,
    into: &str,
    tip: ObjectId,
    conflicts: &[String],
) -> Result<Resolution> {
    let store = q.store;
    let rec = &it.rec;
    let id = rec.id.as_str();
    let wt = &rec.worktree;
    let listed = merge::short_list(conflicts, 5);
    let give_up = |why: &str| {
        Ok(Resolution::Conflicted(format!(
            "conflicts in {listed}; {why}"
        )))
    };
    // A remote task gets its worktree here, from its fetched branch.
    crate::remote::materialize(&q.repo.root, rec)?;
    if !wt.is_dir() {
        return give_up("its worktree is gone, so its agent cannot resolve them");
    }
    if git::checked_out_branch(wt)? != Some(format!("refs/heads/{}", rec.branch)) {
        return give_up(&format!("its worktree is not on {}", rec.branch));
    }
    if crate::dirty::changes(wt, Untracked::Skip)?.count > 0 {
        return give_up("its worktree has uncommitted changes");
    }
    q.events.task(id, phase(Phase::Resolving, rec));
    let message = format!(
        "Merge {into} into {} to resolve conflicts\n\nAgent-Task: {id}\n",
        rec.branch
    );
    // Whatever can fail before the agent runs is done before the merge starts, so an
    // error never leaves the task's worktree mid-merge.
    let agent = agent_of(rec)?;
    let mut log = store.open_log(id)?;
    let prompt_dir = store.dir.join("prompts").join("conflict");
    crate::store::private_dir(&prompt_dir)?;
    let prompt_file = prompt_dir.join(format!("{id}.md"));
    // Files the task copies in are never part of its commits, as in spawn's.
    let copied = copy::paths(&copy::task_entries(&q.repo.root, &it.settings.copy)?);
    let merged = git::merge_leaving_conflicts(wt, tip, &message)?;
    if merged.status.success() {
        return Ok(Resolution::Again); // git's own merge found no conflict
    }
    let unmerged = match git::unmerged_paths(wt) {
        Ok(l) => l,
        Err(e) => {
            abort_merge(wt);
            return Err(e);
        }
    };
    if unmerged.is_empty() {
        abort_merge(wt);
        let stderr = String::from_utf8_lossy(&merged.stderr);
        return give_up(&format!("git merge failed: {}", stderr.trim()));
    }

    let restore = |state: State, detail: Option<String>| {
        store.update(id, |r| {
            r.state = state;
            r.child = None;
            r.owner = None;
            r.port = None;
            r.head = git::worktree_head(&r.worktree).map(|h| h.to_string());
            if let Some(d) = &detail {
                r.detail = Some(d.clone());
            }
        })
    };
    // A stopped agent leaves the task `interrupted`, as a stopped spawn does: its branch
    // is as it was before the merge began.
    let stopped = || {
        let why = format!("interrupted while its agent resolved conflicts with {into}");
        abort_merge(wt);
        restore(State::Interrupted, Some(why.clone()))?;
        Ok(Resolution::Interrupted(why))
    };
    let prompt = conflict_prompt(rec, into, &unmerged);
    let deadline = it.settings.timeout.and_then(crate::time::deadline);
    let prepared = (|| -> Result<Option<u16>> {
        crate::store::write_atomic(&prompt_file, prompt.as_bytes())?;
        store.update(id, |r| {
            r.state = State::Running;
            r.owner = Some(Proc::current());
        })?;
        // Like every agent, this one gets a port no other running task holds; it waits
        // for one while other tasks hold them all, and never runs without.
        hold_port(q.env(), rec, deadline)
    })();
    let port = match prepared {
        Ok(Some(p)) => p,
        Ok(None) => return stopped(),
        Err(e) => {
            abort_merge(wt);
            restore(State::Conflicted, None)?;
            return Err(e);
        }
    };
    let notes = store.notes_path(id);
    let repo_name = q.repo.name();
    let job =
        seat(it, wt, into, port, &notes, &repo_name, deadline).agent(&agent, &prompt, &prompt_file);
    let _ = writeln!(
        log,
        "==> git-agents merge: resolving conflicts with {into} in {}",
        listed
    );
    let outcome = match supervised(q.env(), id, &job, &mut log, None) {
        Ok(o) => o,
        Err(e) => {
            abort_merge(wt);
            restore(State::Conflicted, None)?;
            return give_up(&format!("its agent could not start: {e:#}"));
        }
    };

    let merging = git::merge_in_progress(wt)?;
    let left: Vec<String> = unmerged
        .iter()
        .filter(|p| has_markers(&wt.join(p)))
        .cloned()
        .collect();
    let why = match outcome {
        Outcome::Exited(0) if left.is_empty() => None,
        Outcome::Exited(0) => Some(format!(
            "its agent left conflict markers in {}",
            merge::short_list(&left, 5)
        )),
        Outcome::Exited(c) => Some(format!("its agent exited {c}")),
        Outcome::TimedOut => Some("its agent timed out".into()),
        Outcome::Interrupted => return stopped(),
    };
    if let Some(why) = why {
        if merging {
            abort_merge(wt);
        }
        restore(State::Conflicted, None)?;
        return give_up(&why);
    }
    // Commit the resolution (or whatever the agent left after committing it itself).
    if merging {
        git::stage_all_except(wt, &copied)?;
        git::commit_merge(wt)?;
    } else {
        git::commit_all_except(wt, &copied, &format!("Resolve conflicts with {into}"), id)?;
    }
    restore(State::Succeeded, None)?;
    Ok(Resolution::Again)
}

fn conflict_prompt(rec: &Record, into: &str, paths: &[String]) -> String {
    let mut p = format!(
        "Merging `{into}` into this branch (`{}`) stopped with conflicts in these files:\n\n",
        rec.branch
    );
    for path in paths {
        p.push_str(&format!("- {path}\n"));
    }
    p.push_str(
        "\nResolve every conflict: edit those files so that no conflict markers \
         (<<<<<<<, =======, >>>>>>>) remain and both sides' intent is kept. \
         Do not commit; the merge is committed for you when you are done.\n\n\
         The task this branch was made for:\n\n",
    );
    p.push_str(&rec.prompt);
    if !rec.prompt.ends_with('\n') {
        p.push('\n');
    }
    p
}

fn has_markers(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    bytes
        .split(|b| *b == b'\n')
        .any(|l| l.starts_with(b"<<<<<<< ") || l.starts_with(b">>>>>>> ") || l == b"<<<<<<<")
}

fn abort_merge(wt: &Path) {
    let _ = git::abort_merge(wt);
}

/// Re-run the task from `tip` in a fresh worktree, as spawn does.
pub fn rerun(q: &Queue, it: &Item, tip: ObjectId) -> Result<Resolution> {
    let rec = &it.rec;
    let id = rec.id.as_str();
    // Its worktree is replaced: anything uncommitted there, untracked files included,
    // would be lost.
    if rec.worktree.is_dir()
        && let Ok(c) = crate::dirty::changes(&rec.worktree, Untracked::Count)
        && c.count > 0
    {
        return Ok(Resolution::Conflicted(format!(
            "conflicts; its worktree has {} uncommitted change(s), so it was not re-run",
            c.count
        )));
    }
    let agent = agent_of(rec)?;
    q.events.task(id, phase(Phase::Resolving, rec));
    q.relaunch.rerun(it, agent, tip)?;
    let after = q.store.update(id, |r| r.base_commit = tip.to_string())?;
    Ok(match after.state {
        State::Succeeded => Resolution::Again,
        State::Empty => Resolution::Empty,
        other => Resolution::Failed(format!(
            "re-run from the new base ended {other}{}",
            after.detail.map(|d| format!(": {d}")).unwrap_or_default()
        )),
    })
}

/// Remove a merged task's worktree and branch. A worktree with changes is kept; a
/// branch tip no other ref reaches (squash, rebase) is logged first, as prune does.
pub fn prune(repo: &Repo, store: &Store, rec: &Record) -> Result<()> {
    // The removal itself is prune's, with all its safety checks.
    let trash = cleanup::Trash::new(store);
    let ctx = cleanup::Context::new(repo, store, &trash, false);
    let task = cleanup::Task {
        id: rec.id.clone(),
        rec: Some(rec.clone()),
        state: cleanup::effective(rec),
        branch: rec.branch.clone(),
        worktree: Some(rec.worktree.clone()),
        base: rec.merged_into.clone().unwrap_or_else(|| rec.base.clone()),
    };
    let fate = ctx.remove(&task, false);
    trash.empty_in_background(Vec::new())?;
    match fate {
        cleanup::Fate::Pruned { .. } => Ok(()),
        cleanup::Fate::Kept { reasons, .. } => {
            anyhow::bail!("kept: {}", reasons.join("; "))
        }
        cleanup::Fate::Failed(e) => anyhow::bail!(e),
    }
}
