//! What each agent preset's CLI is known to say when it cannot do the work, and what a
//! preset declares about time: a default timeout and an "agent is stuck" rule.
//!
//! The texts below were recorded from the real CLIs run offline and logged out
//! (tests/fixtures/real/, stamped with each CLI's version). A CLI says the same thing in
//! its plain output and inside its structured (JSON-line) output, so a line that is a
//! JSON object is matched on each string inside it, a plain line on the whole line:
//! the same signature works whatever output mode the preset's arguments ask for.
//!
//! A [`Watch`] follows one agent run line by line: it collects the signatures seen (the
//! task's reason and hint), says when to stop the agent at once (a CLI that waits for an
//! interactive login that can never come), and runs the stuck detector
//! ([`crate::engine::stuck`]).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::engine::stuck::{Stuck, StuckRule};

/// One known failure of one CLI.
#[derive(Debug)]
pub struct Signature {
    /// A stable name: `not-logged-in`, `no-api-key`, `untrusted-folder`, `no-network`.
    pub kind: &'static str,
    /// Text that identifies it (case-sensitive).
    pub needle: &'static str,
    /// What it means, in our words.
    pub summary: &'static str,
    /// What the user can do; `{worktree}` and `{worktrees}` (its parent) are filled in.
    pub hint: &'static str,
    /// The CLI now waits for a person (an interactive login): stop it at once.
    pub stop: bool,
}

/// What a preset declares beyond its command.
#[derive(Debug)]
pub struct Profile {
    pub preset: &'static str,
    /// The agent's time limit when the user sets none (`--timeout`, `agents.timeout`).
    pub default_timeout: Option<Duration>,
    pub stuck: Option<StuckRule>,
    pub signatures: &'static [Signature],
}

const HOURS_2: Option<Duration> = Some(Duration::from_secs(2 * 3600));

pub const PROFILES: &[Profile] = &[
    Profile {
        preset: "claude",
        default_timeout: HOURS_2,
        stuck: None,
        signatures: &[Signature {
            kind: "not-logged-in",
            needle: "Not logged in",
            summary: "claude is not logged in",
            hint: "run `claude` once and log in with /login, or set ANTHROPIC_API_KEY (the task's `env`, or your environment)",
            stop: false,
        }],
    },
    Profile {
        preset: "codex",
        default_timeout: HOURS_2,
        stuck: Some(StuckRule {
            lines: &[
                "Reconnecting...",
                "failed to connect to Responses WebSocket",
                "Falling back from WebSockets",
            ],
            after: Duration::from_secs(5 * 60),
        }),
        signatures: &[
            Signature {
                kind: "no-network",
                needle: "Reconnecting... waiting for network",
                summary: "codex cannot reach its API (no network)",
                hint: "check this machine's network and proxy settings (codex retries for minutes without one)",
                stop: false,
            },
            Signature {
                kind: "no-network",
                needle: "stream disconnected before completion",
                summary: "codex cannot reach its API (no network)",
                hint: "check this machine's network and proxy settings (codex retries for minutes without one)",
                stop: false,
            },
            Signature {
                kind: "no-network",
                needle: "failed to lookup address information",
                summary: "codex cannot reach its API (no network)",
                hint: "check this machine's network and proxy settings (codex retries for minutes without one)",
                stop: false,
            },
        ],
    },
    Profile {
        preset: "aider",
        default_timeout: HOURS_2,
        stuck: None,
        signatures: &[],
    },
    Profile {
        preset: "gemini",
        default_timeout: HOURS_2,
        stuck: Some(StuckRule {
            lines: &["Retrying with backoff"],
            after: Duration::from_secs(10 * 60),
        }),
        signatures: &[
            Signature {
                kind: "untrusted-folder",
                needle: "because the current folder is not trusted",
                summary: "gemini does not trust the worktree's folder: it dropped `--approval-mode auto_edit` and denies every edit",
                hint: "trust the worktrees' folder once, by gemini's trusted-folders setting: add \"{worktrees}\": \"TRUST_FOLDER\" to ~/.gemini/trustedFolders.json, or start `gemini` in {worktree} and choose \"Trust parent folder\"",
                stop: false,
            },
            Signature {
                kind: "no-api-key",
                needle: "GEMINI_API_KEY",
                summary: "gemini has no auth method (no API key, not logged in)",
                hint: "set GEMINI_API_KEY (the task's `env`, or your environment), or run `gemini` once to log in",
                stop: false,
            },
        ],
    },
    Profile {
        preset: "opencode",
        default_timeout: HOURS_2,
        stuck: None,
        signatures: &[],
    },
    Profile {
        preset: "cursor-agent",
        default_timeout: HOURS_2,
        stuck: None,
        signatures: &[],
    },
    Profile {
        preset: "goose",
        default_timeout: HOURS_2,
        stuck: None,
        signatures: &[],
    },
    Profile {
        preset: "amp",
        default_timeout: HOURS_2,
        stuck: None,
        signatures: &[Signature {
            kind: "not-logged-in",
            needle: "No API key found",
            summary: "amp is not logged in (it started a login that needs a person)",
            hint: "run `amp login` once, or set AMP_API_KEY (the task's `env`, or your environment)",
            stop: true,
        }],
    },
];

