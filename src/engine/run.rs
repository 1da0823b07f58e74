//! The scheduler of a spawn batch: claimed tasks run in `jobs` slots, each through its
//! attempts (a retry in a fresh worktree after a failed one), each attempt with a port
//! no other live task holds. Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops the running agents
//! and withdraws the claims of tasks not yet started.
//!
//! The scheduler knows nothing of a terminal: what happens goes to an [`Emitter`] as
//! events (batch started, phases, output lines, attempt and task ends, batch ended) and
//! into the tasks' records. A foreground spawn gives it the live view and the event log
//! as sinks; a process running a batch on its own needs only the log.
//!
//! Whatever ends a task early, an error of ours or a bug (a panic), is recorded as its
//! failure, so no record is left `running` by a process that went on, and the other
//! tasks of the batch still finish.

use anyhow::Result;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use super::attempt::{self, Context};
use super::budget::BatchBudget;
use super::claim;
use super::events::{Emitter, Kind, Phase};
use super::graph::{Blocked, Next, Ready};
use super::plan::Planned;
use crate::adapter::Usage;
use crate::config::RetryIn;
use crate::error::{Error, Exit};
use crate::git::Repo;
use crate::store::{Record, Store};
use crate::supervise;
use crate::task::{AttemptOutcome, State};

/// A claimed batch, ready to run.
pub struct Batch<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    /// The tasks, claimed (see [`claim::claim`]), in the order asked.
    pub tasks: Vec<Planned>,
    /// Tasks running at once.
    pub jobs: usize,
    /// Keep the worktree and branch of a task whose agent changed nothing.
    pub keep_empty: bool,
    pub port_range: (u16, u16),
    /// Whether this process runs the batch with no terminal (told in `batch-started`).
    pub detached: bool,
    /// Called once `batch-started` is in the event log, before any task starts: a
    /// detached batch tells its parent here, so whoever reads the log after
    /// `spawn --detach` returns finds the batch's first event.
    pub on_started: &'a dyn Fn(),
    /// `spawn --max-cost`: what the whole batch may spend, in USD.
    pub max_cost: Option<f64>,
}

/// How a batch ended.
pub struct Summary {
    /// The final record of every task that started, in the order asked.
    pub records: Vec<Record>,
    /// Tasks that failed and whose record could not say so (a full disk): id → why.
    /// Their entry in `records` shows the failure all the same.
    pub unrecorded: Vec<(String, String)>,
    pub exit: Exit,
}

/// Run a claimed batch to its end.
pub fn run(batch: Batch, events: &Emitter) -> Result<Summary> {
    supervise::install_interrupt_handler();
    let order: Vec<String> = batch.tasks.iter().map(|p| p.id.to_string()).collect();
    events.all(Kind::BatchStarted {
        command: "spawn".into(),
        tasks: order.clone(),
        pid: std::process::id(),
        detached: batch.detached,
    });
    (batch.on_started)();
    let runner = Runner {
        cx: Context {
            repo: batch.repo,
            store: batch.store,
            events,
            repo_name: batch.repo.name(),
        },
        keep_empty: batch.keep_empty,
        port_range: batch.port_range,
        unrecorded: Mutex::new(HashMap::new()),
        not_started: Mutex::new(HashSet::new()),
        budget: BatchBudget::new(batch.max_cost),
    };
    let jobs = batch.jobs.clamp(1, order.len().max(1));
    // Tasks in dependency order, each handed out once its dependencies are done.
    let ready = Ready::new(batch.store, batch.tasks);
    for (id, n) in ready.waiting_now() {
        runner.cx.phase(&id, Phase::WaitingForDependencies, n);
    }
    std::thread::scope(|s| {
        for slot in 0..jobs {
            let runner = &runner;
            let ready = &ready;
            s.spawn(move || {
                while let Some(next) = ready.next() {
                    runner.take(next, slot, ready);
                }
            });
        }
    });

    let unrecorded = runner
        .unrecorded
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let not_started = runner
        .not_started
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    let mut summary = Summary {
        records: Vec::new(),
        unrecorded: Vec::new(),
        exit: Exit::Ok,
    };
    let mut states = BTreeMap::new();
    for id in &order {
        if not_started.contains(id) {
            // Interrupted before its turn: its claim was withdrawn.
            continue;
        }
        let Some(mut rec) = batch.store.load(id)? else {
            continue;
        };
        if let Some(why) = unrecorded.get(id) {
            // Its record still says pending/running: tell what really happened.
            rec.unrecorded_failure(why.clone());
            summary.unrecorded.push((id.clone(), why.clone()));
        }
        states.insert(id.clone(), rec.state);
        summary.records.push(rec);
    }
    summary.exit = exit_of(states.values().copied());
    events.all(Kind::BatchEnded {
        states,
        exit_code: i32::from(summary.exit.code()),
    });
    Ok(summary)
}

