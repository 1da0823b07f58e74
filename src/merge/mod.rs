//! In-memory merges for the merge queue ([`crate::engine::queue`]): tasks merged one
//! onto the other, and the base branch moved only by compare-and-swap, so a conflict
//! never touches any checkout.
//!
//! Objects a merge produces stay in gix's object memory until the task is whole (every
//! commit of a rebase, say); only then are they written to the object database. A task
//! that conflicts leaves nothing behind, and `--dry-run` writes nothing at all.
//!
//! Moving the base: when the branch is checked out in a worktree, `git merge --ff-only`
//! moves files, index and ref together (gix cannot update a checkout); otherwise gix
//! updates the ref with `MustExistAndMatch(old)`. Either way a branch that moved under us
//! is detected, never overwritten.

use anyhow::{Context as _, Result, anyhow, bail};
use gix::ObjectId;
use gix::bstr::ByteSlice;
use gix::merge::tree::TreatAsUnresolved;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::git::{self, Repo};
use crate::manifest::Strategy;

mod checkout;
pub use checkout::*;

/// What merging one task onto a tip gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Landing {
    /// The task's work is in the tip already: nothing to add.
    UpToDate,
    /// The new tip, holding the task. `note` says how it was done when not as asked.
    Merged { tip: ObjectId, note: Option<String> },
    /// The merge stopped on these paths.
    Conflict { paths: Vec<String> },
}

/// Messages for the commits a strategy writes.
pub struct Messages<'a> {
    pub id: &'a str,
    pub branch: &'a str,
    /// The first line of the task's prompt.
    pub subject: &'a str,
}

impl Messages<'_> {
    fn merge(&self) -> String {
        format!(
            "Merge {}: {}\n\nAgent-Task: {}\n",
            self.branch, self.subject, self.id
        )
    }
    fn squash(&self) -> String {
        format!("{}\n\nAgent-Task: {}\n", self.subject, self.id)
    }
}

/// In-memory merges on one repository handle.
pub struct Merger {
    repo: gix::Repository,
    options: gix::merge::tree::Options,
    committer: gix::actor::Signature,
    /// Set when git would sign the commits (`commit.gpgsign`): they are then made by
    /// `git commit-tree -S`, so gpg, ssh or x509 signing follows git's own config.
    signer: Option<Signer>,
}

/// Where `git commit-tree` finds the objects that exist only in the merger's memory: a
/// private object directory (with the repository's objects as its alternate) that
/// lives until the task is kept or forgotten, so a conflict still writes nothing to the
/// repository. Named like merge's scratch worktrees, so a dead process's is cleared.
struct Signer {
    dir: PathBuf,
    root: PathBuf,
    objects: PathBuf,
    /// Objects already copied into `dir`.
    copied: std::collections::HashSet<ObjectId>,
}

impl Drop for Merger {
    fn drop(&mut self) {
        self.clear_signing_objects();
    }
}

/// Whether git signs commits here (`commit.gpgsign`, read by git itself so that
/// `git -c commit.gpgsign=… agents` and every config file count).
pub fn git_signs_commits(repo: &Repo) -> Result<bool> {
    match git::config_bool(&repo.root, "commit.gpgsign") {
        Ok(v) => Ok(v.unwrap_or(false)),
        Err(e) => Err(Error::usage(format!("cannot read commit.gpgsign: {e}"))
            .with_hint("fix that value with git config commit.gpgsign true|false")
            .into()),
    }
}

