//! Operations on a bare git directory (a submodule's store), named by what they do.
//! Each runs `git --git-dir=<dir>`, so the store's `core.worktree` is never needed.

use super::*;

fn in_dir(git_dir: &Path, args: &[&str]) -> Result<Output> {
    // The store's own `core.worktree` may name a directory that is gone (a worktree
    // deleted by hand, a store just moved): git then refuses every command.
    let mut all: Vec<&OsStr> = vec![
        "--git-dir".as_ref(),
        git_dir.as_os_str(),
        "--work-tree".as_ref(),
        git_dir.as_os_str(),
    ];
    all.extend(args.iter().map(|a| a.as_ref() as &OsStr));
    output(git_dir, &all)
}

fn ok(git_dir: &Path, args: &[&str]) -> Result<String> {
    let out = in_dir(git_dir, args)?;
    if !out.status.success() {
        return Err(anyhow!(
            "`git --git-dir={} {}` failed ({}): {}",
            git_dir.display(),
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The commits a store's HEAD, local branches and tags point at.
pub fn tips(git_dir: &Path) -> Result<Vec<String>> {
    let mut out: Vec<String> = ok(
        git_dir,
        &[
            "for-each-ref",
            "--format=%(objectname) %(*objectname)",
            "refs/heads",
            "refs/tags",
        ],
    )?
    .lines()
    // A tag's own line names the tag object, then the commit it peels to.
    .filter_map(|l| l.split_whitespace().last().map(str::to_string))
    .collect();
    if let Ok(head) = ok(
        git_dir,
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
    ) {
        out.push(head.trim().to_string());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// Whether the store has `sha` as a commit object.
pub fn has_commit(git_dir: &Path, sha: &str) -> bool {
    in_dir(git_dir, &["cat-file", "-e", &format!("{sha}^{{commit}}")])
        .is_ok_and(|o| o.status.success())
}

/// Whether one of the store's remote-tracking refs reaches `sha`: the remote it was
/// cloned from had it, so it can be fetched again.
pub fn on_a_remote(git_dir: &Path, sha: &str) -> bool {
    ok(git_dir, &["rev-list", "-n1", sha, "--not", "--remotes"]).is_ok_and(|o| o.trim().is_empty())
}

/// Whether one of the store's refs reaches `sha` (so gc keeps it).
pub fn has_reachable(git_dir: &Path, sha: &str) -> bool {
    has_commit(git_dir, sha)
        && ok(
            git_dir,
            &["for-each-ref", "--count=1", "--format=x", "--contains", sha],
        )
        .is_ok_and(|o| !o.trim().is_empty())
}

/// Forget the checkout a store was made for (`core.worktree`), as a store that no
/// checkout uses yet: `git submodule update --init` sets it again when it adopts it.
pub fn forget_worktree(git_dir: &Path) -> Result<()> {
    let out = in_dir(git_dir, &["config", "--local", "--unset", "core.worktree"])?;
    // 5: the key was not set.
    if !out.status.success() && out.status.code() != Some(5) {
        return Err(anyhow!(
            "cannot unset core.worktree in {}: {}",
            git_dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Copy the commits `shas` (and all they reach) from the store `from` into the store
/// `into`, each under `<prefix><sha>` there. Temporary refs in `from` name them,
/// since a fetch may only ask for what refs advertise.
pub fn fetch_commits(from: &Path, into: &Path, shas: &[String], prefix: &str) -> Result<()> {
    const TEMP: &str = "refs/git-agents-export/";
    for sha in shas {
        ok(from, &["update-ref", &format!("{TEMP}{sha}"), sha])?;
    }
    let mut args = vec![
        "-c".to_string(),
        "protocol.file.allow=always".to_string(),
        "--git-dir".to_string(),
        into.display().to_string(),
        "--work-tree".to_string(),
        into.display().to_string(),
        "fetch".to_string(),
        "--quiet".to_string(),
        "--no-tags".to_string(),
        "--no-write-fetch-head".to_string(),
        "--no-recurse-submodules".to_string(),
        // The serving side needs the same care about `core.worktree` (a constant
        // command line: git runs it through the shell).
        "--upload-pack=git --work-tree=. upload-pack".to_string(),
        from.display().to_string(),
    ];
    args.extend(shas.iter().map(|s| format!("+{TEMP}{s}:{prefix}{s}")));
    let fetched = run(into, &args);
    for sha in shas {
        let _ = ok(from, &["update-ref", "-d", &format!("{TEMP}{sha}")]);
    }
    fetched.map(|_| ())
}