/// The exit a batch earns (SPEC §6) from its tasks' final states: interrupted when
/// Ctrl-C came, else success only when every task succeeded.
pub fn exit_of(states: impl IntoIterator<Item = State>) -> Exit {
    if supervise::interrupted() {
        Exit::Interrupted
    } else if states.into_iter().all(State::is_success) {
        Exit::Ok
    } else {
        Exit::Failed
    }
}

/// Run one task again from `base_commit` in a fresh worktree, as a batch runs it (copy,
/// setup, agent, commit, check, retries): `merge --on-conflict retry`. `task` is planned
/// from its record (`first_attempt` after its last one, no `prior`); what its worktree
/// and branch hold is logged to pruned.log before they are replaced.
pub fn rerun(
    repo: &Repo,
    store: &Store,
    task: &Planned,
    port_range: (u16, u16),
    events: &Emitter,
) -> Result<()> {
    let runner = Runner {
        cx: Context {
            repo,
            store,
            events,
            repo_name: repo.name(),
        },
        keep_empty: false,
        port_range,
        unrecorded: Mutex::new(HashMap::new()),
        not_started: Mutex::new(HashSet::new()),
        budget: BatchBudget::new(None),
    };
    let batch = events.batch().to_string();
    store.update(task.id.as_str(), |r| r.batch = Some(batch))?;
    attempt::discard(&runner.cx, task)?;
    runner.run_guarded(task, 0);
    Ok(())
}

struct Runner<'a> {
    cx: Context<'a>,
    keep_empty: bool,
    port_range: (u16, u16),
    /// Tasks that failed and whose record could not say so (a full disk): id → why.
    unrecorded: Mutex<HashMap<String, String>>,
    /// Tasks whose claim was withdrawn before they started.
    not_started: Mutex<HashSet<String>>,
    /// What the batch spent against its `--max-cost`.
    budget: BatchBudget,
}

