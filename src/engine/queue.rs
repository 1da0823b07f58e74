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

mod pr;
mod steps;

pub use pr::pull_requests;
pub use steps::clean_scratch;

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
use crate::merge::{self, Checkout, Landing, Merger, Messages};
use crate::store::{Record, Store};
use crate::supervise;
use crate::task::{MergeResult, State};

use steps::{CheckResult, Resolution};

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
}

/// A branch tasks merge into: what its ref holds, and the queue's tip on top of it.
struct Target {
    branch: String,
    landed: ObjectId,
    tip: ObjectId,
    /// Items in `tip` and not yet in `landed`.
    pending: Vec<usize>,
}

impl Queue<'_> {
    /// Take `items` through the queue into `targets` (the branches their `target`
    /// indexes name), in order. Errors are ours and come before anything moved; a task's
    /// own trouble is its verdict.
    pub fn run(&self, items: &[Item], targets: &[String]) -> Result<Report> {
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
        let mut pass = Pass {
            q: self,
            items,
            into: items
                .iter()
                .map(|it| targets[it.target].branch.clone())
                .collect(),
            verdicts: vec![None; items.len()],
            landing: HashSet::new(),
            shown: 0,
        };
        let mut stopped = false;
        for (i, it) in items.iter().enumerate() {
            if stopped || supervise::interrupted() {
                break;
            }
            let verdict = match pass.one(&mut merger, i, &mut targets[it.target]) {
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
            if stops || verdict.result == MergeResult::Interrupted {
                stopped = true;
            }
            pass.verdicts[i] = Some(verdict);
            pass.show_ready();
        }
        let mut errors = Vec::new();
        for t in &mut targets {
            if let Err(e) = pass.flush(t) {
                errors.push(message_of(&e));
            }
        }
        for v in &mut pass.verdicts {
            v.get_or_insert_with(|| Verdict::new(MergeResult::NotReached));
        }
        pass.show_ready();
        let verdicts = pass.verdicts.into_iter().flatten().collect();
        Ok(Report::new(
            self.events,
            self.store,
            items,
            verdicts,
            errors,
        ))
    }
}

/// One run through the queue: the verdicts so far, and which of them are out.
struct Pass<'q, 'a> {
    q: &'q Queue<'a>,
    items: &'q [Item],
    /// The branch each item merges into.
    into: Vec<String>,
    verdicts: Vec<Option<Verdict>>,
    /// Items whose verdict waits for their target branch to move ([`Pass::flush`]):
    /// until it has, nothing is said about them.
    landing: HashSet<usize>,
    /// Items whose verdict is out; they go out in queue order.
    shown: usize,
}

impl Pass<'_, '_> {
    /// Tell the verdict of every item that is settled, in queue order, stopping at the
    /// first that is not.
    fn show_ready(&mut self) {
        while matches!(self.verdicts.get(self.shown), Some(Some(_)))
            && !self.landing.contains(&self.shown)
        {
            self.announce(self.shown);
            self.shown += 1;
        }
    }

    /// The verdict on item `i`, and the task's new state when this run changed it.
    fn announce(&self, i: usize) {
        let Some(verdict) = &self.verdicts[i] else {
            return;
        };
        let it = &self.items[i];
        let id = it.rec.id.as_str();
        self.q.events.task(id, verdict.event(&self.into[i]));
        if let Ok(Some(now)) = self.q.store.load(id)
            && now.state != it.rec.state
        {
            self.q.events.task(
                id,
                Kind::TaskEnded {
                    state: now.state,
                    detail: now.detail.unwrap_or_default(),
                },
            );
        }
    }

