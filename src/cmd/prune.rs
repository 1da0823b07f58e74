//! `git agents prune`: remove the worktrees and branches of finished tasks, fast and
//! without losing a commit.
//!
//! Safety is decided per task at the moment of removal, from the repository as it is
//! then, never from what spawn recorded: a live agent is never touched; uncommitted or
//! untracked files, commits not in base, a lock, or a process working inside keep a
//! worktree unless `--force`, and whatever `--force` discards is appended to
//! `pruned.log` first (branch tips, and a commit holding the uncommitted files).
//!
//! Removal renames the worktree and its git admin dir into the trash (instant), deletes
//! the branch by compare-and-swap, turns the record into a tombstone, and leaves the
//! file deletion to a background process (see [`crate::trash`]).

use anyhow::Result;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cli::Ctx;
use crate::config::{Flags, keys};
use crate::error::{Error, Exit};
use crate::git::{Changes, InBase};
use crate::store::Record;
use crate::task::{State, TaskId};
use crate::trash::Trash;
use crate::worktree::{self, Admin, Found};

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

/// A task prune may act on: one with a record, or an orphan (a worktree in the
/// worktree dir or a branch under the prefix that no record claims).
#[derive(Debug, Clone)]
struct Task {
    id: String,
    rec: Option<Record>,
    state: State,
    branch: String,
    worktree: Option<PathBuf>,
    /// The base as named (`main`).
    base: String,
}

/// Why a task's work needs nothing more from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    Merged,
    InBase(InBase),
}

/// Where a task stands, read from the repository now.
#[derive(Debug)]
struct Facts {
    state: State,
    /// Why it must never be touched (a live agent, someone else's worktree, ...).
    never: Vec<String>,
    found: Found,
    /// Admin dir of a worktree deleted by hand.
    stale_admin: Option<Admin>,
    tip: Option<gix::ObjectId>,
    /// Tips (branch, worktree HEAD) whose work is not in base, and their commit count.
    unmerged: Vec<gix::ObjectId>,
    unmerged_commits: usize,
    done: Option<Done>,
    changes: Option<Result<Changes, String>>,
    users: Vec<(u32, String)>,
}

impl Facts {
    /// Reasons that keep the task unless `--force`.
    fn risks(&self, t: &Task, root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let wt = t
            .worktree
            .as_deref()
            .map(|p| show(p, root))
            .unwrap_or_default();
        if !self.unmerged.is_empty() {
            let n = self.unmerged_commits;
            out.push(format!(
                "{} has {n} commit{} not in {}",
                t.branch,
                plural(n),
                t.base
            ));
        }
        match &self.changes {
            Some(Ok(c)) if c.count > 0 => {
                let more = if c.count > c.paths.len() { ", ..." } else { "" };
                out.push(format!(
                    "{wt} has {} uncommitted change{} ({}{more})",
                    c.count,
                    plural(c.count),
                    c.paths.join(", ")
                ));
            }
            Some(Err(e)) => out.push(format!("cannot read the status of {wt}: {e}")),
            _ => {}
        }
        if let Found::Plain = self.found {
            out.push(format!(
                "{wt} is not a git worktree: its files cannot be checked"
            ));
        }
        if let Found::Linked(a) = &self.found
            && let Some(reason) = a.locked()
        {
            let reason = if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            };
            out.push(format!("{wt} is locked (git worktree lock){reason}"));
        }
        if !self.users.is_empty() {
            let who: Vec<String> = self
                .users
                .iter()
                .take(3)
                .map(|(pid, name)| format!("{name} (pid {pid})"))
                .collect();
            out.push(format!("{wt} is in use by {}", who.join(", ")));
        }
        out
    }
}

/// What happens (or would) to one task.
#[derive(Debug)]
enum Outcome {
    Pruned {
        why: String,
        did: Vec<String>,
        /// `(what, sha)` discarded by force and logged (no sha yet in a dry run).
        discarded: Vec<(String, Option<String>)>,
    },
    Kept {
        reasons: Vec<String>,
        /// Whether --force would remove it.
        forceable: bool,
    },
    /// Something failed half-way; what was done is said, nothing was lost.
    Failed(String),
}

/// What every worker needs.
struct Env<'a> {
    ws: &'a Workspace,
    trash: &'a Trash,
    admins: Vec<Admin>,
    dry_run: bool,
}

