//! `git agents merge`: a local merge queue. Tasks merge one at a time, each onto the
//! result of the one before, each computed in memory first (see [`crate::merge`]), so a
//! conflict is found without touching any checkout.
//!
//! The base branch moves only by whole tasks: landed tasks are written to it at the end
//! of the queue and before anything slow or that needs the new base on disk (a check, an
//! agent, a re-run), so a long queue keeps what it finished. Everything that can be wrong
//! with the request is found before anything changes; a dirty base checkout refuses the
//! whole run.

use anyhow::Result;
use gix::ObjectId;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::io::AsRawFd;

use crate::cli::Ctx;
use crate::config::{Flags, Global};
use crate::error::{Error, Exit};
use crate::manifest::Strategy;
use crate::merge::{self, Checkout, Engine, Messages, Outcome};
use crate::report;
use crate::supervise;
use crate::task::State;
use crate::ui::table;

use super::Workspace;

mod plan;
mod pr;
mod steps;
use plan::{Item, agent_of};
use steps::{CheckResult, Resolution};

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnConflict {
    Stop,
    Skip,
    Agent,
    Retry,
}

/// What this run did with one task.
#[derive(Debug, Clone)]
struct Row {
    result: &'static str,
    commit: Option<ObjectId>,
    conflicts: Vec<String>,
    check: Option<String>,
    detail: String,
}

/// Results that count as success for the exit code.
const OK: &[&str] = &[
    "merged",
    "up-to-date",
    "empty",
    "would-merge",
    "pr-opened",
    "pushed",
    "would-push",
];

/// A branch tasks merge into: what its ref holds, and the queue's tip on top of it.
struct Target {
    branch: String,
    landed: ObjectId,
    tip: ObjectId,
    /// Rows of tasks in `tip` and not yet in `landed`.
    pending: Vec<usize>,
}

