//! Linked worktrees as git keeps them: `<common dir>/worktrees/<name>/` holds a
//! worktree's HEAD, index and `gitdir` (the path of the worktree's `.git` file), and
//! the worktree's `.git` file points back. Read directly from the files: cheap enough
//! to check many worktrees at the moment they are removed.

use anyhow::{Context as _, Result};
use std::fs;
use std::path::{Path, PathBuf};

use crate::git;

/// One entry of `<common dir>/worktrees/`.
#[derive(Debug, Clone)]
pub struct Admin {
    /// `<common dir>/worktrees/<name>`.
    pub dir: PathBuf,
    /// The worktree it belongs to (the parent of the `.git` file named by `gitdir`).
    pub worktree: PathBuf,
}

impl Admin {
    /// `git worktree lock` reason ("" when locked without one).
    pub fn locked(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("locked"))
            .ok()
            .map(|s| s.trim().to_string())
    }

    /// The worktree's HEAD: `Ok(ref name)` when on a branch, `Err(id)` when detached.
    pub fn head(&self) -> Option<std::result::Result<String, String>> {
        read_head(&self.dir)
    }

    /// Stale as `git worktree prune` sees it: the worktree is gone and not locked.
    pub fn is_stale(&self) -> bool {
        fs::symlink_metadata(self.worktree.join(".git")).is_err() && self.locked().is_none()
    }
}

/// Every linked worktree registered in `common_dir`.
pub fn admins(common_dir: &Path) -> Vec<Admin> {
    let Ok(entries) = fs::read_dir(common_dir.join("worktrees")) else {
        return Vec::new();
    };
    let mut out: Vec<Admin> = entries
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let text = fs::read_to_string(dir.join("gitdir")).ok()?;
            let gitfile = dir.join(text.trim_end_matches(['\n', '\r']));
            let gitfile = crate::config::normalize(&gitfile);
            Some(Admin {
                worktree: canon(gitfile.parent()?),
                dir,
            })
        })
        .collect();
    out.sort_by(|a, b| a.dir.cmp(&b.dir));
    out
}

/// What is at a path a task's worktree should be.
#[derive(Debug, Clone)]
pub enum Found {
    /// Nothing: deleted by hand, or never created.
    Missing,
    /// A linked worktree of this repository.
    Linked(Admin),
    /// A linked worktree or repository that is not ours.
    Foreign(String),
    /// A directory with no `.git`: not a worktree at all.
    Plain,
}

/// Look at `path` and say what it is, relative to the repository whose git common dir
/// is `common_dir` (canonical).
pub fn find(common_dir: &Path, path: &Path) -> Found {
    let gitfile = path.join(".git");
    let meta = match fs::symlink_metadata(&gitfile) {
        Ok(m) => m,
        Err(_) if fs::symlink_metadata(path).is_ok() => return Found::Plain,
        Err(_) => return Found::Missing,
    };
    if meta.is_dir() {
        return Found::Foreign(format!("{} is a repository of its own", path.display()));
    }
    let Some(admin_dir) = fs::read_to_string(&gitfile)
        .ok()
        .and_then(|t| t.strip_prefix("gitdir:").map(|s| s.trim().to_string()))
        .map(|p| canon(&path.join(p)))
    else {
        return Found::Foreign(format!("{} is not a git worktree file", gitfile.display()));
    };
    if admin_dir.parent() != Some(common_dir.join("worktrees").as_path()) {
        return Found::Foreign(format!(
            "{} belongs to another repository ({})",
            path.display(),
            admin_dir.display()
        ));
    }
    Found::Linked(Admin {
        dir: admin_dir,
        worktree: canon(path),
    })
}

/// Read a HEAD file: `Ok(ref name)` for a symbolic HEAD, `Err(hex id)` when detached.
pub fn read_head(git_dir: &Path) -> Option<std::result::Result<String, String>> {
    let text = fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let text = text.trim();
    Some(match text.strip_prefix("ref:") {
        Some(r) => Ok(r.trim().to_string()),
        None => Err(text.to_string()),
    })
}

/// Where `refs/heads/<branch>` is checked out, among the main worktree (`root`, whose
/// HEAD is in `common_dir`) and every linked worktree except `skip`.
pub fn checked_out_at(
    common_dir: &Path,
    root: &Path,
    branch: &str,
    skip: Option<&Path>,
) -> Option<PathBuf> {
    let full = format!("refs/heads/{branch}");
    if read_head(common_dir).is_some_and(|h| h.as_deref() == Ok(full.as_str())) {
        return Some(root.to_path_buf());
    }
    admins(common_dir)
        .into_iter()
        .filter(|a| Some(a.dir.as_path()) != skip)
        .find(|a| a.head().is_some_and(|h| h.as_deref() == Ok(full.as_str())))
        .map(|a| a.worktree)
}

/// Processes other than this one whose current directory is `dir` or inside it, as
/// `(pid, command name)`. Empty where there is no procfs.
pub fn users(dir: &Path) -> Vec<(u32, String)> {
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        if let Ok(cwd) = fs::read_link(e.path().join("cwd"))
            && cwd.starts_with(dir)
        {
            let name = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            out.push((pid, name.trim().to_string()));
        }
    }
    out.sort();
    out
}

/// Save everything uncommitted in a worktree (untracked files included, ignored ones
/// and `keep_out` not) as a commit on top of its HEAD, touching neither its index nor
/// any ref, and return the commit's id. `git branch NAME <id>` brings it all back.
///
/// The commit is a rescue object, never published (see [`git::snapshot_commit`]).
pub fn snapshot(
    worktree: &Path,
    admin: &Admin,
    message: &str,
    keep_out: &[String],
) -> Result<String> {
    let index = admin.dir.join("git-agents-snapshot.index");
    let _ = fs::remove_file(&index);
    if admin.dir.join("index").is_file() {
        // Starting from the real index keeps `git add` from hashing unchanged files.
        fs::copy(admin.dir.join("index"), &index).context("cannot copy the index")?;
    }
    let result = git::snapshot_commit(worktree, &index, message, keep_out);
    let _ = fs::remove_file(&index);
    result
}

/// Canonical form of a path that may not exist: its nearest existing ancestor is
/// resolved, the rest appended.
pub fn canon(p: &Path) -> PathBuf {
    let p = crate::config::normalize(p);
    if let Ok(c) = fs::canonicalize(&p) {
        return c;
    }
    match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => canon(parent).join(name),
        _ => p,
    }
}
