//! cursor-agent's `--print --output-format stream-json` (its CLI docs, "Output format"):
//! `system`/`assistant`/`result` lines shaped like Claude Code's (see [`super::claude`]),
//! plus `tool_call` lines, subtype `started` or `completed`, whose `tool_call` object
//! holds one `<kind>ToolCall` entry (`shellToolCall`, `readToolCall`, `editToolCall`,
//! ...) with its `args`.

use serde::Deserialize;
use std::borrow::Cow;
use std::collections::BTreeMap;

use super::{Event, Parser, Target};

#[derive(Deserialize)]
struct Line<'a> {
    #[serde(borrow, rename = "type")]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    subtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    tool_call: BTreeMap<Cow<'a, str>, Call<'a>>,
}

#[derive(Deserialize)]
struct Call<'a> {
    #[serde(borrow, default)]
    args: Option<Target<'a>>,
}

pub(super) fn feed(p: &mut Parser, line: &str) -> Result<Option<Event>, ()> {
    // The type is read first, cheaply; only `tool_call` lines are cursor's own.
    if !line.contains("\"tool_call\"") {
        return super::claude::feed(p, line);
    }
    let l: Line = super::json(line)?;
    if l.kind != "tool_call" {
        return super::claude::feed(p, line);
    }
    if l.subtype.as_deref() != Some("started") {
        return Ok(None);
    }
    Ok(l.tool_call.into_iter().next().map(|(kind, call)| {
        let name = kind.strip_suffix("ToolCall").unwrap_or(&kind).to_string();
        Event::Tool {
            name,
            target: call.args.map(|a| a.text()).unwrap_or_default(),
        }
    }))
}
