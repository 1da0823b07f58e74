//! `codex exec --json` (codex-rs/exec/src/exec_events.rs): `thread.started` (its
//! `thread_id` is the session `codex exec resume` takes), `turn.started`,
//! `turn.completed` with the turn's `usage` (`input_tokens`, `cached_input_tokens`,
//! `output_tokens`), `turn.failed`, `item.started`/`item.updated`/`item.completed` with
//! an `item` typed `agent_message`, `reasoning`, `command_execution`, `file_change`,
//! `mcp_tool_call`, `web_search`, `todo_list` or `error`, and `error`. Codex reports no
//! cost.

use serde::Deserialize;
use std::borrow::Cow;

use super::{Event, Parser};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    thread_id: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<Tokens>,
    #[serde(borrow, default)]
    item: Option<Item<'a>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<ErrorBody<'a>>,
}

#[derive(Deserialize)]
struct Tokens {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    cached_input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
}

#[derive(Deserialize)]
struct ErrorBody<'a> {
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    command: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    changes: Vec<Change<'a>>,
    #[serde(borrow, default)]
    server: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    query: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Change<'a> {
    #[serde(borrow)]
    path: Cow<'a, str>,
}

pub(super) fn feed(p: &mut Parser, line: &str) -> Result<Option<Event>, ()> {
    let l: Line = super::json(line)?;
    Ok(match l.kind.as_ref() {
        "thread.started" => {
            let id = l.thread_id.as_deref().unwrap_or("?").to_string();
            p.usage.session_id = Some(id.clone());
            Some(Event::Started {
                session: id,
                model: None,
            })
        }
        "turn.completed" => {
            p.usage.turns = Some(p.usage.turns.unwrap_or(0).saturating_add(1));
            if let Some(u) = l.usage {
                // Codex counts cache reads inside input_tokens.
                p.usage
                    .add_tokens(u.input_tokens, u.output_tokens, u.cached_input_tokens);
            }
            None
        }
        "turn.failed" => {
            p.usage.is_error = true;
            let msg = l
                .error
                .and_then(|e| e.message)
                .map(|m| m.into_owned())
                .unwrap_or_else(|| "turn failed".into());
            p.usage.set_final(&msg);
            Some(Event::Finished {
                ok: false,
                summary: msg,
            })
        }
        "error" => Some(Event::Error(
            l.message.map(|m| m.into_owned()).unwrap_or_default(),
        )),
        "item.started" | "item.completed" => {
            let Some(item) = l.item else {
                return Ok(None);
            };
            let started = l.kind == "item.started";
            match item.kind.as_ref() {
                "agent_message" if !started => {
                    let t = item.text.unwrap_or_default();
                    p.usage.set_final(&t);
                    Some(Event::Message(t.into_owned()))
                }
                "command_execution" if started => Some(Event::Tool {
                    name: "shell".into(),
                    target: item.command.unwrap_or_default().into_owned(),
                }),
                "file_change" if !started => Some(Event::Tool {
                    name: "edit".into(),
                    target: item
                        .changes
                        .iter()
                        .map(|c| c.path.as_ref())
                        .collect::<Vec<_>>()
                        .join(" "),
                }),
                "mcp_tool_call" if started => Some(Event::Tool {
                    name: format!(
                        "{}.{}",
                        item.server.unwrap_or_default(),
                        item.tool.unwrap_or_default()
                    ),
                    target: String::new(),
                }),
                "web_search" if started => Some(Event::Tool {
                    name: "web_search".into(),
                    target: item.query.unwrap_or_default().into_owned(),
                }),
                "error" => Some(Event::Error(item.message.unwrap_or_default().into_owned())),
                _ => None,
            }
        }
        _ => None,
    })
}
