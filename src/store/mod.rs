//! Orchestrator state under `<git common dir>/agents/`, shared by every worktree and
//! never tracked:
//!
//! ```text
//! agents/lock            flock(2) held for every read-modify-write of records
//! agents/tasks/ID.json   one record per task (written to a temp file, then renamed)
//! agents/logs/ID.log     everything the task's setup, agent and check printed
//! agents/notes/ID.md     notes that survive retries (failure tails land here)
//! agents/prompts/ID.md   the prompt, for `{prompt_file}`
//! agents/pruned.log      branch tips discarded on purpose: `time id branch sha`
//! agents/events/B.ndjson what happened in batch B, one JSON event a line (engine::events)
//! ```
//!
//! Everything here is private to the user whatever the umask (dirs 0700, files 0600):
//! logs, notes and prompts may hold secrets. Every directory and file under the state dir
//! is created through [`private_dir`], [`private_file`] or [`write_atomic`].
//!
//! A record holds the pid and kernel start time of the process driving the task and of
//! the agent itself, so any other process can tell a live task from a dead one even
//! after pid reuse.

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::task::State;

pub const RECORD_VERSION: u32 = 1;

/// A process identity that survives pid reuse: pid plus its kernel start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    pub pid: u32,
    pub start: u64,
}

impl Proc {
    pub fn current() -> Proc {
        let pid = std::process::id();
        Proc {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    pub fn of(pid: u32) -> Proc {
        Proc {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// Whether this very process is still running (a zombie counts as gone).
    pub fn is_alive(&self) -> bool {
        if self.pid == 0 {
            return false;
        }
        match proc_stat(self.pid) {
            Some((state, start)) => state != 'Z' && (self.start == 0 || start == self.start),
            None => {
                if Path::new("/proc/self/stat").exists() {
                    return false;
                }
                // No procfs (macOS): the best we have is whether the pid exists.
                // SAFETY: kill with signal 0 only checks for existence and permission.
                unsafe { libc::kill(self.pid as libc::pid_t, 0) == 0 }
            }
        }
    }
}

impl Proc {
    /// Whether this process, or any process still in the process group it led, runs.
    /// An agent's leader may be gone while a command it started still works in the
    /// worktree.
    pub fn group_alive(&self) -> bool {
        if self.is_alive() {
            return true;
        }
        // SAFETY: signal 0 to a process group only checks that it exists.
        self.pid != 0 && unsafe { libc::kill(-(self.pid as libc::pid_t), 0) } == 0
    }
}

fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the file (starttime) is the 20th after the name.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(_, s)| s)
}

/// One attempt at a task.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub n: u32,
    pub started_at: u64,
    pub finished_at: Option<u64>,
    pub state: State,
    pub exit_code: Option<i32>,
    /// The branch tip when the attempt ended (kept even when a retry discards it).
    pub head: Option<String>,
    /// Which phase failed, and a short reason.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub id: String,
    pub state: State,
    pub branch: String,
    /// The base as named (`main`).
    pub base: String,
    /// The commit the task's worktree started from.
    pub base_commit: String,
    pub worktree: PathBuf,
    pub prompt: String,
    /// The agent command template that runs.
    pub command: Vec<String>,
    #[serde(default)]
    pub check_command: Option<String>,
    /// `passed`, `failed`, or none when no check ran.
    pub check: Option<String>,
    pub exit_code: Option<i32>,
    pub head: Option<String>,
    pub created_at: u64,
    pub started_at: Option<u64>,
    pub finished_at: Option<u64>,
    #[serde(default)]
    pub attempts: Vec<Attempt>,
    /// The git-agents process that drives the task while it is pending or running.
    pub owner: Option<Proc>,
    /// The agent (or setup/check) process group leader while one runs.
    pub child: Option<Proc>,
    #[serde(default)]
    pub port: Option<u16>,
    #[serde(default)]
    pub detail: Option<String>,
    /// Pruned: kept as a tombstone so a plain `spawn` does not run the task again.
    #[serde(default)]
    pub pruned: bool,
    #[serde(default)]
    pub pr_url: Option<String>,
    /// When `merge` landed the task, the commit that holds it, and the branch it went into.
    #[serde(default)]
    pub merged_at: Option<u64>,
    #[serde(default)]
    pub merged_commit: Option<String>,
    #[serde(default)]
    pub merged_into: Option<String>,
    /// Paths that conflicted the last time `merge` tried the task.
    #[serde(default)]
    pub conflicts: Vec<String>,
    /// `passed` or `failed`: the check `merge` ran on the merged result.
    #[serde(default)]
    pub merge_check: Option<String>,
    /// The batch that last ran the task: its events are in `events/<batch>.ndjson`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

impl Record {
    /// Whether the process driving this task is still alive.
    pub fn owner_alive(&self) -> bool {
        self.owner.is_some_and(|p| p.is_alive())
    }

    /// The recorded state corrected for a dead driver: a pending or running task whose
    /// git-agents process is gone (crash, `kill -9`) was interrupted.
    pub fn process_state(&self) -> State {
        match self.state {
            State::Pending | State::Running if self.owner_alive() => self.state,
            State::Pending | State::Running => State::Interrupted,
            s => s,
        }
    }

    /// Whether the agent, or anything still in the process group it led, runs.
    pub fn agent_alive(&self) -> bool {
        self.child.is_some_and(|c| c.group_alive())
    }
}

pub struct Store {
    pub dir: PathBuf,
}

/// Holds the store lock until dropped.
pub struct Lock {
    _file: File,
}

impl Store {
    pub fn new(common_dir: &Path) -> Store {
        Store {
            dir: common_dir.join("agents"),
        }
    }

    fn ensure_dir(&self, sub: &str) -> Result<PathBuf> {
        let d = if sub.is_empty() {
            self.dir.clone()
        } else {
            self.dir.join(sub)
        };
        private_dir(&d)?;
        Ok(d)
    }

    /// Take the store lock, waiting up to `GIT_AGENTS_LOCK_TIMEOUT` seconds (default 30);
    /// a lock that stays held is reported, never waited on forever.
    pub fn lock(&self) -> Result<Lock> {
        self.ensure_dir("")?;
        lock_file(&self.dir.join("lock"))
    }

    pub fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join("tasks").join(format!("{id}.json"))
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{id}.log"))
    }
    pub fn notes_path(&self, id: &str) -> PathBuf {
        self.dir.join("notes").join(format!("{id}.md"))
    }
    pub fn prompt_path(&self, id: &str) -> PathBuf {
        self.dir.join("prompts").join(format!("{id}.md"))
    }
    pub fn pruned_log(&self) -> PathBuf {
        self.dir.join("pruned.log")
    }

    /// A task's log, opened for appending (created private if new).
    pub fn open_log(&self, id: &str) -> Result<File> {
        self.ensure_dir("logs")?;
        private_file(&self.log_path(id), false)
    }

    /// Create the directories a running task writes into.
    pub fn prepare(&self) -> Result<()> {
        for sub in ["tasks", "logs", "notes", "prompts"] {
            self.ensure_dir(sub)?;
        }
        Ok(())
    }

    pub fn load(&self, id: &str) -> Result<Option<Record>> {
        let path = self.record_path(id);
        match fs::read(&path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("corrupt task record {}", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Every record, sorted by creation time then id. Unreadable records are skipped
    /// with their error returned alongside, so one bad file never hides the rest.
    pub fn all(&self) -> Result<Vec<Record>> {
        let dir = self.dir.join("tasks");
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if let Some(id) = name.strip_suffix(".json")
                && let Ok(Some(r)) = self.load(id)
            {
                out.push(r);
            }
        }
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    /// Write a record atomically: a reader sees the old or the new one, never half.
    pub fn save(&self, rec: &Record) -> Result<()> {
        self.ensure_dir("tasks")?;
        let path = self.record_path(&rec.id);
        let bytes = serde_json::to_vec_pretty(rec)?;
        write_atomic(&path, &bytes)
    }

    /// Load, change and save one record under the lock.
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Record)) -> Result<Record> {
        let _lock = self.lock()?;
        let mut rec = self
            .load(id)?
            .with_context(|| format!("task record {id} disappeared"))?;
        f(&mut rec);
        self.save(&rec)?;
        Ok(rec)
    }

    /// Reserve a port for a task that is starting: one no live running task holds and
    /// that binds on 127.0.0.1 right now; written into the task's record under the lock,
    /// so two processes never hand out the same one.
    pub fn reserve_port(&self, id: &str, range: (u16, u16)) -> Result<PortClaim> {
        let _lock = self.lock()?;
        let held: std::collections::HashSet<u16> = self
            .all()?
            .iter()
            .filter(|r| r.id != id && r.owner_alive())
            .filter_map(|r| r.port)
            .filter(|p| (range.0..=range.1).contains(p))
            .collect();
        let size = u32::from(range.1 - range.0) + 1;
        // Start from a spot derived from the id so tasks tend to keep their port.
        let start = id.bytes().fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        }) % size;
        for i in 0..size {
            let port = range.0 + ((start + i) % size) as u16;
            if held.contains(&port) || std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            if let Some(mut rec) = self.load(id)? {
                rec.port = Some(port);
                self.save(&rec)?;
            }
            return Ok(PortClaim::Got(port));
        }
        Ok(if held.is_empty() {
            PortClaim::Unavailable
        } else {
            PortClaim::Busy
        })
    }

