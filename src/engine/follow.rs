//! Following running tasks from any process (`git agents watch`): which tasks run comes
//! from the store, what happens to them from their batches' event logs.
//!
//! A task is followed in the log of the batch its live supervisor runs (the log whose
//! `batch-started` names the task and the record's owner pid); a batch's other tasks are
//! shown with it, as the foreground view shows them. The logs are read from their start,
//! then as they grow ([`Tail`]: whole lines only, a torn or garbage line skipped and
//! reported). A task is over at its `task-ended` event, or when its record says it ended
//! and the log has had a moment to say so too (a supervisor killed with `kill -9`
//! writes nothing more). Following ends when every task is over and each batch has said
//! `batch-ended` (or its supervisor is gone). Following never changes anything.

use anyhow::Result;
use std::collections::HashMap;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::events::{self, Event, Kind, Tail};
use crate::error::Error;
use crate::store::{Proc, Record, Store};
use crate::task::{State, TaskId};

/// How often a watcher looks at the logs: often enough to feel live, rare enough to
/// cost nothing while agents think.
pub const POLL: Duration = Duration::from_millis(150);
/// How often records are read (they change far less often than logs grow).
const RECORDS_EVERY: Duration = Duration::from_secs(1);
/// How long a task whose record ended may go without its `task-ended` event (and a
/// batch without `batch-ended`) while its supervisor still runs.
const LOG_GRACE: Duration = Duration::from_secs(3);

/// What there is to follow.
pub enum Start<'a> {
    /// Nothing runs (or none of the named tasks): why, one line per task named.
    Nothing(Vec<String>),
    Follow(Box<Follower<'a>>),
}

/// What happened since the last [`Follower::poll`].
#[derive(Debug, Default)]
pub struct Update {
    /// New events of the followed tasks and their batches, in log order.
    pub events: Vec<Event>,
    /// Tasks found over by their record with no `task-ended` in a log: id, state, detail.
    pub ended: Vec<(String, State, String)>,
    /// Problems with the logs (unreadable, lines that are not events); shown once each.
    pub warnings: Vec<String>,
    /// Everything followed is over.
    pub done: bool,
}

struct Task {
    /// The log this task is followed in (an index into `logs`).
    log: Option<usize>,
    state: State,
    owner: Option<Proc>,
    /// When its record was first seen ended without a `task-ended` event.
    ended_unsaid: Option<Instant>,
    done: bool,
}

struct Log {
    name: String,
    tail: Tail,
    pid: u32,
    ended: bool,
    read_error: bool,
}

pub struct Follower<'a> {
    store: &'a Store,
    order: Vec<String>,
    tasks: HashMap<String, Task>,
    logs: Vec<Log>,
    next_records: Instant,
    all_done_at: Option<Instant>,
    /// Named tasks that do not run.
    notes: Vec<String>,
    /// Found while starting (no log for a task), for the first poll to report.
    warnings: Vec<String>,
}

impl Task {
    fn of(log: Option<usize>, r: &Record) -> Task {
        Task {
            log,
            state: r.state,
            owner: r.owner,
            ended_unsaid: None,
            done: false,
        }
    }
}