    /// Take item `i` through the queue onto `t`.
    fn one(&mut self, merger: &mut Merger, i: usize, t: &mut Target) -> Result<Verdict> {
        let (q, items) = (self.q, self.items);
        let it = &items[i];
        let dry = q.dry_run;
        let rec = &it.rec;
        let id = rec.id.as_str();
        let subject = crate::git::subject_of(&rec.prompt);
        let msg = Messages {
            id,
            branch: &rec.branch,
            subject: &subject,
        };
        let mut v = Verdict::new(MergeResult::Error);
        let mut resolved_once = false;
        loop {
            q.events.task(id, phase(Phase::Merging, rec));
            let Some(head) = q.repo.branch_tip(&rec.branch) else {
                v.detail = format!("branch {} is gone", rec.branch);
                return Ok(v);
            };
            if !dry {
                merger.forget();
            }
            let (tip, note) = match merger.land(it.strategy, t.tip, head, &msg)? {
                Landing::UpToDate => {
                    v.result = if dry {
                        MergeResult::WouldMerge
                    } else {
                        MergeResult::UpToDate
                    };
                    v.detail = format!("already in {}", t.branch);
                    v.commit = Some(t.tip);
                    // A task recorded as merged keeps the record of where it went.
                    if !dry && rec.state != State::Merged {
                        self.pend(i, t, &v);
                    }
                    return Ok(v);
                }
                Landing::Merged { tip, note } => (tip, note),
                Landing::Conflict { paths } => {
                    v.conflicts = paths;
                    if dry {
                        v.result = MergeResult::WouldConflict;
                        v.detail = format!("conflicts in {}", merge::short_list(&v.conflicts, 5));
                        return Ok(v);
                    }
                    merger.forget();
                    let can_resolve = !resolved_once
                        && matches!(q.on_conflict, OnConflict::Agent | OnConflict::Retry);
                    if can_resolve {
                        resolved_once = true;
                        self.flush(t)?;
                        let done = match q.on_conflict {
                            OnConflict::Agent => {
                                steps::resolve_with_agent(q, it, &t.branch, t.tip, &v.conflicts)?
                            }
                            _ => steps::rerun(q, it, t.tip)?,
                        };
                        match done {
                            Resolution::Again => continue,
                            Resolution::Empty => {
                                v.result = MergeResult::Empty;
                                v.detail = "re-run from the new base changed nothing".into();
                                v.conflicts.clear();
                                return Ok(v);
                            }
                            Resolution::Failed(why) => {
                                v.result = MergeResult::Failed;
                                v.detail = why;
                                return Ok(v);
                            }
                            Resolution::Conflicted(why) => v.detail = why,
                        }
                    }
                    v.result = MergeResult::Conflicted;
                    if v.detail.is_empty() {
                        v.detail = format!("conflicts in {}", merge::short_list(&v.conflicts, 5));
                    }
                    let (conflicts, detail) = (v.conflicts.clone(), v.detail.clone());
                    q.store.update(id, |r| {
                        r.state = State::Conflicted;
                        r.conflicts = conflicts;
                        r.detail = Some(detail);
                    })?;
                    return Ok(v);
                }
            };
            v.detail = note.unwrap_or_default();

            // Untracked files in the base checkout that this task would overwrite.
            if let Some(c) = merge::checkout_of(q.repo, &t.branch)? {
                let added = merger.added_paths(t.tip, tip)?;
                let blocking = merge::untracked_in_the_way(&c, &added)?;
                if !blocking.is_empty() {
                    merger.forget();
                    v.result = MergeResult::Blocked;
                    v.detail = format!(
                        "untracked files in {} would be overwritten: {}",
                        c.dir.display(),
                        merge::short_list(&blocking, 5)
                    );
                    return Ok(v);
                }
            }

            if dry {
                v.result = MergeResult::WouldMerge;
                t.tip = tip; // kept in memory only: the next task merges onto it
                return Ok(v);
            }
            merger.keep()?;
            if let Some(check) = &it.check {
                self.flush(t)?;
                match steps::check(q, it, check, tip, &t.branch)? {
                    CheckResult::Passed => v.check = Some(Check::Passed),
                    CheckResult::Failed(why) => {
                        v.result = MergeResult::CheckFailed;
                        v.check = Some(Check::Failed);
                        v.detail = why.clone();
                        q.store.update(id, |r| {
                            r.merge_check = Some(Check::Failed.as_str().into());
                            r.detail = Some(format!("merge check: {why}"));
                        })?;
                        return Ok(v);
                    }
                    CheckResult::Interrupted => {
                        v.result = MergeResult::Interrupted;
                        return Ok(v);
                    }
                }
            }
            v.result = MergeResult::Merged;
            v.commit = Some(tip);
            t.tip = tip;
            self.pend(i, t, &v);
            return Ok(v);
        }
    }