/// The profile of the preset whose CLI `program` is (by file name, so a `--command` that
/// runs `claude` with other arguments is recognised too).
pub fn profile_for(program: &str) -> Option<&'static Profile> {
    let name = Path::new(program).file_name()?.to_str()?;
    PROFILES.iter().find(|p| p.preset == name)
}

/// A signature seen in the output, with the CLI's own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub kind: &'static str,
    pub summary: &'static str,
    /// The CLI's line (or the JSON string) that matched, trimmed and shortened.
    pub message: String,
    pub hint: String,
}

/// What a watched run came to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    pub seen: Vec<Seen>,
    /// Set when the stuck detector stopped the agent: the repeating line, and for how long.
    pub stuck: Option<(String, Duration)>,
    /// Set when a signature stopped the agent at once.
    pub stopped: bool,
}

impl Verdict {
    /// The reason, as the CLI put it: its own words for each signature seen.
    pub fn reason(&self) -> Option<String> {
        join(self.seen.iter().map(|s| s.message.as_str()), " | ")
            .or_else(|| self.stuck.as_ref().map(|(line, _)| line.clone()))
    }

    pub fn hint(&self) -> Option<String> {
        join(self.seen.iter().map(|s| s.hint.as_str()), "; ")
    }

    /// `summary: "CLI's words"` for each signature seen, for a task's detail.
    pub fn explain(&self) -> Option<String> {
        let parts: Vec<String> = self
            .seen
            .iter()
            .map(|s| format!("{}: \"{}\"", s.summary, s.message))
            .collect();
        join(parts.iter().map(String::as_str), "; ")
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>, sep: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    for p in parts {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    (!out.is_empty()).then(|| out.join(sep))
}

/// Follows one agent run's output.
pub struct Watch {
    profile: &'static Profile,
    stuck: Option<Stuck>,
    worktree: String,
    worktrees: String,
    verdict: Verdict,
    /// The preset's default time limit, when it is the one the agent runs under.
    pub default_timeout: Option<Duration>,
}

/// How much of a CLI's line a reason keeps.
const MESSAGE_MAX: usize = 300;

impl Watch {
    /// A watch for `profile`'s CLI working in `worktree`; `stuck_after` overrides the
    /// stuck rule's threshold.
    pub fn new(profile: &'static Profile, worktree: &Path, stuck_after: Option<Duration>) -> Watch {
        Watch {
            profile,
            stuck: profile.stuck.as_ref().map(|r| Stuck::new(r, stuck_after)),
            worktree: worktree.display().to_string(),
            worktrees: worktree.parent().unwrap_or(worktree).display().to_string(),
            verdict: Verdict::default(),
            default_timeout: None,
        }
    }

    pub fn profile(&self) -> &'static Profile {
        self.profile
    }

    /// One line of output, at `now`. True: stop the agent now.
    pub fn line(&mut self, line: &str, now: Instant) -> bool {
        let texts = texts_of(line);
        let mut stop = false;
        for sig in self.profile.signatures {
            let Some(text) = texts.iter().find(|t| t.contains(sig.needle)) else {
                continue;
            };
            stop |= sig.stop;
            if self.verdict.seen.iter().any(|s| s.kind == sig.kind) {
                continue;
            }
            self.verdict.seen.push(Seen {
                kind: sig.kind,
                summary: sig.summary,
                message: shorten(text),
                hint: sig
                    .hint
                    .replace("{worktrees}", &self.worktrees)
                    .replace("{worktree}", &self.worktree),
            });
        }
        if stop {
            self.verdict.stopped = true;
            return true;
        }
        if let Some(s) = &mut self.stuck
            && let Some(found) = s.line(&texts, now)
        {
            self.verdict.stuck = Some(found);
            return true;
        }
        false
    }

    pub fn verdict(&self) -> &Verdict {
        &self.verdict
    }
}

/// The texts of a line to match: each string inside a JSON object or array (its
/// escapes undone), or the line itself.
pub fn texts_of(line: &str) -> Vec<String> {
    let t = line.trim();
    if (t.starts_with('{') || t.starts_with('['))
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(t)
    {
        let mut out = Vec::new();
        strings(&v, &mut out, 0);
        return out;
    }
    vec![t.to_string()]
}

fn strings(v: &serde_json::Value, out: &mut Vec<String>, depth: usize) {
    // Deep enough for every event recorded; a hostile stream cannot make us recurse far.
    if depth > 16 {
        return;
    }
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| strings(x, out, depth + 1)),
        serde_json::Value::Object(o) => o.values().for_each(|x| strings(x, out, depth + 1)),
        _ => {}
    }
}

