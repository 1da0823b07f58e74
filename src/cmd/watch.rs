//! `git agents watch`: the live view of running tasks from any terminal, built from the
//! store and the batches' event logs (see [`crate::engine::follow`]); off a terminal, or
//! with `--json`, the events themselves as NDJSON. Watching changes nothing: Ctrl-C
//! stops the watcher, never the agents.

use anyhow::Result;
use std::io::IsTerminal as _;

use crate::cli::Ctx;
use crate::engine::events::Sink as _;
use crate::engine::follow::{self, Start};
use crate::error::Exit;
use crate::supervise;
use crate::task::State;
use crate::ui::{Progress, table};

use super::Workspace;

/// Follow running tasks live, from any terminal, until they end.
///
/// Without IDs, every running task and the rest of its batch. Ctrl-C stops watching and
/// leaves the agents running. Off a terminal, or with --json, prints the batches' events
/// as newline-delimited JSON (see README "The event log").
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// Tasks to watch (default: every running task)
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Print the events as NDJSON on stdout instead of the live view
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Ctx, args: WatchArgs) -> Result<Exit> {
    let ws = Workspace::open_lenient(ctx)?;
    let mut follower = match follow::start(&ws.store, &args.ids)? {
        Start::Nothing(why) => {
            for line in why {
                ctx.ui.status(&line);
            }
            return Ok(Exit::Ok);
        }
        Start::Follow(f) => f,
    };
    for note in follower.notes() {
        ctx.ui.status(note);
    }
    supervise::install_interrupt_handler();
    let tasks = follower.tasks();
    let ids: Vec<String> = tasks.iter().map(|(id, _)| id.clone()).collect();
    let view = (!args.json && ctx.ui.stderr_tty && std::io::stdout().is_terminal())
        .then(|| Progress::new(&ctx.ui, &ids));
    if let Some(p) = &view {
        for (id, state) in &tasks {
            p.phase(id, state.as_str());
        }
    }
    loop {
        let up = follower.poll();
        for w in &up.warnings {
            ctx.ui.warn(w);
        }
        for e in &up.events {
            match &view {
                Some(p) => p.emit(e),
                None => {
                    if let Ok(line) = serde_json::to_string(e) {
                        ctx.ui.out(&format!("{line}\n"));
                    }
                }
            }
        }
        for (id, state, detail) in &up.ended {
            if let Some(p) = &view {
                p.done(id, *state, detail);
            } else if *state == State::Interrupted {
                ctx.ui.warn(&format!(
                    "task {id} was interrupted: the process running it is gone, \
                     and its event log does not say so"
                ));
            }
        }
        if up.done {
            break;
        }
        if supervise::interrupted() {
            if let Some(p) = &view {
                p.finish();
            }
            ctx.ui
                .status("stopped watching; the tasks go on (watch them again: git agents watch)");
            return Ok(Exit::Interrupted);
        }
        std::thread::sleep(follow::POLL);
    }
    if let Some(p) = &view {
        p.finish();
        let rows: Vec<Vec<String>> = ids
            .iter()
            .filter_map(|id| ws.store.load(id).ok().flatten())
            .map(|r| {
                vec![
                    r.id.clone(),
                    ctx.ui.state(r.process_state()),
                    r.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        ctx.ui.out(&table(&["ID", "STATE", "DETAIL"], &rows));
    }
    Ok(Exit::Ok)
}
