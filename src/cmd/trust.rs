//! `git agents trust`: show the manifest's commands and trust their exact content.

use anyhow::Result;

use crate::cli::Ctx;
use crate::error::{Error, Exit};
use crate::trust;

use super::Workspace;

/// Show the manifest's commands (agent command, setup, check, env, notify) and trust them
///
/// A manifest tracked by git came with the repository: its commands run only once you
/// trusted this exact content. Any later change to them asks again.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {}

pub fn run(ctx: &Ctx, _args: TrustArgs) -> Result<Exit> {
    let ws = Workspace::open(ctx)?;
    let Some(m) = &ws.manifest else {
        return Err(Error::usage(
            "no manifest found (agents.yaml or .agents.yaml at the repository root)",
        )
        .into());
    };
    let items = trust::items(&ws.repo, m);
    if items.is_empty() {
        ctx.ui
            .status(&format!("{} runs no commands of its own", m.path.display()));
    } else {
        let shown: String = trust::shown(&items)
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        ctx.ui.out(&shown);
    }
    let hash = trust::content_hash(&trust::content(&items));
    trust::record(&ws.repo, m, &hash)?;
    ctx.ui
        .status(&format!("trusted {} ({})", m.path.display(), &hash[..12]));
    Ok(Exit::Ok)
}
