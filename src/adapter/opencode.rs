//! `opencode run --format json`: one event per line, each with `type`, `timestamp`,
//! `sessionID` and a `part`: `step_start`, `text` (`part.text`), `tool_use`
//! (`part.tool`, `part.state.input`), `step_finish` (`part.cost` in USD and
//! `part.tokens` with `input`, `output`, `reasoning`, `cache.read`, `cache.write`, for
//! that step), `error` (`error.name`, `error.data.message`).

use serde::Deserialize;
use std::borrow::Cow;

use super::{Event, Parser, Target};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default, rename = "sessionID")]
    session: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    part: Option<Part<'a>>,
    #[serde(borrow, default)]
    error: Option<ErrorBody<'a>>,
}

#[derive(Deserialize)]
struct Part<'a> {
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    state: Option<State<'a>>,
    #[serde(default)]
    cost: Option<f64>,
    #[serde(default)]
    tokens: Option<Tokens>,
}

#[derive(Deserialize)]
struct State<'a> {
    #[serde(borrow, default)]
    input: Option<Target<'a>>,
}

#[derive(Deserialize)]
struct Tokens {
    #[serde(default)]
    input: u64,
    #[serde(default)]
    output: u64,
    #[serde(default)]
    reasoning: u64,
    #[serde(default)]
    cache: Option<Cache>,
}

#[derive(Deserialize)]
struct Cache {
    #[serde(default)]
    read: u64,
    #[serde(default)]
    write: u64,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<ErrorData<'a>>,
}

#[derive(Deserialize)]
struct ErrorData<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

pub(super) fn feed(p: &mut Parser, line: &str) -> Result<Option<Event>, ()> {
    let l: Line = super::json(line)?;
    let first = p.usage.session_id.is_none();
    if let Some(s) = &l.session {
        p.usage.session_id = Some(s.to_string());
    }
    let started = match (&l.session, first) {
        (Some(s), true) => Some(Event::Started {
            session: s.to_string(),
            model: None,
        }),
        _ => None,
    };
    let part = l.part;
    Ok(match l.kind.as_ref() {
        "text" => {
            let t = part.and_then(|p| p.text).unwrap_or_default();
            p.usage.set_final(&t);
            Some(Event::Message(t.into_owned()))
        }
        "tool_use" => part.map(|pt| Event::Tool {
            name: pt.tool.as_deref().unwrap_or("tool").to_string(),
            target: pt
                .state
                .and_then(|s| s.input)
                .map(|i| i.text())
                .unwrap_or_default(),
        }),
        "step_finish" => {
            p.usage.turns = Some(p.usage.turns.unwrap_or(0).saturating_add(1));
            if let Some(pt) = part {
                if let Some(c) = pt.cost {
                    p.usage.add_cost(c);
                }
                if let Some(t) = pt.tokens {
                    let (read, write) = t.cache.map_or((0, 0), |c| (c.read, c.write));
                    p.usage.add_tokens(
                        t.input.saturating_add(write),
                        t.output.saturating_add(t.reasoning),
                        read,
                    );
                }
            }
            started
        }
        "error" => {
            p.usage.is_error = true;
            let e = l.error;
            let msg = e
                .as_ref()
                .and_then(|e| e.data.as_ref())
                .and_then(|d| d.message.as_deref())
                .or(e.as_ref().and_then(|e| e.name.as_deref()))
                .unwrap_or("error")
                .to_string();
            p.usage.set_final(&msg);
            Some(Event::Error(msg))
        }
        _ => started,
    })
}
