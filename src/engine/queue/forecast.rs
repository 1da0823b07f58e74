//! The conflict forecast (`merge --plan`, `merge --order forecast`, `list --conflicts`):
//! for every task waiting to merge, whether it merges cleanly onto its base, and which
//! other tasks' branches it conflicts with, pairwise. All of it is computed in memory:
//! nothing is written to the object database, no ref or file changes.
//!
//! Two tasks are merged together only when the paths they change overlap: tasks that
//! touch disjoint paths cannot conflict, and on a queue of twenty tasks most pairs do.

use anyhow::Result;
use gix::ObjectId;
use gix::bstr::ByteSlice;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use super::Item;
use crate::git::Repo;
use crate::manifest::Strategy;
use crate::merge::{Landing, Merger, Messages};
use crate::store::Record;

/// How a task merges onto its base, alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OntoBase {
    Clean,
    /// Its work is in the base already.
    UpToDate,
    /// Conflicts on these paths.
    Conflict(Vec<String>),
    /// Its branch is gone.
    Gone,
}

impl OntoBase {
    pub fn as_str(&self) -> &'static str {
        match self {
            OntoBase::Clean => "clean",
            OntoBase::UpToDate => "up-to-date",
            OntoBase::Conflict(_) => "conflict",
            OntoBase::Gone => "gone",
        }
    }
}

/// One task's forecast.
#[derive(Debug, Clone)]
pub struct TaskForecast {
    pub id: String,
    pub into: String,
    pub onto_base: OntoBase,
    /// The other tasks it conflicts with (merged onto the base after either), with the
    /// paths, in queue order.
    pub conflicts_with: Vec<(String, Vec<String>)>,
}

/// The forecast of a queue.
#[derive(Debug, Clone)]
pub struct Forecast {
    pub tasks: Vec<TaskForecast>,
    /// The queue order (indexes into the items) that lands the most tasks: a largest
    /// set of tasks that conflict with neither the base nor each other, in queue order,
    /// then the others.
    pub order: Vec<usize>,
    /// How many tasks that order lands, if no check fails.
    pub lands: usize,
}

/// A task to forecast: its id, branch, base, and how it merges.
pub struct Subject<'a> {
    pub rec: &'a Record,
    pub into: &'a str,
    pub strategy: Strategy,
}

/// The forecast of `items` (each into `targets[item.target]`).
pub fn forecast(repo: &Repo, items: &[Item], targets: &[String]) -> Result<Forecast> {
    let subjects: Vec<Subject> = items
        .iter()
        .map(|it| Subject {
            rec: &it.rec,
            into: &targets[it.target],
            strategy: it.strategy,
        })
        .collect();
    forecast_of(repo, &subjects)
}

/// For `list --conflicts`: the ids each of `recs` (tasks waiting to merge into their
/// base) would conflict with.
pub fn conflicts_among(repo: &Repo, recs: &[Record]) -> Result<BTreeMap<String, Vec<String>>> {
    let subjects: Vec<Subject> = recs
        .iter()
        .filter(|r| repo.branch_exists(&r.base))
        .map(|r| Subject {
            rec: r,
            into: &r.base,
            strategy: Strategy::Merge,
        })
        .collect();
    let f = forecast_of(repo, &subjects)?;
    Ok(f.tasks
        .into_iter()
        .map(|t| {
            (
                t.id,
                t.conflicts_with.into_iter().map(|(id, _)| id).collect(),
            )
        })
        .collect())
}

pub fn forecast_of(repo: &Repo, subjects: &[Subject]) -> Result<Forecast> {
    // Never kept: every object of the forecast stays in memory and is dropped.
    let mut merger = Merger::new(repo, false)?;
    let n = subjects.len();
    let mut tasks = Vec::with_capacity(n);
    let mut alone: Vec<Option<ObjectId>> = vec![None; n];
    let mut heads: Vec<Option<ObjectId>> = vec![None; n];
    let mut touched: Vec<HashSet<String>> = vec![HashSet::new(); n];
    for (i, s) in subjects.iter().enumerate() {
        let onto_base = match (repo.branch_tip(&s.rec.branch), repo.branch_tip(s.into)) {
            (Some(head), Some(base)) => {
                heads[i] = Some(head);
                match land(&mut merger, s, base, head)? {
                    Landing::UpToDate => OntoBase::UpToDate,
                    Landing::Conflict { paths } => OntoBase::Conflict(paths),
                    Landing::Merged { tip, .. } => {
                        alone[i] = Some(tip);
                        touched[i] = changed_paths(&merger, base, tip)?;
                        OntoBase::Clean
                    }
                }
            }
            _ => OntoBase::Gone,
        };
        tasks.push(TaskForecast {
            id: s.rec.id.clone(),
            into: s.into.to_string(),
            onto_base,
            conflicts_with: Vec::new(),
        });
    }
    let mut edges: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); n];
    for a in 0..n {
        for b in a + 1..n {
            let (Some(tip_a), Some(head_b)) = (alone[a], heads[b]) else {
                continue;
            };
            if subjects[a].into != subjects[b].into || alone[b].is_none() {
                continue;
            }
            if touched[a].is_disjoint(&touched[b]) {
                continue;
            }
            if let Landing::Conflict { paths } = land(&mut merger, &subjects[b], tip_a, head_b)? {
                edges[a].insert(b);
                edges[b].insert(a);
                tasks[a]
                    .conflicts_with
                    .push((subjects[b].rec.id.clone(), paths.clone()));
                tasks[b]
                    .conflicts_with
                    .push((subjects[a].rec.id.clone(), paths));
            }
        }
    }
    for t in &mut tasks {
        let ids: Vec<&str> = subjects.iter().map(|s| s.rec.id.as_str()).collect();
        t.conflicts_with
            .sort_by_key(|(id, _)| ids.iter().position(|i| i == id));
    }
    let clean: Vec<usize> = (0..n)
        .filter(|&i| matches!(tasks[i].onto_base, OntoBase::Clean))
        .collect();
    let best = largest_independent(&clean, &edges);
    let mut order: Vec<usize> = best.clone();
    order.extend((0..n).filter(|i| {
        !best.contains(i) && !matches!(tasks[*i].onto_base, OntoBase::Conflict(_) | OntoBase::Gone)
    }));
    let rest: Vec<usize> = (0..n).filter(|i| !order.contains(i)).collect();
    order.extend(rest);
    let lands = best.len()
        + tasks
            .iter()
            .filter(|t| t.onto_base == OntoBase::UpToDate)
            .count();
    Ok(Forecast {
        tasks,
        order,
        lands,
    })
}

