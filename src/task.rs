//! Task identifiers, task states, attempt outcomes, and the transitions of a task's
//! record.
//!
//! An ID names a worktree directory and a branch, so it is restricted to
//! `^[a-z0-9][a-z0-9._-]{0,63}$`, never `.`/`..`: it can never escape the worktree dir,
//! never holds a path separator, and is always a valid ref name component.

use serde::{Deserialize, Serialize};
use std::fmt;

pub const ID_RULE: &str =
    "an id is 1-64 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit";

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TaskId(String);

/// Debug-prints as the quoted id, so `{id:?}` in messages reads `"fix-login"`.
impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl TaskId {
    pub fn parse(text: &str) -> Result<TaskId, String> {
        let bytes = text.as_bytes();
        let ok_first = bytes
            .first()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let ok_rest = bytes.iter().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
        // Names git refuses as ref components are refused too, so the branch can exist.
        let ref_safe = !text.contains("..") && !text.ends_with(".lock") && !text.ends_with('.');
        if !ok_first || !ok_rest || bytes.len() > MAX_ID_LEN || !ref_safe {
            return Err(format!("invalid task id {text:?}: {ID_RULE}"));
        }
        Ok(TaskId(text.to_string()))
    }

    /// Derive an id from a free-text prompt (README "A first spawn" states the rule):
    /// the words of its first sentence, lowercased and joined by `-`, dropping whole
    /// words from the end only when the id would pass [`MAX_ID_LEN`]. `taken` says which
    /// ids exist already; `-2`, `-3`, … then makes it unique, still within the limit.
    pub fn slug(prompt: &str, taken: impl Fn(&str) -> bool) -> TaskId {
        let words = title_words(prompt);
        let mut n = 1;
        loop {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!("-{n}")
            };
            let mut id = fit_words(&words, MAX_ID_LEN - suffix.len());
            if id.is_empty() {
                id = "task".into();
            }
            id.push_str(&suffix);
            if !taken(&id) {
                return TaskId(id);
            }
            n += 1;
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest id [`TaskId::parse`] accepts.
pub const MAX_ID_LEN: usize = 64;

/// The words of a prompt's title: its first line with a letter or digit, up to the end of
/// its first sentence (`.`, `!` or `?` before a space), so a long or multi-paragraph
/// prompt is named by its opening words. Words are runs of ASCII letters and digits,
/// lowercased; anything else only separates them (`v1.2` gives `v1`, `2`).
fn title_words(prompt: &str) -> Vec<String> {
    let line = prompt
        .lines()
        .find(|l| l.chars().any(|c| c.is_ascii_alphanumeric()))
        .unwrap_or_default();
    let mut end = line.len();
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        // Only where words were seen already, so "...and more" keeps its words.
        if matches!(c, '.' | '!' | '?')
            && next_is_space
            && line[..i].chars().any(|c| c.is_ascii_alphanumeric())
        {
            end = i;
            break;
        }
    }
    line[..end]
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

/// As many whole words as fit in `max` characters joined by `-`; a first word longer
/// than that is cut, as nothing shorter would name the task.
fn fit_words(words: &[String], max: usize) -> String {
    let mut out = String::new();
    for w in words {
        let sep = usize::from(!out.is_empty());
        if out.len() + sep + w.len() > max {
            if out.is_empty() {
                out = w[..max].to_string();
            }
            break;
        }
        if sep == 1 {
            out.push('-');
        }
        out.push_str(w);
    }
    out
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TaskId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Task states (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Pending,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Interrupted,
    Empty,
    Merged,
    Conflicted,
    Orphaned,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Running => "running",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::TimedOut => "timed-out",
            State::Interrupted => "interrupted",
            State::Empty => "empty",
            State::Merged => "merged",
            State::Conflicted => "conflicted",
            State::Orphaned => "orphaned",
        }
    }

    /// Whether a task in this state counts as asked-for work that went well (exit 0).
    pub fn is_success(self) -> bool {
        matches!(self, State::Succeeded | State::Empty | State::Merged)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The merge queue's verdict on one task (the `result` of `merge --json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MergeResult {
    Merged,
    /// The base already holds the task's work.
    UpToDate,
    /// The task's branch adds nothing.
    Empty,
    WouldMerge,
    WouldConflict,
    Conflicted,
    CheckFailed,
    /// The queue stopped before this task.
    NotReached,
    Error,
    PrOpened,
    Pushed,
    WouldPush,
    /// Untracked files in the base checkout are where the merge would write.
    Blocked,
    /// Re-run from the new base (`--on-conflict retry`), the task failed.
    Failed,
    /// Stopped by a signal while the task's merged result was being checked.
    Interrupted,
}

impl MergeResult {
    pub fn as_str(self) -> &'static str {
        match self {
            MergeResult::Merged => "merged",
            MergeResult::UpToDate => "up-to-date",
            MergeResult::Empty => "empty",
            MergeResult::WouldMerge => "would-merge",
            MergeResult::WouldConflict => "would-conflict",
            MergeResult::Conflicted => "conflicted",
            MergeResult::CheckFailed => "check-failed",
            MergeResult::NotReached => "not-reached",
            MergeResult::Error => "error",
            MergeResult::PrOpened => "pr-opened",
            MergeResult::Pushed => "pushed",
            MergeResult::WouldPush => "would-push",
            MergeResult::Blocked => "blocked",
            MergeResult::Failed => "failed",
            MergeResult::Interrupted => "interrupted",
        }
    }

    /// Whether this result counts as success for the exit code (SPEC §6).
    pub fn is_success(self) -> bool {
        matches!(
            self,
            MergeResult::Merged
                | MergeResult::UpToDate
                | MergeResult::Empty
                | MergeResult::WouldMerge
                | MergeResult::PrOpened
                | MergeResult::Pushed
                | MergeResult::WouldPush
        )
    }
}

impl fmt::Display for MergeResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one attempt at a task ended: the engine's verdict, which the record keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The agent's work is on the task's branch; `checked` when a check ran and passed.
    Succeeded { checked: bool },
    /// The agent left the branch at its base.
    Empty,
    /// The task's check ran on the agent's work and exited non-zero.
    CheckFailed { exit_code: i32, detail: String },
    /// A step failed: a command exited non-zero (`exit_code`), or an error of ours.
    Failed {
        exit_code: Option<i32>,
        detail: String,
    },
    /// The task's time limit ran out.
    TimedOut { detail: String },
    /// Ctrl-C or a stop request: no retry follows.
    Interrupted { detail: String },
}

