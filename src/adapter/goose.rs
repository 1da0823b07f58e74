//! `goose run --output-format stream-json` (crates/goose-cli/src/session: `StreamEvent`,
//! tagged `type` in snake_case): `message` (a goose `Message` with `role` and `content`
//! blocks `text`, `toolRequest` with `toolCall.value.name`/`arguments`, ...),
//! `notification`, `error` (`error`), `complete` (`total_tokens`, `input_tokens`,
//! `output_tokens`). Without `--quiet` goose prints a banner first: text to us. Goose
//! reports no cost.

use serde::Deserialize;
use std::borrow::Cow;

use super::{Event, Parser, Target};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    message: Option<Message<'a>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    role: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    content: Vec<Block<'a>>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "toolCall")]
    tool_call: Option<ToolCall<'a>>,
}

#[derive(Deserialize)]
struct ToolCall<'a> {
    #[serde(borrow, default)]
    value: Option<Call<'a>>,
}

#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    arguments: Option<Target<'a>>,
}

pub(super) fn feed(p: &mut Parser, line: &str) -> Result<Option<Event>, ()> {
    let l: Line = super::json(line)?;
    Ok(match l.kind.as_ref() {
        "message" => {
            let Some(m) = l.message else {
                return Ok(None);
            };
            if m.role.as_deref() != Some("assistant") {
                return Ok(None);
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
                    "toolRequest" => {
                        let call = b.tool_call.and_then(|c| c.value);
                        last = Some(Event::Tool {
                            name: call
                                .as_ref()
                                .and_then(|c| c.name.as_deref())
                                .unwrap_or("tool")
                                .to_string(),
                            target: call
                                .and_then(|c| c.arguments)
                                .map(|a| a.text())
                                .unwrap_or_default(),
                        });
                    }
                    _ => {}
                }
            }
            last
        }
        "error" => {
            p.usage.is_error = true;
            let e = l.error.map(|e| e.into_owned()).unwrap_or_default();
            p.usage.set_final(&e);
            Some(Event::Error(e))
        }
        "complete" => {
            let (i, o) = (l.input_tokens.unwrap_or(0), l.output_tokens.unwrap_or(0));
            if i + o > 0 {
                p.usage.input_tokens = i;
                p.usage.output_tokens = o;
            } else if let Some(t) = l.total_tokens {
                // Only a total: count it as input, so max_tokens still holds.
                p.usage.input_tokens = t;
                p.usage.output_tokens = 0;
            }
            let ok = !p.usage.is_error;
            Some(Event::Finished {
                ok,
                summary: String::new(),
            })
        }
        _ => None,
    })
}
