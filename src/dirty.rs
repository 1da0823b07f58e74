//! How many uncommitted changes a worktree has, counted the way
//! `git status --porcelain --untracked-files=all` lists them: one per path that is
//! staged, modified, deleted or conflicted, plus one per untracked file (ignored files
//! do not count). A staged rename counts as its two paths.
//!
//! gix's status gives the exact answer but stats every tracked file by its absolute path
//! and walks the whole tree for untracked files; with dozens of worktrees `list` would
//! spend nearly all its time there. So the common case takes a shorter road to the same
//! answer: one pass per directory (read it, then stat each entry relative to the open
//! directory, as git does) compares tracked files with the index by gix's own rules
//! (stat comparison, racy-git, file modes). What that pass cannot settle alone goes back
//! to gix, restricted to those paths: whether names the index does not know are
//! untracked or ignored, and submodules. Layouts the pass does not handle
//! (case-insensitive or Unicode-precomposing file systems, sparse checkouts) take gix's
//! full status.
//!
//! Each file is stat'ed once. A file whose stat data changed, or that is racily clean
//! (written in the same second as the index, so equal stat data proves nothing), has its
//! content compared here, through the repository's filters, by gix's rules (`FastEq`).
//! What that taught is written back to the index as `git status` does (see
//! [`write_back`]), so the next count reads no file's content for the same answer.

use anyhow::{Context as _, Result};
use gix::bstr::{BStr, BString, ByteSlice};
use gix::index::entry::{Flags, Stat};
use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Above this many paths to hand back to gix, one full pass by gix is cheaper than
/// matching that many pathspecs.
const MAX_HANDBACK: usize = 256;

/// Whether a count may write what it learnt back to the worktree's index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// When the index lock is free at once and `GIT_OPTIONAL_LOCKS` allows it.
    IfFree,
    /// Never: a process of ours may be using the worktree's git right now (an agent, or
    /// spawn committing its leftovers), and must never find the index locked by us.
    Never,
}

/// The number of paths with uncommitted changes in the worktree `wt` is checked out in.
pub fn count(wt: &gix::Repository, refresh: Refresh) -> Result<usize> {
    // Who the index file is before it is read: the write-back replaces only this one.
    let identity = Identity::of(&wt.index_path());
    // Stat data of files older than this second can be vouched for (see `Learnt`).
    let fence = fence();
    let index = wt.index_or_empty()?;
    let workdir = wt.workdir().context("no working tree")?.to_path_buf();
    let cfg = wt.config_snapshot();
    let flag = |key: &str, default: bool| cfg.boolean(key).unwrap_or(default);
    let mut changed: HashSet<BString> = HashSet::new();
    staged(wt, &index, &mut changed)?;

    let unusual = flag("core.ignoreCase", false)
        || flag("core.precomposeUnicode", false)
        || index.is_sparse()
        || index
            .entries()
            .iter()
            .any(|e| e.flags.contains(Flags::SKIP_WORKTREE));
    // Apart from tracked changes: a path deleted from the index and back on disk is two
    // lines for git (`D ` and `??`), so it counts twice.
    let mut untracked: HashSet<BString> = HashSet::new();
    if unusual {
        tracked_by_gix(wt, &index, None, &mut changed)?;
        untracked_by_gix(wt, &index, None, &mut untracked)?;
        return Ok(changed.len() + untracked.len());
    }

    let mut pass = Pass {
        index: &index,
        workdir: &workdir,
        stat: gix::index::entry::stat::Options {
            trust_ctime: flag("core.trustCTime", true),
            check_stat: cfg
                .string("core.checkStat")
                .is_none_or(|v| !v.eq_ignore_ascii_case(b"minimal")),
            use_nsec: flag("gitoxide.core.useNsec", false),
            use_stdev: flag("gitoxide.core.useStdev", false),
        },
        executable_bit: flag("core.fileMode", true),
        symlinks: flag("core.symlinks", true),
        changed,
        suspects: Vec::new(),
        unknown: Vec::new(),
    };
    pass.dir(&workdir, b"", index.entries(), 0)?;
    let mut handback = Vec::new();
    let learnt = pass.compare_contents(wt, fence, &mut handback);
    let Pass {
        mut changed,
        unknown,
        ..
    } = pass;
    if !handback.is_empty() {
        let only = (handback.len() <= MAX_HANDBACK).then_some(handback);
        tracked_by_gix(wt, &index, only, &mut changed)?;
    }
    if !unknown.is_empty() {
        let only = (unknown.len() <= MAX_HANDBACK).then_some(unknown);
        untracked_by_gix(wt, &index, only, &mut untracked)?;
    }
    if refresh == Refresh::IfFree && learnt.worth_writing() {
        // A refresh that cannot happen costs the next count some reads, nothing more.
        let _ = write_back(&index, identity, &learnt);
    }
    Ok(changed.len() + untracked.len())
}

