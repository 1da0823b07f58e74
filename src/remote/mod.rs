//! Remote runs (`runner: remote`): a task runs somewhere else (a Kubernetes Job, a CI
//! job, a host over ssh, a script of the user's own) and meets us where git already
//! meets: the shared remote.
//!
//! The protocol is git refs on that remote, nothing else:
//!
//! - `refs/agents/base/<id>`: the task's base commit, pushed before dispatch;
//! - `refs/agents/task/<id>`: a blob, the task's [`spec::TaskSpec`] (its prompt and
//!   resolved settings as a one-task manifest, a nonce naming this run);
//! - the job clones the remote, runs `git agents run-task <id>` (the same engine as a
//!   local spawn: copy, setup, agent, commit, check, retries), then pushes the task's
//!   branch and `refs/agents/status/<id>`: a blob, the [`spec::Status`] (the nonce it
//!   answers, the task's record, the tail of its log).
//!
//! Locally the task stays `running` until a status answering its nonce appears; the
//! branch is fetched and the task ends with the remote's record. No local worktree is
//! made unless asked (`git agents path`, `merge --on-conflict agent`).

use std::time::Duration;

pub mod dispatch;
pub mod drive;
pub mod job;
pub mod spec;

pub use dispatch::Dispatch;

/// How a remote task is dispatched and watched.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub dispatch: Dispatch,
    /// The git remote the task travels through (`agents.remote`, default `origin`).
    pub remote: String,
    /// How long a job may go without a status once the dispatcher let go of it.
    pub timeout: Duration,
}

/// The `runner` value that makes a task remote.
pub const RUNNER: &str = "remote";

pub fn is_runner(spec: &crate::runner::Spec) -> bool {
    matches!(spec, crate::runner::Spec::Preset(p) if p == RUNNER)
}

/// `remote_timeout` unless set: long enough for a real agent's run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// The private refs of task `id`.
pub fn base_ref(id: &str) -> String {
    format!("refs/agents/base/{id}")
}
pub fn task_ref(id: &str) -> String {
    format!("refs/agents/task/{id}")
}
pub fn status_ref(id: &str) -> String {
    format!("refs/agents/status/{id}")
}
pub fn private_refs(id: &str) -> Vec<String> {
    vec![base_ref(id), task_ref(id), status_ref(id)]
}

/// What a remote task's record says about where it runs.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct Where {
    /// The git remote it travels through.
    pub remote: String,
    /// The dispatcher (`command`, `ssh`, `kubernetes`, `github-actions`).
    pub dispatcher: String,
    /// The job's name (`agents-<id>-<nonce>`), or the ssh host.
    pub job: String,
    /// The nonce its status must answer.
    pub nonce: String,
    /// Milliseconds spent pushing, dispatching and fetching (the protocol's overhead).
    #[serde(default)]
    pub push_ms: u64,
    #[serde(default)]
    pub dispatch_ms: u64,
    #[serde(default)]
    pub fetch_ms: u64,
}

/// Resolve the remote settings of a task whose runner is `remote`: `remote_dispatch`
/// and `remote_timeout` from task, git config (`agents.remoteDispatch`,
/// `agents.remoteTimeout`), top level.
pub fn resolve(
    task: &crate::manifest::Layer,
    git: &crate::config::GitConfig,
    top: &crate::manifest::Layer,
) -> Result<Settings, crate::error::Error> {
    use crate::config::keys;
    use crate::error::Error;
    let git_dispatch = match git.get(keys::REMOTE_DISPATCH) {
        Some(d) => Some(Dispatch::parse_config(d).map_err(|e| {
            Error::usage(format!("invalid git config {}: {e}", keys::REMOTE_DISPATCH))
        })?),
        None => None,
    };
    let dispatch = task
        .remote_dispatch
        .clone()
        .or(git_dispatch)
        .or(top.remote_dispatch.clone())
        .ok_or_else(|| {
            Error::usage("runner: remote needs a dispatcher, and remote_dispatch is not set")
                .with_hint(format!(
                    "set remote_dispatch: one of {} or a command as a list (see README, Remote runs)",
                    dispatch::NAMES.join(", ")
                ))
        })?;
    let git_timeout = match git.get(keys::REMOTE_TIMEOUT) {
        Some(t) => Some(crate::time::parse_duration(t).map_err(|e| {
            Error::usage(format!(
                "invalid git config {}: {t:?} ({e})",
                keys::REMOTE_TIMEOUT
            ))
        })?),
        None => None,
    };
    Ok(Settings {
        dispatch,
        remote: git
            .get(keys::REMOTE)
            .filter(|r| !r.trim().is_empty())
            .unwrap_or("origin")
            .to_string(),
        timeout: task
            .remote_timeout
            .or(git_timeout)
            .or(top.remote_timeout)
            .unwrap_or(DEFAULT_TIMEOUT),
    })
}

/// A remote task's local worktree, made from its fetched branch when asked for (`git
/// agents path`, `merge --on-conflict agent`). Whether one was made.
pub fn materialize(root: &std::path::Path, rec: &crate::store::Record) -> anyhow::Result<bool> {
    if rec.remote.is_none() || rec.worktree.exists() {
        return Ok(false);
    }
    let branch = format!("refs/heads/{}", rec.branch);
    if crate::git::remote::ref_sha(root, &branch).is_none() {
        return Ok(false);
    }
    if let Some(parent) = rec.worktree.parent() {
        std::fs::create_dir_all(parent)?;
    }
    crate::git::remote::add_branch_worktree(root, &rec.worktree, &rec.branch)?;
    Ok(true)
}

/// Delete the remote's private refs of a remote task (prune). Refs already gone are no
/// error; an unreachable remote is (the caller warns).
pub fn forget(root: &std::path::Path, rec: &crate::store::Record) -> anyhow::Result<()> {
    let Some(at) = &rec.remote else {
        return Ok(());
    };
    crate::git::remote::delete_remote_refs(root, &at.remote, &private_refs(&rec.id))?;
    for r in private_refs(&rec.id) {
        crate::git::remote::delete_ref(root, &r)?;
    }
    Ok(())
}
