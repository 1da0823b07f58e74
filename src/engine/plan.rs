//! What a spawn will run, resolved and checked before anything is created: each task's
//! id, prompt, settings, agent program, base commit, branch, worktree path and `copy`
//! entries. Anything wrong with the request (manifest, ids, agent programs, base, taken
//! branches or paths, a task that may not run again, disk space) is an error here, and
//! nothing has changed on disk yet.

use anyhow::Result;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::agent::Agent;
use crate::config::{self, AgentChoice, Flags, GitConfig, TaskSettings};
use crate::copy;
use crate::error::Error;
use crate::git::Repo;
use crate::manifest::{Layer, Manifest};
use crate::store::{Record, Store};
use crate::task::TaskId;

/// What a plan reads: the repository, its state store, git config and manifest.
pub struct Sources<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub git: &'a GitConfig,
    pub manifest: Option<&'a Manifest>,
}

/// Which tasks to run: by id from the manifest (none: every task never spawned), or one
/// ad-hoc task with `prompt` (its id derived from the prompt unless one is given).
pub struct Request<'a> {
    pub ids: &'a [String],
    pub prompt: Option<&'a str>,
    /// `--best-of N` / `--agents a,b`.
    pub best_of: Option<&'a super::graph::BestOf>,
}

impl Request<'_> {
    /// "Every manifest task never spawned": tasks another spawn claims meanwhile are its
    /// own, not an error.
    pub fn all_unspawned(&self) -> bool {
        self.ids.is_empty() && self.prompt.is_none()
    }
}

/// A task ready to run: everything resolved and checked.
#[derive(Debug, Clone)]
pub struct Planned {
    pub id: TaskId,
    pub prompt: String,
    pub settings: TaskSettings,
    pub agent: Agent,
    pub base_name: String,
    pub base_commit: String,
    pub branch: String,
    pub worktree: PathBuf,
    /// `copy` entries plus what `.worktreeinclude` selects.
    pub copy: Vec<copy::Entry>,
    /// Number of the first attempt (above 1 when the task runs again).
    pub first_attempt: u32,
    /// The task's record when it is spawned again: its worktree and branch, if still
    /// there, are replaced (what they hold logged to pruned.log first).
    pub prior: Option<Record>,
    /// The tasks (manifest ids) whose work this one starts from.
    pub deps: Vec<String>,
    /// The best-of-N task this is a candidate of.
    pub candidate_of: Option<String>,
    /// A dependency the user did not name, spawned because a task named needs it.
    pub pulled_in: bool,
}

