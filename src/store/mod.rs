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

mod files;
mod port;
mod proc;
mod record;

pub use files::{Lock, lock_file, private_dir, private_file, write_atomic};
pub use port::PortClaim;
pub use proc::Proc;
pub use record::{Attempt, Graph, RECORD_VERSION, Record};

use anyhow::{Context as _, Result};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::Error;

pub struct Store {
    pub dir: PathBuf,
    /// Records already parsed by [`Store::all`], by file name, with the identity of the
    /// file they came from: records are only ever replaced by a rename, so a file with
    /// the same inode, size and mtime holds the same record. The inode alone would not
    /// tell (a file system hands a freed one out again at once), nor would its tick-coarse
    /// mtime: `write_atomic` stamps each write with the clock's nanoseconds. A batch of
    /// hundreds of tasks reads them all many times (each port claim, each scheduling
    /// pass).
    seen: Mutex<HashMap<std::ffi::OsString, (FileId, Record)>>,
}

/// What tells one version of a record file from another.
#[derive(Clone, Copy, PartialEq, Eq)]
struct FileId {
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl FileId {
    fn of(m: &fs::Metadata) -> FileId {
        use std::os::unix::fs::MetadataExt;
        FileId {
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
        }
    }
}

impl Store {
    pub fn new(common_dir: &Path) -> Store {
        Store {
            dir: common_dir.join("agents"),
            seen: Mutex::new(HashMap::new()),
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
        Ok(self.read(id)?.map(|(_, rec)| rec))
    }

    /// A record and the bytes it was read from; `None` when there is none.
    fn read(&self, id: &str) -> Result<Option<(Vec<u8>, Record)>> {
        let path = self.record_path(id);
        match fs::read(&path) {
            Ok(bytes) => {
                let rec = serde_json::from_slice(&bytes)
                    .with_context(|| format!("corrupt task record {}", path.display()))?;
                Ok(Some((bytes, rec)))
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
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for entry in entries {
            let entry = entry?;
            let file_name = entry.file_name();
            let name = file_name.to_string_lossy();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let file = FileId::of(&meta);
            if let Some((f, r)) = seen.get(&file_name)
                && *f == file
            {
                out.push(r.clone());
                continue;
            }
            if let Ok(Some(r)) = self.load(id) {
                // Cached under the identity seen before reading: if the file was
                // replaced in between, the next call sees a new identity and reads again.
                seen.insert(file_name.clone(), (file, r.clone()));
                out.push(r);
            }
        }
        drop(seen);
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    /// Write a record atomically: a reader sees the old or the new one, never half.
    pub fn save(&self, rec: &Record) -> Result<()> {
        self.write_record(&rec.id, &serde_json::to_vec_pretty(rec)?)
    }

    fn write_record(&self, id: &str, bytes: &[u8]) -> Result<()> {
        self.ensure_dir("tasks")?;
        write_atomic(&self.record_path(id), bytes)
    }

    /// Load, change and save one record under the lock. A change that changes nothing
    /// writes nothing (each write is a new file, and a batch makes thousands).
    pub fn update(&self, id: &str, f: impl FnOnce(&mut Record)) -> Result<Record> {
        let _lock = self.lock()?;
        let (before, mut rec) = self
            .read(id)?
            .with_context(|| format!("task record {id} disappeared"))?;
        f(&mut rec);
        let after = serde_json::to_vec_pretty(&rec)?;
        if after != before {
            self.write_record(id, &after)?;
        }
        Ok(rec)
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

    fn record(id: &str) -> Record {
        serde_json::from_value(serde_json::json!({
            "version": 1, "id": id, "state": "pending", "branch": "agent/t", "base": "main",
            "base_commit": "b", "worktree": "/w/t", "prompt": "p", "command": ["a"],
            "check": null, "exit_code": null, "head": null, "created_at": 1,
            "started_at": null, "finished_at": null, "owner": null, "child": null
        }))
        .unwrap()
    }

    #[test]
    fn all_sees_every_change_to_a_record_it_read_before() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path());
        store.save(&record("a")).unwrap();
        store.save(&record("b")).unwrap();
        assert_eq!(store.all().unwrap().len(), 2);
        // Same length, same second: only the file's identity tells them apart.
        for port in [20001, 20002, 20003] {
            store.update("a", |r| r.port = Some(port)).unwrap();
            let a = store.all().unwrap().into_iter().find(|r| r.id == "a");
            assert_eq!(a.unwrap().port, Some(port));
        }
        // Two writes between reads: the file system may give the second the inode the
        // first replaced, within the same clock tick, at the same length.
        for round in 0..50 {
            store.update("a", |r| r.port = Some(30000 + round)).unwrap();
            let a = store.all().unwrap().into_iter().find(|r| r.id == "a");
            assert_eq!(a.unwrap().port, Some(30000 + round));
            store.update("a", |r| r.port = Some(31000 + round)).unwrap();
            store.update("a", |r| r.port = Some(32000 + round)).unwrap();
            let a = store.all().unwrap().into_iter().find(|r| r.id == "a");
            assert_eq!(a.unwrap().port, Some(32000 + round), "round {round}");
        }
        // Written behind the store's back (another process), then removed.
        let mut c = record("c");
        c.prompt = "from elsewhere".into();
        let other = Store::new(dir.path());
        other.save(&c).unwrap();
        let all = store.all().unwrap();
        assert_eq!(
            all.iter().find(|r| r.id == "c").unwrap().prompt,
            "from elsewhere"
        );
        std::fs::remove_file(store.record_path("b")).unwrap();
        let ids: Vec<String> = store.all().unwrap().into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["a", "c"]);
    }
}
