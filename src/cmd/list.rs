//! `git agents list` (alias `ls`): one row per task known to the store, per worktree or
//! branch of ours that nobody recorded, and per manifest task never spawned; the rows
//! are [`crate::inventory`]'s, shown as a table or JSON.

use anyhow::Result;
use std::time::Duration;

use crate::cli::Ctx;
use crate::engine::procs;
use crate::error::{Error, Exit};
use crate::inventory::display_path;
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
}

pub fn run(ctx: &Ctx, args: ListArgs) -> Result<Exit> {
    let ids = parse_ids(&args.ids)?;
    let ws = Workspace::open_lenient(ctx)?;
    let rows = ws.inventory(&ids, args.all)?;
    // Interrupted tasks whose processes outlived the git agents process that ran them.
    let left = procs::leftovers(
        rows.iter()
            .filter(|r| r.state == State::Interrupted)
            .filter_map(|r| r.record.as_ref()),
    );
    if args.json {
        let docs = rows
            .iter()
            .map(|r| {
                let mut v = r.json(&ws.store);
                v["leftover_pids"] = left.get(&r.id).cloned().unwrap_or_default().into();
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
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let pruned = r.record.as_ref().is_some_and(|r| r.pruned);
            vec![
                r.id.clone(),
                ctx.ui.state(r.state),
                r.branch.clone().unwrap_or_else(|| "-".into()),
                commits_cell(&r.live),
                r.live
                    .dirty
                    .map(|d| d.to_string())
                    .unwrap_or_else(|| "-".into()),
                r.record
                    .as_ref()
                    .and_then(|rec| rec.check.clone())
                    .unwrap_or_else(|| "-".into()),
                r.since
                    .map(|t| crate::time::short(Duration::from_millis(now.saturating_sub(t))))
                    .unwrap_or_else(|| "-".into()),
                match &r.worktree {
                    _ if pruned => "(pruned)".into(),
                    Some(p) if p.is_dir() => display_path(p, &cwd),
                    _ => "-".into(),
                },
            ]
        })
        .collect();
    ctx.ui.out(&table(
        &[
            "ID", "STATE", "BRANCH", "COMMITS", "DIRTY", "CHECK", "AGE", "PATH",
        ],
        &cells,
    ));
    for (id, pids) in &left {
        ctx.ui.warn(&format!(
            "{id} is interrupted, but {}",
            procs::leftover_note(id, pids)
        ));
    }
    Ok(Exit::Ok)
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
