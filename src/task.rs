//! Task identifiers and task states.
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
        if !ok_first || !ok_rest || bytes.len() > 64 || !ref_safe {
            return Err(format!("invalid task id {text:?}: {ID_RULE}"));
        }
        Ok(TaskId(text.to_string()))
    }

    /// Derive an id from a free-text prompt: the first few words, lowercased and joined
    /// by `-`; `taken` says which ids exist already, and a numeric suffix makes it unique.
    pub fn slug(prompt: &str, taken: impl Fn(&str) -> bool) -> TaskId {
        let mut words: Vec<String> = Vec::new();
        let mut len = 0;
        for raw in prompt.split(|c: char| !c.is_ascii_alphanumeric()) {
            if raw.is_empty() {
                continue;
            }
            let w = raw.to_ascii_lowercase();
            if len + w.len() > 40 || words.len() >= 6 {
                break;
            }
            len += w.len() + 1;
            words.push(w);
        }
        let mut base = words.join("-");
        if base.is_empty() {
            base = "task".into();
        }
        base.truncate(40);
        let mut candidate = base.clone();
        let mut n = 2;
        while taken(&candidate) {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        TaskId(candidate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
