//! `git agents spawn`: a worktree and branch per task, its agent run there, what it left
//! committed, the check run, failures retried in a fresh worktree.
//!
//! This file parses the request, settles what needs the user (trust, disk space) and
//! hands the batch to the engine: [`engine::plan`] resolves and checks everything before
//! anything is created, [`engine::claim`] claims the tasks in the store, and
//! [`engine::run`] runs them, reporting to the live view and the batch's event log. What
//! is left here is the summary.

use anyhow::Result;
use std::time::Duration;

use crate::agent;
use crate::cli::Ctx;
use crate::config::{self, Flags};
use crate::engine::events::{self, Emitter};
use crate::engine::graph::BestOf;
use crate::engine::plan::{self, Request, Sources};
use crate::engine::{claim, run};
use crate::error::{Error, Exit};
use crate::report;
use crate::store::Record;
use crate::task::State;
use crate::ui::{Progress, table};

use super::Workspace;

mod detach;

/// Create a worktree and branch per task and run its agent there, in parallel.
///
/// Without IDs, spawns every task of the manifest that was never spawned. With -p, runs
/// one ad-hoc task (its id derived from the prompt unless given).
#[derive(Debug, clap::Args)]
pub struct SpawnArgs {
    /// Tasks to spawn (default: every manifest task never spawned)
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,

    /// Run an ad-hoc task with this prompt (at most one ID)
    #[arg(short, long, value_name = "TEXT")]
    pub prompt: Option<String>,

    /// Agent preset to run
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(agent::PRESET_NAMES), conflicts_with = "command")]
    pub agent: Option<String>,

    /// Agent command template, split like a shell (e.g. "my-agent --task {prompt}")
    #[arg(long, value_name = "CMD")]
    pub command: Option<String>,

    /// Agents running at once
    #[arg(short, long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,

    /// Branch or revision to start from (default: the branch checked out)
    #[arg(long, value_name = "REV")]
    pub base: Option<String>,

    /// Time limit per attempt, e.g. 45s, 30m, 2h
    #[arg(long, value_name = "DUR", value_parser = crate::time::parse_duration)]
    pub timeout: Option<Duration>,

    /// Extra attempts after a failed one (at most 100)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=i64::from(config::MAX_RETRIES)))]
    pub retries: Option<u32>,

    /// Shell command run in the worktree after the agent; exit 0 = pass
    #[arg(long, value_name = "CMD", conflicts_with = "no_check")]
    pub check: Option<String>,

    /// Run no check, whatever the config says
    #[arg(long)]
    pub no_check: bool,

    /// Keep the worktree and branch of a task whose agent changed nothing
    #[arg(long)]
    pub keep_empty: bool,

    /// Print the summary as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Run a tracked manifest's commands without recording trust (see `git agents trust`)
    #[arg(long)]
    pub trust: bool,

    /// Spawn even when free disk space would fall below agents.minFreeDisk
    #[arg(long)]
    pub force: bool,

    /// Run the batch in the background with no terminal: print the task ids and return
    #[arg(short, long)]
    pub detach: bool,

    /// Budget of the whole batch in US dollars, as the agents report their spend:
    /// passing it stops the running agents, and tasks not yet started stay pending
    #[arg(long, value_name = "USD", value_parser = parse_cost)]
    pub max_cost: Option<f64>,

    /// Budget of each task in US dollars (agents.maxCost, `max_cost`)
    #[arg(long, value_name = "USD", value_parser = parse_cost)]
    pub max_task_cost: Option<f64>,

    /// Budget of each task in tokens, input plus output, e.g. 200k (agents.maxTokens)
    #[arg(long, value_name = "N", value_parser = parse_tokens)]
    pub max_tokens: Option<u64>,

    /// Where a retry runs: a fresh worktree (default), or the same one, the agent's
    /// session resumed (agents.retryIn, `retry_in`)
    #[arg(long, value_name = "WHERE", value_enum)]
    pub retry_in: Option<config::RetryIn>,
    /// Run each agent, setup and check in a sandbox: bwrap or none (see README)
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(crate::sandbox::NAMES))]
    pub sandbox: Option<String>,

    /// Run each task as N candidates at once and keep the best (1-16)
    #[arg(long, value_name = "N", value_parser = best_of_value, conflicts_with = "agents")]
    pub best_of: Option<u32>,

    /// Run each task once per agent listed, as candidates (e.g. claude,codex)
    #[arg(long, value_name = "A,B", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(agent::PRESET_NAMES), conflicts_with_all = ["agent", "command"])]
    pub agents: Vec<String>,
}