impl AttemptOutcome {
    /// The state the attempt leaves the task in.
    pub fn state(&self) -> State {
        match self {
            AttemptOutcome::Succeeded { .. } => State::Succeeded,
            AttemptOutcome::Empty => State::Empty,
            AttemptOutcome::CheckFailed { .. } | AttemptOutcome::Failed { .. } => State::Failed,
            AttemptOutcome::TimedOut { .. } => State::TimedOut,
            AttemptOutcome::Interrupted { .. } => State::Interrupted,
        }
    }

    pub fn exit_code(&self) -> Option<i32> {
        match self {
            AttemptOutcome::Succeeded { .. } | AttemptOutcome::Empty => Some(0),
            AttemptOutcome::CheckFailed { exit_code, .. } => Some(*exit_code),
            AttemptOutcome::Failed { exit_code, .. } => *exit_code,
            AttemptOutcome::TimedOut { .. } | AttemptOutcome::Interrupted { .. } => None,
        }
    }

    /// Why it did not succeed (none when it did).
    pub fn detail(&self) -> Option<&str> {
        match self {
            AttemptOutcome::Succeeded { .. } | AttemptOutcome::Empty => None,
            AttemptOutcome::CheckFailed { detail, .. }
            | AttemptOutcome::Failed { detail, .. }
            | AttemptOutcome::TimedOut { detail }
            | AttemptOutcome::Interrupted { detail } => Some(detail),
        }
    }

    /// What this attempt says about the task's check: `passed`, `failed`, or nothing
    /// (no check ran to its end).
    pub fn check(&self) -> Option<&'static str> {
        match self {
            AttemptOutcome::Succeeded { checked: true } => Some("passed"),
            AttemptOutcome::CheckFailed { .. } => Some("failed"),
            _ => None,
        }
    }

    pub fn is_success(&self) -> bool {
        self.state().is_success()
    }

    /// Whether another attempt may follow (retries left): not after success, and never
    /// after an interruption.
    pub fn may_retry(&self) -> bool {
        !self.is_success() && !matches!(self, AttemptOutcome::Interrupted { .. })
    }
}

