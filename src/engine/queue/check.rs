//! The check of a merged result: the task's setup and check command run in a scratch
//! worktree from the queue's pool (see [`super::pool`]) moved to the candidate, with
//! the task's `copy` entries. Shared by the sequential queue and the speculative one,
//! whose checks run on threads of their own and may be stopped half-way ([`Cancel`]).

use anyhow::Result;
use gix::ObjectId;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::pool::{Pool, Ticket};
use super::{Item, phase};
use crate::copy;
use crate::engine::events::{Emitter, Kind, Phase};
use crate::engine::launch::{Job, Seat};
use crate::engine::stop;
use crate::git::Repo;
use crate::store::{Proc, Record, Store};
use crate::supervise::{self, Outcome};

/// Where the queue gets the answer of a check.
pub(super) trait Checks {
    /// The check of item `i` (command `cmd`) on `tip`, the result of merging it onto
    /// `base`, with `into` the branch it goes into.
    fn check(
        &mut self,
        i: usize,
        cmd: &str,
        tip: ObjectId,
        base: ObjectId,
        into: &str,
    ) -> Result<CheckResult>;
}

/// The sequential queue's checks: each runs when asked.
pub(super) struct Direct<'e> {
    pub env: Env<'e>,
    pub pool: &'e Pool,
    pub items: &'e [Item],
}

impl Checks for Direct<'_> {
    fn check(
        &mut self,
        i: usize,
        cmd: &str,
        tip: ObjectId,
        _base: ObjectId,
        into: &str,
    ) -> Result<CheckResult> {
        check_now(self.env, self.pool, &self.items[i], i, cmd, tip, into)
    }
}

/// [`check`] of item `i` on `tip`, run on this thread: its place in the pool's line is
/// taken now, and nothing stops it half-way.
pub(super) fn check_now(
    env: Env,
    pool: &Pool,
    it: &Item,
    i: usize,
    cmd: &str,
    tip: ObjectId,
    into: &str,
) -> Result<CheckResult> {
    let ticket = pool.ticket(i, tip);
    check(env, pool, it, cmd, tip, into, ticket, None)
}

pub enum CheckResult {
    Passed,
    Failed(String),
    Interrupted,
}

/// What a check needs of the queue: all of it may be shared with the checking threads.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub events: &'a Emitter,
    pub port_range: (u16, u16),
}

/// Stops a running check from another thread: its whole process group is killed, and
/// no further step of it starts.
#[derive(Default)]
pub struct Cancel {
    stop: AtomicBool,
    group: Mutex<Option<u32>>,
}

impl Cancel {
    pub fn cancel(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let group = self.group.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(pgid) = *group {
            supervise::kill_group(pgid);
        }
    }

