//! `git agents completions SHELL`: prints the completion script for SHELL. The scripts
//! and the task-id source they call are generated in [`crate::completion`].

use anyhow::Result;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, Ctx};
use crate::completion;
use crate::error::Exit;

pub use crate::completion::{SHELLS, file_name};

/// Print a shell completion script
///
/// bash: save it as ~/.local/share/bash-completion/completions/git-agents (or source it);
/// `git agents <TAB>` then completes too, through git's own completion.
///
/// zsh: save it as _git-agents in a directory on $fpath (before compinit runs); git's zsh
/// completion then also completes `git agents <TAB>`.
///
/// fish: save it as ~/.config/fish/completions/git-agents.fish.
///
/// Task ids complete for the commands that take them.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(ctx: &Ctx, args: CompletionsArgs) -> Result<Exit> {
    ctx.ui.out(&script(args.shell));
    Ok(Exit::Ok)
}

/// The script for one shell, for this binary's command line.
pub fn script(shell: Shell) -> String {
    completion::script(shell, Cli::command())
}
