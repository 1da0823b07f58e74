//! One attempt at a task: its worktree and branch from the base commit, the `copy`
//! entries, the `setup` commands, the agent, a commit of whatever the agent left, the
//! check. And what a retry does first: discard the last attempt's worktree and branch,
//! with every commit and uncommitted file logged to pruned.log before anything goes.
//!
//! An attempt reports its phases and its children's output lines as events, and ends
//! with an [`AttemptOutcome`]; the scheduler ([`super::run`]) records it.

use anyhow::Result;
use std::fs::File;
use std::io::Write;

use super::budget::{BatchBudget, Limits, Watch};
use super::events::{Emitter, Kind, Phase};
use super::launch::{Job, Seat};
use super::plan::Planned;
use crate::copy;
use crate::git::{self, Repo};
use crate::store::{Proc, Store};
use crate::supervise::Outcome;
use crate::task::AttemptOutcome;

mod discard;
mod notes;
pub use discard::{discard, remove_worktree_and_branch};
pub use notes::{append_notes, tail_of_log};

/// What the attempts of a batch share.
pub struct Context<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub events: &'a Emitter,
    pub repo_name: String,
}

impl Context<'_> {
    pub fn phase(&self, id: &str, phase: Phase, attempt: u32) {
        self.events.task(id, Kind::Phase { phase, attempt });
    }
}

fn failed(detail: String) -> AttemptOutcome {
    AttemptOutcome::Failed {
        exit_code: None,
        detail,
    }
}

fn internal(e: impl Into<anyhow::Error>) -> AttemptOutcome {
    failed(format!("{:#}", e.into()))
}

fn interrupted() -> AttemptOutcome {
    AttemptOutcome::Interrupted {
        detail: "interrupted".into(),
    }
}

/// What an attempt's agent run carries beyond the task: the batch's budget, what the
/// task's earlier attempts spent, the Ralph loop's resume, and (out) what the agent
/// reported.
pub struct Turn<'a> {
    pub budget: &'a BatchBudget,
    pub before: crate::adapter::Usage,
    pub resume: Option<Resume>,
    pub usage: Option<crate::adapter::Usage>,
}

/// `retry_in: same`: the next attempt runs in the last one's worktree, on top of what it
/// left, with its agent's session resumed where the CLI can.
#[derive(Debug, Clone)]
pub struct Resume {
    pub session: Option<String>,
    /// The end of the failed attempt's output (its check's, when the check failed).
    pub tail: String,
    pub last: u32,
}

/// Attempt `n` of task `t` in scheduler slot `slot`, with `port` reserved for it.
pub fn attempt(
    cx: &Context,
    t: &Planned,
    n: u32,
    slot: usize,
    port: u16,
    log: &mut File,
    turn: &mut Turn,
) -> AttemptOutcome {
    match steps(cx, t, n, slot, port, log, turn) {
        Ok(o) | Err(o) => o,
    }
}

