//! Named git operations: what git-agents asks of the `git` program, each by what it
//! does (worktrees, commits, merges, pushes, config).

use super::*;

/// Stage everything in a worktree except `keep_out` (paths that came in through `copy`,
/// ignored or not: secrets stay out of commits). An exclude pathspec would make git
/// refuse when such a path is ignored, so they are unstaged after `add -A` instead.
pub fn stage_all_except(worktree: &Path, keep_out: &[String]) -> Result<()> {
    run(worktree, &["add", "-A"])?;
    if !keep_out.is_empty() {
        let mut reset: Vec<&str> = vec!["reset", "-q", "--"];
        reset.extend(keep_out.iter().map(String::as_str));
        run(worktree, &reset)?;
    }
    Ok(())
}

fn nothing_staged(worktree: &Path) -> Result<bool> {
    Ok(output(worktree, &["diff", "--cached", "--quiet"])?
        .status
        .success())
}

/// How an agent's work is committed: the message on stdin, hooks skipped (the task's
/// check is where validation belongs, and a hook must not block saving an agent's work),
/// and no automatic maintenance started (a batch of agents would start one per task;
/// the user's own next commit runs it).
const TASK_COMMIT: [&str; 7] = [
    "-c",
    "maintenance.auto=false",
    "commit",
    "--no-verify",
    "--quiet",
    "-F",
    "-",
];

fn task_message(subject: &str, id: &str) -> String {
    format!("{subject}\n\nAgent-Task: {id}\n")
}

/// Stage everything in `worktree` except `keep_out` (as [`stage_all_except`]) and
/// commit it as an agent's work: `subject`, then the `Agent-Task` trailer, with the
/// user's identity (and signed when git's config says so). Returns false when there was
/// nothing to commit. Two git processes, not four: git itself says when nothing is
/// staged (exit 1), and only then is the index asked why.
pub fn commit_all_except(
    worktree: &Path,
    keep_out: &[String],
    subject: &str,
    id: &str,
) -> Result<bool> {
    stage_all_except(worktree, keep_out)?;
    let out = output_with_input(worktree, &TASK_COMMIT, task_message(subject, id).as_bytes())?;
    if out.status.success() {
        return Ok(true);
    }
    if out.status.code() == Some(1) && nothing_staged(worktree)? {
        return Ok(false);
    }
    checked(&TASK_COMMIT, out).map(|_| true)
}

/// Longest subject git-agents writes, in characters: a commit subject is a title, and
/// the whole prompt stays in the task's record.
pub const SUBJECT_MAX: usize = 200;

/// The subject of the commits made for a task: the prompt's first non-empty line, cut
/// at a word (with `…`) when longer than [`SUBJECT_MAX`].
pub fn subject_of(prompt: &str) -> String {
    let line = prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("agent task");
    if line.chars().count() <= SUBJECT_MAX {
        return line.to_string();
    }
    let cut: String = line.chars().take(SUBJECT_MAX - 1).collect();
    // Back to the last space when one is not too far back, so no word is cut in two.
    let cut = match cut.rfind(' ') {
        Some(i) if i >= cut.len() / 2 => cut[..i].trim_end(),
        _ => cut.as_str(),
    };
    format!("{cut}…")
}

/// `git worktree add --no-checkout` of a task's worktree at `path`, on a new branch
/// `branch` starting at `base` (see [`super::add_worktree`], which checks it out). Under
/// the worktree lock: git races on half-written metadata.
pub(super) fn add_worktree_by_git(
    root: &Path,
    path: &Path,
    branch: &str,
    base: &str,
) -> Result<()> {
    run(
        root,
        &[
            "worktree".as_ref(),
            "add".as_ref(),
            "--quiet".as_ref(),
            "--no-checkout".as_ref(),
            "-b".as_ref(),
            branch.as_ref(),
            path.as_os_str(),
            base.as_ref(),
        ] as &[&OsStr],
    )?;
    Ok(())
}

