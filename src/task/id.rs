//! Task ids: what a worktree directory and a branch may be named, and the id an
//! ad-hoc prompt gets.

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
