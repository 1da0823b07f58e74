//! Shell completion scripts generated from a clap command (`git agents completions`
//! prints them), plus what clap cannot generate by itself:
//!
//! - task ids for the ID arguments of the commands in [`ID_COMMANDS`], read at completion
//!   time from `GIT_AGENTS_COMPLETE=ids git-agents` (an environment trigger rather than a
//!   hidden subcommand, because hidden subcommands still show in completions: clap #1335);
//! - bash: `_git_agents`, which git's own completion calls for `git agents …`, and the
//!   fix-up of clap #6421 (with a hyphenated binary name, subcommand options never
//!   complete);
//! - zsh: a `#description` line so `git <TAB>` describes `agents`.
//!
//! The command comes in as a parameter, so this module depends on clap alone and not on
//! the CLI above it. Generation is deterministic: the committed files under
//! `completions/` must equal it (tests/generated.rs).

mod bash;
mod fish;
mod ids;
mod zsh;

use clap::Command;
use clap_complete::Shell;

pub use ids::{complete_from_env, task_ids};

/// Subcommands whose positional `ID` arguments are task ids. A command listed here that
/// does not exist (yet) is skipped; one that lands later needs only its name here.
pub const ID_COMMANDS: &[&str] = &[
    "spawn", "logs", "path", "merge", "prune", "show", "list", "stop", "wait", "watch", "pick",
];

/// The environment variable that makes the binary print completion data and exit.
pub const COMPLETE_ENV: &str = "GIT_AGENTS_COMPLETE";

/// The name the scripts complete; git runs it as `git agents`.
pub const BIN: &str = "git-agents";

const DESCRIPTION: &str = "run coding agents in parallel worktrees";

/// Stands in for task ids while clap generates the zsh script, so the one place each ID
/// argument's completion is written can be found exactly and replaced.
const ID_MARK: &str = "GIT_AGENTS_TASK_IDS";

/// The file name under `completions/` for each shell.
pub fn file_name(shell: Shell) -> String {
    match shell {
        Shell::Bash => format!("{BIN}.bash"),
        Shell::Zsh => format!("_{BIN}"),
        Shell::Fish => format!("{BIN}.fish"),
        Shell::Elvish => format!("{BIN}.elv"),
        Shell::PowerShell => format!("_{BIN}.ps1"),
        _ => format!("{BIN}.{shell}"),
    }
}

/// Every shell we generate for.
pub const SHELLS: &[Shell] = &[
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// The complete script for one shell, completing `cli` (the whole command line, as
/// `Cli::command()` gives it) under the name [`BIN`].
pub fn script(shell: Shell, cli: Command) -> String {
    let cmd = prepare(cli);
    match shell {
        Shell::Bash => bash::script(cmd),
        Shell::Zsh => zsh::script(cmd),
        Shell::Fish => fish::script(cmd),
        other => generate(other, cmd),
    }
}

fn prepare(mut cmd: Command) -> Command {
    cmd.set_bin_name(BIN);
    cmd.build();
    cmd
}

fn generate(shell: Shell, mut cmd: Command) -> String {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, BIN, &mut buf);
    String::from_utf8(buf).expect("clap_complete writes UTF-8")
}

/// An ID command as it exists in the CLI: its name and visible aliases, and the options
/// that take a value (so the word after them is not a task id).
struct IdCommand {
    names: Vec<String>,
    value_options: Vec<String>,
}

fn id_commands(cmd: &Command) -> Vec<IdCommand> {
    ID_COMMANDS
        .iter()
        .filter_map(|name| cmd.find_subcommand(name))
        .map(|sub| IdCommand {
            names: sub
                .get_name_and_visible_aliases()
                .into_iter()
                .map(str::to_string)
                .collect(),
            value_options: value_options(sub),
        })
        .collect()
}

fn value_options(cmd: &Command) -> Vec<String> {
    let mut out = Vec::new();
    for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
        if !arg.get_num_args().is_some_and(|n| n.takes_values()) {
            continue;
        }
        for s in arg.get_short_and_visible_aliases().unwrap_or_default() {
            out.push(format!("-{s}"));
        }
        for l in arg.get_long_and_visible_aliases().unwrap_or_default() {
            out.push(format!("--{l}"));
        }
    }
    out
}

/// Whether a positional argument holds task ids.
fn is_id_arg(arg: &clap::Arg) -> bool {
    arg.is_positional()
        && arg
            .get_value_names()
            .is_some_and(|n| n.iter().any(|n| n.as_str() == "ID"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The real command line, as the scripts are generated from it.
    fn cli() -> Command {
        crate::cli::Cli::command()
    }

    #[test]
    fn bash_case_labels_match_states() {
        // Every state the word loop can reach (`cmd="…"`) has a case label of its own:
        // the property clap #6421 breaks.
        let s = script(Shell::Bash, cli());
        assert!(!s.contains("__subcmd__agents"));
        for line in s.lines() {
            let line = line.trim();
            if let Some(state) = line
                .strip_prefix("cmd=\"")
                .and_then(|l| l.strip_suffix('"'))
                .filter(|st| !st.is_empty())
            {
                assert!(
                    s.contains(&format!("\n        {state})\n")),
                    "no case label for {state}"
                );
            }
        }
    }

    #[test]
    fn id_commands_cover_existing_subcommands() {
        let cmd = prepare(cli());
        let ids = id_commands(&cmd);
        let names: Vec<&str> = ids.iter().map(|c| c.names[0].as_str()).collect();
        for n in ["spawn", "logs", "path"] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let spawn = ids.iter().find(|c| c.names[0] == "spawn").unwrap();
        for o in ["-p", "--prompt", "--base", "-C", "--manifest"] {
            assert!(spawn.value_options.iter().any(|v| v == o), "{o}");
        }
        assert!(!spawn.value_options.iter().any(|v| v == "--json"));
    }

    #[test]
    fn hidden_subcommands_never_reach_the_scripts() {
        // clap_complete lists hidden subcommands too (clap #1335): anything that must
        // stay out of completions cannot be a subcommand; use an environment trigger
        // like COMPLETE_ENV instead.
        let cmd = prepare(cli());
        for sub in cmd.get_subcommands().filter(|s| s.is_hide_set()) {
            for shell in SHELLS {
                let text = script(*shell, cli());
                assert!(
                    !text.contains(&format!(" {} ", sub.get_name())),
                    "hidden subcommand {} appears in the {shell} script",
                    sub.get_name()
                );
            }
        }
    }

    #[test]
    fn zsh_has_description_on_line_two() {
        let s = script(Shell::Zsh, cli());
        let mut lines = s.lines();
        assert_eq!(lines.next(), Some("#compdef git-agents"));
        assert!(lines.next().unwrap().starts_with("#description "));
        assert!(s.contains(":_git_agents_ids'"));
    }

    #[test]
    fn generation_depends_on_clap_not_on_the_cli() {
        // The CLI is handed in (see `script`): nothing here reaches back up into cli or
        // cmd/, so any command can use this module without a cycle.
        for (file, text) in [
            ("mod.rs", include_str!("mod.rs")),
            ("bash.rs", include_str!("bash.rs")),
            ("zsh.rs", include_str!("zsh.rs")),
            ("fish.rs", include_str!("fish.rs")),
            ("ids.rs", include_str!("ids.rs")),
        ] {
            let code = text.split("#[cfg(test)]").next().unwrap();
            for up in ["crate::cli", "crate::cmd", "cli::", "cmd::"] {
                assert!(!code.contains(up), "{file} uses `{up}`");
            }
        }
    }
}