/// Find what runs: the named tasks (an unknown or invalid id is a usage error), or every
/// running task when none is named.
pub fn start<'a>(store: &'a Store, ids: &[String]) -> Result<Start<'a>> {
    let mut records: Vec<Record> = Vec::new();
    let mut not_running = Vec::new();
    if ids.is_empty() {
        for r in store.all()? {
            if !r.pruned && live(&r) {
                records.push(r);
            }
        }
        if records.is_empty() {
            return Ok(Start::Nothing(vec!["nothing is running".into()]));
        }
    } else {
        for raw in ids {
            let id = TaskId::parse(raw).map_err(Error::usage)?;
            let Some(r) = store.load(id.as_str())? else {
                return Err(Error::usage(format!(
                    "no task {:?} has been spawned in this repository",
                    id.as_str()
                ))
                .with_hint("see the tasks with: git agents list")
                .into());
            };
            if records.iter().any(|x| x.id == r.id) {
                continue;
            }
            if live(&r) {
                records.push(r);
            } else {
                not_running.push(format!(
                    "task {} is not running ({})",
                    r.id,
                    r.process_state()
                ));
            }
        }
        if records.is_empty() {
            return Ok(Start::Nothing(not_running));
        }
    }
    let named = !ids.is_empty();
    let dir = events::log_dir(&store.dir);
    let (found, unreadable) = batch_logs(&dir);
    // Every record, for the rest of each batch (unnamed, a batch is shown whole).
    let all = if named { Vec::new() } else { store.all()? };
    let mut logs: Vec<Log> = Vec::new();
    let mut tasks: HashMap<String, Task> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    for r in &records {
        // The batch the record names: its log is followed even before its first line
        // is written. A record that names none (written before records did) is matched
        // to the newest log whose batch its supervisor runs and that names it.
        let owner = r.owner.map(|p| p.pid).unwrap_or(0);
        let batch: Option<(String, PathBuf, Vec<String>)> = match &r.batch {
            Some(b) => {
                let started = found.iter().find(|f| &f.name == b);
                let mut members: Vec<String> = match started {
                    Some(f) => f.tasks.clone(),
                    None => Vec::new(),
                };
                for other in all.iter().filter(|o| o.batch.as_ref() == Some(b)) {
                    if !members.contains(&other.id) {
                        members.push(other.id.clone());
                    }
                }
                Some((b.clone(), dir.join(format!("{b}.ndjson")), members))
            }
            None => found
                .iter()
                .rev()
                .find(|f| f.pid == owner && f.tasks.contains(&r.id))
                .map(|f| (f.name.clone(), f.path.clone(), f.tasks.clone())),
        };
        let Some((name, path, members)) = batch else {
            let unread = if unreadable > 0 {
                format!(" ({unreadable} could not be read)")
            } else {
                String::new()
            };
            warnings.push(format!(
                "no event log tells of task {}{unread}: following its record only",
                r.id
            ));
            tasks.insert(r.id.clone(), Task::of(None, r));
            continue;
        };
        let index = match logs.iter().position(|l| l.name == name) {
            Some(i) => i,
            None => {
                logs.push(Log {
                    name,
                    tail: Tail::new(path),
                    pid: owner,
                    ended: false,
                    read_error: false,
                });
                logs.len() - 1
            }
        };
        tasks.insert(r.id.clone(), Task::of(Some(index), r));
        let members = if named { vec![r.id.clone()] } else { members };
        for id in members {
            if !tasks.contains_key(&id) {
                let rec = all.iter().find(|o| o.id == id);
                tasks.insert(
                    id.clone(),
                    Task {
                        log: Some(index),
                        state: rec.map_or(State::Pending, |r| r.state),
                        owner: rec.and_then(|r| r.owner),
                        ended_unsaid: None,
                        done: false,
                    },
                );
            }
            if !order.contains(&id) {
                order.push(id);
            }
        }
    }
    let mut rest: Vec<String> = tasks
        .keys()
        .filter(|id| !order.contains(id))
        .cloned()
        .collect();
    rest.sort();
    order.extend(rest);
    Ok(Start::Follow(Box::new(Follower {
        store,
        order,
        tasks,
        logs,
        next_records: Instant::now(),
        all_done_at: None,
        notes: not_running,
        warnings,
    })))
}

/// A task whose supervisor is alive and has not ended it.
fn live(r: &Record) -> bool {
    matches!(r.process_state(), State::Pending | State::Running)
}

