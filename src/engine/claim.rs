//! Claiming planned tasks in the store, under its lock, so two spawns never run one task
//! twice: a pending record per task, owned by this process and naming its batch. All or
//! nothing: a claim that fails half-way (a full disk) leaves no task claimed.

use anyhow::Result;
use std::collections::HashMap;
use std::path::Path;

use super::plan::Planned;
use crate::error::Error;
use crate::git::Repo;
use crate::store::{Proc, Record, Store};
use crate::task::State;

/// Write a pending record per task under the lock, naming `batch`. A task another
/// process claimed since we planned is dropped when spawning "everything not yet
/// spawned" (`all_unspawned`), and refused when it was asked for by id.
pub fn claim(
    store: &Store,
    plan: Vec<Planned>,
    all_unspawned: bool,
    batch: &str,
) -> Result<Vec<Planned>> {
    let _lock = store.lock()?;
    let mut kept = Vec::with_capacity(plan.len());
    // Records the claim replaces (tombstones, or a task spawned again), to put back if
    // it fails.
    let mut replaced = HashMap::new();
    for p in plan {
        let now = store.load(p.id.as_str())?;
        // Unchanged since planning: no record (or a tombstone), or the very record the
        // re-spawn was checked against.
        let unchanged = match (&now, &p.prior) {
            (None, _) => true,
            (Some(n), None) => n.pruned,
            (Some(n), Some(was)) => {
                (n.created_at, n.attempts.len(), n.state, n.owner, n.pruned)
                    == (
                        was.created_at,
                        was.attempts.len(),
                        was.state,
                        was.owner,
                        was.pruned,
                    )
            }
        };
        if !unchanged {
            if all_unspawned {
                continue;
            }
            return Err(Error::usage(format!(
                "task {} was just spawned by another git agents process",
                p.id
            ))
            .into());
        }
        if let Some(rec) = now {
            replaced.insert(rec.id.clone(), rec);
        }
        kept.push(p);
    }
    let plan = kept;
    store.prepare()?;
    let now = crate::time::now();
    for (i, p) in plan.iter().enumerate() {
        let claimed = claim_one(store, p, batch, now);
        crate::fault::point("spawn:claimed-one");
        if let Err(e) = claimed {
            // All or nothing (a full disk, say): no task stays claimed by a run that
            // never starts it.
            for p in &plan[..=i] {
                let id = p.id.as_str();
                let _ = std::fs::remove_file(store.record_path(id));
                let _ = std::fs::remove_file(store.prompt_path(id));
                // A task spawned again keeps the log of its earlier attempts.
                if p.prior.is_none() {
                    let _ = std::fs::remove_file(store.log_path(id));
                }
                if let Some(old) = replaced.get(id) {
                    let _ = store.save(old);
                }
            }
            return Err(e);
        }
    }
    Ok(plan)
}

/// Write one task's prompt, empty log and pending record.
fn claim_one(store: &Store, p: &Planned, batch: &str, now: u64) -> Result<()> {
    let id = p.id.as_str();
    crate::store::write_atomic(&store.prompt_path(id), p.prompt.as_bytes())?;
    // A task spawned again keeps its log and its attempts' history.
    crate::store::private_file(&store.log_path(id), p.prior.is_none())?;
    store.save(&Record {
        version: crate::store::RECORD_VERSION,
        id: id.to_string(),
        state: State::Pending,
        branch: p.branch.clone(),
        base: p.base_name.clone(),
        base_commit: p.base_commit.clone(),
        worktree: p.worktree.clone(),
        prompt: p.prompt.clone(),
        command: p.agent.template.clone(),
        check_command: p.settings.check.clone(),
        check: None,
        exit_code: None,
        head: None,
        created_at: p.prior.as_ref().map_or(now, |r| r.created_at),
        started_at: None,
        finished_at: None,
        attempts: p
            .prior
            .as_ref()
            .map(|r| r.attempts.clone())
            .unwrap_or_default(),
        owner: Some(Proc::current()),
        child: None,
        port: None,
        detail: None,
        pruned: false,
        pr_url: None,
        merged_at: None,
        merged_commit: None,
        merged_into: None,
        conflicts: Vec::new(),
        merge_check: None,
        batch: Some(batch.to_string()),
        output: p.agent.output.map(|f| f.name().to_string()),
        reason: None,
        hint: None,
        isolation: Some(p.settings.sandbox.isolation(&p.agent.template[0])),
        runner_stop: None,
        graph: crate::store::Graph {
            depends_on: p.deps.clone(),
            candidate_of: p.candidate_of.clone(),
            ..Default::default()
        },
        remote: None,
    })
}

/// Withdraw the claim of a task that never started (interrupted before its turn), so a
/// later spawn runs it. A task spawned again gets back the record of its last run (its
/// worktree and branch are still there) and keeps its log.
pub fn unclaim(store: &Store, p: &Planned) {
    let id = p.id.as_str();
    match &p.prior {
        Some(prior) => {
            let _ = store.save(prior);
        }
        None => {
            let _ = std::fs::remove_file(store.record_path(id));
            let _ = std::fs::remove_file(store.log_path(id));
        }
    }
}

/// Keep the worktree dir out of `git status` through `.git/info/exclude` (never a
/// tracked `.gitignore`), when it lies inside the main worktree.
pub fn exclude_worktree_dir(repo: &Repo, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(&repo.root) else {
        return Ok(());
    };
    let pattern = format!("/{}/", rel.to_string_lossy().trim_end_matches('/'));
    let info = repo.common_dir.join("info");
    let path = info.join("exclude");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current.lines().any(|l| l.trim() == pattern) {
        return Ok(());
    }
    std::fs::create_dir_all(&info)?;
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# git-agents worktrees\n");
    text.push_str(&pattern);
    text.push('\n');
    crate::store::write_atomic(&path, text.as_bytes())
}
