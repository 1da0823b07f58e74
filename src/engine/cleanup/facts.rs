//! What decides whether a task may go, read from the repository as it is now.

use gix::ObjectId;

use super::{Context, Done, Task, admin_head, base_tip, effective, plural, show};
use crate::dirty::{Changes, Untracked};
use crate::git::InBase;
use crate::modules;
use crate::store::Record;
use crate::task::State;
use crate::worktree::{self, Admin, Found};

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

impl Context<'_> {
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
        if rec.is_some_and(|r| crate::engine::candidates::lost_to_merged(self.store, r)) {
            return (Some(Done::Lost), Vec::new(), tip);
        }
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
                    crate::dirty::changes(&a.worktree, Untracked::Count)
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
}
