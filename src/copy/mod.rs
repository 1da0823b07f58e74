//! Copying ignored files (`.env`, `node_modules`, …) from the main worktree into a new
//! one, cheaply: a copy-on-write clone where the filesystem has one (FICLONE on btrfs,
//! XFS and friends), else a plain copy; files in parallel; symlinks stay symlinks and
//! modes are kept. Hard links only for entries the user marked `hardlink:`, since an
//! agent writing through one would change the main checkout too.
//!
//! Entries come from `copy` (config, manifest, flag) and from `.worktreeinclude`
//! (gitignore syntax; only files git ignores are taken, as Claude Code does).
//!
//! The repository is hostile: its tracked symlinks are checked out in the main worktree
//! and in the new one. So a copy never follows a symlink on either side, never writes,
//! truncates or removes anything outside the new worktree, and never takes `.git`, the
//! git dir or the worktree dir (which holds the new worktree) as a source. An entry whose
//! path passes through a symlink (in the main checkout, the base commit's tree or the new
//! worktree) is refused by name; a symlink as the entry itself is copied as a symlink.

use anyhow::{Context as _, Result};
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Error;
use crate::git::{Excludes, ignored_paths};

/// How one entry is brought over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reflink if possible, else copy.
    Copy,
    /// Hard link each file (opt-in with the `hardlink:` prefix).
    HardLink,
}

/// Where an entry came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `copy` in the manifest, or `agents.copy`.
    Copy,
    /// Selected by a `.worktreeinclude` pattern.
    Include,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the repository root, only normal components (`.` for the root).
    pub path: PathBuf,
    pub mode: Mode,
    pub origin: Origin,
}

impl Entry {
    /// How a message names the entry: as the user wrote it and where.
    pub fn label(&self) -> String {
        let prefix = if self.mode == Mode::HardLink {
            "hardlink:"
        } else {
            ""
        };
        let what = match self.origin {
            Origin::Copy => "copy entry",
            Origin::Include => ".worktreeinclude entry",
        };
        format!("{what} {:?}", format!("{prefix}{}", self.path.display()))
    }
}

/// Parse a `copy` entry: a relative path inside the repository, optionally prefixed with
/// `hardlink:`.
pub fn parse_entry(text: &str) -> Result<Entry, Error> {
    let (mode, raw) = match text.strip_prefix("hardlink:") {
        Some(rest) => (Mode::HardLink, rest),
        None => (Mode::Copy, text),
    };
    let given = Path::new(raw.trim_start_matches('/'));
    if raw.trim().is_empty()
        || given
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(Error::usage(format!(
            "copy entry {text:?} must be a relative path inside the repository"
        ))
        .with_hint("e.g. copy: [.env, node_modules] or hardlink:node_modules"));
    }
    let mut path: PathBuf = given
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    if path.as_os_str().is_empty() {
        path = PathBuf::from(".");
    }
    Ok(Entry {
        path,
        mode,
        origin: Origin::Copy,
    })
}

/// Entries from `.worktreeinclude`: ignored paths matching its patterns, found by asking
/// git once (so its gitignore semantics are exactly git's).
pub fn worktreeinclude(root: &Path) -> Result<Vec<Entry>> {
    let file = root.join(".worktreeinclude");
    if !file.is_file() {
        return Ok(Vec::new());
    }
    let wanted = ignored_paths(root, Excludes::From(Path::new(".worktreeinclude")))?;
    let ignored = ignored_paths(root, Excludes::Standard)?;
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
                origin: Origin::Include,
            });
        }
    }
    Ok(out)
}

/// Places a copy never takes anything from, whatever an entry says: the main checkout's
/// `.git`, the git common dir (the state dir is inside it) and the worktree dir (the new
/// worktree is inside it, so copying it would copy the copy). Any `.git` found while
/// walking a directory is skipped too.
#[derive(Debug, Clone)]
pub struct Limits {
    never: Vec<PathBuf>,
}

impl Limits {
    pub fn new(root: &Path, common_dir: &Path, worktree_dir: &Path) -> Limits {
        Limits {
            never: [
                root.join(".git"),
                common_dir.to_path_buf(),
                worktree_dir.to_path_buf(),
            ]
            .iter()
            .map(|p| crate::config::resolve_existing(p))
            .collect(),
        }
    }

    fn excludes(&self, source: &Path) -> bool {
        source.file_name().is_some_and(|n| n == ".git")
            || self.never.iter().any(|n| source.starts_with(n))
    }
}

/// What a path is, for the checks: in the main checkout, the new worktree, or a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Missing,
    Dir,
    Symlink,
    Other,
}

