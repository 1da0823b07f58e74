//! `git agents wait [ID...] [--timeout DUR]`: block until tasks end; the exit status
//! says how they ended (SPEC §6). See [`crate::engine::wait`].

use anyhow::Result;
use std::time::Duration;

use crate::cli::Ctx;
use crate::engine::wait;
use crate::error::{Error, Exit};
use crate::task::TaskId;

use super::Workspace;

/// Wait for running tasks to end
///
/// Blocks until the named tasks (default: every task running now, in any batch, started
/// from any terminal) have ended, printing each one's state as it ends. Exits 0 when all
/// of them succeeded (an empty task counts as success), 1 when any did not. With
/// --timeout, gives up after that long: exit 1, naming the tasks still running. Ctrl-C
/// (exit 130) leaves the tasks running.
#[derive(Debug, clap::Args)]
pub struct WaitArgs {
    /// The tasks to wait for
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Give up after this long, e.g. 90s, 30m, 2h (exit 1); must be more than zero
    #[arg(long, value_name = "DUR", value_parser = crate::time::parse_duration)]
    pub timeout: Option<Duration>,
}

pub fn run(ctx: &Ctx, args: WaitArgs) -> Result<Exit> {
    let ids: Vec<TaskId> = args
        .ids
        .iter()
        .map(|s| TaskId::parse(s).map_err(Error::usage))
        .collect::<Result<_, _>>()?;
    let ws = Workspace::open_lenient(ctx)?;
    let mut names: Vec<String> = Vec::new();
    for id in &ids {
        // Every id is checked before waiting: a typo must not wait forever, or at all.
        let rec = ws.record(id.as_str())?;
        if !names.contains(&rec.id) {
            names.push(rec.id);
        }
    }
    if ids.is_empty() {
        names = wait::running(&ws.store)?;
        if names.is_empty() {
            ctx.ui.status("nothing to wait for: no task is running");
            return Ok(Exit::Ok);
        }
    }
    let deadline = args.timeout.and_then(crate::time::deadline);
    crate::supervise::install_interrupt_handler();
    let waited = wait::wait(
        &ws.store,
        &names,
        deadline,
        crate::supervise::interrupted,
        |id, state| match state {
            Some(s) => ctx.ui.status(&format!("{id}: {}", ctx.ui.state(s))),
            None => ctx.ui.status(&format!(
                "{id}: withdrawn before it started (no record left)"
            )),
        },
    )?;
    if crate::supervise::interrupted() {
        return Ok(Exit::Interrupted);
    }
    if !waited.running.is_empty() {
        let took = args.timeout.map(crate::time::short).unwrap_or_default();
        return Err(Error::refused(format!(
            "timed out after {took}; still running: {}",
            waited.running.join(", ")
        ))
        .with_hint("wait longer, or stop them: git agents stop ID...")
        .into());
    }
    Ok(if waited.all_ok() {
        Exit::Ok
    } else {
        Exit::Failed
    })
}