    /// Reserve a port, waiting while every free one is held by other running tasks
    /// (they give theirs back when they end). Fails with the reason when no task holds
    /// one and none binds (other programs use them all), or when `give_up` says so
    /// (Ctrl-C, a deadline): an agent never starts without its port.
    pub fn wait_for_port(
        &self,
        id: &str,
        range: (u16, u16),
        mut waiting: impl FnMut(),
        give_up: impl Fn() -> Option<String>,
    ) -> Result<u16> {
        let shown = if range.0 == range.1 {
            range.0.to_string()
        } else {
            format!("{}-{}", range.0, range.1)
        };
        let mut told = false;
        loop {
            match self.reserve_port(id, range)? {
                PortClaim::Got(p) => return Ok(p),
                PortClaim::Unavailable => {
                    return Err(Error::refused(format!(
                        "no free port for task {id}: every port of agents.portRange {shown} is in use by other programs"
                    ))
                    .with_hint("free one, or widen the range: git config agents.portRange 20000-29999")
                    .into());
                }
                PortClaim::Busy => {}
            }
            if let Some(why) = give_up() {
                return Err(Error::refused(format!(
                    "no free port for task {id} in agents.portRange {shown}: {why}"
                ))
                .into());
            }
            if !told {
                waiting();
                told = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    /// Record a branch tip that is being discarded, so `git branch NAME SHA` can bring
    /// it back.
    pub fn log_discarded(&self, id: &str, branch: &str, sha: &str) -> Result<()> {
        self.ensure_dir("")?;
        let mut f = private_file(&self.pruned_log(), false)?;
        // One write per line: with O_APPEND, concurrent writers never interleave.
        let line = format!(
            "{} {id} {branch} {sha}\n",
            crate::time::rfc3339(crate::time::now())
        );
        f.write_all(line.as_bytes())?;
        f.sync_data()?;
        Ok(())
    }
}

/// Create `dir` and its missing parents readable by the user alone (0700) whatever the
/// umask; an existing one left open by an older version is closed.
pub fn private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {
            if m.permissions().mode() & 0o077 != 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("cannot make {} private", dir.display()))?;
            }
            Ok(())
        }
        _ => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display())),
    }
}

