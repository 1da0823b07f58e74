//! What happens in a batch, as typed facts: the engine emits [`Event`]s and never prints.
//! Sinks turn them into the live view, the plain lines off a terminal, and the event log
//! (newline-delimited JSON under the state dir, one file per batch) that `watch`, `wait`,
//! scripts and CI read. All of them see the same stream, so they cannot disagree.
//!
//! The log is a public interface (README "The event log"): every line is one JSON object
//! with `version`, `ts`, `batch`, `task` (when the event is about one task) and `kind`
//! with the kind's own fields. New kinds and fields may be added within version 1; a
//! reader ignores kinds it does not know. A line is written with one `write` on a file
//! opened for appending, so concurrent readers see whole lines, except perhaps a torn
//! last one after a crash, which readers skip.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::task::{MergeResult, State};

/// The event log's format version (the `version` field of every line).
pub const VERSION: u32 = 1;

/// One fact about a batch, as written to the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub version: u32,
    /// RFC 3339 UTC with milliseconds.
    pub ts: String,
    /// The batch this event belongs to (see [`batch_id`]).
    pub batch: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    #[serde(flatten)]
    pub kind: Kind,
}

/// What happened. Serialised with a `kind` tag in kebab-case (`"kind": "task-ended"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Kind {
    /// A batch began: which command runs it, its tasks, the supervising process.
    BatchStarted {
        command: String,
        tasks: Vec<String>,
        pid: u32,
        detached: bool,
    },
    /// A task entered a phase of an attempt (1-based).
    Phase { phase: Phase, attempt: u32 },
    /// A line the task's process printed (agent, setup, check), without its newline.
    Output { line: String },
    /// One attempt ended; `state` is what it would leave the task in.
    AttemptEnded {
        attempt: u32,
        state: State,
        #[serde(default)]
        exit_code: Option<i32>,
        #[serde(default)]
        detail: String,
    },
    /// A task reached its final state for this batch.
    TaskEnded {
        state: State,
        #[serde(default)]
        detail: String,
    },
    /// The merge queue's verdict on one task.
    MergeResult {
        result: MergeResult,
        into: String,
        #[serde(default)]
        commit: Option<String>,
        #[serde(default)]
        check: Option<String>,
        #[serde(default)]
        detail: String,
        /// The paths that conflicted, when it conflicted (or would).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        conflicts: Vec<String>,
    },
    /// Someone asked a task to stop (`git agents stop`, Ctrl-C): `by` is that process.
    Stopped { by: u32 },
    /// The batch is over: each task's final state and the exit code the batch earned.
    BatchEnded {
        states: BTreeMap<String, State>,
        exit_code: i32,
    },
    /// What the agent is doing now, read from its structured output (see
    /// [`crate::adapter`]): the tool it runs and its target, or the first line of its
    /// latest message. Sent instead of `output` for agents whose format is known, and
    /// only when it changes.
    Activity { text: String },
    /// What the agent reported about attempt `attempt`: session, turns, tokens, cost,
    /// final message, its own error flag.
    Usage {
        attempt: u32,
        usage: crate::adapter::Usage,
    },
    /// The agent passed a budget (its task's or the batch's) and is being stopped.
    Budget {
        #[serde(default)]
        attempt: u32,
        #[serde(default)]
        detail: String,
    },
    /// Best-of-N: the task's last candidate ended and its winner was chosen (none when
    /// no candidate succeeded). `task` is the task, not a candidate.
    WinnerChosen {
        #[serde(default)]
        winner: Option<String>,
        candidates: Vec<String>,
        #[serde(default)]
        reason: String,
    },
    /// Merge queue (`--jobs`, `--batch`): a check started on a predicted result
    /// (`result`, a commit) that holds the tasks in `ahead` besides this one, not landed
    /// yet. `tasks` are the candidates its answer decides (more than one in a batch).
    QueueCheck {
        result: String,
        #[serde(default)]
        ahead: Vec<String>,
        #[serde(default)]
        tasks: Vec<String>,
    },
    /// Merge queue: the check of this task on `result` was stopped, or its answer
    /// dropped, because the prediction it ran on changed (`reason`); it is checked again
    /// on the new one.
    Requeued { result: String, reason: String },
    /// A kind this reader does not know (written by a newer git-agents).
    #[serde(other)]
    Unknown,
}

