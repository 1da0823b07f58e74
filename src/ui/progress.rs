//! Live progress of a batch: spinners and an overall bar on a terminal, plain one-line
//! events otherwise; one sink of the engine's events.

use super::{Ui, escape_control, paint, state_color};
use crate::task::State;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Live progress of a batch: one line per running task plus an overall bar on a
/// terminal, plain one-line events (one per phase change) otherwise. Clones share one
/// display: one goes to the engine as a sink, another finishes it.
#[derive(Clone)]
pub struct Progress {
    bars: Option<Bars>,
    /// Width of the longest id, so the live lines line up.
    width: usize,
    quiet: bool,
    started: Instant,
    lines: Arc<Mutex<HashMap<String, (String, String)>>>,
}

#[derive(Clone)]
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    tasks: Arc<Mutex<HashMap<String, ProgressBar>>>,
}

impl Progress {
    pub fn new(ui: &Ui, ids: &[String]) -> Progress {
        let total = ids.len();
        let width = ids.iter().map(|i| i.len()).max().unwrap_or(0);
        let live =
            ui.stderr_tty && !ui.quiet && std::env::var_os("GIT_AGENTS_NO_PROGRESS").is_none();
        let bars = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let overall = multi.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} tasks done  {elapsed}",
                )
                .expect("static template"),
            );
            overall.enable_steady_tick(Duration::from_millis(200));
            Bars {
                multi,
                overall,
                tasks: Arc::new(Mutex::new(HashMap::new())),
            }
        });
        Progress {
            bars,
            width,
            quiet: ui.quiet,
            started: Instant::now(),
            lines: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn bar(&self, id: &str) -> Option<ProgressBar> {
        let bars = self.bars.as_ref()?;
        let mut tasks = bars.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let bar = tasks.entry(id.to_string()).or_insert_with(|| {
            let bar = bars
                .multi
                .insert_before(&bars.overall, ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {elapsed:>4} {msg}")
                    .expect("static template"),
            );
            bar.set_prefix(format!("{id:<w$}", w = self.width));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Some(bar.clone())
    }

    fn redraw(&self, id: &str, phase: Option<&str>, output: Option<&str>) -> Option<String> {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let entry = lines.entry(id.to_string()).or_default();
        if let Some(p) = phase {
            entry.0 = p.to_string();
            entry.1.clear();
        }
        if let Some(o) = output {
            let o: String = o
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect();
            if o.is_empty() {
                return None;
            }
            entry.1 = o;
        }
        Some(if entry.1.is_empty() {
            entry.0.clone()
        } else {
            format!("{:<8} {}", entry.0, entry.1)
        })
    }

    /// A task entered a new phase (worktree, setup, agent, commit, check, ...).
    pub fn phase(&self, id: &str, phase: &str) {
        if let Some(bar) = self.bar(id) {
            if let Some(msg) = self.redraw(id, Some(phase), None) {
                bar.set_message(msg);
            }
        } else if !self.quiet {
            eprintln!(
                "[{}] {id}: {phase}",
                crate::time::short(self.started.elapsed())
            );
        }
    }

    /// The agent printed a line; shown as the task's last line on a terminal only.
    pub fn output(&self, id: &str, line: &str) {
        if self.bars.is_some()
            && let (Some(bar), Some(msg)) = (self.bar(id), self.redraw(id, None, Some(line)))
        {
            bar.set_message(msg);
        }
    }

    /// A task reached its final state.
    pub fn done(&self, id: &str, state: State, detail: &str) {
        let text = if detail.is_empty() {
            state.as_str().to_string()
        } else {
            format!("{state} ({})", escape_control(detail))
        };
        if let Some(bars) = &self.bars {
            if let Some(bar) = self.bar(id) {
                bar.set_style(
                    ProgressStyle::with_template("  {prefix:.bold} {msg}")
                        .expect("static template"),
                );
                bar.finish_with_message(paint(true, state_color(state), &text));
            }
            bars.overall.inc(1);
        } else if !self.quiet {
            eprintln!(
                "[{}] {id}: {text}",
                crate::time::short(self.started.elapsed())
            );
        }
    }

    /// A line about a task that is not one of the batch's rows (a best-of-N task's
    /// winner): above the live lines on a terminal, a plain line otherwise.
    pub fn note(&self, id: &str, text: &str) {
        let line = format!("{id}: {}", escape_control(text));
        if let Some(bars) = &self.bars {
            let _ = bars.multi.println(line);
        } else if !self.quiet {
            eprintln!("[{}] {line}", crate::time::short(self.started.elapsed()));
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            b.overall.finish();
            let _ = b.multi.clear();
        }
    }
}

/// The live view and the plain lines are one sink of the engine's events: phases, the
/// last output line and each task's end (attempt ends and batch events show nothing).
impl crate::engine::events::Sink for Progress {
    fn emit(&self, event: &crate::engine::events::Event) {
        use crate::engine::events::{Kind, Phase};
        let Some(id) = event.task.as_deref() else {
            return;
        };
        match &event.kind {
            Kind::Phase { phase, attempt } => {
                let text = match phase {
                    Phase::Worktree if *attempt > 1 => format!("worktree (attempt {attempt})"),
                    p => p.as_str().to_string(),
                };
                self.phase(id, &text);
            }
            Kind::Output { line } => self.output(id, line),
            Kind::Activity { text } => self.output(id, text),
            Kind::TaskEnded { state, detail } => self.done(id, *state, detail),
            Kind::WinnerChosen { winner, reason, .. } => {
                let text = match winner {
                    Some(w) => format!("winner {w} ({reason})"),
                    None => format!("no winner ({reason})"),
                };
                self.note(id, &text);
            }
            // The merge queue's speculation: which result a task is checked on, and why
            // a check was dropped.
            Kind::QueueCheck { result, tasks, .. } => self.phase(
                id,
                &format!(
                    "check on {}{}",
                    &result[..result.len().min(10)],
                    if tasks.len() > 1 {
                        format!(" (batch of {})", tasks.len())
                    } else {
                        String::new()
                    }
                ),
            ),
            Kind::Requeued { reason, .. } => self.phase(id, &format!("re-queued: {reason}")),
            _ => {}
        }
    }
}
