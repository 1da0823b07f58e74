//! `git agents stop [ID...|--all]`: stop running tasks, and what is left of tasks whose
//! git-agents process died (see [`crate::engine::stop`] for how).

use anyhow::Result;

use crate::cli::Ctx;
use crate::engine::procs::Finder;
use crate::engine::stop::{self, Stopped};
use crate::error::{Error, Exit};
use crate::store::Record;
use crate::task::TaskId;

use super::Workspace;

/// Stop running tasks: their agents and every process they started
///
/// Each task's processes (the agent's process group, and anything it started that left
/// the group: setsid, double forks) get SIGTERM, then SIGKILL after a grace period
/// (GIT_AGENTS_KILL_GRACE_MS, default 3000). The task ends interrupted; its worktree and
/// branch are kept. When the git agents process running the task still lives, it records
/// the end; when it is gone (killed, crashed), stop stops what it left behind and records
/// the task itself.
#[derive(Debug, clap::Args)]
pub struct StopArgs {
    /// The tasks to stop
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub ids: Vec<String>,

    /// Stop every running task, and whatever is still running of interrupted ones
    #[arg(long)]
    pub all: bool,
}

pub fn run(ctx: &Ctx, args: StopArgs) -> Result<Exit> {
    let ids: Vec<TaskId> = args
        .ids
        .iter()
        .map(|s| TaskId::parse(s).map_err(Error::usage))
        .collect::<Result<_, _>>()?;
    let ws = Workspace::open_lenient(ctx)?;
    let mut finder = Finder::new();
    let recs: Vec<Record> = if args.all {
        stop::stoppable(&ws.store, &mut finder)?
    } else {
        // Every id is checked before anything is stopped.
        let mut recs: Vec<Record> = Vec::new();
        for id in &ids {
            let rec = ws.record(id.as_str())?;
            if !recs.iter().any(|r| r.id == rec.id) {
                recs.push(rec);
            }
        }
        recs
    };
    if recs.is_empty() {
        ctx.ui.status("nothing to stop: no task is running");
        return Ok(Exit::Ok);
    }
    let mut ok = true;
    for (id, how) in stop::stop(&ws.store, recs, &mut finder)? {
        match how {
            Stopped::NotRunning { state } => {
                ctx.ui
                    .status(&format!("{id}: not running ({state}), nothing to stop"));
            }
            Stopped::Supervised { owner, state, pids } => {
                let what = if pids.is_empty() {
                    String::new()
                } else {
                    format!("stopped {}; ", pid_list(&pids))
                };
                ctx.ui.status(&format!(
                    "{id}: {what}the git agents process running it (pid {owner}) recorded it {state}"
                ));
            }
            Stopped::Orphaned { pids, recorded } => {
                let mut line = format!("{id}: its git agents process was gone");
                if !pids.is_empty() {
                    line.push_str(&format!(
                        "; stopped what it left running: {}",
                        pid_list(&pids)
                    ));
                }
                if recorded {
                    line.push_str("; recorded interrupted");
                }
                ctx.ui.status(&line);
            }
            Stopped::Asked { owner, state } => {
                ctx.ui.status(&format!(
                    "{id}: {state}; the git agents process running it (pid {owner}) will end it \
                     interrupted before its next step"
                ));
            }
            Stopped::Survived { pids } => {
                ok = false;
                ctx.ui.warn(&format!(
                    "{id}: {} still running after SIGKILL (stuck in the kernel, or not yours)",
                    pid_list(&pids)
                ));
            }
        }
    }
    Ok(if ok { Exit::Ok } else { Exit::Failed })
}

/// `pid 12` or `3 processes (pids 12, 13, 14)`.
fn pid_list(pids: &[u32]) -> String {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    match pids.len() {
        1 => format!("1 process (pid {})", list[0]),
        n => format!("{n} processes (pids {})", list.join(", ")),
    }
}
