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

mod checks;
mod transfer;

pub use checks::{Kind, Limits, vet};
pub use transfer::{Stats, copy_entries};

use anyhow::Result;
use std::path::{Component, Path, PathBuf};

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
}
