//! `git agents merge`: a local merge queue (see [`crate::engine::queue`]). This file
//! reads the request, refuses what is wrong with it before anything changes (a dirty
//! base checkout refuses the whole run), runs the queue and shows what it did: a line
//! per task as its verdict is final, then the result table or JSON document. Each run
//! is a batch with its own event log.

use anyhow::Result;

use crate::agent::Agent;
use crate::cli::Ctx;
use crate::config::{Flags, keys};
use crate::engine::queue::{self, Item, OnConflict, Queue, Relaunch, Verdict};
use crate::error::{Error, Exit};
use crate::manifest::Strategy;
use crate::report;
use crate::supervise;
use crate::ui::{Progress, table};

use super::Workspace;

mod forecast;
mod lines;
mod plan;

/// Merge finished tasks into their base branch, one at a time (a local merge queue).
///
/// Each task is merged in memory onto the result of the previous one; a conflict never
/// touches your checkout. With a check, each merged result is tested in a scratch
/// worktree before the base branch moves.
#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// Tasks to merge, in this order (default: every succeeded task not yet merged, in
    /// manifest order)
    #[arg(value_name = "ID", conflicts_with = "all")]
    pub ids: Vec<String>,

    /// Every task not yet merged that succeeded or conflicted before
    #[arg(long)]
    pub all: bool,

    /// How a task's branch is brought in [default: merge, or agents.mergeStrategy]
    #[arg(long, value_enum, value_name = "HOW")]
    pub strategy: Option<Strategy>,

    /// Merge into this branch instead of each task's base
    #[arg(long, value_name = "BRANCH")]
    pub into: Option<String>,

    /// Shell command run on each merged result; exit 0 = it may land
    #[arg(long, value_name = "CMD", conflicts_with = "no_check")]
    pub check: Option<String>,

    /// Run no check, whatever the config says
    #[arg(long)]
    pub no_check: bool,

    /// What a conflict does: stop the queue, skip the task, let its agent resolve it,
    /// or re-run the task from the new base [default: stop]
    #[arg(long, value_enum, value_name = "WHAT")]
    pub on_conflict: Option<OnConflict>,

    /// Push each branch and open a pull request with gh instead of merging locally
    #[arg(long, conflicts_with_all = ["strategy", "check", "no_check", "on_conflict", "prune"])]
    pub pr: bool,

    /// Report what would merge and what would conflict; change nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Remove each merged task's worktree and branch
    #[arg(long)]
    pub prune: bool,

    /// Print the result as JSON on stdout
    #[arg(long)]
    pub json: bool,

    /// Run a tracked manifest's checks without recording trust (see `git agents trust`)
    #[arg(long)]
    pub trust: bool,

    /// Run up to N checks at once, each on the predicted result of the tasks ahead of
    /// it; the outcome is the one --jobs 1 gives [default: agents.jobs when set, else 1]
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Check N tasks at once as one result; a failing result is bisected to find the
    /// failing tasks, the others land
    #[arg(long, value_name = "N", conflicts_with = "pr")]
    pub batch: Option<usize>,

    /// Forecast, in memory: whether each task merges cleanly onto its base, which other
    /// tasks it conflicts with, and the order that lands the most; change nothing
    #[arg(long, conflicts_with_all = ["prune", "pr", "dry_run"])]
    pub plan: bool,

    /// The queue's order: as selected, or the forecast's order that lands the most
    /// tasks [default: queue]
    #[arg(long, value_enum, value_name = "ORDER")]
    pub order: Option<Order>,
}

/// `--order`: the queue as selected, or reordered by the conflict forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Order {
    Queue,
    Forecast,
}

/// How many checks run at once: `--jobs`, else `agents.jobs` (git config or the
/// manifest's `jobs`) when set, else 1. Unset, the queue checks one result at a time,
/// as it always has: parallel checks are asked for.
pub(crate) fn speculative(ws: &Workspace, args: &MergeArgs) -> usize {
    args.jobs
        .or_else(|| ws.git.get(keys::JOBS).and_then(|j| j.parse().ok()))
        .or_else(|| ws.manifest.as_ref().and_then(|m| m.jobs))
        .unwrap_or(1)
}

/// `--jobs 0`, `--batch 0`: refused before anything else.
fn check_counts(args: &MergeArgs) -> Result<()> {
    for (flag, n) in [("--jobs", args.jobs), ("--batch", args.batch)] {
        if n == Some(0) {
            return Err(Error::usage(format!("{flag} 0: it must be 1 or more"))
                .with_hint(format!("{flag} 1 checks one result at a time"))
                .into());
        }
    }
    Ok(())
}

