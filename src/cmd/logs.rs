//! `git agents logs ID [-f]`: a task's log; `-f` follows it while the task runs.

use anyhow::{Context as _, Result};
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use crate::cli::Ctx;
use crate::error::{Error, Exit};
use crate::task::{State, TaskId};

use super::Workspace;

/// Print a task's log (setup, agent and check output of every attempt)
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The task
    pub id: String,

    /// Keep printing new output while the task runs
    #[arg(short, long)]
    pub follow: bool,
}

pub fn run(ctx: &Ctx, args: LogsArgs) -> Result<Exit> {
    let id = TaskId::parse(&args.id).map_err(Error::usage)?;
    let ws = Workspace::open_lenient(ctx)?;
    ws.record(id.as_str())?;
    let path = ws.store.log_path(id.as_str());
    let mut file = std::fs::File::open(&path)
        .with_context(|| format!("cannot open the log {}", path.display()))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    ctx.ui.out(&String::from_utf8_lossy(&buf));
    if !args.follow {
        return Ok(Exit::Ok);
    }
    crate::supervise::install_interrupt_handler();
    let mut pos = buf.len() as u64;
    loop {
        let running = ws
            .store
            .load(id.as_str())?
            .is_some_and(|r| matches!(r.process_state(), State::Running | State::Pending));
        // Read once more after the task ended, so its last lines are not missed.
        file.seek(SeekFrom::Start(pos))?;
        let mut more = Vec::new();
        file.read_to_end(&mut more)?;
        if !more.is_empty() {
            pos += more.len() as u64;
            ctx.ui.out(&String::from_utf8_lossy(&more));
        }
        if !running {
            return Ok(Exit::Ok);
        }
        if crate::supervise::interrupted() {
            return Ok(Exit::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
