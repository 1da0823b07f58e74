//! What an agent says in its structured output mode: the activity to show on the live
//! line, a readable rendering of its stream for `git agents logs`, and what it reports
//! about itself (session id, turns, tokens, cost, final message, its own error flag).
//!
//! One parser per output format, one file each. A parser is fed the agent's output line
//! by line on the supervisor's thread, so it is cheap: serde_json on the borrowed line,
//! only the fields it needs (serde skips the rest), unknown event types ignored. It never
//! fails: a line that is not an event of its format (a banner, garbage, a truncated or
//! interleaved line) is text, shown and rendered as it is. The raw stream always goes to
//! the task's log unchanged; parsing only reads it.

use serde::{Deserialize, Serialize};

mod aider;
mod claude;
mod codex;
mod cursor;
mod gemini;
mod goose;
mod opencode;

/// An agent CLI's structured output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `claude -p --output-format stream-json --verbose`.
    ClaudeStreamJson,
    /// `codex exec --json`.
    CodexJson,
    /// `gemini --output-format stream-json`.
    GeminiStreamJson,
    /// `cursor-agent --print --output-format stream-json`.
    CursorStreamJson,
    /// `amp -x --stream-json` (Claude Code's stream-json shape).
    AmpStreamJson,
    /// `opencode run --format json`.
    OpencodeJson,
    /// `goose run --output-format stream-json`.
    GooseStreamJson,
    /// aider's plain output, whose `Tokens: … Cost: …` lines report spend.
    AiderText,
}

/// Every format, by the name `output:` takes.
pub const FORMATS: &[(&str, Format)] = &[
    ("claude-stream-json", Format::ClaudeStreamJson),
    ("codex-json", Format::CodexJson),
    ("gemini-stream-json", Format::GeminiStreamJson),
    ("cursor-stream-json", Format::CursorStreamJson),
    ("amp-stream-json", Format::AmpStreamJson),
    ("opencode-json", Format::OpencodeJson),
    ("goose-stream-json", Format::GooseStreamJson),
    ("aider-text", Format::AiderText),
];

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        FORMATS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    pub fn name(self) -> &'static str {
        FORMATS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// Whether the CLI reports what it spent in dollars in this format.
    pub fn reports_cost(self) -> bool {
        matches!(
            self,
            Format::ClaudeStreamJson | Format::OpencodeJson | Format::AiderText
        )
    }

    /// The names, for error messages and help.
    pub fn names() -> String {
        let mut s: Vec<&str> = FORMATS.iter().map(|(n, _)| *n).collect();
        s.push("text");
        s.join(", ")
    }
}

/// What an agent reported about one attempt. Token counts add up over the attempt;
/// `cost_usd` is the agent's own figure (none when it reports none).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns: Option<u32>,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens read from the provider's cache.
    #[serde(default)]
    pub cached_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// The agent's last message (its answer), cut to [`MAX_MESSAGE`] bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_message: Option<String>,
    /// The agent's own verdict that it failed (claude's `is_error`, a failed turn, ...).
    #[serde(default)]
    pub is_error: bool,
}

impl Usage {
    /// Tokens that count against `max_tokens`: input plus output as the agent reports
    /// them (cache reads are already part of the input where the CLI counts them so).
    pub fn tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Whether the agent reported any spend at all.
    pub fn reported(&self) -> bool {
        self.cost_usd.is_some() || self.tokens() > 0 || self.cached_tokens > 0
    }

    fn add_tokens(&mut self, input: u64, output: u64, cached: u64) {
        self.input_tokens = self.input_tokens.saturating_add(input);
        self.output_tokens = self.output_tokens.saturating_add(output);
        self.cached_tokens = self.cached_tokens.saturating_add(cached);
    }

    fn add_cost(&mut self, usd: f64) {
        if usd.is_finite() && usd >= 0.0 {
            // Rounded to a millionth of a dollar, so sums read as the parts do.
            let sum = self.cost_usd.unwrap_or(0.0) + usd;
            self.cost_usd = Some((sum * 1e6).round() / 1e6);
        }
    }

    fn set_final(&mut self, text: &str) {
        let text = text.trim();
        if !text.is_empty() {
            self.final_message = Some(cut(text, MAX_MESSAGE).to_string());
        }
    }

    /// The sum of several attempts' usage (the last session and message win).
    pub fn total<'a>(all: impl IntoIterator<Item = &'a Usage>) -> Usage {
        let mut t = Usage::default();
        for u in all {
            t.add_tokens(u.input_tokens, u.output_tokens, u.cached_tokens);
            if let Some(c) = u.cost_usd {
                t.add_cost(c);
            }
            if let Some(n) = u.turns {
                t.turns = Some(t.turns.unwrap_or(0).saturating_add(n));
            }
            if u.session_id.is_some() {
                t.session_id = u.session_id.clone();
            }
            if u.final_message.is_some() {
                t.final_message = u.final_message.clone();
            }
            t.is_error = u.is_error;
        }
        t
    }
}

/// The most of an agent's final message a record keeps.
pub const MAX_MESSAGE: usize = 4096;

/// Lines longer than this are not parsed as events (no agent event comes near it); they
/// are text, like any other line that is not an event.
pub const MAX_EVENT_LINE: usize = 32 << 20;

/// One thing an agent's stream said, as far as we show it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A session began.
    Started {
        session: String,
        model: Option<String>,
    },
    /// It runs a tool: its name and what it works on (a command, a path, a pattern).
    Tool { name: String, target: String },
    /// A message of the agent's (text it wrote to the user).
    Message(String),
    /// It reported an error.
    Error(String),
    /// Its final verdict: ok or not, and a one-line summary of what it reported.
    Finished { ok: bool, summary: String },
    /// A line that is not an event of the format: shown as it is.
    Text(String),
}