impl Follower<'_> {
    /// The followed tasks in the order to show them, each with its state when
    /// following began.
    pub fn tasks(&self) -> Vec<(String, State)> {
        self.order
            .iter()
            .map(|id| (id.clone(), self.tasks[id].state))
            .collect()
    }

    /// Named tasks that do not run.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Read what the logs gained and, now and then, the records.
    pub fn poll(&mut self) -> Update {
        let mut up = Update {
            warnings: std::mem::take(&mut self.warnings),
            ..Update::default()
        };
        for (i, log) in self.logs.iter_mut().enumerate() {
            let found = match log.tail.poll() {
                Ok(f) => f,
                Err(e) => {
                    if !log.read_error {
                        up.warnings.push(format!(
                            "cannot read the event log {}: {e:#}",
                            log.tail.path().display()
                        ));
                    }
                    log.read_error = true;
                    continue;
                }
            };
            if found.skipped > 0 {
                up.warnings.push(format!(
                    "{} line{} of the event log {} {} not events: skipped",
                    found.skipped,
                    crate::engine::cleanup::plural(found.skipped),
                    log.tail.path().display(),
                    if found.skipped == 1 { "is" } else { "are" }
                ));
            }
            for e in found.events {
                if e.kind == Kind::Unknown {
                    continue;
                }
                match &e.task {
                    Some(id) => {
                        let Some(t) = self.tasks.get_mut(id) else {
                            continue;
                        };
                        if t.log != Some(i) {
                            continue;
                        }
                        if let Kind::TaskEnded { state, .. } = &e.kind {
                            t.state = *state;
                            t.done = true;
                        }
                    }
                    None => {
                        if matches!(e.kind, Kind::BatchEnded { .. }) {
                            log.ended = true;
                        }
                    }
                }
                up.events.push(e);
            }
        }
        let now = Instant::now();
        if now >= self.next_records {
            self.next_records = now + RECORDS_EVERY;
            self.read_records(now, &mut up);
        }
        let tasks_done = self.tasks.values().all(|t| t.done);
        if tasks_done {
            let since = *self.all_done_at.get_or_insert(now);
            let logs_done = self.logs.iter().all(|l| {
                l.ended
                    || l.read_error
                    || !self.supervisor_alive(l.pid)
                    || since.elapsed() >= LOG_GRACE
            });
            up.done = logs_done;
        }
        up
    }

    fn read_records(&mut self, now: Instant, up: &mut Update) {
        let store = self.store;
        for id in &self.order {
            let t = self.tasks.get_mut(id).expect("every ordered task is known");
            if t.done {
                continue;
            }
            let rec = match store.load(id) {
                Ok(r) => r,
                Err(_) => continue,
            };
            let Some(rec) = rec else {
                // Its claim was withdrawn before it started (Ctrl-C during the batch).
                t.done = true;
                up.ended
                    .push((id.clone(), State::Pending, "not started".into()));
                continue;
            };
            t.owner = rec.owner;
            if live(&rec) {
                t.ended_unsaid = None;
                continue;
            }
            let since = *t.ended_unsaid.get_or_insert(now);
            let supervisor_gone = !rec.owner_alive();
            if t.log.is_none() || supervisor_gone || since.elapsed() >= LOG_GRACE {
                t.done = true;
                let state = rec.process_state();
                t.state = state;
                up.ended
                    .push((id.clone(), state, rec.detail.clone().unwrap_or_default()));
            }
        }
    }

    /// Whether the process that runs a batch is alive, judged by the identity (pid and
    /// start time) its tasks' records hold.
    fn supervisor_alive(&self, pid: u32) -> bool {
        self.tasks
            .values()
            .filter_map(|t| t.owner)
            .find(|p| p.pid == pid)
            .is_some_and(|p| p.is_alive())
    }
}

/// A batch log as found in the events dir: its `batch-started` facts.
struct Found {
    name: String,
    path: PathBuf,
    pid: u32,
    tasks: Vec<String>,
}

/// Every batch log whose first line is a `batch-started` event, oldest first (batch
/// ids sort by start time), and how many could not be read that way.
fn batch_logs(dir: &Path) -> (Vec<Found>, usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), 0);
    };
    let mut out = Vec::new();
    let mut unreadable = 0;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .collect();
    paths.sort();
    for path in paths {
        match first_event(&path) {
            Some(Event {
                kind: Kind::BatchStarted { tasks, pid, .. },
                batch,
                ..
            }) => out.push(Found {
                name: batch,
                path,
                pid,
                tasks,
            }),
            _ => unreadable += 1,
        }
    }
    (out, unreadable)
}

/// The first line of a log as an event; a log is never read whole to find it.
fn first_event(path: &Path) -> Option<Event> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).ok()?;
    let mut line = Vec::new();
    std::io::BufReader::new(file.take(1 << 20))
        .read_until(b'\n', &mut line)
        .ok()?;
    if line.last() != Some(&b'\n') {
        return None;
    }
    serde_json::from_slice(&line).ok()
}
