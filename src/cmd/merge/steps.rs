//! The slow steps of the merge queue, each a child process: the check of a merged result
//! in a scratch worktree, an agent resolving conflicts in its task's worktree, a task
//! re-run from the new base, pruning a merged task, and pull requests with `gh`.
//!
//! None of them touches the user's checkout. Errors a task can have (an agent that
//! fails, a check that fails, `gh` missing) become that task's result; only our own
//! failures are errors.

use anyhow::Result;
use gix::ObjectId;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Item, agent_of};
use crate::agent::{self, AgentEnv, Vars};
use crate::cleanup;
use crate::cli::Ctx;
use crate::config::Global;
use crate::git;
use crate::merge;
use crate::store::{Proc, Record};
use crate::supervise::{self, Job, Outcome};
use crate::task::State;
use crate::ui::Progress;

use super::super::Workspace;

pub enum CheckResult {
    Passed,
    Failed(String),
    Interrupted,
}

/// How an attempt to get past a conflict ended.
pub enum Resolution {
    /// The task's branch changed: merge it again.
    Again,
    /// Re-run from the new base, the task changed nothing.
    Empty,
    /// Still conflicted, and why.
    Conflicted(String),
    /// The re-run failed (its record says how).
    Failed(String),
}

fn scratch_root(ws: &Workspace) -> PathBuf {
    ws.store.dir.join("scratch")
}

/// Remove scratch worktrees left by a merge that died (their pid is gone).
pub fn clean_scratch(ws: &Workspace) {
    let Ok(entries) = std::fs::read_dir(scratch_root(ws)) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('.').next().and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|p| !Proc::of(p).is_alive()) {
            remove_scratch(ws, &e.path());
        }
    }
}

fn remove_scratch(ws: &Workspace, dir: &Path) {
    let removed = git::run(
        &ws.repo.root,
        &[
            "worktree".as_ref(),
            "remove".as_ref(),
            "--force".as_ref(),
            dir.as_os_str(),
        ] as &[&std::ffi::OsStr],
    );
    if removed.is_err() || dir.exists() {
        let wt = crate::worktree::canon(dir);
        let _ = std::fs::remove_dir_all(dir);
        // Only this scratch worktree's metadata: `git worktree prune` would also clear
        // hand-deleted task worktrees', with the submodule stores inside them.
        if let Some(a) = crate::worktree::admins(&ws.repo.common_dir)
            .into_iter()
            .find(|a| a.worktree == wt)
            && let Ok(_lock) = git::worktree_lock()
        {
            let _ = std::fs::remove_dir_all(&a.dir);
        }
    }
}

/// Run the task's setup and `cmd` on `candidate` in a scratch worktree (with the task's
/// `copy` entries), then remove it.
pub fn check(
    ctx: &Ctx,
    ws: &Workspace,
    it: &Item,
    cmd: &str,
    candidate: ObjectId,
    into: &str,
) -> Result<CheckResult> {
    let rec = &it.rec;
    let id = rec.id.as_str();
    let short = candidate.to_hex_with_len(10).to_string();
    ctx.ui.status(&format!(
        "{id}: checking the merged result {short} with `{cmd}`"
    ));
    let root = scratch_root(ws);
    crate::store::private_dir(&root)?;
    let dir = root.join(format!("{id}.{}", std::process::id()));
    if dir.exists() {
        remove_scratch(ws, &dir);
    }
    git::run(
        &ws.repo.root,
        &[
            "worktree".as_ref(),
            "add".as_ref(),
            "--detach".as_ref(),
            "--quiet".as_ref(),
            dir.as_os_str(),
            short.as_ref(),
        ] as &[&std::ffi::OsStr],
    )?;
    // git made it with the umask's mode; like the rest of the state dir it is private.
    let result =
        crate::store::private_dir(&dir).and_then(|()| run_check(ws, it, cmd, &dir, into, &short));
    remove_scratch(ws, &dir);
    result
}

