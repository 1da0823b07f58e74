//! Whether a task's worktree and branch may go, and their removal: the engine behind
//! `git agents prune` (and anything else that removes a task, such as `merge --prune`).
//!
//! Safety is decided per task at the moment of removal, from the repository as it is
//! then, never from what spawn recorded: a live agent is never touched; uncommitted or
//! untracked files, commits not in base, a lock, or a process working inside keep a
//! worktree unless forced, and whatever force discards is appended to `pruned.log`
//! first (branch tips, and a commit holding the uncommitted files).
//!
//! Removal renames the worktree and its git admin dir into the trash (instant), deletes
//! the branch by compare-and-swap, turns the record into a tombstone, and leaves the
//! file deletion to a background process (see [`crate::trash`]).

use std::path::{Path, PathBuf};

use crate::git::{Changes, InBase, Repo};
use crate::modules;
use crate::store::{Record, Store};
use crate::task::State;
use crate::trash::Trash;
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

/// Where a task stands, read from the repository now.
#[derive(Debug)]
pub struct Facts {
    pub state: State,
    /// Why it must never be touched (a live agent, someone else's worktree, ...).
    pub never: Vec<String>,
    pub found: Found,
    /// Admin dir of a worktree deleted by hand.
    pub stale_admin: Option<Admin>,
    pub tip: Option<gix::ObjectId>,
    /// The commit its worktree's HEAD is at (also of a worktree deleted by hand, whose
    /// HEAD git still keeps), when that is not `tip`.
    pub head: Option<gix::ObjectId>,
    /// Tips (branch, worktree HEAD) whose work is not in base, and their commit count.
    pub unmerged: Vec<gix::ObjectId>,
    pub unmerged_commits: usize,
    pub done: Option<Done>,
    pub changes: Option<Result<Changes, String>>,
    pub users: Vec<(u32, String)>,
    /// Why commits in the worktree's submodule stores cannot be kept, if they cannot.
    pub modules_stuck: Option<String>,
}