impl Runner<'_> {
    fn ended(&self, id: &str, state: State, detail: &str) {
        self.cx.events.task(
            id,
            Kind::TaskEnded {
                state,
                detail: detail.to_string(),
            },
        );
    }

    /// Run (or end unstarted) what the scheduler handed this slot, then tell it.
    fn take(&self, next: Next, slot: usize, ready: &Ready) {
        let t = match next {
            Next::Unclaim(t) => return self.unclaim(&t, "not started"),
            // The batch's budget is spent: what has not started stays pending.
            Next::Run(t) if self.budget.spent_out() => {
                // Every task not started, dependants too (they would wait for ever).
                for t in std::iter::once(*t).chain(ready.drain()) {
                    self.unclaim(&t, "not started: the batch's budget is spent");
                }
                return;
            }
            Next::Blocked(t, why) => {
                self.blocked(&t, why);
                t
            }
            Next::Run(mut t) => {
                match super::graph::start_point(self.cx.repo, self.cx.store, &t) {
                    _ if t.deps.is_empty() => self.run_guarded(&t, slot),
                    Ok(Ok(base)) => {
                        t.base_commit = base.clone();
                        let _ = self
                            .cx
                            .store
                            .update(t.id.as_str(), |r| r.base_commit = base);
                        self.run_guarded(&t, slot);
                    }
                    Ok(Err(why)) => self.blocked(&t, why),
                    Err(e) => self.crashed(&t, &e),
                }
                t
            }
        };
        let state = self.cx.store.load(t.id.as_str()).ok().flatten();
        let state = state.map_or(State::Failed, |r| r.state);
        if let Some(group) = ready.ended(&t, state) {
            let won = super::candidates::settle(&self.cx, &group);
            ready.group_ended(&group, won);
        }
    }

    /// A dependency keeps the task from starting: it ends failed, saying which and why.
    fn blocked(&self, t: &Planned, why: Blocked) {
        let id = t.id.as_str();
        let now = crate::time::now();
        let recorded = self.cx.store.update(id, |r| {
            r.end_unstarted(State::Failed, why.detail.clone(), now);
            r.graph.blocked_by = why.by.clone();
        });
        if let Err(e) = recorded {
            self.crashed(t, &e);
            return;
        }
        self.ended(id, State::Failed, &why.detail);
    }

    fn run_guarded(&self, t: &Planned, slot: usize) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_task(t, slot)));
        match run {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.crashed(t, &e),
            Err(panic) => {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                let e = anyhow::anyhow!("internal error (a bug in git-agents): {what}");
                self.crashed(t, &e);
            }
        }
    }

    /// The task's attempts, until one succeeds, the retries run out, or Ctrl-C.
    fn run_task(&self, t: &Planned, slot: usize) -> Result<()> {
        if let Some(remote) = &t.settings.remote {
            return crate::remote::drive::drive(&self.cx, t, remote);
        }
        let (cx, id) = (&self.cx, t.id.as_str());
        let first = t.first_attempt;
        let last_n = first.saturating_add(t.settings.retries);
        let mut log = cx.store.open_log(id)?;
        if let Some(prior) = &t.prior {
            cx.phase(id, Phase::Replacing, first);
            super::respawn::replace(cx.repo, cx.store, prior)?;
        }
        let mut turn = attempt::Turn {
            budget: &self.budget,
            before: Usage::default(),
            resume: None,
            usage: None,
        };
        for n in first..=last_n {
            // `retry_in: same` goes on in the worktree the last attempt left.
            if n > first && !(turn.resume.is_some() && t.worktree.is_dir()) {
                turn.resume = None;
                cx.phase(id, Phase::Replacing, n);
                crate::fault::point("spawn:before-discard");
                attempt::discard(cx, t)?;
            }
            let port = match self.port(t, n) {
                Ok(p) => p,
                Err((state, detail)) => {
                    let now = crate::time::now();
                    cx.store
                        .update(id, |r| r.end_unstarted(state, detail.clone(), now))?;
                    self.ended(id, state, &detail);
                    return Ok(());
                }
            };
            let now = crate::time::now();
            cx.store.update(id, |r| r.start_attempt(n, port, now))?;
            let _ = writeln!(log, "==> git-agents: {id}, attempt {n} of {last_n}");
            let outcome = attempt::attempt(cx, t, n, slot, port, &mut log, &mut turn);
            let usage = turn.usage.take();
            let head = cx.repo.branch_tip(&t.branch).map(|h| h.to_string());
            if outcome == AttemptOutcome::Empty && !self.keep_empty {
                attempt::remove_worktree_and_branch(cx, t)?;
            }
            let spent = usage.as_ref().and_then(|u| u.cost_usd).unwrap_or(0.0);
            self.budget.settle(id, spent);
            if let Some(u) = &usage {
                turn.before = Usage::total([&turn.before, u]);
            }
            // A spent batch budget starts no further attempt either.
            let retry = outcome.may_retry() && n < last_n && !self.budget.spent_out();
            // The failure's tail, read before the record says the attempt ended.
            let tail =
                (!outcome.is_success()).then(|| attempt::tail_of_log(&cx.store.log_path(id), 30));
            let now = crate::time::now();
            cx.store.update(id, |r| {
                r.record_usage(n, usage.clone());
                r.end_attempt(n, &outcome, head.clone(), now, retry)
            })?;
            let detail = outcome.detail().unwrap_or_default();
            cx.events.task(
                id,
                Kind::AttemptEnded {
                    attempt: n,
                    state: outcome.state(),
                    exit_code: outcome.exit_code(),
                    detail: detail.to_string(),
                },
            );
            if let (Some(tail), true) = (&tail, outcome.may_retry()) {
                attempt::append_notes(&cx.store.notes_path(id), n, detail, tail)?;
            }
            if retry && t.settings.retry_in == RetryIn::Same {
                turn.resume = Some(attempt::Resume {
                    session: usage.as_ref().and_then(|u| u.session_id.clone()),
                    tail: tail.clone().unwrap_or_default(),
                    last: n,
                });
            }
            if !retry {
                self.ended(id, outcome.state(), detail);
                return Ok(());
            }
        }
        Ok(())
    }

    /// The task's port, waiting (as long as its timeout allows) while other running
    /// tasks hold every free one: no agent starts without `GIT_AGENTS_PORT`. `Err` is the
    /// state the task ends in, and why.
    fn port(&self, t: &Planned, n: u32) -> Result<u16, (State, String)> {
        let id = t.id.as_str();
        let deadline = t.settings.timeout.and_then(crate::time::deadline);
        let gave_up = std::cell::Cell::new(State::Failed);
        self.cx
            .store
            .wait_for_port(
                id,
                self.port_range,
                || self.cx.phase(id, Phase::WaitingForPort, n),
                || {
                    if supervise::interrupted() || super::stop::requested(self.cx.store, id) {
                        gave_up.set(State::Interrupted);
                        Some("interrupted while waiting".into())
                    } else if deadline.is_some_and(|d| Instant::now() >= d) {
                        gave_up.set(State::TimedOut);
                        Some("timed out waiting for other tasks to give one back".into())
                    } else {
                        None
                    }
                },
            )
            .map_err(|e| {
                let detail = match e.downcast_ref::<Error>() {
                    Some(e) => e.message.clone(),
                    None => format!("{e:#}"),
                };
                (gave_up.get(), detail)
            })
    }

    /// Interrupted (or the batch's budget spent) before its turn: withdraw the claim so
    /// a later spawn runs it.
    fn unclaim(&self, t: &Planned, why: &str) {
        claim::unclaim(self.cx.store, t);
        self.not_started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(t.id.to_string());
        self.ended(t.id.as_str(), State::Pending, why);
    }

    /// An error of ours (not the agent's) ended the task: record it as failed. When even
    /// that cannot be written (a full disk), remember why for the summary; the record
    /// then names a dead owner, which `list` reports as interrupted, never as running.
    fn crashed(&self, t: &Planned, e: &anyhow::Error) {
        let id = t.id.as_str();
        let detail = format!("{e:#}");
        let now = crate::time::now();
        let head = self.cx.repo.branch_tip(&t.branch).map(|h| h.to_string());
        let mut attempt = None;
        let recorded = self.cx.store.update(id, |r| {
            attempt = r.crash(detail.clone(), head.clone(), now);
        });
        if let Err(err) = recorded {
            let err = format!("{err:#}");
            let why = if err == detail {
                detail.clone()
            } else {
                format!("{detail}; recording that failed too: {err}")
            };
            self.unrecorded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id.to_string(), why);
        }
        if let Some(n) = attempt {
            self.cx.events.task(
                id,
                Kind::AttemptEnded {
                    attempt: n,
                    state: State::Failed,
                    exit_code: None,
                    detail: detail.clone(),
                },
            );
        }
        self.ended(id, State::Failed, &detail);
    }
}

