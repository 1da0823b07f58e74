//! `git agents prune`: remove the worktrees and branches of finished tasks, fast and
//! without losing a commit. This file chooses the tasks (default, `--failed`, `--all`,
//! ids), confirms what `--force` would discard, and reports; finding the tasks (orphans
//! too), deciding whether each may go and removing it is [`crate::engine::cleanup`]'s
//! job.

use anyhow::Result;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cli::Ctx;
use crate::config::{Flags, keys};
use crate::engine::cleanup::{Context, Fate, Selection, Stale, Task, Trash, plural, show};
use crate::error::{Error, Exit};
use crate::task::TaskId;

use super::Workspace;

/// Remove the worktrees and branches of finished tasks.
///
/// By default prunes tasks whose work is in their base branch (merged, or the branch
/// tip is reachable from base, or merging it would change nothing) and empty tasks.
/// A running agent's worktree is never removed. Uncommitted or untracked files and
/// commits not in base keep a task unless --force; what --force discards is printed and
/// logged to <git common dir>/agents/pruned.log, so `git branch NAME SHA` recovers it.
#[derive(Debug, clap::Args)]
pub struct PruneArgs {
    /// Tasks to prune (default: merged and empty ones)
    #[arg(value_name = "ID", conflicts_with_all = ["failed", "all"])]
    pub ids: Vec<String>,

    /// Also prune failed, timed-out and interrupted tasks
    #[arg(long)]
    pub failed: bool,

    /// Prune every task (running agents are still never touched)
    #[arg(long)]
    pub all: bool,

    /// Discard uncommitted files and commits not in base (logged to pruned.log)
    #[arg(long)]
    pub force: bool,

    /// Print what would happen and change nothing
    #[arg(short = 'n', long)]
    pub dry_run: bool,

    /// Do not ask before a forced removal (required with --force off a terminal)
    #[arg(short, long)]
    pub yes: bool,
}

