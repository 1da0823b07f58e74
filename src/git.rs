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

/// Start a `git` command in `dir` with the hygiene described in the module docs.
fn command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    for var in REPO_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Run git and return its output whatever the exit status.
fn output<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<Output> {
    let _lock = match args.first() {
        Some(a) if a.as_ref() == "worktree" => worktree_lock()?,
        _ => None,
    };
    command(dir)
        .args(args)
        .output()
        .map_err(|e| anyhow!("cannot run git: {e}"))
}

/// Run git with `input` on its stdin (commit messages travel this way: an argument is
/// limited to 128 KiB by the kernel, and shows in `ps`), whatever the exit status.
fn output_with_input<S: AsRef<OsStr>>(dir: &Path, args: &[S], input: &[u8]) -> Result<Output> {
    let mut cmd = command(dir);
    cmd.args(args);
    output_of(cmd, input)
}

/// Run a prepared git command with `input` on its stdin, whatever the exit status.
fn output_of(mut cmd: Command, input: &[u8]) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("cannot run git: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Written from a thread: git may fill its output pipes before reading all of it.
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        // git may exit without reading (a bad option): its exit status tells why.
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| anyhow!("cannot run git: {e}"))?;
    let _ = writer.join();
    Ok(out)
}

/// Like [`run`], with `input` on git's stdin.
fn run_with_input<S: AsRef<OsStr>>(dir: &Path, args: &[S], input: &[u8]) -> Result<String> {
    let out = output_with_input(dir, args, input)?;
    checked(args, out)
}

/// Run git; a non-zero exit is an error naming the command and its stderr.
fn run<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<String> {
    let out = output(dir, args)?;
    checked(args, out)
}

fn checked<S: AsRef<OsStr>>(args: &[S], out: Output) -> Result<String> {
    if !out.status.success() {
        let argv: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(anyhow!(
            "`git {}` failed ({}): {}",
            argv.join(" "),
            out.status,
            stderr.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

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

/// Stage everything in a worktree except `keep_out` (paths that came in through `copy`,
/// ignored or not: secrets stay out of commits). An exclude pathspec would make git
/// refuse when such a path is ignored, so they are unstaged after `add -A` instead.
/// Returns whether anything is staged.
pub fn stage_all_except(worktree: &Path, keep_out: &[String]) -> Result<bool> {
    run(worktree, &["add", "-A"])?;
    if !keep_out.is_empty() {
        let mut reset: Vec<&str> = vec!["reset", "-q", "--"];
        reset.extend(keep_out.iter().map(String::as_str));
        run(worktree, &reset)?;
    }
    Ok(!output(worktree, &["diff", "--cached", "--quiet"])?
        .status
        .success())
}

/// Commit what is staged as an agent's work: `subject`, then the `Agent-Task` trailer,
/// with the user's identity (and signed when git's config says so). Hooks are skipped:
/// the task's check is where validation belongs, and a hook must not block saving an
/// agent's work.
pub fn commit_task(worktree: &Path, subject: &str, id: &str) -> Result<()> {
    let message = format!("{subject}\n\nAgent-Task: {id}\n");
    run_with_input(
        worktree,
        &["commit", "--no-verify", "--quiet", "-F", "-"],
        message.as_bytes(),
    )?;
    Ok(())
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

/// Operations on a bare git directory (a submodule's store), named by what they do.
/// Each runs `git --git-dir=<dir>`, so the store's `core.worktree` is never needed.
pub mod store {
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
        ok(git_dir, &["rev-list", "-n1", sha, "--not", "--remotes"])
            .is_ok_and(|o| o.trim().is_empty())
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

/// Make a task's worktree at `path` on a new branch `branch` starting at `base`. The
/// metadata is made under the worktree lock (git races there); the checkout, the slow
/// part, runs outside it, so many worktrees fill in parallel. `checkout --force` fills
/// index and files as `worktree add` would, with its filters, sparse patterns and
/// post-checkout hook.
pub fn add_worktree(root: &Path, path: &Path, branch: &str, base: &str) -> Result<()> {
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
    run(path, &["checkout", "--force", "--quiet"])?;
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

fn split_z(text: &str) -> Vec<String> {
    text.split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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
