//! The local side of a remote task: push its base and spec, start its job through the
//! dispatcher, watch the remote for its status, then fetch its branch and end the task
//! with the job's record. The task is `running` meanwhile, its record naming where.

use anyhow::Result;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::dispatch::Ticket;
use super::spec::{Status, TaskSpec};
use super::{Settings, Where};
use crate::engine::attempt::Context;
use crate::engine::events::Kind;
use crate::engine::plan::Planned;
use crate::git::remote as gr;
use crate::store::Proc;
use crate::supervise::{self, Outcome};
use crate::task::{AttemptOutcome, State};

/// How often the remote is asked for a status (`GIT_AGENTS_REMOTE_POLL_MS`).
fn poll() -> Duration {
    std::env::var("GIT_AGENTS_REMOTE_POLL_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_millis(500))
        .clamp(Duration::from_millis(10), Duration::from_secs(60))
}

/// `agents-<id>-<nonce>`, a valid Kubernetes name (lowercase, at most 63 characters).
fn job_name(id: &str, nonce: &str) -> String {
    let id: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(36)
        .collect();
    let tail = &nonce[nonce.len().saturating_sub(16)..];
    format!("agents-{}-{tail}", id.trim_matches('-'))
}

fn nonce() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:x}{:x}{:x}",
        crate::time::now(),
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// How the wait for the job ended.
enum Ended {
    /// A status answering this run was fetched (with the branch, when there is
    /// one, at `refs/agents/head/<id>`), in this many milliseconds.
    Status(u64),
    Stopped,
    /// The task fails: why.
    Failed(String),
}