pub fn run(ctx: &Ctx, args: PruneArgs) -> Result<Exit> {
    let mut ids = Vec::new();
    for raw in &args.ids {
        let id = TaskId::parse(raw).map_err(Error::usage)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let ws = Workspace::open_lenient(ctx)?;
    let global = ws.global(&Flags::default())?;
    let trash = Trash::new(&ws.store);
    let leftovers = trash.leftovers();
    let cleanup = Context::new(&ws.repo, &ws.store, &trash, args.dry_run);
    let known = cleanup.gather(
        &global.worktree_dir,
        &global.branch_prefix,
        ws.git.get(keys::BASE),
    )?;
    let root = &ws.repo.root;

    let mut selected: Vec<Task> = if ids.is_empty() {
        let sel = Selection {
            failed: args.failed,
            all: args.all,
        };
        known
            .into_iter()
            .filter(|t| cleanup.wanted(t, sel))
            .collect()
    } else {
        let mut by_id: BTreeMap<String, Task> =
            known.into_iter().map(|t| (t.id.clone(), t)).collect();
        let mut out = Vec::new();
        for id in &ids {
            match by_id.remove(id.as_str()) {
                Some(t) => out.push(t),
                None if ws.store.load(id.as_str())?.is_some_and(|r| r.pruned) => {
                    ctx.ui.status(&format!("{id} was pruned already"));
                }
                None => {
                    return Err(Error::usage(format!(
                        "no task {id:?}: no record, worktree or branch of that name"
                    ))
                    .with_hint("see the tasks with: git agents list")
                    .into());
                }
            }
        }
        out
    };

    // --force: say what would be discarded and have it confirmed before anything moves.
    let mut approved: HashSet<String> = HashSet::new();
    let mut unchecked: HashSet<String> = HashSet::new();
    if args.force && !args.dry_run {
        let forced = cleanup.needing_force(&selected);
        let ids: Vec<&str> = forced.iter().map(|(t, _)| t.id.as_str()).collect();
        if !forced.is_empty() && !args.yes {
            if !ctx.ui.can_prompt() {
                return Err(Error::usage(format!(
                    "--force would discard work of {} (not on a terminal, so not asking)",
                    ids.join(", ")
                ))
                .with_hint("look with --dry-run --force, then confirm with --force --yes")
                .into());
            }
            let items: Vec<String> = forced
                .iter()
                .map(|(t, r)| format!("{}: {}", t.id, r.join("; ")))
                .collect();
            let prompt =
                "Discard the work of these tasks? (space toggles, enter confirms, esc cancels)";
            match ctx.ui.choose_many(prompt, &items)? {
                Some(chosen) => {
                    approved = chosen.iter().map(|i| forced[*i].0.id.clone()).collect();
                    // Left unchecked: the user's choice to keep them, not a refusal.
                    unchecked = ids
                        .iter()
                        .filter(|id| !approved.contains(**id))
                        .map(|id| id.to_string())
                        .collect();
                }
                None => {
                    ctx.ui.status("cancelled: nothing was removed");
                    return Ok(Exit::Interrupted);
                }
            }
        } else {
            approved = ids.iter().map(|s| s.to_string()).collect();
        }
    }
    for id in &unchecked {
        ctx.ui.status(&format!("keeping {id}"));
    }
    selected.retain(|t| !unchecked.contains(&t.id));
    let fates = cleanup.remove_all(&selected, |t| {
        args.force && (args.dry_run || approved.contains(&t.id))
    });

    let mut cleared = Vec::new();
    for stale in cleanup.clear_stale(&selected, &fates, &global.worktree_dir)? {
        match stale {
            Stale::Cleared { worktree, kept } => {
                for line in kept {
                    ctx.ui.status(&line);
                }
                cleared.push(worktree);
            }
            Stale::Kept { worktree, why } => ctx.ui.warn(&format!(
                "kept the stale git metadata of {}: {why}",
                show(&worktree, root)
            )),
        }
    }
    if !args.dry_run {
        trash.empty_in_background(leftovers.clone())?;
    }

    report(
        ctx,
        &args,
        root,
        &selected,
        &fates,
        &cleared,
        leftovers.len(),
    )
}

/// Print each task's outcome (stdout: what was done; stderr: warnings, the summary).
fn report(
    ctx: &Ctx,
    args: &PruneArgs,
    root: &Path,
    tasks: &[Task],
    fates: &[Fate],
    cleared: &[PathBuf],
    leftovers: usize,
) -> Result<Exit> {
    let ui = &ctx.ui;
    let would = args.dry_run;
    let mut out = String::new();
    let (mut pruned, mut kept, mut failed, mut forceable) = (0, 0, 0, 0);
    for (t, o) in tasks.iter().zip(fates) {
        match o {
            Fate::Pruned {
                why,
                did,
                discarded,
            } => {
                pruned += 1;
                let verb = if would { "would prune" } else { "pruned" };
                let what = if did.is_empty() {
                    if would {
                        "nothing left to remove".to_string()
                    } else {
                        "nothing was left to remove".to_string()
                    }
                } else {
                    did.join(", ")
                };
                out.push_str(&format!("{verb} {} ({why}): {what}\n", t.id));
                for (what, sha) in discarded {
                    match sha {
                        Some(sha) if !would => ui.warn(&format!(
                            "discarded {what}: git branch {} {sha} brings it back",
                            t.branch
                        )),
                        Some(sha) => out.push_str(&format!(
                            "would discard {what} (at {sha}, logged to pruned.log)\n"
                        )),
                        None => out.push_str(&format!(
                            "would discard {what} (saved as a commit, logged to pruned.log)\n"
                        )),
                    }
                }
            }
            Fate::Kept {
                reasons,
                forceable: f,
            } => {
                kept += 1;
                if *f {
                    forceable += 1;
                }
                let line = format!("kept {}: {}", t.id, reasons.join("; "));
                if would {
                    out.push_str(&format!("would keep {}: {}\n", t.id, reasons.join("; ")));
                } else {
                    ui.warn(&line);
                }
            }
            Fate::Failed(msg) => {
                failed += 1;
                ui.warn(&format!("{}: {msg}", t.id));
            }
        }
    }
    for wt in cleared {
        let verb = if would { "would clear" } else { "cleared" };
        out.push_str(&format!(
            "{verb} stale worktree metadata of {}\n",
            show(wt, root)
        ));
    }
    if would && leftovers > 0 {
        out.push_str(&format!(
            "would delete leftover trash of an earlier prune ({leftovers} batch{})\n",
            if leftovers == 1 { "" } else { "es" }
        ));
    }
    ui.out(&out);

    if tasks.is_empty() && cleared.is_empty() {
        ui.status("nothing to prune");
    } else if !would && pruned > 0 {
        ui.status(&format!(
            "pruned {pruned} task{}; files are deleted in the background",
            plural(pruned)
        ));
    }
    if kept + failed == 0 {
        return Ok(Exit::Ok);
    }
    let mut err = Error::refused(format!(
        "{} {} of {} task{} (see above)",
        if would { "would keep" } else { "kept" },
        kept + failed,
        tasks.len(),
        plural(tasks.len())
    ));
    if forceable > 0 && !args.force {
        err = err.with_hint(
            "merge them first (git agents merge ID), or discard them with --force \
             (their commits are logged to pruned.log)",
        );
    }
    if would {
        ui.status(&err.message);
        return Ok(Exit::Failed);
    }
    Err(err.into())
}
