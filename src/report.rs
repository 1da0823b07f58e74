//! What a task looks like to a user: the SPEC §6 JSON object and table rows, computed
//! from its record plus the repository as it is now.
//!
//! Everything here reads in-process through gix (HEAD of each worktree, ahead/behind by
//! rev walk, dirtiness with untracked files): no `git` process per worktree, and many
//! worktrees are looked at in parallel ([`inspect_all`]).

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

mod spend;
pub use spend::{cost_cell, count, spend_fields, tokens_cell, total_line, usage_json};

use crate::git::Repo;
use crate::store::{Record, Store};
use crate::task::State;

/// Facts read from the repository rather than the record.
#[derive(Debug, Clone, Default)]
pub struct Live {
    pub head: Option<String>,
    /// Commits on the branch not in the base's current tip, and the reverse.
    pub ahead: Option<usize>,
    pub behind: Option<usize>,
    /// Uncommitted changes, untracked files included; `None` if the worktree is gone.
    pub dirty: Option<usize>,
    /// The state reality shows (see [`effective_state`]); `None` leaves the record's.
    pub state: Option<State>,
    /// The branch checked out in the worktree (short name), if it is on one.
    pub head_ref: Option<String>,
}

/// What to look at for one task or stray worktree.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub worktree: Option<PathBuf>,
    /// Short branch name (`agent/x`).
    pub branch: Option<String>,
    /// The base's current tip.
    pub base: Option<gix::ObjectId>,
    /// A process of ours may run git in the worktree now: never lock its index.
    pub busy: bool,
}

impl Target {
    /// What a record points at; its base resolved now (or, if it no longer resolves,
    /// the commit the task started from).
    pub fn of(repo: &gix::Repository, rec: &Record) -> Target {
        Target {
            worktree: Some(rec.worktree.clone()),
            branch: Some(rec.branch.clone()),
            base: resolve_commit(repo, &rec.base)
                .or_else(|| gix::ObjectId::from_hex(rec.base_commit.as_bytes()).ok()),
            busy: busy(rec),
        }
    }
}

/// Whether a task's driver or agent may be running git in its worktree right now.
pub fn busy(rec: &Record) -> bool {
    matches!(rec.process_state(), State::Pending | State::Running) || rec.agent_alive()
}

/// Everything about one task as the repository shows it now, state included.
pub fn live(repo: &Repo, rec: &Record) -> Live {
    let repo = repo.local();
    let mut live = inspect(&repo, &Target::of(&repo, rec));
    live.state = Some(effective_state(rec, &live));
    live
}

/// [`live`] for many records at once, spread over the machine's cores. Without
/// `worktrees` only the branches are read (commits ahead and behind, the state): no
/// worktree is opened, so `dirty` and `head_ref` stay `None`.
pub fn live_all(repo: &Repo, recs: &[Record], worktrees: bool) -> Vec<Live> {
    let local = repo.local();
    let targets: Vec<Target> = recs
        .iter()
        .map(|rec| {
            let mut t = Target::of(&local, rec);
            if !worktrees {
                t.worktree = None;
            }
            t
        })
        .collect();
    let mut lives = inspect_all(repo, &targets);
    for (live, rec) in lives.iter_mut().zip(recs) {
        live.state = Some(effective_state(rec, live));
    }
    lives
}

/// [`inspect`] for many targets at once, spread over the machine's cores (each thread
/// with its own handle on the repository); results in the order of `targets`.
pub fn inspect_all(repo: &Repo, targets: &[Target]) -> Vec<Live> {
    inspect_each(repo, targets, |_, _| {})
}

