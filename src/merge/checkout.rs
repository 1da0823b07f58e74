//! The base branch's checkout: where it is, whether it may move, and moving it (by
//! `merge --ff-only` when checked out, by compare-and-swap otherwise).

use super::*;

/// A worktree where a branch is checked out.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub dir: PathBuf,
    /// Its own git dir (`.git`, or `.git/worktrees/NAME`).
    pub git_dir: PathBuf,
}

/// The worktree that has `branch` (short name) checked out, or is rebasing it; `None`
/// when it is checked out nowhere.
pub fn checkout_of(repo: &Repo, branch: &str) -> Result<Option<Checkout>> {
    let full = format!("refs/heads/{branch}");
    let mut found = Vec::new();
    let main = repo.local();
    let mut candidates = vec![(repo.root.clone(), repo.common_dir.clone())];
    for proxy in main.worktrees()? {
        let Ok(base) = proxy.base() else { continue };
        if !base.is_dir() {
            continue; // deleted by hand: nothing there to update
        }
        candidates.push((base, proxy.git_dir().to_path_buf()));
    }
    for (dir, git_dir) in candidates {
        if holds_branch(&git_dir, &full) {
            found.push(Checkout { dir, git_dir });
        }
    }
    if found.len() > 1 {
        let dirs: Vec<String> = found.iter().map(|c| c.dir.display().to_string()).collect();
        return Err(Error::refused(format!(
            "{branch} is checked out in several worktrees: {}",
            dirs.join(", ")
        ))
        .with_hint("switch all but one of them to another branch")
        .into());
    }
    Ok(found.pop())
}

fn holds_branch(git_dir: &Path, full: &str) -> bool {
    let head = std::fs::read_to_string(git_dir.join("HEAD")).unwrap_or_default();
    if head.trim().strip_prefix("ref: ") == Some(full) {
        return true;
    }
    // A rebase detaches HEAD but the branch is still being worked on there.
    ["rebase-merge/head-name", "rebase-apply/head-name"]
        .iter()
        .any(|f| std::fs::read_to_string(git_dir.join(f)).is_ok_and(|h| h.trim() == full))
}

/// Why a checkout cannot take a merge right now: an operation in progress, or tracked
/// changes (untracked files are git's to judge when it updates the checkout).
pub fn checkout_busy(c: &Checkout) -> Result<Option<String>> {
    for (file, what) in [
        ("MERGE_HEAD", "a merge"),
        ("rebase-merge", "a rebase"),
        ("rebase-apply", "a rebase or am"),
        ("CHERRY_PICK_HEAD", "a cherry-pick"),
        ("REVERT_HEAD", "a revert"),
    ] {
        if c.git_dir.join(file).exists() {
            return Ok(Some(format!("it is in the middle of {what}")));
        }
    }
    let changed = crate::dirty::changes(&c.dir, crate::dirty::Untracked::Skip)?;
    if changed.count == 0 {
        return Ok(None);
    }
    let more = changed.count - changed.paths.len();
    let mut list = changed.paths.join(", ");
    if more > 0 {
        list.push_str(&format!(" and {more} more"));
    }
    Ok(Some(format!("it has uncommitted changes ({list})")))
}

/// `a, b, c and 2 more`.
pub fn short_list(items: &[String], max: usize) -> String {
    let mut list = items[..items.len().min(max)].join(", ");
    if items.len() > max {
        list.push_str(&format!(" and {} more", items.len() - max));
    }
    list
}

/// Untracked files in `c` at paths the merge would write, that git would refuse to
/// overwrite (ignored files are git's to overwrite, as `git merge` does).
pub fn untracked_in_the_way(c: &Checkout, added: &[String]) -> Result<Vec<String>> {
    let mut hits = Vec::new();
    for path in added {
        let rel = Path::new(path);
        // The path itself, or a file where the path needs a directory.
        let mut prefix = PathBuf::new();
        for comp in rel.components() {
            prefix.push(comp);
            let full = c.dir.join(&prefix);
            match std::fs::symlink_metadata(&full) {
                Ok(m) if prefix.as_path() == rel || !m.is_dir() => {
                    hits.push(prefix.to_string_lossy().into_owned());
                    break;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    }
    if hits.is_empty() {
        return Ok(hits);
    }
    hits.sort();
    hits.dedup();
    // Only untracked, not ignored, files block: ask git about the few candidates.
    git::untracked_among(&c.dir, &hits)
}

/// Move `branch` from `old` through `steps` (each a descendant of the one before, with
/// its reflog message): in its checkout with one fast-forward to the last when it has
/// one, else by a compare-and-swap on the ref per step.
pub fn advance(
    repo: &Repo,
    branch: &str,
    checkout: Option<&Checkout>,
    old: ObjectId,
    steps: &[(ObjectId, String)],
) -> Result<()> {
    let Some(&(new, _)) = steps.last() else {
        return Ok(());
    };
    let now = repo.branch_tip(branch);
    if now != Some(old) {
        return Err(moved(branch, old, now));
    }
    match checkout {
        Some(c) => {
            let out = git::fast_forward(&c.dir, new)?;
            if !out.status.success() {
                let stderr = String::from_utf8_lossy(&out.stderr);
                return Err(Error::refused(format!(
                    "cannot update {} to the merged {branch}: {}",
                    c.dir.display(),
                    stderr.trim().replace('\n', " ")
                ))
                .with_hint("nothing was changed there; fix what git names and run merge again")
                .into());
            }
            Ok(())
        }
        None => {
            use gix::refs::transaction::PreviousValue;
            let r = repo.local();
            let name = format!("refs/heads/{branch}");
            repo.clear_stale_ref_locks(&name);
            let mut prev = old;
            for (next, log_message) in steps {
                if *next == prev {
                    continue;
                }
                r.reference(
                    name.as_str(),
                    *next,
                    PreviousValue::MustExistAndMatch(gix::refs::Target::Object(prev)),
                    log_message.as_str(),
                )
                .map_err(|_| moved(branch, prev, repo.branch_tip(branch)))?;
                prev = *next;
            }
            Ok(())
        }
    }
}

fn moved(branch: &str, old: ObjectId, now: Option<ObjectId>) -> anyhow::Error {
    let now = now
        .map(|n| n.to_hex_with_len(12).to_string())
        .unwrap_or_else(|| "gone".into());
    Error::refused(format!(
        "{branch} moved while merging (expected {}, found {now}); the tasks not yet landed were left out",
        old.to_hex_with_len(12)
    ))
    .with_hint("run git agents merge again to merge them onto the new tip")
    .into()
}
