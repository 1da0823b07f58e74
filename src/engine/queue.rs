//! The merge queue: tasks merge one at a time, each onto the result of the one before,
//! each computed in memory first (see [`crate::merge`]), so a conflict is found without
//! touching any checkout.
//!
//! The base branch moves only by whole tasks: landed tasks are written to it at the end
//! of the queue and before anything slow or that needs the new base on disk (a check, an
//! agent, a re-run), so a long queue keeps what it finished. A task's verdict goes out
//! (a `merge-result` event) only once it is final, in queue order: until its base has
//! moved, a moved base or a full disk may yet undo it.
//!
//! The queue knows nothing of the terminal: it reports through an [`Emitter`] and
//! returns a [`Report`]; the command decides what the user sees.

mod check;
mod forecast;
mod pass;
mod pool;
mod pr;
mod scratch;
mod speculate;
mod steps;

pub use forecast::{Forecast, OntoBase, TaskForecast, conflicts_among, forecast};
pub use pr::pull_requests;
pub use scratch::clean_scratch;

use anyhow::Result;
use gix::ObjectId;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::os::unix::io::AsRawFd;

use crate::agent::{self, Agent};
use crate::config::{AgentChoice, TaskSettings};
use crate::engine::events::{Emitter, Kind, Phase};
use crate::error::{Error, Exit};
use crate::git::Repo;
use crate::manifest::Strategy;
use crate::merge::{self, Merger};
use crate::store::{Record, Store};
use crate::supervise;
use crate::task::{MergeResult, State};

use check::{Checks, Direct};
use pass::{Pass, Target};
use pool::Pool;
use speculate::Speculator;

/// A task in the queue, and how it merges.
pub struct Item {
    pub rec: Record,
    /// The branch it merges into, as an index into the queue's targets.
    pub target: usize,
    pub strategy: Strategy,
    /// The check run on the merged result.
    pub check: Option<String>,
    /// The task's own settings (setup, copy, env, timeout), as spawn would use them.
    pub settings: TaskSettings,
}

/// What a conflict does: stop the queue, skip the task, let its agent resolve it, or
/// re-run the task from the new base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnConflict {
    Stop,
    Skip,
    Agent,
    Retry,
}

/// What the check of a merged result said (`merge_check` in records and `--json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Passed,
    Failed,
}

impl Check {
    pub fn as_str(self) -> &'static str {
        match self {
            Check::Passed => "passed",
            Check::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Check> {
        match text {
            "passed" => Some(Check::Passed),
            "failed" => Some(Check::Failed),
            _ => None,
        }
    }
}

/// The queue's verdict on one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub result: MergeResult,
    /// The commit that holds the task on its base (or, for `--pr`, the branch's tip).
    pub commit: Option<ObjectId>,
    pub conflicts: Vec<String>,
    pub check: Option<Check>,
    pub detail: String,
}

impl Verdict {
    pub fn new(result: MergeResult) -> Verdict {
        Verdict {
            result,
            commit: None,
            conflicts: Vec::new(),
            check: None,
            detail: String::new(),
        }
    }

    /// An error of ours (or a base that moved): the user's message, without the hint.
    fn of_error(e: &anyhow::Error) -> Verdict {
        Verdict {
            detail: message_of(e),
            ..Verdict::new(MergeResult::Error)
        }
    }

    /// The `merge-result` event of this verdict on a task merging into `into`.
    pub fn event(&self, into: &str) -> Kind {
        Kind::MergeResult {
            result: self.result,
            into: into.to_string(),
            commit: self.commit.map(|c| c.to_string()),
            check: self.check.map(|c| c.as_str().to_string()),
            detail: self.detail.clone(),
            conflicts: self.conflicts.clone(),
        }
    }
}

fn message_of(e: &anyhow::Error) -> String {
    match e.downcast_ref::<Error>() {
        Some(err) => err.message.clone(),
        None => format!("{e:#}"),
    }
}

/// What one run of the queue did.
#[derive(Debug)]
pub struct Report {
    /// One per item, in queue order.
    pub verdicts: Vec<Verdict>,
    /// What stopped a base branch from moving after the last task (its tasks' verdicts
    /// say `error` too).
    pub errors: Vec<String>,
    pub exit: Exit,
}