/// [`inspect_all`], calling `done(i, live)` on the calling thread as soon as target `i`
/// is read (in whatever order they finish), so a display can fill in as it goes.
pub fn inspect_each(
    repo: &Repo,
    targets: &[Target],
    mut done: impl FnMut(usize, &Live),
) -> Vec<Live> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(targets.len());
    let mut lives = vec![Live::default(); targets.len()];
    if threads <= 1 {
        let local = repo.local();
        for (i, t) in targets.iter().enumerate() {
            lives[i] = inspect(&local, t);
            done(i, &lives[i]);
        }
        return lives;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Live)>();
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let next = &next;
                let tx = tx.clone();
                s.spawn(move || {
                    let local = repo.local();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(t) = targets.get(i) else { break };
                        if tx.send((i, inspect(&local, t))).is_err() {
                            break;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        // Ends when every worker has ended.
        for (i, live) in rx {
            done(i, &live);
            lives[i] = live;
        }
        // A worker that panicked lost the target it was reading: that one reads as
        // unknown (joined here, its panic does not take the whole list down).
        for w in workers {
            let _ = w.join();
        }
    });
    lives
}

/// Read one target: the worktree's HEAD, branch and uncommitted changes, and the
/// branch's (else HEAD's) commits ahead of and behind the base. What cannot be read
/// stays `None`.
pub fn inspect(repo: &gix::Repository, t: &Target) -> Live {
    let wt = t
        .worktree
        .as_deref()
        .filter(|p| p.is_dir())
        .and_then(|p| gix::open(p).ok());
    let wt_head = wt
        .as_ref()
        .and_then(|r| r.head_id().ok())
        .map(|id| id.detach());
    let head_ref = wt
        .as_ref()
        .and_then(|r| r.head_name().ok().flatten())
        .map(|n| n.shorten().to_string());
    let tip = t
        .branch
        .as_deref()
        .and_then(|b| branch_tip(repo, b))
        .or(wt_head);
    let (ahead, behind) = match (tip, t.base) {
        (Some(tip), Some(base)) => match ahead_behind(repo, tip, base) {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        },
        _ => (None, None),
    };
    Live {
        head: wt_head.or(tip).map(|h| h.to_string()),
        ahead,
        behind,
        dirty: wt.as_ref().and_then(|r| {
            let refresh = if t.busy {
                crate::dirty::Refresh::Never
            } else {
                crate::dirty::Refresh::IfFree
            };
            crate::dirty::count(r, refresh).ok()
        }),
        state: None,
        head_ref,
    }
}

/// The state a task is really in, from its record and what the repository shows:
///
/// - `pending`/`running` whose driving process is gone (crash, `kill -9`): `interrupted`;
/// - `succeeded` (or `conflicted`) whose branch is contained in the base: `merged`;
/// - a worktree gone while the record expects one: `orphaned` (a failed task that left
///   neither worktree nor branch expects none).
///
/// Tombstones (pruned records) keep their recorded state.
pub fn effective_state(rec: &Record, live: &Live) -> State {
    if rec.pruned {
        return rec.state;
    }
    let state = match rec.process_state() {
        s @ (State::Pending | State::Running) => return s,
        s => s,
    };
    if matches!(state, State::Succeeded | State::Conflicted) && live.ahead == Some(0) {
        return State::Merged;
    }
    // A task that ended badly with neither worktree nor branch left (it may have failed
    // before making them, waiting for a port say) orphaned nothing: its state tells.
    let left_nothing = live.head.is_none()
        && matches!(state, State::Failed | State::TimedOut | State::Interrupted);
    // A remote task has a local worktree only once asked for one (`path`).
    let remote = rec.remote.is_some();
    if !rec.worktree.is_dir()
        && !matches!(state, State::Empty | State::Merged)
        && !left_nothing
        && !remote
    {
        return State::Orphaned;
    }
    state
}

/// A commit id for a revision, or `None` if it names no commit.
pub fn resolve_commit(repo: &gix::Repository, rev: &str) -> Option<gix::ObjectId> {
    let id = repo.rev_parse_single(rev).ok()?;
    let commit = id.object().ok()?.peel_to_commit().ok()?;
    Some(commit.id)
}

/// The commit a local branch points at.
pub fn branch_tip(repo: &gix::Repository, short: &str) -> Option<gix::ObjectId> {
    let mut r = repo
        .try_find_reference(format!("refs/heads/{short}").as_str())
        .ok()??;
    r.peel_to_id().ok().map(|id| id.detach())
}