/// Run task `t` remotely, to its end. An `Err` is an error of ours (the scheduler
/// records it as the task's failure).
pub fn drive(cx: &Context, t: &Planned, rs: &Settings) -> Result<()> {
    let id = t.id.as_str();
    let n = t.first_attempt;
    let root = cx.repo.root.clone();
    let mut log = cx.store.open_log(id)?;
    if let Some(prior) = &t.prior {
        crate::engine::respawn::replace(cx.repo, cx.store, prior)?;
    }
    let nonce = nonce();
    let job_name = job_name(id, &nonce);
    let mut at = Where {
        remote: rs.remote.clone(),
        dispatcher: rs.dispatch.name().to_string(),
        job: job_name.clone(),
        nonce: nonce.clone(),
        ..Where::default()
    };
    let now = crate::time::now();
    cx.store.update(id, |r| {
        r.start_attempt(n, 0, now);
        r.port = None;
        r.remote = Some(at.clone());
    })?;
    let _ = writeln!(
        log,
        "==> git-agents: {id}, remote run {job_name} through {}",
        rs.remote
    );

    // Push the base and the spec.
    let started = Instant::now();
    let pushed = (|| -> Result<String, String> {
        let url = gr::remote_url(&root, &rs.remote).map_err(|_| {
            format!(
                "remote {:?} does not exist; add it (git remote add {} URL) or choose another with git config agents.remote NAME",
                rs.remote, rs.remote
            )
        })?;
        let spec = serde_json::to_vec(&TaskSpec::of(t, &nonce)).map_err(|e| e.to_string())?;
        let blob = gr::write_blob_here(cx.repo, &spec).map_err(|e| format!("{e:#}"))?;
        gr::push_refs(
            &root,
            &rs.remote,
            &[
                (&t.base_commit, &super::base_ref(id)),
                (&blob, &super::task_ref(id)),
            ],
        )
        .map_err(|e| format!("the push to remote {:?} failed: {e:#}", rs.remote))?;
        Ok(url)
    })();
    at.push_ms = started.elapsed().as_millis() as u64;
    let url = match pushed {
        Ok(u) => u,
        Err(why) => return end_failed(cx, t, &mut log, &at, why),
    };

    // An ssh host with room for the job, waiting while all are busy.
    let host = match rs.dispatch {
        super::Dispatch::Ssh => {
            let give_up =
                || supervise::interrupted() || crate::engine::stop::requested(cx.store, id);
            match super::dispatch::take_host(&rs.params.hosts, rs.params.host_jobs, give_up) {
                Some(h) => Some(h),
                None => return end_stopped(cx, t, &at),
            }
        }
        _ => None,
    };
    let _host_back = HostBack(host.clone());
    if let Some(h) = &host {
        at.job = format!("{h}:{job_name}");
        cx.store.update(id, |r| r.remote = Some(at.clone()))?;
    }
    // Start the job, and wait for its status while it runs.
    let ticket = Ticket {
        task: id,
        branch: &t.branch,
        remote: &rs.remote,
        url: &url,
        job: &job_name,
        nonce: &nonce,
        host: host.as_deref(),
    };
    at.logs = rs.dispatch.logs(&ticket, &rs.params);
    cx.store.update(id, |r| r.remote = Some(at.clone()))?;
    let scratch = cx.store.dir.join("remote");
    let job = match rs.dispatch.job(&root, &ticket, &rs.params, &scratch) {
        Ok(j) => j,
        Err(e) => return end_failed(cx, t, &mut log, &at, format!("cannot dispatch: {e:#}")),
    };
    let halt = AtomicBool::new(false);
    let mut job_log = log.try_clone()?;
    let dispatched = Instant::now();
    let dispatch_ms = AtomicU64::new(0);
    let ended = std::thread::scope(|s| {
        let handle = s.spawn(|| {
            job.run_halting(
                &mut job_log,
                &halt,
                |pid| {
                    dispatch_ms.store(dispatched.elapsed().as_millis() as u64, Ordering::Relaxed);
                    let _ = cx.store.update(id, |r| r.set_child(Some(Proc::of(pid))));
                },
                |line| {
                    cx.events.task(
                        id,
                        Kind::Output {
                            line: line.to_string(),
                        },
                    )
                },
            )
        });
        let mut handle = Some(handle);
        let mut exit: Option<Outcome> = None;
        let mut let_go: Option<Instant> = None;
        let mut stale: Option<String> = None;
        let ended = loop {
            if handle.as_ref().is_some_and(|h| h.is_finished()) {
                let out = handle.take().map(|h| h.join());
                exit = Some(match out {
                    Some(Ok(Ok(o))) => o,
                    Some(Ok(Err(e))) => {
                        break Ended::Failed(format!("the dispatcher could not start: {e:#}"));
                    }
                    _ => break Ended::Failed("the dispatcher panicked".into()),
                });
                let_go = Some(Instant::now());
            }
            // A stop wins over a status: `stop` writes its request before it signals
            // the job, so a status pushed by a job dying of that signal is always
            // found with the request already standing (as a local agent's exit code
            // is, whatever it is, once a stop was asked).
            let stopped =
                || supervise::interrupted() || crate::engine::stop::requested(cx.store, id);
            if let Some(ms) = probe(cx.repo, rs, t, &nonce, &mut stale)
                && !stopped()
            {
                break Ended::Status(ms);
            }
            if stopped() {
                break Ended::Stopped;
            }
            match exit {
                Some(Outcome::Exited(0)) => {}
                Some(Outcome::Exited(c)) => {
                    break Ended::Failed(format!(
                        "the dispatcher ({}) exited with {c} and the job pushed no status; see: git agents logs {id}",
                        rs.dispatch.name()
                    ));
                }
                Some(_) => break Ended::Stopped,
                None => {}
            }
            if let_go.is_some_and(|t0| t0.elapsed() >= rs.timeout) {
                break Ended::Failed(format!(
                    "lost: job {job_name} pushed no status to {} within remote_timeout ({}s)",
                    super::status_ref(id),
                    rs.timeout.as_secs_f64()
                ));
            }
            std::thread::sleep(poll());
        };
        // The job is done with, or given up on: whatever still runs of it stops.
        if handle.is_some() {
            if matches!(ended, Ended::Status(_)) {
                // It pushed its status and is on its way out; give it a moment.
                let t0 = Instant::now();
                while handle.as_ref().is_some_and(|h| !h.is_finished())
                    && t0.elapsed() < Duration::from_secs(5)
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            halt.store(true, Ordering::Relaxed);
        }
        ended
    });
    at.dispatch_ms = dispatch_ms.load(Ordering::Relaxed);
    let _ = cx.store.update(id, |r| r.set_child(None));
    match ended {
        Ended::Stopped => {
            if let Some(cancel) = rs.dispatch.cancel(&root, &ticket, &rs.params) {
                let _ = writeln!(log, "==> git-agents: cancelling job {job_name}");
                if let Err(e) = cancel.run(&mut log, |_| {}, |_| {}) {
                    let _ = writeln!(log, "==> git-agents: the cancel failed: {e:#}");
                }
            }
            let now = crate::time::now();
            let outcome = AttemptOutcome::Interrupted {
                detail: "interrupted: the remote job was cancelled".into(),
            };
            cx.store.update(id, |r| {
                r.remote = Some(at.clone());
                r.end_attempt(n, &outcome, None, now, false)
            })?;
            ended_events(cx, id, n, &outcome);
            Ok(())
        }
        Ended::Failed(why) => end_failed(cx, t, &mut log, &at, why),
        Ended::Status(fetched_ms) => {
            let started = Instant::now();
            let applied = apply(cx, t, &root, rs, &nonce, &mut log);
            at.fetch_ms = fetched_ms + started.elapsed().as_millis() as u64;
            match applied {
                Ok((state, detail)) => {
                    cx.store.update(id, |r| r.remote = Some(at.clone()))?;
                    cx.events.task(id, Kind::TaskEnded { state, detail });
                    Ok(())
                }
                Err(why) => end_failed(cx, t, &mut log, &at, why),
            }
        }
    }
}

/// Whether a status answering this run is on the remote: if so, it is fetched, and
/// the task's branch with it (to `refs/agents/head/<id>`, moved to the branch only once
/// the status is read and checked), in one fetch whose milliseconds are returned. A
/// status of an earlier run (another nonce) is remembered in `stale` and skipped.
fn probe(
    repo: &crate::git::Repo,
    rs: &Settings,
    t: &Planned,
    nonce: &str,
    stale: &mut Option<String>,
) -> Option<u64> {
    let id = t.id.as_str();
    let root = &repo.root;
    let name = super::status_ref(id);
    let branch = format!("refs/heads/{}", t.branch);
    let listed = gr::ls_remote(root, &rs.remote, &[name.clone(), branch.clone()]).ok()?;
    let sha = listed.get(&name)?;
    if stale.as_deref() == Some(sha.as_str()) {
        return None;
    }
    let started = Instant::now();
    let head = super::head_ref(id);
    let mut refs = vec![(name.as_str(), name.as_str())];
    if listed.contains_key(&branch) {
        refs.push((branch.as_str(), head.as_str()));
    } else {
        let _ = gr::delete_ref(root, &head);
    }
    gr::fetch_refs(root, &rs.remote, &refs).ok()?;
    // An earlier run's status, left on the remote: not ours to end the task with.
    if let Ok(bytes) = gr::read_blob_here(repo, &name)
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && v.get("nonce")
            .and_then(|n| n.as_str())
            .is_some_and(|n| n != nonce)
    {
        *stale = Some(sha.clone());
        return None;
    }
    Some(started.elapsed().as_millis() as u64)
}

/// Fetch the status and the branch, and end the task with the job's record: its state
/// and detail, or why the status is refused.
fn apply(
    cx: &Context,
    t: &Planned,
    root: &std::path::Path,
    rs: &Settings,
    nonce: &str,
    log: &mut std::fs::File,
) -> Result<(State, String), String> {
    let id = t.id.as_str();
    let name = super::status_ref(id);
    let bad = |why: String| format!("the status at {name} on {} is refused: {why}", rs.remote);
    let bytes = gr::read_blob_here(cx.repo, &name).map_err(|e| bad(format!("{e:#}")))?;
    let st = Status::parse(&bytes, id, nonce).map_err(bad)?;
    let _ = writeln!(log, "==> remote job's log (its last lines):");
    let _ = log.write_all(crate::ui::escape_control_lines(&st.log_tail).as_bytes());
    let _ = writeln!(log);
    let Some(remote) = st.record else {
        return Err(format!(
            "the remote job could not run the task: {}",
            st.error.unwrap_or_default()
        ));
    };
    if let Some(head) = &remote.head
        && remote.state != State::Empty
    {
        let fetched = gr::ref_sha(root, &super::head_ref(id));
        if fetched.as_deref() != Some(head.as_str()) {
            return Err(bad(format!(
                "its record says branch {} is at {head}, the remote has {}",
                t.branch,
                fetched.unwrap_or_else(|| "no such branch".into())
            )));
        }
        gr::set_ref(root, &format!("refs/heads/{}", t.branch), head)
            .map_err(|e| format!("cannot set branch {}: {e:#}", t.branch))?;
    }
    let first = t.first_attempt;
    let now = crate::time::now();
    let rec = cx
        .store
        .update(id, |r| {
            r.attempts.retain(|a| a.n < first);
            r.attempts
                .extend(remote.attempts.iter().filter(|a| a.n >= first).cloned());
            r.state = remote.state;
            r.exit_code = remote.exit_code;
            r.head = remote.head.clone();
            r.check = remote.check.clone();
            r.check_command = remote.check_command.clone();
            r.command = remote.command.clone();
            r.detail = remote.detail.clone();
            r.reason = remote.reason.clone();
            r.hint = remote.hint.clone();
            r.output = remote.output.clone();
            r.finished_at = Some(now);
            r.child = None;
            r.port = None;
        })
        .map_err(|e| format!("{e:#}"))?;
    for a in rec.attempts.iter().filter(|a| a.n >= first) {
        cx.events.task(
            id,
            Kind::AttemptEnded {
                attempt: a.n,
                state: a.state,
                exit_code: a.exit_code,
                detail: a.detail.clone().unwrap_or_default(),
            },
        );
    }
    Ok((rec.state, rec.detail.unwrap_or_default()))
}

/// Gives an ssh host's slot back when the task is done with it, however it ends.
struct HostBack(Option<String>);

impl Drop for HostBack {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            super::dispatch::give_back(h);
        }
    }
}

