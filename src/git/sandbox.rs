//! What git-agents does, outside the sandbox, with the branch a sandboxed agent moved
//! inside it: check the commit, and move the real branch there (compare-and-swap).

use super::*;

/// Whether `sha` names a commit in the repository at `dir`.
pub fn is_commit(dir: &Path, sha: &str) -> bool {
    output(dir, &["cat-file", "-e", &format!("{sha}^{{commit}}")]).is_ok_and(|o| o.status.success())
}

/// Whether `ancestor` is reachable from `tip` (or is it).
pub fn is_ancestor(dir: &Path, ancestor: &str, tip: &str) -> bool {
    output(dir, &["merge-base", "--is-ancestor", ancestor, tip]).is_ok_and(|o| o.status.success())
}

/// Move `refs/heads/<branch>` to `new`, only if it still points at `old` (`None`: only
/// if it does not exist).
pub fn move_branch(dir: &Path, branch: &str, new: &str, old: Option<&str>) -> Result<()> {
    let name = format!("refs/heads/{branch}");
    let zero = "0".repeat(new.len());
    run(
        dir,
        &[
            "update-ref",
            "-m",
            "git-agents: the sandboxed agent's commits",
            &name,
            new,
            old.unwrap_or(&zero),
        ],
    )?;
    Ok(())
}
