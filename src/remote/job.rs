//! The remote side: `git agents run-task ID` in a clone of the shared remote. It
//! fetches the task's spec and base, runs the task with the same engine as a local
//! spawn (one task: copy, setup, agent, commit, check, retries), and pushes the task's
//! branch and its status. Whatever goes wrong after the spec is read is pushed as the
//! status's error, so the machine that dispatched the task learns why at once.

use anyhow::Result;
use std::path::Path;

use super::spec::{Status, TaskSpec, VERSION};
use crate::config::{Flags, GitConfig, Global};
use crate::engine::events::{self, Emitter, Sink};
use crate::engine::plan::{self, Request, Sources};
use crate::engine::{attempt, claim, run};
use crate::error::Error;
use crate::git::Repo;
use crate::git::remote as gr;
use crate::store::{Record, Store};

/// Where the job runs: its clone, its state, its config.
pub struct Here<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub git: &'a GitConfig,
}

/// Run task `id` from `remote`'s private refs and push the result. The record it
/// ended with, or why the task could not run (also pushed as the status).
pub fn run_task(
    here: &Here,
    id: &str,
    remote: &str,
    global: impl Fn(&Flags) -> Result<Global, Error>,
    sink: impl Sink + 'static,
) -> Result<Record> {
    let root = &here.repo.root;
    let (task_ref, base_ref) = (super::task_ref(id), super::base_ref(id));
    gr::fetch_refs(
        root,
        remote,
        &[(&task_ref, &task_ref), (&base_ref, &base_ref)],
    )
    .map_err(|e| {
        Error::usage(format!(
            "cannot fetch task {id}'s spec from remote {remote:?}: {e:#}"
        ))
        .with_hint("was it dispatched by `git agents spawn` with runner: remote?")
    })?;
    let bytes = gr::read_blob(root, &task_ref).map_err(|e| Error::usage(format!("{e:#}")))?;
    let spec = TaskSpec::parse(&bytes).map_err(|e| Error::usage(format!("{task_ref}: {e}")))?;
    if spec.id != id {
        return Err(Error::usage(format!(
            "{task_ref} holds the spec of task {:?}, not {id:?}",
            spec.id
        ))
        .into());
    }
    let ran = run_spec(here, &spec, global, sink);
    let (record, error) = match &ran {
        Ok(r) => (Some(r.clone()), None),
        Err(e) => (None, Some(format!("{e:#}"))),
    };
    let log_tail = attempt::tail_of_log(&here.store.log_path(id), 40);
    let status = Status {
        version: VERSION,
        nonce: spec.nonce.clone(),
        record,
        error,
        log_tail,
    };
    push_result(here, &spec, &status, remote)?;
    ran
}

/// The task from its spec, through plan, claim and the scheduler.
fn run_spec(
    here: &Here,
    spec: &TaskSpec,
    global: impl Fn(&Flags) -> Result<Global, Error>,
    sink: impl Sink + 'static,
) -> Result<Record> {
    let manifest = crate::manifest::parse(&spec.manifest, Path::new(&super::task_ref(&spec.id)))?;
    let flags = Flags {
        base: Some(spec.base_commit.clone()),
        ..Flags::default()
    };
    let global = global(&flags)?;
    let ids = [spec.id.clone()];
    let sources = Sources {
        repo: here.repo,
        store: here.store,
        git: here.git,
        manifest: Some(&manifest),
    };
    let mut planned = plan::plan(
        &sources,
        &Request {
            ids: &ids,
            prompt: None,
            best_of: None,
        },
        &flags,
        &global,
    )?;
    for p in &mut planned {
        // Here the task runs, whatever this machine's config says about runners.
        p.settings.remote = None;
        p.base_name = spec.base.clone();
        p.first_attempt = spec.first_attempt.max(1);
    }
    claim::exclude_worktree_dir(here.repo, &global.worktree_dir)?;
    let batch = events::batch_id();
    let log = events::Log::create(&here.store.dir, &batch)?;
    let planned = claim::claim(here.store, planned, false, &batch)?;
    let emitter = Emitter::new(batch).with(sink).with(log);
    run::run(
        run::Batch {
            repo: here.repo,
            store: here.store,
            tasks: planned,
            jobs: 1,
            keep_empty: false,
            port_range: global.port_range,
            detached: true,
            on_started: &|| {},
            max_cost: None,
        },
        &emitter,
    )?;
    here.store
        .load(&spec.id)?
        .ok_or_else(|| anyhow::anyhow!("task {} left no record", spec.id))
}

/// Push the task's branch (when it has one) and its status, in one push.
fn push_result(here: &Here, spec: &TaskSpec, status: &Status, remote: &str) -> Result<()> {
    let root = &here.repo.root;
    let blob = gr::write_blob(root, &serde_json::to_vec(status)?)?;
    let status_ref = super::status_ref(&spec.id);
    let branch_dst = format!("refs/heads/{}", spec.branch);
    let tip = status
        .record
        .as_ref()
        .filter(|r| r.state != crate::task::State::Empty)
        .and_then(|r| r.head.clone())
        .filter(|_| {
            here.repo.branch_exists(
                &status
                    .record
                    .as_ref()
                    .map(|r| r.branch.clone())
                    .unwrap_or_default(),
            )
        });
    let mut refs: Vec<(&str, &str)> = Vec::new();
    if let Some(tip) = &tip {
        refs.push((tip, &branch_dst));
    }
    refs.push((&blob, &status_ref));
    gr::push_refs(root, remote, &refs)
        .map_err(|e| anyhow::anyhow!("cannot push the result to remote {remote:?}: {e:#}"))
}