impl Event {
    /// What the live line shows for this event: the tool and its target, or the first
    /// line of the message; `None` keeps what it shows now.
    pub fn live(&self) -> Option<String> {
        let s = match self {
            Event::Started { .. } => "starting".to_string(),
            Event::Tool { name, target } if target.is_empty() => name.clone(),
            Event::Tool { name, target } => format!("{name} {}", first_line(target)),
            Event::Message(m) => first_line(m).to_string(),
            Event::Error(e) => format!("error: {}", first_line(e)),
            Event::Finished { ok: true, .. } => "finished".to_string(),
            Event::Finished { ok: false, .. } => "finished with an error".to_string(),
            Event::Text(t) => t.trim().to_string(),
        };
        (!s.is_empty()).then_some(s)
    }

    /// The event as a readable line (or lines) for `git agents logs`.
    pub fn readable(&self) -> String {
        match self {
            Event::Started { session, model } => match model {
                Some(m) => format!("── session {session} ({m})"),
                None => format!("── session {session}"),
            },
            Event::Tool { name, target } if target.is_empty() => format!("▸ {name}"),
            Event::Tool { name, target } => format!("▸ {name} {target}"),
            Event::Message(m) => m.trim_end().to_string(),
            Event::Error(e) => format!("! {e}"),
            Event::Finished { ok, summary } => {
                let word = if *ok { "done" } else { "failed" };
                if summary.is_empty() {
                    format!("── {word}")
                } else {
                    format!("── {word}: {summary}")
                }
            }
            Event::Text(t) => t.clone(),
        }
    }
}

fn first_line(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
}

/// `s` cut to at most `max` bytes at a character boundary.
pub fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// A stream's parser: feed it each line; it keeps the attempt's [`Usage`].
#[derive(Debug, Clone)]
pub struct Parser {
    format: Format,
    usage: Usage,
    /// Format-specific memory (claude: ids of messages whose usage was counted).
    seen: Vec<String>,
    /// Text of a message arriving in pieces (gemini's deltas).
    pending: String,
}

impl Parser {
    pub fn new(format: Format) -> Parser {
        Parser {
            format,
            usage: Usage::default(),
            seen: Vec::new(),
            pending: String::new(),
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    pub fn into_usage(self) -> Usage {
        self.usage
    }

    /// One line of output (without its newline). `None`: nothing to show (an event of
    /// no interest, an empty line).
    pub fn feed(&mut self, line: &str) -> Option<Event> {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            return None;
        }
        if self.format == Format::AiderText {
            return Some(aider::feed(self, trimmed));
        }
        if !trimmed.starts_with('{') || trimmed.len() > MAX_EVENT_LINE {
            return Some(Event::Text(cut(trimmed, 4096).to_string()));
        }
        let parsed = match self.format {
            Format::ClaudeStreamJson | Format::AmpStreamJson => claude::feed(self, trimmed),
            Format::CursorStreamJson => cursor::feed(self, trimmed),
            Format::CodexJson => codex::feed(self, trimmed),
            Format::GeminiStreamJson => gemini::feed(self, trimmed),
            Format::OpencodeJson => opencode::feed(self, trimmed),
            Format::GooseStreamJson => goose::feed(self, trimmed),
            Format::AiderText => unreachable!("handled above"),
        };
        match parsed {
            Ok(ev) => ev,
            // Not an event of this format (malformed, truncated, another program's JSON).
            Err(()) => Some(Event::Text(cut(trimmed, 4096).to_string())),
        }
    }
}

/// The target a tool works on, from the arguments most tools name it by.
#[derive(Debug, Default, Deserialize)]
struct Target<'a> {
    #[serde(borrow, default)]
    command: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, alias = "filePath", alias = "absolute_path")]
    file_path: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    path: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    pattern: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    url: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    query: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    description: Option<std::borrow::Cow<'a, str>>,
}

impl Target<'_> {
    fn text(&self) -> String {
        // A one-word `command` is an editor's sub-command (`str_replace`): its path
        // says more.
        let command = self.command.as_ref().filter(|c| {
            c.trim().contains(' ') || (self.file_path.is_none() && self.path.is_none())
        });
        let t = [
            &command.cloned(),
            &self.file_path,
            &self.path,
            &self.pattern,
            &self.url,
            &self.query,
            &self.description,
        ]
        .into_iter()
        .flatten()
        .next()
        .map(|c| first_line(c).to_string())
        .unwrap_or_default();
        cut(&t, 200).to_string()
    }
}

/// Parse `line` as `T`; `Err` when it is not one.
fn json<'a, T: Deserialize<'a>>(line: &'a str) -> Result<T, ()> {
    serde_json::from_str(line).map_err(|_| ())
}

/// A readable rendering of a whole log for `git agents logs`: lines that are events of
/// `format` become readable lines (events of no interest vanish); everything else
/// (git-agents' own `==>` lines, setup and check output) stays as it is.
pub fn render(format: Format, text: &str, out: &mut String) {
    let mut p = Parser::new(format);
    for line in text.lines() {
        render_line(&mut p, line, out);
    }
}

/// [`render`] for one line, with the parser of the stream it belongs to.
pub fn render_line(p: &mut Parser, line: &str, out: &mut String) {
    if line.starts_with("==> ") {
        out.push_str(line);
        out.push('\n');
        return;
    }
    match p.feed(line) {
        Some(ev) => {
            out.push_str(&ev.readable());
            out.push('\n');
        }
        None if line.trim().is_empty() => out.push('\n'),
        None => {}
    }
}

#[cfg(test)]
mod tests;