/// The steps of an attempt and of a merge, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Removing the worktree of an earlier attempt before a new one.
    Replacing,
    /// Waiting for a `GIT_AGENTS_PORT` to come free.
    WaitingForPort,
    Worktree,
    Copy,
    Setup,
    Agent,
    Commit,
    Check,
    /// Merge queue: computing the merge in memory.
    Merging,
    /// Merge queue: the task's agent resolves conflicts.
    Resolving,
    /// Waiting for the tasks it depends on (`depends_on`) to succeed.
    WaitingForDependencies,
    /// A phase this reader does not know.
    #[serde(other)]
    Unknown,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Replacing => "replacing the last attempt",
            Phase::WaitingForPort => "waiting for a free port",
            Phase::Worktree => "worktree",
            Phase::Copy => "copy",
            Phase::Setup => "setup",
            Phase::Agent => "agent",
            Phase::Commit => "commit",
            Phase::Check => "check",
            Phase::Merging => "merging",
            Phase::Resolving => "resolving conflicts",
            Phase::WaitingForDependencies => "waiting for dependencies",
            Phase::Unknown => "…",
        }
    }
}

/// Where events go. Sinks must be cheap: the engine calls them from its task threads.
pub trait Sink: Send + Sync {
    fn emit(&self, event: &Event);
}

/// Stamps events with the batch id, the time and the version, and hands each to every
/// sink in order.
pub struct Emitter {
    batch: String,
    sinks: Vec<Box<dyn Sink + 'static>>,
}

impl Emitter {
    pub fn new(batch: String) -> Emitter {
        Emitter {
            batch,
            sinks: Vec::new(),
        }
    }

    pub fn with(mut self, sink: impl Sink + 'static) -> Emitter {
        self.sinks.push(Box::new(sink));
        self
    }

    pub fn batch(&self) -> &str {
        &self.batch
    }

    /// An event about one task.
    pub fn task(&self, id: &str, kind: Kind) {
        self.send(Some(id), kind);
    }

    /// An event about the whole batch.
    pub fn all(&self, kind: Kind) {
        self.send(None, kind);
    }

    fn send(&self, task: Option<&str>, kind: Kind) {
        let event = Event {
            version: VERSION,
            ts: crate::time::rfc3339_millis(crate::time::now()),
            batch: self.batch.clone(),
            task: task.map(str::to_string),
            kind,
        };
        for s in &self.sinks {
            s.emit(&event);
        }
    }
}

/// A new batch's id: UTC time to the second and our pid, so ids sort by start time and
/// two batches started in the same second differ.
pub fn batch_id() -> String {
    let secs = crate::time::now() / 1000;
    let stamp = crate::time::rfc3339(secs * 1000)
        .replace(['-', ':'], "")
        .trim_end_matches('Z')
        .to_string();
    format!("{stamp}Z-{}", std::process::id())
}

/// `<state dir>/events`: one `<batch>.ndjson` per batch.
pub fn log_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("events")
}

/// The NDJSON event log of one batch, appended as things happen.
pub struct Log {
    path: PathBuf,
    file: Mutex<File>,
}