impl Merger {
    /// A merger whose commits are signed when git would sign them, unless
    /// `may_sign` is false (a dry run: its commits never land, and signing may ask for
    /// a passphrase).
    pub fn new(repo: &Repo, may_sign: bool) -> Result<Merger> {
        let signer = if may_sign && git_signs_commits(repo)? {
            Some(Signer {
                dir: crate::store::Store::new(&repo.common_dir)
                    .dir
                    .join("scratch")
                    .join(format!("sign.{}", std::process::id())),
                root: repo.root.clone(),
                objects: repo.common_dir.join("objects"),
                copied: Default::default(),
            })
        } else {
            None
        };
        let mut repo = repo.local().with_object_memory();
        repo.object_cache_size_if_unset(8 << 20);
        let committer = match repo.committer() {
            Some(Ok(sig)) => sig.to_owned().context("invalid committer identity")?,
            Some(Err(e)) => bail!("invalid committer identity: {e}"),
            None => {
                return Err(Error::usage("no committer identity is configured")
                    .with_hint(
                        "set one with: git config --global user.name NAME; git config --global user.email EMAIL",
                    )
                    .into());
            }
        };
        let options = repo
            .tree_merge_options()
            .context("cannot read merge options")?;
        Ok(Merger {
            repo,
            options,
            committer,
            signer,
        })
    }

    pub fn repo(&self) -> &gix::Repository {
        &self.repo
    }

    /// Whether `a` is reachable from `b` (an ancestor, or the same commit).
    pub fn is_ancestor(&self, a: ObjectId, b: ObjectId) -> Result<bool> {
        if a == b {
            return Ok(true);
        }
        Ok(self
            .repo
            .merge_base(a, b)
            .ok()
            .flatten()
            .map(|m| m.detach())
            == Some(a))
    }

    /// Bring `task` onto `onto` with `strategy`, in memory. Call [`Merger::keep`] to write
    /// what it made, or [`Merger::forget`] to drop it (and everything not kept before:
    /// a dry run keeps its chain of results in memory by calling neither).
    pub fn land(
        &mut self,
        strategy: Strategy,
        onto: ObjectId,
        task: ObjectId,
        msg: &Messages,
    ) -> Result<Landing> {
        if self.is_ancestor(task, onto)? {
            return Ok(Landing::UpToDate);
        }
        match strategy {
            Strategy::Merge => self.merge(onto, task, msg),
            Strategy::Squash => self.squash(onto, task, msg, None),
            Strategy::Rebase => self.rebase(onto, task, msg),
        }
    }

    fn merged_tree(
        &self,
        onto: ObjectId,
        task: ObjectId,
        msg: &Messages,
    ) -> Result<TreeOrConflict> {
        let labels = gix::merge::blob::builtin_driver::text::Labels {
            ancestor: None,
            current: Some("base".into()),
            other: Some(msg.branch.into()),
        };
        let mut out = self
            .repo
            .merge_commits(onto, task, labels, self.options.clone().into())
            .map_err(|e| anyhow!("cannot merge {} into the base: {e}", msg.branch))?;
        if out
            .tree_merge
            .has_unresolved_conflicts(TreatAsUnresolved::git())
        {
            return Ok(TreeOrConflict::Conflict(conflict_paths(
                &out.tree_merge.conflicts,
            )));
        }
        let tree = out.tree_merge.tree.write()?.detach();
        Ok(TreeOrConflict::Tree(tree))
    }

    fn merge(&mut self, onto: ObjectId, task: ObjectId, msg: &Messages) -> Result<Landing> {
        let tree = match self.merged_tree(onto, task, msg)? {
            TreeOrConflict::Tree(t) => t,
            TreeOrConflict::Conflict(paths) => return Ok(Landing::Conflict { paths }),
        };
        let tip = self.commit(&msg.merge(), tree, &[onto, task], None)?;
        Ok(Landing::Merged { tip, note: None })
    }

    fn squash(
        &mut self,
        onto: ObjectId,
        task: ObjectId,
        msg: &Messages,
        note: Option<String>,
    ) -> Result<Landing> {
        let tree = match self.merged_tree(onto, task, msg)? {
            TreeOrConflict::Tree(t) => t,
            TreeOrConflict::Conflict(paths) => return Ok(Landing::Conflict { paths }),
        };
        if tree == self.tree_of(onto)? {
            return Ok(Landing::UpToDate);
        }
        let tip = self.commit(&msg.squash(), tree, &[onto], None)?;
        Ok(Landing::Merged { tip, note })
    }

