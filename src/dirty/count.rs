//! The fast count: one pass per directory, by gix's rules (see the module above).

use anyhow::{Context as _, Result};
use gix::bstr::{BStr, BString, ByteSlice};
use gix::index::entry::{Flags, Stat};
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::content::Content;
use super::learnt::{Identity, Learnt, fence, write_back};

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
pub(super) struct Suspect {
    /// Its entry's position in the index.
    pub(super) entry: usize,
    pub(super) path: BString,
    /// Its stat data as the pass saw it (the one stat it gets).
    pub(super) stat: Stat,
    pub(super) len: u64,
    pub(super) symlink: bool,
    /// A submodule: its own status decides, through gix.
    pub(super) submodule: bool,
    /// The stat data matched the entry, but the file is as new as the index (racy git).
    pub(super) racy: bool,
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

fn join(prefix: &[u8], name: &[u8]) -> BString {
    let mut p = BString::from(prefix);
    p.extend_from_slice(name);
    p
}

/// The index's view of a file's stat data (git truncates to 32 bits on purpose; so does
/// gix, whose rules this follows).
pub(super) fn stat_of(m: &std::fs::Metadata) -> Stat {
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