impl Log {
    /// Create (or append to) the log of `batch`, private like everything in the state dir.
    pub fn create(state_dir: &Path, batch: &str) -> Result<Log> {
        let dir = log_dir(state_dir);
        crate::store::private_dir(&dir)?;
        let path = dir.join(format!("{batch}.ndjson"));
        let file = crate::store::private_file(&path, false)?;
        Ok(Log {
            path,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Sink for Log {
    fn emit(&self, event: &Event) {
        let Ok(mut line) = serde_json::to_vec(event) else {
            return;
        };
        line.push(b'\n');
        // One write per line on an O_APPEND file: readers never see two lines interleaved.
        // A log that cannot be written (disk full) must not stop the batch.
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(&line);
        }
    }
}

/// What reading a log found: the events, and how many lines were skipped because they
/// were not events (garbage, or a line torn by a crash).
#[derive(Debug, Default)]
pub struct Found {
    pub events: Vec<Event>,
    pub skipped: usize,
}

/// Read a whole log. A missing file reads as empty; an unfinished last line (no newline
/// yet) is left out, as it may still be being written.
pub fn read(path: &Path) -> Result<Found> {
    let mut tail = Tail::new(path.to_path_buf());
    tail.poll()
}

/// Follows a log as it grows: each [`Tail::poll`] returns the whole lines added since
/// the last one.
pub struct Tail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl Tail {
    pub fn new(path: PathBuf) -> Tail {
        Tail {
            path,
            offset: 0,
            partial: Vec::new(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn poll(&mut self) -> Result<Found> {
        let mut out = Found::default();
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated under us: start again from the top.
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|b| *b == b'\n') else {
            return Ok(out);
        };
        let whole: Vec<u8> = self.partial.drain(..=end).collect();
        for line in whole.split(|b| *b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<Event>(line) {
                Ok(e) => out.events.push(e),
                Err(_) => out.skipped += 1,
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Collect(Arc<Mutex<Vec<Event>>>);
    impl Sink for Collect {
        fn emit(&self, e: &Event) {
            self.0.lock().unwrap().push(e.clone());
        }
    }

    #[test]
    fn events_round_trip_through_the_log() {
        let tmp = tempfile::tempdir().unwrap();
        let log = Log::create(tmp.path(), "b1").unwrap();
        let path = log.path().to_path_buf();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let em = Emitter::new("b1".into())
            .with(log)
            .with(Collect(seen.clone()));
        em.all(Kind::BatchStarted {
            command: "spawn".into(),
            tasks: vec!["a".into()],
            pid: 7,
            detached: false,
        });
        em.task(
            "a",
            Kind::Phase {
                phase: Phase::Agent,
                attempt: 1,
            },
        );
        em.task(
            "a",
            Kind::Output {
                line: "hello \u{1b}[2K".into(),
            },
        );
        em.task(
            "a",
            Kind::TaskEnded {
                state: State::Succeeded,
                detail: String::new(),
            },
        );
        let got = read(&path).unwrap();
        assert_eq!(got.skipped, 0);
        assert_eq!(got.events, *seen.lock().unwrap());
        assert_eq!(got.events.len(), 4);
        let text = std::fs::read_to_string(&path).unwrap();
        let first: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(first["kind"], "phase");
        assert_eq!(first["phase"], "agent");
        assert_eq!(first["task"], "a");
        assert_eq!(first["version"], 1);
    }

    #[test]
    fn torn_garbage_and_unknown_lines_never_stop_a_reader() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.ndjson");
        let good =
            r#"{"version":1,"ts":"t","batch":"b","task":"a","kind":"task-ended","state":"failed"}"#;
        let future = r#"{"version":1,"ts":"t","batch":"b","kind":"from-the-future","spent":3}"#;
        std::fs::write(
            &path,
            format!("{good}\nnot json\n{future}\n\n{{\"version\":1,\"ts\":\"t\",\"ba"),
        )
        .unwrap();
        let mut tail = Tail::new(path.clone());
        let r = tail.poll().unwrap();
        assert_eq!(r.skipped, 1);
        assert_eq!(r.events.len(), 2);
        assert_eq!(r.events[1].kind, Kind::Unknown);
        // The torn line completes later: the tail picks it up whole.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"tch\":\"b\",\"kind\":\"stopped\",\"by\":9}\n")
            .unwrap();
        let r = tail.poll().unwrap();
        assert_eq!(r.skipped, 0);
        assert_eq!(r.events[0].kind, Kind::Stopped { by: 9 });
        assert!(tail.poll().unwrap().events.is_empty());
    }

    #[test]
    fn batch_ids_name_the_time_and_the_process() {
        let id = batch_id();
        assert!(id.ends_with(&format!("Z-{}", std::process::id())), "{id}");
        assert!(!id.contains(':'), "{id}");
    }
}