/// What [`Store::reserve_port`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortClaim {
    Got(u16),
    /// Every free port is held by another live task: one comes free when it ends.
    Busy,
    /// No task holds a port of the range and none binds: waiting would not help.
    Unavailable,
}

/// Open for appending (or truncate), readable by the user alone whatever the umask:
/// logs and notes may hold what an agent printed about secrets.
pub fn private_file(path: &Path, truncate: bool) -> Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).mode(0o600);
    if truncate {
        o.write(true).truncate(true);
    } else {
        o.append(true);
    }
    let file = o
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    close_up(&file, path)?;
    Ok(file)
}

/// The mode given at creation does not apply to a file that already existed.
fn close_up(file: &File, path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(mode & 0o700))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    Ok(())
}

/// Take an exclusive flock on `path` (created if needed), waiting up to
/// `GIT_AGENTS_LOCK_TIMEOUT` seconds (default 30); a lock that stays held is reported,
/// never waited on forever. flock belongs to the open file, so this also excludes other
/// threads of this process.
pub fn lock_file(path: &Path) -> Result<Lock> {
    let limit = std::env::var("GIT_AGENTS_LOCK_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(30);
    lock_file_within(path, limit)
}

fn lock_file_within(path: &Path, limit: u64) -> Result<Lock> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    close_up(&file, path)?;
    // A limit too large for the clock means no limit, never a panic.
    let deadline = crate::time::deadline(Duration::from_secs(limit));
    loop {
        // SAFETY: flock on a file descriptor we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(Lock { _file: file });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            return Err(err).context("cannot lock the git-agents state");
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Error::refused(format!(
                "another git agents process has held {} for {limit}s",
                path.display()
            ))
            .with_hint("wait for it to finish, or raise GIT_AGENTS_LOCK_TIMEOUT")
            .into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Write `bytes` to `path` through a temp file in the same directory and a rename. On
/// any failure (a full disk, say) the temp file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().context("path without a parent")?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> Result<()> {
        let mut f = private_file(&tmp, true)?;
        if crate::fault::disk_full() {
            // As a real full disk does: part of the data lands, then ENOSPC.
            f.write_all(&bytes[..bytes.len() / 2])?;
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC).into());
        }
        f.write_all(bytes)?;
        f.sync_data()?;
        drop(f);
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e.context(format!("cannot write {}", path.display())));
    }
    Ok(())
}

