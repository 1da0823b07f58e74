//! `git agents prune`: remove the worktrees and branches of finished tasks, fast and
//! without losing a commit. This file chooses the tasks (default, `--failed`, `--all`,
//! ids, orphans), confirms what `--force` would discard, and reports; deciding whether
//! each may go and removing it is [`crate::cleanup`]'s job.

use anyhow::Result;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cleanup::{self, Env, Outcome, Task, plural, show};
use crate::cli::Ctx;
use crate::config::{Flags, keys};
use crate::error::{Error, Exit};
use crate::task::{State, TaskId};
use crate::trash::Trash;
use crate::worktree;

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
    let env = Env {
        repo: &ws.repo,
        store: &ws.store,
        trash: &trash,
        admins: worktree::admins(&ws.repo.common_dir),
        dry_run: args.dry_run,
    };
    let known = gather(&ws, &env, &global.worktree_dir, &global.branch_prefix)?;
    let root = &ws.repo.root;

    let mut selected: Vec<Task> = if ids.is_empty() {
        known
            .into_iter()
            .filter(|t| wanted(&env, t, args.failed, args.all))
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
        let facts = parallel(&selected, |t| cleanup::facts(&env, t));
        let forced: Vec<(&Task, Vec<String>)> = selected
            .iter()
            .zip(&facts)
            .filter(|(_, f)| f.never.is_empty())
            .map(|(t, f)| (t, f.risks(t, root)))
            .filter(|(_, r)| !r.is_empty())
            .collect();
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
    let force_ok = |id: &str| args.force && (args.dry_run || approved.contains(id));

    let outcomes = parallel(&selected, |t| cleanup::remove(&env, t, force_ok(&t.id)));

    // Whatever else git keeps for our worktrees that no longer exist (in a dry run,
    // minus what the tasks' own lines already say they would clear).
    let task_of = |a: &worktree::Admin| {
        selected.iter().zip(&outcomes).find(|(t, _)| {
            t.worktree
                .as_deref()
                .is_some_and(|w| worktree::canon(w) == a.worktree)
        })
    };
    let mut cleared = Vec::new();
    for a in worktree::admins(&ws.repo.common_dir) {
        let task = task_of(&a);
        if args.dry_run && matches!(task, Some((_, Outcome::Pruned { .. }))) {
            continue;
        }
        let ours = task.is_some()
            || a.worktree
                .starts_with(worktree::canon(&global.worktree_dir));
        if ours && a.is_stale() {
            if !args.dry_run {
                // Its submodule stores may hold an agent's only copy of a commit.
                let id = match task {
                    Some((t, _)) => t.id.clone(),
                    None => a
                        .dir
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                };
                let tips: Vec<gix::ObjectId> =
                    cleanup::admin_head(&ws.repo, &a).into_iter().collect();
                match crate::modules::keep(&ws.repo.common_dir, root, &a.dir, &tips, &id, false) {
                    Ok(kept) => {
                        for k in kept {
                            ctx.ui.status(&k.describe(false, root));
                        }
                    }
                    Err(e) => {
                        ctx.ui.warn(&format!(
                            "kept the stale git metadata of {}: {e:#}",
                            show(&a.worktree, root)
                        ));
                        continue;
                    }
                }
                trash.take(&a.dir, "stale.git")?;
            }
            cleared.push(a.worktree);
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
        &outcomes,
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
    outcomes: &[Outcome],
    cleared: &[PathBuf],
    leftovers: usize,
) -> Result<Exit> {
    let ui = &ctx.ui;
    let would = args.dry_run;
    let mut out = String::new();
    let (mut pruned, mut kept, mut failed, mut forceable) = (0, 0, 0, 0);
    for (t, o) in tasks.iter().zip(outcomes) {
        match o {
            Outcome::Pruned {
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
            Outcome::Kept {
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
            Outcome::Failed(msg) => {
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

/// Every task known to the store (tombstones aside), and orphans: registered
/// worktrees in the worktree dir and branches under the prefix that no record claims.
fn gather(ws: &Workspace, env: &Env, worktree_dir: &Path, prefix: &str) -> Result<Vec<Task>> {
    let mut tasks = Vec::new();
    let mut claimed = HashSet::new();
    for rec in ws.store.all()? {
        if rec.pruned {
            continue;
        }
        claimed.insert(rec.id.clone());
        tasks.push(Task {
            id: rec.id.clone(),
            state: cleanup::effective(&rec),
            branch: rec.branch.clone(),
            worktree: Some(rec.worktree.clone()),
            base: rec.base.clone(),
            rec: Some(rec),
        });
    }
    let default_base = ws
        .git
        .get(keys::BASE)
        .map(str::to_string)
        .or_else(|| ws.repo.head_branch())
        .unwrap_or_else(|| "HEAD".into());
    let new_orphan = |id: &str| Task {
        id: id.to_string(),
        rec: None,
        state: State::Orphaned,
        branch: format!("{prefix}{id}"),
        worktree: None,
        base: default_base.clone(),
    };
    let is_orphan = |id: &str| !claimed.contains(id) && TaskId::parse(id).is_ok();
    let mut orphans: BTreeMap<String, Task> = BTreeMap::new();
    let dir = worktree::canon(worktree_dir);
    for a in &env.admins {
        if a.worktree.parent() == Some(dir.as_path())
            && let Some(id) = a.worktree.file_name().and_then(|n| n.to_str())
            && is_orphan(id)
        {
            orphans
                .entry(id.to_string())
                .or_insert_with(|| new_orphan(id))
                .worktree = Some(a.worktree.clone());
        }
    }
    let repo = ws.repo.local();
    let full_prefix = format!("refs/heads/{prefix}");
    if let Ok(refs) = repo.references()
        && let Ok(iter) = refs.prefixed(full_prefix.as_str())
    {
        for r in iter.flatten() {
            let name = r.name().as_bstr().to_string();
            if let Some(id) = name.strip_prefix(&full_prefix)
                && is_orphan(id)
            {
                orphans
                    .entry(id.to_string())
                    .or_insert_with(|| new_orphan(id));
            }
        }
    }
    tasks.extend(orphans.into_values());
    Ok(tasks)
}

/// Default selection and `--failed`/`--all` (SPEC §5 prune).
fn wanted(env: &Env, t: &Task, failed: bool, all: bool) -> bool {
    match t.state {
        _ if all => true,
        State::Merged | State::Empty => true,
        State::Failed | State::TimedOut | State::Interrupted => failed,
        State::Succeeded | State::Orphaned => cleanup::done(env, t, t.rec.as_ref()).0.is_some(),
        State::Running | State::Pending | State::Conflicted => false,
    }
}

/// Run `f` on every task on a few threads; results in the tasks' order.
fn parallel<T: Send>(tasks: &[Task], f: impl Fn(&Task) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8)
        .min(tasks.len());
    if threads <= 1 {
        return tasks.iter().map(&f).collect();
    }
    let queue = Mutex::new(tasks.iter().enumerate().collect::<VecDeque<_>>());
    let results = Mutex::new(Vec::with_capacity(tasks.len()));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((i, t)) = next else { break };
                    let r = f(t);
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, r));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}
