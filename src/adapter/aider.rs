//! aider has no structured output; after each exchange it prints
//! `Tokens: 2.3k sent, 1.1k cache hit, 112 received. Cost: $0.0081 message, $0.0163 session.`
//! (aider/coders/base_coder.py; `cache write`/`cache hit` only with prompt caching).
//! Token counts add up per message; the session's cost is aider's own running total.

use super::{Event, Parser};

pub(super) fn feed(p: &mut Parser, line: &str) -> Event {
    if let Some(rest) = line.strip_prefix("Tokens: ") {
        let (tokens, cost) = match rest.split_once("Cost: ") {
            Some((t, c)) => (t, Some(c)),
            None => (rest, None),
        };
        let (mut input, mut output, mut cached) = (0u64, 0u64, 0u64);
        for part in tokens.split(',') {
            let part = part.trim().trim_end_matches('.');
            let Some((num, what)) = part.split_once(' ') else {
                continue;
            };
            let Some(n) = count(num) else { continue };
            match what.trim() {
                "sent" => input = n,
                "received" => output = n,
                "cache hit" => cached = n,
                "cache write" => input = input.saturating_add(n),
                _ => {}
            }
        }
        p.usage.add_tokens(input, output, cached);
        p.usage.turns = Some(p.usage.turns.unwrap_or(0).saturating_add(1));
        if let Some(session) = cost.and_then(|c| {
            c.split(',')
                .find(|s| s.trim_end_matches('.').trim().ends_with("session"))
                .and_then(|s| s.trim().strip_prefix('$'))
                .and_then(|s| s.split_whitespace().next())
                .and_then(|s| s.parse::<f64>().ok())
        }) && session.is_finite()
            && session >= 0.0
        {
            p.usage.cost_usd = Some(session);
        }
    }
    Event::Text(super::cut(line, 4096).to_string())
}

/// `2.3k`, `112`, `1.2M` as a count.
fn count(s: &str) -> Option<u64> {
    let s = s.trim().replace(',', "");
    let (num, mult) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1e3),
        'm' | 'M' => (&s[..s.len() - 1], 1e6),
        _ => (&s[..], 1.0),
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then(|| (v * mult).round() as u64)
}
