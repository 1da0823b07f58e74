//! Gemini CLI's `--output-format stream-json` (its headless-mode reference and
//! packages/cli/src/output/types.ts): `init` (`session_id`, `model`), `message` (`role`,
//! `content`, `delta` when the text comes in pieces), `tool_use` (`tool_name`,
//! `parameters`), `tool_result` (`status`, `error`), `error` (`severity`, `message`),
//! `result` (`status`, `error`, `stats` with `input_tokens`, `output_tokens`, `cached`).
//! Gemini reports no cost.

use serde::Deserialize;
use std::borrow::Cow;

use super::{Event, Parser, Target};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    session_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(default)]
    delta: bool,
    #[serde(borrow, default)]
    tool_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    parameters: Option<Target<'a>>,
    #[serde(borrow, default)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<ErrorBody<'a>>,
    #[serde(default)]
    stats: Option<Stats>,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Stats {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    cached: u64,
}

pub(super) fn feed(p: &mut Parser, line: &str) -> Result<Option<Event>, ()> {
    let l: Line = super::json(line)?;
    Ok(match l.kind.as_ref() {
        "init" => {
            let id = l.session_id.as_deref().unwrap_or("?").to_string();
            p.usage.session_id = Some(id.clone());
            Some(Event::Started {
                session: id,
                model: l.model.map(|m| m.into_owned()),
            })
        }
        "message" if l.role.as_deref() == Some("assistant") => {
            let text = l.content.unwrap_or_default();
            if l.delta {
                if p.pending.len() < super::MAX_MESSAGE {
                    p.pending.push_str(&text);
                }
            } else {
                p.pending = text.into_owned();
            }
            let whole = p.pending.clone();
            p.usage.set_final(&whole);
            Some(Event::Message(whole))
        }
        "message" => {
            // A user message starts a new answer.
            p.pending.clear();
            None
        }
        "tool_use" => {
            p.pending.clear();
            Some(Event::Tool {
                name: l.tool_name.as_deref().unwrap_or("tool").to_string(),
                target: l.parameters.map(|t| t.text()).unwrap_or_default(),
            })
        }
        "tool_result" if l.status.as_deref() == Some("error") => Some(Event::Error(
            l.error
                .and_then(|e| e.message)
                .map(|m| m.into_owned())
                .unwrap_or_else(|| "tool failed".into()),
        )),
        "error" => Some(Event::Error(
            l.message.map(|m| m.into_owned()).unwrap_or_default(),
        )),
        "result" => {
            let ok = l.status.as_deref() != Some("error");
            p.usage.is_error = !ok;
            if let Some(s) = l.stats {
                p.usage.input_tokens = s.input_tokens;
                p.usage.output_tokens = s.output_tokens;
                p.usage.cached_tokens = s.cached;
            }
            let summary = l
                .error
                .and_then(|e| e.message)
                .map(|m| m.into_owned())
                .unwrap_or_default();
            if !ok {
                p.usage.set_final(&summary);
            }
            Some(Event::Finished { ok, summary })
        }
        _ => None,
    })
}
