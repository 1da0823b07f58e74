//! `git agents spawn`: a worktree and branch per task, its agent run there, what it left
//! committed, the check run, failures retried in a fresh worktree.
//!
//! Everything that can be wrong with the request (manifest, ids, agent programs, base,
//! taken branches or paths) is found before anything is created. Tasks are then claimed
//! in the store under its lock, so two spawns never run one task twice.

use anyhow::{Context as _, Result};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::agent::{self, Agent, AgentEnv, Vars};
use crate::cli::{Ctx, exit_for};
use crate::config::{self, AgentChoice, Flags, TaskSettings};
use crate::copy;
use crate::error::{Error, Exit};
use crate::git::{self, Repo};
use crate::manifest::Layer;
use crate::report;
use crate::store::{Attempt, Proc, Record, Store};
use crate::supervise::{self, Job, Outcome};
use crate::task::{State, TaskId};
use crate::ui::{Progress, table};
use crate::worktree;

use super::Workspace;

/// Create a worktree and branch per task and run its agent there, in parallel.
///
/// Without IDs, spawns every task of the manifest that was never spawned. With -p, runs
/// one ad-hoc task (its id derived from the prompt unless given).
#[derive(Debug, clap::Args)]
pub struct SpawnArgs {
    /// Tasks to spawn (default: every manifest task never spawned)
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Run an ad-hoc task with this prompt (at most one ID)
    #[arg(short, long, value_name = "TEXT")]
    pub prompt: Option<String>,

    /// Agent preset to run
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(agent::PRESET_NAMES), conflicts_with = "command")]
    pub agent: Option<String>,

    /// Agent command template, split like a shell (e.g. "my-agent --task {prompt}")
    #[arg(long, value_name = "CMD")]
    pub command: Option<String>,

    /// Agents running at once
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,

    /// Branch or revision to start from (default: the branch checked out)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,

    /// Time limit per attempt, e.g. 45s, 30m, 2h
    #[arg(long, value_name = "DUR", value_parser = crate::time::parse_duration)]
    pub timeout: Option<Duration>,

    /// Extra attempts after a failed one (at most 100)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=i64::from(config::MAX_RETRIES)))]
    pub retries: Option<u32>,

    /// Shell command run in the worktree after the agent; exit 0 = pass
    #[arg(long, value_name = "CMD", conflicts_with = "no_check")]
    pub check: Option<String>,

    /// Run no check, whatever the config says
    #[arg(long)]
    pub no_check: bool,

    /// Keep the worktree and branch of a task whose agent changed nothing
    #[arg(long)]
    pub keep_empty: bool,

    /// Print the summary as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Run a tracked manifest's commands without recording trust (see `git agents trust`)
    #[arg(long)]
    pub trust: bool,

    /// Spawn even when free disk space would fall below agents.minFreeDisk
    #[arg(long)]
    pub force: bool,
}

/// A task ready to run: everything resolved and checked.
struct Planned {
    id: TaskId,
    prompt: String,
    settings: TaskSettings,
    agent: Agent,
    base_name: String,
    base_commit: String,
    branch: String,
    worktree: PathBuf,
    /// `copy` entries plus what `.worktreeinclude` selects.
    copy: Vec<copy::Entry>,
    /// Number of the first attempt (above 1 when the task runs again).
    first_attempt: u32,
    /// The task's record when it is spawned again: its worktree and branch, if still
    /// there, are replaced (what they hold logged to pruned.log first).
    prior: Option<Record>,
}

