//! Budgets: what a task's agent may spend (`max_cost` in USD, `max_tokens`), and what a
//! whole batch may (`spawn --max-cost`). The agent's own reports are the measure (see
//! [`crate::adapter`]): each line it prints updates its attempt's spend, and once that
//! passes a limit the agent is stopped like a timeout and the task fails with the
//! reason `budget`. A task not yet started when the batch's budget is spent stays
//! pending. An agent that reports nothing cannot be held to a budget; spawn says so once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::adapter::Usage;

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
        assert!(l.exceeded(&Usage::default(), &u).unwrap().contains("max_cost"));
        u.cost_usd = None;
        u.output_tokens = 501;
        assert!(l.exceeded(&Usage::default(), &u).unwrap().contains("max_tokens"));
        let before = Usage {
            cost_usd: Some(0.08),
            ..Usage::default()
        };
        let now = Usage {
            cost_usd: Some(0.03),
            ..Usage::default()
        };
        assert!(l.exceeded(&before, &now).is_some(), "earlier attempts count");

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