/// A record's transitions, the only places the engine changes a task's state.
impl crate::store::Record {
    /// Attempt `n` begins: the task runs, driven by this process, with `port`.
    pub fn start_attempt(&mut self, n: u32, port: u16, now: u64) {
        self.state = State::Running;
        self.started_at.get_or_insert(now);
        self.finished_at = None;
        self.port = Some(port);
        self.owner = Some(crate::store::Proc::current());
        self.attempts.push(crate::store::Attempt {
            n,
            started_at: now,
            finished_at: None,
            state: State::Running,
            exit_code: None,
            head: None,
            detail: None,
        });
    }

    /// Attempt `n` ended with `outcome`, the branch at `head`. With `retry` another
    /// attempt follows at once, so the task stays running.
    pub fn end_attempt(
        &mut self,
        n: u32,
        outcome: &AttemptOutcome,
        head: Option<String>,
        now: u64,
        retry: bool,
    ) {
        let detail = outcome.detail().map(str::to_string);
        self.settle(n, outcome.state(), outcome.exit_code(), head, detail, now);
        if outcome.is_success() {
            self.check = outcome.check().map(str::to_string);
        } else if let Some(c) = outcome.check() {
            self.check = Some(c.to_string());
        }
        if retry {
            self.state = State::Running;
            self.finished_at = None;
        }
    }

    /// The task ended before any attempt could start (no port came free, say).
    pub fn end_unstarted(&mut self, state: State, detail: String, now: u64) {
        self.state = state;
        self.finished_at = Some(now);
        self.detail = Some(detail);
        self.child = None;
        self.port = None;
    }

    /// An error of ours (or a bug) ended the task: it failed, and so did the attempt
    /// that was running, if any, whose number is returned.
    pub fn crash(&mut self, detail: String, head: Option<String>, now: u64) -> Option<u32> {
        let running = self
            .attempts
            .iter()
            .rev()
            .find(|a| a.finished_at.is_none())
            .map(|a| a.n);
        self.settle(
            running.unwrap_or(0),
            State::Failed,
            None,
            head,
            Some(detail),
            now,
        );
        running
    }

    /// How a summary shows a task whose failure could not be written to disk: failed,
    /// with why, and driven by nobody.
    pub fn unrecorded_failure(&mut self, detail: String) {
        self.state = State::Failed;
        self.detail = Some(detail);
        self.owner = None;
        self.child = None;
    }

    /// The process group leader of the task's agent (or setup, or check) while one
    /// runs, so any process can tell whether it is alive; `None` once it ended.
    pub fn set_child(&mut self, child: Option<crate::store::Proc>) {
        self.child = child;
    }