    /// Replay the task's commits on `onto`, oldest first, keeping their authors and
    /// messages; a commit that becomes empty is dropped, as git does. A task that starts
    /// at `onto` already is taken as it is (a fast-forward). History with merge commits
    /// (after `--on-conflict agent`, say) cannot be replayed faithfully: it lands as one
    /// squashed commit, and the note says so.
    fn rebase(&mut self, onto: ObjectId, task: ObjectId, msg: &Messages) -> Result<Landing> {
        let mut commits = Vec::new();
        let mut linear = true;
        for info in self.repo.rev_walk([task]).with_hidden([onto]).all()? {
            let info = info?;
            if info.parent_ids.len() != 1 {
                linear = false;
                break;
            }
            commits.push((info.id, info.parent_ids[0]));
        }
        if !linear {
            let note = "history has merge commits: landed as one squashed commit";
            return self.squash(onto, task, msg, Some(note.into()));
        }
        if self.is_ancestor(onto, task)? {
            return Ok(Landing::Merged {
                tip: task,
                note: None,
            });
        }
        commits.reverse();
        let mut tip = onto;
        for (id, parent) in commits {
            let tip_tree = self.tree_of(tip)?;
            let labels = gix::merge::blob::builtin_driver::text::Labels {
                ancestor: None,
                current: Some("base".into()),
                other: Some(msg.branch.into()),
            };
            let mut out = self.repo.merge_trees(
                self.tree_of(parent)?,
                tip_tree,
                self.tree_of(id)?,
                labels,
                self.options.clone(),
            )?;
            if out.has_unresolved_conflicts(TreatAsUnresolved::git()) {
                return Ok(Landing::Conflict {
                    paths: conflict_paths(&out.conflicts),
                });
            }
            let tree = out.tree.write()?.detach();
            if tree == tip_tree {
                continue;
            }
            let (author, message) = {
                let original = self.repo.find_commit(id)?;
                let decoded = original.decode()?;
                let author = decoded.author()?.to_owned()?;
                (author, decoded.message.to_str_lossy().into_owned())
            };
            tip = self.commit(&message, tree, &[tip], Some(author))?;
        }
        if tip == onto {
            return Ok(Landing::UpToDate);
        }
        Ok(Landing::Merged { tip, note: None })
    }

    fn tree_of(&self, commit: ObjectId) -> Result<ObjectId> {
        Ok(self.repo.find_commit(commit)?.tree_id()?.detach())
    }

    fn commit(
        &mut self,
        message: &str,
        tree: ObjectId,
        parents: &[ObjectId],
        author: Option<gix::actor::Signature>,
    ) -> Result<ObjectId> {
        let author = author.unwrap_or_else(|| self.committer.clone());
        if self.signer.is_some() {
            return self.signed_commit(message, tree, parents, &author);
        }
        let (mut t1, mut t2) = (Default::default(), Default::default());
        let c = self.repo.new_commit_as(
            self.committer.to_ref(&mut t1),
            author.to_ref(&mut t2),
            message,
            tree,
            parents.iter().copied(),
        )?;
        Ok(c.id)
    }

