//! Copying ignored files (`.env`, `node_modules`, …) from the main worktree into a new
//! one, cheaply: a copy-on-write clone where the filesystem has one (FICLONE on btrfs,
//! XFS and friends), else a plain copy; files in parallel; symlinks stay symlinks and
//! modes are kept. Hard links only for entries the user marked `hardlink:`, since an
//! agent writing through one would change the main checkout too.
//!
//! Entries come from `copy` (config, manifest, flag) and from `.worktreeinclude`
//! (gitignore syntax; only files git ignores are taken, as Claude Code does).

use anyhow::{Context as _, Result};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Error;

/// How one entry is brought over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reflink if possible, else copy.
    Copy,
    /// Hard link each file (opt-in with the `hardlink:` prefix).
    HardLink,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the repository root.
    pub path: PathBuf,
    pub mode: Mode,
}

/// Parse a `copy` entry: a relative path inside the repository, optionally prefixed with
/// `hardlink:`.
pub fn parse_entry(text: &str) -> Result<Entry, Error> {
    let (mode, raw) = match text.strip_prefix("hardlink:") {
        Some(rest) => (Mode::HardLink, rest),
        None => (Mode::Copy, text),
    };
    let rel = Path::new(raw.trim_start_matches('/')).to_path_buf();
    if raw.trim().is_empty()
        || rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Error::usage(format!(
            "copy entry {text:?} must be a relative path inside the repository"
        ))
        .with_hint("e.g. copy: [.env, node_modules] or hardlink:node_modules"));
    }
    Ok(Entry { path: rel, mode })
}

/// Entries from `.worktreeinclude`: ignored paths matching its patterns, found by asking
/// git once (so its gitignore semantics are exactly git's).
pub fn worktreeinclude(root: &Path) -> Result<Vec<Entry>> {
    let file = root.join(".worktreeinclude");
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let list = |extra: &[&str]| -> Result<Vec<String>> {
        let mut args = vec!["ls-files", "-z", "--others", "--ignored", "--directory"];
        args.extend_from_slice(extra);
        let out = crate::git::run(root, &args)?;
        Ok(out
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    };
    let wanted = list(&["--exclude-from=.worktreeinclude"])?;
    let ignored = list(&["--exclude-standard"])?;
    // Keep what git ignores: the same path, or a path inside an ignored directory.
    let mut out = Vec::new();
    for w in wanted {
        let is_ignored = ignored
            .iter()
            .any(|i| *i == w || (i.ends_with('/') && w.starts_with(i.as_str())));
        if is_ignored {
            out.push(Entry {
                path: PathBuf::from(w.trim_end_matches('/')),
                mode: Mode::Copy,
            });
        }
    }
    Ok(out)
}

/// What one copy did, for the log.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub files: u64,
    pub bytes: u64,
    pub cloned: u64,
    pub linked: u64,
    pub symlinks: u64,
}

/// Copy entries from `root` into `worktree`. Missing sources are skipped: `.env` is
/// optional by nature.
pub fn copy_entries(root: &Path, worktree: &Path, entries: &[Entry]) -> Result<Stats> {
    let mut jobs: Vec<(PathBuf, PathBuf, Mode)> = Vec::new();
    let mut stats = Stats::default();
    for e in entries {
        let from = root.join(&e.path);
        if fs::symlink_metadata(&from).is_err() {
            continue;
        }
        plan(
            &from,
            &worktree.join(&e.path),
            e.mode,
            &mut jobs,
            &mut stats,
        )?;
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .clamp(2, 8);
    let chunk = jobs.len().div_ceil(threads).max(1);
    let reflink_works = AtomicBool::new(true);
    let results: Vec<Result<Stats>> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let reflink_works = &reflink_works;
                s.spawn(move || {
                    let mut st = Stats::default();
                    for (from, to, mode) in part {
                        copy_file(from, to, *mode, reflink_works, &mut st)?;
                    }
                    Ok(st)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("copy thread panicked")))
            })
            .collect()
    });
    for r in results {
        let st = r?;
        stats.files += st.files;
        stats.bytes += st.bytes;
        stats.cloned += st.cloned;
        stats.linked += st.linked;
    }
    Ok(stats)
}