/// [`rerun`] as a batch of its own (`merge --on-conflict retry`): the task planned again
/// from its record, its events to `sink` and to an event log that opens and closes like
/// any batch's.
#[allow(clippy::too_many_arguments)]
pub fn rerun_batch(
    repo: &Repo,
    store: &Store,
    rec: &Record,
    settings: crate::config::TaskSettings,
    agent: crate::agent::Agent,
    base_commit: String,
    port_range: (u16, u16),
    sink: impl super::events::Sink + 'static,
) -> Result<()> {
    let task = Planned::again(&repo.root, rec, settings, agent, base_commit)?;
    let batch = super::events::batch_id();
    let log = super::events::Log::create(&store.dir, &batch)?;
    let emitter = Emitter::new(batch).with(sink).with(log);
    emitter.all(Kind::BatchStarted {
        command: "merge".into(),
        tasks: vec![rec.id.clone()],
        pid: std::process::id(),
        detached: false,
    });
    rerun(repo, store, &task, port_range, &emitter)?;
    let state = store.load(&rec.id)?.map_or(State::Failed, |r| r.state);
    let exit = exit_of([state]);
    emitter.all(Kind::BatchEnded {
        states: [(rec.id.clone(), state)].into(),
        exit_code: i32::from(exit.code()),
    });
    Ok(())
}
