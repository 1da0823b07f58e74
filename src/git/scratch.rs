//! Named git operations of the merge queue's reused scratch worktrees.

use super::*;

/// Move the detached scratch worktree at `dir` to `commit`, touching only the files
/// that differ (git's two-way checkout of index and files), then remove every file git
/// does not track, ignored ones included: the worktree then holds exactly what a fresh
/// checkout of `commit` would.
pub fn move_scratch_to(dir: &Path, commit: &str) -> Result<()> {
    run(dir, &["reset", "--hard", "--quiet", commit])?;
    run(dir, &["clean", "-ffdxq"])?;
    Ok(())
}

/// Add a scratch worktree at `dir` with `commit` checked out, detached. Only the
/// metadata is made under the worktree lock; the checkout, the slow part on a big
/// repository, runs outside it, so a pool's worktrees fill in parallel.
pub fn add_scratch_worktree(root: &Path, dir: &Path, commit: &str) -> Result<()> {
    run(
        root,
        &[
            "worktree".as_ref(),
            "add".as_ref(),
            "--detach".as_ref(),
            "--no-checkout".as_ref(),
            "--quiet".as_ref(),
            dir.as_os_str(),
            commit.as_ref(),
        ] as &[&OsStr],
    )?;
    run(dir, &["checkout", "--force", "--quiet"])?;
    Ok(())
}
