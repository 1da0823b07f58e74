//! Command line: global options, the subcommand enum, dispatch, and the mapping of
//! results to exit codes.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::cmd;
use crate::error::{Exit, exit_code_of};
use crate::ui::{ColorChoice, Ui};

/// Run coding agents in parallel, each in its own git worktree on its own branch,
/// and bring their work home safely.
#[derive(Debug, Parser)]
#[command(
    name = "git-agents",
    bin_name = "git agents",
    version,
    max_term_width = 100
)]
pub struct Cli {
    /// Run as if started in PATH (like git -C); may be repeated
    #[arg(short = 'C', value_name = "PATH", global = true)]
    pub chdir: Vec<PathBuf>,

    /// Manifest file to use instead of agents.yaml
    #[arg(long, value_name = "FILE", global = true)]
    pub manifest: Option<PathBuf>,

    /// When to colour output (NO_COLOR is honoured by auto)
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub color: ColorChoice,

    /// Print only data and errors
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Print more detail about what happens
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Spawn(cmd::spawn::SpawnArgs),
    Logs(cmd::logs::LogsArgs),
    Path(cmd::path::PathArgs),
    #[command(visible_alias = "ls")]
    List(cmd::list::ListArgs),
    Show(cmd::show::ShowArgs),
}

/// What every command receives: the output layer and the global options.
pub struct Ctx {
    pub ui: Ui,
    pub manifest: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap: 0 for --help/--version, 2 for usage errors.
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    let ui = Ui::new(cli.color, cli.quiet, cli.verbose);
    for dir in &cli.chdir {
        if dir.as_os_str().is_empty() {
            continue;
        }
        if let Err(e) = std::env::set_current_dir(dir) {
            ui.error(&format!("cannot change to '{}': {e}", dir.display()), None);
            return ExitCode::from(2);
        }
    }
    let ctx = Ctx {
        ui,
        manifest: cli.manifest,
    };
    let result = match cli.command {
        Command::Spawn(args) => cmd::spawn::run(&ctx, args),
        Command::Logs(args) => cmd::logs::run(&ctx, args),
        Command::Path(args) => cmd::path::run(&ctx, args),
        Command::List(args) => cmd::list::run(&ctx, args),
        Command::Show(args) => cmd::show::run(&ctx, args),
    };
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) => {
            report(&ctx.ui, &err);
            ExitCode::from(exit_code_of(&err))
        }
    }
}

fn report(ui: &Ui, err: &anyhow::Error) {
    if let Some(e) = err.downcast_ref::<crate::error::Error>() {
        if e.kind == crate::error::Kind::Interrupted {
            return;
        }
        ui.error(&e.message, e.hint.as_deref());
        return;
    }
    let mut msg = err.to_string();
    for cause in err.chain().skip(1) {
        msg.push_str(": ");
        msg.push_str(&cause.to_string());
    }
    ui.error(&msg, None);
}

pub fn exit_for(all_ok: bool, interrupted: bool) -> Exit {
    if interrupted {
        Exit::Interrupted
    } else if all_ok {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
