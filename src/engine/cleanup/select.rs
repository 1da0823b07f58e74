//! Which tasks `prune` looks at: every recorded task and every orphan, the default
//! selection, those only `--force` would remove, and the stale metadata of worktrees
//! that are gone. Tasks are looked at in parallel.

use anyhow::Result;
use gix::ObjectId;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Context, Fate, Task, admin_head, effective};
use crate::modules;
use crate::task::{State, TaskId};
use crate::worktree::{self, Admin};

/// Which tasks `prune` takes when no id is named (SPEC §5 prune).
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection {
    /// Also failed, timed-out and interrupted tasks.
    pub failed: bool,
    /// Every task (running agents are still never touched).
    pub all: bool,
}

/// A stale worktree admin dir of ours that no task claimed, and what became of it.
#[derive(Debug)]
pub enum Stale {
    /// Cleared (or would be), after keeping the commits of its submodule stores.
    Cleared {
        worktree: PathBuf,
        kept: Vec<String>,
    },
    /// Left alone: its submodule commits could not be kept.
    Kept { worktree: PathBuf, why: String },
}

impl Context<'_> {
    /// Every task known to the store (tombstones aside), and orphans: registered
    /// worktrees in `worktree_dir` and branches under `prefix` that no record claims,
    /// taken to come from `base` (else the branch checked out in the main worktree).
    pub fn gather(
        &self,
        worktree_dir: &Path,
        prefix: &str,
        base: Option<&str>,
    ) -> Result<Vec<Task>> {
        let mut tasks = Vec::new();
        let mut claimed = HashSet::new();
        for rec in self.store.all()? {
            if rec.pruned {
                continue;
            }
            claimed.insert(rec.id.clone());
            tasks.push(Task {
                id: rec.id.clone(),
                state: effective(&rec),
                branch: rec.branch.clone(),
                worktree: Some(rec.worktree.clone()),
                base: rec.base.clone(),
                rec: Some(rec),
            });
        }
        let default_base = base
            .map(str::to_string)
            .or_else(|| self.repo.head_branch())
            .unwrap_or_else(|| "HEAD".into());
        let new_orphan = |id: &str| Task {
            id: id.to_string(),
            rec: None,
            state: State::Orphaned,
            branch: format!("{prefix}{id}"),
            worktree: None,
            base: default_base.clone(),
        };
        let is_orphan = |id: &str| !claimed.contains(id) && TaskId::parse(id).is_ok();
        let mut orphans: BTreeMap<String, Task> = BTreeMap::new();
        let dir = worktree::canon(worktree_dir);
        for a in &self.admins {
            if a.worktree.parent() == Some(dir.as_path())
                && let Some(id) = a.worktree.file_name().and_then(|n| n.to_str())
                && is_orphan(id)
            {
                orphans
                    .entry(id.to_string())
                    .or_insert_with(|| new_orphan(id))
                    .worktree = Some(a.worktree.clone());
            }
        }
        let repo = self.repo.local();
        let full_prefix = format!("refs/heads/{prefix}");
        if let Ok(refs) = repo.references()
            && let Ok(iter) = refs.prefixed(full_prefix.as_str())
        {
            for r in iter.flatten() {
                let name = r.name().as_bstr().to_string();
                if let Some(id) = name.strip_prefix(&full_prefix)
                    && is_orphan(id)
                {
                    orphans
                        .entry(id.to_string())
                        .or_insert_with(|| new_orphan(id));
                }
            }
        }
        tasks.extend(orphans.into_values());
        Ok(tasks)
    }

    /// Whether `prune` takes `t` when no id is named.
    pub fn wanted(&self, t: &Task, sel: Selection) -> bool {
        match t.state {
            _ if sel.all => true,
            _ if t
                .rec
                .as_ref()
                .is_some_and(|r| crate::engine::candidates::lost_to_merged(self.store, r)) =>
            {
                true
            }
            State::Merged | State::Empty => true,
            State::Failed | State::TimedOut | State::Interrupted => sel.failed,
            State::Succeeded | State::Orphaned => self.done(t, t.rec.as_ref()).0.is_some(),
            State::Running | State::Pending | State::Conflicted => false,
        }
    }

    /// The tasks among `tasks` that only `--force` would remove, with what it would
    /// discard of each (tasks that must never be touched are not among them).
    pub fn needing_force<'t>(&self, tasks: &'t [Task]) -> Vec<(&'t Task, Vec<String>)> {
        let facts = parallel(tasks, |t| self.facts(t));
        tasks
            .iter()
            .zip(&facts)
            .filter(|(_, f)| f.never.is_empty())
            .map(|(t, f)| (t, f.risks(t)))
            .filter(|(_, r)| !r.is_empty())
            .collect()
    }

    /// Remove each of `tasks` (in parallel), forcing those `force` says.
    pub fn remove_all(&self, tasks: &[Task], force: impl Fn(&Task) -> bool + Sync) -> Vec<Fate> {
        parallel(tasks, |t| self.remove(t, force(t)))
    }

    /// Whatever else git keeps for worktrees of ours (`tasks`, or under `worktree_dir`)
    /// that no longer exist. In a dry run, those the tasks' own removals already say
    /// they would clear are left out.
    pub fn clear_stale(
        &self,
        tasks: &[Task],
        fates: &[Fate],
        worktree_dir: &Path,
    ) -> Result<Vec<Stale>> {
        let root = &self.repo.root;
        if !self.dry_run {
            // Scratch worktrees of a merge that was killed (its pid is gone).
            crate::engine::queue::clean_scratch(self.repo, self.store);
        }
        let task_of = |a: &Admin| {
            tasks.iter().zip(fates).find(|(t, _)| {
                t.worktree
                    .as_deref()
                    .is_some_and(|w| worktree::canon(w) == a.worktree)
            })
        };
        let mut out = Vec::new();
        for a in worktree::admins(&self.repo.common_dir) {
            let task = task_of(&a);
            if self.dry_run && matches!(task, Some((_, Fate::Pruned { .. }))) {
                continue;
            }
            let ours = task.is_some() || a.worktree.starts_with(worktree::canon(worktree_dir));
            if !ours || !a.is_stale() {
                continue;
            }
            let mut kept = Vec::new();
            if !self.dry_run {
                // Its submodule stores may hold an agent's only copy of a commit.
                let id = match task {
                    Some((t, _)) => t.id.clone(),
                    None => a
                        .dir
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                };
                let tips: Vec<ObjectId> = admin_head(self.repo, &a).into_iter().collect();
                match modules::keep(&self.repo.common_dir, root, &a.dir, &tips, &id, false) {
                    Ok(k) => kept = k.iter().map(|k| k.describe(false, root)).collect(),
                    Err(e) => {
                        out.push(Stale::Kept {
                            worktree: a.worktree,
                            why: format!("{e:#}"),
                        });
                        continue;
                    }
                }
                self.trash.take(&a.dir, "stale.git")?;
            }
            out.push(Stale::Cleared {
                worktree: a.worktree,
                kept,
            });
        }
        Ok(out)
    }
}

/// Run `f` on every task on a few threads; results in the tasks' order.
fn parallel<T: Send>(tasks: &[Task], f: impl Fn(&Task) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
        .min(tasks.len());
    if threads <= 1 {
        return tasks.iter().map(&f).collect();
    }
    let queue = Mutex::new(tasks.iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::with_capacity(tasks.len()));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((i, t)) = next else { break };
                    let r = f(t);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
