//! Making a task's worktree. `git worktree add` reads the metadata of every existing
//! worktree several times before it adds one (to refuse a branch checked out twice), so
//! with hundreds of task worktrees each add costs tens of milliseconds, and adds must
//! not overlap (git races on half-written metadata). For the plain case this module
//! writes the few files `git worktree add --no-checkout` writes itself, as
//! gitrepository-layout(5) describes them, in well under a millisecond:
//!
//! ```text
//! <common dir>/worktrees/<name>/locked     "initializing" while it is being made
//! <common dir>/worktrees/<name>/gitdir     <worktree>/.git (absolute)
//! <common dir>/worktrees/<name>/commondir  ../..
//! <common dir>/worktrees/<name>/HEAD       ref: refs/heads/<branch>
//! <worktree>/.git                          gitdir: <common dir>/worktrees/<name>
//! ```
//!
//! The branch is created first, by compare-and-swap (it must not exist). Anything that
//! asks more of `worktree add` (per-worktree config, sparse checkouts, relative paths,
//! reftable, a name git would rewrite) goes through git itself. Either way the files are
//! then checked out by `git checkout --force`, outside the lock, with git's filters and
//! hooks.

use super::*;
use std::fs;

/// Make a task's worktree at `path` on a new branch `branch` starting at `base`.
pub fn add_worktree(repo: &Repo, path: &Path, branch: &str, base: &str) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let plain_path = |p: &Path| p.to_str().is_some_and(|s| !s.contains('\n'));
    if writes_itself(repo) && plain_name(&name) && plain_path(path) {
        add_metadata(repo, path, &name, branch, base)?;
    } else {
        add_worktree_by_git(&repo.root, path, branch, base)?;
    }
    run(path, &["checkout", "--force", "--quiet"])?;
    Ok(())
}

/// Whether this repository needs nothing of `worktree add` but its metadata (checked
/// once per process).
fn writes_itself(repo: &Repo) -> bool {
    static PLAIN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PLAIN.get_or_init(|| {
        if std::env::var_os("GIT_AGENTS_WORKTREE_ADD").is_some_and(|v| v == "git") {
            return false;
        }
        let local = repo.local();
        let config = local.config_snapshot();
        let set = |key: &str| config.boolean(key).unwrap_or(false);
        !(set("extensions.worktreeConfig")
            || set("core.sparseCheckout")
            || set("worktree.useRelativePaths")
            || config.string("extensions.refStorage").is_some()
            || repo.common_dir.join("reftable").exists()
            || repo.common_dir.to_str().is_none_or(|s| s.contains('\n')))
    })
}

/// A name git keeps as it is for the metadata directory.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.ends_with(".lock")
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn add_metadata(repo: &Repo, path: &Path, name: &str, branch: &str, base: &str) -> Result<()> {
    use gix::refs::transaction::{Change, LogChange, PreviousValue, RefEdit, RefLog};
    let base_id = gix::ObjectId::from_hex(base.as_bytes())
        .with_context(|| format!("{base} is not a full commit id"))?;
    if path
        .read_dir()
        .is_ok_and(|mut entries| entries.next().is_some())
    {
        return Err(anyhow!(
            "'{}' already exists and is not empty",
            path.display()
        ));
    }
    let full = format!("refs/heads/{branch}");
    let _guard = worktree_lock()?;
    let local = repo.local();
    // gix takes an existing ref with the new value as already made; git refuses it.
    if local.try_find_reference(full.as_str())?.is_some() {
        return Err(anyhow!("a branch named '{branch}' already exists"));
    }
    local
        .edit_reference(RefEdit {
            change: Change::Update {
                log: LogChange {
                    mode: RefLog::AndReference,
                    force_create_reflog: false,
                    message: format!("branch: Created from {base}").into(),
                },
                expected: PreviousValue::MustNotExist,
                new: gix::refs::Target::Object(base_id),
            },
            name: full
                .as_str()
                .try_into()
                .with_context(|| format!("invalid branch name {branch}"))?,
            deref: false,
        })
        .with_context(|| format!("cannot create branch {branch}"))?;
    let made = write_admin(repo, path, name, &full);
    if let Err(e) = made {
        // Nothing half-made stays: the admin dir, the worktree's .git, the new branch.
        if let Ok(admin) = &e.1 {
            let _ = fs::remove_dir_all(admin);
        }
        let _ = fs::remove_file(path.join(".git"));
        let _ = fs::remove_dir(path);
        let _ = local.edit_reference(RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(gix::refs::Target::Object(base_id)),
                log: RefLog::AndReference,
            },
            name: full.as_str().try_into()?,
            deref: false,
        });
        return Err(e.0);
    }
    Ok(())
}

