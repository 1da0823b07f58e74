//! Budgets: what a task's agent may spend (`max_cost` in USD, `max_tokens`), and what a
//! whole batch may (`spawn --max-cost`). The agent's own reports are the measure (see
//! [`crate::adapter`]): each line it prints updates its attempt's spend, and once that
//! passes a limit the agent is stopped like a timeout and the task fails with the
//! reason `budget`. A task not yet started when the batch's budget is spent stays
//! pending. An agent that reports nothing cannot be held to a budget; spawn says so once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::adapter::{Format, Parser, Usage};

/// The value of a `max_cost`: a non-negative number of US dollars (`0.50`, `$2`).
pub fn parse_cost(s: &str) -> Option<f64> {
    let s = s.trim();
    let s = s.strip_prefix('$').unwrap_or(s);
    s.parse::<f64>().ok().filter(|c| c.is_finite() && *c >= 0.0)
}

/// The value of a `max_tokens`: a whole number, with an optional `k` or `M` (`200k`).
pub fn parse_tokens(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 1_000u64),
        b'm' | b'M' => (&s[..s.len() - 1], 1_000_000u64),
        _ => (s, 1),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// A task's limits; `None` = no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Limits {
    pub max_cost: Option<f64>,
    pub max_tokens: Option<u64>,
}

impl Limits {
    pub fn any(&self) -> bool {
        self.max_cost.is_some() || self.max_tokens.is_some()
    }

    /// Why `spent` (with `before`, what the task's earlier attempts spent) passes these
    /// limits, if it does.
    pub fn exceeded(&self, before: &Usage, spent: &Usage) -> Option<String> {
        if let (Some(max), Some(_)) = (self.max_cost, spent.cost_usd) {
            let total = before.cost_usd.unwrap_or(0.0) + spent.cost_usd.unwrap_or(0.0);
            if total > max {
                return Some(format!(
                    "budget: spent {} of max_cost {}",
                    usd(total),
                    usd(max)
                ));
            }
        }
        if let Some(max) = self.max_tokens {
            let total = before.tokens().saturating_add(spent.tokens());
            if total > max {
                return Some(format!("budget: used {total} tokens of max_tokens {max}"));
            }
        }
        None
    }
}

/// `$0.0731`: dollars with enough digits for small sums.
pub fn usd(v: f64) -> String {
    if v >= 100.0 {
        format!("${v:.0}")
    } else if v >= 1.0 {
        format!("${v:.2}")
    } else {
        format!("${v:.4}")
    }
}

/// What a batch has spent, task by task, against its `--max-cost`.
#[derive(Debug, Default)]
pub struct BatchBudget {
    max_cost: Option<f64>,
    /// Each task's spend in this batch: its finished attempts plus the running one.
    spent: Mutex<HashMap<String, (f64, f64)>>,
}

impl BatchBudget {
    pub fn new(max_cost: Option<f64>) -> BatchBudget {
        BatchBudget {
            max_cost,
            spent: Mutex::new(HashMap::new()),
        }
    }

    pub fn max_cost(&self) -> Option<f64> {
        self.max_cost
    }

    /// Task `id`'s running attempt has spent `cost` so far; `Some(why)` when the
    /// batch's budget is now passed.
    pub fn running(&self, id: &str, cost: f64) -> Option<String> {
        let max = self.max_cost?;
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        spent.entry(id.to_string()).or_default().1 = cost;
        let total: f64 = spent.values().map(|(done, run)| done + run).sum();
        (total > max).then(|| {
            format!(
                "budget: the batch spent {} of --max-cost {}",
                usd(total),
                usd(max)
            )
        })
    }

    /// Task `id`'s attempt ended having spent `cost`.
    pub fn settle(&self, id: &str, cost: f64) {
        let mut spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        let e = spent.entry(id.to_string()).or_default();
        e.0 += cost;
        e.1 = 0.0;
    }

    /// Whether the batch's budget is spent: no further task starts.
    pub fn spent_out(&self) -> bool {
        let Some(max) = self.max_cost else {
            return false;
        };
        let spent = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        spent.values().map(|(d, r)| d + r).sum::<f64>() >= max
    }
}

/// Follows one attempt's agent output: its parser, the activity the live line shows,
/// and the budgets it is held to.
pub struct Watch<'a> {
    id: &'a str,
    parser: Parser,
    limits: Limits,
    /// What the task's earlier attempts in this batch spent.
    before: Usage,
    batch: &'a BatchBudget,
    last: String,
    cost_seen: Option<f64>,
    /// Why the agent must stop, once a budget is passed.
    pub over: Option<String>,
    /// The attempt's number.
    pub attempt: u32,
}