fn shorten(text: &str) -> String {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let first = first.trim();
    match first.char_indices().nth(MESSAGE_MAX) {
        Some((i, _)) => format!("{}…", &first[..i]),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(preset: &str) -> Watch {
        Watch::new(
            profile_for(preset).unwrap(),
            Path::new("/w/repo.agents/t1"),
            None,
        )
    }

    #[test]
    fn profiles_cover_every_preset() {
        for name in crate::agent::PRESET_NAMES {
            let p = profile_for(name).unwrap_or_else(|| panic!("no profile for {name}"));
            assert!(p.default_timeout.is_some(), "{name}");
        }
        assert!(profile_for("/usr/local/bin/claude").is_some());
        assert!(profile_for("my-agent").is_none());
    }

    #[test]
    fn plain_and_json_forms_match_the_same_signature() {
        let mut plain = watch("claude");
        plain.line("Not logged in · Please run /login", Instant::now());
        let mut json = watch("claude");
        json.line(
            r#"{"type":"result","is_error":true,"result":"Not logged in \u00b7 Please run /login"}"#,
            Instant::now(),
        );
        assert_eq!(plain.verdict(), json.verdict());
        assert_eq!(
            plain.verdict().reason().as_deref(),
            Some("Not logged in · Please run /login")
        );
    }

    #[test]
    fn hints_name_the_worktrees_folder_and_repeats_count_once() {
        let mut w = watch("gemini");
        let line =
            "Approval mode overridden to \"default\" because the current folder is not trusted.";
        assert!(!w.line(line, Instant::now()));
        w.line(line, Instant::now());
        let v = w.verdict();
        assert_eq!(v.seen.len(), 1);
        assert!(
            v.seen[0]
                .hint
                .contains("\"/w/repo.agents\": \"TRUST_FOLDER\"")
        );
        assert!(v.seen[0].hint.contains("/w/repo.agents/t1"));
    }

    #[test]
    fn a_login_prompt_stops_the_agent_at_once() {
        let mut w = watch("amp");
        assert!(w.line("No API key found. Starting login flow...", Instant::now()));
        assert!(w.verdict().stopped);
    }

    #[test]
    fn long_lines_are_cut_and_non_json_braces_are_plain() {
        assert_eq!(texts_of("{not json"), vec!["{not json".to_string()]);
        let long = "x".repeat(1000);
        assert_eq!(shorten(&long).chars().count(), MESSAGE_MAX + 1);
    }
}
