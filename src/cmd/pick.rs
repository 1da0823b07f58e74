//! `git agents pick ID CANDIDATE`: choose a best-of-N task's winner by hand.

use anyhow::Result;

use crate::cli::Ctx;
use crate::engine::candidates;
use crate::error::{Error, Exit};
use crate::task::TaskId;

use super::Workspace;

/// Make a candidate the winner of a best-of-N task, over the automatic choice
///
/// The winner is what `merge ID` lands and what tasks depending on ID start from; the
/// other candidates are what `prune` removes once the winner is merged. CANDIDATE is the
/// candidate's id (fix.c2) or its number (2 or c2).
#[derive(Debug, clap::Args)]
pub struct PickArgs {
    /// The best-of-N task
    #[arg(value_name = "ID")]
    pub id: String,

    /// The candidate to make the winner: its id (fix.c2) or number (2)
    #[arg(value_name = "CANDIDATE")]
    pub candidate: String,
}

pub fn run(ctx: &Ctx, args: PickArgs) -> Result<Exit> {
    let id = TaskId::parse(&args.id).map_err(Error::usage)?;
    let ws = Workspace::open_lenient(ctx)?;
    let winner = candidates::pick(&ws.repo, &ws.store, id.as_str(), &args.candidate)?;
    ctx.ui.status(&format!(
        "{id}: the winner is now {winner} (picked by hand)"
    ));
    Ok(Exit::Ok)
}