/// The steps in order; `Err` is an attempt that ended early.
fn steps(
    cx: &Context,
    t: &Planned,
    n: u32,
    slot: usize,
    port: u16,
    log: &mut File,
    turn: &mut Turn,
) -> Result<AttemptOutcome, AttemptOutcome> {
    let id = t.id.as_str();
    // `git agents stop` asked before this attempt began: it never gets a worktree.
    if super::stop::requested(cx.store, id) {
        return Err(interrupted());
    }
    // The Ralph loop goes on in the last attempt's worktree, as that one left it.
    let resumed = turn.resume.is_some() && t.worktree.is_dir();
    if !resumed {
        cx.phase(id, Phase::Worktree, n);
        if let Some(parent) = t.worktree.parent() {
            std::fs::create_dir_all(parent).map_err(internal)?;
        }
        git::add_worktree(cx.repo, &t.worktree, &t.branch, &t.base_commit).map_err(internal)?;
        crate::fault::point("spawn:worktree-added");
    }

    if !t.copy.is_empty() && !resumed {
        cx.phase(id, Phase::Copy, n);
        let limits = copy::Limits::new(
            &cx.repo.root,
            &cx.repo.common_dir,
            t.worktree.parent().unwrap_or(&t.worktree),
        );
        let st =
            copy::copy_entries(&cx.repo.root, &t.worktree, &t.copy, &limits).map_err(internal)?;
        let _ = writeln!(
            log,
            "==> copy: {} files, {} bytes ({} cloned, {} hard-linked), {} symlinks",
            st.files, st.bytes, st.cloned, st.linked, st.symlinks
        );
    }

    let notes = cx.store.notes_path(id);
    let seat = Seat {
        task: id,
        branch: &t.branch,
        dir: &t.worktree,
        base: &t.base_name,
        attempt: n,
        port: Some(port),
        index: slot,
        notes: &notes,
        repo_name: &cx.repo_name,
        env: &t.settings.env,
        deadline: t.settings.timeout.and_then(crate::time::deadline),
    };

    let prompt_file = cx.store.prompt_path(id);
    let encl = crate::sandbox::Enclosure {
        settings: &t.settings.sandbox,
        program: &t.agent.template[0],
        program_path: &t.agent.program,
        repo: cx.repo,
        store: cx.store,
        task: id,
        branch: &t.branch,
        worktree: &t.worktree,
        base: &t.base_name,
        prompt_file: &prompt_file,
        attempt: n,
        port: Some(port),
    };

    let setup: &[String] = if resumed { &[] } else { &t.settings.setup };
    for cmd in setup {
        cx.phase(id, Phase::Setup, n);
        let _ = writeln!(log, "==> setup: {cmd}");
        match enclosed(
            cx,
            id,
            &encl,
            seat.shell(cmd),
            &t.prompt,
            log,
            Readers::default(),
        )? {
            Outcome::Exited(0) => {}
            Outcome::Exited(c) => {
                return Err(AttemptOutcome::Failed {
                    exit_code: Some(c),
                    detail: format!("setup `{cmd}` exited {c}"),
                });
            }
            Outcome::TimedOut => {
                return Err(AttemptOutcome::TimedOut {
                    detail: "timed out in setup".into(),
                });
            }
            Outcome::Interrupted => return Err(interrupted()),
        }
    }

    cx.phase(id, Phase::Agent, n);
    let (agent, prompt) = match turn.resume.as_ref().filter(|_| resumed) {
        Some(r) => resumed_agent(&t.agent, &t.prompt, r),
        None => (t.agent.clone(), t.prompt.clone()),
    };
    let _ = writeln!(log, "==> agent: {}", agent.template.join(" "));
    let mut job = seat.agent(&agent, &prompt, &prompt_file);
    // A preset's CLI is watched: its known failures, its default time limit, the stuck
    // detector (see `signature`, `stuck`).
    let mut signs = super::stuck::watch_agent(
        &mut job,
        &agent.template[0],
        &t.worktree,
        t.settings.timeout.is_some(),
    )
    .map_err(failed)?;
    let _ = cx.store.update(id, |r| {
        r.reason = None;
        r.hint = None;
    });
    let limits = Limits {
        max_cost: t.settings.max_cost,
        max_tokens: t.settings.max_tokens,
    };
    let mut watch = agent
        .output
        .map(|f| Watch::new(id, n, f, limits, turn.before.clone(), turn.budget));
    let outcome = enclosed(
        cx,
        id,
        &encl,
        job,
        &prompt,
        log,
        Readers {
            adapter: watch.as_mut(),
            signs: signs.as_mut(),
        },
    );
    let over = watch.as_mut().and_then(|w| w.over.take());
    turn.usage = watch.map(Watch::into_usage);
    if let Some(u) = turn
        .usage
        .as_ref()
        .filter(|u| u.reported() || u.session_id.is_some())
    {
        cx.events.task(
            id,
            Kind::Usage {
                attempt: n,
                usage: u.clone(),
            },
        );
    }
    let outcome = outcome?;
    if outcome == Outcome::Interrupted {
        return Err(interrupted());
    }

    crate::fault::point("spawn:agent-done");
    // What the agent left is committed whatever its exit, so a later retry that
    // discards this worktree discards nothing that is not in a logged commit.
    cx.phase(id, Phase::Commit, n);
    commit_leftovers(t).map_err(internal)?;
    crate::fault::point("spawn:committed");

    // An agent that left its branch (a detached HEAD, another branch) made commits
    // the branch does not have: keep its worktree as it is, never treat it as empty.
    let tip = cx.repo.branch_tip(&t.branch);
    if let Some(head) = git::worktree_head(&t.worktree)
        && Some(head) != tip
    {
        return Err(AttemptOutcome::Failed {
            exit_code: match outcome {
                Outcome::Exited(c) => Some(c),
                _ => None,
            },
            detail: format!(
                "the agent's work is not on {}: its worktree HEAD is at {}",
                t.branch,
                head.to_hex_with_len(12)
            ),
        });
    }

    if let Some(detail) = over {
        return Err(AttemptOutcome::OverBudget { detail });
    }
    if let Some(w) = &signs {
        let v = w.verdict();
        if let Some(reason) = v.reason() {
            let _ = cx.store.update(id, |r| {
                r.reason = Some(reason);
                r.hint = v.hint();
            });
        }
        let changed = tip.map(|h| h.to_string()).as_deref() != Some(t.base_commit.as_str());
        if let Some(o) = super::stuck::judge(w, outcome, changed) {
            // In the log too, right after the output that led to it.
            let _ = writeln!(log, "==> {}", o.detail().unwrap_or_default());
            return Err(o);
        }
    }
    match outcome {
        // The agent's own verdict counts too: claude says `is_error` with exit 0.
        Outcome::Exited(0) if turn.usage.as_ref().is_some_and(|u| u.is_error) => {
            let why = turn
                .usage
                .as_ref()
                .and_then(|u| u.final_message.as_deref())
                .and_then(|m| m.lines().next())
                .unwrap_or("no message");
            return Err(AttemptOutcome::Failed {
                exit_code: Some(0),
                detail: format!("the agent reported an error: {why}"),
            });
        }
        Outcome::Exited(0) => {}
        Outcome::Exited(c) => {
            return Err(AttemptOutcome::Failed {
                exit_code: Some(c),
                detail: format!("agent exited {c}"),
            });
        }
        Outcome::TimedOut => {
            return Err(AttemptOutcome::TimedOut {
                detail: "timed out".into(),
            });
        }
        Outcome::Interrupted => return Err(interrupted()),
    }

    if tip.map(|h| h.to_string()).as_deref() == Some(t.base_commit.as_str()) {
        return Ok(AttemptOutcome::Empty); // nothing to check
    }
    let Some(check) = &t.settings.check else {
        return Ok(AttemptOutcome::Succeeded { checked: false });
    };
    cx.phase(id, Phase::Check, n);
    let _ = writeln!(log, "==> check: {check}");
    match enclosed(
        cx,
        id,
        &encl,
        seat.shell(check),
        &t.prompt,
        log,
        Readers::default(),
    )? {
        Outcome::Exited(0) => Ok(AttemptOutcome::Succeeded { checked: true }),
        Outcome::Exited(c) => Err(AttemptOutcome::CheckFailed {
            exit_code: c,
            detail: format!("check exited {c}"),
        }),
        Outcome::TimedOut => Err(AttemptOutcome::TimedOut {
            detail: "timed out in check".into(),
        }),
        Outcome::Interrupted => Err(interrupted()),
    }
}

