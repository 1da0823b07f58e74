//! Best-of-N: a task run as several candidates at once, each a task of its own
//! (`fix.c1`, `fix.c2`, …: own worktree, branch, port and attempts), and the winner
//! chosen when the last one ends.
//!
//! The winner is a candidate that succeeded: one whose check passed before one that ran
//! no check, then the smallest diff against its base (lines added and removed), then the
//! shortest run, then the lowest cost the agents reported. The choice and its reason are written to every candidate's record;
//! `git agents pick` overrides it.

use anyhow::Result;
use std::time::Duration;

use crate::error::Error;
use crate::git::{DiffStat, Repo};
use crate::manifest::graph::{MAX_CANDIDATES, candidate_id, candidate_parts};
use crate::store::{Record, Store};
use crate::task::State;

/// The candidates of task `group` that have records, in order.
pub fn members(store: &Store, group: &str) -> Vec<Record> {
    (1..=MAX_CANDIDATES)
        .filter_map(|n| store.load(&candidate_id(group, n)).ok().flatten())
        .filter(|r| r.graph.candidate_of.as_deref() == Some(group))
        .collect()
}

/// Whether `id` names a best-of-N task (its candidates have records).
pub fn is_group(store: &Store, id: &str) -> bool {
    !members(store, id).is_empty()
        && store
            .load(id)
            .ok()
            .flatten()
            .is_none_or(|r| r.pruned || r.graph.candidate_of.is_some())
}

/// What one candidate did, side by side with the others (`show ID`).
#[derive(Debug, Clone)]
pub struct Entry {
    pub rec: Record,
    pub diff: Option<DiffStat>,
    pub time: Option<Duration>,
}

/// Each candidate with its diff against its base and its run time.
pub fn compare(repo: &Repo, store: &Store, group: &str) -> Vec<Entry> {
    members(store, group)
        .into_iter()
        .map(|rec| {
            let diff = rec
                .head
                .as_deref()
                .filter(|_| repo.branch_exists(&rec.branch) || rec.state == State::Merged)
                .and_then(|h| crate::git::diffstat(&repo.root, &rec.base_commit, h).ok());
            let time = last_run(&rec);
            Entry { rec, diff, time }
        })
        .collect()
}

/// How long the candidate's last attempt ran.
fn last_run(rec: &Record) -> Option<Duration> {
    let a = rec.attempts.last()?;
    Some(Duration::from_millis(
        a.finished_at?.saturating_sub(a.started_at),
    ))
}

/// A candidate's place in the order of preference, lowest first: check not passed,
/// lines changed, run time, cost in millionths of a dollar.
type Rank = (u8, usize, Duration, u64);

/// The order of preference; `None` for a candidate that cannot win.
fn rank(e: &Entry) -> Option<Rank> {
    if !matches!(e.rec.state, State::Succeeded | State::Merged) {
        return None;
    }
    let checked = u8::from(e.rec.check.as_deref() != Some("passed"));
    Some((
        checked,
        e.diff.map_or(usize::MAX, |d| d.lines()),
        e.time.unwrap_or(Duration::MAX),
        cost_micros(&e.rec).unwrap_or(u64::MAX),
    ))
}

/// What the candidate's agents reported spending, in millionths of a dollar.
fn cost_micros(rec: &Record) -> Option<u64> {
    let usd = rec.usage()?.cost_usd?;
    (usd.is_finite() && usd >= 0.0).then(|| (usd * 1e6).round() as u64)
}

