//! Git access: gix for reading (refs, revisions, config, ahead/behind), and one wrapper
//! around the `git` program for what gix does not do (worktree add/remove, commits of an
//! agent's leftovers with the user's hooks-free identity, branch deletion).
//!
//! Every `git` process runs with `LC_ALL=C`, stdin closed, and without the variables
//! that would pin it to another repository; its argv and stderr go into the error.

use anyhow::{Context as _, Result, anyhow};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::error::Error;

/// Environment variables that tie a git process to one repository. Children working in
/// a worktree must find their repository from their own directory.
pub const REPO_ENV: &[&str] = &[
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
];

/// The lock that serialises changes to `<common dir>/worktrees/` (set once the
/// repository is found). git itself races there: two `git worktree add` at once can
/// fail reading each other's half-written metadata ("failed to read .../commondir").
static WORKTREE_LOCK: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Hold this while adding, removing or moving worktree metadata.
pub fn worktree_lock() -> Result<Option<crate::store::Lock>> {
    let Some(path) = WORKTREE_LOCK.get() else {
        return Ok(None);
    };
    if let Some(dir) = path.parent() {
        crate::store::private_dir(dir)?;
    }
    crate::store::lock_file(path).map(Some)
}

/// The repository git-agents works on.
pub struct Repo {
    pub gix: gix::ThreadSafeRepository,
    /// Root of the main worktree (where `agents.yaml` and `.worktrees/` live by default).
    pub root: PathBuf,
    /// The git common dir, canonicalised (shared by all worktrees).
    pub common_dir: PathBuf,
}

impl Repo {
    /// Find the repository containing the current directory, honouring `GIT_DIR` and
    /// friends like git does.
    pub fn discover() -> Result<Repo> {
        let repo = gix::discover_with_environment_overrides(".").map_err(|e| {
            Error::usage(format!("not a git repository (or any parent): {e}"))
                .with_hint("run git agents inside a git repository, or pass -C <path>")
        })?;
        let main = repo.main_repo().context("cannot open the main worktree")?;
        let root = main
            .workdir()
            .ok_or_else(|| {
                Error::usage("this repository has no working tree (bare repository)")
                    .with_hint("git agents needs a non-bare repository to make worktrees from")
            })?
            .to_path_buf();
        let root = std::fs::canonicalize(&root).unwrap_or(root);
        let common_dir = std::fs::canonicalize(repo.common_dir())
            .with_context(|| format!("cannot resolve {}", repo.common_dir().display()))?;
        let _ = WORKTREE_LOCK.set(common_dir.join("agents").join("worktree.lock"));
        Ok(Repo {
            gix: main.into_sync(),
            root,
            common_dir,
        })
    }

    pub fn local(&self) -> gix::Repository {
        self.gix.to_thread_local()
    }

    /// The repository directory's name, for `{repo}` in `agents.worktreeDir`.
    pub fn name(&self) -> String {
        self.root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "repo".into())
    }

    /// Resolve a revision to a commit id, or `None` if it does not name a commit.
    pub fn resolve_commit(&self, rev: &str) -> Option<gix::ObjectId> {
        crate::report::resolve_commit(&self.local(), rev)
    }

    /// The short name of the branch checked out in the main worktree, if any.
    pub fn head_branch(&self) -> Option<String> {
        let repo = self.local();
        let name = repo.head_name().ok()??;
        Some(name.shorten().to_string())
    }

    pub fn branch_exists(&self, short: &str) -> bool {
        let repo = self.local();
        repo.try_find_reference(format!("refs/heads/{short}").as_str())
            .ok()
            .flatten()
            .is_some()
    }

    /// The commit a branch points at.
    pub fn branch_tip(&self, short: &str) -> Option<gix::ObjectId> {
        crate::report::branch_tip(&self.local(), short)
    }
}