impl Report {
    /// The report of a finished run, told as `batch-ended`.
    fn new(
        events: &Emitter,
        store: &Store,
        items: &[Item],
        verdicts: Vec<Verdict>,
        errors: Vec<String>,
    ) -> Report {
        let exit = if supervise::interrupted() {
            Exit::Interrupted
        } else if verdicts.iter().all(|v| v.result.is_success()) {
            Exit::Ok
        } else {
            Exit::Failed
        };
        let states: BTreeMap<String, State> = items
            .iter()
            .map(|it| {
                let now = store.load(&it.rec.id).ok().flatten();
                (it.rec.id.clone(), now.map_or(it.rec.state, |r| r.state))
            })
            .collect();
        events.all(Kind::BatchEnded {
            states,
            exit_code: i32::from(exit.code()),
        });
        Report {
            verdicts,
            errors,
            exit,
        }
    }
}

/// Runs a task again from a new base (`--on-conflict retry`), as spawn runs an attempt.
pub trait Relaunch {
    fn rerun(&self, item: &Item, agent: Agent, base: ObjectId) -> Result<()>;
}

/// A queue to run: where, how, and where its events go.
pub struct Queue<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub events: &'a Emitter,
    pub relaunch: &'a dyn Relaunch,
    pub on_conflict: OnConflict,
    /// Say what would merge and what would conflict; change nothing.
    pub dry_run: bool,
    /// Remove each merged task's worktree and branch.
    pub prune: bool,
    /// Where a resolving agent's `GIT_AGENTS_PORT` comes from.
    pub port_range: (u16, u16),
    /// How many checks may run at once, on predicted results (`--jobs`; 1: one at a
    /// time, each on the result it decides).
    pub jobs: usize,
    /// How many candidates one check may decide (`--batch`; 1: each its own).
    pub batch: usize,
}

impl Queue<'_> {
    /// Take `items` through the queue into `targets` (the branches their `target`
    /// indexes name), in order. Errors are ours and come before anything moved; a task's
    /// own trouble is its verdict.
    pub fn run(&self, items: &[Item], targets: &[String]) -> Result<Report> {
        // A `copy` entry that does not parse is refused before anything moves, as spawn
        // refuses it, not found by a check or an agent halfway through the queue.
        for it in items {
            if let Err(e) = crate::copy::merge_entries(&it.settings.copy, &[]) {
                let mut err = Error::usage(format!("task {}: {}", it.rec.id, e.message));
                err.hint = e.hint;
                return Err(err.into());
            }
        }
        let mut merger = Merger::new(self.repo, !self.dry_run)?;
        let mut targets: Vec<Target> = targets
            .iter()
            .map(|branch| {
                let tip = self
                    .repo
                    .branch_tip(branch)
                    .ok_or_else(|| Error::refused(format!("branch {branch} disappeared")))?;
                Ok(Target {
                    branch: branch.clone(),
                    landed: tip,
                    tip,
                    pending: Vec::new(),
                })
            })
            .collect::<Result<_>>()?;
        self.events.all(Kind::BatchStarted {
            command: "merge".into(),
            tasks: items.iter().map(|it| it.rec.id.clone()).collect(),
            pid: std::process::id(),
            detached: false,
        });
        let pool = Pool::new(self.store);
        let into: Vec<String> = items
            .iter()
            .map(|it| targets[it.target].branch.clone())
            .collect();
        let env = self.env();
        let speculate = !self.dry_run
            && (self.jobs > 1 || self.batch > 1)
            && items.iter().any(|it| it.check.is_some());
        let (verdicts, errors) = std::thread::scope(|scope| -> Result<_> {
            let mut direct = Direct {
                env,
                pool: &pool,
                items,
            };
            let mut spec = if speculate {
                Some(Speculator::new(
                    scope,
                    env,
                    &pool,
                    items,
                    &into,
                    self.on_conflict,
                    self.jobs,
                    self.batch,
                )?)
            } else {
                None
            };
            let checks: &mut dyn Checks = match spec.as_mut() {
                Some(s) => s,
                None => &mut direct,
            };
            let out = self.pass(&mut merger, items, &into, &mut targets, checks);
            if let Some(s) = spec.as_mut() {
                s.shutdown();
            }
            Ok(out)
        })?;
        pool.clear(self.repo);
        Ok(Report::new(
            self.events,
            self.store,
            items,
            verdicts,
            errors,
        ))
    }
}

