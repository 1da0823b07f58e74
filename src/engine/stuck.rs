//! The "agent is stuck" detector: an agent CLI that prints the same retry line over and
//! over (codex without network: `Reconnecting... waiting for network`, for minutes) is
//! not working, whatever its exit code will one day be. When only retry lines have come
//! for the rule's whole threshold, the agent is stopped and the task fails with that
//! line as its reason, instead of the batch waiting for it.
//!
//! Any other line (the agent doing something) starts the count again. Silence does not:
//! an agent that goes quiet is the time limit's business.

use std::time::{Duration, Instant};

use crate::signature::{self, Watch};
use crate::supervise::Outcome;
use crate::task::AttemptOutcome;

/// A preset's stuck rule: which lines are retries, and how long they may go on.
#[derive(Debug)]
pub struct StuckRule {
    /// Text found in a retry line (plain, or a string inside a JSON line).
    pub lines: &'static [&'static str],
    pub after: Duration,
}

/// The detector for one run.
pub struct Stuck {
    rule: &'static StuckRule,
    after: Duration,
    /// When the current run of retry lines began.
    since: Option<Instant>,
}

impl Stuck {
    /// `after` overrides the rule's threshold.
    pub fn new(rule: &'static StuckRule, after: Option<Duration>) -> Stuck {
        Stuck {
            rule,
            after: after.unwrap_or(rule.after),
            since: None,
        }
    }

    /// One line (as its texts, see [`crate::signature::texts_of`]) at `now`. Some: the
    /// agent is stuck; the retry line, and for how long retries have gone on.
    pub fn line(&mut self, texts: &[String], now: Instant) -> Option<(String, Duration)> {
        let retry = texts
            .iter()
            .find(|t| self.rule.lines.iter().any(|n| t.contains(n)));
        let Some(retry) = retry else {
            if texts.iter().any(|t| !t.trim().is_empty()) {
                self.since = None;
            }
            return None;
        };
        let start = *self.since.get_or_insert(now);
        let lasted = now.saturating_duration_since(start);
        (lasted >= self.after).then(|| (retry.trim().to_string(), lasted))
    }
}

/// Watch an agent job when its program is a preset's CLI: the preset's default time
/// limit goes on the job when the task has none (`user_timeout`), and
/// `GIT_AGENTS_STUCK_AFTER` (a duration) overrides the stuck rule's threshold. `Err`: that
/// variable does not read as a duration.
pub fn watch_agent(
    job: &mut super::launch::Job,
    program: &str,
    worktree: &std::path::Path,
    user_timeout: bool,
) -> Result<Option<Watch>, String> {
    let Some(profile) = signature::profile_for(program) else {
        return Ok(None);
    };
    let after = match std::env::var("GIT_AGENTS_STUCK_AFTER") {
        Ok(v) => Some(
            crate::time::parse_duration(&v)
                .map_err(|e| format!("GIT_AGENTS_STUCK_AFTER={v:?}: {e}"))?,
        ),
        Err(_) => None,
    };
    let mut watch = Watch::new(profile, worktree, after);
    if !user_timeout && let Some(d) = profile.default_timeout {
        job.deadline = crate::time::deadline(d);
        watch.default_timeout = Some(d);
    }
    Ok(Some(watch))
}

