//! Claude Code's `--output-format stream-json` (with `--verbose`), per the Agent SDK's
//! message types: `system` (subtype `init` with `session_id` and `model`), `assistant`
//! (a message whose `content` holds `text` and `tool_use` blocks, and its `usage`),
//! `user` (tool results), `result` (`is_error`, `num_turns`, `result`, `session_id`,
//! `total_cost_usd`, `usage`). `subtype` may say `success` while `is_error` is true
//! (not logged in): `is_error` is the verdict. Amp's `--stream-json` and most of
//! cursor-agent's stream have the same shape.

use serde::Deserialize;
use std::borrow::Cow;

use super::{Event, Parser, Target};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    subtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    #[serde(default)]
    is_error: Option<bool>,
    #[serde(default)]
    num_turns: Option<u32>,
    #[serde(borrow, default)]
    result: Option<Cow<'a, str>>,
    #[serde(default)]
    total_cost_usd: Option<f64>,
    #[serde(default)]
    usage: Option<Tokens>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Vec<Block<'a>>,
    #[serde(default)]
    usage: Option<Tokens>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    input: Option<Target<'a>>,
}

/// Anthropic's usage object (cursor-agent spells it in camelCase).
#[derive(Deserialize, Default)]
pub(super) struct Tokens {
    #[serde(default, alias = "inputTokens")]
    input_tokens: u64,
    #[serde(default, alias = "outputTokens")]
    output_tokens: u64,
    #[serde(default, alias = "cacheReadTokens")]
    cache_read_input_tokens: u64,
    #[serde(default, alias = "cacheWriteTokens")]
    cache_creation_input_tokens: u64,
}

impl Tokens {
    /// (input, output, cached): writing the cache is billed input; reading it is cached.
    fn split(&self) -> (u64, u64, u64) {
        (
            self.input_tokens
                .saturating_add(self.cache_creation_input_tokens),
            self.output_tokens,
            self.cache_read_input_tokens,
        )
    }
}

pub(super) fn feed(p: &mut Parser, line: &str) -> Result<Option<Event>, ()> {
    let l: Line = super::json(line)?;
    if l.session_id.is_some() {
        p.usage.session_id = l.session_id.as_deref().map(str::to_string);
    }
    Ok(match l.kind.as_ref() {
        "system" if l.subtype.as_deref() == Some("init") => Some(Event::Started {
            session: l.session_id.as_deref().unwrap_or("?").to_string(),
            model: l.model.map(|m| m.into_owned()),
        }),
        "assistant" => {
            let Some(m) = l.message else {
                return Ok(None);
            };
            // One message comes as several lines (a block each) repeating its usage:
            // count it once.
            if let Some(u) = &m.usage {
                let id = m.id.as_deref().unwrap_or("");
                if id.is_empty() || !p.seen.iter().any(|s| s == id) {
                    if !id.is_empty() {
                        p.seen.push(id.to_string());
                    }
                    let (i, o, c) = u.split();
                    p.usage.add_tokens(i, o, c);
                }
            }
            let mut last = None;
            for b in m.content {
                match b.kind.as_ref() {
                    "text" => {
                        if let Some(t) = b.text.filter(|t| !t.trim().is_empty()) {
                            p.usage.set_final(&t);
                            last = Some(Event::Message(t.into_owned()));
                        }
                    }
                    "tool_use" => {
                        last = Some(Event::Tool {
                            name: b.name.as_deref().unwrap_or("tool").to_string(),
                            target: b.input.map(|i| i.text()).unwrap_or_default(),
                        })
                    }
                    _ => {}
                }
            }
            last
        }
        "result" => {
            let is_error = l.is_error.unwrap_or(false)
                || l.subtype.as_deref().is_some_and(|s| s.starts_with("error"));
            p.usage.is_error = is_error;
            if let Some(n) = l.num_turns {
                p.usage.turns = Some(n);
            }
            // The result's figures are the session's totals: they replace what the
            // messages added up to, unless they say less (an agent that reports zeros).
            if let Some(u) = &l.usage {
                let (i, o, c) = u.split();
                if i + o + c >= p.usage.tokens() + p.usage.cached_tokens {
                    p.usage.input_tokens = i;
                    p.usage.output_tokens = o;
                    p.usage.cached_tokens = c;
                }
            }
            if let Some(c) = l.total_cost_usd.filter(|c| c.is_finite() && *c >= 0.0) {
                p.usage.cost_usd = Some(c);
            }
            let text = l.result.as_deref().unwrap_or("");
            p.usage.set_final(text);
            Some(Event::Finished {
                ok: !is_error,
                summary: super::first_line(text).to_string(),
            })
        }
        _ => None,
    })
}