/// Stopped before a job started.
fn end_stopped(cx: &Context, t: &Planned, at: &Where) -> Result<()> {
    let outcome = AttemptOutcome::Interrupted {
        detail: "interrupted while waiting for a host".into(),
    };
    let now = crate::time::now();
    cx.store.update(t.id.as_str(), |r| {
        r.remote = Some(at.clone());
        r.end_attempt(t.first_attempt, &outcome, None, now, false)
    })?;
    ended_events(cx, t.id.as_str(), t.first_attempt, &outcome);
    Ok(())
}

fn end_failed(
    cx: &Context,
    t: &Planned,
    log: &mut std::fs::File,
    at: &Where,
    why: String,
) -> Result<()> {
    let id = t.id.as_str();
    let _ = writeln!(log, "==> git-agents: {why}");
    let outcome = AttemptOutcome::Failed {
        exit_code: None,
        detail: why,
    };
    let now = crate::time::now();
    cx.store.update(id, |r| {
        r.remote = Some(at.clone());
        r.end_attempt(t.first_attempt, &outcome, None, now, false)
    })?;
    ended_events(cx, id, t.first_attempt, &outcome);
    Ok(())
}

fn ended_events(cx: &Context, id: &str, n: u32, outcome: &AttemptOutcome) {
    let detail = outcome.detail().unwrap_or_default().to_string();
    cx.events.task(
        id,
        Kind::AttemptEnded {
            attempt: n,
            state: outcome.state(),
            exit_code: outcome.exit_code(),
            detail: detail.clone(),
        },
    );
    cx.events.task(
        id,
        Kind::TaskEnded {
            state: outcome.state(),
            detail,
        },
    );
}