pub fn run(ctx: &Ctx, args: MergeArgs) -> Result<Exit> {
    check_counts(&args)?;
    let ws = Workspace::open(ctx)?;
    let flags = Flags {
        check: if args.no_check {
            Some(None)
        } else {
            args.check.clone().map(Some)
        },
        merge_strategy: args.strategy,
        ..Flags::default()
    };
    let global = ws.global(&flags)?;
    let (mut items, targets) = plan::plan(&ws, &args, &flags)?;
    if args.plan {
        return forecast::show(ctx, &ws, &items, &targets, args.json);
    }
    if args.order == Some(Order::Forecast) && !items.is_empty() {
        items = forecast::reorder(&ws, items, &targets)?;
    }
    let along: Vec<&str> = items
        .iter()
        .filter(|i| {
            let asked = |id: &str| args.ids.iter().any(|a| a == id);
            !args.ids.is_empty()
                && !asked(&i.rec.id)
                && !i.rec.graph.candidate_of.as_deref().is_some_and(asked)
        })
        .map(|i| i.rec.id.as_str())
        .collect();
    if !along.is_empty() {
        ctx.ui.status(&format!(
            "landing its dependencies first: {}",
            along.join(", ")
        ));
    }
    // Checks (and setup) from a manifest that came with the repository run only once
    // trusted; a dry run and --pr run none.
    if !args.dry_run && !args.pr {
        ws.ensure_trusted(&ctx.ui, args.trust)?;
    }
    if items.is_empty() {
        ctx.ui
            .status("nothing to merge: no succeeded task is waiting (see git agents list)");
        if args.json {
            ctx.ui.out(&report::document(Vec::new()));
        }
        return Ok(Exit::Ok);
    }
    let on_conflict = args.on_conflict.unwrap_or(OnConflict::Stop);
    if !args.pr && matches!(on_conflict, OnConflict::Agent | OnConflict::Retry) {
        for it in &items {
            queue::agent_of(&it.rec)?; // a missing program is an error before anything changes
        }
    }
    if !args.pr {
        // Checkouts of the targets: a dirty one refuses the whole run, before anything
        // moves.
        for e in queue::busy_targets(&ws.repo, &targets)? {
            if !args.dry_run {
                return Err(e.into());
            }
            ctx.ui.warn(&e.message);
        }
    }
    let _lock = if args.dry_run || args.pr {
        None
    } else {
        Some(queue::lock(&ws.store)?)
    };
    let events = lines::emitter(ctx, &ws, &args, &items, &targets);
    let report = if args.pr {
        queue::pull_requests(
            &ws.repo,
            &ws.store,
            &events,
            &items,
            &targets,
            &global.remote,
            args.dry_run,
        )?
    } else {
        if !args.dry_run {
            queue::clean_scratch(&ws.repo, &ws.store);
        }
        supervise::install_interrupt_handler();
        let relaunch = SpawnAgain {
            ctx,
            ws: &ws,
            port_range: global.port_range,
        };
        Queue {
            repo: &ws.repo,
            store: &ws.store,
            events: &events,
            relaunch: &relaunch,
            on_conflict,
            dry_run: args.dry_run,
            prune: args.prune,
            port_range: global.port_range,
            jobs: speculative(&ws, &args),
            batch: args.batch.unwrap_or(1),
        }
        .run(&items, &targets)?
    };
    for e in &report.errors {
        ctx.ui.error(e, None);
    }
    summary(ctx, &ws, &args, &items, &targets, &report.verdicts)?;
    Ok(report.exit)
}

/// The result table (or JSON document), in queue order.
fn summary(
    ctx: &Ctx,
    ws: &Workspace,
    args: &MergeArgs,
    items: &[Item],
    targets: &[String],
    verdicts: &[Verdict],
) -> Result<()> {
    let mut table_rows = Vec::new();
    let mut docs = Vec::new();
    for (it, v) in items.iter().zip(verdicts) {
        let into = &targets[it.target];
        if args.json {
            let rec = ws.store.load(&it.rec.id)?.unwrap_or_else(|| it.rec.clone());
            let live = report::live(&ws.repo, &rec);
            let mut doc = report::task_json(&ws.store, &rec, &live);
            if let Some(o) = doc.as_object_mut() {
                o.insert("result".into(), v.result.as_str().into());
                o.insert("merged_into".into(), rec.merged_into.clone().into());
                o.insert("merged_commit".into(), rec.merged_commit.clone().into());
                o.insert("commit".into(), v.commit.map(|c| c.to_string()).into());
                o.insert("into".into(), into.clone().into());
                o.insert("conflicts".into(), v.conflicts.clone().into());
                o.insert("merge_check".into(), v.check.map(|c| c.as_str()).into());
                o.insert("strategy".into(), strategy_name(it.strategy).into());
                if !v.detail.is_empty() {
                    o.insert("detail".into(), v.detail.clone().into());
                }
            }
            docs.push(doc);
        } else {
            table_rows.push(vec![
                it.rec.id.clone(),
                v.result.to_string(),
                into.clone(),
                v.commit
                    .map(|c| c.to_hex_with_len(10).to_string())
                    .unwrap_or_else(|| "-".into()),
                v.check.map_or("-", |c| c.as_str()).to_string(),
                v.detail.clone(),
            ]);
        }
    }
    if args.json {
        ctx.ui.out(&report::document(docs));
    } else {
        ctx.ui.out(&table(
            &["ID", "RESULT", "INTO", "COMMIT", "CHECK", "DETAIL"],
            &table_rows,
        ));
    }
    Ok(())
}

fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Merge => "merge",
        Strategy::Squash => "squash",
        Strategy::Rebase => "rebase",
    }
}

/// `--on-conflict retry`: the task runs again as spawn runs it, with its own progress.
struct SpawnAgain<'a> {
    ctx: &'a Ctx,
    ws: &'a Workspace,
    port_range: (u16, u16),
}

impl Relaunch for SpawnAgain<'_> {
    fn rerun(&self, item: &Item, agent: Agent, base: gix::ObjectId) -> Result<()> {
        let progress = Progress::new(&self.ctx.ui, std::slice::from_ref(&item.rec.id));
        crate::engine::run::rerun_batch(
            &self.ws.repo,
            &self.ws.store,
            &item.rec,
            item.settings.clone(),
            agent,
            base.to_string(),
            self.port_range,
            progress.clone(),
        )?;
        progress.finish();
        Ok(())
    }
}
