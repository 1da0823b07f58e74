//! A failed attempt's worktree and branch thrown away, after what cannot be found again
//! was logged to pruned.log.

use anyhow::{Context as _, Result};

use super::Context;
use crate::copy;
use crate::engine::plan::Planned;
use crate::git;
use crate::worktree;

/// Throw away a failed attempt's worktree and branch. First, what cannot be found again
/// is logged to pruned.log: uncommitted files (committing them may be what failed) saved
/// as a commit, and each tip with commits beyond the base or that no other ref reaches.
/// An error here stops before anything is removed.
pub fn discard(cx: &Context, t: &Planned) -> Result<()> {
    let id = t.id.as_str();
    if let worktree::Found::Linked(a) = worktree::find(&cx.repo.common_dir, &t.worktree) {
        // Unreadable status counts as changed: a needless snapshot costs nothing.
        let dirty = crate::dirty::changes(&a.worktree, crate::dirty::Untracked::Count)
            .map_or(true, |c| c.count > 0);
        if dirty {
            let msg = format!(
                "git-agents: uncommitted files of task {id}\n\nSaved before a retry discarded {}.\n",
                a.worktree.display()
            );
            let sha = worktree::snapshot(&a.worktree, &a, &msg, &copy::paths(&t.copy))
                .context("cannot save the uncommitted files before the retry")?;
            cx.store.log_discarded(id, &t.branch, &sha)?;
        }
    }
    let tip = cx.repo.branch_tip(&t.branch);
    // The worktree's HEAD too, when the agent committed off the branch.
    let head = git::worktree_head(&t.worktree).filter(|h| Some(*h) != tip);
    let tips: Vec<gix::ObjectId> = [tip, head].into_iter().flatten().collect();
    let branch_ref = format!("refs/heads/{}", t.branch);
    let unreached = cx
        .repo
        .reached_only_by(&tips, std::slice::from_ref(&branch_ref))
        .unwrap_or_else(|_| tips.clone());
    for sha in tips {
        if sha != t.base_commit || unreached.contains(&sha) {
            cx.store.log_discarded(id, &t.branch, &sha.to_string())?;
        }
    }
    remove_worktree_and_branch(cx, t)
}

/// Remove the task's worktree (with the submodule commits an agent made inside it kept)
/// and its branch. The caller has logged what they held.
pub fn remove_worktree_and_branch(cx: &Context, t: &Planned) -> Result<()> {
    let common = &cx.repo.common_dir;
    // This worktree's admin dir, also when its directory was deleted by hand.
    let admin = match worktree::find(common, &t.worktree) {
        worktree::Found::Linked(a) => Some(a),
        worktree::Found::Missing => {
            let wt = worktree::canon(&t.worktree);
            worktree::admins(common)
                .into_iter()
                .find(|a| a.worktree == wt)
        }
        _ => None,
    };
    // Commits an agent made inside a submodule live in the worktree's admin dir.
    if let Some(a) = &admin {
        let tip = cx.repo.branch_tip(&t.branch);
        let head = git::worktree_head(&t.worktree);
        let tips: Vec<gix::ObjectId> = [tip, head].into_iter().flatten().collect();
        crate::modules::keep(common, &cx.repo.root, &a.dir, &tips, t.id.as_str(), false)?;
    }
    if t.worktree.exists() {
        git::remove_worktree(&cx.repo.root, &t.worktree)?;
    } else if let Some(a) = &admin {
        // Only this worktree's stale metadata: `git worktree prune` would clear every
        // other hand-deleted worktree's too, submodule stores and all.
        let _lock = git::worktree_lock()?;
        std::fs::remove_dir_all(&a.dir)
            .with_context(|| format!("cannot remove {}", a.dir.display()))?;
    }
    if cx.repo.branch_exists(&t.branch) {
        git::force_delete_branch(&cx.repo.root, &t.branch)?;
    }
    Ok(())
}