pub fn run(ctx: &Ctx, args: SpawnArgs) -> Result<Exit> {
    let ws = Workspace::open(ctx)?;
    let command = match &args.command {
        Some(c) => Some(
            crate::manifest::split_command(c)
                .map_err(|e| Error::usage(format!("--command: {e}")))?,
        ),
        None => None,
    };
    let flags = Flags {
        agent: args.agent.clone(),
        command,
        base: args.base.clone(),
        timeout: args.timeout,
        retries: args.retries,
        check: if args.no_check {
            Some(None)
        } else {
            args.check.clone().map(Some)
        },
        jobs: args.jobs.map(usize::from),
        merge_strategy: None,
    };
    let global = ws.global(&flags)?;
    let plan = plan(&ws, &args, &flags, &global)?;
    if plan.is_empty() {
        ctx.ui
            .status("nothing to spawn: every task in the manifest has been spawned");
        if args.json {
            ctx.ui.out(&report::document(Vec::new()));
        }
        return Ok(Exit::Ok);
    }

    ws.ensure_trusted(&ctx.ui, args.trust)?;
    if !args.force {
        check_disk(&ws.repo, &global, plan.len())?;
    }
    // Before the claim: a failure here (a full disk) must not leave tasks claimed.
    exclude_worktree_dir(&ws.repo, &global.worktree_dir)?;
    crate::fault::point("spawn:planned");
    let plan = claim(&ws, plan, args.ids.is_empty() && args.prompt.is_none())?;
    crate::fault::point("spawn:claimed");
    if plan.is_empty() {
        ctx.ui
            .status("nothing to spawn: another git agents process took every task");
        if args.json {
            ctx.ui.out(&report::document(Vec::new()));
        }
        return Ok(Exit::Ok);
    }
    for p in &plan {
        ctx.ui.debug(&format!(
            "{}: {} in {} from {} ({}); log: {}",
            p.id,
            shell_words::join(&p.agent.template),
            p.worktree.display(),
            p.base_name,
            &p.base_commit[..12.min(p.base_commit.len())],
            ws.store.log_path(p.id.as_str()).display()
        ));
    }
    supervise::install_interrupt_handler();

    let ids: Vec<String> = plan.iter().map(|p| p.id.to_string()).collect();
    let progress = Progress::new(&ctx.ui, &ids);
    let runner = Runner {
        repo: &ws.repo,
        store: &ws.store,
        progress: &progress,
        keep_empty: args.keep_empty,
        port_range: global.port_range,
        repo_name: ws.repo.name(),
        unrecorded: Mutex::new(HashMap::new()),
    };
    let order = ids;
    let queue = Mutex::new(plan.into_iter().collect::<VecDeque<_>>());
    let jobs = global.jobs.min(order.len());
    std::thread::scope(|s| {
        for slot in 0..jobs {
            let runner = &runner;
            let queue = &queue;
            s.spawn(move || {
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some(task) = next else { break };
                    if supervise::interrupted() {
                        runner.unclaim(&task);
                        continue;
                    }
                    runner.run_guarded(&task, slot);
                }
            });
        }
    });
    progress.finish();

    // The summary: every task of this run, in the order asked.
    let mut all_ok = true;
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    for id in &order {
        let Some(mut rec) = ws.store.load(id)? else {
            // Never started (interrupted before its turn): its claim was withdrawn.
            continue;
        };
        let unrecorded = runner.unrecorded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(detail) = unrecorded.get(id) {
            // Its record still says pending/running: tell what really happened.
            ctx.ui.warn(&format!(
                "{id}: the task failed and its record could not be written ({detail}); \
                 `git agents list` shows it as interrupted"
            ));
            rec.state = State::Failed;
            rec.detail = Some(detail.clone());
            rec.owner = None;
            rec.child = None;
        }
        drop(unrecorded);
        all_ok &= rec.state.is_success();
        let live = report::live(&ws.repo, &rec);
        if args.json {
            docs.push(report::task_json(&ws.store, &rec, &live));
        } else {
            rows.push(vec![
                rec.id.clone(),
                ctx.ui.state(rec.state),
                if rec.state == State::Empty && !args.keep_empty {
                    "-".into()
                } else {
                    rec.branch.clone()
                },
                live.ahead
                    .map(|a| format!("+{a}"))
                    .unwrap_or_else(|| "-".into()),
                rec.check.clone().unwrap_or_else(|| "-".into()),
                report::elapsed(&rec)
                    .map(crate::time::short)
                    .unwrap_or_else(|| "-".into()),
                rec.detail.clone().unwrap_or_default(),
            ]);
        }
    }
    if args.json {
        ctx.ui.out(&report::document(docs));
    } else {
        ctx.ui.out(&table(
            &[
                "ID", "STATE", "BRANCH", "COMMITS", "CHECK", "TIME", "DETAIL",
            ],
            &rows,
        ));
    }
    Ok(exit_for(all_ok, supervise::interrupted()))
}

