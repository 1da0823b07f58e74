//! Command line: global options, the subcommand enum, dispatch, and the mapping of
//! results to exit codes.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
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
    Stop(cmd::stop::StopArgs),
    Wait(cmd::wait::WaitArgs),
    Path(cmd::path::PathArgs),
    Init(cmd::init::InitArgs),
    Demo(cmd::demo::DemoArgs),
    Completions(cmd::completions::CompletionsArgs),
    Trust(cmd::trust::TrustArgs),
    Man(cmd::man::ManArgs),
    Watch(cmd::watch::WatchArgs),
    Pick(cmd::pick::PickArgs),
    RunTask(cmd::run_task::RunTaskArgs),
}

/// What every command receives: the output layer and the global options.
pub struct Ctx {
    pub ui: Ui,
    pub manifest: Option<PathBuf>,
}

pub fn main() -> ExitCode {
    crate::engine::detach::take_marker();
    // Completion data for the shell scripts, before any parsing (see crate::completion).
    if let Some(code) = crate::completion::complete_from_env() {
        return code;
    }
    // The demo's toy agent (see cmd::demo): this binary, started by spawn as an agent.
    if std::env::var_os(cmd::demo::TOY_ENV).is_some_and(|v| v == "1") {
        let args: Vec<String> = std::env::args().skip(1).collect();
        return ExitCode::from(cmd::demo::toy_agent(&args) as u8);
    }
    let (leading_dirs, args) = take_leading_chdirs(std::env::args_os().collect());
    let cli = match Cli::try_parse_from(args) {
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
    // Every -C in command-line order: those before the subcommand, then those after it.
    for dir in leading_dirs.iter().chain(&cli.chdir) {
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
        Command::Stop(args) => cmd::stop::run(&ctx, args),
        Command::Wait(args) => cmd::wait::run(&ctx, args),
        Command::Path(args) => cmd::path::run(&ctx, args),
        Command::Init(args) => cmd::init::run(&ctx, args),
        Command::Demo(args) => cmd::demo::run(&ctx, args),
        Command::Completions(args) => cmd::completions::run(&ctx, args),
        Command::Trust(args) => cmd::trust::run(&ctx, args),
        Command::Man(args) => cmd::man::run(&ctx, args),
        Command::Watch(args) => cmd::watch::run(&ctx, args),
        Command::Pick(args) => cmd::pick::run(&ctx, args),
        Command::RunTask(args) => cmd::run_task::run(&ctx, args),
    };
    match result {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(err) => {
            report(&ctx.ui, &err);
            ExitCode::from(exit_code_of(&err))
        }
    }
}

/// Take the `-C` options that come before the subcommand out of `args`, in order.
///
/// clap keeps one value list per global option, and when the subcommand's part of the
/// line has the option too, that list replaces the top level's (its global propagation),
/// so `-C a list -C b` would lose `a`. git applies every `-C`, each relative to the one
/// before; so the top level's `-C`s are taken here, and clap only ever sees those after
/// the subcommand. The scan walks the top level's options as clap would (clusters like
/// `-qC DIR`, `-CDIR`, `--manifest FILE`) and stops at the first word that is not one:
/// the subcommand, or a mistake clap then reports as usual.
fn take_leading_chdirs(mut args: Vec<OsString>) -> (Vec<PathBuf>, Vec<OsString>) {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let mut cmd = <Cli as clap::CommandFactory>::command();
    cmd.build();
    let takes_value = |arg: &clap::Arg| arg.get_action().takes_values();
    let mut dirs = Vec::new();
    let mut i = 1;
    while i < args.len() {
        let word = args[i].as_bytes().to_vec();
        if word == b"--" || word.len() < 2 || word[0] != b'-' {
            break;
        }
        if let Some(long) = word.strip_prefix(b"--") {
            let name = long.split(|b| *b == b'=').next().unwrap_or_default();
            let Some(arg) = cmd
                .get_arguments()
                .find(|a| a.get_long().is_some_and(|l| l.as_bytes() == name))
            else {
                break;
            };
            if takes_value(arg) && !long.contains(&b'=') {
                // clap takes no value that looks like an option: it reports that, so stop.
                if args
                    .get(i + 1)
                    .is_none_or(|v| looks_like_option(v.as_bytes()))
                {
                    break;
                }
                i += 1;
            }
            i += 1;
            continue;
        }
        // A cluster of short options: flags, then at most one option with a value,
        // which is the rest of the word (after an optional '=') or the next word.
        let mut kept = vec![b'-'];
        let mut taken_next = false;
        let mut pos = 1;
        while pos < word.len() {
            let c = word[pos];
            let Some(arg) = cmd
                .get_arguments()
                .find(|a| a.get_short().is_some_and(|s| s as u32 == c as u32))
            else {
                // Not ours: leave the rest of the line to clap.
                kept.extend_from_slice(&word[pos..]);
                args[i] = OsString::from_vec(kept);
                return (dirs, args);
            };
            if !takes_value(arg) {
                kept.push(c);
                pos += 1;
                continue;
            }
            let after = &word[pos + 1..];
            // `-C=DIR` (and `-C=`, an empty value) as clap reads it.
            let inline = !after.is_empty();
            let rest = after.strip_prefix(b"=").unwrap_or(after);
            if arg.get_id() == "chdir" {
                if inline {
                    dirs.push(PathBuf::from(OsString::from_vec(rest.to_vec())));
                } else if i + 1 < args.len() {
                    dirs.push(PathBuf::from(args.remove(i + 1)));
                } else {
                    // `-C` with nothing after it: clap says what is missing.
                    kept.push(c);
                }
            } else {
                kept.extend_from_slice(&word[pos..]);
                taken_next = !inline;
            }
            break;
        }
        if kept.len() > 1 {
            args[i] = OsString::from_vec(kept);
            i += 1;
        } else {
            args.remove(i);
        }
        if taken_next {
            if args.get(i).is_none_or(|v| looks_like_option(v.as_bytes())) {
                break;
            }
            i += 1;
        }
    }
    (dirs, args)
}

fn looks_like_option(word: &[u8]) -> bool {
    word.len() > 1 && word[0] == b'-'
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

    fn split(line: &[&str]) -> (Vec<String>, Vec<String>) {
        let args = line.iter().map(OsString::from).collect();
        let (dirs, rest) = take_leading_chdirs(args);
        (
            dirs.iter().map(|d| d.display().to_string()).collect(),
            rest.iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
        )
    }

    #[test]
    fn leading_chdirs_are_taken_in_order_and_nothing_else() {
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (
                &["g", "-C", "a", "list", "-C", "b"],
                &["a"],
                &["g", "list", "-C", "b"],
            ),
            (
                &["g", "-Ca", "-C=b", "-C", "", "ls"],
                &["a", "b", ""],
                &["g", "ls"],
            ),
            (
                &["g", "-qC", "a", "-vCb", "list"],
                &["a", "b"],
                &["g", "-q", "-v", "list"],
            ),
            // A value clap would refuse (it looks like an option) ends the scan; `-C`
            // takes any value, as git's does.
            (
                &["g", "--manifest", "-C", "-C", "x", "list"],
                &[],
                &["g", "--manifest", "-C", "-C", "x", "list"],
            ),
            (
                &["g", "--color", "-C", "x"],
                &[],
                &["g", "--color", "-C", "x"],
            ),
            (&["g", "-C", "-x", "list"], &["-x"], &["g", "list"]),
            (&["g", "-C=", "list"], &[""], &["g", "list"]),
            (
                &[
                    "g",
                    "--color=never",
                    "--manifest=m",
                    "-C",
                    "x",
                    "spawn",
                    "-p",
                    "-C y",
                ],
                &["x"],
                &["g", "--color=never", "--manifest=m", "spawn", "-p", "-C y"],
            ),
            // After the subcommand, after `--`, or after something clap will refuse,
            // nothing is touched.
            (&["g", "list", "-C", "a"], &[], &["g", "list", "-C", "a"]),
            (&["g", "--", "-C", "a"], &[], &["g", "--", "-C", "a"]),
            (&["g", "-xC", "a", "list"], &[], &["g", "-xC", "a", "list"]),
            (
                &["g", "--bogus", "-C", "a"],
                &[],
                &["g", "--bogus", "-C", "a"],
            ),
            (&["g", "-C"], &[], &["g", "-C"]),
        ];
        for (line, dirs, rest) in cases {
            let (d, r) = split(line);
            assert_eq!(d, *dirs, "{line:?}");
            assert_eq!(r, *rest, "{line:?}");
        }
    }
}