    /// Make the commit with `git commit-tree -S` (the message on stdin), seeing the
    /// objects in memory through the signer's object directory, then take it back into
    /// memory: it is written to the repository only when kept, like any other.
    fn signed_commit(
        &mut self,
        message: &str,
        tree: ObjectId,
        parents: &[ObjectId],
        author: &gix::actor::Signature,
    ) -> Result<ObjectId> {
        use gix::objs::Write as _;
        let hash = self.repo.object_hash();
        let memory = self.repo.objects.take_object_memory();
        let signer = self.signer.as_mut().expect("signing is on");
        let copied = (|| -> Result<()> {
            if !signer.dir.is_dir() {
                use std::os::unix::fs::DirBuilderExt;
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(&signer.dir)
                    .with_context(|| format!("cannot create {}", signer.dir.display()))?;
            }
            let loose = gix::odb::loose::Store::at(&signer.dir, hash);
            for (id, (kind, data)) in memory.iter().flat_map(|m| m.iter()) {
                if signer.copied.insert(*id) {
                    loose.write_buf(*kind, data)?;
                }
            }
            Ok(())
        })();
        if let Some(m) = memory {
            self.repo.objects.set_object_memory(m);
        }
        copied.context("cannot prepare the commit for signing")?;

        let out = git::commit_tree_signed(
            &signer.root,
            &git::SignedCommit {
                objects: &signer.dir,
                alternates: &signer.objects,
                tree,
                parents,
                author,
                committer: &self.committer,
                message,
            },
        )?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(Error::refused(format!(
                "cannot sign the commit (commit.gpgsign is set): {}",
                stderr.trim().replace('\n', " ")
            ))
            .with_hint(
                "fix the signing setup (gpg.program, gpg.format, user.signingKey), or merge unsigned with: git -c commit.gpgsign=false agents merge",
            )
            .into());
        }
        let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let id = ObjectId::from_hex(hex.as_bytes())
            .with_context(|| format!("git commit-tree printed {hex:?}"))?;
        let mut buf = Vec::new();
        let data = gix::odb::loose::Store::at(&signer.dir, hash)
            .try_find(&id, &mut buf)
            .map_err(|e| anyhow!("cannot read the signed commit {id}: {e}"))?
            .ok_or_else(|| anyhow!("the signed commit {id} was not written"))?;
        let written = self.repo.write_buf(data.kind, data.data)?;
        if written != id {
            bail!("the signed commit {id} read back as {written}");
        }
        Ok(id)
    }

    /// Remove the signer's objects: what they hold is now kept or forgotten.
    fn clear_signing_objects(&mut self) {
        if let Some(s) = self.signer.as_mut()
            && !s.copied.is_empty()
        {
            let _ = std::fs::remove_dir_all(&s.dir);
            s.copied.clear();
        }
    }

    /// Write what the last [`Merger::land`] made to the object database.
    pub fn keep(&mut self) -> Result<()> {
        let Some(memory) = self.repo.objects.take_object_memory() else {
            return Ok(());
        };
        let written = (|| -> Result<()> {
            use gix::objs::Write as _;
            for (kind, data) in memory.values() {
                self.repo.write_buf(*kind, data)?;
            }
            Ok(())
        })();
        self.repo.objects.enable_object_memory();
        self.clear_signing_objects();
        written
    }

    /// Drop what the last [`Merger::land`] made.
    pub fn forget(&mut self) {
        self.repo.objects.reset_object_memory();
        self.clear_signing_objects();
    }

    /// Paths that exist in `new` and not in `old` (added or renamed to), which an
    /// untracked file in a checkout would be in the way of.
    pub fn added_paths(&self, old: ObjectId, new: ObjectId) -> Result<Vec<String>> {
        let old_tree = self.repo.find_commit(old)?.tree()?;
        let new_tree = self.repo.find_commit(new)?.tree()?;
        let changes = self
            .repo
            .diff_tree_to_tree(Some(&old_tree), Some(&new_tree), None)?;
        let mut out = Vec::new();
        for c in changes {
            use gix::object::tree::diff::ChangeDetached as C;
            match &c {
                C::Addition { entry_mode, .. } | C::Rewrite { entry_mode, .. }
                    if !entry_mode.is_tree() =>
                {
                    out.push(c.location().to_str_lossy().into_owned());
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

enum TreeOrConflict {
    Tree(ObjectId),
    Conflict(Vec<String>),
}

fn conflict_paths(conflicts: &[gix::merge::tree::Conflict]) -> Vec<String> {
    let mut paths = BTreeSet::new();
    for c in conflicts {
        if c.is_unresolved(TreatAsUnresolved::git()) {
            for change in [&c.ours, &c.theirs] {
                paths.insert(change.location().to_str_lossy().into_owned());
            }
        }
    }
    paths.into_iter().filter(|p| !p.is_empty()).collect()
}