pub fn run(ctx: &Ctx, args: PruneArgs) -> Result<Exit> {
    let mut ids = Vec::new();
    for raw in &args.ids {
        let id = TaskId::parse(raw).map_err(Error::usage)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let ws = Workspace::open(ctx)?;
    let global = ws.global(&Flags::default())?;
    let trash = Trash::new(&ws.store);
    let leftovers = trash.leftovers();
    let env = Env {
        ws: &ws,
        trash: &trash,
        admins: worktree::admins(&ws.repo.common_dir),
        dry_run: args.dry_run,
    };
    let known = gather(&env, &global.worktree_dir, &global.branch_prefix)?;
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
        let facts = parallel(&selected, |t| facts(&env, t));
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

    let outcomes = parallel(&selected, |t| prune_one(&env, t, force_ok(&t.id)));

    // Whatever else git keeps for our worktrees that no longer exist.
    let mut cleared = Vec::new();
    for a in worktree::admins(&ws.repo.common_dir) {
        let ours = a
            .worktree
            .starts_with(worktree::canon(&global.worktree_dir))
            || selected.iter().any(|t| {
                t.worktree
                    .as_deref()
                    .is_some_and(|w| worktree::canon(w) == a.worktree)
            });
        if ours && a.is_stale() {
            if !args.dry_run {
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
fn gather(env: &Env, worktree_dir: &Path, prefix: &str) -> Result<Vec<Task>> {
    let ws = env.ws;
    let mut tasks = Vec::new();
    let mut claimed = HashSet::new();
    for rec in ws.store.all()? {
        if rec.pruned {
            continue;
        }
        claimed.insert(rec.id.clone());
        tasks.push(Task {
            id: rec.id.clone(),
            state: effective(&rec),
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

/// The state a record really is in: a running or pending task whose processes are gone
/// was interrupted; an agent process alive in any state means running.
fn effective(rec: &Record) -> State {
    let child = rec.child.is_some_and(|c| c.is_alive());
    match rec.state {
        State::Pending | State::Running if rec.owner_alive() || child => State::Running,
        State::Pending | State::Running => State::Interrupted,
        _ if child => State::Running,
        s => s,
    }
}

/// Default selection and `--failed`/`--all` (SPEC §5 prune).
fn wanted(env: &Env, t: &Task, failed: bool, all: bool) -> bool {
    match t.state {
        _ if all => true,
        State::Merged | State::Empty => true,
        State::Failed | State::TimedOut | State::Interrupted => failed,
        State::Succeeded | State::Orphaned => done(env, t, t.rec.as_ref()).0.is_some(),
        State::Running | State::Pending | State::Conflicted => false,
    }
}

/// Whether every tip of the task (its branch, and the worktree's HEAD when that
/// differs) is in base, and if not, which tips are not.
fn done(
    env: &Env,
    t: &Task,
    rec: Option<&Record>,
) -> (Option<Done>, Vec<gix::ObjectId>, Option<gix::ObjectId>) {
    let repo = &env.ws.repo;
    let tip = repo.branch_tip(&t.branch);
    let head = match t
        .worktree
        .as_deref()
        .map(|p| worktree::find(&repo.common_dir, p))
    {
        Some(Found::Linked(a)) => match a.head() {
            Some(Ok(r)) => repo.resolve_commit(&r),
            Some(Err(hex)) => gix::ObjectId::from_hex(hex.as_bytes()).ok(),
            None => None,
        },
        _ => None,
    };
    let base = repo
        .resolve_commit(&t.base)
        .or_else(|| rec.and_then(|r| gix::ObjectId::from_hex(r.base_commit.as_bytes()).ok()));
    let mut why = None;
    let mut unmerged = Vec::new();
    let mut tips = vec![];
    tips.extend(tip);
    tips.extend(head.filter(|h| Some(*h) != tip));
    for t in tips {
        // Merged by git-agents (squash and rebase leave no ancestry) and not moved since.
        if rec.is_some_and(|r| {
            r.state == State::Merged
                && r.head
                    .as_deref()
                    .is_none_or(|h| gix::ObjectId::from_hex(h.as_bytes()).ok() == Some(t))
        }) {
            why = why.or(Some(Done::Merged));
            continue;
        }
        match base.and_then(|b| repo.work_in_base(t, b).ok().flatten()) {
            Some(ib) => why = why.or(Some(Done::InBase(ib))),
            None => unmerged.push(t),
        }
    }
    let why = if unmerged.is_empty() {
        Some(why.unwrap_or(Done::InBase(InBase::Reachable)))
    } else {
        None
    };
    (why, unmerged, tip)
}

/// Read everything that decides whether a task may go, now.
fn facts(env: &Env, t: &Task) -> Facts {
    let repo = &env.ws.repo;
    let root = &repo.root;
    // The record as it is now: an agent may have started since we listed.
    let rec = match &t.rec {
        Some(r) => env
            .ws
            .store
            .load(&r.id)
            .ok()
            .flatten()
            .filter(|r| !r.pruned),
        None => None,
    };
    let state = rec.as_ref().map(effective).unwrap_or(State::Orphaned);
    let mut never = Vec::new();
    if state == State::Running {
        let pid = rec
            .as_ref()
            .and_then(|r| r.child.filter(|c| c.is_alive()).or(r.owner))
            .map(|p| format!(" (pid {})", p.pid))
            .unwrap_or_default();
        never.push(format!("its agent is still running{pid}"));
    }
    let found = match &t.worktree {
        Some(p) => worktree::find(&repo.common_dir, p),
        None => Found::Missing,
    };
    if let Found::Foreign(why) = &found {
        never.push(why.clone());
    }
    if let Some(wt) = &t.worktree {
        let wt = worktree::canon(wt);
        if root.starts_with(&wt) || repo.common_dir.starts_with(&wt) {
            never.push(format!("{} holds the repository itself", wt.display()));
        }
    }
    let stale_admin = match (&found, &t.worktree) {
        (Found::Missing, Some(p)) => {
            let p = worktree::canon(p);
            env.admins.iter().find(|a| a.worktree == p).cloned()
        }
        _ => None,
    };
    let (done, unmerged, tip) = done(env, t, rec.as_ref().or(t.rec.as_ref()));
    let unmerged_commits = if unmerged.is_empty() {
        0
    } else {
        let base = repo.resolve_commit(&t.base);
        repo.count_not_in(&unmerged, base).unwrap_or(1)
    };
    let own_admin = match &found {
        Found::Linked(a) => Some(a.dir.clone()),
        _ => stale_admin.as_ref().map(|a| a.dir.clone()),
    };
    if tip.is_some()
        && let Some(at) =
            worktree::checked_out_at(&repo.common_dir, root, &t.branch, own_admin.as_deref())
    {
        never.push(format!(
            "{} is checked out in {}",
            t.branch,
            show(&at, root)
        ));
    }
    let (changes, users) = match &found {
        Found::Linked(a) => (
            Some(crate::git::worktree_changes(&a.worktree).map_err(|e| format!("{e:#}"))),
            worktree::users(&a.worktree),
        ),
        Found::Plain => (
            None,
            worktree::users(&worktree::canon(t.worktree.as_deref().unwrap_or(root))),
        ),
        _ => (None, Vec::new()),
    };
    Facts {
        state,
        never,
        found,
        stale_admin,
        tip,
        unmerged,
        unmerged_commits,
        done,
        changes,
        users,
    }
}

/// Check one task now and, unless it is a dry run, remove it.
fn prune_one(env: &Env, t: &Task, force: bool) -> Outcome {
    let root = &env.ws.repo.root;
    let f = facts(env, t);
    if !f.never.is_empty() {
        return Outcome::Kept {
            reasons: f.never,
            forceable: false,
        };
    }
    let risks = f.risks(t, root);
    if !risks.is_empty() && !force {
        return Outcome::Kept {
            reasons: risks,
            forceable: true,
        };
    }
    let why = if !risks.is_empty() {
        "forced".to_string()
    } else {
        match (f.state, f.done) {
            (State::Merged, _) | (_, Some(Done::Merged)) => "merged".into(),
            (State::Empty, _) => "empty".into(),
            (s @ (State::Failed | State::TimedOut | State::Interrupted | State::Conflicted), _) => {
                s.as_str().to_string()
            }
            (_, Some(Done::InBase(InBase::Reachable))) => format!("work in {}", t.base),
            (_, Some(Done::InBase(InBase::Applied))) => format!("changes already in {}", t.base),
            (s, None) => s.as_str().to_string(),
        }
    };
    let would = env.dry_run;
    let wt_shown = t
        .worktree
        .as_deref()
        .map(|p| show(p, root))
        .unwrap_or_default();
    let mut did = Vec::new();
    let mut discarded = Vec::new();

    // What force discards is logged before anything goes.
    if !risks.is_empty() {
        let n = f.unmerged_commits;
        for tip in &f.unmerged {
            let what = if Some(*tip) == f.tip {
                format!("{n} commit{} of {}", plural(n), t.branch)
            } else {
                format!("the worktree's HEAD ({n} commit{})", plural(n))
            };
            discarded.push((what, Some(tip.to_string())));
        }
        if let (Found::Linked(a), Some(Ok(c))) = (&f.found, &f.changes)
            && c.count > 0
        {
            let what = format!(
                "{} uncommitted change{} in {wt_shown}",
                c.count,
                plural(c.count)
            );
            if would {
                discarded.push((what, None));
            } else {
                let msg = format!(
                    "git-agents: uncommitted files of task {}\n\nSaved by `git agents prune --force` before removing {}.",
                    t.id,
                    a.worktree.display()
                );
                match worktree::snapshot(&a.worktree, a, &msg) {
                    Ok(sha) => discarded.push((what, Some(sha))),
                    Err(e) => {
                        return Outcome::Kept {
                            reasons: vec![format!("cannot save its uncommitted files: {e:#}")],
                            forceable: false,
                        };
                    }
                }
            }
        }
        if !would {
            for sha in discarded.iter().filter_map(|(_, s)| s.as_ref()) {
                if let Err(e) = env.ws.store.log_discarded(&t.id, &t.branch, sha) {
                    return Outcome::Failed(format!(
                        "cannot write pruned.log, nothing removed: {e:#}"
                    ));
                }
            }
        }
    }

    // The worktree and its admin dir: renamed away at once.
    match &f.found {
        Found::Linked(_) | Found::Plain => {
            did.push(format!(
                "{} {wt_shown}",
                if would { "remove" } else { "removed" }
            ));
            if !would {
                let wt = t.worktree.as_deref().unwrap_or(root);
                if let Err(e) = env.trash.take(wt, &t.id) {
                    return Outcome::Failed(format!("{e:#}; nothing removed"));
                }
                if let Found::Linked(a) = &f.found
                    && let Err(e) = env.trash.take(&a.dir, &format!("{}.git", t.id))
                {
                    return Outcome::Failed(format!(
                        "moved {wt_shown} away but not its git metadata: {e:#} (git worktree prune clears it)"
                    ));
                }
            }
        }
        Found::Missing => {
            if let Some(a) = &f.stale_admin {
                did.push(format!(
                    "{} stale metadata of {wt_shown}",
                    if would { "clear" } else { "cleared" }
                ));
                if !would && let Err(e) = env.trash.take(&a.dir, &format!("{}.git", t.id)) {
                    return Outcome::Failed(format!("{e:#}"));
                }
            }
        }
        Found::Foreign(_) => unreachable!("refused above"),
    }

    // The branch, only if it is still where it was checked.
    if let Some(tip) = f.tip {
        let shown = if risks.is_empty() {
            tip.to_hex_with_len(7).to_string()
        } else {
            tip.to_string()
        };
        did.push(if would {
            format!("delete branch {} (at {shown})", t.branch)
        } else {
            format!("deleted branch {} (was {shown})", t.branch)
        });
        if !would && let Err(e) = env.ws.repo.delete_branch(&t.branch, tip) {
            return Outcome::Failed(format!(
                "{}; kept branch {}: {e:#}",
                did[..did.len() - 1].join(", "),
                t.branch
            ));
        }
    }

    // The record stays as a tombstone, so a plain `spawn` never runs the task again.
    if !would
        && t.rec.is_some()
        && let Err(e) = env.ws.store.update(&t.id, |r| {
            r.pruned = true;
            r.owner = None;
            r.child = None;
            r.port = None;
        })
    {
        return Outcome::Failed(format!(
            "{}; cannot mark its record pruned: {e:#}",
            did.join(", ")
        ));
    }
    Outcome::Pruned {
        why,
        did,
        discarded,
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

/// A path relative to the repository root when inside it.
fn show(p: &Path, root: &Path) -> String {
    let c = worktree::canon(p);
    match c.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => p.display().to_string(),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