/// Resolve and check every task before anything is created.
fn plan(
    ws: &Workspace,
    args: &SpawnArgs,
    flags: &Flags,
    global: &config::Global,
) -> Result<Vec<Planned>> {
    let empty = Layer::default();
    let top = ws.manifest.as_ref().map(|m| &m.top).unwrap_or(&empty);
    // (id, prompt, task layer)
    let mut wanted: Vec<(TaskId, String, Option<&Layer>)> = Vec::new();

    if let Some(prompt) = &args.prompt {
        if prompt.trim().is_empty() {
            return Err(Error::usage("the prompt given with -p is empty").into());
        }
        if args.ids.len() > 1 {
            return Err(
                Error::usage("-p/--prompt runs one ad-hoc task: give at most one ID")
                    .with_hint("put several tasks in agents.yaml instead")
                    .into(),
            );
        }
        let in_manifest = |id: &str| ws.manifest.as_ref().is_some_and(|m| m.task(id).is_some());
        let id = match args.ids.first() {
            Some(id) => {
                let id = TaskId::parse(id).map_err(Error::usage)?;
                if in_manifest(id.as_str()) {
                    return Err(Error::usage(format!(
                        "task {id:?} is in the manifest; -p is for tasks that are not"
                    ))
                    .with_hint(format!("run it with: git agents spawn {id}"))
                    .into());
                }
                id
            }
            None => TaskId::slug(prompt, |s| {
                in_manifest(s)
                    || ws.store.record_path(s).exists()
                    || ws
                        .repo
                        .branch_exists(&format!("{}{s}", global.branch_prefix))
                    || global.worktree_dir.join(s).exists()
            }),
        };
        wanted.push((id, prompt.clone(), None));
    } else {
        let Some(m) = &ws.manifest else {
            return Err(Error::usage(
                "no manifest found (agents.yaml or .agents.yaml at the repository root)",
            )
            .with_hint(
                "write one (see README), or run one task with: git agents spawn -p \"PROMPT\"",
            )
            .into());
        };
        if args.ids.is_empty() {
            for t in &m.tasks {
                if ws.store.record_path(t.id.as_str()).exists() {
                    continue;
                }
                wanted.push((t.id.clone(), t.prompt.clone(), Some(&t.layer)));
            }
        } else {
            let mut seen = HashSet::new();
            for raw in &args.ids {
                let id = TaskId::parse(raw).map_err(Error::usage)?;
                if !seen.insert(id.clone()) {
                    continue;
                }
                let t = m.task(id.as_str()).ok_or_else(|| {
                    Error::usage(format!("no task {id:?} in {}", m.path.display()))
                        .with_hint("add it to the manifest, or give a prompt with -p")
                })?;
                wanted.push((id, t.prompt.clone(), Some(&t.layer)));
            }
        }
    }

    if global.worktree_dir.exists() && !global.worktree_dir.is_dir() {
        return Err(Error::usage(format!(
            "worktree dir {} exists and is not a directory",
            global.worktree_dir.display()
        ))
        .with_hint("move it away, or set another with: git config agents.worktreeDir <dir>")
        .into());
    }

    let all_unspawned = args.ids.is_empty() && args.prompt.is_none();
    let mut bases: HashMap<String, String> = HashMap::new();
    let include = copy::worktreeinclude(&ws.repo.root)?;
    let limits = copy::Limits::new(&ws.repo.root, &ws.repo.common_dir, &global.worktree_dir);
    let mut out = Vec::new();
    for (id, prompt, layer) in wanted {
        let settings = config::resolve_task(flags, layer, &ws.git, top)?;
        let agent = Agent::resolve(settings.agent.as_ref()).map_err(|e| {
            if let Some(AgentChoice::Command(c)) = &settings.agent {
                Error::usage(format!(
                    "task {id}: agent program {:?} not found on PATH",
                    c[0]
                ))
                .with_hint("check the command, or put the program on PATH")
            } else {
                e
            }
        })?;
        let base_name = match &settings.base {
            Some(b) => b.clone(),
            None => match ws.repo.head_branch() {
                Some(b) => b,
                None => ws
                    .repo
                    .resolve_commit("HEAD")
                    .map(|c| c.to_string())
                    .ok_or_else(|| {
                        Error::usage("HEAD does not point at a commit yet")
                            .with_hint("make a first commit, or pass --base REV")
                    })?,
            },
        };
        let base_commit = match bases.get(&base_name) {
            Some(c) => c.clone(),
            None => {
                let c = ws
                    .repo
                    .resolve_commit(&base_name)
                    .ok_or_else(|| {
                        Error::usage(format!(
                            "task {id}: base {base_name:?} does not name a commit"
                        ))
                        .with_hint("pass --base with an existing branch or revision")
                    })?
                    .to_string();
                bases.insert(base_name.clone(), c.clone());
                c
            }
        };
        let branch = format!("{}{}", global.branch_prefix, id);
        let worktree = global.worktree_dir.join(id.as_str());
        let branch_taken = ws.repo.branch_exists(&branch);
        let path_taken = worktree.exists();
        // Spawning "everything not yet spawned" while another spawn claims the same
        // tasks: whatever it claimed since we listed them is its own, not an error. A
        // claim writes the record before making the branch, so a branch or path seen
        // above that belongs to such a claim always has its record by now.
        if all_unspawned && ws.store.record_path(id.as_str()).exists() {
            continue;
        }
        let prior = ws.store.load(id.as_str())?;
        if let Some(rec) = &prior {
            check_respawn(ws, rec)?;
        }
        // What the task's own record names is replaced, not in the way.
        let ours = |f: &dyn Fn(&Record) -> bool| prior.as_ref().is_some_and(f);
        let branch_taken = branch_taken && !ours(&|r| r.branch == branch);
        let path_taken = path_taken
            && !ours(&|r| crate::worktree::canon(&r.worktree) == crate::worktree::canon(&worktree));
        if branch_taken {
            return Err(
                Error::usage(format!("task {id}: branch {branch} already exists"))
                    .with_hint("delete or rename that branch, or give the task another id")
                    .into(),
            );
        }
        if path_taken {
            return Err(
                Error::usage(format!("task {id}: {} already exists", worktree.display()))
                    .with_hint("move it away, or give the task another id")
                    .into(),
            );
        }
        let mut copy = Vec::new();
        for c in &settings.copy {
            copy.push(copy::parse_entry(c)?);
        }
        for e in &include {
            if !copy.iter().any(|c| c.path == e.path) {
                copy.push(e.clone());
            }
        }
        // An entry that would copy through a symlink is refused now, before anything
        // is created, when the main checkout or the base commit shows it.
        let in_base = ws.repo.tree_kinds(&base_commit);
        let mut vetted = Vec::with_capacity(copy.len());
        for e in copy {
            if copy::vet(&ws.repo.root, &e, &limits, &in_base)? {
                vetted.push(e);
            }
        }
        let copy = vetted;
        out.push(Planned {
            id,
            prompt,
            settings,
            agent,
            base_name,
            base_commit,
            branch,
            worktree,
            copy,
            first_attempt: prior
                .as_ref()
                .and_then(|r| r.attempts.iter().map(|a| a.n).max())
                .unwrap_or(0)
                .saturating_add(1),
            prior,
        });
    }
    Ok(out)
}

/// Whether a task that has a record may be spawned again (SPEC §5): always when its
/// worktree and branch are both gone; when they exist, only after it ended `interrupted`,
/// `failed`, `timed-out` or `empty`, and nothing keeps them (a process working in the
/// worktree, a lock, another checkout of the branch). A running task, and work that
/// succeeded or merged, are refused with the reason.
fn check_respawn(ws: &Workspace, rec: &Record) -> Result<()> {
    let id = &rec.id;
    let refuse = |what: String, hint: String| -> Result<()> {
        Err(Error::usage(format!("task {id} {what}"))
            .with_hint(hint)
            .into())
    };
    let state = crate::engine::cleanup::effective(rec);
    if state == State::Running {
        let pid = rec
            .child
            .filter(|c| c.group_alive())
            .or(rec.owner)
            .map(|p| format!(" (pid {})", p.pid))
            .unwrap_or_default();
        return refuse(
            format!("is running{pid}"),
            "wait for it to end, or interrupt the git agents process running it".into(),
        );
    }
    let worktree_there = rec.worktree.symlink_metadata().is_ok();
    if !worktree_there && !ws.repo.branch_exists(&rec.branch) {
        return Ok(());
    }
    let prune = format!("prune it first to run it again: git agents prune {id}");
    match state {
        State::Interrupted | State::Failed | State::TimedOut | State::Empty => {}
        State::Succeeded => {
            return refuse(
                format!(
                    "was already spawned and succeeded: its work is on {}",
                    rec.branch
                ),
                format!("{prune} (or merge it: git agents merge {id})"),
            );
        }
        State::Conflicted => {
            return refuse(
                "was already spawned, and its merge conflicted".into(),
                format!("merge it with --on-conflict agent or retry, or {prune}"),
            );
        }
        s => return refuse(format!("was already spawned (state {s})"), prune),
    }
    let trash = crate::engine::cleanup::Trash::new(&ws.store);
    let cleanup = crate::engine::cleanup::Context::new(&ws.repo, &ws.store, &trash, true);
    let task = previous(rec, Some(rec.clone()));
    let f = cleanup.facts(&task);
    let mut keep = f.never.clone();
    if let crate::worktree::Found::Plain = f.found {
        keep.push(format!(
            "{} is not a git worktree of this repository",
            rec.worktree.display()
        ));
    }
    if let crate::worktree::Found::Linked(a) = &f.found
        && a.locked().is_some()
    {
        keep.push(format!(
            "{} is locked (git worktree lock)",
            rec.worktree.display()
        ));
    }
    for (pid, name) in f.users.iter().take(3) {
        keep.push(format!(
            "{} is in use by {name} (pid {pid})",
            rec.worktree.display()
        ));
    }
    if keep.is_empty() {
        return Ok(());
    }
    refuse(
        format!("cannot be spawned again: {}", keep.join("; ")),
        format!("deal with that, or {prune}"),
    )
}

