//! The copying itself: the new worktree's side checked again on disk, directories and
//! symlinks made in order, regular files cloned, linked or copied in parallel, never
//! following a symlink at either end.

use anyhow::{Context as _, Result};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::checks::{
    Kind, Limits, kind_on_disk, never_copied, prefixes, source_kind, symlink_over_dir,
    through_symlink,
};
use super::{Entry, Mode, Origin};
use crate::error::Error;

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
/// optional by nature. The checks of [`vet`] are made again on disk, the new worktree
/// included, since a checkout (or its hook) decides what is really there.
pub fn copy_entries(
    root: &Path,
    worktree: &Path,
    entries: &[Entry],
    limits: &Limits,
) -> Result<Stats> {
    let mut jobs: Vec<(PathBuf, PathBuf, Mode)> = Vec::new();
    let mut stats = Stats::default();
    // The new worktree is never a source either, wherever it lies.
    let mut limits = limits.clone();
    limits.never.push(crate::config::resolve_existing(worktree));
    for e in entries {
        let from = root.join(&e.path);
        if limits.excludes(&from) {
            match e.origin {
                Origin::Include => continue,
                Origin::Copy => return Err(never_copied(e).into()),
            }
        }
        let Some(source) = source_kind(root, e)? else {
            continue;
        };
        let to = worktree.join(&e.path);
        destination_ready(worktree, e, source)?;
        plan(&from, &to, e.mode, &limits, &mut jobs, &mut stats).with_context(|| e.label())?;
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

/// Make the directories leading to the entry in the new worktree, refusing any that is
/// a symlink there (a tracked one, checked out).
fn destination_ready(worktree: &Path, e: &Entry, source: Kind) -> Result<(), Error> {
    let steps = prefixes(&e.path);
    let cannot = |err: std::io::Error| {
        Error::usage(format!(
            "{}: cannot prepare it in the new worktree: {err}",
            e.label()
        ))
    };
    for (i, step) in steps.iter().enumerate() {
        let at = worktree.join(step);
        let kind = kind_on_disk(&at).map_err(cannot)?;
        if i + 1 == steps.len() {
            if kind == Kind::Symlink && source == Kind::Dir {
                return Err(symlink_over_dir(e, "in the new worktree"));
            }
            break;
        }
        match kind {
            Kind::Symlink => return Err(through_symlink(e, step, "in the new worktree")),
            Kind::Missing => make_dir(&at).map_err(cannot)?,
            Kind::Dir => {}
            Kind::Other => {
                return Err(Error::usage(format!(
                    "{}: {} is a file in the new worktree",
                    e.label(),
                    step.display()
                )));
            }
        }
    }
    Ok(())
}

/// Create one directory without following a symlink in its place (mkdir never does);
/// one already there must be a real directory.
fn make_dir(to: &Path) -> std::io::Result<()> {
    match fs::create_dir(to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => match kind_on_disk(to)? {
            Kind::Dir => Ok(()),
            Kind::Symlink => Err(std::io::Error::other(format!(
                "{} is a symlink in the new worktree",
                to.display()
            ))),
            _ => Err(std::io::Error::other(format!(
                "{} exists and is not a directory",
                to.display()
            ))),
        },
        Err(e) => Err(e),
    }
}

/// Clear the way for a file or symlink: whatever is at `to` (a symlink included, never
/// what it points at) is removed; a directory is not replaced.
fn clear(to: &Path) -> std::io::Result<()> {
    match kind_on_disk(to)? {
        Kind::Missing => Ok(()),
        Kind::Dir => Err(std::io::Error::other(format!(
            "{} is a directory in the new worktree",
            to.display()
        ))),
        _ => fs::remove_file(to),
    }
}

/// Make directories and symlinks now (cheap, ordered); queue regular files.
fn plan(
    from: &Path,
    to: &Path,
    mode: Mode,
    limits: &Limits,
    jobs: &mut Vec<(PathBuf, PathBuf, Mode)>,
    stats: &mut Stats,
) -> Result<()> {
    let meta =
        fs::symlink_metadata(from).with_context(|| format!("cannot read {}", from.display()))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        let target = fs::read_link(from)?;
        clear(to)?;
        std::os::unix::fs::symlink(&target, to)
            .with_context(|| format!("cannot create symlink {}", to.display()))?;
        stats.symlinks += 1;
    } else if ft.is_dir() {
        make_dir(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            let child = entry.path();
            if limits.excludes(&child) {
                continue;
            }
            plan(
                &child,
                &to.join(entry.file_name()),
                mode,
                limits,
                jobs,
                stats,
            )?;
        }
        // `to` was checked to be a real directory: this changes nothing elsewhere.
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
    clear(to).with_context(|| format!("cannot copy {}", from.display()))?;
    // link(2) does not follow `from` and fails on anything at `to`.
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
    let bytes = plain_copy(from, to).with_context(|| format!("cannot copy {}", from.display()))?;
    st.files += 1;
    st.bytes += bytes;
    Ok(())
}

/// Neither end is followed if it is a symlink: the source is opened with O_NOFOLLOW and
/// the destination is created new (O_EXCL), so nothing outside is read or truncated.
fn open_pair(from: &Path, to: &Path) -> std::io::Result<(fs::File, fs::File)> {
    let src = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(from)?;
    let dst = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)?;
    Ok((src, dst))
}

fn plain_copy(from: &Path, to: &Path) -> std::io::Result<u64> {
    let (mut src, mut dst) = open_pair(from, to)?;
    let meta = src.metadata()?;
    let bytes = std::io::copy(&mut src, &mut dst)?;
    dst.set_permissions(meta.permissions())?;
    Ok(bytes)
}

#[cfg(target_os = "linux")]
fn reflink(from: &Path, to: &Path) -> std::io::Result<u64> {
    use std::os::unix::io::AsRawFd;
    let (src, dst) = open_pair(from, to)?;
    let meta = src.metadata()?;
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
    use crate::copy::parse_entry;
    use std::os::unix::fs::PermissionsExt;

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
        let limits = Limits::new(&root, &root.join(".git"), &root.join(".worktrees"));
        let st = copy_entries(&root, &wt, &entries, &limits).unwrap();
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
        let st = copy_entries(
            &root,
            &wt2,
            &[parse_entry("hardlink:deps").unwrap()],
            &limits,
        )
        .unwrap();
        assert_eq!(st.linked, 2);
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            fs::metadata(wt2.join("deps/pkg/index.js")).unwrap().ino(),
            fs::metadata(root.join("deps/pkg/index.js")).unwrap().ino()
        );
    }
}
