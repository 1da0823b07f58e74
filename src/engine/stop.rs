//! Stopping tasks from another process (`git agents stop`), whether the process that
//! runs them (their supervisor: a foreground or detached spawn) still lives or not.
//!
//! How a stop goes, for each task:
//!
//! 1. If its supervisor lives, a stop request is written to `agents/stop/ID.json`, naming
//!    that supervisor (pid and start time). The supervisor reads it before and after each
//!    job it runs ([`requested`]): a job that ends while a request stands ended
//!    `interrupted`, whatever its exit code, and no further job (check, retry) starts. A
//!    request naming another process (an older, dead supervisor) is ignored, so a stale
//!    one never stops a later run of the task.
//! 2. `stop` itself sends SIGTERM to every process of the task ([`procs::Finder`]: the
//!    agent's group, descendants that left it, orphans re-parented to init), then SIGKILL
//!    to what is left after the grace (`GIT_AGENTS_KILL_GRACE_MS`, as the supervisor).
//!    Doing it here rather than in the supervisor is what makes the same path work when
//!    there is no supervisor any more.
//! 3. With a supervisor, `stop` waits for it to record the task ended (it does so as soon
//!    as its job is gone). Without one, `stop` records the task `interrupted` itself (if
//!    it was pending or running) and writes its end into the batch's event log.
//!
//! A `Stopped` event (who asked) goes into the task's batch log either way, when the
//! record names a batch. The worktree and branch are never touched.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::events::{Emitter, Kind, Log};
use super::procs::{self, Finder};
use crate::store::{Proc, Record, Store};
use crate::task::State;

/// What `stop` leaves for a live supervisor.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    /// The `git agents stop` process that asked.
    by: u32,
    /// When (ms since the epoch).
    at: u64,
    /// The supervisor the request is for.
    owner: Proc,
}

/// Whether `git agents stop` asked this process to stop task `id`. Cheap enough to ask
/// before and after every job and while waiting for a port.
pub fn requested(store: &Store, id: &str) -> bool {
    let Ok(bytes) = std::fs::read(store.stop_request_path(id)) else {
        return false;
    };
    serde_json::from_slice::<Request>(&bytes).is_ok_and(|r| r.owner == Proc::current())
}

/// How one task's stop went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running and nothing of it was left: nothing was done.
    NotRunning { state: State },
    /// Its supervisor recorded its end (`state`) once its processes (`pids`) were gone.
    Supervised {
        owner: u32,
        state: State,
        pids: Vec<u32>,
    },
    /// Its supervisor was gone: what was left of it (`pids`) was stopped here, and the
    /// task recorded `interrupted` if its record still said pending or running.
    Orphaned { pids: Vec<u32>, recorded: bool },
    /// Its supervisor was asked, but has not ended it yet: the task is waiting for its
    /// turn, or in a step that runs no process (a worktree being made, a copy). It ends
    /// `interrupted` before starting anything else.
    Asked { owner: u32, state: State },
    /// These processes outlived SIGKILL and the wait after it.
    Survived { pids: Vec<u32> },
}

