//! Which tasks a spawn plans: the asked-for ones, the dependencies they pull in or a
//! killed batch left, and the candidates of best-of-N tasks.

use anyhow::Result;
use std::collections::HashSet;

use super::{Status, status, status_of};
use crate::manifest::{Layer, Manifest};
use crate::store::Store;
use crate::task::TaskId;

/// A task a spawn will plan: the asked-for ones, the dependencies they pull in, and each
/// candidate of a best-of-N task.
pub struct Want {
    pub id: TaskId,
    pub prompt: String,
    pub layer: Option<Layer>,
    /// The agent preset this candidate runs (`agents:`, `--agents`).
    pub agent: Option<String>,
    pub deps: Vec<String>,
    pub candidate_of: Option<String>,
    /// A dependency the user did not name.
    pub pulled_in: bool,
    /// A task a killed batch left unfinished, run again by a plain spawn.
    pub resume: bool,
}

/// Best-of-N asked on the command line: `--best-of N` or `--agents a,b`.
#[derive(Debug, Clone, Default)]
pub struct BestOf {
    pub n: u32,
    /// One agent per candidate (empty: the task's own agent for all).
    pub agents: Vec<String>,
}

/// Expand the tasks asked for: dependencies pulled in (when ids were named) or resumed
/// (a plain spawn), then best-of-N tasks into their candidates.
pub fn expand(
    manifest: Option<&Manifest>,
    store: &Store,
    named: bool,
    plain: bool,
    best_of: Option<&BestOf>,
    wanted: Vec<(TaskId, String, Option<&Layer>)>,
) -> Result<Vec<Want>> {
    let deps_of = |id: &str| -> Vec<String> {
        manifest
            .and_then(|m| m.task(id))
            .map(|t| t.depends_on.iter().map(|d| d.to_string()).collect())
            .unwrap_or_default()
    };
    let mut out: Vec<Want> = wanted
        .into_iter()
        .map(|(id, prompt, layer)| Want {
            deps: deps_of(id.as_str()),
            id,
            prompt,
            layer: layer.cloned(),
            agent: None,
            candidate_of: None,
            pulled_in: false,
            resume: false,
        })
        .collect();
    let mut have: HashSet<String> = out.iter().map(|w| w.id.to_string()).collect();
    if let Some(m) = manifest {
        if plain {
            // Spawned as best-of-N already: not "never spawned".
            out.retain(|w| crate::engine::candidates::members(store, w.id.as_str()).is_empty());
            let in_graph: HashSet<&str> = m
                .tasks
                .iter()
                .flat_map(|t| t.depends_on.iter().map(|d| d.as_str()))
                .collect();
            for t in &m.tasks {
                let graph = !t.depends_on.is_empty() || in_graph.contains(t.id.as_str());
                if graph
                    && !have.contains(t.id.as_str())
                    && status(store, t.id.as_str()) == Status::Interrupted
                {
                    have.insert(t.id.to_string());
                    out.push(want_of(t, false, true));
                }
            }
        }
        if named {
            let mut i = 0;
            while i < out.len() {
                for d in out[i].deps.clone() {
                    if have.contains(&d) {
                        continue;
                    }
                    let st = status(store, &d);
                    if matches!(st, Status::Unspawned | Status::Interrupted)
                        && let Some(t) = m.task(&d)
                    {
                        have.insert(d.clone());
                        out.push(want_of(t, true, st == Status::Interrupted));
                    }
                }
                i += 1;
            }
        }
    }
    let mut expanded = Vec::new();
    for w in out {
        let task = manifest.and_then(|m| m.task(w.id.as_str()));
        let (n, agents) = match (best_of, task) {
            (Some(b), _) if !w.pulled_in => (b.n, b.agents.clone()),
            (_, Some(t)) => (t.candidate_count(), t.agents.clone().unwrap_or_default()),
            _ => (1, Vec::new()),
        };
        if n <= 1 {
            let agent = agents.first().cloned();
            expanded.push(Want { agent, ..w });
            continue;
        }
        if let Some(rec) = store.load(w.id.as_str())?
            && !rec.pruned
        {
            return Err(crate::error::Error::usage(format!(
                "task {} was spawned before as a single task; best-of-N runs new candidates",
                w.id
            ))
            .with_hint(format!(
                "prune it first: git agents prune {} (or spawn it without best-of-N)",
                w.id
            ))
            .into());
        }
        for k in 1..=n {
            let id = crate::manifest::graph::candidate_id_checked(&w.id, k)
                .map_err(crate::error::Error::usage)?;
            if w.resume
                && let Ok(Some(rec)) = store.load(id.as_str())
                && status_of(&rec) != Status::Interrupted
            {
                continue; // this candidate ended: its result stands
            }
            expanded.push(Want {
                id,
                prompt: w.prompt.clone(),
                layer: w.layer.clone(),
                agent: agents.get(k as usize - 1).cloned(),
                deps: w.deps.clone(),
                candidate_of: Some(w.id.to_string()),
                pulled_in: w.pulled_in,
                resume: w.resume,
            });
        }
    }
    Ok(expanded)
}

fn want_of(t: &crate::manifest::Task, pulled_in: bool, resume: bool) -> Want {
    Want {
        id: t.id.clone(),
        prompt: t.prompt.clone(),
        layer: Some(t.layer.clone()),
        agent: None,
        deps: t.depends_on.iter().map(|d| d.to_string()).collect(),
        candidate_of: None,
        pulled_in,
        resume,
    }
}