impl Queue<'_> {
    fn env(&self) -> check::Env<'_> {
        check::Env {
            repo: self.repo,
            store: self.store,
            events: self.events,
            port_range: self.port_range,
        }
    }

    /// The queue's one pass through `items`, in order: their verdicts, and what stopped
    /// a base branch from moving after the last task.
    fn pass(
        &self,
        merger: &mut Merger,
        items: &[Item],
        into: &[String],
        targets: &mut [Target],
        checks: &mut dyn Checks,
    ) -> (Vec<Verdict>, Vec<String>) {
        let mut pass = Pass {
            q: self,
            items,
            into: into.to_vec(),
            verdicts: vec![None; items.len()],
            landing: HashSet::new(),
            shown: 0,
            checks,
        };
        let mut stopped = false;
        for (i, it) in items.iter().enumerate() {
            if stopped || supervise::interrupted() {
                break;
            }
            let verdict = match pass.one(merger, i, &mut targets[it.target]) {
                Ok(v) => v,
                Err(e) => {
                    // An error of ours, or the base branch moved: stop the queue here.
                    stopped = true;
                    Verdict::of_error(&e)
                }
            };
            let stops = matches!(
                verdict.result,
                MergeResult::Conflicted | MergeResult::Blocked
            ) && self.on_conflict == OnConflict::Stop
                && !self.dry_run;
            // Ctrl-C ends the queue (the loop's test); a task `git agents stop` ended
            // is one task's verdict, and the queue goes on as spawn's batch does.
            if stops {
                stopped = true;
            }
            pass.verdicts[i] = Some(verdict);
            pass.show_ready();
        }
        let mut errors = Vec::new();
        for t in targets.iter_mut() {
            if let Err(e) = pass.flush(t) {
                errors.push(message_of(&e));
            }
        }
        for v in &mut pass.verdicts {
            v.get_or_insert_with(|| Verdict::new(MergeResult::NotReached));
        }
        pass.show_ready();
        (pass.verdicts.into_iter().flatten().collect(), errors)
    }
}

/// The `phase` event of a task's current attempt.
fn phase(phase: Phase, rec: &Record) -> Kind {
    Kind::Phase {
        phase,
        attempt: rec.attempts.len().max(1) as u32,
    }
}

/// Why each of `targets` that is checked out cannot take a merge now (a merge or rebase
/// in progress, uncommitted changes), as refusals naming it.
pub fn busy_targets(repo: &Repo, targets: &[String]) -> Result<Vec<Error>> {
    let mut out = Vec::new();
    for name in targets {
        if let Some(c) = merge::checkout_of(repo, name)?
            && let Some(why) = merge::checkout_busy(&c)?
        {
            out.push(
                Error::refused(format!(
                    "cannot merge into {name}: it is checked out in {} and {why}",
                    c.dir.display()
                ))
                .with_hint("commit or stash that work first (nothing was changed)"),
            );
        }
    }
    Ok(out)
}

/// Only one merge at a time per repository: two queues would race for the same base.
/// Held until the returned file is dropped.
pub fn lock(store: &Store) -> Result<File> {
    crate::store::private_dir(&store.dir)?;
    let path = store.dir.join("merge.lock");
    let file = crate::store::private_file(&path, false)?;
    // SAFETY: flock on a file descriptor we own.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        return Err(
            Error::refused("another git agents merge is running in this repository")
                .with_hint("wait for it to finish")
                .into(),
        );
    }
    Ok(file)
}

/// The agent a task ran with, to run it again.
pub fn agent_of(rec: &Record) -> Result<Agent> {
    // A preset's template keeps its extra environment (GOOSE_MODE, ...).
    let choice = match agent::PRESETS.iter().find(|p| {
        p.command
            .iter()
            .copied()
            .eq(rec.command.iter().map(String::as_str))
    }) {
        Some(p) => AgentChoice::Preset(p.name.to_string()),
        None => AgentChoice::Command(rec.command.clone()),
    };
    let agent = Agent::resolve(Some(&choice)).map_err(|e| {
        Error::usage(format!("task {}: {}", rec.id, e.message))
            .with_hint("the agent re-runs for --on-conflict agent|retry; put it on PATH")
    })?;
    // A custom command's `output` opt-in, as the record keeps it.
    let output = rec
        .output
        .as_deref()
        .and_then(crate::adapter::Format::parse);
    Ok(agent.with_output(output.map(agent::OutputChoice::Format)))
}