/// The metadata files; on failure, the error and the admin dir if one was made.
fn write_admin(
    repo: &Repo,
    path: &Path,
    name: &str,
    full_ref: &str,
) -> std::result::Result<(), (anyhow::Error, Result<PathBuf>)> {
    let all = repo.common_dir.join("worktrees");
    fs::create_dir_all(&all)
        .with_context(|| format!("cannot create {}", all.display()))
        .map_err(|e| (e, Err(anyhow!("none"))))?;
    // As git does: the worktree's name, then name1, name2, … while one is taken.
    let mut admin = all.join(name);
    let mut n = 0u32;
    loop {
        match fs::create_dir(&admin) {
            Ok(()) => break,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && n < 10_000 => {
                n += 1;
                admin = all.join(format!("{name}{n}"));
            }
            Err(e) => {
                return Err((
                    anyhow::Error::from(e).context(format!("cannot create {}", admin.display())),
                    Err(anyhow!("none")),
                ));
            }
        }
    }
    let fail = |e: anyhow::Error| (e, Ok(admin.clone()));
    let write = |file: &Path, text: &str| {
        fs::write(file, text).with_context(|| format!("cannot write {}", file.display()))
    };
    // Locked while half-made, so a `git worktree prune` meanwhile leaves it alone.
    write(&admin.join("locked"), "initializing\n").map_err(fail)?;
    fs::create_dir_all(path)
        .with_context(|| format!("cannot create {}", path.display()))
        .map_err(fail)?;
    let wt = fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))
        .map_err(fail)?;
    write(
        &admin.join("gitdir"),
        &format!("{}\n", wt.join(".git").display()),
    )
    .map_err(fail)?;
    write(&wt.join(".git"), &format!("gitdir: {}\n", admin.display())).map_err(fail)?;
    write(&admin.join("commondir"), "../..\n").map_err(fail)?;
    write(&admin.join("HEAD"), &format!("ref: {full_ref}\n")).map_err(fail)?;
    fs::remove_file(admin.join("locked"))
        .with_context(|| format!("cannot unlock {}", admin.display()))
        .map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn a_branch_that_exists_leaves_nothing_half_made() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir(&root).unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "base"]);
        git(&root, &["branch", "agent/x"]);
        let base = git(&root, &["rev-parse", "main"]);
        let root = fs::canonicalize(&root).unwrap();
        let repo = Repo {
            gix: gix::open(&root).unwrap().into_sync(),
            common_dir: root.join(".git"),
            root: root.clone(),
        };
        let path = root.join(".worktrees").join("x");
        let err = add_metadata(&repo, &path, "x", "agent/x", base.trim()).unwrap_err();
        assert!(format!("{err:#}").contains("agent/x"), "{err:#}");
        assert!(!path.exists());
        assert!(!root.join(".git/worktrees/x").exists());
        // The branch that was there is untouched.
        assert_eq!(git(&root, &["rev-parse", "agent/x"]), base);

        // A worktree that cannot be made once the branch and admin dir are: both go.
        std::fs::write(root.join("a-file"), "").unwrap();
        let path = root.join("a-file").join("y");
        assert!(add_metadata(&repo, &path, "y", "agent/y", base.trim()).is_err());
        assert!(!root.join(".git/worktrees/y").exists());
        assert!(!root.join(".git/refs/heads/agent/y").exists());
        let out = Command::new("git")
            .args(["rev-parse", "--verify", "-q", "agent/y"])
            .current_dir(&root)
            .output()
            .unwrap();
        assert!(!out.status.success());
    }
}
