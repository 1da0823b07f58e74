//! Every task git-agents knows of, as the repository shows it (what `list` and `show`
//! display): one row per task known to the store, per worktree or branch of ours that
//! nobody recorded, and per manifest task never spawned.
//!
//! States come from reality, not only from records (see [`report::effective_state`]):
//! a dead driver reads `interrupted`, a vanished worktree or an unrecorded worktree or
//! branch reads `orphaned`, a branch contained in its base reads `merged`. Everything is
//! read in-process through gix, the worktrees in parallel; no `git` process is started.
//! Pruned records are tombstones, shown only with `--all` (or when named), unless a
//! worktree or branch of theirs is still there, which makes them `orphaned`.

use anyhow::Result;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use crate::config::{GitConfig, Global, keys};
use crate::error::Error;
use crate::git::Repo;
use crate::manifest::Manifest;
use crate::report::{self, Live, Target};
use crate::store::{Record, Store};
use crate::task::{State, TaskId};

/// What the rows are read from: the repository, its store, its config and manifest.
pub struct Sources<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    pub git: &'a GitConfig,
    pub manifest: Option<&'a Manifest>,
    pub global: &'a Global,
}

/// One task or stray worktree/branch, with what the repository shows about it.
pub struct Row {
    pub id: String,
    pub state: State,
    pub record: Option<Record>,
    /// The branch (recorded, or found), if any.
    pub branch: Option<String>,
    /// The base as named.
    pub base: Option<String>,
    /// The worktree path (recorded, or found), if any.
    pub worktree: Option<PathBuf>,
    pub target: Target,
    pub live: Live,
    /// When the task was created (ms since the epoch), or the stray worktree last changed.
    pub since: Option<u64>,
}

impl Row {
    pub fn json(&self, store: &Store) -> serde_json::Value {
        let mut v = match &self.record {
            Some(rec) => {
                let mut live = self.live.clone();
                live.state = Some(self.state);
                report::task_json(store, rec, &live)
            }
            None => report::unrecorded_json(
                &self.id,
                self.state,
                self.branch.as_deref(),
                self.base.as_deref(),
                self.worktree.as_deref(),
                &self.live,
            ),
        };
        v["pruned"] = self.record.as_ref().is_some_and(|r| r.pruned).into();
        v
    }
}

/// A path as short as it can be said from where the user stands.
pub fn display_path(p: &Path, cwd: &Path) -> String {
    match p.strip_prefix(cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
        _ => p.display().to_string(),
    }
}

/// What lies under the worktree dir or on a branch with our prefix.
#[derive(Debug, Default)]
struct Stray {
    worktree: Option<PathBuf>,
    branch: Option<String>,
}

/// Every row `list` shows, filtered to `ids` when there are any (an unknown id is a
/// usage error), tombstones only with `all` or when named; looked at in parallel.
pub fn collect(ws: &Sources, ids: &[TaskId], all: bool) -> Result<Vec<Row>> {
    let mut rows = skeleton(ws, ids, all)?;
    fill(ws.repo, &mut rows, |_, _| {});
    Ok(rows)
}

/// The rows as far as they are known without reading any worktree: records, manifest,
/// worktree metadata and branches. States are the records' with what processes and
/// paths show ([`report::effective_state`] without the commits); [`fill`] completes them.
pub fn skeleton(ws: &Sources, ids: &[TaskId], all: bool) -> Result<Vec<Row>> {
    let repo = ws.repo.local();
    let mut strays = strays(&repo, ws.global)?;
    let mut records: HashMap<String, Record> = ws
        .store
        .all()?
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let top_base = ws.manifest.and_then(|m| m.top.base.clone());
    let default_base = ws
        .git
        .get(keys::BASE)
        .map(str::to_string)
        .or(top_base)
        .or_else(|| ws.repo.head_branch());

    let mut rows: Vec<Row> = Vec::new();
    // Many tasks share a base: resolve each once.
    let bases = std::cell::RefCell::new(HashMap::<String, Option<gix::ObjectId>>::new());
    let from_record = |rec: Record, strays: &mut BTreeMap<String, Stray>| {
        let leftover = strays.remove(&rec.id).is_some();
        let base = bases
            .borrow_mut()
            .entry(rec.base.clone())
            .or_insert_with(|| report::resolve_commit(&repo, &rec.base))
            .or_else(|| gix::ObjectId::from_hex(rec.base_commit.as_bytes()).ok());
        let target = Target {
            worktree: Some(rec.worktree.clone()),
            branch: Some(rec.branch.clone()),
            base,
            busy: report::busy(&rec),
        };
        Row {
            id: rec.id.clone(),
            // Set once the repository has been looked at; a tombstone with a worktree or
            // branch left behind is not gone.
            state: if rec.pruned && leftover {
                State::Orphaned
            } else {
                rec.state
            },
            branch: Some(rec.branch.clone()),
            base: Some(rec.base.clone()),
            worktree: Some(rec.worktree.clone()),
            since: Some(rec.created_at),
            target,
            live: Live::default(),
            record: Some(rec),
        }
    };
    // Manifest tasks in manifest order, then other records by age, then strays by id.
    if let Some(m) = ws.manifest {
        for t in &m.tasks {
            let id = t.id.as_str();
            if let Some(rec) = records.remove(id) {
                rows.push(from_record(rec, &mut strays));
            } else if let Some(s) = strays.remove(id) {
                rows.push(stray_row(&repo, id, s, default_base.as_deref()));
            } else {
                rows.push(Row {
                    id: id.to_string(),
                    state: State::Pending,
                    record: None,
                    branch: None,
                    base: t.layer.base.clone().or_else(|| default_base.clone()),
                    worktree: None,
                    target: Target::default(),
                    live: Live::default(),
                    since: None,
                });
            }
        }
    }
    let mut rest: Vec<Record> = records.into_values().collect();
    rest.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    for rec in rest {
        rows.push(from_record(rec, &mut strays));
    }
    for (id, s) in std::mem::take(&mut strays) {
        rows.push(stray_row(&repo, &id, s, default_base.as_deref()));
    }

    if ids.is_empty() {
        rows.retain(|r| all || !is_tombstone(r));
    } else {
        for id in ids {
            if !rows.iter().any(|r| r.id == id.as_str()) {
                return Err(Error::usage(format!(
                    "no task {id:?}: not in the manifest, never spawned, and no worktree or branch of that name"
                ))
                .with_hint("see the tasks with: git agents list --all")
                .into());
            }
        }
        rows.retain(|r| ids.iter().any(|id| id.as_str() == r.id));
    }

    for row in &mut rows {
        if let Some(rec) = &row.record
            && row.state == rec.state
        {
            row.state = report::effective_state(rec, &Live::default());
        }
    }
    Ok(rows)
}