    /// Item `i` is in `t`'s tip: it lands when the branch next moves.
    fn pend(&mut self, i: usize, t: &mut Target, v: &Verdict) {
        t.pending.push(i);
        self.landing.insert(i);
        self.verdicts[i] = Some(v.clone());
    }

    /// Move the base branch over every pending task (a fast-forward from what it holds),
    /// then mark them merged. If it cannot move, none of them landed, and the queue ends.
    fn flush(&mut self, t: &mut Target) -> Result<()> {
        if t.pending.is_empty() || self.q.dry_run {
            return Ok(());
        }
        let pending = std::mem::take(&mut t.pending);
        // One step per task, so the reflog names each.
        let steps: Vec<(ObjectId, String)> = pending
            .iter()
            .filter_map(|&i| {
                let commit = self.verdicts[i].as_ref()?.commit?;
                Some((
                    commit,
                    format!("git agents merge: {}", self.items[i].rec.id),
                ))
            })
            .collect();
        let repo = self.q.repo;
        let moved = (|| -> Result<()> {
            if t.tip == t.landed {
                return Ok(());
            }
            let checkout: Option<Checkout> = merge::checkout_of(repo, &t.branch)?;
            if let Some(c) = &checkout
                && let Some(why) = merge::checkout_busy(c)?
            {
                return Err(Error::refused(format!(
                    "cannot update {}: {} is checked out there and {why}",
                    c.dir.display(),
                    t.branch
                ))
                .into());
            }
            crate::fault::point("merge:before-advance");
            merge::advance(repo, &t.branch, checkout.as_ref(), t.landed, &steps)
        })();
        if let Err(e) = moved {
            let detail = message_of(&e);
            for &i in &pending {
                if let Some(v) = self.verdicts[i].as_mut() {
                    v.result = MergeResult::Error;
                    v.detail = format!("not landed: {detail}");
                    v.commit = None;
                }
            }
            t.tip = t.landed;
            self.settled(&pending);
            return Err(e);
        }
        t.landed = t.tip;
        crate::fault::point("merge:advanced");
        let now = crate::time::now();
        for &i in &pending {
            let Some(v) = self.verdicts[i].as_mut() else {
                continue;
            };
            let commit = v.commit.map(|c| c.to_string());
            let check = v.check.map(|c| c.as_str().to_string());
            let rec = self.q.store.update(&self.items[i].rec.id, |r| {
                r.state = State::Merged;
                r.merged_at = Some(now);
                r.merged_commit = commit.clone();
                r.merged_into = Some(t.branch.clone());
                r.conflicts.clear();
                r.merge_check = check.clone();
                r.detail = None;
            })?;
            if self.q.prune {
                match steps::prune(self.q.repo, self.q.store, &rec) {
                    Ok(()) => v.detail = join(&v.detail, "pruned"),
                    Err(e) => v.detail = join(&v.detail, &format!("not pruned: {e:#}")),
                }
            }
        }
        self.settled(&pending);
        Ok(())
    }

    /// These items' target moved (or failed to): their verdicts are final; tell them.
    fn settled(&mut self, pending: &[usize]) {
        for i in pending {
            self.landing.remove(i);
        }
        self.show_ready();
    }
}

/// The `phase` event of a task's current attempt.
fn phase(phase: Phase, rec: &Record) -> Kind {
    Kind::Phase {
        phase,
        attempt: rec.attempts.len().max(1) as u32,
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
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
    Agent::resolve(Some(&choice)).map_err(|e| {
        Error::usage(format!("task {}: {}", rec.id, e.message))
            .with_hint("the agent re-runs for --on-conflict agent|retry; put it on PATH")
            .into()
    })
}
