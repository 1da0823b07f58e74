//! Making a task's worktree. `git worktree add` reads the metadata of every existing
//! worktree several times before it adds one (to refuse a branch checked out twice), so
//! with hundreds of task worktrees each add costs tens of milliseconds, and adds must
//! not overlap (git races on half-written metadata). For the plain case this module
//! writes the few files `git worktree add --no-checkout` writes itself, as
//! gitrepository-layout(5) describes them, in well under a millisecond:
//!
//! ```text
//! <common dir>/worktrees/<name>/gitdir     <worktree>/.git (absolute)
//! <common dir>/worktrees/<name>/commondir  ../..
//! <common dir>/worktrees/<name>/HEAD       ref: refs/heads/<branch>
//! <worktree>/.git                          gitdir: <common dir>/worktrees/<name>
//! ```
//!
//! Other git processes read every worktree's metadata at any time (a `git branch -D` of
//! another task does), and die on a file they find half-written. So the admin dir is
//! filled in a staging dir of the state dir and renamed into `worktrees/` whole, by a
//! rename that refuses a name already taken (git's name1, name2, … then follow). The
//! worktree's `.git` is written before, so the admin dir is never seen pointing at
//! nothing; where such a rename is not supported, git makes the worktree.
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
    let by_git = !(writes_itself(repo) && plain_name(&name) && plain_path(path))
        || match add_metadata(repo, path, &name, branch, base) {
            Ok(()) => false,
            // Rolled back: nothing of it is left for git to trip on.
            Err(e) if e.is::<Unsupported>() => true,
            Err(e) => return Err(e),
        };
    if by_git {
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
        // Nothing half-made stays: the worktree's .git, the new branch (the admin dir is
        // moved into place last, by a step that either happens whole or not at all).
        let _ = fs::remove_file(path.join(".git"));
        let _ = fs::remove_file(path.join(".git.new"));
        let _ = fs::remove_dir(path);
        let _ = local.edit_reference(RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(gix::refs::Target::Object(base_id)),
                log: RefLog::AndReference,
            },
            name: full.as_str().try_into()?,
            deref: false,
        });
        return Err(e);
    }
    Ok(())
}

/// No rename here that refuses a taken name (or the state dir is on another file
/// system than git's): git makes the worktree instead.
#[derive(Debug)]
struct Unsupported;

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no rename that refuses an existing name here")
    }
}

impl std::error::Error for Unsupported {}

/// Rename `from` to `to`, refusing (`AlreadyExists`) when `to` exists, even empty.
fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes());
        let (from, to) = (c(from)?, c(to)?);
        // SAFETY: two NUL-terminated paths that live across the call.
        let rc = unsafe {
            libc::renameat2(
                libc::AT_FDCWD,
                from.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                libc::RENAME_NOREPLACE,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (from, to);
        Err(std::io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

/// Write `file` whole or not at all: readers see the old file or the new one.
fn write_whole(file: &Path, text: &str) -> Result<()> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".new");
    let tmp = PathBuf::from(tmp);
    fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, file))
        .with_context(|| format!("cannot write {}", file.display()))
}

/// Staged admin dirs that a process killed mid-add left (`<name>.<pid>.<n>`, its pid
/// gone), removed once per process.
fn clear_stale_stages(staging: &Path) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| clear_stages_of_the_dead(staging));
}

