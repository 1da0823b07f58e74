//! `git agents path ID`: print a task's worktree path, for `cd "$(git agents path ID)"`.

use anyhow::Result;

use crate::cli::Ctx;
use crate::error::{Error, Exit};
use crate::task::TaskId;

use super::Workspace;

/// Print the worktree path of a task
#[derive(Debug, clap::Args)]
pub struct PathArgs {
    /// The task
    pub id: String,
}

pub fn run(ctx: &Ctx, args: PathArgs) -> Result<Exit> {
    let id = TaskId::parse(&args.id).map_err(Error::usage)?;
    let ws = Workspace::open_lenient(ctx)?;
    let rec = ws.record(id.as_str())?;
    // A remote task's worktree is made here, from its fetched branch, when first asked for.
    crate::remote::materialize(&ws.repo.root, &rec)?;
    if !rec.worktree.is_dir() {
        return Err(Error::refused(format!(
            "task {id} has no worktree any more ({} is gone)",
            rec.worktree.display()
        ))
        .into());
    }
    ctx.ui.out(&format!("{}\n", rec.worktree.display()));
    Ok(Exit::Ok)
}