fn previous(rec: &Record, with: Option<Record>) -> crate::engine::cleanup::Task {
    crate::engine::cleanup::Task {
        id: rec.id.clone(),
        state: crate::engine::cleanup::effective(rec),
        rec: with,
        branch: rec.branch.clone(),
        worktree: Some(rec.worktree.clone()),
        base: rec.base.clone(),
    }
}

/// Remove what a task spawned again left of its last run, as `prune --force` would:
/// every tip not in its base and every uncommitted file (as a commit) logged to
/// pruned.log first. Nothing is removed when any of it cannot be logged.
fn replace_previous(repo: &Repo, store: &Store, prior: &Record) -> Result<()> {
    if prior.worktree.symlink_metadata().is_err() && !repo.branch_exists(&prior.branch) {
        return Ok(());
    }
    let trash = crate::engine::cleanup::Trash::new(store);
    let cleanup = crate::engine::cleanup::Context::new(repo, store, &trash, false);
    // No record given: the task's record is already the new claim, not a tombstone to be.
    let fate = cleanup.remove(&previous(prior, None), true);
    trash.empty_in_background(Vec::new())?;
    match fate {
        crate::engine::cleanup::Fate::Pruned { .. } => Ok(()),
        crate::engine::cleanup::Fate::Kept { reasons, .. } => Err(Error::refused(format!(
            "cannot replace the last attempt: {}",
            reasons.join("; ")
        ))
        .into()),
        crate::engine::cleanup::Fate::Failed(e) => {
            Err(anyhow::anyhow!("cannot replace the last attempt: {e}"))
        }
    }
}

/// Write a pending record per task under the lock. A task another process claimed
/// since we planned is dropped when spawning "everything not yet spawned", and refused
/// when it was asked for by id.
fn claim(ws: &Workspace, plan: Vec<Planned>, all_unspawned: bool) -> Result<Vec<Planned>> {
    let store = &ws.store;
    let _lock = store.lock()?;
    let mut kept = Vec::with_capacity(plan.len());
    // Records the claim replaces (tombstones, or a task spawned again), to put back if
    // it fails.
    let mut replaced = HashMap::new();
    for p in plan {
        let now = store.load(p.id.as_str())?;
        // Unchanged since planning: no record (or a tombstone), or the very record the
        // re-spawn was checked against.
        let unchanged = match (&now, &p.prior) {
            (None, _) => true,
            (Some(n), None) => n.pruned,
            (Some(n), Some(was)) => {
                (n.created_at, n.attempts.len(), n.state, n.owner, n.pruned)
                    == (
                        was.created_at,
                        was.attempts.len(),
                        was.state,
                        was.owner,
                        was.pruned,
                    )
            }
        };
        if !unchanged {
            if all_unspawned {
                continue;
            }
            return Err(Error::usage(format!(
                "task {} was just spawned by another git agents process",
                p.id
            ))
            .into());
        }
        if let Some(rec) = now {
            replaced.insert(rec.id.clone(), rec);
        }
        kept.push(p);
    }
    let plan = kept;
    store.prepare()?;
    let now = crate::time::now();
    for (i, p) in plan.iter().enumerate() {
        let claimed = claim_one(store, p, now);
        crate::fault::point("spawn:claimed-one");
        if let Err(e) = claimed {
            // All or nothing (a full disk, say): no task stays claimed by a run that
            // never starts it.
            for p in &plan[..=i] {
                let id = p.id.as_str();
                let _ = std::fs::remove_file(store.record_path(id));
                let _ = std::fs::remove_file(store.prompt_path(id));
                // A task spawned again keeps the log of its earlier attempts.
                if p.prior.is_none() {
                    let _ = std::fs::remove_file(store.log_path(id));
                }
                if let Some(old) = replaced.get(id) {
                    let _ = store.save(old);
                }
            }
            return Err(e);
        }
    }
    Ok(plan)
}

/// Write one task's prompt, empty log and pending record.
fn claim_one(store: &Store, p: &Planned, now: u64) -> Result<()> {
    let id = p.id.as_str();
    crate::store::write_atomic(&store.prompt_path(id), p.prompt.as_bytes())?;
    // A task spawned again keeps its log and its attempts' history.
    crate::store::private_file(&store.log_path(id), p.prior.is_none())?;
    store.save(&Record {
        version: crate::store::RECORD_VERSION,
        id: id.to_string(),
        state: State::Pending,
        branch: p.branch.clone(),
        base: p.base_name.clone(),
        base_commit: p.base_commit.clone(),
        worktree: p.worktree.clone(),
        prompt: p.prompt.clone(),
        command: p.agent.template.clone(),
        check_command: p.settings.check.clone(),
        check: None,
        exit_code: None,
        head: None,
        created_at: p.prior.as_ref().map_or(now, |r| r.created_at),
        started_at: None,
        finished_at: None,
        attempts: p
            .prior
            .as_ref()
            .map(|r| r.attempts.clone())
            .unwrap_or_default(),
        owner: Some(Proc::current()),
        child: None,
        port: None,
        detail: None,
        pruned: false,
        pr_url: None,
        merged_at: None,
        merged_commit: None,
        merged_into: None,
        conflicts: Vec::new(),
        merge_check: None,
    })
}

