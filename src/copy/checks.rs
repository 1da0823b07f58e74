//! What an entry may touch, checked before anything is created: the places never copied
//! ([`Limits`]), what a path is without following it ([`Kind`]), and the refusals of a
//! path through a symlink in the main checkout or the base commit ([`vet`]).

use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use super::{Entry, Origin};
use crate::error::Error;

/// Places a copy never takes anything from, whatever an entry says: the main checkout's
/// `.git`, the git common dir (the state dir is inside it) and the worktree dir (the new
/// worktree is inside it, so copying it would copy the copy). Any `.git` found while
/// walking a directory is skipped too.
#[derive(Debug, Clone)]
pub struct Limits {
    pub(super) never: Vec<PathBuf>,
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

    pub(super) fn excludes(&self, source: &Path) -> bool {
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

pub(super) fn kind_on_disk(p: &Path) -> std::io::Result<Kind> {
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
pub(super) fn prefixes(rel: &Path) -> Vec<PathBuf> {
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

pub(super) fn through_symlink(e: &Entry, link: &Path, place: &str) -> Error {
    Error::usage(format!(
        "{}: {} is a symlink {place}; a copy through it could write outside the worktree",
        e.label(),
        link.display()
    ))
    .with_hint("name the symlink itself (it is copied as a symlink), or remove the entry")
}

pub(super) fn symlink_over_dir(e: &Entry, place: &str) -> Error {
    Error::usage(format!(
        "{}: a directory in the main checkout but a symlink {place}; copying it would write through that symlink",
        e.label()
    ))
    .with_hint("remove the entry, or spawn from a base where it is not a symlink")
}

pub(super) fn never_copied(e: &Entry) -> Error {
    Error::usage(format!(
        "{}: .git, the git dir and the worktree dir are never copied",
        e.label()
    ))
    .with_hint("remove the entry")
}

/// The source side: `Ok(None)` when the entry does not exist in the main checkout (an
/// optional `.env`), else what it is. Refused when a directory on the way is a symlink.
pub(super) fn source_kind(root: &Path, e: &Entry) -> Result<Option<Kind>, Error> {
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