/// Resolve and check every task before anything is created.
pub fn plan(
    src: &Sources,
    req: &Request,
    flags: &Flags,
    global: &config::Global,
) -> Result<Vec<Planned>> {
    let wanted = wanted(src, req, global)?;
    let wanted = super::graph::expand(
        src.manifest,
        src.store,
        !req.ids.is_empty() && req.prompt.is_none(),
        req.all_unspawned(),
        req.best_of,
        wanted,
    )?;
    if global.worktree_dir.exists() && !global.worktree_dir.is_dir() {
        return Err(Error::usage(format!(
            "worktree dir {} exists and is not a directory",
            global.worktree_dir.display()
        ))
        .with_hint("move it away, or set another with: git config agents.worktreeDir <dir>")
        .into());
    }

    let empty = Layer::default();
    let top = src.manifest.map(|m| &m.top).unwrap_or(&empty);
    let repo = src.repo;
    let mut bases: HashMap<String, String> = HashMap::new();
    let include = copy::worktreeinclude(&repo.root)?;
    let limits = copy::Limits::new(&repo.root, &repo.common_dir, &global.worktree_dir);
    let mut out = Vec::new();
    for want in wanted {
        let (id, prompt) = (want.id, want.prompt);
        let layer = want.layer.as_ref();
        let mut own = None;
        if let Some(a) = &want.agent {
            // A candidate's own agent (`agents:`, `--agents`) wins over every level.
            let mut f = flags.clone();
            f.agent = Some(a.clone());
            f.command = None;
            own = Some(f);
        }
        let settings = config::resolve_task(own.as_ref().unwrap_or(flags), layer, src.git, top)?;
        settings.sandbox.check(id.as_str(), &repo.common_dir)?;
        let agent = crate::runner::container_agent(id.as_str(), &settings)
            .unwrap_or_else(|| Agent::resolve(settings.agent.as_ref()))
            .map_err(|e| {
                if let Some(AgentChoice::Command(c)) = &settings.agent {
                    Error::usage(format!(
                        "task {id}: agent program {:?} not found on PATH",
                        c[0]
                    ))
                    .with_hint("check the command, or put the program on PATH")
                } else {
                    e
                }
            })?
            .with_output(settings.output);
        let base_name = match &settings.base {
            Some(b) => b.clone(),
            None => match repo.head_branch() {
                Some(b) => b,
                None => repo
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
                let c = repo
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
        let branch_taken = repo.branch_exists(&branch);
        let path_taken = worktree.exists();
        // Spawning "everything not yet spawned" while another spawn claims the same
        // tasks: whatever it claimed since we listed them is its own, not an error. A
        // claim writes the record before making the branch, so a branch or path seen
        // above that belongs to such a claim always has its record by now.
        if req.all_unspawned() && !want.resume && src.store.record_path(id.as_str()).exists() {
            continue;
        }
        let prior = src.store.load(id.as_str())?;
        if let Some(rec) = &prior {
            super::respawn::check(repo, src.store, rec)?;
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
        // An entry that would copy through a symlink is refused now, before anything
        // is created, when the main checkout or the base commit shows it.
        let in_base = repo.tree_kinds(&base_commit);
        let mut vetted = Vec::new();
        for e in copy::merge_entries(&settings.copy, &include)? {
            if copy::vet(&repo.root, &e, &limits, &in_base)? {
                vetted.push(e);
            }
        }
        out.push(Planned {
            id,
            prompt,
            settings,
            agent,
            base_name,
            base_commit,
            branch,
            worktree,
            copy: vetted,
            first_attempt: next_attempt(prior.as_ref()),
            prior,
            deps: want.deps,
            candidate_of: want.candidate_of,
            pulled_in: want.pulled_in,
        });
    }
    Ok(out)
}

/// The number of a task's next attempt. Saturating: retries are capped, but a
/// hand-edited record's attempt numbers are not.
pub fn next_attempt(rec: Option<&Record>) -> u32 {
    rec.and_then(|r| r.attempts.iter().map(|a| a.n).max())
        .unwrap_or(0)
        .saturating_add(1)
}

/// The tasks asked for: (id, prompt, the task's manifest layer).
fn wanted<'m>(
    src: &Sources<'m>,
    req: &Request,
    global: &config::Global,
) -> Result<Vec<(TaskId, String, Option<&'m Layer>)>> {
    let mut wanted = Vec::new();
    if let Some(prompt) = req.prompt {
        if prompt.trim().is_empty() {
            return Err(Error::usage("the prompt given with -p is empty").into());
        }
        if req.ids.len() > 1 {
            return Err(
                Error::usage("-p/--prompt runs one ad-hoc task: give at most one ID")
                    .with_hint("put several tasks in agents.yaml instead")
                    .into(),
            );
        }
        let in_manifest = |id: &str| src.manifest.is_some_and(|m| m.task(id).is_some());
        let id = match req.ids.first() {
            Some(id) => {
                let id = TaskId::parse(id).map_err(Error::usage)?;
                if in_manifest(id.as_str()) {
                    return Err(Error::usage(format!(
                        "task {id:?} is in the manifest; -p is for tasks that are not"
                    ))
                    .with_hint(format!("run it with: git agents spawn {id}"))
                    .into());
                }
                let exists = src.store.record_path(id.as_str()).exists()
                    || !super::candidates::members(src.store, id.as_str()).is_empty();
                if req.best_of.is_some() && exists {
                    return Err(Error::usage(format!(
                        "task {id} exists already; best-of-N with -p starts a new task"
                    ))
                    .with_hint("give -p another id, or none to have one made from the prompt")
                    .into());
                }
                id
            }
            None => TaskId::slug(prompt, |s| {
                in_manifest(s)
                    || src.store.record_path(s).exists()
                    || !super::candidates::members(src.store, s).is_empty()
                    || src
                        .repo
                        .branch_exists(&format!("{}{s}", global.branch_prefix))
                    || global.worktree_dir.join(s).exists()
            }),
        };
        wanted.push((id, prompt.to_string(), None));
        return Ok(wanted);
    }
    let Some(m) = src.manifest else {
        return Err(Error::usage(
            "no manifest found (agents.yaml or .agents.yaml at the repository root)",
        )
        .with_hint("write one (see README), or run one task with: git agents spawn -p \"PROMPT\"")
        .into());
    };
    if req.ids.is_empty() {
        for t in &m.tasks {
            if src.store.record_path(t.id.as_str()).exists() {
                continue;
            }
            wanted.push((t.id.clone(), t.prompt.clone(), Some(&t.layer)));
        }
        return Ok(wanted);
    }
    let mut seen = HashSet::new();
    for raw in req.ids {
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
    Ok(wanted)
}

/// Refuse when the new checkouts would bring free space under `agents.minFreeDisk`.
/// The estimate is the size of the files in the index, once per task (copies made with
/// `copy` are not counted: they may be clones or links).
pub fn check_disk(repo: &Repo, global: &config::Global, tasks: usize) -> Result<()> {
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

impl Planned {
    /// A task to run again from `base_commit` as its record describes it (merge's
    /// `--on-conflict retry`): its attempts go on after its last one, and its `copy`
    /// entries and `.worktreeinclude` are read again.
    pub fn again(
        root: &Path,
        rec: &Record,
        settings: TaskSettings,
        agent: Agent,
        base_commit: String,
    ) -> Result<Planned> {
        Ok(Planned {
            id: TaskId::parse(&rec.id).map_err(Error::usage)?,
            prompt: rec.prompt.clone(),
            copy: copy::task_entries(root, &settings.copy)?,
            settings,
            agent,
            base_name: rec.base.clone(),
            base_commit,
            branch: rec.branch.clone(),
            worktree: rec.worktree.clone(),
            first_attempt: next_attempt(Some(rec)),
            prior: None,
            deps: rec.graph.depends_on.clone(),
            candidate_of: rec.graph.candidate_of.clone(),
            pulled_in: false,
        })
    }
}
