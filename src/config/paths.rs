//! Where worktrees may go: `~` expansion, the refusal of directories that would break
//! git, and the path helpers that compare them.

use std::path::{Path, PathBuf};

use super::keys;
use crate::error::Error;

/// `~` and `~/…` mean the home directory, as in git's path-valued settings.
pub(super) fn expand_home(dir: &str) -> Result<String, Error> {
    let Some(rest) = dir.strip_prefix('~') else {
        return Ok(dir.to_string());
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(Error::usage(format!(
            "invalid git config {}={dir:?}: only ~ and ~/ are expanded (to $HOME)",
            keys::WORKTREE_DIR
        ))
        .with_hint("give the path as ~/… or in full"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(format!("{}{rest}", home.to_string_lossy())),
        None => Err(Error::usage(format!(
            "git config {}={dir:?} starts with ~ but HOME is not set",
            keys::WORKTREE_DIR
        ))
        .with_hint("set HOME, or give the path in full")),
    }
}

/// Refuse a worktree dir that would break or confuse git: the repository root itself, a
/// directory containing it, or anything inside a git dir (`.git/refs/heads` makes every
/// worktree a corrupt ref). Symlinks on the way are resolved, so a tracked `.worktrees`
/// symlink into `.git` is caught too.
pub fn check_worktree_dir(dir: &Path, root: &Path, common_dir: &Path) -> Result<(), Error> {
    let resolved = resolve_existing(dir);
    let root_real = resolve_existing(root);
    let git_dirs = [
        root.join(".git"),
        resolve_existing(&root.join(".git")),
        common_dir.to_path_buf(),
        resolve_existing(common_dir),
    ];
    let shown = dir.display();
    let problem = if [dir, resolved.as_path()].contains(&root) || resolved == root_real {
        Some(format!("{shown} is the repository root itself"))
    } else if root.starts_with(dir) || root_real.starts_with(&resolved) {
        Some(format!("{shown} contains the repository"))
    } else {
        git_dirs
            .iter()
            .find(|g| dir.starts_with(g) || resolved.starts_with(g))
            .map(|g| {
                format!(
                    "{shown} is inside the git directory {}: worktrees there corrupt the repository",
                    g.display()
                )
            })
    };
    match problem {
        Some(p) => Err(
            Error::usage(format!("invalid {}: {p}", keys::WORKTREE_DIR)).with_hint(format!(
                "use a directory of its own, e.g.: git config {} .worktrees",
                keys::WORKTREE_DIR
            )),
        ),
        None => Ok(()),
    }
}

/// `p` with its longest existing prefix resolved (symlinks and all), the rest appended
/// as written: where `p` is, or would be once created.
pub fn resolve_existing(p: &Path) -> PathBuf {
    let mut head = p.to_path_buf();
    let mut tail = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&head) {
            return tail
                .iter()
                .rev()
                .fold(real, |acc, c: &std::ffi::OsString| acc.join(c));
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                head = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

/// Lexically remove `.` and `..` so that paths compare and display cleanly.
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worktree_dirs_that_break_git_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        let root = base.join("r");
        std::fs::create_dir_all(root.join(".git/refs/heads")).unwrap();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(".git/refs", root.join("sneaky")).unwrap();
        let common = root.join(".git");
        for (dir, word) in [
            (root.clone(), "root itself"),
            (root.join("sub/.."), "root itself"),
            (base.clone(), "contains the repository"),
            (PathBuf::from("/"), "contains the repository"),
            (root.join(".git"), "inside the git directory"),
            (root.join(".git/refs/heads"), "inside the git directory"),
            (root.join("sneaky/heads"), "inside the git directory"),
        ] {
            let e = check_worktree_dir(&normalize(&dir), &root, &common)
                .expect_err(&dir.display().to_string());
            assert!(e.message.contains(word), "{}: {}", dir.display(), e.message);
            assert!(e.message.contains(keys::WORKTREE_DIR), "{}", e.message);
        }
        for ok in [
            root.join(".worktrees"),
            root.join("sub/wt"),
            base.join("r.agents"),
            root.join(".gitx"),
        ] {
            check_worktree_dir(&ok, &root, &common).unwrap();
        }
    }
}
