//! `merge --pr`: push each task's branch and open a pull request with `gh`; nothing
//! merges locally. `gh` missing or failing is that task's error; the others go on.

use anyhow::{Context as _, Result};
use std::path::Path;

use super::{Check, Item, Report, Verdict};
use crate::engine::events::{Emitter, Kind};
use crate::error::Error;
use crate::git::{self, Repo};
use crate::store::Store;
use crate::task::MergeResult;

/// Push each task's branch to `remote` and open a pull request into its target with
/// `gh` (`targets` as in [`super::Queue::run`]); with `dry_run`, say what would be done.
pub fn pull_requests(
    repo: &Repo,
    store: &Store,
    events: &Emitter,
    items: &[Item],
    targets: &[String],
    remote: &str,
    dry_run: bool,
) -> Result<Report> {
    if !git::remote_exists(&repo.root, remote)? {
        return Err(Error::usage(format!("no remote {remote:?} to push to"))
            .with_hint(
                "add one with git remote add, or choose one with git config agents.remote NAME",
            )
            .into());
    }
    events.all(Kind::BatchStarted {
        command: "merge".into(),
        tasks: items.iter().map(|it| it.rec.id.clone()).collect(),
        pid: std::process::id(),
        detached: false,
    });
    let gh = which::which("gh").ok();
    let mut verdicts = Vec::new();
    for it in items {
        let rec = &it.rec;
        let into = &targets[it.target];
        let mut v = Verdict {
            commit: repo.branch_tip(&rec.branch),
            // The task's own check, the one a reviewer reads about.
            check: rec.check.as_deref().and_then(Check::parse),
            ..Verdict::new(MergeResult::Error)
        };
        if dry_run {
            v.result = MergeResult::WouldPush;
            v.detail = format!(
                "push {} to {remote}, open a pull request into {into}",
                rec.branch
            );
        } else if let Some(gh) = &gh {
            match open_pr(repo, store, it, remote, into, gh) {
                Ok((result, url)) => {
                    v.result = result;
                    v.detail = url;
                }
                Err(e) => v.detail = format!("{e:#}"),
            }
        } else {
            v.detail =
                "gh (GitHub CLI) not found on PATH; install it from https://cli.github.com".into();
        }
        events.task(&rec.id, v.event(into));
        verdicts.push(v);
    }
    Ok(Report::new(events, store, items, verdicts, Vec::new()))
}

/// Push, then open the PR unless the task has one (pushing updates it). Returns the
/// result and the PR's URL.
fn open_pr(
    repo: &Repo,
    store: &Store,
    it: &Item,
    remote: &str,
    into: &str,
    gh: &Path,
) -> Result<(MergeResult, String)> {
    let rec = &it.rec;
    git::push_branch(&repo.root, remote, &rec.branch).context("git push failed")?;
    if let Some(url) = &rec.pr_url {
        return Ok((MergeResult::Pushed, url.clone()));
    }
    let title = rec
        .prompt
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or(&rec.id)
        .to_string();
    let mut body = rec.prompt.trim_end().to_string();
    body.push_str("\n\n---\n");
    match (&rec.check_command, &rec.check) {
        (Some(cmd), Some(result)) => body.push_str(&format!("Check `{cmd}`: {result}\n")),
        _ => body.push_str("No check ran.\n"),
    }
    body.push_str(&format!("\nAgent-Task: {}\n", rec.id));
    let mut cmd = std::process::Command::new(gh);
    for var in git::REPO_ENV {
        cmd.env_remove(var);
    }
    let out = cmd
        .current_dir(&repo.root)
        .env("GH_PROMPT_DISABLED", "1")
        .stdin(std::process::Stdio::null())
        .args([
            "pr",
            "create",
            "--head",
            &rec.branch,
            "--base",
            into,
            "--title",
            &title,
            "--body",
            &body,
        ])
        .output()
        .context("cannot run gh")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        anyhow::bail!(
            "gh pr create failed ({}): {}",
            out.status,
            stderr.trim().replace('\n', " ")
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let url = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| l.starts_with("http"))
        .unwrap_or("")
        .to_string();
    store.update(&rec.id, |r| r.pr_url = Some(url.clone()))?;
    Ok((MergeResult::PrOpened, url))
}