mod cmd;
mod diffstat;
mod ops;
pub mod remote;
pub mod sandbox;
mod scratch;
pub mod store;
mod worktree_add;

use cmd::{checked, command, output, output_of, output_with_input, run, run_with_input, split_z};
pub use diffstat::{DiffStat, diffstat};
pub use ops::*;
pub use scratch::*;
pub use worktree_add::add_worktree;

/// How a branch's work is already part of a base (SPEC §5 prune: "work is in base").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InBase {
    /// The tip is the base's tip or reachable from it (merged, fast-forwarded, or no
    /// commits of its own).
    Reachable,
    /// Merging the tip into the base would change nothing: its changes arrived another
    /// way (squash, rebase, cherry-pick).
    Applied,
}

impl Repo {
    /// Whether everything commit `tip` holds is already in commit `base`: `tip` is
    /// reachable from `base`, or merging `tip` into `base` (in memory, nothing written)
    /// yields `base`'s own tree. Unrelated histories and conflicts count as "not in base".
    pub fn work_in_base(&self, tip: gix::ObjectId, base: gix::ObjectId) -> Result<Option<InBase>> {
        if tip == base {
            return Ok(Some(InBase::Reachable));
        }
        let repo = self.local();
        match repo.merge_base(tip, base) {
            Ok(Some(mb)) if mb.detach() == tip => return Ok(Some(InBase::Reachable)),
            Ok(Some(_)) => {}
            // No common history: nothing of the tip can be in base.
            Ok(None) | Err(_) => return Ok(None),
        }
        let repo = repo.with_object_memory();
        let options = repo
            .tree_merge_options()?
            .with_fail_on_conflict(Some(gix::merge::tree::TreatAsUnresolved::git()));
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: None,
            current: Some("base".into()),
            other: Some("branch".into()),
        };
        let mut outcome = match repo.merge_commits(base, tip, labels, options.into()) {
            Ok(o) => o,
            Err(_) => return Ok(None),
        };
        if outcome
            .tree_merge
            .has_unresolved_conflicts(gix::merge::tree::TreatAsUnresolved::git())
        {
            return Ok(None);
        }
        let merged = outcome.tree_merge.tree.write()?.detach();
        let base_tree = repo.find_commit(base)?.tree_id()?.detach();
        Ok((merged == base_tree).then_some(InBase::Applied))
    }

    /// Number of commits reachable from any of `tips` and not from `base`.
    pub fn count_not_in(
        &self,
        tips: &[gix::ObjectId],
        base: Option<gix::ObjectId>,
    ) -> Result<usize> {
        let repo = self.local();
        let mut n = 0;
        for info in repo
            .rev_walk(tips.iter().copied())
            .with_hidden(base)
            .all()?
        {
            info?;
            n += 1;
        }
        Ok(n)
    }

    /// The commits among `tips` that no ref except those named in `except` (full names)
    /// reaches: deleting those refs would leave them to git's garbage collector. Tags
    /// that do not point at commits are not counted; HEADs and reflogs neither (they
    /// move and expire).
    pub fn reached_only_by(
        &self,
        tips: &[gix::ObjectId],
        except: &[String],
    ) -> Result<Vec<gix::ObjectId>> {
        let repo = self.local();
        let mut others = Vec::new();
        for r in repo
            .references()
            .map_err(|e| anyhow!("cannot list refs: {e}"))?
            .all()
            .map_err(|e| anyhow!("cannot list refs: {e}"))?
        {
            let mut r = r.map_err(|e| anyhow!("cannot read a ref: {e}"))?;
            if except.iter().any(|e| r.name().as_bstr() == e.as_str()) {
                continue;
            }
            if let Ok(c) = r.peel_to_commit() {
                others.push(c.id);
            }
        }
        let mut out = Vec::new();
        for &tip in tips {
            if others.contains(&tip) || out.contains(&tip) {
                continue;
            }
            // What the tip reaches minus what the others reach: empty when it is theirs.
            let mut walk = repo.rev_walk([tip]).with_hidden(others.clone()).all()?;
            if walk.next().transpose()?.is_some() {
                out.push(tip);
            }
        }
        Ok(out)
    }

    /// Delete `refs/heads/<short>` only if it still points at `expected` (a
    /// compare-and-swap: a branch that moved since it was checked is left alone).
    pub fn delete_branch(&self, short: &str, expected: gix::ObjectId) -> Result<()> {
        use gix::refs::transaction::{Change, PreviousValue, RefEdit, RefLog};
        let repo = self.local();
        let name: gix::refs::FullName = format!("refs/heads/{short}")
            .try_into()
            .with_context(|| format!("invalid branch name {short}"))?;
        let _guard = worktree_lock()?;
        self.clear_stale_ref_locks(&format!("refs/heads/{short}"));
        repo.edit_reference(RefEdit {
            change: Change::Delete {
                expected: PreviousValue::MustExistAndMatch(gix::refs::Target::Object(expected)),
                log: RefLog::AndReference,
            },
            name,
            deref: false,
        })
        .with_context(|| format!("cannot delete branch {short}"))?;
        Ok(())
    }
}