/// Paths whose staged content differs from HEAD. When the index's cache tree says it
/// is HEAD's tree, nothing is staged and no tree needs reading (git status does the same).
fn staged(
    wt: &gix::Repository,
    index: &gix::index::State,
    changed: &mut HashSet<BString>,
) -> Result<()> {
    let head_tree = wt.head_tree_id_or_empty()?.detach();
    let cached = index.tree().is_some_and(|t| {
        t.id == head_tree && t.num_entries.map(|n| n as usize) == Some(index.entries().len())
    });
    if cached {
        return Ok(());
    }
    wt.tree_index_status(
        &head_tree,
        index,
        None,
        gix::status::tree_index::TrackRenames::Disabled,
        |change, _, _| {
            changed.insert(change.location().to_owned());
            Ok(std::ops::ControlFlow::Continue(()))
        },
    )?;
    Ok(())
}

/// Tracked files gix finds changed, among `only` (all when `None`).
fn tracked_by_gix(
    wt: &gix::Repository,
    index: &gix::worktree::Index,
    only: Option<Vec<BString>>,
    changed: &mut HashSet<BString>,
) -> Result<()> {
    use gix::status::index_worktree::Item;
    use gix::status::plumbing::index_as_worktree::EntryStatus;
    let iter = wt
        .status(gix::progress::Discard)?
        .untracked_files(gix::status::UntrackedFiles::None)
        .index_worktree_rewrites(None)
        // Worktrees are looked at in parallel already: one thread each.
        .index_worktree_options_mut(|o| o.thread_limit = Some(1))
        .index(gix::worktree::IndexPersistedOrInMemory::Persisted(
            index.clone(),
        ))
        .into_index_worktree_iter(literal(only))?;
    for item in iter {
        match item? {
            // NeedsUpdate: only the stat data changed, not the content.
            Item::Modification {
                status: EntryStatus::NeedsUpdate(_),
                ..
            } => {}
            Item::Modification { rela_path, .. } => {
                changed.insert(rela_path);
            }
            Item::DirectoryContents { .. } | Item::Rewrite { .. } => {}
        }
    }
    Ok(())
}

/// Untracked files (one by one, as `--untracked-files=all`), among `only` (everything
/// when `None`); ignored ones are left out.
fn untracked_by_gix(
    wt: &gix::Repository,
    index: &gix::index::State,
    only: Option<Vec<BString>>,
    changed: &mut HashSet<BString>,
) -> Result<()> {
    let options = wt
        .dirwalk_options()?
        .emit_untracked(gix::dir::walk::EmissionMode::Matching);
    let mut found = gix::dir::walk::delegate::Collect::default();
    let interrupt = std::sync::atomic::AtomicBool::new(false);
    wt.dirwalk(index, literal(only), &interrupt, options, &mut found)?;
    for (entry, _) in found.unorded_entries {
        if entry.status == gix::dir::entry::Status::Untracked {
            changed.insert(entry.rela_path);
        }
    }
    Ok(())
}

/// Paths as pathspecs that match exactly them (and what is below them).
fn literal(paths: Option<Vec<BString>>) -> Vec<BString> {
    paths
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let mut s = BString::from(":(literal)");
            s.extend_from_slice(&p);
            s
        })
        .collect()
}

/// The directory pass: what it found changed for sure, and what needs a closer look.
struct Pass<'a> {
    index: &'a gix::index::State,
    workdir: &'a Path,
    stat: gix::index::entry::stat::Options,
    executable_bit: bool,
    symlinks: bool,
    changed: HashSet<BString>,
    /// Tracked paths whose stat data settles nothing: their content decides.
    suspects: Vec<Suspect>,
    /// Names the index does not know: untracked or ignored, gix's rules decide.
    unknown: Vec<BString>,
}

/// A tracked path whose content must be compared with its index entry.
struct Suspect {
    /// Its entry's position in the index.
    entry: usize,
    path: BString,
    /// Its stat data as the pass saw it (the one stat it gets).
    stat: Stat,
    len: u64,
    symlink: bool,
    /// A submodule: its own status decides, through gix.
    submodule: bool,
    /// The stat data matched the entry, but the file is as new as the index (racy git).
    racy: bool,
}