/// Read every row's worktree and branch (in parallel), completing its state, branch and
/// live facts; `done(i, row)` is called as soon as row `i` is complete.
pub fn fill(repo: &Repo, rows: &mut [Row], mut done: impl FnMut(usize, &Row)) {
    let targets: Vec<Target> = rows.iter().map(|r| r.target.clone()).collect();
    report::inspect_each(repo, &targets, |i, live| {
        let row = &mut rows[i];
        if let Some(rec) = &row.record
            && !(rec.pruned && row.state == State::Orphaned)
        {
            row.state = report::effective_state(rec, live);
        }
        if row.branch.is_none() {
            row.branch = live.head_ref.clone();
        }
        row.live = live.clone();
        done(i, row);
    });
}

fn is_tombstone(r: &Row) -> bool {
    r.state != State::Orphaned && r.record.as_ref().is_some_and(|rec| rec.pruned)
}

fn stray_row(repo: &gix::Repository, id: &str, s: Stray, base: Option<&str>) -> Row {
    let since = s
        .worktree
        .as_deref()
        .and_then(|p| std::fs::metadata(p).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_millis() as u64);
    Row {
        id: id.to_string(),
        state: State::Orphaned,
        record: None,
        target: Target {
            worktree: s.worktree.clone(),
            branch: s.branch.clone(),
            base: base.and_then(|b| report::resolve_commit(repo, b)),
            busy: false,
        },
        branch: s.branch,
        base: base.map(str::to_string),
        worktree: s.worktree,
        live: Live::default(),
        since,
    }
}

/// Worktrees under the worktree dir (registered with git or just directories), linked
/// worktrees elsewhere on a branch with our prefix, and branches with our prefix, by
/// task id. Names that are not valid task ids are not ours and are left out.
fn strays(repo: &gix::Repository, global: &Global) -> Result<BTreeMap<String, Stray>> {
    let mut out: BTreeMap<String, Stray> = BTreeMap::new();
    let dir = canonical(&global.worktree_dir);
    let prefix = &global.branch_prefix;
    let valid = |id: &str| TaskId::parse(id).is_ok();

    for wt in repo.worktrees()? {
        let Ok(path) = wt.base() else { continue };
        let branch = std::fs::read_to_string(wt.git_dir().join("HEAD"))
            .ok()
            .and_then(|h| {
                h.trim()
                    .strip_prefix("ref: refs/heads/")
                    .map(str::to_string)
            });
        let in_dir = path.parent().is_some_and(|parent| canonical(parent) == dir);
        let id = if in_dir {
            path.file_name().map(|n| n.to_string_lossy().into_owned())
        } else {
            branch
                .as_deref()
                .and_then(|b| b.strip_prefix(prefix.as_str()))
                .map(str::to_string)
        };
        if let Some(id) = id.filter(|id| valid(id)) {
            let e = out.entry(id).or_default();
            e.worktree = Some(path);
            e.branch = e.branch.take().or(branch);
        }
    }
    if let Ok(entries) = std::fs::read_dir(&global.worktree_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if valid(&name) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let e = out.entry(name).or_default();
                e.worktree.get_or_insert_with(|| entry.path());
            }
        }
    }
    for r in repo.references()?.local_branches()?.flatten() {
        let short = r.name().shorten().to_string();
        if let Some(id) = short.strip_prefix(prefix.as_str())
            && valid(id)
        {
            // The branch named after the task wins over whatever its worktree has out.
            out.entry(id.to_string()).or_default().branch = Some(short.clone());
        }
    }
    Ok(out)
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
