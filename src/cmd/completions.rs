//! `git agents completions SHELL`: a completion script generated from the clap command,
//! plus what clap cannot generate by itself:
//!
//! - task ids for the ID arguments of the commands in [`ID_COMMANDS`], read at completion
//!   time from `GIT_AGENTS_COMPLETE=ids git-agents` (an environment trigger rather than a
//!   hidden subcommand, because hidden subcommands still show in completions: clap #1335);
//! - bash: `_git_agents`, which git's own completion calls for `git agents …`, and the
//!   fix-up of clap #6421 (with a hyphenated binary name, subcommand options never
//!   complete);
//! - zsh: a `#description` line so `git <TAB>` describes `agents`.
//!
//! Generation is deterministic: the committed files under `completions/` must equal it
//! (tests/generated.rs).

use anyhow::Result;
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use std::fmt::Write as _;

use crate::cli::{Cli, Ctx};
use crate::error::Exit;

/// Subcommands whose positional `ID` arguments are task ids. A command listed here that
/// does not exist (yet) is skipped; one that lands later needs only its name here.
pub const ID_COMMANDS: &[&str] = &[
    "spawn", "logs", "path", "merge", "prune", "show", "list", "stop", "wait", "watch",
];

/// The environment variable that makes the binary print completion data and exit.
pub const COMPLETE_ENV: &str = "GIT_AGENTS_COMPLETE";

/// The name the scripts complete; git runs it as `git agents`.
pub const BIN: &str = "git-agents";

const DESCRIPTION: &str = "run coding agents in parallel worktrees";

/// Stands in for task ids while clap generates the zsh script, so the one place each ID
/// argument's completion is written can be found exactly and replaced.
const ID_MARK: &str = "GIT_AGENTS_TASK_IDS";

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

/// The complete script for one shell.
pub fn script(shell: Shell) -> String {
    match shell {
        Shell::Bash => bash(),
        Shell::Zsh => zsh(),
        Shell::Fish => fish(),
        other => generate(other, command()),
    }
}

fn command() -> Command {
    let mut cmd = Cli::command();
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

// ---------------------------------------------------------------------------------------
// bash

fn bash() -> String {
    let cmd = command();
    let generated = generate(Shell::Bash, cmd.clone());
    // clap registers its function itself; we register a wrapper instead.
    let cut = generated
        .find("\nif [[ \"${BASH_VERSINFO[0]}\" -eq 4")
        .expect("clap's bash script ends with its `complete` registration");
    let body = &generated[..=cut];
    // clap #6421: case labels of subcommands are built from the bin name with '-'
    // replaced by the separator (`git__subcmd__agents__subcmd__spawn`), while the
    // states are built with '-' replaced by `__` (`git__agents__subcmd__spawn`): they
    // never match, so no subcommand option ever completes. Make the labels agree.
    let body = body
        .replace("git__subcmd__agents", "git__agents")
        .replace("_git__agents()", "_git_agents_clap()");

    let ids = id_commands(&cmd);
    let mut s = String::new();
    s.push_str(&format!(
        "# bash completion for {BIN} (git agents).\n\
         # Generated by `git agents completions bash`; do not edit.\n\
         # Install as ~/.local/share/bash-completion/completions/{BIN}, or source it.\n\n"
    ));
    s.push_str(&body);

    let names: Vec<&str> = ids
        .iter()
        .flat_map(|c| c.names.iter().map(String::as_str))
        .collect();
    let global_values = value_options(&cmd);
    let mut value_cases: Vec<String> = global_values.iter().map(|o| format!("*,{o}")).collect();
    for c in &ids {
        for name in &c.names {
            for o in &c.value_options {
                if !global_values.contains(o) {
                    value_cases.push(format!("{name},{o}"));
                }
            }
        }
    }

    let _ = write!(
        s,
        r#"
# Task ids, one per line, for the commands whose arguments are ids. The caller sets
# _git_agents_cmd: how to run git-agents (through git under `git agents`, so that git's
# own -C and --git-dir apply).
_git_agents_ids() {{
    {env}=ids "${{_git_agents_cmd[@]}}" "$@" 2>/dev/null
}}

# Complete a task id when the word under the cursor is an ID argument of one of:
# {names_doc}. Returns 1 (and leaves COMPREPLY alone) otherwise.
_git_agents_complete_ids() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" sub="" value="" w i
    local -a pass=()
    for (( i = 1; i < COMP_CWORD; i++ )); do
        w="${{COMP_WORDS[i]}}"
        if [[ -n $value ]]; then
            # -C and --manifest change which repository and manifest the ids come from.
            case "$value" in -C|--manifest) pass+=("$value" "$w") ;; esac
            value=""
            continue
        fi
        case "$w" in
            --manifest=*) pass+=("$w") ;;
            -*)
                case "$sub,$w" in
                    {value_cases}) value="$w" ;;
                esac
                ;;
            *) [[ -z $sub ]] && sub="$w" ;;
        esac
    done
    [[ -n $value || $cur == -* ]] && return 1
    case "$sub" in
        {names_case}) ;;
        *) return 1 ;;
    esac
    local IFS=$'\n'
    COMPREPLY=( $(compgen -W "$(_git_agents_ids "${{pass[@]}}")" -- "$cur") )
    # An id position never wants file names.
    compopt +o default +o bashdefault 2>/dev/null
    return 0
}}