impl Repo {
    /// A git-agents process killed in the middle of a ref update leaves `<ref>.lock`
    /// behind, and git refuses that ref until someone deletes it by hand. git holds such
    /// locks for milliseconds, so one that has existed for over a second belongs to a
    /// dead process: remove it (waiting out a young one first).
    pub fn clear_stale_ref_locks(&self, full_ref: &str) {
        for lock in [
            self.common_dir.join(format!("{full_ref}.lock")),
            self.common_dir.join("packed-refs.lock"),
        ] {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
            while let Ok(meta) = std::fs::symlink_metadata(&lock) {
                let age = meta
                    .modified()
                    .ok()
                    .and_then(|m| m.elapsed().ok())
                    .unwrap_or_default();
                if age > std::time::Duration::from_secs(1) || std::time::Instant::now() >= deadline
                {
                    let _ = std::fs::remove_file(&lock);
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
}

/// The commits a tree-ish records for its submodules (gitlinks), anywhere in it.
pub fn gitlinks(repo_dir: &Path, commit: &str) -> Result<Vec<String>> {
    let out = run(repo_dir, &["ls-tree", "-r", "-z", commit])?;
    Ok(out
        .split('\0')
        .filter_map(|e| {
            let (meta, _path) = e.split_once('\t')?;
            let mut f = meta.split(' ');
            (f.next()? == "160000").then(|| f.nth(1).map(str::to_string))?
        })
        .collect())
}

/// The commit checked out in a worktree (its HEAD), whatever branch it is on or not.
pub fn worktree_head(worktree: &Path) -> Option<gix::ObjectId> {
    let repo = gix::open(worktree).ok()?;
    repo.head_id().ok().map(|id| id.detach())
}

impl Repo {
    /// What the tree of `commit` holds at a path, as `copy` checks see it: a checkout of
    /// that commit puts a symlink, a directory or a file there (or nothing).
    pub fn tree_kinds(&self, commit: &str) -> impl Fn(&Path) -> crate::copy::Kind + use<> {
        use crate::copy::Kind;
        use gix::object::tree::EntryKind;
        let repo = self.local();
        let id = gix::ObjectId::from_hex(commit.as_bytes()).ok();
        move |rel: &Path| {
            let entry = id
                .and_then(|id| repo.find_commit(id).ok())
                .and_then(|c| c.tree().ok())
                .and_then(|t| t.lookup_entry_by_path(rel).ok().flatten());
            match entry.map(|e| e.mode().kind()) {
                None => Kind::Missing,
                Some(EntryKind::Link) => Kind::Symlink,
                Some(EntryKind::Tree) => Kind::Dir,
                Some(_) => Kind::Other,
            }
        }
    }
}