// Stop requests (`git agents stop` → the supervisor of a task; see `engine::stop`).
impl Store {
    /// `agents/stop/ID.json`: written by `git agents stop` for a task whose supervisor
    /// lives, read by that supervisor before and after each job it runs.
    pub fn stop_request_path(&self, id: &str) -> PathBuf {
        self.dir.join("stop").join(format!("{id}.json"))
    }

    /// Write a stop request (private, atomically).
    pub fn write_stop_request(&self, id: &str, bytes: &[u8]) -> Result<()> {
        // The id comes from a record's content, not its file name: it must name a file
        // under stop/ and nothing else.
        crate::task::TaskId::parse(id).map_err(Error::usage)?;
        self.ensure_dir("stop")?;
        write_atomic(&self.stop_request_path(id), bytes)
    }

    /// The `batch` a task's record names, if any: read from the file as it is, so records
    /// written before (or by versions without) that field simply have none.
    pub fn batch_of(&self, id: &str) -> Option<String> {
        let bytes = fs::read(self.record_path(id)).ok()?;
        let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        let b = v.get("batch")?.as_str()?;
        // It names a file under the state dir: nothing that could leave it.
        let safe = !b.is_empty()
            && !b.starts_with('.')
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
        safe.then(|| b.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness() {
        let me = Proc::current();
        assert!(me.is_alive());
        let wrong_start = Proc {
            pid: me.pid,
            start: me.start + 1,
        };
        if Path::new("/proc/self/stat").exists() {
            assert!(!wrong_start.is_alive());
        }
        assert!(!Proc { pid: 0, start: 0 }.is_alive());
    }

    #[test]
    fn lock_excludes_and_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        let held = store.lock().unwrap();
        // flock locks belong to the open file description: a second open conflicts.
        let path = store.dir.join("lock");
        let err = lock_file_within(&path, 0)
            .err()
            .expect("second lock must fail");
        assert!(err.to_string().contains("another git agents process"));
        drop(held);
        assert!(lock_file_within(&path, 0).is_ok());
    }
}