/// Make directories and symlinks now (cheap, ordered); queue regular files.
fn plan(
    from: &Path,
    to: &Path,
    mode: Mode,
    jobs: &mut Vec<(PathBuf, PathBuf, Mode)>,
    stats: &mut Stats,
) -> Result<()> {
    let meta =
        fs::symlink_metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent)?;
    }
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(from)?;
        let _ = fs::remove_file(to);
        std::os::unix::fs::symlink(&target, to)
            .with_context(|| format!("cannot create symlink {}", to.display()))?;
        stats.symlinks += 1;
    } else if ft.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            plan(
                &entry.path(),
                &to.join(entry.file_name()),
                mode,
                jobs,
                stats,
            )?;
        }
        fs::set_permissions(to, meta.permissions())?;
    } else if ft.is_file() {
        jobs.push((from.to_path_buf(), to.to_path_buf(), mode));
    }
    // Sockets, fifos and devices are not copied.
    Ok(())
}

fn copy_file(
    from: &Path,
    to: &Path,
    mode: Mode,
    reflink_works: &AtomicBool,
    st: &mut Stats,
) -> Result<()> {
    let _ = fs::remove_file(to);
    if mode == Mode::HardLink && fs::hard_link(from, to).is_ok() {
        st.files += 1;
        st.linked += 1;
        return Ok(());
    }
    if reflink_works.load(Ordering::Relaxed) {
        match reflink(from, to) {
            Ok(bytes) => {
                st.files += 1;
                st.bytes += bytes;
                st.cloned += 1;
                return Ok(());
            }
            // One refusal means this filesystem (or pair of them) cannot: stop trying.
            Err(_) => reflink_works.store(false, Ordering::Relaxed),
        }
    }
    let bytes = fs::copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    st.files += 1;
    st.bytes += bytes;
    Ok(())
}

#[cfg(target_os = "linux")]
fn reflink(from: &Path, to: &Path) -> std::io::Result<u64> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let src = fs::File::open(from)?;
    let meta = src.metadata()?;
    let dst = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    // SAFETY: FICLONE between two file descriptors we own.
    let r = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) };
    if r != 0 {
        let err = std::io::Error::last_os_error();
        drop(dst);
        let _ = fs::remove_file(to);
        return Err(err);
    }
    dst.set_permissions(meta.permissions())?;
    Ok(meta.len())
}

#[cfg(not(target_os = "linux"))]
fn reflink(_from: &Path, _to: &Path) -> std::io::Result<u64> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn entries_parse() {
        assert_eq!(
            parse_entry("hardlink:node_modules").unwrap(),
            Entry {
                path: "node_modules".into(),
                mode: Mode::HardLink
            }
        );
        assert_eq!(parse_entry("/.env").unwrap().path, PathBuf::from(".env"));
        for bad in ["", "../x", "a/../../b", "hardlink:"] {
            assert!(parse_entry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn copies_trees_keeping_symlinks_and_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let wt = tmp.path().join("wt");
        fs::create_dir_all(root.join("deps/pkg/bin")).unwrap();
        fs::create_dir_all(&wt).unwrap();
        fs::write(root.join(".env"), "SECRET=1\n").unwrap();
        fs::write(root.join("deps/pkg/index.js"), "x").unwrap();
        fs::write(root.join("deps/pkg/bin/run"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(
            root.join("deps/pkg/bin/run"),
            fs::Permissions::from_mode(0o755),
        )
        .unwrap();
        std::os::unix::fs::symlink("../pkg/index.js", root.join("deps/link.js")).unwrap();
        let entries = [
            parse_entry(".env").unwrap(),
            parse_entry("deps").unwrap(),
            parse_entry("missing").unwrap(),
        ];
        let st = copy_entries(&root, &wt, &entries).unwrap();
        assert_eq!(st.files, 3);
        assert_eq!(st.symlinks, 1);
        assert_eq!(fs::read_to_string(wt.join(".env")).unwrap(), "SECRET=1\n");
        let link = wt.join("deps/link.js");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            fs::read_link(&link).unwrap(),
            PathBuf::from("../pkg/index.js")
        );
        let mode = fs::metadata(wt.join("deps/pkg/bin/run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(!wt.join("missing").exists());

        // Hard links share the inode, by request only.
        let wt2 = tmp.path().join("wt2");
        fs::create_dir_all(&wt2).unwrap();
        let st = copy_entries(&root, &wt2, &[parse_entry("hardlink:deps").unwrap()]).unwrap();
        assert_eq!(st.linked, 2);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            fs::metadata(wt2.join("deps/pkg/index.js")).unwrap().ino(),
            fs::metadata(root.join("deps/pkg/index.js")).unwrap().ino()
        );
    }
}