/// The winner of `entries` and why; None when no candidate succeeded.
pub fn choose(entries: &[Entry]) -> Option<(String, String)> {
    let mut ranked: Vec<(&Entry, Rank)> = entries
        .iter()
        .filter_map(|e| rank(e).map(|r| (e, r)))
        .collect();
    ranked.sort_by_key(|(_, r)| *r);
    let (win, wr) = ranked.first()?;
    let lost: Vec<String> = entries
        .iter()
        .filter(|e| rank(e).is_none())
        .map(|e| {
            let what = match (e.rec.state, e.rec.check.as_deref()) {
                (State::Failed, Some("failed")) => "check failed".to_string(),
                (s, _) => s.to_string(),
            };
            format!("{} {what}", e.rec.id)
        })
        .collect();
    let mut why = Vec::new();
    if wr.0 == 0 {
        why.push("check passed".to_string());
    }
    match ranked.get(1) {
        None => why.push("the only candidate that succeeded".into()),
        Some((next, nr)) => {
            let lines = |r: &Rank| r.1;
            if nr.0 != wr.0 {
                why.push(format!("{} ran no check", next.rec.id));
            } else if lines(nr) != lines(wr) {
                why.push(format!(
                    "smallest diff against the base: {} lines (next: {}, {})",
                    lines(wr),
                    next.rec.id,
                    lines(nr)
                ));
            } else if nr.2 != wr.2 {
                why.push(format!(
                    "diff as small as {}'s ({} lines), shorter run: {} against {}",
                    next.rec.id,
                    lines(wr),
                    crate::time::short(wr.2),
                    crate::time::short(nr.2)
                ));
            } else if nr.3 != wr.3 && wr.3 != u64::MAX {
                why.push(format!(
                    "as small and as fast as {}, lower cost: ${:.4}",
                    next.rec.id,
                    wr.3 as f64 / 1e6
                ));
            } else {
                why.push(format!(
                    "tied with {} on check, diff, time and cost: the first in order",
                    next.rec.id
                ));
            }
        }
    }
    if !lost.is_empty() {
        why.push(format!("out: {}", lost.join(", ")));
    }
    Some((win.rec.id.clone(), why.join("; ")))
}

/// Choose the winner of `group` once its last candidate ended, and write it (and why)
/// to every candidate's record. Returns the winner, if any.
pub fn decide(repo: &Repo, store: &Store, group: &str) -> Result<Option<(String, String)>> {
    let entries = compare(repo, store, group);
    let choice = choose(&entries);
    let (winner, reason) = match &choice {
        Some((w, r)) => (Some(w.clone()), Some(r.clone())),
        None => (None, Some("no candidate succeeded".to_string())),
    };
    for e in &entries {
        store.update(&e.rec.id, |r| {
            r.graph.winner = winner.clone();
            r.graph.winner_reason = reason.clone();
        })?;
    }
    Ok(choice)
}

/// `git agents pick ID CANDIDATE`: make `candidate` (`fix.c2`, `c2` or `2`) the winner
/// of `group`. Returns the candidate's id. Refused for a candidate with no work (no
/// branch), and once another candidate of the group was merged.
pub fn pick(repo: &Repo, store: &Store, group: &str, candidate: &str) -> Result<String> {
    let all = members(store, group);
    if all.is_empty() {
        let hint = match candidate_parts(group) {
            Some((g, _)) => format!("did you mean its task: git agents pick {g} {group}?"),
            None => "pick works on tasks spawned with candidates/agents or --best-of".into(),
        };
        return Err(Error::usage(format!("task {group} has no candidates"))
            .with_hint(hint)
            .into());
    }
    let n = candidate.trim_start_matches('c');
    let id = if n.bytes().all(|b| b.is_ascii_digit()) && !n.is_empty() {
        format!("{group}.c{n}")
    } else {
        candidate.to_string()
    };
    let names: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    let Some(rec) = all.iter().find(|r| r.id == id) else {
        return Err(
            Error::usage(format!("{candidate:?} is not a candidate of task {group}"))
                .with_hint(format!("its candidates: {}", names.join(", ")))
                .into(),
        );
    };
    if let Some(m) = all.iter().find(|r| r.state == State::Merged && r.id != id) {
        return Err(Error::usage(format!(
            "task {group}'s candidate {} is merged already",
            m.id
        ))
        .with_hint("a merged winner stays the winner")
        .into());
    }
    if rec.state == State::Running || rec.state == State::Pending {
        return Err(Error::usage(format!("candidate {id} has not ended yet"))
            .with_hint("wait for it: git agents wait")
            .into());
    }
    if !repo.branch_exists(&rec.branch) {
        return Err(Error::usage(format!(
            "candidate {id} has no work to pick: its branch {} is gone",
            rec.branch
        ))
        .into());
    }
    let reason = match rec.state {
        State::Succeeded | State::Merged => "picked by hand (git agents pick)".to_string(),
        s => format!("picked by hand (git agents pick), though it ended {s}"),
    };
    for r in &all {
        store.update(&r.id, |r| {
            r.graph.winner = Some(id.clone());
            r.graph.winner_reason = Some(reason.clone());
        })?;
    }
    Ok(id)
}