/// Remove a linked worktree and its files, uncommitted changes included: the caller has
/// saved what it had to (pruned.log) before asking.
pub fn remove_worktree(root: &Path, path: &Path) -> Result<()> {
    run(
        root,
        &[
            "worktree".as_ref(),
            "remove".as_ref(),
            "--force".as_ref(),
            path.as_os_str(),
        ] as &[&OsStr],
    )?;
    Ok(())
}

/// Delete a branch whatever it holds, with its config section (`git branch -D`): the
/// caller has logged its tip to pruned.log first.
pub fn force_delete_branch(root: &Path, branch: &str) -> Result<()> {
    run(root, &["branch", "-D", "--quiet", branch])?;
    Ok(())
}

// Named operations for init, demo, copy and worktree snapshots: their argv is spelled
// here and nowhere else.

/// Set `key` in the repository's own config file (`.git/config`), for every worktree.
pub fn set_local_config(dir: &Path, key: &str, value: &str) -> Result<()> {
    run(dir, &["config", "--local", key, value]).map(drop)
}

/// Whether commits made in `dir` would have an author: `user.name` and `user.email` are
/// both set somewhere git looks.
pub fn has_identity(dir: &Path) -> Result<bool> {
    for key in ["user.name", "user.email"] {
        if !output(dir, &["config", key])?.status.success() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A new repository in `dir` (created by git if missing), its unborn HEAD on `branch`
/// whatever `init.defaultBranch` says.
pub fn init_repo(dir: &Path, branch: &str) -> Result<()> {
    run(dir, &["init", "-q"])?;
    let head = format!("refs/heads/{branch}");
    run(dir, &["symbolic-ref", "HEAD", head.as_str()]).map(drop)
}

/// Commit these paths as the work tree has them, on the branch checked out in `dir`.
/// The message travels on stdin.
pub fn commit_paths(dir: &Path, paths: &[&str], message: &str) -> Result<()> {
    let mut add = vec!["add", "--"];
    add.extend_from_slice(paths);
    run(dir, &add)?;
    run_with_input(dir, &["commit", "-q", "-F", "-"], message.as_bytes()).map(drop)
}

/// A branch's history drawn as a graph, one line per commit, for a person to read.
pub fn log_graph(dir: &Path, branch: &str) -> Result<String> {
    run(dir, &["log", "--oneline", "--graph", branch, "--"])
}

/// Which ignore rules say what is ignored, for [`ignored_paths`].
#[derive(Debug, Clone, Copy)]
pub enum Excludes<'a> {
    /// Git's own: `.gitignore` files, `info/exclude`, `core.excludesFile`.
    Standard,
    /// Only the patterns of this file (relative to the directory asked about).
    From(&'a Path),
}

/// The untracked paths under `root` that `excludes` ignores; a directory ignored whole
/// is one entry ending with `/`.
pub fn ignored_paths(root: &Path, excludes: Excludes) -> Result<Vec<String>> {
    let exclude: std::ffi::OsString = match excludes {
        Excludes::Standard => "--exclude-standard".into(),
        Excludes::From(file) => {
            let mut arg = std::ffi::OsString::from("--exclude-from=");
            arg.push(file);
            arg
        }
    };
    let args: [&OsStr; 6] = [
        "ls-files".as_ref(),
        "-z".as_ref(),
        "--others".as_ref(),
        "--ignored".as_ref(),
        "--directory".as_ref(),
        &exclude,
    ];
    let out = run(root, &args)?;
    Ok(out
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

/// Commit everything uncommitted in `worktree` (untracked files included, ignored ones
/// and `keep_out` not) on top of its HEAD, through `index`, a scratch index file, so
/// neither the worktree's index nor any ref moves; returns the commit's id.
///
/// The commit is a rescue object, never published: it is not signed (a signing setup
/// that fails must not stop the rescue), and it falls back to a fixed identity when the
/// user has none.
pub fn snapshot_commit(
    worktree: &Path,
    index: &Path,
    message: &str,
    keep_out: &[String],
) -> Result<String> {
    let run = |args: &[&str], identity: bool, input: Option<&[u8]>| -> Result<String> {
        let mut cmd = command(worktree);
        cmd.env("GIT_INDEX_FILE", index).args(args);
        if identity {
            for (k, v) in [
                ("GIT_AUTHOR_NAME", "git-agents"),
                ("GIT_AUTHOR_EMAIL", "git-agents@localhost"),
                ("GIT_COMMITTER_NAME", "git-agents"),
                ("GIT_COMMITTER_EMAIL", "git-agents@localhost"),
            ] {
                cmd.env(k, v);
            }
        }
        let out = match input {
            Some(input) => output_of(cmd, input),
            None => cmd.output().map_err(|e| anyhow!("cannot run git: {e}")),
        }?;
        if !out.status.success() {
            return Err(anyhow!(
                "`git {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    };
    run(&["add", "-A", "--", "."], false, None)?;
    if !keep_out.is_empty() {
        let mut reset = vec!["reset", "-q", "--"];
        reset.extend(keep_out.iter().map(String::as_str));
        run(&reset, false, None)?;
    }
    let tree = run(&["write-tree"], false, None)?;
    let mut args = vec!["commit-tree", "--no-gpg-sign", tree.as_str()];
    let head = run(
        &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
        false,
        None,
    )
    .ok();
    if let Some(h) = &head {
        args.extend(["-p", h.as_str()]);
    }
    let msg = Some(message.as_bytes());
    run(&args, false, msg).or_else(|_| run(&args, true, msg))
}

// Named operations of the merge queue and of prune: what they ask of git, by name, so
// that no argv is spelt anywhere else.

/// A boolean config value as git itself reads it (every config file, `git -c`,
/// includes): `None` when unset; an error carries git's complaint about a bad value.
pub fn config_bool(dir: &Path, key: &str) -> Result<Option<bool>> {
    let out = output(dir, &["config", "--type=bool", "--get", key])?;
    match out.status.code() {
        Some(0) => Ok(Some(String::from_utf8_lossy(&out.stdout).trim() == "true")),
        Some(1) => Ok(None),
        _ => Err(anyhow!(
            "{}",
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', " ")
        )),
    }
}

/// A commit for `git commit-tree -S` to make and sign as git's config says.
pub struct SignedCommit<'a> {
    /// Where the objects it needs are (then the repository's, as alternates).
    pub objects: &'a Path,
    pub alternates: &'a Path,
    pub tree: gix::ObjectId,
    pub parents: &'a [gix::ObjectId],
    pub author: &'a gix::actor::Signature,
    pub committer: &'a gix::actor::Signature,
    pub message: &'a str,
}

/// Make a signed commit (the message on stdin); returns git's output whatever its exit
/// status: stdout holds the new commit's id.
pub fn commit_tree_signed(root: &Path, c: &SignedCommit) -> Result<Output> {
    use gix::bstr::ByteSlice;
    let mut cmd = command(root);
    cmd.env("GIT_OBJECT_DIRECTORY", c.objects)
        .env("GIT_ALTERNATE_OBJECT_DIRECTORIES", c.alternates);
    for (who, sig) in [("AUTHOR", c.author), ("COMMITTER", c.committer)] {
        cmd.env(format!("GIT_{who}_NAME"), sig.name.to_str_lossy().as_ref())
            .env(
                format!("GIT_{who}_EMAIL"),
                sig.email.to_str_lossy().as_ref(),
            )
            .env(format!("GIT_{who}_DATE"), format!("@{}", sig.time));
    }
    cmd.args(["commit-tree", "-S"]).arg(c.tree.to_string());
    for p in c.parents {
        cmd.arg("-p").arg(p.to_string());
    }
    output_of(cmd, c.message.as_bytes())
}

/// Move the branch checked out in `checkout` forward to `to`, files and index with it
/// (`merge --ff-only`); git's output whatever its exit status. In a process group of
/// its own: a Ctrl-C at the terminal must not stop git halfway through updating the
/// user's files; git itself refuses before it writes.
pub fn fast_forward(checkout: &Path, to: gix::ObjectId) -> Result<Output> {
    use std::os::unix::process::CommandExt;
    command(checkout)
        .args(["merge", "--ff-only", "--quiet", "--no-stat"])
        .arg(to.to_string())
        .process_group(0)
        .output()
        .context("cannot run git")
}

/// Those of `paths` (relative to `dir`) that are untracked and not ignored.
pub fn untracked_among(dir: &Path, paths: &[String]) -> Result<Vec<String>> {
    let mut args: Vec<String> = ["ls-files", "-z", "--others", "--exclude-standard", "--"]
        .map(String::from)
        .to_vec();
    args.extend(paths.iter().map(|p| format!(":(literal){p}")));
    Ok(split_z(&run(dir, &args)?))
}

/// Add a worktree at `dir` with `commit` checked out, detached.
pub fn add_detached_worktree(root: &Path, dir: &Path, commit: &str) -> Result<()> {
    run(
        root,
        &[
            "worktree".as_ref(),
            "add".as_ref(),
            "--detach".as_ref(),
            "--quiet".as_ref(),
            dir.as_os_str(),
            commit.as_ref(),
        ] as &[&OsStr],
    )?;
    Ok(())
}

/// The full name of the branch checked out in `worktree`; `None` when detached.
pub fn checked_out_branch(worktree: &Path) -> Result<Option<String>> {
    let out = output(worktree, &["symbolic-ref", "-q", "HEAD"])?;
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok((out.status.success() && !name.is_empty()).then_some(name))
}

/// Merge `commit` into the branch checked out in `worktree` with a merge commit, leaving
/// conflict markers when it stops; the message travels on stdin. git's output whatever
/// its exit status.
pub fn merge_leaving_conflicts(
    worktree: &Path,
    commit: gix::ObjectId,
    message: &str,
) -> Result<Output> {
    // `git merge` has no `-F -`: stdin by name.
    output_with_input(
        worktree,
        &[
            "merge",
            "--no-ff",
            "--no-edit",
            "-F",
            "/dev/stdin",
            &commit.to_string(),
        ],
        message.as_bytes(),
    )
}

/// Paths a merge in progress left unmerged.
pub fn unmerged_paths(worktree: &Path) -> Result<Vec<String>> {
    Ok(split_z(&run(
        worktree,
        &["diff", "--name-only", "--diff-filter=U", "-z"],
    )?))
}

/// Whether a merge is in progress in `worktree`.
pub fn merge_in_progress(worktree: &Path) -> Result<bool> {
    Ok(
        output(worktree, &["rev-parse", "-q", "--verify", "MERGE_HEAD"])?
            .status
            .success(),
    )
}

/// Give up the merge in progress in `worktree`, as if it never started.
pub fn abort_merge(worktree: &Path) -> Result<()> {
    run(worktree, &["merge", "--abort"]).map(|_| ())
}

/// Commit the merge in progress with its prepared message, hooks skipped.
pub fn commit_merge(worktree: &Path) -> Result<()> {
    run(worktree, &["commit", "--no-verify", "--quiet", "--no-edit"]).map(|_| ())
}

/// Whether the repository has a remote of that name.
pub fn remote_exists(root: &Path, remote: &str) -> Result<bool> {
    Ok(output(root, &["remote", "get-url", remote])?
        .status
        .success())
}

/// Push `branch` to the branch of the same name on `remote`.
pub fn push_branch(root: &Path, remote: &str, branch: &str) -> Result<()> {
    let spec = format!("refs/heads/{branch}:refs/heads/{branch}");
    run(root, &["push", "--quiet", remote, &spec]).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects() {
        assert_eq!(subject_of("\n  Fix the login  \nmore"), "Fix the login");
        assert_eq!(subject_of(" \n\n"), "agent task");
        let long = "word ".repeat(100);
        let s = subject_of(&long);
        assert!(s.chars().count() <= SUBJECT_MAX, "{s}");
        assert!(s.ends_with("word…"), "{s}");
        // No space to cut at, and multi-byte characters: never split inside one.
        let s = subject_of(&"é".repeat(200_000));
        assert_eq!(s.chars().count(), SUBJECT_MAX);
        assert!(s.ends_with('…'));
        let exact = "x".repeat(SUBJECT_MAX);
        assert_eq!(subject_of(&exact), exact);
    }
}