fn run_check(
    ws: &Workspace,
    it: &Item,
    cmd: &str,
    dir: &Path,
    into: &str,
    short: &str,
) -> Result<CheckResult> {
    let rec = &it.rec;
    let mut log = ws.store.open_log(&rec.id)?;
    let _ = writeln!(
        log,
        "==> git-agents merge: check of {short} (onto {into}): {cmd}"
    );
    let mut entries: Vec<crate::copy::Entry> = it
        .settings
        .copy
        .iter()
        .filter_map(|c| crate::copy::parse_entry(c).ok())
        .collect();
    entries.extend(crate::copy::worktreeinclude(&ws.repo.root)?);
    let limits = crate::copy::Limits::new(
        &ws.repo.root,
        &ws.repo.common_dir,
        rec.worktree.parent().unwrap_or(&rec.worktree),
    );
    crate::copy::copy_entries(&ws.repo.root, dir, &entries, &limits)?;
    let env = environment(
        ws,
        rec,
        &dir.to_string_lossy(),
        into,
        None,
        &it.settings.env,
    );
    let deadline = it.settings.timeout.and_then(crate::time::deadline);
    let steps = it
        .settings
        .setup
        .iter()
        .map(|s| ("setup", s.as_str()))
        .chain([("check", cmd)]);
    for (what, line) in steps {
        let args = vec!["-c".to_string(), line.to_string()];
        let outcome = supervise::run(
            Job {
                program: "sh".as_ref(),
                args: &args,
                dir,
                env: &env,
                stdin: None,
                deadline,
            },
            &mut log,
            |_| {},
            |_| {},
        )?;
        match outcome {
            Outcome::Exited(0) => {}
            Outcome::Exited(c) => {
                return Ok(CheckResult::Failed(format!("{what} `{line}` exited {c}")));
            }
            Outcome::TimedOut => return Ok(CheckResult::Failed(format!("{what} timed out"))),
            Outcome::Interrupted => return Ok(CheckResult::Interrupted),
        }
    }
    Ok(CheckResult::Passed)
}

fn environment(
    ws: &Workspace,
    rec: &Record,
    worktree: &str,
    base: &str,
    port: Option<u16>,
    user: &std::collections::BTreeMap<String, String>,
) -> Vec<(String, String)> {
    agent::environment(
        &AgentEnv {
            task: &rec.id,
            branch: &rec.branch,
            worktree,
            base,
            attempt: rec.attempts.len().max(1) as u32,
            notes: &ws.store.notes_path(&rec.id).to_string_lossy(),
            port,
            index: 0,
            repo_name: &ws.repo.name(),
        },
        user,
    )
}