pub fn run(ctx: &Ctx, args: MergeArgs) -> Result<Exit> {
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
    let (items, targets) = plan::plan(&ws, &args, &flags)?;
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
    if args.pr {
        return pr::pull_requests(ctx, &ws, &args, &global, &items, &targets);
    }
    let policy = args.on_conflict.unwrap_or(OnConflict::Stop);
    if matches!(policy, OnConflict::Agent | OnConflict::Retry) {
        for it in &items {
            agent_of(&it.rec)?; // a missing program is an error before anything changes
        }
    }

    // Checkouts of the targets: a dirty one refuses the whole run, before anything moves.
    for name in &targets {
        if let Some(c) = merge::checkout_of(&ws.repo, name)?
            && let Some(why) = merge::checkout_busy(&c)?
        {
            let e = Error::refused(format!(
                "cannot merge into {name}: it is checked out in {} and {why}",
                c.dir.display()
            ))
            .with_hint("commit or stash that work first (nothing was changed)");
            if args.dry_run {
                ctx.ui.warn(&e.message);
            } else {
                return Err(e.into());
            }
        }
    }
    let _lock = if args.dry_run {
        None
    } else {
        Some(merge_lock(&ws)?)
    };
    if !args.dry_run {
        steps::clean_scratch(&ws);
    }
    supervise::install_interrupt_handler();

    let mut engine = Engine::new(&ws.repo, !args.dry_run)?;
    let mut targets: Vec<Target> = targets
        .into_iter()
        .map(|branch| {
            let tip = ws
                .repo
                .branch_tip(&branch)
                .ok_or_else(|| Error::refused(format!("branch {branch} disappeared")))?;
            Ok(Target {
                branch,
                landed: tip,
                tip,
                pending: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    let mut rows: Vec<Option<Row>> = vec![None; items.len()];
    let q = Queue {
        ctx,
        ws: &ws,
        args: &args,
        global: &global,
        policy,
        ids: items.iter().map(|it| it.rec.id.clone()).collect(),
        into: items
            .iter()
            .map(|it| targets[it.target].branch.clone())
            .collect(),
        landing: RefCell::new(HashSet::new()),
        shown: Cell::new(0),
    };
    let mut stopped = false;
    for (i, it) in items.iter().enumerate() {
        if stopped || supervise::interrupted() {
            break;
        }
        let t = &mut targets[it.target];
        let row = q.one(&mut engine, it, t, i, &mut rows);
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                // An error of ours, or the base branch moved: stop the queue here.
                stopped = true;
                row_of("error", &e)
            }
        };
        if row.result == "conflicted" && policy == OnConflict::Stop && !args.dry_run {
            stopped = true;
        }
        if row.result == "blocked" && policy == OnConflict::Stop && !args.dry_run {
            stopped = true;
        }
        if row.result == "interrupted" {
            stopped = true;
        }
        rows[i] = Some(row);
        q.show_ready(&rows);
    }
    for t in &mut targets {
        if let Err(e) = q.flush(t, &mut rows) {
            let e = row_of("error", &e);
            ctx.ui.error(&e.detail, None);
        }
    }
    q.show_ready(&rows);

    let names: Vec<String> = targets.iter().map(|t| t.branch.clone()).collect();
    summary(ctx, &ws, &args, &items, &names, rows)
}

/// The result table (or JSON document), in queue order, and the exit code.
fn summary(
    ctx: &Ctx,
    ws: &Workspace,
    args: &MergeArgs,
    items: &[Item],
    targets: &[String],
    rows: Vec<Option<Row>>,
) -> Result<Exit> {
    let mut all_ok = true;
    let mut table_rows = Vec::new();
    let mut docs = Vec::new();
    for (it, row) in items.iter().zip(rows) {
        let row = row.unwrap_or(Row {
            result: "not-reached",
            commit: None,
            conflicts: Vec::new(),
            check: None,
            detail: String::new(),
        });
        all_ok &= OK.contains(&row.result);
        let into = &targets[it.target];
        if args.json {
            let rec = ws.store.load(&it.rec.id)?.unwrap_or_else(|| it.rec.clone());
            let live = report::live(&ws.repo, &rec);
            let mut doc = report::task_json(&ws.store, &rec, &live);
            if let Some(o) = doc.as_object_mut() {
                o.insert("result".into(), row.result.into());
                o.insert("merged_into".into(), rec.merged_into.clone().into());
                o.insert("merged_commit".into(), rec.merged_commit.clone().into());
                o.insert("commit".into(), row.commit.map(|c| c.to_string()).into());
                o.insert("into".into(), into.clone().into());
                o.insert("conflicts".into(), row.conflicts.clone().into());
                o.insert("merge_check".into(), row.check.clone().into());
                o.insert("strategy".into(), strategy_name(it.strategy).into());
                if !row.detail.is_empty() {
                    o.insert("detail".into(), row.detail.clone().into());
                }
            }
            docs.push(doc);
        } else {
            table_rows.push(vec![
                it.rec.id.clone(),
                row.result.to_string(),
                into.clone(),
                row.commit
                    .map(|c| c.to_hex_with_len(10).to_string())
                    .unwrap_or_else(|| "-".into()),
                row.check.clone().unwrap_or_else(|| "-".into()),
                row.detail.clone(),
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
    Ok(crate::cli::exit_for(all_ok, supervise::interrupted()))
}

fn status_line(id: &str, into: &str, row: &Row) -> String {
    let mut s = format!("{id}: {} ({into})", row.result);
    if let Some(c) = row.commit {
        s.push_str(&format!(" {}", c.to_hex_with_len(10)));
    }
    if !row.detail.is_empty() {
        s.push_str(&format!(": {}", row.detail));
    }
    s
}

fn row_of(result: &'static str, e: &anyhow::Error) -> Row {
    let detail = match e.downcast_ref::<Error>() {
        Some(err) => err.message.clone(),
        None => format!("{e:#}"),
    };
    Row {
        result,
        commit: None,
        conflicts: Vec::new(),
        check: None,
        detail,
    }
}

fn strategy_name(s: Strategy) -> &'static str {
    match s {
        Strategy::Merge => "merge",
        Strategy::Squash => "squash",
        Strategy::Rebase => "rebase",
    }
}

/// Only one merge at a time per repository: two queues would race for the same base.
fn merge_lock(ws: &Workspace) -> Result<File> {
    crate::store::private_dir(&ws.store.dir)?;
    let path = ws.store.dir.join("merge.lock");
    let file = crate::store::private_file(&path, false)?;
    // SAFETY: flock on a file descriptor we own.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        return Err(
            Error::refused("another git agents merge is running in this repository")
                .with_hint("wait for it to finish")
                .into(),
        );
    }
    Ok(file)
}

struct Queue<'a> {
    ctx: &'a Ctx,
    ws: &'a Workspace,
    args: &'a MergeArgs,
    global: &'a Global,
    policy: OnConflict,
    /// Task ids by row.
    ids: Vec<String>,
    /// The branch each row merges into.
    into: Vec<String>,
    /// Rows whose result waits for their target branch to move (`flush`): until it has,
    /// nothing is said about them, since a moved base or a full disk may yet undo them.
    landing: RefCell<HashSet<usize>>,
    /// Rows whose status line is out; lines go out in queue order.
    shown: Cell<usize>,
}

impl Queue<'_> {
    /// Print the status line of every row that is settled, in queue order, stopping at
    /// the first that is not.
    fn show_ready(&self, rows: &[Option<Row>]) {
        let landing = self.landing.borrow();
        let mut i = self.shown.get();
        while let Some(Some(row)) = rows.get(i) {
            if landing.contains(&i) {
                break;
            }
            self.ctx
                .ui
                .status(&status_line(&self.ids[i], &self.into[i], row));
            i += 1;
        }
        self.shown.set(i);
    }

    /// Take one task through the queue.
    fn one(
        &self,
        engine: &mut Engine,
        it: &Item,
        t: &mut Target,
        row_index: usize,
        rows: &mut [Option<Row>],
    ) -> Result<Row> {
        let ws = self.ws;
        let dry = self.args.dry_run;
        let rec = &it.rec;
        let subject = crate::git::subject_of(&rec.prompt);
        let msg = Messages {
            id: &rec.id,
            branch: &rec.branch,
            subject: &subject,
        };
        let mut row = Row {
            result: "",
            commit: None,
            conflicts: Vec::new(),
            check: None,
            detail: String::new(),
        };
        let mut resolved_once = false;
        loop {
            let Some(head) = ws.repo.branch_tip(&rec.branch) else {
                row.result = "error";
                row.detail = format!("branch {} is gone", rec.branch);
                return Ok(row);
            };
            if !dry {
                engine.forget();
            }
            let outcome = engine.land(it.strategy, t.tip, head, &msg)?;
            let (tip, note) = match outcome {
                Outcome::UpToDate => {
                    row.result = if dry { "would-merge" } else { "up-to-date" };
                    row.detail = format!("already in {}", t.branch);
                    row.commit = Some(t.tip);
                    // A task recorded as merged keeps the record of where it went.
                    if !dry && rec.state != State::Merged {
                        t.pending.push(row_index);
                        self.landing.borrow_mut().insert(row_index);
                        rows[row_index] = Some(row.clone());
                    }
                    return Ok(row);
                }
                Outcome::Merged { tip, note } => (tip, note),
                Outcome::Conflict { paths } => {
                    row.conflicts = paths;
                    if dry {
                        row.result = "would-conflict";
                        row.detail =
                            format!("conflicts in {}", merge::short_list(&row.conflicts, 5));
                        return Ok(row);
                    }
                    engine.forget();
                    let can_resolve = !resolved_once
                        && matches!(self.policy, OnConflict::Agent | OnConflict::Retry);
                    if can_resolve {
                        resolved_once = true;
                        self.flush(t, rows)?;
                        let done = match self.policy {
                            OnConflict::Agent => steps::resolve_with_agent(
                                self.ctx,
                                ws,
                                it,
                                &t.branch,
                                t.tip,
                                &row.conflicts,
                            )?,
                            _ => steps::rerun(self.ctx, ws, it, t.tip, self.global)?,
                        };
                        match done {
                            Resolution::Again => continue,
                            Resolution::Empty => {
                                row.result = "empty";
                                row.detail = "re-run from the new base changed nothing".into();
                                row.conflicts.clear();
                                return Ok(row);
                            }
                            Resolution::Failed(why) => {
                                row.result = "failed";
                                row.detail = why;
                                return Ok(row);
                            }
                            Resolution::Conflicted(why) => row.detail = why,
                        }
                    }
                    row.result = "conflicted";
                    if row.detail.is_empty() {
                        row.detail =
                            format!("conflicts in {}", merge::short_list(&row.conflicts, 5));
                    }
                    let (conflicts, detail) = (row.conflicts.clone(), row.detail.clone());
                    ws.store.update(&rec.id, |r| {
                        r.state = State::Conflicted;
                        r.conflicts = conflicts;
                        r.detail = Some(detail);
                    })?;
                    return Ok(row);
                }
            };
            row.detail = note.unwrap_or_default();

            // Untracked files in the base checkout that this task would overwrite.
            if let Some(c) = merge::checkout_of(&ws.repo, &t.branch)? {
                let added = engine.added_paths(t.tip, tip)?;
                let blocking = merge::untracked_in_the_way(&c, &added)?;
                if !blocking.is_empty() {
                    engine.forget();
                    row.result = "blocked";
                    row.detail = format!(
                        "untracked files in {} would be overwritten: {}",
                        c.dir.display(),
                        merge::short_list(&blocking, 5)
                    );
                    return Ok(row);
                }
            }

            if dry {
                row.result = "would-merge";
                row.commit = None;
                t.tip = tip; // kept in memory only: the next task merges onto it
                return Ok(row);
            }
            engine.keep()?;
            if let Some(check) = &it.check {
                self.flush(t, rows)?;
                match steps::check(self.ctx, ws, it, check, tip, &t.branch)? {
                    CheckResult::Passed => row.check = Some("passed".into()),
                    CheckResult::Failed(why) => {
                        row.result = "check-failed";
                        row.check = Some("failed".into());
                        row.detail = why.clone();
                        ws.store.update(&rec.id, |r| {
                            r.merge_check = Some("failed".into());
                            r.detail = Some(format!("merge check: {why}"));
                        })?;
                        return Ok(row);
                    }
                    CheckResult::Interrupted => {
                        row.result = "interrupted";
                        return Ok(row);
                    }
                }
            }
            row.result = "merged";
            row.commit = Some(tip);
            t.tip = tip;
            t.pending.push(row_index);
            self.landing.borrow_mut().insert(row_index);
            rows[row_index] = Some(row.clone());
            return Ok(row);
        }
    }

    /// Move the base branch over every pending task (a fast-forward from what it holds),
    /// then mark them merged. If it cannot move, none of them landed, and the queue ends.
    fn flush(&self, t: &mut Target, rows: &mut [Option<Row>]) -> Result<()> {
        if t.pending.is_empty() || self.args.dry_run {
            return Ok(());
        }
        let pending = std::mem::take(&mut t.pending);
        // One step per task, so the reflog names each.
        let steps: Vec<(ObjectId, String)> = pending
            .iter()
            .filter_map(|&i| {
                let commit = rows[i].as_ref()?.commit?;
                Some((commit, format!("git agents merge: {}", self.ids[i])))
            })
            .collect();
        let moved = (|| -> Result<()> {
            if t.tip == t.landed {
                return Ok(());
            }
            let checkout: Option<Checkout> = merge::checkout_of(&self.ws.repo, &t.branch)?;
            if let Some(c) = &checkout
                && let Some(why) = merge::checkout_busy(c)?
            {
                return Err(Error::refused(format!(
                    "cannot update {}: {} is checked out there and {why}",
                    c.dir.display(),
                    t.branch
                ))
                .into());
            }
            crate::fault::point("merge:before-advance");
            merge::advance(
                &self.ws.repo,
                &t.branch,
                checkout.as_ref(),
                t.landed,
                &steps,
            )
        })();
        if let Err(e) = moved {
            let detail = row_of("error", &e).detail;
            for &i in &pending {
                if let Some(r) = rows[i].as_mut() {
                    r.result = "error";
                    r.detail = format!("not landed: {detail}");
                    r.commit = None;
                }
            }
            t.tip = t.landed;
            self.settled(&pending, rows);
            return Err(e);
        }
        t.landed = t.tip;
        crate::fault::point("merge:advanced");
        let now = crate::time::now();
        for &i in &pending {
            let Some(row) = rows[i].as_mut() else {
                continue;
            };
            let id = &self.ids[i];
            let commit = row.commit.map(|c| c.to_string());
            let check = row.check.clone();
            let rec = self.ws.store.update(id, |r| {
                r.state = State::Merged;
                r.merged_at = Some(now);
                r.merged_commit = commit.clone();
                r.merged_into = Some(t.branch.clone());
                r.conflicts.clear();
                r.merge_check = check.clone();
                r.detail = None;
            })?;
            if self.args.prune {
                match steps::prune(self.ws, &rec) {
                    Ok(()) => row.detail = join(&row.detail, "pruned"),
                    Err(e) => row.detail = join(&row.detail, &format!("not pruned: {e:#}")),
                }
            }
        }
        self.settled(&pending, rows);
        Ok(())
    }

    /// These rows' target moved (or failed to): their results are final; say them.
    fn settled(&self, pending: &[usize], rows: &[Option<Row>]) {
        {
            let mut landing = self.landing.borrow_mut();
            for i in pending {
                landing.remove(i);
            }
        }
        self.show_ready(rows);
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}