/// The ids `merge` takes for `ids` as named: a best-of-N task stands for its winner.
/// Refuses a task whose winner is not chosen (or none succeeded).
pub fn winners_for(store: &Store, ids: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for id in ids {
        if !is_group(store, id) {
            out.push(id.clone());
            continue;
        }
        let all = members(store, id);
        match all.first().and_then(|r| r.graph.winner.clone()) {
            Some(w) => out.push(w),
            None => {
                return Err(Error::usage(format!(
                    "task {id} has no winner: {}",
                    all.first()
                        .and_then(|r| r.graph.winner_reason.clone())
                        .unwrap_or_else(|| "its candidates have not all ended".into())
                ))
                .with_hint(format!(
                    "see them with: git agents show {id}; choose one with: git agents pick {id} CANDIDATE"
                ))
                .into());
            }
        }
    }
    Ok(out)
}

/// Whether `rec` is a candidate that lost (another candidate of its task is the winner).
pub fn is_loser(rec: &Record) -> bool {
    rec.graph.candidate_of.is_some()
        && rec
            .graph
            .winner
            .as_deref()
            .is_some_and(|w| w != rec.id.as_str())
}

/// The last candidate of `group` ended in this batch: choose the winner, record it and
/// tell the event log. Returns whether there is one.
pub fn settle(cx: &super::attempt::Context, group: &str) -> bool {
    let candidates: Vec<String> = members(cx.store, group).into_iter().map(|r| r.id).collect();
    let (winner, reason) = match decide(cx.repo, cx.store, group) {
        Ok(Some((w, r))) => (Some(w), r),
        Ok(None) => (None, "no candidate succeeded".to_string()),
        Err(e) => (None, format!("cannot choose the winner: {e:#}")),
    };
    cx.events.task(
        group,
        super::events::Kind::WinnerChosen {
            winner: winner.clone(),
            candidates,
            reason,
        },
    );
    winner.is_some()
}

/// `list` folds a best-of-N task's candidates into one row: the winner's (or, before
/// there is one, the first candidate's), named by the task's id, in the state the group
/// is in. Returns the rows and, per folded row's index, its candidates' ids.
pub fn fold(
    rows: Vec<crate::inventory::Row>,
) -> (
    Vec<crate::inventory::Row>,
    std::collections::HashMap<usize, Vec<String>>,
) {
    use std::collections::HashMap;
    let group_of = |r: &crate::inventory::Row| {
        r.record
            .as_ref()
            .and_then(|rec| rec.graph.candidate_of.clone())
    };
    let mut groups: HashMap<String, Vec<crate::inventory::Row>> = HashMap::new();
    let mut order: Vec<Result<crate::inventory::Row, String>> = Vec::new();
    for r in rows {
        match group_of(&r) {
            Some(g) => {
                if !groups.contains_key(&g) {
                    order.push(Err(g.clone()));
                }
                groups.entry(g).or_default().push(r);
            }
            None => order.push(Ok(r)),
        }
    }
    let mut out = Vec::new();
    let mut folded = HashMap::new();
    for o in order {
        match o {
            // A manifest task never spawned that was spawned as candidates after all.
            Ok(r) if r.record.is_none() && groups.contains_key(&r.id) => {}
            Ok(r) => out.push(r),
            Err(g) => {
                let Some(mut members) = groups.remove(&g) else {
                    continue;
                };
                let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
                let states: Vec<State> = members.iter().map(|m| m.state).collect();
                let winner = members[0]
                    .record
                    .as_ref()
                    .and_then(|r| r.graph.winner.clone());
                let at = winner
                    .as_ref()
                    .and_then(|w| members.iter().position(|m| &m.id == w))
                    .unwrap_or(0);
                let mut row = members.swap_remove(at);
                row.state = if states.contains(&State::Running) {
                    State::Running
                } else if states.contains(&State::Pending) {
                    State::Pending
                } else if winner.is_some() {
                    row.state
                } else if states.contains(&State::Interrupted) {
                    State::Interrupted
                } else {
                    State::Failed
                };
                row.id = g;
                folded.insert(out.len(), ids);
                out.push(row);
            }
        }
    }
    (out, folded)
}

