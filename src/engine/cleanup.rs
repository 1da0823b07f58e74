//! Whether a task's worktree and branch may go, and their removal: the engine behind
//! `git agents prune` (and anything else that removes a task, such as `merge --prune`).
//!
//! Safety is decided per task at the moment of removal, from the repository as it is
//! then, never from what spawn recorded: a live agent is never touched; uncommitted or
//! untracked files, commits not in base, a lock, or a process working inside keep a
//! worktree unless forced, and whatever force discards is appended to `pruned.log`
//! first (branch tips, and a commit holding the uncommitted files).
//!
//! Three steps, so that the decision can be looked at on its own: [`Context::facts`]
//! reads the repository, [`decide`] turns the facts into an [`Action`] without touching
//! anything, and [`Context::carry_out`] does it (or, in a dry run, says what it would
//! do). Removal renames the worktree and its git admin dir into the [`Trash`]
//! (instant), deletes the branch by compare-and-swap, turns the record into a
//! tombstone, and leaves the file deletion to a background process.

mod trash;

pub use trash::{Moved, Trash};

use anyhow::Result;
use gix::ObjectId;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::git::{Changes, InBase, Repo, Untracked};
use crate::modules;
use crate::store::{Record, Store};
use crate::task::{State, TaskId};
use crate::worktree::{self, Admin, Found};

/// A task that may be removed: one with a record, or an orphan (a worktree in the
/// worktree dir or a branch under the prefix that no record claims).
#[derive(Debug, Clone)]
pub struct Task {
    pub id: String,
    pub rec: Option<Record>,
    pub state: State,
    pub branch: String,
    pub worktree: Option<PathBuf>,
    /// The base as named (`main`).
    pub base: String,
}

/// Why a task's work needs nothing more from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Merged,
    InBase(InBase),
}

/// A tip (the branch, or the worktree's HEAD) with work that is not in base.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unmerged {
    pub tip: ObjectId,
    /// Its commits not in base.
    pub commits: usize,
}

/// Where a task stands, read from the repository now.
#[derive(Debug)]
pub struct Facts {
    pub state: State,
    /// Why it must never be touched (a live agent, someone else's worktree, ...).
    pub never: Vec<String>,
    pub found: Found,
    /// The worktree's path as messages show it (relative to the repository root).
    pub shown: String,
    /// `git worktree lock`'s reason ("" without one), when the worktree is locked.
    pub locked: Option<String>,
    /// Admin dir of a worktree deleted by hand.
    pub stale_admin: Option<Admin>,
    pub tip: Option<ObjectId>,
    /// The commit its worktree's HEAD is at (also of a worktree deleted by hand, whose
    /// HEAD git still keeps), when that is not `tip`.
    pub head: Option<ObjectId>,
    /// Tips whose work is not in base.
    pub unmerged: Vec<Unmerged>,
    /// Commits of all `unmerged` tips together.
    pub unmerged_commits: usize,
    pub done: Option<Done>,
    pub changes: Option<Result<Changes, String>>,
    pub users: Vec<(u32, String)>,
    /// Why commits in the worktree's submodule stores cannot be kept, if they cannot.
    pub modules_stuck: Option<String>,
    /// The tips (branch, HEAD) that no ref but the task's branch reaches: deleting it
    /// would leave them to git's garbage collector. All tips when refs cannot be read.
    pub unreached: Vec<ObjectId>,
}

