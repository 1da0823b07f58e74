//! `git agents init`: write a commented starter manifest and choose the agent
//! (`agents.agent` in the repository's git config).
//!
//! On a terminal it asks which agent to use, offering the presets whose program is on
//! PATH; off a terminal it never blocks: `--agent NAME`, or `-y` for the configured or
//! first-found agent, else a usage error. Everything is decided before anything is
//! written, so a refused or cancelled init changes nothing.

use anyhow::{Context as _, Result};
use std::path::PathBuf;

use crate::agent::{self, PRESETS};
use crate::cli::Ctx;
use crate::config::{GitConfig, keys};
use crate::error::{Error, Exit};
use crate::git::{self, Repo};
use crate::ui::Ui;

/// Write a starter agents.yaml and choose the agent (agents.agent)
///
/// On a terminal, asks which agent to use among those found on PATH. Elsewhere it
/// never asks: give --agent NAME, or -y to keep the configured agent or take the first
/// one found on PATH.
#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// Agent preset to use (stored as agents.agent in .git/config)
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(agent::PRESET_NAMES))]
    pub agent: Option<String>,

    /// Do not ask: keep the configured agent, else take the first found on PATH
    #[arg(short, long)]
    pub yes: bool,

    /// Overwrite an existing manifest
    #[arg(long)]
    pub force: bool,
}

/// The starter manifest: valid as written (no task yet), every setting explained.
pub const STARTER: &str = r#"# git-agents manifest: the tasks `git agents spawn` runs, each by its own agent in
# its own worktree (.worktrees/ID) on its own branch (agent/ID).
# See `git agents --help` (man git-agents) for every setting.

# The agent is chosen per user in git config (agents.agent, set by `git agents init`).
# Uncomment to choose one for everybody who uses this file, by preset name ...
# agent: claude
# ... or as a command; {prompt} becomes the task's prompt (also {task}, {branch},
# {worktree}, {base}, {prompt_file}):
# command: ["my-agent", "--task", "{prompt}"]

# jobs: 4              # agents running at once
# timeout: 30m         # time limit per attempt
# retries: 1           # extra attempts after a failed one
# setup: ["npm ci"]    # run in each new worktree before the agent
# check: npm test      # run after the agent; exit 0 means the task passes
# copy: [.env]         # ignored files copied into each new worktree
# env: { LOG_LEVEL: debug }

tasks: []
# Replace the line above with your tasks, for example:
# tasks:
#   - id: rename-user-model
#     prompt: Rename the User model to Account everywhere.
#   - id: add-audit-log
#     prompt_file: tasks/audit-log.md   # relative to this file
#     check: npm test -- audit          # any setting above, for this task only
"#;

pub fn run(ctx: &Ctx, args: InitArgs) -> Result<Exit> {
    let repo = Repo::discover()?;
    let path = manifest_target(ctx, &repo)?;
    if !args.force {
        let existing = if path.exists() {
            Some(path.clone())
        } else if ctx.manifest.is_none() {
            // A hidden manifest would be shadowed by the new agents.yaml.
            Some(repo.root.join(".agents.yaml")).filter(|p| p.exists())
        } else {
            None
        };
        if let Some(p) = existing {
            return Err(Error::usage(format!("{} already exists", p.display()))
                .with_hint("keep it, or overwrite it with: git agents init --force")
                .into());
        }
    }
    let git_cfg = GitConfig::load(&repo.local());
    let configured = git_cfg
        .get(keys::AGENT)
        .filter(|a| agent::is_preset(a))
        .map(str::to_string);
    let chosen = choose_agent(ctx, &args, configured.as_deref())?;

    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(&path, STARTER).with_context(|| format!("cannot write {}", path.display()))?;
    ctx.ui.status(&format!("wrote {}", path.display()));

    git::set_local_config(&repo.root, keys::AGENT, &chosen)?;
    let on_path = agent::preset(&chosen).is_some_and(|p| which::which(p.command[0]).is_ok());
    ctx.ui.status(&format!(
        "set {} = {chosen} in {}",
        keys::AGENT,
        repo.common_dir.join("config").display()
    ));
    if !on_path {
        let program = agent::preset(&chosen).map_or(chosen.as_str(), |p| p.command[0]);
        ctx.ui.warn(&format!(
            "{program} is not on PATH yet; install it before `git agents spawn`"
        ));
    }
    ctx.ui.status(&format!(
        "next: add tasks to {}, then run: git agents spawn",
        path.file_name().unwrap_or_default().to_string_lossy()
    ));
    Ok(Exit::Ok)
}

