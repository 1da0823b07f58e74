//! `spawn --detach`: the request, settled in the foreground, goes to a batch of its own
//! (see [`crate::engine::detach`]); this passes on what it said until it claimed its
//! tasks, and prints which tasks it took and how to follow them.

use anyhow::Result;
use std::ffi::OsString;

use super::SpawnArgs;
use crate::cli::Ctx;
use crate::cmd::Workspace;
use crate::engine::detach::{self, Outcome};
use crate::error::{Error, Exit};
use crate::report;

/// Start the batch detached; `planned` are the tasks the foreground settled on.
pub(super) fn run(ctx: &Ctx, ws: &Workspace, args: &SpawnArgs, planned: &[String]) -> Result<Exit> {
    let started = detach::start(&child_args(ctx, args, planned))?;
    let error = relay(ctx, &String::from_utf8_lossy(&started.said));
    let (pid, ids) = match started.outcome {
        Outcome::Running { pid, ids } => (pid, ids),
        Outcome::Ended(code) => {
            // It said why on its stderr, passed on above; end as it ended.
            let (message, hint) = error.unwrap_or_else(|| {
                (
                    format!("the detached batch ended with exit code {code}"),
                    None,
                )
            });
            let e = match code {
                0 => {
                    if args.json {
                        ctx.ui.out(&report::document(Vec::new()));
                    }
                    return Ok(Exit::Ok);
                }
                130 => return Ok(Exit::Interrupted),
                2 => Error::usage(message),
                _ => Error::refused(message),
            };
            return Err(match hint {
                Some(h) => e.with_hint(h),
                None => e,
            }
            .into());
        }
    };
    if args.json {
        let docs = ids
            .iter()
            .filter_map(|id| ws.store.load(id).ok().flatten())
            .map(|r| report::task_json(&ws.store, &r, &report::live(&ws.repo, &r)))
            .collect();
        ctx.ui.out(&report::document(docs));
    } else {
        ctx.ui
            .out(&ids.iter().map(|i| format!("{i}\n")).collect::<String>());
    }
    let n = ids.len();
    ctx.ui.status(&format!(
        "{n} task{} running in the background (pid {pid}), with no terminal",
        crate::engine::cleanup::plural(n)
    ));
    ctx.ui
        .status("follow them: git agents watch   wait for them: git agents wait");
    Ok(Exit::Ok)
}

/// The batch's lines, made by our own ui (with `--color never`): warnings and status
/// lines are passed on; an error and its hint are returned, to end this process with.
fn relay(ctx: &Ctx, said: &str) -> Option<(String, Option<String>)> {
    let mut error = None;
    for line in said.lines() {
        if let Some(e) = line.strip_prefix("error: ") {
            error = Some((e.to_string(), None));
        } else if let Some(h) = line.strip_prefix("hint: ") {
            if let Some((_, hint)) = &mut error {
                *hint = Some(h.to_string());
            }
        } else if let Some(w) = line.strip_prefix("warning: ") {
            ctx.ui.warn(w);
        } else if !line.is_empty() {
            ctx.ui.status(line);
        }
    }
    error
}

/// The settled request as a command line for the batch: every flag as given, the task
/// ids (the derived one for `-p`), and `--trust` only when the user passed it (trust
/// given at the prompt was recorded, so the batch finds it).
fn child_args(ctx: &Ctx, args: &SpawnArgs, planned: &[String]) -> Vec<OsString> {
    let mut a: Vec<OsString> = vec!["--color=never".into()];
    if ctx.ui.quiet {
        a.push("--quiet".into());
    }
    if ctx.ui.verbose {
        a.push("--verbose".into());
    }
    if let Some(m) = &ctx.manifest {
        let mut o = OsString::from("--manifest=");
        o.push(std::path::absolute(m).unwrap_or_else(|_| m.clone()));
        a.push(o);
    }
    a.push("spawn".into());
    let mut opt = |name: &str, value: Option<String>| {
        if let Some(v) = value {
            a.push(format!("--{name}={v}").into());
        }
    };
    opt("prompt", args.prompt.clone());
    opt("agent", args.agent.clone());
    opt("command", args.command.clone());
    opt("jobs", args.jobs.map(|j| j.to_string()));
    opt("base", args.base.clone());
    opt(
        "timeout",
        args.timeout.map(|t| format!("{}ms", t.as_millis())),
    );
    opt("retries", args.retries.map(|r| r.to_string()));
    opt("check", args.check.clone());
    opt("max-cost", args.max_cost.map(|c| c.to_string()));
    opt("max-task-cost", args.max_task_cost.map(|c| c.to_string()));
    opt("max-tokens", args.max_tokens.map(|t| t.to_string()));
    opt(
        "retry-in",
        args.retry_in.map(|r| match r {
            crate::config::RetryIn::Fresh => "fresh".into(),
            crate::config::RetryIn::Same => "same".into(),
        }),
    );
    opt("sandbox", args.sandbox.clone());
    opt("best-of", args.best_of.map(|n| n.to_string()));
    if !args.agents.is_empty() {
        opt("agents", Some(args.agents.join(",")));
    }
    for (on, flag) in [
        (args.no_check, "--no-check"),
        (args.keep_empty, "--keep-empty"),
        (args.trust, "--trust"),
        (args.force, "--force"),
    ] {
        if on {
            a.push(flag.into());
        }
    }
    a.push("--".into());
    let ids = if args.prompt.is_some() {
        planned
    } else {
        &args.ids[..]
    };
    a.extend(ids.iter().map(OsString::from));
    a
}