fn best_of_value(s: &str) -> Result<u32, String> {
    let n: u64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of candidates"))?;
    crate::manifest::graph::check_candidates(n)
}

fn parse_cost(s: &str) -> Result<f64, String> {
    crate::engine::budget::parse_cost(s)
        .ok_or_else(|| "expected a number of US dollars, 0 or more (e.g. 0.50)".into())
}

fn parse_tokens(s: &str) -> Result<u64, String> {
    crate::engine::budget::parse_tokens(s)
        .ok_or_else(|| "expected a whole number of tokens, e.g. 200000 or 200k".into())
}

pub fn run(ctx: &Ctx, args: SpawnArgs) -> Result<Exit> {
    let ws = Workspace::open(ctx)?;
    let flags = flags(&args)?;
    let global = ws.global(&flags)?;
    let best_of = match (args.best_of, args.agents.is_empty()) {
        (Some(n), _) => Some(BestOf {
            n,
            agents: Vec::new(),
        }),
        (None, false) => {
            crate::manifest::graph::check_agents(&args.agents)
                .map_err(|e| Error::usage(format!("--{e}")))?;
            Some(BestOf {
                n: args.agents.len() as u32,
                agents: args.agents.clone(),
            })
        }
        (None, true) => None,
    };
    let request = Request {
        ids: &args.ids,
        prompt: args.prompt.as_deref(),
        best_of: best_of.as_ref(),
    };
    let sources = Sources {
        repo: &ws.repo,
        store: &ws.store,
        git: &ws.git,
        manifest: ws.manifest.as_ref(),
    };
    let plan = plan::plan(&sources, &request, &flags, &global)?;
    if plan.is_empty() {
        return Ok(nothing(
            ctx,
            &args,
            "every task in the manifest has been spawned",
        ));
    }

    budget_notes(ctx, &args, &plan);
    let pulled: Vec<&str> = plan
        .iter()
        .filter(|p| p.pulled_in)
        .map(|p| p.candidate_of.as_deref().unwrap_or(p.id.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !pulled.is_empty() {
        ctx.ui.status(&format!(
            "also spawning {}: unfinished dependencies of the tasks asked for",
            pulled.join(", ")
        ));
    }
    ws.ensure_trusted(&ctx.ui, args.trust)?;
    if !args.force {
        plan::check_disk(&ws.repo, &global, plan.len())?;
    }
    if args.detach {
        // A candidate is asked for by its task's id.
        let mut ids: Vec<String> = Vec::new();
        for p in &plan {
            let id = p.candidate_of.clone().unwrap_or_else(|| p.id.to_string());
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        return detach::run(ctx, &ws, &args, &ids);
    }
    // Before the claim: a failure here (a full disk) must not leave tasks claimed.
    claim::exclude_worktree_dir(&ws.repo, &global.worktree_dir)?;
    let batch = events::batch_id();
    let log = events::Log::create(&ws.store.dir, &batch)?;
    let log_path = log.path().to_path_buf();
    crate::fault::point("spawn:planned");
    let plan = match claim::claim(&ws.store, plan, request.all_unspawned(), &batch) {
        Ok(plan) if !plan.is_empty() => plan,
        claimed => {
            // No batch runs: no log of one either.
            let _ = std::fs::remove_file(&log_path);
            claimed?;
            return Ok(nothing(
                ctx,
                &args,
                "another git agents process took every task",
            ));
        }
    };
    crate::fault::point("spawn:claimed");
    for p in &plan {
        ctx.ui.debug(&format!(
            "{}: {} in {} from {} ({}); log: {}",
            p.id,
            shell_words::join(&p.agent.template),
            p.worktree.display(),
            p.base_name,
            &p.base_commit[..12.min(p.base_commit.len())],
            ws.store.log_path(p.id.as_str()).display()
        ));
    }
    ctx.ui
        .debug(&format!("batch {batch}; events: {}", log_path.display()));

    let ids: Vec<String> = plan.iter().map(|p| p.id.to_string()).collect();
    let detached = crate::engine::detach::is_child();
    let on_started = || {
        if detached {
            crate::engine::detach::ready(&ids);
        }
    };
    let progress = Progress::new(&ctx.ui, &ids);
    let emitter = Emitter::new(batch).with(progress.clone()).with(log);
    let summary = run::run(
        run::Batch {
            repo: &ws.repo,
            store: &ws.store,
            tasks: plan,
            jobs: global.jobs,
            keep_empty: args.keep_empty,
            port_range: global.port_range,
            detached,
            on_started: &on_started,
            max_cost: args.max_cost,
        },
        &emitter,
    );
    progress.finish();
    let summary = summary?;
    for (id, why) in &summary.unrecorded {
        ctx.ui.warn(&format!(
            "{id}: the task failed and its record could not be written ({why}); \
             `git agents list` shows it as interrupted"
        ));
    }
    render(ctx, &ws, &args, &summary.records);
    let ended = crate::engine::notify::BatchEnd {
        repo: &ws.repo,
        store: &ws.store,
        ids: &ids,
        exit: summary.exit,
        detached,
        command: crate::engine::notify::command(&ws.git, ws.manifest.as_ref()),
    };
    for problem in crate::engine::notify::batch_ended(&ended) {
        ctx.ui.warn(&problem);
    }
    Ok(summary.exit)
}

/// Say once what no budget can hold: agents that report no spend.
fn budget_notes(ctx: &Ctx, args: &SpawnArgs, plan: &[plan::Planned]) {
    let tasks = plan.iter().map(|p| {
        (
            p.id.as_str(),
            p.agent.output,
            crate::engine::budget::Limits {
                max_cost: p.settings.max_cost,
                max_tokens: p.settings.max_tokens,
            },
        )
    });
    for note in crate::engine::budget::unenforceable(tasks, args.max_cost) {
        ctx.ui.warn(&note);
    }
}

/// The flags that take part in resolving each task's settings.
fn flags(args: &SpawnArgs) -> Result<Flags> {
    let command = match &args.command {
        Some(c) => Some(
            crate::manifest::split_command(c)
                .map_err(|e| Error::usage(format!("--command: {e}")))?,
        ),
        None => None,
    };
    Ok(Flags {
        agent: args.agent.clone(),
        command,
        base: args.base.clone(),
        timeout: args.timeout,
        retries: args.retries,
        check: if args.no_check {
            Some(None)
        } else {
            args.check.clone().map(Some)
        },
        jobs: args.jobs.map(usize::from),
        merge_strategy: None,
        max_cost: args.max_task_cost,
        max_tokens: args.max_tokens,
        retry_in: args.retry_in,
        sandbox: args
            .sandbox
            .as_deref()
            .and_then(crate::sandbox::Sandbox::parse),
    })
}

/// Nothing to run: say why, and with --json still print a (empty) document.
fn nothing(ctx: &Ctx, args: &SpawnArgs, why: &str) -> Exit {
    ctx.ui.status(&format!("nothing to spawn: {why}"));
    if args.json {
        ctx.ui.out(&report::document(Vec::new()));
    }
    Exit::Ok
}

/// The summary: every task of this run, in the order asked, as a table or SPEC §6 JSON.
fn render(ctx: &Ctx, ws: &Workspace, args: &SpawnArgs, records: &[Record]) {
    let mut rows = Vec::new();
    let mut docs = Vec::new();
    // The table shows only commits ahead; the JSON has every live field.
    let lives = report::live_all(&ws.repo, records, args.json);
    for (rec, live) in records.iter().zip(lives) {
        if args.json {
            docs.push(report::task_json(&ws.store, rec, &live));
            continue;
        }
        rows.push(vec![
            rec.id.clone(),
            ctx.ui.state(rec.state),
            if rec.state == State::Empty && !args.keep_empty {
                "-".into()
            } else {
                rec.branch.clone()
            },
            live.ahead
                .map(|a| format!("+{a}"))
                .unwrap_or_else(|| "-".into()),
            rec.check.clone().unwrap_or_else(|| "-".into()),
            report::elapsed(rec)
                .map(crate::time::short)
                .unwrap_or_else(|| "-".into()),
            report::cost_cell(rec),
            rec.detail.clone().unwrap_or_default(),
        ]);
    }
    if args.json {
        ctx.ui.out(&report::document(docs));
    } else {
        ctx.ui.out(&table(
            &[
                "ID", "STATE", "BRANCH", "COMMITS", "CHECK", "TIME", "COST", "DETAIL",
            ],
            &rows,
        ));
        if let Some(total) = report::total_line(records) {
            ctx.ui.out(&format!("{total}\n"));
        }
    }
}