/// The ids `list` and `show` look for when asked for `ids`: a best-of-N task's
/// candidates for the task.
pub fn expand_ids(store: &Store, ids: &[crate::task::TaskId]) -> Vec<crate::task::TaskId> {
    let mut out = Vec::new();
    for id in ids {
        let m = members(store, id.as_str());
        if m.is_empty() || !is_group(store, id.as_str()) {
            out.push(id.clone());
        } else {
            out.extend(
                m.into_iter()
                    .filter_map(|r| crate::task::TaskId::parse(&r.id).ok()),
            );
        }
    }
    out
}

/// What a folded row's STATE adds: which candidate won, of how many.
pub fn list_note(rec: &Record) -> String {
    match &rec.graph.winner {
        Some(w) => format!("winner {w}"),
        None => "candidates running or without a winner".into(),
    }
}

/// Whether `rec` lost, and its task's winner is merged: nothing of it is wanted any
/// more, so `prune` removes it (its tips logged to pruned.log).
pub fn lost_to_merged(store: &Store, rec: &Record) -> bool {
    if !is_loser(rec) {
        return false;
    }
    let Some(w) = rec.graph.winner.as_deref() else {
        return false;
    };
    store
        .load(w)
        .ok()
        .flatten()
        .is_some_and(|w| w.state == State::Merged || w.merged_commit.is_some())
}

/// The error for a best-of-N task named where one candidate is needed (`path`, `logs`,
/// `wait`, `stop`, `prune`).
pub fn name_a_candidate(store: &Store, group: &str) -> Error {
    let all = members(store, group);
    let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
    let winner = all
        .first()
        .and_then(|r| r.graph.winner.clone())
        .map(|w| format!(" (the winner is {w})"))
        .unwrap_or_default();
    Error::usage(format!(
        "task {group} ran as candidates {}: name one of them{winner}",
        ids.join(", ")
    ))
    .with_hint(format!("compare them with: git agents show {group}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, state: &str, check: Option<&str>, lines: usize, ms: u64) -> Entry {
        let rec: Record = serde_json::from_value(serde_json::json!({
            "version": 1, "id": id, "state": state, "branch": format!("agent/{id}"),
            "base": "main", "base_commit": "0", "worktree": "/w", "prompt": "", "command": [],
            "check": check, "exit_code": null, "head": null, "created_at": 0,
            "started_at": null, "finished_at": null, "owner": null, "child": null,
        }))
        .unwrap();
        Entry {
            rec,
            diff: Some(DiffStat {
                files: 1,
                added: lines,
                removed: 0,
            }),
            time: Some(Duration::from_millis(ms)),
        }
    }

    #[test]
    fn check_then_diff_then_time() {
        let (w, why) = choose(&[
            entry("t.c1", "failed", Some("failed"), 1, 10),
            entry("t.c2", "succeeded", Some("passed"), 50, 10),
            entry("t.c3", "succeeded", Some("passed"), 5, 99),
        ])
        .unwrap();
        assert_eq!(w, "t.c3");
        assert!(
            why.contains("smallest diff against the base: 5 lines (next: t.c2, 50)"),
            "{why}"
        );
        assert!(why.contains("out: t.c1 check failed"), "{why}");

        let (w, why) = choose(&[
            entry("t.c1", "succeeded", Some("passed"), 5, 300),
            entry("t.c2", "succeeded", Some("passed"), 5, 100),
        ])
        .unwrap();
        assert_eq!(w, "t.c2");
        assert!(why.contains("shorter run"), "{why}");

        // A passing check beats a smaller diff that ran no check.
        let (w, _) = choose(&[
            entry("t.c1", "succeeded", None, 1, 1),
            entry("t.c2", "succeeded", Some("passed"), 100, 100),
        ])
        .unwrap();
        assert_eq!(w, "t.c2");

        // Same check, diff and time: the lower reported cost wins.
        let costly = |id: &str, usd: f64| {
            let mut e = entry(id, "succeeded", Some("passed"), 5, 100);
            e.rec.attempts = serde_json::from_value(serde_json::json!([{
                "n": 1, "started_at": 0, "finished_at": 100, "state": "succeeded",
                "exit_code": 0, "head": null, "detail": null, "usage": {"cost_usd": usd},
            }]))
            .unwrap();
            e
        };
        let (w, why) = choose(&[costly("t.c1", 0.5), costly("t.c2", 0.25)]).unwrap();
        assert_eq!(w, "t.c2");
        assert!(why.contains("lower cost: $0.2500"), "{why}");

        assert!(choose(&[entry("t.c1", "failed", None, 1, 1)]).is_none());
    }
}
