//! How an attempt ended, and the transitions of a task's record: the only places the
//! engine changes a task's state.

use super::State;

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
    /// The agent's reported spend passed its task's or its batch's budget; it was
    /// stopped like a timeout. No retry follows: it would spend more.
    OverBudget { detail: String },
}

impl AttemptOutcome {
    /// The state the attempt leaves the task in.
    pub fn state(&self) -> State {
        match self {
            AttemptOutcome::Succeeded { .. } => State::Succeeded,
            AttemptOutcome::Empty => State::Empty,
            AttemptOutcome::CheckFailed { .. }
            | AttemptOutcome::Failed { .. }
            | AttemptOutcome::OverBudget { .. } => State::Failed,
            AttemptOutcome::TimedOut { .. } => State::TimedOut,
            AttemptOutcome::Interrupted { .. } => State::Interrupted,
        }
    }

    pub fn exit_code(&self) -> Option<i32> {
        match self {
            AttemptOutcome::Succeeded { .. } | AttemptOutcome::Empty => Some(0),
            AttemptOutcome::CheckFailed { exit_code, .. } => Some(*exit_code),
            AttemptOutcome::Failed { exit_code, .. } => *exit_code,
            AttemptOutcome::TimedOut { .. }
            | AttemptOutcome::Interrupted { .. }
            | AttemptOutcome::OverBudget { .. } => None,
        }
    }

    /// Why it did not succeed (none when it did).
    pub fn detail(&self) -> Option<&str> {
        match self {
            AttemptOutcome::Succeeded { .. } | AttemptOutcome::Empty => None,
            AttemptOutcome::CheckFailed { detail, .. }
            | AttemptOutcome::Failed { detail, .. }
            | AttemptOutcome::TimedOut { detail }
            | AttemptOutcome::Interrupted { detail }
            | AttemptOutcome::OverBudget { detail } => Some(detail),
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
        !self.is_success()
            && !matches!(
                self,
                AttemptOutcome::Interrupted { .. } | AttemptOutcome::OverBudget { .. }
            )
    }

    /// Why it ended, when no exit code tells: `budget`.
    pub fn reason(&self) -> Option<&'static str> {
        matches!(self, AttemptOutcome::OverBudget { .. }).then_some("budget")
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
        self.reason = None;
        self.hint = None;
        self.attempts.push(crate::store::Attempt {
            n,
            started_at: now,
            finished_at: None,
            state: State::Running,
            exit_code: None,
            head: None,
            detail: None,
            usage: None,
            reason: None,
        });
    }

    /// What the agent of attempt `n` reported.
    pub fn record_usage(&mut self, n: u32, usage: Option<crate::adapter::Usage>) {
        if let Some(a) = self.attempts.iter_mut().find(|a| a.n == n) {
            a.usage = usage;
        }
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
        // A reason the attempt found on its way (a recognised CLI failure, see
        // `signature`) stays unless the outcome itself names one.
        if let Some(r) = outcome.reason() {
            self.reason = Some(r.to_string());
            self.hint = None;
        }
        if let Some(a) = self.attempts.iter_mut().find(|a| a.n == n) {
            a.reason = self.reason.clone();
        }
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
}