enum Child {
    /// Index entries of one path (several when conflicted).
    File(std::ops::Range<usize>),
    /// Index entries below a directory.
    Dir(std::ops::Range<usize>),
}

impl Pass<'_> {
    /// Compare directory `abs` (the worktree path `prefix`, "" or ending in '/') with
    /// `entries`, the run of index entries below it, which starts at entry `first`.
    fn dir(
        &mut self,
        abs: &Path,
        prefix: &[u8],
        entries: &[gix::index::Entry],
        first: usize,
    ) -> Result<()> {
        let backing = self.index.path_backing();
        let path_of = |e: &gix::index::Entry| -> &BStr { e.path_in(backing) };

        // The index's children of this directory, by name.
        let mut children: HashMap<&[u8], Child> = HashMap::new();
        let mut i = 0;
        while i < entries.len() {
            let rest = &path_of(&entries[i])[prefix.len()..];
            match rest.find_byte(b'/') {
                Some(slash) => {
                    let name = &rest[..slash];
                    let sub_len = prefix.len() + slash + 1;
                    let sub = &path_of(&entries[i])[..sub_len];
                    let mut j = i + 1;
                    while j < entries.len() && path_of(&entries[j]).starts_with(sub) {
                        j += 1;
                    }
                    children.insert(name, Child::Dir(i..j));
                    i = j;
                }
                None => {
                    let path = path_of(&entries[i]);
                    let mut j = i + 1;
                    while j < entries.len() && path_of(&entries[j]) == path {
                        j += 1;
                    }
                    children.insert(rest, Child::File(i..j));
                    i = j;
                }
            }
        }

        let listing = match std::fs::read_dir(abs) {
            Ok(l) => l,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                // Gone since its parent was read: everything below is deleted.
                self.all_deleted(entries);
                return Ok(());
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", abs.display())),
        };
        let mut seen: HashSet<&[u8]> = HashSet::with_capacity(children.len());
        for dent in listing {
            let dent = dent?;
            let name = dent.file_name();
            let name = name.as_bytes();
            if name == b".git" {
                continue; // never content, in any directory (git skips it too)
            }
            let Some((key, child)) = children.get_key_value(name) else {
                self.unknown.push(join(prefix, name));
                continue;
            };
            seen.insert(key);
            let kind = dent.file_type()?;
            match child {
                Child::Dir(range) => {
                    let sub_entries = &entries[range.clone()];
                    if kind.is_dir() {
                        let mut sub = prefix.to_vec();
                        sub.extend_from_slice(name);
                        sub.push(b'/');
                        self.dir(&dent.path(), &sub, sub_entries, first + range.start)?;
                    } else {
                        // A directory replaced by a file or symlink.
                        self.all_deleted(sub_entries);
                        self.unknown.push(join(prefix, name));
                    }
                }
                Child::File(range) => {
                    self.file(&dent, &entries[range.clone()], first + range.start)?;
                }
            }
        }
        for (name, child) in &children {
            if !seen.contains(name) {
                let range = match child {
                    Child::Dir(r) | Child::File(r) => r.clone(),
                };
                self.all_deleted(&entries[range]);
            }
        }
        Ok(())
    }

    /// One tracked path (several entries when conflicted, the first at index position
    /// `at`) found on disk as `dent`.
    fn file(
        &mut self,
        dent: &std::fs::DirEntry,
        entries: &[gix::index::Entry],
        at: usize,
    ) -> Result<()> {
        let entry = &entries[0];
        let path = entry.path(self.index).to_owned();
        if entries.iter().any(|e| e.stage_raw() != 0) {
            self.changed.insert(path);
            return Ok(());
        }
        // Entries git and gix take on trust without looking at the file.
        if entry
            .flags
            .intersects(Flags::UPTODATE | Flags::ASSUME_VALID | Flags::FSMONITOR_VALID)
        {
            return Ok(());
        }
        // The only stat of this file: `fstatat` relative to the directory just read.
        let meta = dent.metadata()?;
        let now = stat_of(&meta);
        if meta.is_dir() {
            if entry.mode.is_submodule() {
                self.suspects.push(Suspect {
                    entry: at,
                    path,
                    stat: now,
                    len: 0,
                    symlink: false,
                    submodule: true,
                    racy: false,
                });
            } else {
                // A file replaced by a directory: deleted, and what is inside is new.
                self.unknown.push(path.clone());
                self.changed.insert(path);
            }
            return Ok(());
        }
        if entry.flags.contains(Flags::INTENT_TO_ADD) {
            self.changed.insert(path);
            return Ok(());
        }
        let kind = meta.file_type();
        let executable = kind.is_file() && meta.mode() & 0o100 != 0;
        if entry
            .mode
            .change_to_match_fs_with_values(
                kind.is_file(),
                false,
                kind.is_symlink(),
                executable,
                self.symlinks,
                self.executable_bit,
            )
            .is_some()
        {
            self.changed.insert(path); // type or executable bit changed
            return Ok(());
        }
        let matches = now.matches(&entry.stat, self.stat)
            && (!entry.id.is_empty_blob() || entry.stat.size == 0);
        let racy = matches && now.is_racy(self.index.timestamp(), self.stat);
        if !matches || racy {
            self.suspects.push(Suspect {
                entry: at,
                path,
                stat: now,
                len: meta.len(),
                symlink: kind.is_symlink(),
                submodule: entry.mode.is_submodule(),
                racy,
            });
        }
        Ok(())
    }

    /// Every path of `entries` is gone from disk (entries taken on trust excepted).
    fn all_deleted(&mut self, entries: &[gix::index::Entry]) {
        for e in entries {
            if e.stage_raw() == 0
                && e.flags
                    .intersects(Flags::UPTODATE | Flags::ASSUME_VALID | Flags::FSMONITOR_VALID)
            {
                continue;
            }
            self.changed.insert(e.path(self.index).to_owned());
        }
    }

    /// Settle the suspects by content, with the stat data the pass already has, as gix's
    /// status would (`FastEq`: a size that differs is a change without reading). What
    /// this cannot settle (submodules, a filter that fails) goes to `handback` for gix.
    fn compare_contents(
        &mut self,
        wt: &gix::Repository,
        fence: u32,
        handback: &mut Vec<BString>,
    ) -> Learnt {
        let mut learnt = Learnt::default();
        let mut content = Content {
            wt,
            pipeline: None,
            buf: Vec::new(),
        };
        for s in std::mem::take(&mut self.suspects) {
            let entry = &self.index.entries()[s.entry];
            if s.submodule {
                handback.push(s.path);
                continue;
            }
            // The index keeps sizes truncated to 32 bits, as git does. A size of 0 for
            // content that is not empty marks an entry git smudged: it says nothing.
            if s.len as u32 != entry.stat.size && (entry.id.is_empty_blob() || entry.stat.size != 0)
            {
                self.changed.insert(s.path);
                continue;
            }
            let abs = self
                .workdir
                .join(Path::new(std::ffi::OsStr::from_bytes(&s.path)));
            match content.same(&abs, &s, entry, self.index) {
                Ok(true) => learnt.clean(&s, fence),
                Ok(false) => {
                    if s.racy {
                        // Stat data that matches a changed file must never look clean.
                        learnt.smudge.push(s.entry);
                    }
                    self.changed.insert(s.path);
                }
                Err(_) => {
                    if s.racy {
                        learnt.smudge.push(s.entry);
                    }
                    handback.push(s.path);
                }
            }
        }
        learnt
    }
}