/// Refuse when the new checkouts would bring free space under `agents.minFreeDisk`.
/// The estimate is the size of the files in the index, once per task (copies made with
/// `copy` are not counted: they may be clones or links).
fn check_disk(repo: &Repo, global: &config::Global, tasks: usize) -> Result<()> {
    let checkout: u64 = match repo.local().index_or_empty() {
        Ok(index) => index
            .entries()
            .iter()
            .fold(0u64, |sum, e| sum.saturating_add(u64::from(e.stat.size))),
        Err(_) => 0,
    };
    let needed = checkout.saturating_mul(tasks as u64);
    let mut probe = global.worktree_dir.as_path();
    while !probe.exists() {
        match probe.parent() {
            Some(p) => probe = p,
            None => return Ok(()),
        }
    }
    let Some(free) = free_space(probe) else {
        return Ok(());
    };
    if free.saturating_sub(needed) < global.min_free_disk {
        let mib = |b: u64| b / (1 << 20);
        return Err(Error::refused(format!(
            "not enough disk space: {} tasks need about {} MiB, {} MiB are free, and {} MiB must stay free",
            tasks,
            mib(needed),
            mib(free),
            mib(global.min_free_disk)
        ))
        .with_hint("free some space, lower agents.minFreeDisk, or pass --force")
        .into());
    }
    Ok(())
}