    fn settle(
        &mut self,
        n: u32,
        state: State,
        exit_code: Option<i32>,
        head: Option<String>,
        detail: Option<String>,
        now: u64,
    ) {
        self.state = state;
        self.exit_code = exit_code;
        self.head = head.clone();
        self.detail = detail.clone();
        self.finished_at = Some(now);
        self.child = None;
        self.port = None;
        if let Some(a) = self.attempts.iter_mut().find(|a| a.n == n) {
            a.state = state;
            a.exit_code = exit_code;
            a.finished_at = Some(now);
            a.head = head;
            a.detail = detail;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> crate::store::Record {
        serde_json::from_value(serde_json::json!({
            "version": 1, "id": "t", "state": "pending", "branch": "agent/t", "base": "main",
            "base_commit": "b", "worktree": "/w/t", "prompt": "p", "command": ["a"],
            "check": null, "exit_code": null, "head": null, "created_at": 1,
            "started_at": null, "finished_at": null, "owner": null, "child": null
        }))
        .unwrap()
    }

    #[test]
    fn attempts_move_a_record_through_its_states() {
        let mut r = record();
        r.start_attempt(1, 20000, 10);
        assert_eq!(
            (r.state, r.started_at, r.port),
            (State::Running, Some(10), Some(20000))
        );
        assert!(r.owner.is_some());
        let check_failed = AttemptOutcome::CheckFailed {
            exit_code: 4,
            detail: "check exited 4".into(),
        };
        assert!(check_failed.may_retry());
        r.end_attempt(1, &check_failed, Some("h1".into()), 20, true);
        // A retry follows: still running, the attempt itself over.
        assert_eq!((r.state, r.finished_at), (State::Running, None));
        assert_eq!(r.check.as_deref(), Some("failed"));
        assert_eq!(r.attempts[0].state, State::Failed);
        assert_eq!(r.attempts[0].exit_code, Some(4));
        assert_eq!(r.attempts[0].finished_at, Some(20));
        r.start_attempt(2, 20001, 30);
        assert_eq!(
            r.started_at,
            Some(10),
            "the task started with its first attempt"
        );
        r.end_attempt(
            2,
            &AttemptOutcome::Succeeded { checked: true },
            Some("h2".into()),
            40,
            false,
        );
        assert_eq!(r.state, State::Succeeded);
        assert_eq!((r.exit_code, r.check.as_deref()), (Some(0), Some("passed")));
        assert_eq!(
            (r.finished_at, r.port, r.detail.as_deref()),
            (Some(40), None, None)
        );
        assert_eq!(r.head.as_deref(), Some("h2"));
        assert_eq!(r.attempts.len(), 2);
        assert!(!AttemptOutcome::Empty.may_retry());
        let stopped = AttemptOutcome::Interrupted {
            detail: "interrupted".into(),
        };
        assert!(!stopped.may_retry() && !stopped.is_success());
        assert_eq!(stopped.state(), State::Interrupted);
    }

    #[test]
    fn a_crash_fails_the_running_attempt() {
        let mut r = record();
        assert_eq!(r.crash("boom".into(), None, 5), None);
        assert_eq!(r.state, State::Failed);
        r.start_attempt(3, 1, 6);
        assert_eq!(r.crash("bug".into(), Some("h".into()), 7), Some(3));
        assert_eq!(r.attempts[0].state, State::Failed);
        assert_eq!(r.attempts[0].detail.as_deref(), Some("bug"));
        r.unrecorded_failure("disk full".into());
        assert_eq!((r.state, r.owner), (State::Failed, None));
    }

    #[test]
    fn ids() {
        for ok in ["a", "fix-login", "v1.2", "a_b", "0abc", &"x".repeat(64)] {
            assert!(TaskId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "-a",
            "_a",
            "A",
            "a/b",
            "../x",
            "a b",
            "a..b",
            "x.lock",
            "a.",
            "é",
            &"x".repeat(65),
        ] {
            assert!(TaskId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slugs() {
        let none = |_: &str| false;
        assert_eq!(
            TaskId::slug("Fix the login bug!", none).as_str(),
            "fix-the-login-bug"
        );
        assert_eq!(TaskId::slug("¡¿!", none).as_str(), "task");
        let taken = |s: &str| s == "add-tests" || s == "add-tests-2";
        assert_eq!(TaskId::slug("Add tests", taken).as_str(), "add-tests-3");
        let long = TaskId::slug(&"word ".repeat(50), none);
        assert!(TaskId::parse(long.as_str()).is_ok());
    }

    #[test]
    fn slugs_keep_every_word_that_fits() {
        let none = |_: &str| false;
        for (prompt, want) in [
            // README's first example: the whole prompt fits, so no word is dropped.
            (
                "Add a --version flag to the CLI",
                "add-a-version-flag-to-the-cli",
            ),
            ("Fix bug in v1.2 parser", "fix-bug-in-v1-2-parser"),
            (
                "Fix the flaky test. Then refactor the rest.",
                "fix-the-flaky-test",
            ),
            ("Why does it crash? Find out", "why-does-it-crash"),
            ("...and then some", "and-then-some"),
            ("\n\n# Audit log\n\nWe need an audit log.", "audit-log"),
            ("", "task"),
        ] {
            assert_eq!(TaskId::slug(prompt, none).as_str(), want, "{prompt:?}");
        }
        // Too long: whole words are dropped from the end, down to the limit.
        let prompt = "Rename the User model to Account everywhere including migrations \
                      fixtures serializers and the admin";
        let id = TaskId::slug(prompt, none);
        assert_eq!(
            id.as_str(),
            "rename-the-user-model-to-account-everywhere-including-migrations"
        );
        assert!(id.as_str().len() <= MAX_ID_LEN);
        let one_word = TaskId::slug(&"x".repeat(100), none);
        assert_eq!(one_word.as_str(), "x".repeat(64));
        // The uniqueness suffix never pushes an id past the limit.
        let taken = |s: &str| s == id.as_str() || s == one_word.as_str();
        let second = TaskId::slug(prompt, taken);
        assert_eq!(
            second.as_str(),
            "rename-the-user-model-to-account-everywhere-including-2"
        );
        let second = TaskId::slug(&"x".repeat(100), taken);
        assert_eq!(second.as_str(), format!("{}-2", "x".repeat(62)));
        assert!(TaskId::parse(second.as_str()).is_ok());
    }
}
