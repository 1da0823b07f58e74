//! The order `merge` lands tasks in: dependencies first, best-of-N winners only.

use anyhow::Result;
use std::collections::{HashMap, HashSet};

use super::{Status, status};
use crate::store::Store;
use crate::task::State;

/// Order `ids` so that each task's dependencies (among `ids`) come before it, otherwise
/// keeping the order given: the merge queue lands dependencies first.
pub fn dependency_order(store: &Store, ids: Vec<String>) -> Vec<String> {
    let deps: HashMap<String, Vec<String>> = ids
        .iter()
        .map(|id| {
            let d = store
                .load(id)
                .ok()
                .flatten()
                .map(|r| r.graph.depends_on)
                .unwrap_or_default();
            (id.clone(), d)
        })
        .collect();
    // A task's unit: a candidate stands for its group.
    let unit_of = |id: &str| -> String {
        store
            .load(id)
            .ok()
            .flatten()
            .and_then(|r| r.graph.candidate_of)
            .unwrap_or_else(|| id.to_string())
    };
    let units: HashMap<String, String> = ids.iter().map(|i| (unit_of(i), i.clone())).collect();
    let mut out = Vec::new();
    let mut placed = HashSet::new();
    fn visit(
        id: &str,
        deps: &HashMap<String, Vec<String>>,
        units: &HashMap<String, String>,
        placed: &mut HashSet<String>,
        out: &mut Vec<String>,
        depth: usize,
    ) {
        if placed.contains(id) || depth > 256 {
            return;
        }
        placed.insert(id.to_string());
        for d in deps.get(id).into_iter().flatten() {
            if let Some(member) = units.get(d) {
                visit(member, deps, units, placed, out, depth + 1);
            }
        }
        out.push(id.to_string());
    }
    for id in &ids {
        visit(id, &deps, &units, &mut placed, &mut out, 0);
    }
    out
}

/// What `merge` lands for `ids`: a best-of-N task stands for its winner (a losing
/// candidate named alone is refused), and, when `named`, each task's dependencies not
/// yet merged come along (a dependency with no work to land refuses the task). In
/// dependency order. Returns the ids and which of them came along as dependencies.
pub fn merge_set(store: &Store, ids: &[String], named: bool) -> Result<(Vec<String>, Vec<String>)> {
    use crate::error::Error;
    let mut out = crate::engine::candidates::winners_for(store, ids)?;
    if named {
        for id in &out {
            if let Some(rec) = store.load(id)?
                && crate::engine::candidates::is_loser(&rec)
            {
                let w = rec.graph.winner.clone().unwrap_or_default();
                return Err(Error::usage(format!(
                    "candidate {id} lost to {w}: merge lands a task's winner only"
                ))
                .with_hint(format!(
                    "make it the winner first: git agents pick {} {id}",
                    rec.graph.candidate_of.unwrap_or_default()
                ))
                .into());
            }
        }
    }
    let mut added = Vec::new();
    if named {
        let mut i = 0;
        while i < out.len() {
            let deps = store
                .load(&out[i])?
                .map(|r| r.graph.depends_on)
                .unwrap_or_default();
            for d in deps {
                let st = status(store, &d);
                let member =
                    crate::engine::candidates::winners_for(store, std::slice::from_ref(&d))
                        .ok()
                        .and_then(|v| v.into_iter().next())
                        .unwrap_or_else(|| d.clone());
                let rec = store.load(&member)?;
                let state = rec.as_ref().map(|r| r.state);
                match (st, state) {
                    (_, Some(State::Merged | State::Empty)) => {}
                    (Status::Done, Some(_)) if rec.as_ref().is_some_and(|r| r.pruned) => {}
                    (Status::Done, Some(_)) => {
                        if !out.contains(&member) {
                            added.push(member.clone());
                            out.push(member);
                        }
                    }
                    (st, _) => {
                        let why = match st {
                            Status::Bad(w) => w,
                            Status::Running => "not finished".into(),
                            Status::Interrupted => "interrupted".into(),
                            _ => "not spawned".into(),
                        };
                        return Err(Error::usage(format!(
                            "task {} depends on {d}, which has no work to land ({why})",
                            out[i]
                        ))
                        .with_hint(format!(
                            "run {d} first (git agents spawn {d}), then merge both"
                        ))
                        .into());
                    }
                }
            }
            i += 1;
        }
    } else {
        // Every succeeded task: candidates only when they won.
        out.retain(|id| {
            store.load(id).ok().flatten().is_none_or(|r| {
                r.graph.candidate_of.is_none() || r.graph.winner.as_deref() == Some(id.as_str())
            })
        });
    }
    Ok((dependency_order(store, out), added))
}