impl Facts {
    /// Reasons that keep the task unless `--force`.
    pub fn risks(&self, t: &Task, root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let wt = t
            .worktree
            .as_deref()
            .map(|p| show(p, root))
            .unwrap_or_default();
        if !self.unmerged.is_empty() {
            let n = self.unmerged_commits;
            let who = if self.tip.is_some_and(|tip| self.unmerged.contains(&tip)) {
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
pub enum Outcome {
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

/// What every removal needs.
pub struct Env<'a> {
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

/// Whether every tip of the task (its branch, and the worktree's HEAD when that
/// differs) is in base, and if not, which tips are not.
pub fn done(
    env: &Env,
    t: &Task,
    rec: Option<&Record>,
) -> (Option<Done>, Vec<gix::ObjectId>, Option<gix::ObjectId>) {
    let repo = &env.repo;
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

/// The commit a linked worktree's HEAD (kept in its admin dir) is at.
pub fn admin_head(repo: &Repo, a: &Admin) -> Option<gix::ObjectId> {
    match a.head()? {
        Ok(r) => repo.resolve_commit(&r),
        Err(hex) => gix::ObjectId::from_hex(hex.as_bytes()).ok(),
    }
}

/// The base's current tip; if the base no longer resolves, where the task started.
fn base_tip(repo: &Repo, t: &Task, rec: Option<&Record>) -> Option<gix::ObjectId> {
    repo.resolve_commit(&t.base)
        .or_else(|| rec.and_then(|r| gix::ObjectId::from_hex(r.base_commit.as_bytes()).ok()))
}

/// Read everything that decides whether a task may go, now.
pub fn facts(env: &Env, t: &Task) -> Facts {
    let repo = &env.repo;
    let root = &repo.root;
    // The record as it is now: an agent may have started since we listed.
    let rec = match &t.rec {
        Some(r) => env.store.load(&r.id).ok().flatten().filter(|r| !r.pruned),
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
            env.admins.iter().find(|a| a.worktree == p).cloned()
        }
        _ => None,
    };
    let rec_now = rec.as_ref().or(t.rec.as_ref());
    let (done, unmerged, tip) = done(env, t, rec_now);
    let unmerged_commits = if unmerged.is_empty() {
        0
    } else {
        let base = base_tip(repo, t, rec_now);
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
    let head = match (&found, &stale_admin) {
        (Found::Linked(a), _) | (_, Some(a)) => admin_head(repo, a),
        _ => None,
    }
    .filter(|h| Some(*h) != tip);
    // What keeping its submodule commits would do, found out without doing it.
    let modules_stuck = match (&found, &stale_admin) {
        (Found::Linked(a), _) | (Found::Missing, Some(a)) => {
            let tips: Vec<gix::ObjectId> = tip.into_iter().chain(head).collect();
            modules::keep(&repo.common_dir, root, &a.dir, &tips, &t.id, true)
                .err()
                .map(|e| format!("{e:#}"))
        }
        _ => None,
    };
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
        head,
        unmerged,
        unmerged_commits,
        done,
        changes,
        users,
        modules_stuck,
    }
}

/// Check one task now and, unless it is a dry run, remove it.
pub fn remove(env: &Env, t: &Task, force: bool) -> Outcome {
    let root = &env.repo.root;
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
        let base = base_tip(env.repo, t, t.rec.as_ref());
        for tip in &f.unmerged {
            let n = if f.unmerged.len() == 1 {
                f.unmerged_commits
            } else {
                env.repo.count_not_in(&[*tip], base).unwrap_or(1)
            };
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
                match worktree::snapshot(&a.worktree, a, &msg, &[]) {
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
                if let Err(e) = env.store.log_discarded(&t.id, &t.branch, sha) {
                    return Outcome::Failed(format!(
                        "cannot write pruned.log, nothing removed: {e:#}"
                    ));
                }
            }
        }
    }

    // Commits an agent made inside a submodule live in the worktree's admin dir: they
    // are fetched into (or moved to) the main repository's module store first.
    let admin_dir = match (&f.found, &f.stale_admin) {
        (Found::Linked(a), _) | (Found::Missing, Some(a)) => Some(a.dir.clone()),
        _ => None,
    };
    if let Some(dir) = &admin_dir {
        let tips: Vec<gix::ObjectId> = f.tip.into_iter().chain(f.head).collect();
        let common = &env.repo.common_dir;
        match modules::keep(common, root, dir, &tips, &t.id, would) {
            Ok(kept) => did.extend(kept.iter().map(|k| k.describe(would, root))),
            Err(e) if !force => {
                return Outcome::Kept {
                    reasons: vec![format!("{e:#}")],
                    forceable: true,
                };
            }
            Err(e) => {
                for (name, sha) in modules::pending(dir, root, &tips) {
                    did.push(format!(
                        "{} submodule {name}'s commit {sha} (logged to pruned.log; not kept: {e:#})",
                        if would { "discard" } else { "discarded" }
                    ));
                    if !would
                        && let Err(e) = env.store.log_discarded(
                            &t.id,
                            &format!("{}:{}", t.branch, name.replace(char::is_whitespace, "_")),
                            &sha,
                        )
                    {
                        return Outcome::Failed(format!(
                            "cannot write pruned.log, nothing removed: {e:#}"
                        ));
                    }
                }
            }
        }
    }

    // Whatever the reason for deleting (forced or not: a squash merge, a deleted base),
    // a tip that no other ref reaches is logged before anything goes. When the refs
    // cannot be read, every tip counts as unreached.
    let branch_ref = format!("refs/heads/{}", t.branch);
    let tips: Vec<gix::ObjectId> = f.tip.into_iter().chain(f.head).collect();
    let unreached = env
        .repo
        .reached_only_by(&tips, std::slice::from_ref(&branch_ref))
        .unwrap_or(tips);
    let already: Vec<&str> = discarded.iter().filter_map(|(_, s)| s.as_deref()).collect();
    let logged: Vec<gix::ObjectId> = unreached
        .into_iter()
        .filter(|sha| !already.contains(&sha.to_string().as_str()))
        .collect();
    if !would {
        for sha in &logged {
            if let Err(e) = env.store.log_discarded(&t.id, &t.branch, &sha.to_string()) {
                return Outcome::Failed(format!("cannot write pruned.log, nothing removed: {e:#}"));
            }
        }
    }
    if let Some(head) = f.head.filter(|h| logged.contains(h)) {
        did.push(format!(
            "{} its worktree's HEAD {head} to pruned.log",
            if would { "log" } else { "logged" }
        ));
    }

    crate::fault::point("prune:logged");
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
        // Refused above: another repository's files are never ours to move.
        Found::Foreign(_) => {}
    }

    crate::fault::point("prune:moved");
    // The branch, only if it is still where it was checked.
    if let Some(tip) = f.tip {
        let shown = if logged.contains(&tip) {
            format!(
                "{tip}, {} to pruned.log",
                if would { "logging it" } else { "logged" }
            )
        } else if risks.is_empty() {
            tip.to_hex_with_len(7).to_string()
        } else {
            tip.to_string()
        };
        did.push(if would {
            format!("delete branch {} (at {shown})", t.branch)
        } else {
            format!("deleted branch {} (was {shown})", t.branch)
        });
        if !would && let Err(e) = env.repo.delete_branch(&t.branch, tip) {
            return Outcome::Failed(format!(
                "{}; kept branch {}: {e:#}",
                did[..did.len() - 1].join(", "),
                t.branch
            ));
        }
    }

    crate::fault::point("prune:branch-deleted");
    // The record stays as a tombstone, so a plain `spawn` never runs the task again.
    if !would
        && t.rec.is_some()
        && let Err(e) = env.store.update(&t.id, |r| {
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
