//! `git agents show ID`: everything known about one task: its record, each attempt and
//! how it ended, the check's result, the commits its branch has over the base, and the
//! last lines of its log. Works for any id `list` shows (strays and pending tasks too).

use anyhow::Result;
use serde_json::json;
use std::fmt::Write as _;

use crate::cli::Ctx;
use crate::engine::procs;
use crate::error::{Error, Exit};
use crate::inventory::{Row, display_path};
use crate::report;
use crate::task::{State, TaskId};
use crate::ui::{escape_control, paint, table};

use super::Workspace;

mod candidates;

/// Lines of the log `show` prints.
const LOG_LINES: usize = 20;

/// Show everything known about one task
///
/// Its state (and why, when it differs from the record), branch and base, worktree and
/// uncommitted changes, agent command, check result, each attempt and how it ended, the
/// commits its branch has over the base, and the last lines of its log.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The task
    pub id: String,

    /// Print it as JSON (version 1) on stdout
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Ctx, args: ShowArgs) -> Result<Exit> {
    let id = TaskId::parse(&args.id).map_err(Error::usage)?;
    let ws = Workspace::open_lenient(ctx)?;
    if crate::engine::candidates::is_group(&ws.store, id.as_str()) {
        return candidates::show(ctx, &ws, id.as_str(), args.json);
    }
    let row = ws
        .inventory(std::slice::from_ref(&id), true)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::usage(format!("no task {id:?}")))?;

    let commits = commits(&ws, &row);
    // An interrupted task whose processes outlived the git agents process that ran it.
    let left: Vec<u32> = procs::leftovers(
        row.record
            .iter()
            .filter(|_| row.state == State::Interrupted),
    )
    .remove(&row.id)
    .unwrap_or_default();
    let log_path = ws.store.log_path(&row.id);
    let log_tail = row
        .record
        .as_ref()
        .map(|_| tail(&log_path, LOG_LINES))
        .unwrap_or_default();
    let prompt = match &row.record {
        Some(r) => Some(r.prompt.clone()),
        None => ws
            .manifest
            .as_ref()
            .and_then(|m| m.task(&row.id))
            .map(|t| t.prompt.clone()),
    };

    if args.json {
        let mut v = row.json(&ws.store);
        let rec = row.record.as_ref();
        v["history"] = rec
            .map(|r| {
                r.attempts
                    .iter()
                    .map(|a| {
                        json!({
                            "n": a.n,
                            "state": a.state.as_str(),
                            "exit_code": a.exit_code,
                            "started_at": crate::time::rfc3339(a.started_at),
                            "finished_at": a.finished_at.map(crate::time::rfc3339),
                            "head": a.head,
                            "detail": a.detail,
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
            .into();
        v["commits"] = commits
            .iter()
            .map(|(sha, subject)| json!({ "sha": sha, "subject": subject }))
            .collect::<Vec<_>>()
            .into();
        v["leftover_pids"] = left.clone().into();
        v["log_tail"] = log_tail.clone().into();
        v["prompt"] = prompt.into();
        v["command"] = rec.map(|r| r.command.clone()).into();
        v["check_command"] = rec.and_then(|r| r.check_command.clone()).into();
        v["created_at"] = rec.map(|r| crate::time::rfc3339(r.created_at)).into();
        ctx.ui.out(&report::document(vec![v]));
        return Ok(Exit::Ok);
    }

    ctx.ui.out(&human(
        ctx,
        &row,
        &commits,
        prompt.as_deref(),
        &log_tail,
        &log_path,
        &left,
    ));
    Ok(Exit::Ok)
}

/// The commits the branch (or, without one, the worktree's HEAD) has over the base's
/// current tip, newest first.
fn commits(ws: &Workspace, row: &Row) -> Vec<(String, String)> {
    let repo = ws.repo.local();
    let tip = row
        .target
        .branch
        .as_deref()
        .and_then(|b| report::branch_tip(&repo, b))
        .or_else(|| row.live.head.as_deref().and_then(|h| h.parse().ok()));
    match tip {
        Some(tip) => report::commits_over(&repo, tip, row.target.base).unwrap_or_default(),
        None => Vec::new(),
    }
}

fn tail(path: &std::path::Path, n: usize) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

fn human(
    ctx: &Ctx,
    row: &Row,
    commits: &[(String, String)],
    prompt: Option<&str>,
    log_tail: &[String],
    log_path: &std::path::Path,
    leftover: &[u32],
) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let bold = |s: &str| paint(ctx.ui.color, "1", s);
    let rec = row.record.as_ref();
    let mut fields: Vec<(&str, String)> = vec![
        ("task", bold(&row.id)),
        ("state", {
            let mut s = ctx.ui.state(row.state);
            if rec.is_some_and(|r| r.pruned) {
                s.push_str(" (pruned)");
            } else if let Some(r) = rec
                && r.state != row.state
            {
                write!(s, " (recorded as {})", r.state).ok();
            }
            s
        }),
    ];
    if let Some(why) = why(row) {
        fields.push(("why", why));
    }
    if !leftover.is_empty() {
        fields.push(("processes", procs::leftover_note(&row.id, leftover)));
    }
    if let Some(d) = rec.and_then(|r| r.detail.as_deref()) {
        fields.push(("detail", escape_control(d).into_owned()));
    }
    // What the agent's CLI said, and what to do (a known failure of its preset).
    if let Some(d) = rec.and_then(|r| r.reason.as_deref()) {
        fields.push(("reason", escape_control(d).into_owned()));
    }
    if let Some(d) = rec.and_then(|r| r.hint.as_deref()) {
        fields.push(("hint", escape_control(d).into_owned()));
    }
    if let Some(b) = &row.branch {
        let mut s = b.clone();
        if let (Some(a), Some(be)) = (row.live.ahead, row.live.behind) {
            write!(
                s,
                " ({a} ahead, {be} behind {})",
                row.base.as_deref().unwrap_or("base")
            )
            .ok();
        }
        fields.push(("branch", s));
    }
    if let Some(base) = &row.base {
        let mut s = base.clone();
        if let Some(r) = rec {
            write!(s, " (started from {})", short_sha(&r.base_commit)).ok();
        }
        fields.push(("base", s));
    }
    if let Some(w) = &row.worktree {
        let state = if !w.is_dir() {
            "missing".to_string()
        } else {
            match row.live.dirty {
                Some(0) => "clean".into(),
                Some(1) => "1 uncommitted change".into(),
                Some(n) => format!("{n} uncommitted changes"),
                None => "unreadable".into(),
            }
        };
        fields.push(("worktree", format!("{} ({state})", display_path(w, &cwd))));
    }
    if let Some(h) = &row.live.head {
        fields.push(("head", h.clone()));
    }
    if let Some(r) = rec {
        // Commands and prompts may come from a manifest in the repository: shown with
        // control characters visible, so what is displayed is what runs.
        fields.push((
            "agent",
            escape_control(&shell_words::join(&r.command)).into_owned(),
        ));
        let check = match (&r.check, &r.check_command) {
            (Some(res), Some(cmd)) => format!("{res} ({cmd})"),
            (Some(res), None) => res.clone(),
            (None, Some(cmd)) => format!("not run ({cmd})"),
            (None, None) => "none".into(),
        };
        fields.push(("check", escape_control(&check).into_owned()));
        if let Some(i) = &r.isolation {
            fields.push(("sandbox", escape_control(&i.describe()).into_owned()));
        }
        if let Some(w) = &r.remote {
            fields.push(("where", escape_control(&w.describe()).into_owned()));
        }
        if let Some(c) = r.exit_code {
            fields.push(("exit code", c.to_string()));
        }
        for (k, v) in report::spend_fields(r) {
            fields.push((k, escape_control(&v).into_owned()));
        }
        fields.push(("created", crate::time::rfc3339(r.created_at)));
        if let Some(t) = r.started_at {
            fields.push(("started", crate::time::rfc3339(t)));
        }
        if let Some(t) = r.finished_at {
            let took = report::elapsed(r)
                .map(|d| format!(" (took {})", crate::time::short(d)))
                .unwrap_or_default();
            fields.push(("finished", format!("{}{took}", crate::time::rfc3339(t))));
        }
        if let Some(p) = r.port {
            fields.push(("port", p.to_string()));
        }
        if let Some(u) = &r.pr_url {
            fields.push(("pull request", u.clone()));
        }
        fields.push(("log", display_path(log_path, &cwd)));
    }

    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 2;
    let mut out = String::new();
    for (k, v) in &fields {
        writeln!(out, "{:<width$}{v}", format!("{k}:")).ok();
    }
    if let Some(p) = prompt {
        writeln!(out, "\n{}", bold("Prompt")).ok();
        for l in p.lines() {
            writeln!(out, "    {}", escape_control(l)).ok();
        }
    }
    if let Some(r) = rec
        && !r.attempts.is_empty()
    {
        writeln!(out, "\n{}", bold("Attempts")).ok();
        let rows: Vec<Vec<String>> = r
            .attempts
            .iter()
            .map(|a| {
                vec![
                    format!("#{}", a.n),
                    ctx.ui.state(a.state),
                    a.exit_code
                        .map(|c| format!("exit {c}"))
                        .unwrap_or_else(|| "-".into()),
                    a.finished_at
                        .map(|f| {
                            crate::time::short(std::time::Duration::from_millis(
                                f.saturating_sub(a.started_at),
                            ))
                        })
                        .unwrap_or_else(|| "-".into()),
                    a.head.as_deref().map(short_sha).unwrap_or("-").to_string(),
                    a.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        let t = table(&["#", "STATE", "EXIT", "TIME", "HEAD", "DETAIL"], &rows);
        for l in t.lines() {
            writeln!(out, "    {l}").ok();
        }
    }
    if row.branch.is_some() || row.live.head.is_some() {
        let over = row.base.as_deref().unwrap_or("base");
        writeln!(
            out,
            "\n{}",
            bold(&format!("Commits over {over} ({})", commits.len()))
        )
        .ok();
        for (sha, subject) in commits {
            writeln!(out, "    {} {}", short_sha(sha), escape_control(subject)).ok();
        }
    }
    if rec.is_some() {
        let title = if log_tail.is_empty() {
            "Log (empty)".to_string()
        } else {
            format!("Last {} lines of the log", log_tail.len())
        };
        writeln!(out, "\n{}", bold(&title)).ok();
        for l in log_tail {
            writeln!(out, "    {}", escape_control(l)).ok();
        }
    }
    out
}

/// Why a task reads a state its record does not say.
fn why(row: &Row) -> Option<String> {
    let missing = row.worktree.as_ref().is_some_and(|w| !w.is_dir());
    match (&row.record, row.state) {
        (None, State::Orphaned) => {
            Some("no git-agents record of it (left by a crash, or made by hand)".into())
        }
        (Some(r), State::Orphaned) if r.pruned => {
            Some("pruned, but its worktree or branch is still there".into())
        }
        (Some(_), State::Orphaned) if missing => Some("its worktree is gone".into()),
        (Some(r), State::Interrupted) if r.state != State::Interrupted => Some(format!(
            "the git agents process that ran it{} is gone",
            r.owner
                .map(|p| format!(" (pid {})", p.pid))
                .unwrap_or_default()
        )),
        (Some(r), State::Merged) if r.state != State::Merged => Some(format!(
            "its branch is contained in {}",
            row.base.as_deref().unwrap_or("the base")
        )),
        _ => None,
    }
}

fn short_sha(sha: &str) -> &str {
    &sha[..sha.len().min(10)]
}
