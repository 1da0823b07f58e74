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
