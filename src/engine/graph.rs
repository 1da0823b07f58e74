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
use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::plan::Planned;
use crate::git::Repo;
use crate::manifest::{Layer, Manifest};
use crate::merge::{Landing, Merger, Messages};
use crate::store::{Record, Store};
use crate::task::{State, TaskId};

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

/// What the scheduler hands a slot.
pub enum Next {
    Run(Box<Planned>),
    /// A dependency failed (or conflicts): end the task unstarted.
    Blocked(Box<Planned>, Blocked),
    /// Interrupted before its turn: withdraw its claim.
    Unclaim(Box<Planned>),
}

/// A batch's tasks in dependency order, handed out as they become ready.
pub struct Ready<'a> {
    store: &'a Store,
    inner: Mutex<Inner>,
    wake: Condvar,
}

struct Inner {
    waiting: Vec<Planned>,
    /// Members of each unit (task, or best-of-N group) of this batch not yet ended.
    left: HashMap<String, usize>,
    /// Units ended: done or not (and why not).
    ended: HashMap<String, Status>,
}

fn unit(p: &Planned) -> String {
    p.candidate_of.clone().unwrap_or_else(|| p.id.to_string())
}

impl<'a> Ready<'a> {
    pub fn new(store: &'a Store, tasks: Vec<Planned>) -> Ready<'a> {
        let mut left = HashMap::new();
        for t in &tasks {
            *left.entry(unit(t)).or_insert(0) += 1;
        }
        Ready {
            store,
            inner: Mutex::new(Inner {
                waiting: tasks,
                left,
                ended: HashMap::new(),
            }),
            wake: Condvar::new(),
        }
    }

    /// The next task a free slot runs; None when every task was handed out. Waits while
    /// the tasks left wait for others.
    pub fn next(&self) -> Option<Next> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if inner.waiting.is_empty() {
                return None;
            }
            if crate::supervise::interrupted() {
                let t = inner.waiting.remove(0);
                return Some(Next::Unclaim(Box::new(t)));
            }
            let mut pick = None;
            for (i, t) in inner.waiting.iter().enumerate() {
                match self.verdict(&inner, t) {
                    Verdict::Ready => {
                        pick = Some((i, None));
                        break;
                    }
                    Verdict::Blocked(b) => {
                        pick = Some((i, Some(b)));
                        break;
                    }
                    Verdict::Wait => {}
                }
            }
            if let Some((i, blocked)) = pick {
                let t = Box::new(inner.waiting.remove(i));
                return Some(match blocked {
                    None => Next::Run(t),
                    Some(b) => Next::Blocked(t, b),
                });
            }
            // Woken when a task ends; a dependency outside this batch is looked at
            // again now and then.
            inner = self
                .wake
                .wait_timeout(inner, Duration::from_millis(200))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn verdict(&self, inner: &Inner, t: &Planned) -> Verdict {
        let mut bad = Vec::new();
        let mut wait = false;
        for d in &t.deps {
            let st = if inner.left.contains_key(d) {
                match inner.ended.get(d) {
                    Some(s) => s.clone(),
                    None => Status::Running,
                }
            } else {
                status(self.store, d)
            };
            match st {
                Status::Done => {}
                Status::Running => wait = true,
                Status::Interrupted => bad.push((d.clone(), "interrupted".to_string())),
                Status::Unspawned => bad.push((d.clone(), "not spawned".to_string())),
                Status::Bad(why) => bad.push((d.clone(), why)),
            }
        }
        if !bad.is_empty() {
            let by: Vec<String> = bad.iter().map(|(d, _)| d.clone()).collect();
            let said: Vec<String> = bad.iter().map(|(d, why)| format!("{d} ({why})")).collect();
            return Verdict::Blocked(Blocked {
                by,
                detail: format!("blocked by {}", said.join(", ")),
            });
        }
        if wait { Verdict::Wait } else { Verdict::Ready }
    }

    /// Task `t` ended in `state`. Returns the best-of-N group whose last candidate this
    /// was: the caller chooses its winner, then calls [`Ready::group_ended`].
    pub fn ended(&self, t: &Planned, state: State) -> Option<String> {
        let u = unit(t);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let left = inner.left.entry(u.clone()).or_insert(1);
        *left = left.saturating_sub(1);
        let last = *left == 0;
        if !last {
            return None;
        }
        if t.candidate_of.is_some() {
            return Some(u);
        }
        let st = if state.is_success() {
            Status::Done
        } else {
            Status::Bad(state.to_string())
        };
        inner.ended.insert(u, st);
        drop(inner);
        self.wake.notify_all();
        None
    }

    /// A best-of-N group ended: with a winner (`done`) or without.
    pub fn group_ended(&self, group: &str, done: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let st = if done {
            Status::Done
        } else {
            Status::Bad("no candidate succeeded".into())
        };
        inner.ended.insert(group.to_string(), st);
        drop(inner);
        self.wake.notify_all();
    }

    /// The tasks that wait for a dependency now (told as a phase at the batch's start).
    pub fn waiting_now(&self) -> Vec<(String, u32)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .waiting
            .iter()
            .filter(|t| !t.deps.is_empty() && matches!(self.verdict(&inner, t), Verdict::Wait))
            .map(|t| (t.id.to_string(), t.first_attempt))
            .collect()
    }
}

enum Verdict {
    Ready,
    Wait,
    Blocked(Blocked),
}

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
            out.retain(|w| super::candidates::members(store, w.id.as_str()).is_empty());
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
                    out.push(want_of(t, true, true));
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
    let mut out = super::candidates::winners_for(store, ids)?;
    if named {
        for id in &out {
            if let Some(rec) = store.load(id)?
                && super::candidates::is_loser(&rec)
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
                let member = super::candidates::winners_for(store, std::slice::from_ref(&d))
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
        for (id, deps) in [("d", vec!["b", "c"]), ("c", vec!["a"]), ("b", vec!["a"]), ("a", vec![])] {
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