fn kind_on_disk(p: &Path) -> std::io::Result<Kind> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => Ok(Kind::Symlink),
        Ok(m) if m.is_dir() => Ok(Kind::Dir),
        Ok(_) => Ok(Kind::Other),
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR) => {
            Ok(Kind::Missing)
        }
        Err(e) => Err(e),
    }
}

/// The entry's own path and each directory on the way to it, shortest first.
fn prefixes(rel: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut acc = PathBuf::new();
    for c in rel.components() {
        if let Component::Normal(n) = c {
            acc.push(n);
            out.push(acc.clone());
        }
    }
    out
}

fn through_symlink(e: &Entry, link: &Path, place: &str) -> Error {
    Error::usage(format!(
        "{}: {} is a symlink {place}; a copy through it could write outside the worktree",
        e.label(),
        link.display()
    ))
    .with_hint("name the symlink itself (it is copied as a symlink), or remove the entry")
}

fn symlink_over_dir(e: &Entry, place: &str) -> Error {
    Error::usage(format!(
        "{}: a directory in the main checkout but a symlink {place}; copying it would write through that symlink",
        e.label()
    ))
    .with_hint("remove the entry, or spawn from a base where it is not a symlink")
}

fn never_copied(e: &Entry) -> Error {
    Error::usage(format!(
        "{}: .git, the git dir and the worktree dir are never copied",
        e.label()
    ))
    .with_hint("remove the entry")
}

/// The source side: `Ok(None)` when the entry does not exist in the main checkout (an
/// optional `.env`), else what it is. Refused when a directory on the way is a symlink.
fn source_kind(root: &Path, e: &Entry) -> Result<Option<Kind>, Error> {
    let steps = prefixes(&e.path);
    if steps.is_empty() {
        return Ok(Some(Kind::Dir)); // `.`: the checkout itself
    }
    for (i, step) in steps.iter().enumerate() {
        let kind = kind_on_disk(&root.join(step))
            .map_err(|err| Error::usage(format!("{}: cannot read it: {err}", e.label())))?;
        let last = i + 1 == steps.len();
        match kind {
            Kind::Missing => return Ok(None),
            Kind::Symlink if !last => {
                return Err(through_symlink(e, step, "in the main checkout"));
            }
            Kind::Other if !last => return Ok(None),
            k if last => return Ok(Some(k)),
            _ => {}
        }
    }
    Ok(None)
}

/// Check an entry before anything is created, against the main checkout and against
/// `base`, what the base commit's tree holds at a path (what the new worktree will get).
/// `Ok(false)`: drop it silently (a `.worktreeinclude` match on the worktree dir, say).
pub fn vet(
    root: &Path,
    e: &Entry,
    limits: &Limits,
    base: &dyn Fn(&Path) -> Kind,
) -> Result<bool, Error> {
    if limits.excludes(&root.join(&e.path)) {
        return match e.origin {
            Origin::Include => Ok(false),
            Origin::Copy => Err(never_copied(e)),
        };
    }
    let Some(source) = source_kind(root, e)? else {
        return Ok(true);
    };
    let steps = prefixes(&e.path);
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        match base(step) {
            Kind::Symlink if !last => {
                return Err(through_symlink(e, step, "in the base commit"));
            }
            Kind::Symlink if source == Kind::Dir => {
                return Err(symlink_over_dir(e, "in the base commit"));
            }
            Kind::Missing | Kind::Other => break,
            _ => {}
        }
    }
    Ok(true)
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

/// A task's entries, the one way every caller merges them: its `copy` settings (an
/// entry that does not parse is an error naming it), then what `.worktreeinclude`
/// selects and no `copy` entry already names.
pub fn task_entries(root: &Path, copy: &[String]) -> Result<Vec<Entry>> {
    Ok(merge_entries(copy, &worktreeinclude(root)?)?)
}

/// [`task_entries`] with `.worktreeinclude` read once for many tasks.
pub fn merge_entries(copy: &[String], include: &[Entry]) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::with_capacity(copy.len() + include.len());
    for c in copy {
        out.push(parse_entry(c)?);
    }
    for e in include {
        if !out.iter().any(|c| c.path == e.path) {
            out.push(e.clone());
        }
    }
    Ok(out)
}

/// The paths of `entries` as git pathspecs, to keep copied files out of a task's
/// commits.
pub fn paths(entries: &[Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.path.display().to_string())
        .collect()
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
                mode: Mode::HardLink,
                origin: Origin::Copy,
            }
        );
        assert_eq!(parse_entry("/.env").unwrap().path, PathBuf::from(".env"));
        assert_eq!(parse_entry("./a/./b/").unwrap().path, PathBuf::from("a/b"));
        assert_eq!(parse_entry("./").unwrap().path, PathBuf::from("."));
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