    pub fn cancelled(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// The job leading process group `pgid` started (`None`: it ended). Held under the
    /// lock [`Cancel::cancel`] takes, so a group is never signalled after its end.
    fn running(&self, pgid: Option<u32>) {
        let mut group = self.group.lock().unwrap_or_else(|e| e.into_inner());
        *group = pgid;
        if let Some(p) = pgid
            && self.cancelled()
        {
            supervise::kill_group(p);
        }
    }
}

/// Run the task's setup and `cmd` on `candidate` in a scratch worktree of `pool` moved
/// there (once `ticket`'s turn for one has come), with the task's `copy` entries.
#[allow(clippy::too_many_arguments)]
pub fn check(
    env: Env,
    pool: &Pool,
    it: &Item,
    cmd: &str,
    candidate: ObjectId,
    into: &str,
    ticket: Ticket,
    cancel: Option<&Cancel>,
) -> Result<CheckResult> {
    let rec = &it.rec;
    let short = candidate.to_hex_with_len(10).to_string();
    env.events.task(&rec.id, phase(Phase::Check, rec));
    let Some(slot) = pool.take(env.repo, candidate, ticket, cancel)? else {
        return Ok(CheckResult::Interrupted);
    };
    let result = run_check(env, it, cmd, slot.dir(), into, &short, cancel);
    pool.give_back(env.repo, slot, result.is_ok());
    result
}

fn run_check(
    env: Env,
    it: &Item,
    cmd: &str,
    dir: &Path,
    into: &str,
    short: &str,
    cancel: Option<&Cancel>,
) -> Result<CheckResult> {
    let rec = &it.rec;
    let id = rec.id.as_str();
    let repo = env.repo;
    let mut log = env.store.open_log(id)?;
    let _ = writeln!(
        log,
        "==> git-agents merge: check of {short} (onto {into}): {cmd}"
    );
    // The entries spawn copies into the task's worktree, merged the one way spawn does.
    let entries = copy::task_entries(&repo.root, &it.settings.copy)?;
    let limits = copy::Limits::new(
        &repo.root,
        &repo.common_dir,
        rec.worktree.parent().unwrap_or(&rec.worktree),
    );
    copy::copy_entries(&repo.root, dir, &entries, &limits)?;
    let deadline = it.settings.timeout.and_then(crate::time::deadline);
    // The check sees what spawn's check saw, `GIT_AGENTS_PORT` included (a check that
    // starts a server on it would otherwise fail here alone). The port is held in the
    // task's record, driven by this process, while the check runs.
    env.store.update(id, |r| r.owner = Some(Proc::current()))?;
    let port = hold_port(env, rec, deadline);
    let result = match port {
        Ok(Some(port)) => {
            let notes = env.store.notes_path(id);
            let repo_name = repo.name();
            let seat = seat(it, dir, into, port, &notes, &repo_name, deadline);
            run_steps(env, it, cmd, &seat, &mut log, cancel)
        }
        Ok(None) => Ok(CheckResult::Interrupted),
        Err(e) => Err(e),
    };
    env.store.update(id, |r| {
        r.owner = None;
        r.port = None;
        r.set_child(None);
    })?;
    result
}

/// The task's setup commands and then `cmd`, each until one does not pass.
fn run_steps(
    env: Env,
    it: &Item,
    cmd: &str,
    seat: &Seat,
    log: &mut File,
    cancel: Option<&Cancel>,
) -> Result<CheckResult> {
    let steps = it
        .settings
        .setup
        .iter()
        .map(|s| ("setup", s.as_str()))
        .chain([("check", cmd)]);
    for (what, line) in steps {
        if cancel.is_some_and(Cancel::cancelled) {
            return Ok(CheckResult::Interrupted);
        }
        match supervised(env, &it.rec.id, &seat.shell(line), log, cancel)? {
            Outcome::Exited(_) if cancel.is_some_and(Cancel::cancelled) => {
                return Ok(CheckResult::Interrupted);
            }
            Outcome::Exited(0) => {}
            Outcome::Exited(c) => {
                return Ok(CheckResult::Failed(format!("{what} `{line}` exited {c}")));
            }
            Outcome::TimedOut => return Ok(CheckResult::Failed(format!("{what} timed out"))),
            Outcome::Interrupted => return Ok(CheckResult::Interrupted),
        }
    }
    Ok(CheckResult::Passed)
}

/// Reserve a port for the task, as spawn does for each attempt: one no other running
/// task holds, waiting while they hold them all. `None`: interrupted (Ctrl-C, or
/// `git agents stop`) while waiting.
pub(super) fn hold_port(env: Env, rec: &Record, deadline: Option<Instant>) -> Result<Option<u16>> {
    let id = rec.id.as_str();
    let stopped = || supervise::interrupted() || stop::requested(env.store, id);
    let waited = env.store.wait_for_port(
        id,
        env.port_range,
        || env.events.task(id, phase(Phase::WaitingForPort, rec)),
        || {
            if stopped() {
                Some("interrupted while waiting".into())
            } else if deadline.is_some_and(|d| Instant::now() >= d) {
                Some("timed out waiting for other tasks to give one back".into())
            } else {
                None
            }
        },
    );
    match waited {
        Ok(p) => Ok(Some(p)),
        Err(_) if stopped() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Where the task's merge jobs run and what they get: the environment and template
/// placeholders spawn's jobs get, from the same launcher.
pub(super) fn seat<'a>(
    it: &'a Item,
    dir: &'a Path,
    into: &'a str,
    port: u16,
    notes: &'a Path,
    repo_name: &'a str,
    deadline: Option<Instant>,
) -> Seat<'a> {
    Seat {
        task: &it.rec.id,
        branch: &it.rec.branch,
        dir,
        base: into,
        attempt: it.rec.attempts.len().max(1) as u32,
        port: Some(port),
        index: 0,
        notes,
        repo_name,
        env: &it.settings.env,
        deadline,
    }
}

/// Run a job of task `id` as spawn runs its jobs: its pid in the task's record while it
/// runs (so `git agents stop` and `prune` find it), each output line as an event. A job
/// that ends while `git agents stop` asks for the task was stopped, whatever its exit;
/// none starts once it has asked. An error means it could not run at all.
pub(super) fn supervised(
    env: Env,
    id: &str,
    job: &Job,
    log: &mut File,
    cancel: Option<&Cancel>,
) -> Result<Outcome> {
    if stop::requested(env.store, id) {
        return Ok(Outcome::Interrupted);
    }
    let outcome = job.run(
        log,
        |pid| {
            let _ = env.store.update(id, |r| r.set_child(Some(Proc::of(pid))));
            if let Some(c) = cancel {
                c.running(Some(pid));
            }
        },
        |line| {
            env.events.task(
                id,
                Kind::Output {
                    line: line.to_string(),
                },
            )
        },
    );
    if let Some(c) = cancel {
        c.running(None);
    }
    let _ = env.store.update(id, |r| r.set_child(None));
    let outcome = outcome?;
    Ok(if stop::requested(env.store, id) {
        Outcome::Interrupted
    } else {
        outcome
    })
}
