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
    // Parsed as an OsString: like git, `-C ""` is accepted and leaves the directory alone.
    #[arg(short = 'C', value_name = "PATH", global = true, value_hint = clap::ValueHint::DirPath,
          value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from))]
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
    #[command(visible_alias = "ls")]
    List(cmd::list::ListArgs),
    Merge(cmd::merge::MergeArgs),
    Prune(cmd::prune::PruneArgs),
    Logs(cmd::logs::LogsArgs),
    Show(cmd::show::ShowArgs),
    Path(cmd::path::PathArgs),
    Init(cmd::init::InitArgs),
    Demo(cmd::demo::DemoArgs),
    Completions(cmd::completions::CompletionsArgs),
    Trust(cmd::trust::TrustArgs),
    Man(cmd::man::ManArgs),
}

/// What every command receives: the output layer and the global options.
pub struct Ctx {
    pub ui: Ui,
    pub manifest: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    // Completion data for the shell scripts, before any parsing (see cmd::completions).
    if let Some(code) = cmd::completions::complete_from_env() {
        return code;
    }
    // The demo's toy agent (see cmd::demo): this binary, started by spawn as an agent.
    if std::env::var_os(cmd::demo::TOY_ENV).is_some_and(|v| v == "1") {
        let args: Vec<String> = std::env::args().skip(1).collect();
        return ExitCode::from(cmd::demo::toy_agent(&args) as u8);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::from(e.exit_code() as u8);
            }
            usage_error(&e);
            return ExitCode::from(2);
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
        Command::List(args) => cmd::list::run(&ctx, args),
        Command::Merge(args) => cmd::merge::run(&ctx, args),
        Command::Prune(args) => cmd::prune::run(&ctx, args),
        Command::Logs(args) => cmd::logs::run(&ctx, args),
        Command::Show(args) => cmd::show::run(&ctx, args),
        Command::Path(args) => cmd::path::run(&ctx, args),
        Command::Init(args) => cmd::init::run(&ctx, args),
        Command::Demo(args) => cmd::demo::run(&ctx, args),
        Command::Completions(args) => cmd::completions::run(&ctx, args),
        Command::Trust(args) => cmd::trust::run(&ctx, args),
        Command::Man(args) => cmd::man::run(&ctx, args),
    };
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) => {
            report(&ctx.ui, &err);
            ExitCode::from(exit_code_of(&err))
        }
    }
}

/// A command-line mistake in our own two-line shape: what is wrong, and one hint (clap's
/// own tip when it has one, else where to look).
fn usage_error(e: &clap::Error) {
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("invalid command line")
        .trim_start_matches("error: ");
    let tip = lines
        .find_map(|l| {
            l.strip_prefix("tip: ").map(str::to_string).or_else(|| {
                l.strip_prefix("[possible values: ")
                    .map(|v| format!("possible values: {}", v.trim_end_matches(']')))
            })
        })
        .unwrap_or_else(|| "for usage, run: git agents -h".to_string());
    let ui = Ui::new(ColorChoice::Auto, false, false);
    ui.error(first, Some(&tip));
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
