//! Files under the state dir: created private (dirs 0700, files 0600) whatever the
//! umask, written atomically, and locked with flock(2) within a time limit.

use anyhow::{Context as _, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::Error;

/// Holds the store lock until dropped.
pub struct Lock {
    _file: File,
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