/// Merge `tip` (the queue's landed base) into the task's branch inside its worktree,
/// leaving conflict markers, and run the task's agent there to resolve them. A good
/// resolution is committed as the merge; anything else is undone with `merge --abort`.
pub fn resolve_with_agent(
    ctx: &Ctx,
    ws: &Workspace,
    it: &Item,
    into: &str,
    tip: ObjectId,
    conflicts: &[String],
) -> Result<Resolution> {
    let rec = &it.rec;
    let id = rec.id.as_str();
    let wt = &rec.worktree;
    let listed = merge::short_list(conflicts, 5);
    let give_up = |why: &str| {
        Ok(Resolution::Conflicted(format!(
            "conflicts in {listed}; {why}"
        )))
    };
    if !wt.is_dir() {
        return give_up("its worktree is gone, so its agent cannot resolve them");
    }
    let head = git::output(wt, &["symbolic-ref", "-q", "HEAD"])?;
    if String::from_utf8_lossy(&head.stdout).trim() != format!("refs/heads/{}", rec.branch) {
        return give_up(&format!("its worktree is not on {}", rec.branch));
    }
    if !merge::tracked_changes(wt)?.is_empty() {
        return give_up("its worktree has uncommitted changes");
    }
    ctx.ui.status(&format!(
        "{id}: conflicts in {listed}; merging {into} into {} and running its agent",
        rec.branch
    ));
    let message = format!(
        "Merge {into} into {} to resolve conflicts\n\nAgent-Task: {id}\n",
        rec.branch
    );
    // Whatever can fail before the agent runs is done before the merge starts, so an
    // error never leaves the task's worktree mid-merge.
    let agent = agent_of(rec)?;
    let port_range = ws.global(&crate::config::Flags::default())?.port_range;
    let mut log = ws.store.open_log(id)?;
    let prompt_dir = ws.store.dir.join("prompts").join("conflict");
    crate::store::private_dir(&prompt_dir)?;
    let prompt_file = prompt_dir.join(format!("{id}.md"));
    // The message on stdin, never in argv (`git merge` has no `-F -`).
    let merged = git::output_with_input(
        wt,
        &[
            "merge",
            "--no-ff",
            "--no-edit",
            "-F",
            "/dev/stdin",
            &tip.to_string(),
        ],
        message.as_bytes(),
    )?;
    if merged.status.success() {
        return Ok(Resolution::Again); // git's own merge found no conflict
    }
    let listing = match git::run(wt, &["diff", "--name-only", "--diff-filter=U", "-z"]) {
        Ok(l) => l,
        Err(e) => {
            abort_merge(wt);
            return Err(e);
        }
    };
    let unmerged: Vec<String> = listing
        .split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if unmerged.is_empty() {
        abort_merge(wt);
        let stderr = String::from_utf8_lossy(&merged.stderr);
        return give_up(&format!("git merge failed: {}", stderr.trim()));
    }

    let restore = |state: State| {
        ws.store.update(id, |r| {
            r.state = state;
            r.child = None;
            r.owner = None;
            r.port = None;
            r.head = git::run(&r.worktree, &["rev-parse", "HEAD"])
                .ok()
                .map(|h| h.trim().to_string());
        })
    };
    let prompt = conflict_prompt(rec, into, &unmerged);
    let worktree = wt.to_string_lossy().into_owned();
    let prepared = (|| -> Result<Option<u16>> {
        crate::store::write_atomic(&prompt_file, prompt.as_bytes())?;
        ws.store.update(id, |r| {
            r.state = State::Running;
            r.owner = Some(Proc::current());
        })?;
        // Like every agent, this one gets a port no other running task holds; it waits
        // for one while other tasks hold them all, and never runs without.
        ws.store
            .wait_for_port(
                id,
                port_range,
                || {},
                || supervise::interrupted().then(|| "interrupted while waiting".to_string()),
            )
            .map(Some)
    })();
    let port = match prepared {
        Ok(p) => p,
        Err(e) => {
            abort_merge(wt);
            restore(State::Conflicted)?;
            return Err(e);
        }
    };
    let mut env = environment(ws, rec, &worktree, into, port, &it.settings.env);
    env.extend(agent.env.iter().cloned());
    let vars = Vars {
        prompt: &prompt,
        prompt_file: &prompt_file.to_string_lossy(),
        task: id,
        branch: &rec.branch,
        worktree: &worktree,
        base: into,
    };
    let args: Vec<String> = agent.template[1..]
        .iter()
        .map(|a| agent::expand(a, &vars))
        .collect();
    let _ = writeln!(
        log,
        "==> git-agents merge: resolving conflicts with {into} in {}",
        listed
    );
    let outcome = supervise::run(
        Job {
            program: agent.program.as_os_str(),
            args: &args,
            dir: wt,
            env: &env,
            stdin: agent.prompt_on_stdin().then(|| prompt.as_bytes().to_vec()),
            deadline: it.settings.timeout.and_then(crate::time::deadline),
        },
        &mut log,
        |pid| {
            let _ = ws.store.update(id, |r| r.child = Some(Proc::of(pid)));
        },
        |_| {},
    );
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            abort_merge(wt);
            restore(State::Conflicted)?;
            return give_up(&format!("its agent could not start: {e:#}"));
        }
    };

    let merging = git::output(wt, &["rev-parse", "-q", "--verify", "MERGE_HEAD"])?
        .status
        .success();
    let left: Vec<String> = unmerged
        .iter()
        .filter(|p| has_markers(&wt.join(p)))
        .cloned()
        .collect();
    let why = match outcome {
        Outcome::Exited(0) if left.is_empty() => None,
        Outcome::Exited(0) => Some(format!(
            "its agent left conflict markers in {}",
            merge::short_list(&left, 5)
        )),
        Outcome::Exited(c) => Some(format!("its agent exited {c}")),
        Outcome::TimedOut => Some("its agent timed out".into()),
        Outcome::Interrupted => Some("interrupted".into()),
    };
    if let Some(why) = why {
        if merging {
            abort_merge(wt);
        }
        restore(State::Conflicted)?;
        return give_up(&why);
    }
    // Commit the resolution (or whatever the agent left after committing it itself).
    let copied: Vec<String> = it
        .settings
        .copy
        .iter()
        .filter_map(|c| crate::copy::parse_entry(c).ok())
        .map(|e| e.path.display().to_string())
        .collect();
    let staged = git::stage_all_except(wt, &copied)?;
    if merging {
        git::run(wt, &["commit", "--no-verify", "--quiet", "--no-edit"])?;
    } else if staged {
        git::commit_task(wt, &format!("Resolve conflicts with {into}"), id)?;
    }
    restore(State::Succeeded)?;
    Ok(Resolution::Again)
}