/// `--manifest FILE` (relative to the current directory) or `agents.yaml` at the root of
/// the main worktree.
fn manifest_target(ctx: &Ctx, repo: &Repo) -> Result<PathBuf> {
    Ok(match &ctx.manifest {
        Some(p) => std::path::absolute(p)?,
        None => repo.root.join("agents.yaml"),
    })
}

/// The presets whose program is on PATH, in preset order.
fn found_on_path() -> Vec<&'static str> {
    PRESETS
        .iter()
        .filter(|p| which::which(p.command[0]).is_ok())
        .map(|p| p.name)
        .collect()
}

fn choose_agent(ctx: &Ctx, args: &InitArgs, configured: Option<&str>) -> Result<String> {
    if let Some(a) = &args.agent {
        return Ok(a.clone());
    }
    let found = found_on_path();
    if args.yes {
        if let Some(c) = configured {
            return Ok(c.to_string());
        }
        return found.first().map(|s| s.to_string()).ok_or_else(|| {
            Error::usage("no agent CLI found on PATH")
                .with_hint(format!(
                    "install one, or name it: git agents init --agent NAME ({})",
                    agent::PRESET_NAMES.join(", ")
                ))
                .into()
        });
    }
    if !ctx.ui.can_prompt() {
        let hint = match found.first() {
            Some(first) => format!(
                "pass --agent NAME, or -y to take {} ({first} is the first found on PATH)",
                configured.map_or("the first agent found on PATH".to_string(), |c| format!(
                    "the configured {c}"
                ))
            ),
            None => format!("pass --agent NAME ({})", agent::PRESET_NAMES.join(", ")),
        };
        return Err(Error::usage("no agent given and no terminal to ask on")
            .with_hint(hint)
            .into());
    }
    prompt(&ctx.ui, configured, &found)
}

/// Ask on the terminal. Agents found on PATH come first; the others follow, marked, so
/// one can be chosen before it is installed.
fn prompt(ui: &Ui, configured: Option<&str>, found: &[&str]) -> Result<String> {
    let mut names: Vec<&str> = found.to_vec();
    names.extend(agent::PRESET_NAMES.iter().filter(|n| !found.contains(n)));
    let items: Vec<String> = names
        .iter()
        .map(|n| {
            let note = agent::preset(n).map_or("", |p| p.note);
            if found.contains(n) {
                format!("{n:<13} {note}")
            } else {
                format!("{n:<13} (not found on PATH) {note}")
            }
        })
        .collect();
    let default = configured
        .and_then(|c| names.iter().position(|n| *n == c))
        .unwrap_or(0);
    let choice = ui.choose_one("Which agent should run the tasks?", &items, default)?;
    match choice {
        Some(i) => Ok(names[i].to_string()),
        None => Err(Error::refused("init cancelled; nothing was written").into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starter_manifest_is_valid() {
        let m = crate::manifest::parse(STARTER, std::path::Path::new("agents.yaml")).unwrap();
        assert!(m.tasks.is_empty());
        // The commented example is valid too once uncommented.
        let example: String = STARTER
            .lines()
            .skip_while(|l| !l.starts_with("# tasks:"))
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tasks")).unwrap();
        std::fs::write(dir.path().join("tasks/audit-log.md"), "Add it.").unwrap();
        let m = crate::manifest::parse(&example, &dir.path().join("agents.yaml")).unwrap();
        assert_eq!(m.tasks.len(), 2);
    }
}