fn clear_stages_of_the_dead(staging: &Path) {
    let Ok(entries) = fs::read_dir(staging) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let pid = name
            .to_str()
            .and_then(|n| n.rsplit('.').nth(1))
            .and_then(|p| p.parse::<libc::pid_t>().ok());
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = pid.is_some_and(|p| {
            p > 0
                && unsafe { libc::kill(p, 0) } != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
        });
        if gone {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// The metadata files, the admin dir moved into place last.
fn write_admin(repo: &Repo, path: &Path, name: &str, full_ref: &str) -> Result<()> {
    let all = repo.common_dir.join("worktrees");
    let staging = repo.common_dir.join("agents").join("staging");
    fs::create_dir_all(&all).with_context(|| format!("cannot create {}", all.display()))?;
    // In the state dir, private as all of it is.
    crate::store::private_dir(&staging)?;
    fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    let wt =
        fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))?;
    clear_stale_stages(&staging);
    // Filled where no git looks, then moved into worktrees/ in one rename.
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stage = staging.join(format!("{name}.{}.{seq}", std::process::id()));
    let _ = fs::remove_dir_all(&stage);
    let staged = (|| -> Result<()> {
        fs::create_dir(&stage).with_context(|| format!("cannot create {}", stage.display()))?;
        let write = |file: &str, text: String| {
            let file = stage.join(file);
            fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))
        };
        write("gitdir", format!("{}\n", wt.join(".git").display()))?;
        write("commondir", "../..\n".into())?;
        write("HEAD", format!("ref: {full_ref}\n"))
    })();
    if let Err(e) = staged {
        let _ = fs::remove_dir_all(&stage);
        return Err(e);
    }
    // As git does: the worktree's name, then name1, name2, … while one is taken.
    let mut admin = all.join(name);
    let mut n = 0u32;
    loop {
        let linked = write_whole(&wt.join(".git"), &format!("gitdir: {}\n", admin.display()))
            .and_then(|()| {
                crate::fault::point("spawn:worktree-staged");
                let Err(e) = rename_noreplace(&stage, &admin) else {
                    return Ok(true);
                };
                match e.raw_os_error() {
                    Some(libc::EEXIST | libc::ENOTEMPTY) if n < 10_000 => Ok(false),
                    Some(libc::EINVAL | libc::ENOSYS | libc::EXDEV) => {
                        Err(anyhow::Error::new(Unsupported))
                    }
                    _ => Err(anyhow::Error::from(e)
                        .context(format!("cannot create {}", admin.display()))),
                }
            });
        match linked {
            Ok(true) => return Ok(()),
            Ok(false) => {
                n += 1;
                admin = all.join(format!("{name}{n}"));
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&stage);
                return Err(e);
            }
        }
    }
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

    /// A repository with one empty commit; its root (canonical) and that commit.
    fn repo(tmp: &Path) -> (Repo, PathBuf, String) {
        let root = tmp.join("repo");
        std::fs::create_dir(&root).unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["commit", "-q", "--allow-empty", "-m", "base"]);
        let base = git(&root, &["rev-parse", "main"]).trim().to_string();
        let root = fs::canonicalize(&root).unwrap();
        let repo = Repo {
            gix: gix::open(&root).unwrap().into_sync(),
            common_dir: root.join(".git"),
            root: root.clone(),
        };
        (repo, root, base)
    }

    /// git reads every worktree's metadata while worktrees are being made (a `branch -D`
    /// of another task does): it must never find a file half-written, which it takes
    /// for a corrupt repository ("failed to read .../commondir").
    #[test]
    fn git_never_reads_half_written_metadata() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, root, base) = repo(tmp.path());
        let done = std::sync::atomic::AtomicBool::new(false);
        let failures = std::thread::scope(|s| {
            let read = || {
                let mut failures = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let out = Command::new("git")
                        .args(["worktree", "list", "--porcelain"])
                        .current_dir(&root)
                        .env("GIT_CONFIG_NOSYSTEM", "1")
                        .env("GIT_CONFIG_GLOBAL", "/dev/null")
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        failures.push(String::from_utf8_lossy(&out.stderr).into_owned());
                    }
                }
                failures
            };
            let readers = [s.spawn(read), s.spawn(read)];
            for i in 0..300 {
                let path = root.join(".worktrees").join(format!("t{i}"));
                add_metadata(
                    &repo,
                    &path,
                    &format!("t{i}"),
                    &format!("agent/t{i}"),
                    &base,
                )
                .unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            readers
                .map(|r| r.join().unwrap())
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
        });
        assert!(failures.is_empty(), "{failures:?}");
        // Nothing of the writing is left behind.
        let mut left: Vec<_> = fs::read_dir(root.join(".git/worktrees/t7"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, ["HEAD", "commondir", "gitdir"]);
        assert_eq!(
            fs::read_dir(root.join(".git/agents/staging"))
                .unwrap()
                .count(),
            0
        );
        assert!(!root.join(".worktrees/t7/.git.new").exists());
    }

    #[test]
    fn stages_left_by_dead_processes_are_cleared_and_live_ones_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let staging = tmp.path();
        // A pid above any pid_max names no process.
        let dead = staging.join("t1.2000000000.0");
        let mine = staging.join(format!("t2.{}.0", std::process::id()));
        for d in [&dead, &mine] {
            fs::create_dir(d).unwrap();
            fs::write(d.join("HEAD"), "ref: refs/heads/x\n").unwrap();
        }
        clear_stages_of_the_dead(staging);
        assert!(!dead.exists());
        assert!(mine.join("HEAD").exists());
    }

    #[test]
    fn a_branch_that_exists_leaves_nothing_half_made() {
        let tmp = tempfile::tempdir().unwrap();
        let (repo, root, base) = repo(tmp.path());
        git(&root, &["branch", "agent/x"]);
        let base = format!("{base}\n");
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