/// Reads tracked files' content the way git stores it.
struct Content<'r> {
    wt: &'r gix::Repository,
    /// The repository's filters (autocrlf, eol, ident, drivers), set up at first use.
    pipeline: Option<gix::filter::Pipeline<'r>>,
    buf: Vec<u8>,
}

impl Content<'_> {
    /// Whether the file at `abs` holds what `entry` records.
    fn same(
        &mut self,
        abs: &Path,
        s: &Suspect,
        entry: &gix::index::Entry,
        index: &gix::index::State,
    ) -> Result<bool> {
        let kind = entry.id.kind();
        let blob = gix::objs::Kind::Blob;
        if s.symlink {
            // The pass saw a symlink and the entry is one (else its mode had changed).
            let target = std::fs::read_link(abs)?;
            let id = gix::objs::compute_hash(kind, blob, target.as_os_str().as_bytes())?;
            return Ok(id == entry.id);
        }
        // Never follow a symlink put there since the pass, never block on a FIFO.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(abs)?;
        if self.pipeline.is_none() {
            self.pipeline = Some(self.wt.filter_pipeline(None)?.0);
        }
        let pipeline = self.pipeline.as_mut().expect("set above");
        let rela = Path::new(std::ffi::OsStr::from_bytes(&s.path));
        use gix::filter::plumbing::pipeline::convert::ToGitOutcome;
        let id = match pipeline.convert_to_git(file, rela, index)? {
            // No filter applies: hash the bytes the stat promised, in one read when small.
            ToGitOutcome::Unchanged(mut file) => {
                match hash_stream(kind, &mut file, s.len, &mut self.buf)? {
                    Some(id) => id,
                    None => return Ok(false), // shorter than its stat said: it changed
                }
            }
            ToGitOutcome::Buffer(bytes) => gix::objs::compute_hash(kind, blob, bytes)?,
            ToGitOutcome::Process(mut read) => {
                self.buf.clear();
                read.read_to_end(&mut self.buf)?;
                gix::objs::compute_hash(kind, blob, &self.buf)?
            }
        };
        Ok(id == entry.id)
    }
}

