//! Files under the state dir: created private (dirs 0700, files 0600) whatever the
//! umask, written atomically, and locked with flock(2) within a time limit.

use anyhow::{Context as _, Result};
use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::error::Error;

/// Holds the store lock until dropped.
pub struct Lock {
    file: File,
    path: PathBuf,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlock before letting the next thread of this process in, so it finds the
        // flock free rather than napping on it.
        // SAFETY: flock on a file descriptor we own.
        unsafe { libc::flock(self.file.as_raw_fd(), libc::LOCK_UN) };
        Gate::get().leave(&self.path);
    }
}

/// The threads of this process queue for a lock here, woken as soon as it is given
/// back; only the one at the front polls flock, against other processes. Without it,
/// forty threads of one spawn would each nap and retry.
struct Gate {
    held: Mutex<HashSet<PathBuf>>,
    freed: Condvar,
}

impl Gate {
    fn get() -> &'static Gate {
        static GATE: OnceLock<Gate> = OnceLock::new();
        GATE.get_or_init(|| Gate {
            held: Mutex::new(HashSet::new()),
            freed: Condvar::new(),
        })
    }

    /// Wait until no other thread of this process holds `path` (false: `deadline`
    /// passed first), then hold it.
    fn enter(&self, path: &Path, deadline: Option<Instant>) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        while held.contains(path) {
            held = match deadline {
                None => self.freed.wait(held).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.freed
                        .wait_timeout(held, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        held.insert(path.to_path_buf());
        true
    }

    fn leave(&self, path: &Path) {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.remove(path);
        drop(held);
        self.freed.notify_all();
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
    let held_too_long = || -> anyhow::Error {
        Error::refused(format!(
            "another git agents process has held {} for {limit}s",
            path.display()
        ))
        .with_hint("wait for it to finish, or raise GIT_AGENTS_LOCK_TIMEOUT")
        .into()
    };
    let gate = Gate::get();
    if !gate.enter(path, deadline) {
        return Err(held_too_long());
    }
    loop {
        // SAFETY: flock on a file descriptor we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r == 0 {
            return Ok(Lock {
                file,
                path: path.to_path_buf(),
            });
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
            gate.leave(path);
            return Err(err).context("cannot lock the git-agents state");
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            gate.leave(path);
            return Err(held_too_long());
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
        // The clock's own nanoseconds, not the file system's tick: with the inode (which
        // the next write may be given again) and the length, this is what tells a
        // cached read of the file (`Store::all`) that it changed.
        f.set_modified(std::time::SystemTime::now())?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

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

#[cfg(test)]
mod gate_tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    #[test]
    fn threads_of_one_process_take_the_lock_one_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let inside = AtomicBool::new(false);
        let turns = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        let _held = lock_file_within(&path, 30).unwrap();
                        assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                        turns.fetch_add(1, Ordering::SeqCst);
                        inside.store(false, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(turns.load(Ordering::SeqCst), 400);
        // Given back whole: the file's flock is free for another open file.
        let other = File::open(&path).unwrap();
        // SAFETY: flock on a file descriptor we own.
        let r = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(r, 0);
    }
}