fn conflict_prompt(rec: &Record, into: &str, paths: &[String]) -> String {
    let mut p = format!(
        "Merging `{into}` into this branch (`{}`) stopped with conflicts in these files:\n\n",
        rec.branch
    );
    for path in paths {
        p.push_str(&format!("- {path}\n"));
    }
    p.push_str(
        "\nResolve every conflict: edit those files so that no conflict markers \
         (<<<<<<<, =======, >>>>>>>) remain and both sides' intent is kept. \
         Do not commit; the merge is committed for you when you are done.\n\n\
         The task this branch was made for:\n\n",
    );
    p.push_str(&rec.prompt);
    if !rec.prompt.ends_with('\n') {
        p.push('\n');
    }
    p
}

fn has_markers(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    bytes
        .split(|b| *b == b'\n')
        .any(|l| l.starts_with(b"<<<<<<< ") || l.starts_with(b">>>>>>> ") || l == b"<<<<<<<")
}

fn abort_merge(wt: &Path) {
    let _ = git::run(wt, &["merge", "--abort"]);
}

/// Re-run the task from `tip` in a fresh worktree, as spawn does.
pub fn rerun(
    ctx: &Ctx,
    ws: &Workspace,
    it: &Item,
    tip: ObjectId,
    global: &Global,
) -> Result<Resolution> {
    let rec = &it.rec;
    let id = rec.id.as_str();
    if let Some(n) = git::dirty_count(&rec.worktree)
        && n > 0
    {
        return Ok(Resolution::Conflicted(format!(
            "conflicts; its worktree has {n} uncommitted change(s), so it was not re-run"
        )));
    }
    let agent = agent_of(rec)?;
    ctx.ui.status(&format!(
        "{id}: conflicts; re-running the task from the new base {}",
        tip.to_hex_with_len(10)
    ));
    let progress = Progress::new(&ctx.ui, std::slice::from_ref(&rec.id));
    super::super::spawn::rerun(
        ws,
        &progress,
        rec,
        it.settings.clone(),
        agent,
        tip.to_string(),
        global.port_range,
    )?;
    progress.finish();
    let after = ws.store.update(id, |r| r.base_commit = tip.to_string())?;
    Ok(match after.state {
        State::Succeeded => Resolution::Again,
        State::Empty => Resolution::Empty,
        other => Resolution::Failed(format!(
            "re-run from the new base ended {other}{}",
            after.detail.map(|d| format!(": {d}")).unwrap_or_default()
        )),
    })
}

/// Remove a merged task's worktree and branch. A worktree with changes is kept; a
/// branch tip no other ref reaches (squash, rebase) is logged first, as prune does.
pub fn prune(ws: &Workspace, rec: &Record) -> Result<()> {
    // The removal itself is prune's, with all its safety checks.
    let trash = crate::trash::Trash::new(&ws.store);
    let env = cleanup::Env {
        repo: &ws.repo,
        store: &ws.store,
        trash: &trash,
        admins: crate::worktree::admins(&ws.repo.common_dir),
        dry_run: false,
    };
    let task = cleanup::Task {
        id: rec.id.clone(),
        rec: Some(rec.clone()),
        state: cleanup::effective(rec),
        branch: rec.branch.clone(),
        worktree: Some(rec.worktree.clone()),
        base: rec.merged_into.clone().unwrap_or_else(|| rec.base.clone()),
    };
    let outcome = cleanup::remove(&env, &task, false);
    trash.empty_in_background(Vec::new())?;
    match outcome {
        cleanup::Outcome::Pruned { .. } => Ok(()),
        cleanup::Outcome::Kept { reasons, .. } => {
            anyhow::bail!("kept: {}", reasons.join("; "))
        }
        cleanup::Outcome::Failed(e) => anyhow::bail!(e),
    }
}