impl Facts {
    /// Reasons that keep the task unless `--force`.
    pub fn risks(&self, t: &Task) -> Vec<String> {
        let mut out = Vec::new();
        let wt = &self.shown;
        if !self.unmerged.is_empty() {
            let n = self.unmerged_commits;
            let who = if self
                .tip
                .is_some_and(|tip| self.unmerged.iter().any(|u| u.tip == tip))
            {
                t.branch.clone()
            } else {
                format!("the HEAD of {wt}")
            };
            out.push(format!(
                "{who} has {n} commit{} not in {}",
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
        if let Some(why) = &self.modules_stuck {
            out.push(why.clone());
        }
        if let Found::Plain = self.found {
            out.push(format!(
                "{wt} is not a git worktree: its files cannot be checked"
            ));
        }
        if let Some(reason) = &self.locked {
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

/// What to do with one task, decided from its [`Facts`].
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Leave it as it is.
    Keep {
        reasons: Vec<String>,
        /// Whether `--force` would remove it.
        forceable: bool,
    },
    Remove(Box<Removal>),
}

/// Everything a removal does, in the order it does it: nothing is moved before what
/// would be lost is logged.
#[derive(Debug, Clone, PartialEq)]
pub struct Removal {
    pub why: Why,
    /// Whether `--force` was given (it may be needed by a step that fails only then).
    pub force: bool,
    /// Work that `--force` discards, each saved and logged to `pruned.log` first.
    pub discards: Vec<Discard>,
    /// The worktree's admin dir, whose submodule stores may hold an agent's only copy of
    /// a commit, and the tips whose submodule commits are kept: they are moved to the
    /// main repository's module store first.
    pub modules: Option<(PathBuf, Vec<ObjectId>)>,
    /// Tips that no other ref reaches, logged to `pruned.log` (those not discarded).
    pub unreached: Vec<ObjectId>,
    /// The worktree's HEAD, when it is among `unreached`.
    pub head_logged: Option<ObjectId>,
    pub worktree: Option<WorktreeStep>,
    /// The branch's tip: it is deleted only if it is still there.
    pub branch: Option<ObjectId>,
    /// The record becomes a tombstone, so a plain `spawn` never runs the task again.
    pub tombstone: bool,
}

/// Work `--force` discards.
#[derive(Debug, Clone, PartialEq)]
pub enum Discard {
    /// Commits of a tip not in base.
    Tip { what: String, sha: ObjectId },
    /// Uncommitted files of a linked worktree (with its admin dir), saved as a commit
    /// first.
    Uncommitted {
        what: String,
        worktree: PathBuf,
        admin: PathBuf,
    },
}

/// What happens to the worktree.
#[derive(Debug, Clone, PartialEq)]
pub enum WorktreeStep {
    /// Moved into the trash, and its git admin dir with it when it has one.
    Move {
        path: PathBuf,
        admin: Option<PathBuf>,
        shown: String,
    },
    /// Gone already: the metadata git keeps of it is cleared.
    ClearStale { admin: PathBuf, shown: String },
}

/// Why a task may go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// `--force`, over the risks it was told about.
    Forced,
    Merged,
    Empty,
    /// It ended this way (failed, timed out, interrupted, conflicted) or is in this
    /// state (an orphan).
    Ended(State),
    /// Its tips are reachable from the base (named).
    WorkIn(String),
    /// Merging its tips into the base (named) would change nothing.
    ChangesIn(String),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Forced => f.write_str("forced"),
            Why::Merged => f.write_str("merged"),
            Why::Empty => f.write_str("empty"),
            Why::Ended(s) => f.write_str(s.as_str()),
            Why::WorkIn(base) => write!(f, "work in {base}"),
            Why::ChangesIn(base) => write!(f, "changes already in {base}"),
        }
    }
}

/// What happened (or, in a dry run, would) to one task.
#[derive(Debug)]
pub enum Fate {
    Pruned {
        why: Why,
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

/// Decide what to do with task `t` from its facts `f`, with or without `--force`.
/// Reads nothing: everything it needs is in the facts.
pub fn decide(t: &Task, f: &Facts, force: bool) -> Action {
    if !f.never.is_empty() {
        return Action::Keep {
            reasons: f.never.clone(),
            forceable: false,
        };
    }
    let risks = f.risks(t);
    if !risks.is_empty() && !force {
        return Action::Keep {
            reasons: risks,
            forceable: true,
        };
    }
    let forced = !risks.is_empty();
    let why = if forced {
        Why::Forced
    } else {
        match (f.state, f.done) {
            (State::Merged, _) | (_, Some(Done::Merged)) => Why::Merged,
            (State::Empty, _) => Why::Empty,
            (s @ (State::Failed | State::TimedOut | State::Interrupted | State::Conflicted), _) => {
                Why::Ended(s)
            }
            (_, Some(Done::InBase(InBase::Reachable))) => Why::WorkIn(t.base.clone()),
            (_, Some(Done::InBase(InBase::Applied))) => Why::ChangesIn(t.base.clone()),
            (s, None) => Why::Ended(s),
        }
    };

    let mut discards = Vec::new();
    if forced {
        for u in &f.unmerged {
            let n = u.commits;
            let what = if Some(u.tip) == f.tip {
                format!("{n} commit{} of {}", plural(n), t.branch)
            } else {
                format!("the worktree's HEAD ({n} commit{})", plural(n))
            };
            discards.push(Discard::Tip { what, sha: u.tip });
        }
        if let (Found::Linked(a), Some(Ok(c))) = (&f.found, &f.changes)
            && c.count > 0
        {
            let what = format!(
                "{} uncommitted change{} in {}",
                c.count,
                plural(c.count),
                f.shown
            );
            discards.push(Discard::Uncommitted {
                what,
                worktree: a.worktree.clone(),
                admin: a.dir.clone(),
            });
        }
    }

    let tips: Vec<ObjectId> = f.tip.into_iter().chain(f.head).collect();
    let modules = match (&f.found, &f.stale_admin) {
        (Found::Linked(a), _) | (Found::Missing, Some(a)) => Some((a.dir.clone(), tips)),
        _ => None,
    };
    // Whatever the reason for deleting (forced or not: a squash merge, a deleted base),
    // a tip that no other ref reaches is logged before anything goes.
    let discarded: Vec<ObjectId> = discards
        .iter()
        .filter_map(|d| match d {
            Discard::Tip { sha, .. } => Some(*sha),
            Discard::Uncommitted { .. } => None,
        })
        .collect();
    let unreached: Vec<ObjectId> = f
        .unreached
        .iter()
        .copied()
        .filter(|sha| !discarded.contains(sha))
        .collect();
    let head_logged = f.head.filter(|h| unreached.contains(h));

    let worktree = match &f.found {
        Found::Linked(a) => Some(WorktreeStep::Move {
            path: t.worktree.clone().unwrap_or_else(|| a.worktree.clone()),
            admin: Some(a.dir.clone()),
            shown: f.shown.clone(),
        }),
        Found::Plain => t.worktree.clone().map(|path| WorktreeStep::Move {
            path,
            admin: None,
            shown: f.shown.clone(),
        }),
        Found::Missing => f.stale_admin.as_ref().map(|a| WorktreeStep::ClearStale {
            admin: a.dir.clone(),
            shown: f.shown.clone(),
        }),
        // Refused above: another repository's files are never ours to move.
        Found::Foreign(_) => None,
    };
    Action::Remove(Box::new(Removal {
        why,
        force,
        discards,
        modules,
        unreached,
        head_logged,
        worktree,
        branch: f.tip,
        tombstone: t.rec.is_some(),
    }))
}

/// What every removal needs: the repository, its store, this run's trash.
pub struct Context<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub trash: &'a Trash,
    /// Linked worktrees as registered when the run started.
    pub admins: Vec<Admin>,
    /// Decide and describe, change nothing.
    pub dry_run: bool,
}

/// The state a record really is in: a running or pending task whose processes are gone
/// was interrupted; an agent process alive in any state means running.
pub fn effective(rec: &Record) -> State {
    match rec.process_state() {
        State::Pending | State::Running => State::Running,
        _ if rec.agent_alive() => State::Running,
        s => s,
    }
}

/// The commit a linked worktree's HEAD (kept in its admin dir) is at.
pub fn admin_head(repo: &Repo, a: &Admin) -> Option<ObjectId> {
    match a.head()? {
        Ok(r) => repo.resolve_commit(&r),
        Err(hex) => ObjectId::from_hex(hex.as_bytes()).ok(),
    }
}

/// The base's current tip; if the base no longer resolves, where the task started.
fn base_tip(repo: &Repo, t: &Task, rec: Option<&Record>) -> Option<ObjectId> {
    repo.resolve_commit(&t.base)
        .or_else(|| rec.and_then(|r| ObjectId::from_hex(r.base_commit.as_bytes()).ok()))
}

/// Which tasks `prune` takes when no id is named (SPEC §5 prune).
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection {
    /// Also failed, timed-out and interrupted tasks.
    pub failed: bool,
    /// Every task (running agents are still never touched).
    pub all: bool,
}

/// A stale worktree admin dir of ours that no task claimed, and what became of it.
#[derive(Debug)]
pub enum Stale {
    /// Cleared (or would be), after keeping the commits of its submodule stores.
    Cleared {
        worktree: PathBuf,
        kept: Vec<String>,
    },
    /// Left alone: its submodule commits could not be kept.
    Kept { worktree: PathBuf, why: String },
}

impl<'a> Context<'a> {
    pub fn new(repo: &'a Repo, store: &'a Store, trash: &'a Trash, dry_run: bool) -> Self {
        Context {
            repo,
            store,
            trash,
            admins: worktree::admins(&repo.common_dir),
            dry_run,
        }
    }

    /// Whether every tip of the task (its branch, and the worktree's HEAD when that
    /// differs) is in base, and if not, which tips are not.
    pub fn done(
        &self,
        t: &Task,
        rec: Option<&Record>,
    ) -> (Option<Done>, Vec<ObjectId>, Option<ObjectId>) {
        let repo = self.repo;
        let tip = repo.branch_tip(&t.branch);
        let head = match t
            .worktree
            .as_deref()
            .map(|p| worktree::find(&repo.common_dir, p))
        {
            Some(Found::Linked(a)) => admin_head(repo, &a),
            _ => None,
        };
        let base = base_tip(repo, t, rec);
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
                        .is_none_or(|h| ObjectId::from_hex(h.as_bytes()).ok() == Some(t))
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
    pub fn facts(&self, t: &Task) -> Facts {
        let repo = self.repo;
        let root = &repo.root;
        // The record as it is now: an agent may have started since we listed.
        let rec = match &t.rec {
            Some(r) => self.store.load(&r.id).ok().flatten().filter(|r| !r.pruned),
            None => None,
        };
        let state = rec.as_ref().map(effective).unwrap_or(State::Orphaned);
        let mut never = Vec::new();
        if state == State::Running {
            let pid = rec
                .as_ref()
                .and_then(|r| r.child.filter(|c| c.group_alive()).or(r.owner))
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
                self.admins.iter().find(|a| a.worktree == p).cloned()
            }
            _ => None,
        };
        let rec_now = rec.as_ref().or(t.rec.as_ref());
        let (done, unmerged, tip) = self.done(t, rec_now);
        let (unmerged, unmerged_commits) = if unmerged.is_empty() {
            (Vec::new(), 0)
        } else {
            let base = base_tip(repo, t, rec_now);
            let total = repo.count_not_in(&unmerged, base).unwrap_or(1);
            let each = |tip: ObjectId| {
                if unmerged.len() == 1 {
                    total
                } else {
                    repo.count_not_in(&[tip], base).unwrap_or(1)
                }
            };
            let list = unmerged
                .iter()
                .map(|&tip| Unmerged {
                    tip,
                    commits: each(tip),
                })
                .collect();
            (list, total)
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
        let head = match (&found, &stale_admin) {
            (Found::Linked(a), _) | (_, Some(a)) => admin_head(repo, a),
            _ => None,
        }
        .filter(|h| Some(*h) != tip);
        let tips: Vec<ObjectId> = tip.into_iter().chain(head).collect();
        // What keeping its submodule commits would do, found out without doing it.
        let modules_stuck = match (&found, &stale_admin) {
            (Found::Linked(a), _) | (Found::Missing, Some(a)) => {
                modules::keep(&repo.common_dir, root, &a.dir, &tips, &t.id, true)
                    .err()
                    .map(|e| format!("{e:#}"))
            }
            _ => None,
        };
        let (changes, users) = match &found {
            Found::Linked(a) => (
                Some(
                    crate::git::worktree_changes(&a.worktree, Untracked::Count)
                        .map_err(|e| format!("{e:#}")),
                ),
                worktree::users(&a.worktree),
            ),
            Found::Plain => (
                None,
                worktree::users(&worktree::canon(t.worktree.as_deref().unwrap_or(root))),
            ),
            _ => (None, Vec::new()),
        };
        let locked = match &found {
            Found::Linked(a) => a.locked(),
            _ => None,
        };
        // Only worth a walk over the refs when the task may go at all.
        let unreached = if never.is_empty() {
            let branch_ref = format!("refs/heads/{}", t.branch);
            repo.reached_only_by(&tips, std::slice::from_ref(&branch_ref))
                .unwrap_or(tips)
        } else {
            Vec::new()
        };
        Facts {
            state,
            never,
            found,
            shown: t
                .worktree
                .as_deref()
                .map(|p| show(p, root))
                .unwrap_or_default(),
            locked,
            stale_admin,
            tip,
            head,
            unmerged,
            unmerged_commits,
            done,
            changes,
            users,
            modules_stuck,
            unreached,
        }
    }

    /// Check one task now and, unless it is a dry run, remove it.
    pub fn remove(&self, t: &Task, force: bool) -> Fate {
        let facts = self.facts(t);
        let action = decide(t, &facts, force);
        self.carry_out(t, action)
    }

    /// Do what was decided for `t` (in a dry run, only say it). Each step's failure
    /// stops it there, with what was done said and nothing lost.
    pub fn carry_out(&self, t: &Task, action: Action) -> Fate {
        let r = match action {
            Action::Keep { reasons, forceable } => return Fate::Kept { reasons, forceable },
            Action::Remove(r) => *r,
        };
        let root = &self.repo.root;
        let would = self.dry_run;
        let mut did = Vec::new();
        let mut discarded = Vec::new();
        let log_failed = |e: anyhow::Error| {
            Fate::Failed(format!("cannot write pruned.log, nothing removed: {e:#}"))
        };

        // What force discards is saved and logged before anything goes.
        for d in &r.discards {
            match d {
                Discard::Tip { what, sha } => discarded.push((what.clone(), Some(sha.to_string()))),
                Discard::Uncommitted { what, .. } if would => discarded.push((what.clone(), None)),
                Discard::Uncommitted {
                    what,
                    worktree: wt,
                    admin,
                } => {
                    let msg = format!(
                        "git-agents: uncommitted files of task {}\n\nSaved by `git agents prune --force` before removing {}.",
                        t.id,
                        wt.display()
                    );
                    let admin = Admin {
                        dir: admin.clone(),
                        worktree: wt.clone(),
                    };
                    match worktree::snapshot(wt, &admin, &msg, &[]) {
                        Ok(sha) => discarded.push((what.clone(), Some(sha))),
                        Err(e) => {
                            return Fate::Kept {
                                reasons: vec![format!("cannot save its uncommitted files: {e:#}")],
                                forceable: false,
                            };
                        }
                    }
                }
            }
        }
        if !would {
            for sha in discarded.iter().filter_map(|(_, s)| s.as_ref()) {
                if let Err(e) = self.store.log_discarded(&t.id, &t.branch, sha) {
                    return log_failed(e);
                }
            }
        }

        // Commits an agent made inside a submodule live in the worktree's admin dir: they
        // are fetched into (or moved to) the main repository's module store first.
        if let Some((dir, tips)) = &r.modules {
            let common = &self.repo.common_dir;
            match modules::keep(common, root, dir, tips, &t.id, would) {
                Ok(kept) => did.extend(kept.iter().map(|k| k.describe(would, root))),
                Err(e) if !r.force => {
                    return Fate::Kept {
                        reasons: vec![format!("{e:#}")],
                        forceable: true,
                    };
                }
                Err(e) => {
                    for (name, sha) in modules::pending(dir, root, tips) {
                        did.push(format!(
                            "{} submodule {name}'s commit {sha} (logged to pruned.log; not kept: {e:#})",
                            if would { "discard" } else { "discarded" }
                        ));
                        if !would
                            && let Err(e) = self.store.log_discarded(
                                &t.id,
                                &format!("{}:{}", t.branch, name.replace(char::is_whitespace, "_")),
                                &sha,
                            )
                        {
                            return log_failed(e);
                        }
                    }
                }
            }
        }

        if !would {
            for sha in &r.unreached {
                if let Err(e) = self.store.log_discarded(&t.id, &t.branch, &sha.to_string()) {
                    return log_failed(e);
                }
            }
        }
        if let Some(head) = r.head_logged {
            did.push(format!(
                "{} its worktree's HEAD {head} to pruned.log",
                if would { "log" } else { "logged" }
            ));
        }

        crate::fault::point("prune:logged");
        // The worktree and its admin dir: renamed away at once.
        match &r.worktree {
            Some(WorktreeStep::Move { path, admin, shown }) => {
                did.push(format!(
                    "{} {shown}",
                    if would { "remove" } else { "removed" }
                ));
                if !would {
                    if let Err(e) = self.trash.take(path, &t.id) {
                        return Fate::Failed(format!("{e:#}; nothing removed"));
                    }
                    if let Some(admin) = admin
                        && let Err(e) = self.trash.take(admin, &format!("{}.git", t.id))
                    {
                        return Fate::Failed(format!(
                            "moved {shown} away but not its git metadata: {e:#} (git worktree prune clears it)"
                        ));
                    }
                }
            }
            Some(WorktreeStep::ClearStale { admin, shown }) => {
                did.push(format!(
                    "{} stale metadata of {shown}",
                    if would { "clear" } else { "cleared" }
                ));
                if !would && let Err(e) = self.trash.take(admin, &format!("{}.git", t.id)) {
                    return Fate::Failed(format!("{e:#}"));
                }
            }
            None => {}
        }

        crate::fault::point("prune:moved");
        // The branch, only if it is still where it was checked.
        if let Some(tip) = r.branch {
            let shown = if r.unreached.contains(&tip) {
                format!(
                    "{tip}, {} to pruned.log",
                    if would { "logging it" } else { "logged" }
                )
            } else if r.why != Why::Forced {
                tip.to_hex_with_len(7).to_string()
            } else {
                tip.to_string()
            };
            did.push(if would {
                format!("delete branch {} (at {shown})", t.branch)
            } else {
                format!("deleted branch {} (was {shown})", t.branch)
            });
            if !would && let Err(e) = self.repo.delete_branch(&t.branch, tip) {
                return Fate::Failed(format!(
                    "{}; kept branch {}: {e:#}",
                    did[..did.len() - 1].join(", "),
                    t.branch
                ));
            }
        }

        crate::fault::point("prune:branch-deleted");
        if !would
            && r.tombstone
            && let Err(e) = self.store.update(&t.id, |rec| {
                rec.pruned = true;
                rec.owner = None;
                rec.child = None;
                rec.port = None;
            })
        {
            return Fate::Failed(format!(
                "{}; cannot mark its record pruned: {e:#}",
                did.join(", ")
            ));
        }
        Fate::Pruned {
            why: r.why,
            did,
            discarded,
        }
    }

    /// Every task known to the store (tombstones aside), and orphans: registered
    /// worktrees in `worktree_dir` and branches under `prefix` that no record claims,
    /// taken to come from `base` (else the branch checked out in the main worktree).
    pub fn gather(
        &self,
        worktree_dir: &Path,
        prefix: &str,
        base: Option<&str>,
    ) -> Result<Vec<Task>> {
        let mut tasks = Vec::new();
        let mut claimed = HashSet::new();
        for rec in self.store.all()? {
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
        let default_base = base
            .map(str::to_string)
            .or_else(|| self.repo.head_branch())
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
        for a in &self.admins {
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
        let repo = self.repo.local();
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

    /// Whether `prune` takes `t` when no id is named.
    pub fn wanted(&self, t: &Task, sel: Selection) -> bool {
        match t.state {
            _ if sel.all => true,
            State::Merged | State::Empty => true,
            State::Failed | State::TimedOut | State::Interrupted => sel.failed,
            State::Succeeded | State::Orphaned => self.done(t, t.rec.as_ref()).0.is_some(),
            State::Running | State::Pending | State::Conflicted => false,
        }
    }

    /// The tasks among `tasks` that only `--force` would remove, with what it would
    /// discard of each (tasks that must never be touched are not among them).
    pub fn needing_force<'t>(&self, tasks: &'t [Task]) -> Vec<(&'t Task, Vec<String>)> {
        let facts = parallel(tasks, |t| self.facts(t));
        tasks
            .iter()
            .zip(&facts)
            .filter(|(_, f)| f.never.is_empty())
            .map(|(t, f)| (t, f.risks(t)))
            .filter(|(_, r)| !r.is_empty())
            .collect()
    }

    /// Remove each of `tasks` (in parallel), forcing those `force` says.
    pub fn remove_all(&self, tasks: &[Task], force: impl Fn(&Task) -> bool + Sync) -> Vec<Fate> {
        parallel(tasks, |t| self.remove(t, force(t)))
    }

    /// Whatever else git keeps for worktrees of ours (`tasks`, or under `worktree_dir`)
    /// that no longer exist. In a dry run, those the tasks' own removals already say
    /// they would clear are left out.
    pub fn clear_stale(
        &self,
        tasks: &[Task],
        fates: &[Fate],
        worktree_dir: &Path,
    ) -> Result<Vec<Stale>> {
        let root = &self.repo.root;
        let task_of = |a: &Admin| {
            tasks.iter().zip(fates).find(|(t, _)| {
                t.worktree
                    .as_deref()
                    .is_some_and(|w| worktree::canon(w) == a.worktree)
            })
        };
        let mut out = Vec::new();
        for a in worktree::admins(&self.repo.common_dir) {
            let task = task_of(&a);
            if self.dry_run && matches!(task, Some((_, Fate::Pruned { .. }))) {
                continue;
            }
            let ours = task.is_some() || a.worktree.starts_with(worktree::canon(worktree_dir));
            if !ours || !a.is_stale() {
                continue;
            }
            let mut kept = Vec::new();
            if !self.dry_run {
                // Its submodule stores may hold an agent's only copy of a commit.
                let id = match task {
                    Some((t, _)) => t.id.clone(),
                    None => a
                        .dir
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
                };
                let tips: Vec<ObjectId> = admin_head(self.repo, &a).into_iter().collect();
                match modules::keep(&self.repo.common_dir, root, &a.dir, &tips, &id, false) {
                    Ok(k) => kept = k.iter().map(|k| k.describe(false, root)).collect(),
                    Err(e) => {
                        out.push(Stale::Kept {
                            worktree: a.worktree,
                            why: format!("{e:#}"),
                        });
                        continue;
                    }
                }
                self.trash.take(&a.dir, "stale.git")?;
            }
            out.push(Stale::Cleared {
                worktree: a.worktree,
                kept,
            });
        }
        Ok(out)
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
pub fn show(p: &Path, root: &Path) -> String {
    let c = worktree::canon(p);
    match c.strip_prefix(root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => p.display().to_string(),
    }
}

pub fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