/// Commits reachable from `a` and not `b`, and from `b` and not `a` (what
/// `git rev-list --left-right --count a...b` says).
pub fn ahead_behind(
    repo: &gix::Repository,
    a: gix::ObjectId,
    b: gix::ObjectId,
) -> Option<(usize, usize)> {
    if a == b {
        return Some((0, 0));
    }
    let count = |from: gix::ObjectId, hide: gix::ObjectId| -> Option<usize> {
        let walk = repo.rev_walk([from]).with_hidden([hide]).all().ok()?;
        let mut n = 0;
        for info in walk {
            info.ok()?;
            n += 1;
        }
        Some(n)
    };
    Some((count(a, b)?, count(b, a)?))
}

/// The commits `tip` has over `base`, newest first: (full id, subject).
pub fn commits_over(
    repo: &gix::Repository,
    tip: gix::ObjectId,
    base: Option<gix::ObjectId>,
) -> anyhow::Result<Vec<(String, String)>> {
    let walk = repo.rev_walk([tip]).with_hidden(base).all()?;
    let mut out = Vec::new();
    for info in walk {
        let info = info?;
        let commit = info.object()?;
        let subject = commit
            .message()
            .map(|m| m.summary().to_string())
            .unwrap_or_default();
        out.push((info.id.to_string(), subject));
    }
    Ok(out)
}

pub fn task_json(store: &Store, rec: &Record, live: &Live) -> Value {
    json!({
        "id": rec.id,
        "state": live.state.unwrap_or(rec.state).as_str(),
        "branch": rec.branch,
        "base": rec.base,
        "worktree": rec.worktree,
        "head": live.head.clone().or(rec.head.clone()),
        "ahead": live.ahead,
        "behind": live.behind,
        "dirty": live.dirty,
        "check": rec.check,
        "exit_code": rec.exit_code,
        "attempts": rec.attempts.len(),
        "started_at": rec.started_at.map(crate::time::rfc3339),
        "finished_at": rec.finished_at.map(crate::time::rfc3339),
        "log": store.log_path(&rec.id),
        "detail": rec.detail,
        "port": rec.port,
        "pr_url": rec.pr_url,
        "usage": usage_json(rec),
        "reason": rec.reason,
        "hint": rec.hint,
        "isolation": rec.isolation,
        "depends_on": rec.graph.depends_on,
        "waiting_for": crate::engine::graph::waiting_json(store, rec),
        "blocked_by": rec.graph.blocked_by,
        "candidate_of": rec.graph.candidate_of,
        "candidates": [],
        "winner": rec.graph.winner,
        "winner_reason": rec.graph.winner_reason,
        "remote": rec.remote,
    })
}

/// The SPEC §6 object for a row without a record: a manifest task never spawned, or a
/// worktree or branch nobody recorded. Same fields as [`task_json`].
pub fn unrecorded_json(
    id: &str,
    state: State,
    branch: Option<&str>,
    base: Option<&str>,
    worktree: Option<&Path>,
    live: &Live,
) -> Value {
    json!({
        "id": id,
        "state": state.as_str(),
        "branch": branch,
        "base": base,
        "worktree": worktree,
        "head": live.head,
        "ahead": live.ahead,
        "behind": live.behind,
        "dirty": live.dirty,
        "check": null,
        "exit_code": null,
        "attempts": 0,
        "started_at": null,
        "finished_at": null,
        "log": null,
        "detail": null,
        "port": null,
        "pr_url": null,
        "usage": null,
        "reason": null,
        "hint": null,
        "isolation": null,
        "depends_on": [],
        "waiting_for": [],
        "blocked_by": [],
        "candidate_of": null,
        "candidates": [],
        "winner": null,
        "winner_reason": null,
        "remote": null,
    })
}

/// The JSON document every `--json` prints.
pub fn document(tasks: Vec<Value>) -> String {
    let doc = json!({ "version": 1, "tasks": tasks });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// How long the task ran (or has been running).
pub fn elapsed(rec: &Record) -> Option<Duration> {
    let start = rec.started_at?;
    let end = rec.finished_at.unwrap_or_else(crate::time::now);
    Some(Duration::from_millis(end.saturating_sub(start)))
}
