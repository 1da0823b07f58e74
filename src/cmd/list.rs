//! `git agents list` (alias `ls`): one row per task known to the store, per worktree or
//! branch of ours that nobody recorded, and per manifest task never spawned; the rows
//! are [`crate::inventory`]'s, shown as a table or JSON.

use anyhow::Result;
use std::path::Path;
use std::time::Duration;

use crate::cli::Ctx;
use crate::engine::{candidates, graph, procs};
use crate::error::{Error, Exit};
use crate::inventory::{self, Row, display_path};
use crate::report::{self, Live};
use crate::task::{State, TaskId};
use crate::ui::table;

use super::Workspace;

/// List every agent task and worktree, in the state the repository shows
///
/// One row per task spawned, per worktree or branch of ours nobody recorded (orphaned),
/// and per manifest task never spawned (pending): state, branch, commits ahead/behind the
/// base's current tip, uncommitted changes (untracked files included), check result,
/// age and worktree path. A task whose process died reads interrupted, one whose
/// worktree is gone reads orphaned, one whose branch is in its base reads merged.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only these tasks
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Also show pruned tasks (tombstones)
    #[arg(long)]
    pub all: bool,

    /// Print the tasks as JSON (version 1) on stdout
    #[arg(long)]
    pub json: bool,

    /// Also show the tokens each task's agents reported (TOKENS)
    #[arg(short, long)]
    pub wide: bool,
    /// One row per best-of-N candidate (also with --all), not one per task
    #[arg(long)]
    pub candidates: bool,
    /// Also forecast, for each task waiting to merge, the other tasks it would conflict
    /// with (CONFLICTS; JSON conflicts_with), computed in memory
    #[arg(long)]
    pub conflicts: bool,
}

pub fn run(ctx: &Ctx, args: ListArgs) -> Result<Exit> {
    let ids = parse_ids(&args.ids)?;
    let ws = Workspace::open_lenient(ctx)?;
    let ids = candidates::expand_ids(&ws.store, &ids);
    let rows = ws.inventory_skeleton(&ids, args.all)?;
    let (mut rows, folded) = if args.all || args.candidates {
        (rows, Default::default())
    } else {
        candidates::fold(rows)
    };
    if args.conflicts {
        return with_conflicts(ctx, &ws, rows, args.json, args.wide);
    }
    if args.json {
        inventory::fill(&ws.repo, &mut rows, |_, _| {});
        let left = leftovers(&rows);
        let docs = rows
            .iter()
            .map(|r| {
                let mut v = r.json(&ws.store);
                v["leftover_pids"] = left.get(&r.id).cloned().unwrap_or_default().into();
                v
            })
            .collect::<Vec<_>>();
        let docs = docs
            .into_iter()
            .enumerate()
            .map(|(i, mut v)| {
                if let Some(c) = folded.get(&i) {
                    v["id"] = rows[i].id.clone().into();
                    v["candidates"] = c.clone().into();
                }
                v
            })
            .collect();
        ctx.ui.out(&report::document(docs));
        return Ok(Exit::Ok);
    }
    if rows.is_empty() {
        ctx.ui
            .status("no agent tasks yet (start some with: git agents spawn)");
        return Ok(Exit::Ok);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let now = crate::time::now();
    let header = header(args.wide);
    let cells = |r: &Row, known: bool| {
        let mut c = cells(ctx, r, known, &cwd, now);
        spend_cells(&mut c, r, args.wide);
        let note = r.record.as_ref().and_then(|rec| {
            graph::state_note(&ws.store, rec).or_else(|| {
                (rec.graph.candidate_of.is_some() && r.id != rec.id)
                    .then(|| candidates::list_note(rec))
            })
        });
        if let Some(n) = note {
            c[1] = format!("{} ({n})", c[1]);
        }
        c
    };
    // On a terminal, what is known without looking inside the worktrees shows at once;
    // each row's commits and changes fill in as its worktree is read.
    let first: Vec<Vec<String>> = rows.iter().map(|r| cells(r, false)).collect();
    let mut live = ctx.ui.live_table(&header, first);
    inventory::fill(&ws.repo, &mut rows, |i, row| {
        if let Some(t) = live.as_mut() {
            t.set(i, cells(row, true));
        }
    });
    match live {
        Some(t) => t.finish(),
        None => {
            let all: Vec<Vec<String>> = rows.iter().map(|r| cells(r, true)).collect();
            ctx.ui.out(&table(&header, &all));
        }
    }
    for (id, pids) in &leftovers(&rows) {
        ctx.ui.warn(&format!(
            "{id} is interrupted, but {}",
            procs::leftover_note(id, pids)
        ));
    }
    Ok(Exit::Ok)
}

/// `list --conflicts`: the rows with, for each task waiting to merge (succeeded), the
/// ids of the others it would conflict with, from the merge queue's forecast.
fn with_conflicts(
    ctx: &Ctx,
    ws: &Workspace,
    mut rows: Vec<Row>,
    json: bool,
    wide: bool,
) -> Result<Exit> {
    inventory::fill(&ws.repo, &mut rows, |_, _| {});
    let waiting: Vec<crate::store::Record> = rows
        .iter()
        .filter(|r| r.state == State::Succeeded)
        .filter_map(|r| r.record.clone())
        .collect();
    let conflicts = crate::engine::queue::conflicts_among(&ws.repo, &waiting)?;
    let of = |id: &str| conflicts.get(id).cloned().unwrap_or_default();
    if json {
        let left = leftovers(&rows);
        let docs = rows
            .iter()
            .map(|r| {
                let mut v = r.json(&ws.store);
                v["leftover_pids"] = left.get(&r.id).cloned().unwrap_or_default().into();
                v["conflicts_with"] = of(&r.id).into();
                v
            })
            .collect();
        ctx.ui.out(&report::document(docs));
        return Ok(Exit::Ok);
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    let now = crate::time::now();
    let mut header = header(wide);
    header.push("CONFLICTS");
    let all: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut c = cells(ctx, r, true, &cwd, now);
            spend_cells(&mut c, r, wide);
            let ids = of(&r.id);
            c.push(if ids.is_empty() {
                "-".into()
            } else {
                ids.join(",")
            });
            c
        })
        .collect();
    ctx.ui.out(&table(&header, &all));
    Ok(Exit::Ok)
}