# The function bash calls for `{bin} …`.
_git_agents_bash() {{
    local -a _git_agents_cmd=("$1")
    _git_agents_complete_ids && return 0
    _git_agents_clap "$@"
}}

# Split a git alias's value into words as git does (split_cmdline): whitespace
# separates, '…' and "…" quote, a backslash outside '…' escapes the next character.
# Sets _git_agents_split.
_git_agents_split_alias() {{
    local s="$1" w="" q="" c have="" i
    _git_agents_split=()
    for (( i = 0; i < ${{#s}}; i++ )); do
        c="${{s:i:1}}"
        if [[ -n $q && $c == "$q" ]]; then
            q=""
        elif [[ -z $q && ( $c == "'" || $c == '"' ) ]]; then
            q="$c" have=1
        elif [[ $c == '\' && $q != "'" ]]; then
            i=$(( i + 1 ))
            w+="${{s:i:1}}" have=1
        elif [[ -z $q && $c == [[:space:]] ]]; then
            [[ -n $have ]] && _git_agents_split+=("$w")
            w="" have=""
        else
            w+="$c" have=1
        fi
    done
    [[ -n $have ]] && _git_agents_split+=("$w")
}}

# The words a git alias puts after `agents`: with `git config alias.sa "agents spawn"`,
# `git sa --ag` is `git agents spawn --ag`. git's completion finds the command an alias
# runs (__git_aliased_command, aliases of aliases included) and calls _git_agents, but
# passes on only the words typed after the alias: the alias's own words are read here,
# by git's rules for which word is the command. A shell alias (`!git agents spawn`)
# gives its plain words up to the first bit of shell syntax. Sets _git_agents_alias.
_git_agents_alias_words() {{
    local name="$1" value n i found
    local -a _git_agents_split extra
    _git_agents_alias=()
    for (( n = 0; n < 20; n++ )); do
        if declare -F __git >/dev/null; then
            value="$(__git config --get "alias.$name")"
        else
            value="$(git config --get "alias.$name" 2>/dev/null)"
        fi
        [[ -z $value ]] && break
        _git_agents_split_alias "$value"
        found=""
        for (( i = 0; i < ${{#_git_agents_split[@]}}; i++ )); do
            case "${{_git_agents_split[i]}}" in
                '!'*|-*|*=*|git|'()'|'{{'|:|"'"*) ;;
                *) found=$i; break ;;
            esac
        done
        [[ -z $found ]] && break
        extra=("${{_git_agents_split[@]:found+1}}")
        if [[ $value == '!'* ]]; then
            for (( i = 0; i < ${{#extra[@]}}; i++ )); do
                [[ ${{extra[i]}} == *[\;\|\&\<\>\(\)\$\`\{{\}}]* ]] && break
            done
            extra=("${{extra[@]:0:i}}")
        fi
        _git_agents_alias=("${{extra[@]}}" "${{_git_agents_alias[@]}}")
        name="${{_git_agents_split[found]}}"
        [[ $name == agents ]] && return 0
    done
    _git_agents_alias=()
    return 1
}}

# The function git's completion calls for `git agents …`, and for a git alias that runs
# `git agents …`: git hands over its own words/cword, and __git_cmd_idx, the index of
# "agents" (or of the alias) in them.
_git_agents() {{
    local idx="${{__git_cmd_idx:-}}" i typed
    if [[ -z $idx ]]; then
        for (( i = 1; i < ${{#words[@]}}; i++ )); do
            [[ ${{words[i]}} == agents ]] && {{ idx=$i; break; }}
        done
    fi
    [[ -z $idx ]] && return
    # For an alias, git's completion overwrites words[1] with "agents" (even when that is
    # not the alias's position); bash's own COMP_WORDS still holds what was typed.
    typed="${{words[idx]}}"
    (( idx == 1 )) && typed="${{COMP_WORDS[1]}}"
    local -a _git_agents_alias=()
    (( idx >= 1 )) && [[ $typed != agents ]] && _git_agents_alias_words "$typed"
    local -a COMP_WORDS=("{bin}" "${{_git_agents_alias[@]}}" "${{words[@]:idx+1}}")
    local COMP_CWORD=$(( cword - idx + ${{#_git_agents_alias[@]}} ))
    local -a _git_agents_cmd=(git ${{__git_C_args:+"${{__git_C_args[@]}}"}} ${{__git_dir:+--git-dir="$__git_dir"}} agents)
    # git completes with -o nospace and adds its own spaces; ours are plain words.
    compopt +o nospace 2>/dev/null
    _git_agents_complete_ids && return 0
    _git_agents_clap "{bin}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
}}

if [[ "${{BASH_VERSINFO[0]}}" -eq 4 && "${{BASH_VERSINFO[1]}}" -ge 4 || "${{BASH_VERSINFO[0]}}" -gt 4 ]]; then
    complete -F _git_agents_bash -o nosort -o bashdefault -o default {bin}
else
    complete -F _git_agents_bash -o bashdefault -o default {bin}
fi
"#,
        env = COMPLETE_ENV,
        bin = BIN,
        names_doc = names.join(" "),
        names_case = if names.is_empty() {
            "''".to_string()
        } else {
            names.join("|")
        },
        value_cases = value_cases.join("|"),
    );
    s
}

// ---------------------------------------------------------------------------------------
// zsh

fn zsh() -> String {
    let mut cmd = command();
    let ids = id_commands(&cmd);
    // Mark the ID arguments with a single possible value; clap writes it as the
    // argument's completion action `(MARK)`, which becomes our function.
    let mut marked = 0;
    for c in &ids {
        let name = &c.names[0];
        let sub = cmd.find_subcommand(name).expect("listed above");
        let args: Vec<clap::Id> = sub
            .get_arguments()
            .filter(|a| is_id_arg(a))
            .map(|a| a.get_id().clone())
            .collect();
        for id in args {
            marked += 1;
            cmd = cmd.mut_subcommand(name, |s| {
                s.mut_arg(id, |a| {
                    a.value_parser(clap::builder::PossibleValuesParser::new([ID_MARK]))
                })
            });
        }
    }
    let generated = generate(Shell::Zsh, cmd);
    let action = format!("({ID_MARK})");
    // An aliased subcommand (list/ls) is written once per name.
    assert!(
        generated.matches(&action).count() >= marked,
        "every ID argument gets the task id completion"
    );
    let generated = generated.replace(&action, "_git_agents_ids");
    let (first, rest) = generated
        .split_once('\n')
        .expect("clap's zsh script starts with #compdef");
    format!(
        r#"{first}
#description {DESCRIPTION}
# zsh completion for {BIN} (git agents). Generated by `git agents completions zsh`;
# do not edit. Save as _{BIN} in a directory on $fpath: zsh then completes
# `{BIN} …`, and git's zsh completion `git agents …`.

# Task ids, for the commands whose arguments are ids; -C and --manifest on the line
# choose the repository and manifest.
(( $+functions[_git_agents_ids] )) ||
_git_agents_ids() {{
    local -a ids pass expl
    local i
    for (( i = 1; i < CURRENT; i++ )); do
        case $words[i] in
            -C|--manifest) pass+=($words[i] ${{(Q)words[i+1]}}) ;;
            --manifest=*) pass+=(${{(Q)words[i]}}) ;;
        esac
    done
    ids=(${{(f)"$({COMPLETE_ENV}=ids {BIN} $pass 2>/dev/null)"}})
    _wanted task-ids expl 'task id' compadd -a ids
}}
{rest}"#
    )
}

// ---------------------------------------------------------------------------------------
// fish

fn fish() -> String {
    let cmd = command();
    let ids = id_commands(&cmd);
    let generated = generate(Shell::Fish, cmd);
    let names: Vec<&str> = ids
        .iter()
        .flat_map(|c| c.names.iter().map(String::as_str))
        .collect();
    let mut s = format!(
        "# fish completion for {BIN}. Generated by `git agents completions fish`; do not edit.\n\
         # Save as ~/.config/fish/completions/{BIN}.fish; fish's git completion then also\n\
         # completes `git agents …` from it.\n\n"
    );
    s.push_str(&generated);
    if !names.is_empty() {
        let _ = write!(
            s,
            r#"
# Task ids, for the commands whose arguments are ids; -C and --manifest on the line
# choose the repository and manifest.
function __fish_git_agents_ids
    set -l tokens (commandline -opc)
    set -l pass
    set -l i 2
    while test $i -le (count $tokens)
        switch $tokens[$i]
            case -C --manifest
                set -l next (math $i + 1)
                if test $next -le (count $tokens)
                    set -a pass $tokens[$i] $tokens[$next]
                end
                set i $next
            case '--manifest=*'
                set -a pass $tokens[$i]
        end
        set i (math $i + 1)
    end
    {env}=ids {bin} $pass 2>/dev/null
end

complete -c {bin} -n "__fish_git_agents_using_subcommand {names}" -f -a "(__fish_git_agents_ids)" -d 'task'
"#,
            env = COMPLETE_ENV,
            bin = BIN,
            names = names.join(" "),
        );
    }
    let _ = write!(
        s,
        r#"
# fish forwards `git agents …` to these completions by itself, except 3.6.0, which
# looks for the command under the wrong name (fish #9457): forward it here. This needs
# the file loaded before `git agents <TAB>`: on 3.6.0, source it from config.fish.
if test "$version" = 3.6.0
    function __fish_git_agents_from_git
        set -l cmd (commandline -opc)
        set -l at (contains -i -- agents $cmd)
        or return
        # git's own -C options come first, as git would apply them.
        set -l dirs
        for i in (seq 2 (math $at - 1))
            if test "$cmd[$i]" = -C
                set -a dirs -C (string escape -- $cmd[(math $i + 1)])
            end
        end
        set -l rest (string escape -- $cmd[(math $at + 1)..-1])
        complete -C "{bin} $dirs $rest "(commandline -ct)
    end
    complete -c git -f -n "__fish_git_using_command agents" -a "(__fish_git_agents_from_git)"
end
"#,
        bin = BIN,
    );
    s
}

// ---------------------------------------------------------------------------------------
// The id source

/// If `GIT_AGENTS_COMPLETE=ids` is set, print the task ids one per line and return the
/// exit code; the command line is read only for `-C` and `--manifest`. Any failure (no
/// repository, a broken manifest) prints fewer ids, never an error: completion must stay
/// quiet.
pub fn complete_from_env() -> Option<std::process::ExitCode> {
    let what = std::env::var_os(COMPLETE_ENV)?;
    if what != "ids" {
        return None;
    }
    let mut args = std::env::args_os().skip(1);
    let mut manifest = None;
    while let Some(arg) = args.next() {
        let text = arg.to_string_lossy().into_owned();
        if text == "-C" {
            if let Some(dir) = args.next()
                && !dir.is_empty()
                && std::env::set_current_dir(&dir).is_err()
            {
                return Some(std::process::ExitCode::SUCCESS);
            }
        } else if let Some(dir) = text.strip_prefix("-C").filter(|d| !d.is_empty()) {
            if std::env::set_current_dir(dir).is_err() {
                return Some(std::process::ExitCode::SUCCESS);
            }
        } else if text == "--manifest" {
            manifest = args.next().map(std::path::PathBuf::from);
        } else if let Some(m) = text.strip_prefix("--manifest=") {
            manifest = Some(m.into());
        }
    }
    let ui = crate::ui::Ui::new(crate::ui::ColorChoice::Never, true, false);
    let mut out = String::new();
    for id in task_ids(manifest) {
        out.push_str(&id);
        out.push('\n');
    }
    ui.out(&out);
    Some(std::process::ExitCode::SUCCESS)
}

/// Ids worth completing: every manifest task, in manifest order, then every task with a
/// record that is not a pruned tombstone.
pub fn task_ids(manifest: Option<std::path::PathBuf>) -> Vec<String> {
    let Ok(repo) = crate::git::Repo::discover() else {
        return Vec::new();
    };
    let git = crate::config::GitConfig::load(&repo.local());
    let mut ids: Vec<String> = Vec::new();
    let path = match manifest {
        Some(p) => std::path::absolute(p).ok(),
        None => match git.get(crate::config::keys::MANIFEST) {
            Some(p) => Some(repo.root.join(p)),
            None => ["agents.yaml", ".agents.yaml"]
                .iter()
                .map(|n| repo.root.join(n))
                .find(|p| p.is_file()),
        },
    };
    if let Some(m) = path.and_then(|p| crate::manifest::load(&p).ok()) {
        ids.extend(m.tasks.iter().map(|t| t.id.as_str().to_string()));
    }
    let store = crate::store::Store::new(&repo.common_dir);
    for rec in store.all().unwrap_or_default() {
        if !rec.pruned && !ids.contains(&rec.id) {
            ids.push(rec.id);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_case_labels_match_states() {
        // Every state the word loop can reach (`cmd="…"`) has a case label of its own:
        // the property clap #6421 breaks.
        let s = script(Shell::Bash);
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
        let cmd = command();
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
        let cmd = command();
        for sub in cmd.get_subcommands().filter(|s| s.is_hide_set()) {
            for shell in SHELLS {
                let text = script(*shell);
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
        let s = script(Shell::Zsh);
        let mut lines = s.lines();
        assert_eq!(lines.next(), Some("#compdef git-agents"));
        assert!(lines.next().unwrap().starts_with("#description "));
        assert!(s.contains(":_git_agents_ids'"));
    }
}
