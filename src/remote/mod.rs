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
    /// What the built-in dispatchers need.
    pub params: dispatch::Params,
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
/// Where the local side fetches the job's branch before checking it against the status.
pub fn head_ref(id: &str) -> String {
    format!("refs/agents/head/{id}")
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
    /// The command that prints the job's log from its engine (`kubectl logs`, `gh run
    /// view --log`), for `git agents logs` while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<Vec<String>>,
}

impl Where {
    /// `job agents-t1-… (command) via origin`, for `show`.
    pub fn describe(&self) -> String {
        format!("job {} ({}) via {}", self.job, self.dispatcher, self.remote)
    }
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
    let params = params(&dispatch, git)?;
    Ok(Settings {
        params,
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

/// The built-in dispatchers' settings from git config, checked for the one chosen.
fn params(
    d: &Dispatch,
    git: &crate::config::GitConfig,
) -> Result<dispatch::Params, crate::error::Error> {
    use crate::config::keys;
    use crate::error::Error;
    let get = |k: &str| git.get(k).map(str::trim).filter(|v| !v.is_empty());
    let host_jobs = match get(keys::REMOTE_HOST_JOBS) {
        Some(n) => n.parse::<usize>().ok().filter(|n| *n > 0).ok_or_else(|| {
            Error::usage(format!(
                "invalid git config {}: {n:?} (a number of jobs per host, 1 or more)",
                keys::REMOTE_HOST_JOBS
            ))
        })?,
        None => 1,
    };
    let p = dispatch::Params {
        image: get(keys::REMOTE_IMAGE).map(str::to_string),
        secret: get(keys::REMOTE_SECRET).unwrap_or("git-agents").to_string(),
        namespace: get(keys::REMOTE_NAMESPACE).unwrap_or("default").to_string(),
        workflow: get(keys::REMOTE_WORKFLOW)
            .unwrap_or("git-agents.yml")
            .to_string(),
        hosts: get(keys::REMOTE_HOSTS)
            .map(|h| h.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        host_jobs,
    };
    let program = match d {
        Dispatch::Kubernetes if p.image.is_none() => {
            return Err(Error::usage("remote_dispatch: kubernetes needs the job's image")
                .with_hint("set it with: git config agents.remoteImage IMAGE (it needs git, git-agents and the agent CLI)"));
        }
        Dispatch::Ssh if p.hosts.is_empty() => {
            return Err(Error::usage("remote_dispatch: ssh needs hosts")
                .with_hint("set them with: git config agents.remoteHosts \"host1 host2\""));
        }
        Dispatch::Kubernetes => "kubectl",
        Dispatch::GithubActions => "gh",
        Dispatch::Ssh => "ssh",
        Dispatch::Command(t) => t[0].as_str(),
    };
    if which::which(program).is_err() {
        return Err(Error::usage(format!(
            "remote_dispatch: {} runs {program:?}, which is not on PATH",
            d.name()
        ))
        .with_hint("install it, or choose another dispatcher"));
    }
    Ok(p)
}

/// What the engine's own log of a running remote task's job says (`git agents logs`);
/// `None` when its dispatcher has no such log (the local log is the job's output).
pub fn engine_log(root: &std::path::Path, rec: &crate::store::Record) -> Option<String> {
    let argv = rec.remote.as_ref()?.logs.clone()?;
    let job = crate::engine::launch::Job {
        program: argv.first()?.into(),
        args: argv[1..].to_vec(),
        dir: root.to_path_buf(),
        env: Vec::new(),
        stdin: None,
        deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(60)),
        stop: None,
    };
    let mut out = Vec::new();
    Some(match job.run(&mut out, |_| {}, |_| {}) {
        Ok(_) => String::from_utf8_lossy(&out).into_owned(),
        Err(e) => format!("cannot run {}: {e:#}\n", argv[0]),
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
    for r in private_refs(&rec.id).into_iter().chain([head_ref(&rec.id)]) {
        crate::git::remote::delete_ref(root, &r)?;
    }
    Ok(())
}