/// What reads an agent's lines as they come: its adapter (activity, usage, budget) and
/// its preset's failure signatures. Setup and check have neither.
#[derive(Default)]
struct Readers<'a, 'b> {
    adapter: Option<&'a mut Watch<'b>>,
    signs: Option<&'a mut crate::signature::Watch>,
}

/// Run a job inside the task's sandbox or runner (if any), then bring what it committed
/// on its branch inside the sandbox onto the real branch, whatever its outcome.
fn enclosed(
    cx: &Context,
    id: &str,
    encl: &crate::sandbox::Enclosure,
    job: Job,
    prompt: &str,
    log: &mut File,
    readers: Readers<'_, '_>,
) -> Result<Outcome, AttemptOutcome> {
    let ready = encl.prepare().map_err(internal)?;
    let job = job.enclosed(encl, &ready, prompt).map_err(internal)?;
    let outcome = supervised(cx, id, &job, log, readers);
    encl.land(ready).map_err(failed)?;
    outcome
}

/// Run a job with its pid in the task's record while it runs (so others can tell it is
/// alive) and each output line as an event. A job that cannot start fails the attempt.
/// A job that ends while `git agents stop` asks for the task was stopped, whatever its
/// exit; none starts once it has asked (see `engine::stop`).
/// An agent whose output format is known (`watch`) shows what it does as `activity`
/// events and is stopped like a timeout once it passes a budget; a preset's CLI (`signs`)
/// is stopped the same way when it is stuck or waits for a login no one will give.
fn supervised(
    cx: &Context,
    id: &str,
    job: &Job,
    log: &mut File,
    readers: Readers<'_, '_>,
) -> Result<Outcome, AttemptOutcome> {
    let Readers {
        adapter: mut watch,
        mut signs,
    } = readers;
    if super::stop::requested(cx.store, id) {
        return Ok(Outcome::Interrupted);
    }
    let halt = std::sync::atomic::AtomicBool::new(false);
    let outcome = job.run_halting(
        log,
        &halt,
        |pid| {
            let _ = cx.store.update(id, |r| {
                r.set_child(Some(Proc::of(pid)));
                r.runner_stop = job.stop.clone();
            });
            crate::fault::point("spawn:child-started");
        },
        |line| {
            if let Some(w) = signs.as_deref_mut()
                && w.line(line, std::time::Instant::now())
            {
                halt.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            match watch.as_deref_mut() {
                Some(w) => {
                    let was_over = w.over.is_some();
                    if let Some(text) = w.line(line) {
                        cx.events.task(id, Kind::Activity { text });
                    }
                    if let (false, Some(detail)) = (was_over, &w.over) {
                        halt.store(true, std::sync::atomic::Ordering::Relaxed);
                        cx.events.task(
                            id,
                            Kind::Budget {
                                attempt: w.attempt,
                                detail: detail.clone(),
                            },
                        );
                    }
                }
                None => cx.events.task(
                    id,
                    Kind::Output {
                        line: line.to_string(),
                    },
                ),
            }
        },
    );
    let _ = cx.store.update(id, |r| {
        r.set_child(None);
        r.runner_stop = None;
    });
    let outcome = outcome.map(|o| {
        if super::stop::requested(cx.store, id) {
            Outcome::Interrupted
        } else {
            o
        }
    });
    outcome.map_err(internal)
}

/// The agent and prompt of a resumed attempt: its session resumed where the CLI can,
/// and the prompt followed by why the last attempt failed.
fn resumed_agent(
    agent: &crate::agent::Agent,
    prompt: &str,
    r: &Resume,
) -> (crate::agent::Agent, String) {
    let mut agent = agent.clone();
    if let Some(t) = r.session.as_deref().and_then(|s| agent.resume_template(s)) {
        agent.template = t;
    }
    let prompt = format!(
        "{prompt}\n\n---\nAttempt {} did not pass. You are in the same worktree, on top of \
         its work: continue from there. Its output ended with:\n\n{}\n",
        r.last, r.tail
    );
    (agent, prompt)
}

/// Commit whatever the agent left uncommitted, with the user's identity; files the task
/// copied in (`copy`) are never part of it.
fn commit_leftovers(t: &Planned) -> Result<()> {
    git::commit_all_except(
        &t.worktree,
        &copy::paths(&t.copy),
        &git::subject_of(&t.prompt),
        t.id.as_str(),
    )
    .map(drop)
}
