//! `merge --pr`: push each task's branch and open a pull request with `gh`; nothing
//! merges locally. `gh` missing or failing is that task's error; the others go on.

use anyhow::{Context as _, Result};
use std::path::Path;

use super::{Item, MergeArgs, Row, summary};
use crate::cli::Ctx;
use crate::cmd::Workspace;
use crate::config::Global;
use crate::error::{Error, Exit};
use crate::git;

/// `--pr`: push each task's branch and open a pull request into its base with `gh`.
pub fn pull_requests(
    ctx: &Ctx,
    ws: &Workspace,
    args: &MergeArgs,
    global: &Global,
    items: &[Item],
    targets: &[String],
) -> Result<Exit> {
    let remote = &global.remote;
    if !git::output(&ws.repo.root, &["remote", "get-url", remote])?
        .status
        .success()
    {
        return Err(Error::usage(format!("no remote {remote:?} to push to"))
            .with_hint(
                "add one with git remote add, or choose one with git config agents.remote NAME",
            )
            .into());
    }
    let gh = which::which("gh").ok();
    let mut rows = Vec::new();
    for it in items {
        let rec = &it.rec;
        let into = &targets[it.target];
        let mut row = Row {
            result: "error",
            commit: ws.repo.branch_tip(&rec.branch),
            conflicts: Vec::new(),
            check: rec.check.clone(),
            detail: String::new(),
        };
        if args.dry_run {
            row.result = "would-push";
            row.detail = format!(
                "push {} to {remote}, open a pull request into {into}",
                rec.branch
            );
        } else if let Some(gh) = &gh {
            match open_pr(ws, it, remote, into, gh) {
                Ok((result, url)) => {
                    row.result = result;
                    row.detail = url;
                }
                Err(e) => row.detail = format!("{e:#}"),
            }
        } else {
            row.detail =
                "gh (GitHub CLI) not found on PATH; install it from https://cli.github.com".into();
        }
        ctx.ui
            .status(&format!("{}: {} {}", rec.id, row.result, row.detail));
        rows.push(Some(row));
    }
    summary(ctx, ws, args, items, targets, rows)
}

/// Push, then open the PR unless the task has one (pushing updates it). Returns the
/// result and the PR's URL.
fn open_pr(
    ws: &Workspace,
    it: &Item,
    remote: &str,
    into: &str,
    gh: &Path,
) -> Result<(&'static str, String)> {
    let rec = &it.rec;
    let spec = format!("refs/heads/{0}:refs/heads/{0}", rec.branch);
    git::run(&ws.repo.root, &["push", "--quiet", remote, &spec]).context("git push failed")?;
    if let Some(url) = &rec.pr_url {
        return Ok(("pushed", url.clone()));
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
        .current_dir(&ws.repo.root)
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
    ws.store.update(&rec.id, |r| r.pr_url = Some(url.clone()))?;
    Ok(("pr-opened", url))
}