fn land(merger: &mut Merger, s: &Subject, onto: ObjectId, head: ObjectId) -> Result<Landing> {
    let subject = crate::git::subject_of(&s.rec.prompt);
    let msg = Messages {
        id: &s.rec.id,
        branch: &s.rec.branch,
        subject: &subject,
    };
    merger.land(s.strategy, onto, head, &msg)
}

/// The paths that differ between two commits' trees.
fn changed_paths(merger: &Merger, old: ObjectId, new: ObjectId) -> Result<HashSet<String>> {
    let repo = merger.repo();
    let old_tree = repo.find_commit(old)?.tree()?;
    let new_tree = repo.find_commit(new)?.tree()?;
    let changes = repo.diff_tree_to_tree(Some(&old_tree), Some(&new_tree), None)?;
    let mut out = HashSet::new();
    for c in changes {
        use gix::object::tree::diff::ChangeDetached as C;
        if let C::Rewrite {
            source_location, ..
        } = &c
        {
            out.insert(source_location.to_str_lossy().into_owned());
        }
        out.insert(c.location().to_str_lossy().into_owned());
    }
    Ok(out)
}

/// A largest set of `nodes` with no edge between any two, in ascending order (exact by
/// branch and bound up to 64 nodes with conflicts, else greedy in queue order).
fn largest_independent(nodes: &[usize], edges: &[BTreeSet<usize>]) -> Vec<usize> {
    let involved: Vec<usize> = nodes
        .iter()
        .copied()
        .filter(|&v| edges[v].iter().any(|w| nodes.contains(w)))
        .collect();
    let free: Vec<usize> = nodes
        .iter()
        .copied()
        .filter(|v| !involved.contains(v))
        .collect();
    let chosen: Vec<usize> = if involved.len() <= 64 {
        let bit = |v: usize| 1u64 << involved.iter().position(|&x| x == v).unwrap_or(0);
        let adj: Vec<u64> = involved
            .iter()
            .map(|&v| {
                edges[v]
                    .iter()
                    .filter(|w| involved.contains(w))
                    .fold(0, |m, &w| m | bit(w))
            })
            .collect();
        let all = if involved.len() == 64 {
            u64::MAX
        } else {
            (1u64 << involved.len()) - 1
        };
        let best = mis(all, &adj);
        (0..involved.len())
            .filter(|k| best & (1 << k) != 0)
            .map(|k| involved[k])
            .collect()
    } else {
        let mut out: Vec<usize> = Vec::new();
        for &v in &involved {
            if out.iter().all(|w| !edges[v].contains(w)) {
                out.push(v);
            }
        }
        out
    };
    let mut out: Vec<usize> = free.into_iter().chain(chosen).collect();
    out.sort_unstable();
    out
}

/// The largest independent subset of `cand` (a bit set) in the graph `adj`. Among
/// equally large ones, the one keeping earlier tasks: the queue order changes least.
fn mis(cand: u64, adj: &[u64]) -> u64 {
    if cand == 0 {
        return 0;
    }
    // A node with no neighbour left is always taken.
    let lone = (0..adj.len()).find(|&k| cand & (1 << k) != 0 && adj[k] & cand == 0);
    if let Some(k) = lone {
        return (1 << k) | mis(cand & !(1 << k), adj);
    }
    let k = cand.trailing_zeros() as usize;
    let with = (1 << k) | mis(cand & !(1 << k) & !adj[k], adj);
    let without = mis(cand & !(1 << k), adj);
    if without.count_ones() > with.count_ones() {
        without
    } else {
        with
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_conflict_free_set_keeps_earlier_tasks() {
        // 0-1, 1-2, 2-3 conflict: {0, 2} or {1, 3} or {0, 3}; the first kept is {0, 2}.
        let mut edges = vec![BTreeSet::new(); 5];
        for (a, b) in [(0, 1), (1, 2), (2, 3)] {
            edges[a].insert(b);
            edges[b].insert(a);
        }
        assert_eq!(largest_independent(&[0, 1, 2, 3, 4], &edges), vec![0, 2, 4]);
        // A star: the centre goes, the leaves stay.
        let mut star = vec![BTreeSet::new(); 4];
        for leaf in 1..4 {
            star[0].insert(leaf);
            star[leaf].insert(0);
        }
        assert_eq!(largest_independent(&[0, 1, 2, 3], &star), vec![1, 2, 3]);
    }
}