impl<'a> Watch<'a> {
    pub fn new(
        id: &'a str,
        attempt: u32,
        format: Format,
        limits: Limits,
        before: Usage,
        batch: &'a BatchBudget,
    ) -> Watch<'a> {
        Watch {
            id,
            parser: Parser::new(format),
            limits,
            before,
            batch,
            last: String::new(),
            cost_seen: None,
            over: None,
            attempt,
        }
    }

    /// One line of the agent's output: the live line's new text, if it changed. Sets
    /// [`Watch::over`] once a budget is passed.
    pub fn line(&mut self, line: &str) -> Option<String> {
        let live = self.parser.feed(line).and_then(|e| e.live());
        if self.over.is_none() {
            let u = self.parser.usage();
            self.over = self.limits.exceeded(&self.before, u);
            // The batch's tally only when the agent's reported cost moved.
            if self.over.is_none() && u.cost_usd != self.cost_seen {
                self.cost_seen = u.cost_usd;
                self.over = self.batch.running(self.id, u.cost_usd.unwrap_or(0.0));
            }
        }
        let live = live.map(|l| crate::adapter::cut(&l, 200).to_string())?;
        if live == self.last {
            return None;
        }
        self.last.clone_from(&live);
        Some(live)
    }

    pub fn usage(&self) -> &Usage {
        self.parser.usage()
    }

    pub fn into_usage(self) -> Usage {
        self.parser.into_usage()
    }
}

/// What cannot be held to a budget, said once before a batch runs: tasks with a budget
/// whose agent reports nothing (plain text), or no cost when a cost limit is set.
pub fn unenforceable<'t>(
    tasks: impl IntoIterator<Item = (&'t str, Option<Format>, Limits)>,
    batch_max_cost: Option<f64>,
) -> Vec<String> {
    let (mut silent, mut no_cost) = (Vec::new(), Vec::new());
    for (id, format, limits) in tasks {
        let wants_cost = limits.max_cost.is_some() || batch_max_cost.is_some();
        match format {
            None if limits.any() || wants_cost => silent.push(id),
            Some(f) if wants_cost && !f.reports_cost() => no_cost.push(id),
            _ => {}
        }
    }
    let mut out = Vec::new();
    if !silent.is_empty() {
        out.push(format!(
            "no budget holds for {}: its agent reports no spend (plain-text output; a custom \
             command opts in with `output: FORMAT`)",
            silent.join(", ")
        ));
    }
    if !no_cost.is_empty() {
        out.push(format!(
            "no cost limit holds for {}: its agent reports tokens, not dollars (use max_tokens)",
            no_cost.join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_cost("0.5"), Some(0.5));
        assert_eq!(parse_cost("$2"), Some(2.0));
        for bad in ["-1", "abc", "", "NaN", "inf", "1e999"] {
            assert_eq!(parse_cost(bad), None, "{bad}");
        }
        assert_eq!(parse_tokens("200k"), Some(200_000));
        assert_eq!(parse_tokens("3M"), Some(3_000_000));
        assert_eq!(parse_tokens("42"), Some(42));
        for bad in ["-5", "1.5k", "k", "", "ten", "99999999999999999999"] {
            assert_eq!(parse_tokens(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_and_batches() {
        let l = Limits {
            max_cost: Some(0.10),
            max_tokens: Some(1000),
        };
        let mut u = Usage {
            cost_usd: Some(0.05),
            input_tokens: 500,
            ..Usage::default()
        };
        assert_eq!(l.exceeded(&Usage::default(), &u), None);
        u.cost_usd = Some(0.11);
        assert!(
            l.exceeded(&Usage::default(), &u)
                .unwrap()
                .contains("max_cost")
        );
        u.cost_usd = None;
        u.output_tokens = 501;
        assert!(
            l.exceeded(&Usage::default(), &u)
                .unwrap()
                .contains("max_tokens")
        );
        let before = Usage {
            cost_usd: Some(0.08),
            ..Usage::default()
        };
        let now = Usage {
            cost_usd: Some(0.03),
            ..Usage::default()
        };
        assert!(
            l.exceeded(&before, &now).is_some(),
            "earlier attempts count"
        );

        let b = BatchBudget::new(Some(1.0));
        assert_eq!(b.running("a", 0.4), None);
        assert_eq!(b.running("b", 0.5), None);
        assert!(!b.spent_out());
        b.settle("a", 0.4);
        assert!(b.running("b", 0.7).is_some());
        assert!(b.spent_out());
        assert!(!BatchBudget::new(None).spent_out());
    }
}