/// The attempt's outcome for an agent run that ended `outcome`, not at its branch's
/// base when `changed`, in the light of what `verdict` saw. `None`: nothing to add, the
/// attempt goes on as it would without a watch.
pub fn judge(watch: &Watch, outcome: Outcome, changed: bool) -> Option<AttemptOutcome> {
    let v = watch.verdict();
    let with = |base: String| match v.explain() {
        Some(e) => format!("{base}: {e}"),
        None => base,
    };
    match outcome {
        Outcome::Exited(0) if changed => None,
        // A CLI that said why it could not work and left nothing did not succeed at
        // doing nothing (gemini in an untrusted folder exits 0 with its edits denied).
        Outcome::Exited(0) => v.explain().map(|_| AttemptOutcome::Failed {
            exit_code: Some(0),
            detail: with("the agent exited 0 without changes".into()),
        }),
        Outcome::Exited(c) => Some(AttemptOutcome::Failed {
            exit_code: Some(c),
            detail: with(format!("agent exited {c}")),
        }),
        Outcome::TimedOut => Some(match (&v.stuck, v.stopped) {
            (Some((line, lasted)), _) => AttemptOutcome::Failed {
                exit_code: None,
                detail: with(format!(
                    "agent stuck: only retries for {} (\"{line}\"), stopped",
                    crate::time::short(*lasted)
                )),
            },
            (None, true) => AttemptOutcome::Failed {
                exit_code: None,
                detail: with("agent stopped: it waits for a person".into()),
            },
            (None, false) => AttemptOutcome::TimedOut {
                detail: with(match watch.default_timeout {
                    Some(d) => format!(
                        "timed out after the {} preset's default limit of {} (set --timeout or agents.timeout)",
                        watch.profile().preset,
                        crate::time::short(d)
                    ),
                    None => "timed out".into(),
                }),
            },
        }),
        Outcome::Interrupted => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static RULE: StuckRule = StuckRule {
        lines: &["Reconnecting..."],
        after: Duration::from_secs(60),
    };

    fn t(s: &str) -> Vec<String> {
        vec![s.to_string()]
    }

    #[test]
    fn a_recognised_failure_fails_an_empty_run_but_not_one_that_changed_something() {
        let p = signature::profile_for("claude").unwrap();
        let mut w = Watch::new(p, std::path::Path::new("/w/t1"), None);
        w.line("Not logged in · Please run /login", Instant::now());
        assert_eq!(judge(&w, Outcome::Exited(0), true), None);
        assert!(matches!(
            judge(&w, Outcome::Exited(0), false),
            Some(AttemptOutcome::Failed {
                exit_code: Some(0),
                ..
            })
        ));
        assert!(matches!(
            judge(&w, Outcome::TimedOut, false),
            Some(AttemptOutcome::TimedOut { .. })
        ));
        assert_eq!(judge(&w, Outcome::Interrupted, false), None);
        // Nothing recognised: an empty run stays empty.
        let quiet = Watch::new(p, std::path::Path::new("/w/t1"), None);
        assert_eq!(judge(&quiet, Outcome::Exited(0), false), None);
    }

    #[test]
    fn a_preset_cli_gets_the_default_timeout_unless_the_user_set_one() {
        let job = || super::super::launch::Job {
            program: "/bin/codex".into(),
            args: Vec::new(),
            dir: "/w/t1".into(),
            env: Vec::new(),
            stdin: None,
            deadline: None,
            stop: None,
        };
        let wt = std::path::Path::new("/w/t1");
        let mut j = job();
        let w = watch_agent(&mut j, "codex", wt, false).unwrap().unwrap();
        let left = j.deadline.unwrap() - Instant::now();
        assert!(left > Duration::from_secs(7100) && left <= Duration::from_secs(7200));
        assert_eq!(w.default_timeout, Some(Duration::from_secs(7200)));
        let mut j = job();
        let w = watch_agent(&mut j, "codex", wt, true).unwrap().unwrap();
        assert_eq!((j.deadline, w.default_timeout), (None, None));
        let mut j = job();
        assert!(
            watch_agent(&mut j, "my-agent", wt, false)
                .unwrap()
                .is_none()
        );
        assert_eq!(j.deadline, None);
    }

    #[test]
    fn retries_for_the_whole_threshold_are_stuck() {
        let t0 = Instant::now();
        let mut s = Stuck::new(&RULE, None);
        let line = "ERROR: Reconnecting... waiting for network";
        assert_eq!(s.line(&t(line), t0), None);
        assert_eq!(s.line(&t(line), t0 + Duration::from_secs(30)), None);
        assert_eq!(
            s.line(&t(line), t0 + Duration::from_secs(61)),
            Some((line.to_string(), Duration::from_secs(61)))
        );
    }

    #[test]
    fn other_output_starts_the_count_again_and_blank_lines_do_not() {
        let t0 = Instant::now();
        let mut s = Stuck::new(&RULE, Some(Duration::from_secs(10)));
        s.line(&t("Reconnecting... 2/5"), t0);
        s.line(&t("   "), t0 + Duration::from_secs(5));
        s.line(&t("editing src/main.rs"), t0 + Duration::from_secs(8));
        assert_eq!(
            s.line(&t("Reconnecting... 3/5"), t0 + Duration::from_secs(12)),
            None
        );
        assert!(
            s.line(&t("Reconnecting... 4/5"), t0 + Duration::from_secs(22))
                .is_some()
        );
    }
}