/// Interrupted tasks whose processes outlived the git agents process that ran them.
fn leftovers(rows: &[Row]) -> std::collections::BTreeMap<String, Vec<u32>> {
    procs::leftovers(
        rows.iter()
            .filter(|r| r.state == State::Interrupted)
            .filter_map(|r| r.record.as_ref()),
    )
}

const HEADER: &[&str] = &[
    "ID", "STATE", "BRANCH", "COMMITS", "DIRTY", "CHECK", "AGE", "PATH",
];

/// The header, with COST (and TOKENS when wide) before PATH.
fn header(wide: bool) -> Vec<&'static str> {
    let mut h = HEADER.to_vec();
    let at = h.len() - 1;
    h.insert(at, "COST");
    if wide {
        h.insert(at + 1, "TOKENS");
    }
    h
}

/// The COST (and TOKENS) cells, inserted like their headers.
fn spend_cells(c: &mut Vec<String>, r: &Row, wide: bool) {
    let at = c.len() - 1;
    let rec = r.record.as_ref();
    c.insert(at, rec.map_or_else(|| "-".into(), report::cost_cell));
    if wide {
        c.insert(at + 1, rec.map_or_else(|| "-".into(), report::tokens_cell));
    }
}

/// What a slow cell shows until its worktree has been read.
const UNKNOWN: &str = "..";

/// One table row; `known` once the repository has been looked at for it.
fn cells(ctx: &Ctx, r: &Row, known: bool, cwd: &Path, now: u64) -> Vec<String> {
    let pruned = r.record.as_ref().is_some_and(|r| r.pruned);
    // A row with no worktree and no branch has nothing to read: it is known at once.
    let known = known || (r.target.worktree.is_none() && r.target.branch.is_none());
    let slow = |text: String| if known { text } else { UNKNOWN.to_string() };
    vec![
        r.id.clone(),
        ctx.ui.state(r.state),
        r.branch.clone().unwrap_or_else(|| slow("-".into())),
        slow(commits_cell(&r.live)),
        slow(
            r.live
                .dirty
                .map(|d| d.to_string())
                .unwrap_or_else(|| "-".into()),
        ),
        r.record
            .as_ref()
            .and_then(|rec| rec.check.clone())
            .unwrap_or_else(|| "-".into()),
        r.since
            .map(|t| crate::time::short(Duration::from_millis(now.saturating_sub(t))))
            .unwrap_or_else(|| "-".into()),
        match &r.worktree {
            _ if pruned => "(pruned)".into(),
            Some(p) if p.is_dir() => display_path(p, cwd),
            _ => "-".into(),
        },
    ]
}

pub fn parse_ids(raw: &[String]) -> Result<Vec<TaskId>> {
    raw.iter()
        .map(|s| TaskId::parse(s).map_err(|e| Error::usage(e).into()))
        .collect()
}

/// `+2 -1`: commits the branch has over the base's current tip, and the base over it.
fn commits_cell(live: &Live) -> String {
    match (live.ahead, live.behind) {
        (Some(a), Some(0)) => format!("+{a}"),
        (Some(a), Some(b)) => format!("+{a} -{b}"),
        _ => "-".into(),
    }
}
