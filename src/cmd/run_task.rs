//! `git agents run-task ID`: run one remote task in this clone of the shared remote
//! (what a dispatched job runs; see README, Remote runs).

use anyhow::Result;

use crate::cli::Ctx;
use crate::engine::events::{Event, Kind, Sink};
use crate::error::{Error, Exit};
use crate::remote::job::{self, Here};
use crate::task::TaskId;
use crate::ui::Ui;

use super::Workspace;

/// Run one task dispatched with `runner: remote`, in this clone, and push its result
///
/// Fetches the task's spec and base from the remote's private refs, runs it as spawn
/// would (copy, setup, agent, commit, check, retries), and pushes its branch and its
/// status. Only run it on tasks you dispatched: it runs the spec's commands.
#[derive(Debug, clap::Args)]
pub struct RunTaskArgs {
    /// The task
    pub id: String,

    /// The git remote the task came through
    #[arg(long, value_name = "NAME", default_value = "origin")]
    pub remote: String,
}

/// The job's output: each line of the task as it comes (what `kubectl logs` and the
/// like show).
struct Lines(Ui);

impl Sink for Lines {
    fn emit(&self, event: &Event) {
        match &event.kind {
            Kind::Output { line } => self.0.out(&format!("{line}\n")),
            Kind::TaskEnded { state, detail } => {
                self.0.status(&format!("run-task: {state} {detail}"))
            }
            _ => {}
        }
    }
}

pub fn run(ctx: &Ctx, args: RunTaskArgs) -> Result<Exit> {
    let id = TaskId::parse(&args.id).map_err(Error::usage)?;
    let ws = Workspace::open_lenient(ctx)?;
    let here = Here {
        repo: &ws.repo,
        store: &ws.store,
        git: &ws.git,
    };
    ws.store.prepare()?;
    let rec = job::run_task(
        &here,
        id.as_str(),
        &args.remote,
        |f| ws.global(f),
        Lines(ctx.ui.clone()),
    )?;
    Ok(if rec.state.is_success() {
        Exit::Ok
    } else {
        Exit::Failed
    })
}
