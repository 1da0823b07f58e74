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
//! to gix, restricted to those paths: the content of files whose stat changed, and
//! whether names the index does not know are untracked or ignored. Layouts the pass
//! does not handle (case-insensitive or Unicode-precomposing file systems, sparse
//! checkouts) take gix's full status.

use anyhow::{Context as _, Result};
use gix::bstr::{BStr, BString, ByteSlice};
use gix::index::entry::Flags;
use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Above this many paths to hand back to gix, one full pass by gix is cheaper than
/// matching that many pathspecs.
const MAX_HANDBACK: usize = 256;

/// The number of paths with uncommitted changes in the worktree `wt` is checked out in.
pub fn count(wt: &gix::Repository) -> Result<usize> {
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
    pass.dir(&workdir, b"", index.entries())?;
    let Pass {
        mut changed,
        suspects,
        unknown,
        ..
    } = pass;
    if !suspects.is_empty() {
        let only = (suspects.len() <= MAX_HANDBACK).then_some(suspects);
        tracked_by_gix(wt, &index, only, &mut changed)?;
    }
    if !unknown.is_empty() {
        let only = (unknown.len() <= MAX_HANDBACK).then_some(unknown);
        untracked_by_gix(wt, &index, only, &mut untracked)?;
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

/// The directory pass: what it found changed for sure, and what it hands back to gix.
struct Pass<'a> {
    index: &'a gix::index::State,
    stat: gix::index::entry::stat::Options,
    executable_bit: bool,
    symlinks: bool,
    changed: HashSet<BString>,
    /// Tracked files whose content must be compared (stat changed, or racily clean).
    suspects: Vec<BString>,
    /// Names the index does not know: untracked or ignored, gix's rules decide.
    unknown: Vec<BString>,
}

enum Child {
    /// Index entries of one path (several when conflicted).
    File(std::ops::Range<usize>),
    /// Index entries below a directory.
    Dir(std::ops::Range<usize>),
}

impl Pass<'_> {
    /// Compare directory `abs` (the worktree path `prefix`, "" or ending in '/') with
    /// `entries`, the run of index entries below it.
    fn dir(&mut self, abs: &Path, prefix: &[u8], entries: &[gix::index::Entry]) -> Result<()> {
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
                    let entries = &entries[range.clone()];
                    if kind.is_dir() {
                        let mut sub = prefix.to_vec();
                        sub.extend_from_slice(name);
                        sub.push(b'/');
                        self.dir(&dent.path(), &sub, entries)?;
                    } else {
                        // A directory replaced by a file or symlink.
                        self.all_deleted(entries);
                        self.unknown.push(join(prefix, name));
                    }
                }
                Child::File(range) => {
                    let entries = &entries[range.clone()];
                    self.file(&dent, entries)?;
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

    /// One tracked path (several entries when conflicted) found on disk as `dent`.
    fn file(&mut self, dent: &std::fs::DirEntry, entries: &[gix::index::Entry]) -> Result<()> {
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
        let meta = dent.metadata()?;
        if meta.is_dir() {
            if entry.mode.is_submodule() {
                self.suspects.push(path); // the submodule's own status decides
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
        let now = stat_of(&meta);
        let unchanged = now.matches(&entry.stat, self.stat)
            && (!entry.id.is_empty_blob() || entry.stat.size == 0)
            && !now.is_racy(self.index.timestamp(), self.stat);
        if !unchanged {
            self.suspects.push(path);
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
}

fn join(prefix: &[u8], name: &[u8]) -> BString {
    let mut p = BString::from(prefix);
    p.extend_from_slice(name);
    p
}

/// The index's view of a file's stat data (git truncates to 32 bits on purpose; so does
/// gix, whose rules this follows).
fn stat_of(m: &std::fs::Metadata) -> gix::index::entry::Stat {
    let time = |secs: i64, nsecs: i64| gix::index::entry::stat::Time {
        secs: secs as u32,
        nsecs: nsecs as u32,
    };
    gix::index::entry::Stat {
        mtime: time(m.mtime(), m.mtime_nsec()),
        ctime: time(m.ctime(), m.ctime_nsec()),
        dev: m.dev() as u32,
        ino: m.ino() as u32,
        uid: m.uid(),
        gid: m.gid(),
        size: m.size() as u32,
    }
}