fn free_space(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we pass; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Keep the worktree dir out of `git status` through `.git/info/exclude` (never a
/// tracked `.gitignore`), when it lies inside the main worktree.
fn exclude_worktree_dir(repo: &Repo, dir: &Path) -> Result<()> {
    let Ok(rel) = dir.strip_prefix(&repo.root) else {
        return Ok(());
    };
    let pattern = format!("/{}/", rel.to_string_lossy().trim_end_matches('/'));
    let info = repo.common_dir.join("info");
    let path = info.join("exclude");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current.lines().any(|l| l.trim() == pattern) {
        return Ok(());
    }
    std::fs::create_dir_all(&info)?;
    let mut text = current;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# git-agents worktrees\n");
    text.push_str(&pattern);
    text.push('\n');
    crate::store::write_atomic(&path, text.as_bytes())
}

struct Runner<'a> {
    repo: &'a Repo,
    store: &'a Store,
    progress: &'a Progress,
    keep_empty: bool,
    port_range: (u16, u16),
    repo_name: String,
    /// Tasks that failed and whose record could not say so (a full disk): id → why.
    unrecorded: Mutex<HashMap<String, String>>,
}

/// Why an attempt did not succeed.
struct Failure {
    state: State,
    exit_code: Option<i32>,
    detail: String,
}

impl Runner<'_> {
    /// Run a task; whatever ends it early, an error of ours or a bug (a panic), is
    /// recorded as its failure, so no record is left `running` by a process that went
    /// on, and the other tasks of the run still finish.
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

    fn run_task(&self, t: &Planned, slot: usize) -> Result<()> {
        let id = t.id.as_str();
        // Saturating: retries are capped, but a hand-edited record's attempt numbers
        // are not.
        let first = t.first_attempt;
        let last_n = first.saturating_add(t.settings.retries);
        let mut log = self.store.open_log(id)?;
        if let Some(prior) = &t.prior {
            self.progress.phase(id, "replacing the last attempt");
            replace_previous(self.repo, self.store, prior)?;
        }
        for n in first..=last_n {
            if n > first {
                self.progress.phase(id, &format!("retry {n}/{last_n}"));
                crate::fault::point("spawn:before-discard");
                self.discard(t)?;
            }
            let port = match self.port(t) {
                Ok(p) => p,
                Err(f) => {
                    let now = crate::time::now();
                    self.store.update(id, |r| {
                        r.state = f.state;
                        r.finished_at = Some(now);
                        r.detail = Some(f.detail.clone());
                        r.child = None;
                        r.port = None;
                    })?;
                    self.progress.done(id, f.state, &f.detail);
                    return Ok(());
                }
            };
            let now = crate::time::now();
            self.store.update(id, |r| {
                r.state = State::Running;
                r.started_at.get_or_insert(now);
                r.finished_at = None;
                r.port = Some(port);
                r.owner = Some(Proc::current());
                r.attempts.push(Attempt {
                    n,
                    started_at: now,
                    finished_at: None,
                    state: State::Running,
                    exit_code: None,
                    head: None,
                    detail: None,
                });
            })?;
            let _ = writeln!(log, "==> git-agents: {id}, attempt {n} of {last_n}");
            let result = self.attempt(t, n, slot, port, &mut log);
            let head = self.repo.branch_tip(&t.branch).map(|h| h.to_string());
            let now = crate::time::now();
            match result {
                Ok(check) => {
                    let empty = head.as_deref() == Some(t.base_commit.as_str());
                    let state = if empty {
                        State::Empty
                    } else {
                        State::Succeeded
                    };
                    if empty && !self.keep_empty {
                        self.remove_worktree_and_branch(t)?;
                    }
                    self.store.update(id, |r| {
                        finish(r, n, state, Some(0), head.clone(), None, now);
                        r.check = check;
                        r.exit_code = Some(0);
                    })?;
                    self.progress.done(id, state, "");
                    return Ok(());
                }
                Err(f) => {
                    let tail = tail_of_log(&self.store.log_path(id), 30);
                    let last = n == last_n || f.state == State::Interrupted;
                    self.store.update(id, |r| {
                        finish(
                            r,
                            n,
                            f.state,
                            f.exit_code,
                            head.clone(),
                            Some(f.detail.clone()),
                            now,
                        );
                        if f.detail.starts_with("check") {
                            r.check = Some("failed".into());
                        }
                        if !last {
                            r.state = State::Running;
                            r.finished_at = None;
                        }
                    })?;
                    if f.state != State::Interrupted {
                        append_notes(&self.store.notes_path(id), n, &f, &tail)?;
                    }
                    if last {
                        self.progress.done(id, f.state, &f.detail);
                        return Ok(());
                    }
                }
            }
        }
        Ok(())
    }

    /// The task's port, waiting (as long as its timeout allows) while other running
    /// tasks hold every free one: no agent starts without `GIT_AGENTS_PORT`.
    fn port(&self, t: &Planned) -> Result<u16, Failure> {
        let id = t.id.as_str();
        let deadline = t.settings.timeout.and_then(crate::time::deadline);
        let gave_up = std::cell::Cell::new(State::Failed);
        self.store
            .wait_for_port(
                id,
                self.port_range,
                || self.progress.phase(id, "waiting for a free port"),
                || {
                    if supervise::interrupted() {
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
            .map_err(|e| Failure {
                state: gave_up.get(),
                exit_code: None,
                detail: match e.downcast_ref::<Error>() {
                    Some(e) => e.message.clone(),
                    None => format!("{e:#}"),
                },
            })
    }

    /// One attempt: worktree, copy, setup, agent, commit, check. `Ok` carries the check
    /// result (`passed`, or none when no check ran).
    fn attempt(
        &self,
        t: &Planned,
        n: u32,
        slot: usize,
        port: u16,
        log: &mut File,
    ) -> Result<Option<String>, Failure> {
        let id = t.id.as_str();
        let deadline = t.settings.timeout.and_then(crate::time::deadline);
        let fail = |state: State, code: Option<i32>, detail: String| Failure {
            state,
            exit_code: code,
            detail,
        };
        let internal = |e: anyhow::Error| fail(State::Failed, None, format!("{e:#}"));

        self.progress.phase(id, "worktree");
        if let Some(parent) = t.worktree.parent() {
            std::fs::create_dir_all(parent).map_err(|e| internal(e.into()))?;
        }
        git::run(
            &self.repo.root,
            &[
                "worktree".as_ref(),
                "add".as_ref(),
                "--quiet".as_ref(),
                "--no-checkout".as_ref(),
                "-b".as_ref(),
                t.branch.as_ref(),
                t.worktree.as_os_str(),
                t.base_commit.as_ref(),
            ] as &[&std::ffi::OsStr],
        )
        .map_err(internal)?;
        // The metadata is made under the worktree lock (git races there); the checkout,
        // the slow part, runs outside it and in parallel. `checkout -f` fills index and
        // files as `worktree add` would, with its filters, sparse patterns and
        // post-checkout hook.
        git::run(&t.worktree, &["checkout", "--force", "--quiet"]).map_err(internal)?;
        crate::fault::point("spawn:worktree-added");

        if !t.copy.is_empty() {
            self.progress.phase(id, "copy");
            let limits = copy::Limits::new(
                &self.repo.root,
                &self.repo.common_dir,
                t.worktree.parent().unwrap_or(&t.worktree),
            );
            let st = copy::copy_entries(&self.repo.root, &t.worktree, &t.copy, &limits)
                .map_err(internal)?;
            let _ = writeln!(
                log,
                "==> copy: {} files, {} bytes ({} cloned, {} hard-linked), {} symlinks",
                st.files, st.bytes, st.cloned, st.linked, st.symlinks
            );
        }

        let notes = self.store.notes_path(id);
        let prompt_file = self.store.prompt_path(id);
        let worktree = t.worktree.to_string_lossy().into_owned();
        let mut env = agent::environment(
            &AgentEnv {
                task: id,
                branch: &t.branch,
                worktree: &worktree,
                base: &t.base_name,
                attempt: n,
                notes: &notes.to_string_lossy(),
                port: Some(port),
                index: slot,
                repo_name: &self.repo_name,
            },
            &t.settings.env,
        );

        for cmd in &t.settings.setup {
            self.progress.phase(id, "setup");
            let _ = writeln!(log, "==> setup: {cmd}");
            match self.shell(id, cmd, &t.worktree, &env, deadline, log)? {
                Outcome::Exited(0) => {}
                Outcome::Exited(c) => {
                    return Err(fail(
                        State::Failed,
                        Some(c),
                        format!("setup `{cmd}` exited {c}"),
                    ));
                }
                Outcome::TimedOut => {
                    return Err(fail(State::TimedOut, None, "timed out in setup".into()));
                }
                Outcome::Interrupted => {
                    return Err(fail(State::Interrupted, None, "interrupted".into()));
                }
            }
        }

        self.progress.phase(id, "agent");
        let vars = Vars {
            prompt: &t.prompt,
            prompt_file: &prompt_file.to_string_lossy(),
            task: id,
            branch: &t.branch,
            worktree: &worktree,
            base: &t.base_name,
        };
        let args: Vec<String> = t.agent.template[1..]
            .iter()
            .map(|a| agent::expand(a, &vars))
            .collect();
        env.extend(t.agent.env.iter().cloned());
        let stdin = t
            .agent
            .prompt_on_stdin()
            .then(|| t.prompt.as_bytes().to_vec());
        let _ = writeln!(log, "==> agent: {}", t.agent.template.join(" "));
        let outcome = self.supervised(
            id,
            Job {
                program: t.agent.program.as_os_str(),
                args: &args,
                dir: &t.worktree,
                env: &env,
                stdin,
                deadline,
            },
            log,
        )?;
        if outcome == Outcome::Interrupted {
            return Err(fail(State::Interrupted, None, "interrupted".into()));
        }

        crate::fault::point("spawn:agent-done");
        // What the agent left is committed whatever its exit, so a later retry that
        // discards this worktree discards nothing that is not in a logged commit.
        self.progress.phase(id, "commit");
        self.commit_leftovers(t).map_err(internal)?;
        crate::fault::point("spawn:committed");

        // An agent that left its branch (a detached HEAD, another branch) made commits
        // the branch does not have: keep its worktree as it is, never treat it as empty.
        let tip = self.repo.branch_tip(&t.branch);
        if let Some(head) = git::worktree_head(&t.worktree)
            && Some(head) != tip
        {
            let code = match outcome {
                Outcome::Exited(c) => Some(c),
                _ => None,
            };
            return Err(fail(
                State::Failed,
                code,
                format!(
                    "the agent's work is not on {}: its worktree HEAD is at {}",
                    t.branch,
                    head.to_hex_with_len(12)
                ),
            ));
        }

        match outcome {
            Outcome::Exited(0) => {}
            Outcome::Exited(c) => {
                return Err(fail(State::Failed, Some(c), format!("agent exited {c}")));
            }
            Outcome::TimedOut => return Err(fail(State::TimedOut, None, "timed out".into())),
            Outcome::Interrupted => unreachable!("handled above"),
        }

        let head = self.repo.branch_tip(&t.branch).map(|h| h.to_string());
        if head.as_deref() == Some(t.base_commit.as_str()) {
            return Ok(None); // empty: nothing to check
        }
        let Some(check) = &t.settings.check else {
            return Ok(None);
        };
        self.progress.phase(id, "check");
        let _ = writeln!(log, "==> check: {check}");
        match self.shell(id, check, &t.worktree, &env, deadline, log)? {
            Outcome::Exited(0) => Ok(Some("passed".into())),
            Outcome::Exited(c) => Err(fail(State::Failed, Some(c), format!("check exited {c}"))),
            Outcome::TimedOut => Err(fail(State::TimedOut, None, "timed out in check".into())),
            Outcome::Interrupted => Err(fail(State::Interrupted, None, "interrupted".into())),
        }
    }

    fn shell(
        &self,
        id: &str,
        cmd: &str,
        dir: &Path,
        env: &[(String, String)],
        deadline: Option<Instant>,
        log: &mut File,
    ) -> Result<Outcome, Failure> {
        let args = vec!["-c".to_string(), cmd.to_string()];
        self.supervised(
            id,
            Job {
                program: "sh".as_ref(),
                args: &args,
                dir,
                env,
                stdin: None,
                deadline,
            },
            log,
        )
    }

    /// Run a child with its pid recorded (so others can tell it is alive) and its last
    /// output line on the progress display.
    fn supervised(&self, id: &str, job: Job, log: &mut File) -> Result<Outcome, Failure> {
        let outcome = supervise::run(
            job,
            log,
            |pid| {
                let _ = self.store.update(id, |r| r.child = Some(Proc::of(pid)));
                crate::fault::point("spawn:child-started");
            },
            |line| self.progress.output(id, line),
        );
        let _ = self.store.update(id, |r| r.child = None);
        outcome.map_err(|e| Failure {
            state: State::Failed,
            exit_code: None,
            detail: format!("{e:#}"),
        })
    }

    /// Commit whatever the agent left uncommitted, with the user's identity; files the
    /// task copied in (`copy`) are never part of it.
    fn commit_leftovers(&self, t: &Planned) -> Result<()> {
        let wt = &t.worktree;
        let copied: Vec<String> = t
            .copy
            .iter()
            .map(|e| e.path.display().to_string())
            .collect();
        if !git::stage_all_except(wt, &copied)? {
            return Ok(());
        }
        git::commit_task(wt, &git::subject_of(&t.prompt), t.id.as_str())
    }

    /// Throw away a failed attempt's worktree and branch. First, what cannot be found
    /// again is logged to pruned.log: uncommitted files (committing them may be what
    /// failed) saved as a commit, and each tip with commits beyond the base or that no
    /// other ref reaches. An error here stops before anything is removed.
    fn discard(&self, t: &Planned) -> Result<()> {
        let id = t.id.as_str();
        if let worktree::Found::Linked(a) = worktree::find(&self.repo.common_dir, &t.worktree) {
            // Unreadable status counts as changed: a needless snapshot costs nothing.
            let dirty = git::worktree_changes(&a.worktree, git::Untracked::Count)
                .map_or(true, |c| c.count > 0);
            if dirty {
                let copied: Vec<String> = t
                    .copy
                    .iter()
                    .map(|e| e.path.display().to_string())
                    .collect();
                let msg = format!(
                    "git-agents: uncommitted files of task {id}\n\nSaved before a retry discarded {}.\n",
                    a.worktree.display()
                );
                let sha = worktree::snapshot(&a.worktree, &a, &msg, &copied)
                    .context("cannot save the uncommitted files before the retry")?;
                self.store.log_discarded(id, &t.branch, &sha)?;
            }
        }
        let tip = self.repo.branch_tip(&t.branch);
        // The worktree's HEAD too, when the agent committed off the branch.
        let head = git::worktree_head(&t.worktree).filter(|h| Some(*h) != tip);
        let tips: Vec<gix::ObjectId> = [tip, head].into_iter().flatten().collect();
        let branch_ref = format!("refs/heads/{}", t.branch);
        let unreached = self
            .repo
            .reached_only_by(&tips, std::slice::from_ref(&branch_ref))
            .unwrap_or_else(|_| tips.clone());
        for sha in tips {
            if sha != t.base_commit || unreached.contains(&sha) {
                self.store.log_discarded(id, &t.branch, &sha.to_string())?;
            }
        }
        self.remove_worktree_and_branch(t)
    }

    fn remove_worktree_and_branch(&self, t: &Planned) -> Result<()> {
        let common = &self.repo.common_dir;
        // This worktree's admin dir, also when its directory was deleted by hand.
        let admin = match worktree::find(common, &t.worktree) {
            worktree::Found::Linked(a) => Some(a),
            worktree::Found::Missing => {
                let wt = worktree::canon(&t.worktree);
                worktree::admins(common)
                    .into_iter()
                    .find(|a| a.worktree == wt)
            }
            _ => None,
        };
        // Commits an agent made inside a submodule live in the worktree's admin dir.
        if let Some(a) = &admin {
            let tip = self.repo.branch_tip(&t.branch);
            let head = git::worktree_head(&t.worktree);
            let tips: Vec<gix::ObjectId> = [tip, head].into_iter().flatten().collect();
            crate::modules::keep(common, &self.repo.root, &a.dir, &tips, t.id.as_str(), false)?;
        }
        if t.worktree.exists() {
            git::run(
                &self.repo.root,
                &[
                    "worktree".as_ref(),
                    "remove".as_ref(),
                    "--force".as_ref(),
                    t.worktree.as_os_str(),
                ] as &[&std::ffi::OsStr],
            )?;
        } else if let Some(a) = &admin {
            // Only this worktree's stale metadata: `git worktree prune` would clear every
            // other hand-deleted worktree's too, submodule stores and all.
            let _lock = git::worktree_lock()?;
            std::fs::remove_dir_all(&a.dir)
                .with_context(|| format!("cannot remove {}", a.dir.display()))?;
        }
        if self.repo.branch_exists(&t.branch) {
            git::run(&self.repo.root, &["branch", "-D", "--quiet", &t.branch])?;
        }
        Ok(())
    }

    /// Interrupted before its turn: withdraw the claim so a later spawn runs it.
    fn unclaim(&self, t: &Planned) {
        let id = t.id.as_str();
        let _ = std::fs::remove_file(self.store.record_path(id));
        let _ = std::fs::remove_file(self.store.log_path(id));
        self.progress.done(id, State::Pending, "not started");
    }

    /// An error of ours (not the agent's) ended the task: record it as failed. When even
    /// that cannot be written (a full disk), remember why for the summary; the record
    /// then names a dead owner, which `list` reports as interrupted, never as running.
    fn crashed(&self, t: &Planned, e: &anyhow::Error) {
        let detail = format!("{e:#}");
        let now = crate::time::now();
        let head = self.repo.branch_tip(&t.branch).map(|h| h.to_string());
        let recorded = self.store.update(t.id.as_str(), |r| {
            let running = r
                .attempts
                .iter()
                .rev()
                .find(|a| a.finished_at.is_none())
                .map(|a| a.n);
            let n = running.unwrap_or(0);
            finish(
                r,
                n,
                State::Failed,
                None,
                head.clone(),
                Some(detail.clone()),
                now,
            );
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
                .insert(t.id.to_string(), why);
        }
        self.progress.done(t.id.as_str(), State::Failed, &detail);
    }
}

fn finish(
    r: &mut Record,
    n: u32,
    state: State,
    exit_code: Option<i32>,
    head: Option<String>,
    detail: Option<String>,
    now: u64,
) {
    r.state = state;
    r.exit_code = exit_code;
    r.head = head.clone();
    r.detail = detail.clone();
    r.finished_at = Some(now);
    r.child = None;
    r.port = None;
    if let Some(a) = r.attempts.iter_mut().find(|a| a.n == n) {
        a.state = state;
        a.exit_code = exit_code;
        a.finished_at = Some(now);
        a.head = head;
        a.detail = detail;
    }
}

fn tail_of_log(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    // Only this attempt's part of the log.
    let part = match text.rfind("==> git-agents: ") {
        Some(i) => &text[i..],
        None => &text[..],
    };
    let all: Vec<&str> = part.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn append_notes(path: &Path, n: u32, f: &Failure, tail: &str) -> Result<()> {
    let mut file = crate::store::private_file(path, false)?;
    writeln!(file, "## Attempt {n} failed: {}\n", f.detail)?;
    writeln!(file, "Last lines of its output:\n")?;
    for line in tail.lines() {
        writeln!(file, "    {line}")?;
    }
    writeln!(file)?;
    Ok(())
}

/// Run a task again from `base_commit` in a fresh worktree, as spawn runs it (copy, setup,
/// agent, commit, check, retries): `merge --on-conflict retry`. The task's current
/// branch tip, if it has work on it, is logged to pruned.log before it is replaced.
pub(crate) fn rerun(
    ws: &Workspace,
    progress: &Progress,
    rec: &Record,
    settings: TaskSettings,
    agent: Agent,
    base_commit: String,
    port_range: (u16, u16),
) -> Result<()> {
    let mut copy = Vec::new();
    for c in &settings.copy {
        copy.push(copy::parse_entry(c)?);
    }
    for e in copy::worktreeinclude(&ws.repo.root)? {
        if !copy.iter().any(|c: &copy::Entry| c.path == e.path) {
            copy.push(e);
        }
    }
    let planned = Planned {
        id: TaskId::parse(&rec.id).map_err(Error::usage)?,
        prompt: rec.prompt.clone(),
        settings,
        agent,
        base_name: rec.base.clone(),
        base_commit,
        branch: rec.branch.clone(),
        worktree: rec.worktree.clone(),
        first_attempt: rec
            .attempts
            .iter()
            .map(|a| a.n)
            .max()
            .unwrap_or(0)
            .saturating_add(1),
        copy,
        prior: None,
    };
    let runner = Runner {
        repo: &ws.repo,
        store: &ws.store,
        progress,
        keep_empty: false,
        port_range,
        repo_name: ws.repo.name(),
        unrecorded: Mutex::new(HashMap::new()),
    };
    runner.discard(&planned)?;
    runner.run_guarded(&planned, 0);
    Ok(())
}
