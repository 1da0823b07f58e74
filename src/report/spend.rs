//! What tasks' agents reported spending, as cells, JSON and the batch's total line.

use serde_json::{Value, json};

use crate::adapter::Usage;
use crate::engine::budget::usd;
use crate::store::Record;

/// The COST cell: the agents' reported dollars over all attempts, `-` when none.
pub fn cost_cell(rec: &Record) -> String {
    rec.usage()
        .and_then(|u| u.cost_usd)
        .map(usd)
        .unwrap_or_else(|| "-".into())
}

/// The TOKENS cell: `12.4k in / 242 out / 35.7k cached`, `-` when none were reported.
pub fn tokens_cell(rec: &Record) -> String {
    match rec.usage().filter(Usage::reported) {
        Some(u) => format!(
            "{} in / {} out / {} cached",
            count(u.input_tokens),
            count(u.output_tokens),
            count(u.cached_tokens)
        ),
        None => "-".into(),
    }
}

/// `1.2k`, `3.4M`: a token count in a few characters.
pub fn count(n: u64) -> String {
    match n {
        0..1000 => n.to_string(),
        1000..1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// The JSON of a task's spend: totals over its attempts (`null` when no agent reported
/// anything), and the last attempt's session, turns, final message and error flag.
pub fn usage_json(rec: &Record) -> Value {
    match rec.usage() {
        None => Value::Null,
        Some(u) => {
            let last = rec.attempts.iter().rev().find_map(|a| a.usage.as_ref());
            json!({
                "cost_usd": u.cost_usd,
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cached_tokens": u.cached_tokens,
                "turns": u.turns,
                "session_id": last.and_then(|l| l.session_id.clone()),
                "final_message": last.and_then(|l| l.final_message.clone()),
                "is_error": last.is_some_and(|l| l.is_error),
            })
        }
    }
}

/// The batch's total: `total: $0.0912 over 2 of 3 tasks, 48.2k tokens`; `None` when no
/// agent reported anything.
pub fn total_line(records: &[Record]) -> Option<String> {
    let each: Vec<Usage> = records.iter().filter_map(Record::usage).collect();
    let reported: Vec<&Usage> = each.iter().filter(|u| u.reported()).collect();
    if reported.is_empty() {
        return None;
    }
    let total = Usage::total(reported.iter().copied());
    let costed = reported.iter().filter(|u| u.cost_usd.is_some()).count();
    let cost = match total.cost_usd {
        Some(c) => format!(
            "{} over {costed} of {} task{}",
            usd(c),
            records.len(),
            if records.len() == 1 { "" } else { "s" }
        ),
        None => "no cost reported".into(),
    };
    Some(format!(
        "total: {cost}, {} tokens in / {} out / {} cached",
        count(total.input_tokens),
        count(total.output_tokens),
        count(total.cached_tokens)
    ))
}

/// `show`'s lines about what the agents reported: cost, tokens, turns, session, why
/// the task stopped (`budget`), the agent's own error flag and final message.
pub fn spend_fields(rec: &Record) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if let Some(reason) = &rec.reason {
        out.push(("reason", reason.clone()));
    }
    let Some(u) = rec.usage() else {
        return out;
    };
    let last = rec.attempts.iter().rev().find_map(|a| a.usage.as_ref());
    let attempts = rec.attempts.iter().filter(|a| a.usage.is_some()).count();
    let over = if attempts > 1 {
        format!(" over {attempts} attempts")
    } else {
        String::new()
    };
    out.push((
        "cost",
        match u.cost_usd {
            Some(c) => format!("{}{over}", usd(c)),
            None => "not reported by the agent".into(),
        },
    ));
    if u.reported() {
        out.push(("tokens", tokens_cell(rec)));
    }
    if let Some(t) = u.turns {
        out.push(("turns", t.to_string()));
    }
    if let Some(s) = last.and_then(|l| l.session_id.as_deref()) {
        out.push(("session", s.to_string()));
    }
    if last.is_some_and(|l| l.is_error) {
        out.push(("agent error", "yes (the agent said it failed)".into()));
    }
    if let Some(m) = last.and_then(|l| l.final_message.as_deref()) {
        out.push(("final message", m.lines().next().unwrap_or("").to_string()));
    }
    out
}
