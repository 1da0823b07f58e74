//! Where a merge's events go: status lines on stderr (the merge's live view) and the
//! run's event log.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use super::{MergeArgs, speculative};
use crate::cli::Ctx;
use crate::cmd::Workspace;
use crate::engine::events::{self, Emitter, Event, Kind, Phase, Sink};
use crate::engine::queue::{Item, OnConflict};
use crate::task::MergeResult;
use crate::ui::Ui;

/// Where this run's events go: the status lines, and (unless nothing may change) the
/// run's event log.
pub fn emitter(
    ctx: &Ctx,
    ws: &Workspace,
    args: &MergeArgs,
    items: &[Item],
    targets: &[String],
) -> Emitter {
    let lines = Lines {
        ui: ctx.ui.clone(),
        pr: args.pr,
        speculative: speculative(ws, args) > 1 || args.batch.is_some_and(|b| b > 1),
        tasks: items
            .iter()
            .map(|it| {
                let t = LineTask {
                    into: targets[it.target].clone(),
                    branch: it.rec.branch.clone(),
                    check: it.check.clone().unwrap_or_default(),
                    retry: args.on_conflict == Some(OnConflict::Retry),
                };
                (it.rec.id.clone(), t)
            })
            .collect(),
    };
    let batch = events::batch_id();
    let mut emitter = Emitter::new(batch.clone()).with(lines);
    if !args.dry_run {
        emitter = emitter.with(LazyLog {
            state_dir: ws.store.dir.clone(),
            batch,
            log: Mutex::new(None),
        });
    }
    emitter
}

/// The run's event log, made with its first event: a run refused before it starts (a
/// missing identity, a branch gone) leaves none behind.
struct LazyLog {
    state_dir: PathBuf,
    batch: String,
    log: Mutex<Option<events::Log>>,
}

impl Sink for LazyLog {
    fn emit(&self, event: &Event) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.is_none() {
            // A log that cannot be made must not stop the merge, as one that cannot be
            // written does not.
            *log = events::Log::create(&self.state_dir, &self.batch).ok();
        }
        if let Some(l) = log.as_ref() {
            l.emit(event);
        }
    }
}

/// What the status lines say about a task besides its events.
struct LineTask {
    into: String,
    branch: String,
    check: String,
    retry: bool,
}

/// The queue's events as status lines on stderr: a line when a slow step starts, and
/// one per task once its verdict is final, in queue order.
struct Lines {
    ui: Ui,
    pr: bool,
    /// Checks run ahead on predicted results: `queue-check` events say more than the
    /// check phase.
    speculative: bool,
    tasks: HashMap<String, LineTask>,
}

impl Sink for Lines {
    fn emit(&self, event: &Event) {
        let Some(id) = event.task.as_deref() else {
            return;
        };
        let Some(t) = self.tasks.get(id) else {
            return;
        };
        let line = match &event.kind {
            Kind::Phase {
                phase: Phase::Check,
                ..
            } if self.speculative => return,
            Kind::QueueCheck {
                result,
                ahead,
                tasks,
            } => {
                let on = &result[..result.len().min(10)];
                let mut s = if tasks.len() > 1 {
                    format!("{id}: checking {} as one batch on {on}", tasks.join(", "))
                } else {
                    format!("{id}: checking the predicted result {on}")
                };
                if !ahead.is_empty() {
                    s.push_str(&format!(" (after {})", ahead.join(", ")));
                }
                s
            }
            Kind::Requeued { result, reason } => format!(
                "{id}: re-queued: {reason}; its check on {} was dropped",
                &result[..result.len().min(10)]
            ),
            Kind::Phase {
                phase: Phase::Check,
                ..
            } => format!(
                "{id}: checking the merged result (onto {}) with `{}`",
                t.into, t.check
            ),
            Kind::Phase {
                phase: Phase::Resolving,
                ..
            } if t.retry => format!(
                "{id}: conflicts; re-running the task from the new {}",
                t.into
            ),
            Kind::Phase {
                phase: Phase::Resolving,
                ..
            } => format!(
                "{id}: conflicts; merging {} into {} and running its agent",
                t.into, t.branch
            ),
            Kind::MergeResult { result, detail, .. } if self.pr => {
                format!("{id}: {result} {detail}")
            }
            Kind::MergeResult {
                result: MergeResult::NotReached,
                ..
            } => return,
            Kind::MergeResult {
                result,
                into,
                commit,
                detail,
                ..
            } => {
                let mut s = format!("{id}: {result} ({into})");
                if let Some(c) = commit {
                    s.push(' ');
                    s.push_str(&c[..c.len().min(10)]);
                }
                if !detail.is_empty() {
                    s.push_str(&format!(": {detail}"));
                }
                s
            }
            _ => return,
        };
        self.ui.status(&line);
    }
}