/// The blob id of `len` bytes read from `r`, or `None` when `r` ends before.
fn hash_stream(
    kind: gix::hash::Kind,
    r: &mut impl std::io::Read,
    len: u64,
    buf: &mut Vec<u8>,
) -> Result<Option<gix::ObjectId>> {
    const CHUNK: u64 = 64 * 1024;
    let mut hasher = gix::hash::hasher(kind);
    hasher.update(&gix::objs::encode::loose_header(gix::objs::Kind::Blob, len));
    buf.resize(len.min(CHUNK) as usize, 0);
    let mut left = len;
    while left > 0 {
        let want = left.min(CHUNK) as usize;
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => return Ok(None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(Some(hasher.try_finalize()?))
}

/// What comparing contents taught, to keep in the index.
///
/// Only stat data of files last changed before the second this count started (the
/// fence) can be vouched for: a file changed after its content was read, but within the
/// same second as before and to the same size, has stat data equal to what was read.
/// An index written in a later second would call it clean for good; git's own rules
/// avoid that by racy-git, which only holds while the file's second is not older than
/// the index's. Younger files are smudged instead (size 0: compare next time).
#[derive(Debug, Default)]
struct Learnt {
    /// Entries whose stat data changed while their content did not: the stat data to keep.
    fresh: Vec<(usize, Stat)>,
    /// Racily clean entries now known clean: an index written now settles them.
    settled: usize,
    /// Entries that must not look clean in an index written now.
    smudge: Vec<usize>,
}

impl Learnt {
    fn clean(&mut self, s: &Suspect, fence: u32) {
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
    fn worth_writing(&self) -> bool {
        !self.fresh.is_empty() || self.settled > 0
    }
}

/// The second before which stat data can be vouched for: now, less a margin for file
/// systems whose clocks run behind the system's (coarse timestamps).
fn fence() -> u32 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // Truncated to 32 bits like the index's own seconds, so they compare.
    now.saturating_sub(std::time::Duration::from_millis(50))
        .as_secs() as u32
}

/// Who a file is: it changes whenever the file is replaced or written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
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
    fn of(path: &Path) -> Option<Identity> {
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
fn write_back(index: &gix::index::File, seen: Option<Identity>, learnt: &Learnt) -> Result<bool> {
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

fn join(prefix: &[u8], name: &[u8]) -> BString {
    let mut p = BString::from(prefix);
    p.extend_from_slice(name);
    p
}

/// The index's view of a file's stat data (git truncates to 32 bits on purpose; so does
/// gix, whose rules this follows).
fn stat_of(m: &std::fs::Metadata) -> Stat {
    let time = |secs: i64, nsecs: i64| gix::index::entry::stat::Time {
        secs: secs as u32,
        nsecs: nsecs as u32,
    };
    Stat {
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        dev: m.dev() as u32,
        ino: m.ino() as u32,
        uid: m.uid(),
        gid: m.gid(),
        size: m.size() as u32,
    }
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

    #[test]
    fn a_stream_shorter_than_its_stat_is_no_match() {
        let mut buf = Vec::new();
        let kind = gix::hash::Kind::Sha1;
        let whole = hash_stream(kind, &mut &b"hello\n"[..], 6, &mut buf).unwrap();
        let blob = gix::objs::compute_hash(kind, gix::objs::Kind::Blob, b"hello\n").unwrap();
        assert_eq!(whole, Some(blob));
        assert_eq!(
            hash_stream(kind, &mut &b"hell"[..], 6, &mut buf).unwrap(),
            None
        );
        // Larger than one chunk.
        let big = vec![7u8; 200_000];
        let want = gix::objs::compute_hash(kind, gix::objs::Kind::Blob, &big).unwrap();
        let got = hash_stream(kind, &mut &big[..], big.len() as u64, &mut buf).unwrap();
        assert_eq!(got, Some(want));
    }
}