/// How long a stopped process gets between SIGTERM and SIGKILL: the supervisor's rule
/// (`GIT_AGENTS_KILL_GRACE_MS`, default 3 s, at most a minute).
pub fn grace() -> Duration {
    std::env::var("GIT_AGENTS_KILL_GRACE_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(3))
        .min(Duration::from_secs(60))
}

/// How long, after the grace, a supervisor gets to record the end of a task whose
/// processes are gone, and SIGKILLed processes get to disappear.
const SETTLE: Duration = Duration::from_secs(10);

fn is_live(s: State) -> bool {
    matches!(s, State::Pending | State::Running)
}

/// The tasks `stop --all` is about: those pending or running, and those with processes
/// left (an `interrupted` task whose supervisor was killed).
pub fn stoppable(store: &Store, finder: &mut Finder) -> Result<Vec<Record>> {
    Ok(store
        .all()?
        .into_iter()
        .filter(|r| is_live(r.process_state()) || !finder.members(r).is_empty())
        .collect())
}

struct Task {
    rec: Record,
    /// Its batch, read before anything rewrites the record.
    batch: Option<String>,
    /// The supervisor, while it lives.
    owner: Option<Proc>,
    /// Processes already sent SIGTERM, by pid and start time.
    termed: HashSet<(u32, u64)>,
    pids: Vec<u32>,
    /// When the first signal went.
    first: Option<Instant>,
    done: Option<Stopped>,
}

/// Stop `recs`, all at once, and say how each went.
pub fn stop(
    store: &Store,
    recs: Vec<Record>,
    finder: &mut Finder,
) -> Result<Vec<(String, Stopped)>> {
    let grace = grace();
    let started = Instant::now();
    let by = std::process::id();
    let mut tasks: Vec<Task> = Vec::new();
    for rec in recs {
        let owner = rec.owner.filter(|o| o.is_alive() && is_live(rec.state));
        let members = finder.members(&rec);
        let batch = store.batch_of(&rec.id);
        let mut done = None;
        if owner.is_none() && !is_live(rec.process_state()) && members.is_empty() {
            done = Some(Stopped::NotRunning { state: rec.state });
        } else {
            if let Some(o) = owner {
                let req = Request {
                    by,
                    at: crate::time::now(),
                    owner: o,
                };
                store.write_stop_request(&rec.id, &serde_json::to_vec(&req)?)?;
                if rec.state == State::Pending && members.is_empty() {
                    // Waiting for a slot: it will not start; nothing to wait for here.
                    done = Some(Stopped::Asked {
                        owner: o.pid,
                        state: rec.state,
                    });
                }
            }
            emit(store, batch.as_deref(), &rec.id, Kind::Stopped { by });
            if let Some(argv) = &rec.runner_stop {
                // The container outlives its client otherwise.
                crate::runner::run_stop(argv, grace);
            }
        }
        tasks.push(Task {
            rec,
            batch,
            owner,
            termed: HashSet::new(),
            pids: Vec::new(),
            first: None,
            done,
        });
    }

    while tasks.iter().any(|t| t.done.is_none()) {
        finder.refresh();
        let now = Instant::now();
        for t in tasks.iter_mut().filter(|t| t.done.is_none()) {
            let members = finder.members(&t.rec);
            for m in &members {
                if !t.pids.contains(&m.pid) {
                    t.pids.push(m.pid);
                }
            }
            if members.is_empty() {
                t.done = settled(store, t, now.duration_since(started) > grace + SETTLE)?;
                continue;
            }
            let first = *t.first.get_or_insert(now);
            let late = now.duration_since(first) >= grace;
            for m in &members {
                if late {
                    procs::signal(*m, libc::SIGKILL);
                } else if t.termed.insert((m.pid, m.start)) {
                    procs::signal(*m, libc::SIGTERM);
                }
            }
            if now.duration_since(first) > grace + SETTLE {
                t.done = Some(Stopped::Survived {
                    pids: members.iter().map(|m| m.pid).collect(),
                });
            }
        }
        if tasks.iter().any(|t| t.done.is_none()) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    let mut out = Vec::new();
    for t in tasks {
        let done = t.done.unwrap_or(Stopped::NotRunning { state: t.rec.state });
        if !matches!(done, Stopped::Asked { .. }) {
            // Consumed, or never needed: a stale one would be ignored anyway.
            let _ = std::fs::remove_file(store.stop_request_path(&t.rec.id));
        }
        out.push((t.rec.id, done));
    }
    Ok(out)
}

/// A task whose processes are all gone: ended, or still to be waited for (`None`).
fn settled(store: &Store, t: &mut Task, too_long: bool) -> Result<Option<Stopped>> {
    let mut pids = t.pids.clone();
    pids.sort_unstable();
    let Some(owner) = t.owner else {
        let recorded = record_interrupted(store, &t.rec.id, t.batch.as_deref())?;
        return Ok(Some(Stopped::Orphaned { pids, recorded }));
    };
    let now = store.load(&t.rec.id)?;
    match now {
        Some(r) if is_live(r.state) && r.owner == Some(owner) => {
            if !owner.is_alive() {
                // The supervisor died while we waited: the task is ours to record.
                t.owner = None;
                return Ok(None);
            }
            Ok(too_long.then_some(Stopped::Asked {
                owner: owner.pid,
                state: r.state,
            }))
        }
        Some(r) => Ok(Some(Stopped::Supervised {
            owner: owner.pid,
            state: r.state,
            pids,
        })),
        None => Ok(Some(Stopped::Supervised {
            owner: owner.pid,
            state: State::Interrupted,
            pids,
        })),
    }
}

/// Record a task whose supervisor is gone as `interrupted`, if its record still says it
/// is pending or running (and no new supervisor took it meanwhile). Says whether it did.
fn record_interrupted(store: &Store, id: &str, batch: Option<&str>) -> Result<bool> {
    const DETAIL: &str = "stopped by git agents stop (its git agents process was gone)";
    let mut changed = false;
    let now = crate::time::now();
    store.update(id, |r| {
        if r.owner_alive() {
            return;
        }
        // Whatever it named is gone now.
        r.child = None;
        if !is_live(r.state) {
            return;
        }
        r.state = State::Interrupted;
        r.finished_at = Some(now);
        r.detail = Some(DETAIL.into());
        r.owner = None;
        if let Some(a) = r.attempts.last_mut()
            && a.finished_at.is_none()
        {
            a.state = State::Interrupted;
            a.finished_at = Some(now);
            a.detail = Some(DETAIL.into());
        }
        changed = true;
    })?;
    if changed {
        emit(
            store,
            batch,
            id,
            Kind::TaskEnded {
                state: State::Interrupted,
                detail: DETAIL.into(),
            },
        );
    }
    Ok(changed)
}

/// Append an event about task `id` to its batch's log, if its record names a batch. A
/// log that cannot be written never stops a stop.
fn emit(store: &Store, batch: Option<&str>, id: &str, kind: Kind) {
    let Some(batch) = batch else {
        return;
    };
    if let Ok(log) = Log::create(&store.dir, batch) {
        Emitter::new(batch.to_string()).with(log).task(id, kind);
    }
}
