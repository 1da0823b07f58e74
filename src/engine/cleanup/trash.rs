//! Deleting worktrees without keeping anyone waiting.
//!
//! A removed worktree is first renamed into `<git common dir>/agents/trash/<batch>/`
//! (one rename: instant, and the path is free again at once), then a detached `rm -rf`
//! deletes the batch in the background. Each batch has a `<batch>.pid` file naming the
//! live process responsible for it: the prune that fills it, then the `rm` that empties
//! it. A batch whose process is gone (a crash, a reboot, a killed `rm`) is leftover
//! trash, and the next run hands it to its own background `rm`.
//!
//! Invariant: nothing enters the trash that was not first found safe to delete (or
//! forced and logged) by the caller.

use anyhow::{Context as _, Result};
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::store::{Proc, Store};

pub struct Trash {
    dir: PathBuf,
    /// This run's batch, created on first use.
    batch: Mutex<Option<PathBuf>>,
    n: AtomicUsize,
}

/// Where a moved path went.
#[derive(Debug)]
pub enum Moved {
    /// Into the trash: deleted in the background.
    Trash(PathBuf),
    /// The trash is on another filesystem, so the path was deleted on the spot.
    Deleted,
}

impl Trash {
    pub fn new(store: &Store) -> Trash {
        Trash {
            dir: store.dir.join("trash"),
            batch: Mutex::new(None),
            n: AtomicUsize::new(0),
        }
    }

    fn batch(&self) -> Result<PathBuf> {
        let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(b) = &*batch {
            return Ok(b.clone());
        }
        crate::store::private_dir(&self.dir)?;
        let me = Proc::current();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let b = self.dir.join(format!("{}-{nanos}", me.pid));
        // Claim the batch before it exists, so a concurrent run never takes it for
        // leftover trash while this one is filling it.
        write_owner(&b, me)?;
        crate::store::private_dir(&b)?;
        *batch = Some(b.clone());
        Ok(b)
    }

    /// Move `path` out of the way. `name` labels it inside the batch.
    pub fn take(&self, path: &Path, name: &str) -> Result<Moved> {
        let batch = self.batch()?;
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        let dest = batch.join(format!("{n}-{name}"));
        let _lock = crate::git::worktree_lock()?;
        match fs::rename(path, &dest) {
            Ok(()) => Ok(Moved::Trash(dest)),
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                // Another filesystem: a rename cannot move it; deleting in place is
                // what `git worktree remove` would do anyway.
                remove_path(path)?;
                Ok(Moved::Deleted)
            }
            Err(e) => {
                Err(e).with_context(|| format!("cannot move {} into the trash", path.display()))
            }
        }
    }

    /// Batches no live process is responsible for.
    pub fn leftovers(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mine = self.batch.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut out = Vec::new();
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "pid") {
                if !path.with_extension("").exists() {
                    let _ = fs::remove_file(&path); // its batch is gone: finished
                }
                continue;
            }
            if Some(&path) == mine.as_ref() {
                continue;
            }
            if read_owner(&path).is_some_and(|p| p.is_alive()) {
                continue;
            }
            out.push(path);
        }
        out.sort();
        out
    }

    /// Delete this run's batch and `leftovers` in a detached background process that
    /// outlives us. Without `rm` on the PATH, delete them here and now.
    pub fn empty_in_background(&self, leftovers: Vec<PathBuf>) -> Result<()> {
        let mut paths = leftovers;
        if let Some(b) = self.batch.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            paths.push(b);
        }
        if paths.is_empty() {
            return Ok(());
        }
        let mut cmd = Command::new("rm");
        cmd.arg("-rf")
            .arg("--")
            .args(&paths)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: setsid and nice are async-signal-safe system calls. A session of its
        // own keeps the terminal's signals (Ctrl-C, hang-up) away from the deletion.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::nice(10);
                Ok(())
            });
        }
        match cmd.spawn() {
            Ok(child) => {
                let owner = Proc::of(child.id());
                for p in &paths {
                    let _ = write_owner(p, owner);
                }
                // Not waited for: once we exit, init reaps it.
                drop(child);
            }
            Err(_) => {
                for p in &paths {
                    remove_path(p)?;
                    let _ = fs::remove_file(pid_file(p));
                }
            }
        }
        Ok(())
    }
}

fn pid_file(batch: &Path) -> PathBuf {
    batch.with_extension("pid")
}

fn write_owner(batch: &Path, p: Proc) -> Result<()> {
    crate::store::write_atomic(
        &pid_file(batch),
        format!("{} {}\n", p.pid, p.start).as_bytes(),
    )
}

fn read_owner(batch: &Path) -> Option<Proc> {
    let text = fs::read_to_string(pid_file(batch)).ok()?;
    let mut it = text.split_whitespace();
    Some(Proc {
        pid: it.next()?.parse().ok()?,
        start: it.next()?.parse().ok()?,
    })
}

/// Delete a file or directory tree (symlinks are removed, never followed).
fn remove_path(path: &Path) -> Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if meta.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
    .with_context(|| format!("cannot delete {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_moves_and_background_empties() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let trash = Trash::new(&store);
        let victim = tmp.path().join("wt");
        fs::create_dir_all(victim.join("a/b")).unwrap();
        fs::write(victim.join("a/b/f"), "x").unwrap();
        let Moved::Trash(dest) = trash.take(&victim, "wt").unwrap() else {
            panic!("same filesystem: must be a rename");
        };
        assert!(!victim.exists());
        assert!(dest.join("a/b/f").is_file());
        // Our own batch is never leftover trash.
        assert!(trash.leftovers().is_empty());

        // A batch whose owner is dead is leftover.
        let stale = store.dir.join("trash/1-1");
        fs::create_dir_all(stale.join("x")).unwrap();
        write_owner(&stale, Proc { pid: 0, start: 0 }).unwrap();
        assert_eq!(trash.leftovers(), vec![stale.clone()]);

        trash.empty_in_background(trash.leftovers()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while dest.exists() || stale.exists() {
            assert!(std::time::Instant::now() < deadline, "trash not emptied");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
