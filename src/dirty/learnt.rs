//! What a count learnt about stat data, and writing it back to the index as git does.

use anyhow::Result;
use gix::index::entry::Stat;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::count::Suspect;

/// What comparing contents taught, to keep in the index.
///
/// Only stat data of files last changed before the second this count started (the
/// fence) can be vouched for: a file changed after its content was read, but within the
/// same second as before and to the same size, has stat data equal to what was read.
/// An index written in a later second would call it clean for good; git's own rules
/// avoid that by racy-git, which only holds while the file's second is not older than
/// the index's. Younger files are smudged instead (size 0: compare next time).
#[derive(Debug, Default)]
pub(super) struct Learnt {
    /// Entries whose stat data changed while their content did not: the stat data to keep.
    fresh: Vec<(usize, Stat)>,
    /// Racily clean entries now known clean: an index written now settles them.
    settled: usize,
    /// Entries that must not look clean in an index written now.
    pub(super) smudge: Vec<usize>,
}

impl Learnt {
    pub(super) fn clean(&mut self, s: &Suspect, fence: u32) {
        let vouched = s.stat.mtime.secs < fence;
        match (s.racy, vouched) {
            (true, true) => self.settled += 1,
            (true, false) => self.smudge.push(s.entry),
            (false, true) => self.fresh.push((s.entry, s.stat)),
            // Its old stat data no longer matches the file: it stays a suspect.
            (false, false) => {}
        }
    }

    /// Whether writing the index would spare a later count any content reads.
    pub(super) fn worth_writing(&self) -> bool {
        !self.fresh.is_empty() || self.settled > 0
    }
}

/// The second before which stat data can be vouched for: now, less a margin for file
/// systems whose clocks run behind the system's (coarse timestamps).
pub(super) fn fence() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Truncated to 32 bits like the index's own seconds, so they compare.
    now.saturating_sub(std::time::Duration::from_millis(50))
        .as_secs() as u32
}

/// Who a file is: it changes whenever the file is replaced or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    mode: u32,
}

impl Identity {
    /// `None` unless `path` is a plain file (an index reached through a symlink is left
    /// alone: replacing it would replace the link).
    pub(super) fn of(path: &Path) -> Option<Identity> {
        let m = std::fs::symlink_metadata(path).ok()?;
        if !m.is_file() {
            return None;
        }
        Some(Identity {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            mode: m.mode(),
        })
    }
}

/// Whether `GIT_OPTIONAL_LOCKS` lets a read-only command take the index lock.
fn optional_locks() -> bool {
    optional_locks_in(std::env::var_os("GIT_OPTIONAL_LOCKS").as_deref())
}

/// git's rule for the value: unset or true yes; false (`0`, `false`, `no`, `off`, empty)
/// no.
fn optional_locks_in(value: Option<&std::ffi::OsStr>) -> bool {
    let Some(v) = value else {
        return true;
    };
    let v = v.to_string_lossy().trim().to_ascii_lowercase();
    if let Ok(n) = v.parse::<i64>() {
        return n != 0;
    }
    !matches!(v.as_str(), "" | "false" | "no" | "off")
}

/// Write the index again with what `learnt` knows, as `git status` does: only when its
/// lock can be taken at once (never waiting: whoever holds it is writing a newer index),
/// only when the file is still the one that was read (`seen`), and never when
/// `GIT_OPTIONAL_LOCKS` says no. Indexes with parts gix cannot write back (split index,
/// untracked cache, fsmonitor data, resolve-undo, version 4, sparse) are left alone.
/// Returns whether the index was written.
pub(super) fn write_back(
    index: &gix::index::File,
    seen: Option<Identity>,
    learnt: &Learnt,
) -> Result<bool> {
    if !optional_locks() {
        return Ok(false);
    }
    let Some(seen) = seen else { return Ok(false) };
    if index.version() == gix::index::Version::V4
        || index.link().is_some()
        || index.untracked().is_some()
        || index.fs_monitor().is_some()
        || index.resolve_undo().is_some()
        || index.is_sparse()
    {
        return Ok(false);
    }
    let path = index.path().to_path_buf();
    let Ok(mut lock) = gix::lock::File::acquire_to_update_resource(
        &path,
        gix::lock::acquire::Fail::Immediately,
        None,
        0,
    ) else {
        return Ok(false);
    };
    // Held, the lock keeps every git from replacing the index; it must still be ours.
    if Identity::of(&path).as_ref() != Some(&seen) {
        return Ok(false); // dropping the lock removes it
    }
    let mut fresh = index.clone();
    let entries = fresh.entries_mut();
    for (i, stat) in &learnt.fresh {
        entries[*i].stat = *stat;
    }
    for i in &learnt.smudge {
        entries[*i].stat.size = 0;
    }
    let options = gix::index::write::Options::default();
    {
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, &mut lock);
        fresh.write_to(&mut out, options)?;
        std::io::Write::flush(&mut out)?;
    }
    // The new file keeps the old one's permissions (a shared repository's group bits).
    lock.with_mut(|f| {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(seen.mode & 0o7777))
    })?;
    lock.commit()
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_locks_follow_git() {
        let v = |s: &str| optional_locks_in(Some(std::ffi::OsStr::new(s)));
        assert!(optional_locks_in(None));
        for yes in ["1", "true", "Yes", "on", "2"] {
            assert!(v(yes), "{yes}");
        }
        for no in ["0", "false", "NO", "off", ""] {
            assert!(!v(no), "{no:?}");
        }
    }
}
