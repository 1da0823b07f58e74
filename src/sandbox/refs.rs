//! The task's own branch inside the sandbox.
//!
//! git updates a ref by writing `<ref>.lock` and renaming it over the ref, and the dir
//! that holds the branch (`refs/heads/agent/`) holds every task's branch: a rename onto
//! a single-file bind mount fails, and binding the dir writable would let the agent
//! move its neighbours. So the sandbox sees, in place of that dir, a private dir of the
//! task's own (under the state dir) holding its branch alone, writable, with every other
//! entry of the real dir bound read-only over it (a rename onto those fails). After the
//! job, [`land`] moves the real branch to whatever commit the private one names, outside
//! the sandbox, with a compare-and-swap; a tip the new one does not descend from is
//! logged to pruned.log first.

use anyhow::{Context as _, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::bwrap::RefDir;
use crate::store::Store;

/// The private view of the branch's ref dir, ready for one job, and its reflog.
pub(super) struct Prepared {
    pub dir: RefDir,
    pub leaf: OsString,
    pub reflog: PathBuf,
    /// The branch tip the job starts from.
    pub tip: Option<String>,
}

/// Make the private ref dir for `branch` in `private`, holding the branch at `tip`.
pub(super) fn prepare(
    common: &Path,
    branch: &str,
    tip: Option<String>,
    private: &Path,
) -> Result<Prepared> {
    let rel = Path::new("refs/heads").join(branch);
    let full = common.join(&rel);
    let real = full
        .parent()
        .context("a branch name without a dir")?
        .to_path_buf();
    let leaf = full
        .file_name()
        .context("an empty branch name")?
        .to_os_string();
    std::fs::create_dir_all(&real).with_context(|| format!("cannot create {}", real.display()))?;
    if private.exists() {
        std::fs::remove_dir_all(private)
            .with_context(|| format!("cannot clear {}", private.display()))?;
    }
    crate::store::private_dir(private)?;
    if let Some(t) = &tip {
        std::fs::write(private.join(&leaf), format!("{t}\n"))
            .with_context(|| format!("cannot write {}", private.display()))?;
    }
    let mut others: Vec<OsString> = std::fs::read_dir(&real)
        .with_context(|| format!("cannot read {}", real.display()))?
        .filter_map(|e| e.ok().map(|e| e.file_name()))
        .filter(|n| *n != leaf)
        .collect();
    others.sort();
    // The reflog is appended to in place (never renamed): a file bind is enough, and it
    // must exist for one.
    let reflog = common.join("logs").join(&rel);
    if !reflog.exists() {
        if let Some(p) = reflog.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
        }
        std::fs::File::create(&reflog)
            .with_context(|| format!("cannot create {}", reflog.display()))?;
    }
    Ok(Prepared {
        dir: RefDir {
            real,
            private: private.to_path_buf(),
            others,
        },
        leaf,
        reflog,
        tip,
    })
}

/// The worktree's `HEAD` must name its own branch or a commit: a symbolic ref to any
/// other branch would make git-agents' own commit of the agent's leftovers, outside the
/// sandbox, move that branch. Such a `HEAD` is put back on the task's branch, and `Err`
/// says what it was.
pub(super) fn check_head(admin: &Path, branch: &str) -> Result<(), String> {
    let head = admin.join("HEAD");
    let text = std::fs::read_to_string(&head).unwrap_or_default();
    let own = format!("ref: refs/heads/{branch}");
    match text.trim().strip_prefix("ref:") {
        Some(_) if text.trim() == own => Ok(()),
        None if std::fs::symlink_metadata(&head).is_ok_and(|m| m.is_file()) => Ok(()),
        _ => {
            let _ = std::fs::remove_file(&head);
            std::fs::write(&head, format!("{own}\n"))
                .map_err(|e| format!("cannot put {} back: {e}", head.display()))?;
            Err(format!(
                "the agent pointed its worktree's HEAD at {:?} inside the sandbox; it was put \
                 back on {branch}",
                crate::ui::escape_control(&text.trim().chars().take(80).collect::<String>())
            ))
        }
    }
}

/// Bring what the job left on its private branch onto the real one. `Err` says why the
/// branch was not moved (the attempt fails with it; nothing is lost: the commits stay
/// in the object store, and a moved-away tip is in pruned.log).
pub(super) fn land(
    p: &Prepared,
    root: &Path,
    branch: &str,
    store: &Store,
    id: &str,
) -> Result<(), String> {
    let file = p.dir.private.join(&p.leaf);
    let regular = std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file());
    let text = match std::fs::read_to_string(&file)
        .ok()
        .filter(|_| regular)
        .ok_or(())
    {
        Ok(t) => t,
        Err(_) if p.tip.is_none() => return Ok(()),
        Err(_) => {
            return Err(format!(
                "the agent deleted its branch {branch} inside the sandbox; it was left at {}",
                p.tip.as_deref().unwrap_or("?")
            ));
        }
    };
    let new = text.trim();
    if p.tip.as_deref() == Some(new) {
        return Ok(());
    }
    let hex = (new.len() == 40 || new.len() == 64) && new.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex || !crate::git::sandbox::is_commit(root, new) {
        return Err(format!(
            "the agent left its branch {branch} as {:?} inside the sandbox, not a commit; \
             the branch was left as it was",
            crate::ui::escape_control(&new.chars().take(80).collect::<String>())
        ));
    }
    if let Some(old) = &p.tip
        && !crate::git::sandbox::is_ancestor(root, old, new)
    {
        store
            .log_discarded(id, branch, old)
            .map_err(|e| format!("cannot log {old} to pruned.log: {e:#}"))?;
    }
    crate::git::sandbox::move_branch(root, branch, new, p.tip.as_deref())
        .map_err(|e| format!("cannot move {branch} to the sandbox's commit {new}: {e:#}"))
}
