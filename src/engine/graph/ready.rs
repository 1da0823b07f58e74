//! The scheduler's view of a batch's graph: tasks handed out as their dependencies end.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::{Blocked, Status, status};
use crate::engine::plan::Planned;
use crate::store::Store;
use crate::task::State;

/// What the scheduler hands a slot.
pub enum Next {
    Run(Box<Planned>),
    /// A dependency failed (or conflicts): end the task unstarted.
    Blocked(Box<Planned>, Blocked),
    /// Interrupted before its turn: withdraw its claim.
    Unclaim(Box<Planned>),
}

/// A batch's tasks in dependency order, handed out as they become ready.
pub struct Ready<'a> {
    store: &'a Store,
    inner: Mutex<Inner>,
    wake: Condvar,
}

struct Inner {
    waiting: Vec<Planned>,
    /// Members of each unit (task, or best-of-N group) of this batch not yet ended.
    left: HashMap<String, usize>,
    /// Units ended: done or not (and why not).
    ended: HashMap<String, Status>,
}

fn unit(p: &Planned) -> String {
    p.candidate_of.clone().unwrap_or_else(|| p.id.to_string())
}

impl<'a> Ready<'a> {
    pub fn new(store: &'a Store, mut tasks: Vec<Planned>) -> Ready<'a> {
        // The longest chains first: of the tasks ready at once, the one with the most
        // tasks waiting behind it starts first (otherwise in the order asked).
        let height = heights(&tasks);
        tasks.sort_by_key(|t| std::cmp::Reverse(height.get(&unit(t)).copied().unwrap_or(0)));
        let mut left = HashMap::new();
        for t in &tasks {
            *left.entry(unit(t)).or_insert(0) += 1;
        }
        Ready {
            store,
            inner: Mutex::new(Inner {
                waiting: tasks,
                left,
                ended: HashMap::new(),
            }),
            wake: Condvar::new(),
        }
    }

    /// The next task a free slot runs; None when every task was handed out. Waits while
    /// the tasks left wait for others.
    pub fn next(&self) -> Option<Next> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if inner.waiting.is_empty() {
                return None;
            }
            if crate::supervise::interrupted() {
                let t = inner.waiting.remove(0);
                return Some(Next::Unclaim(Box::new(t)));
            }
            let mut pick = None;
            for (i, t) in inner.waiting.iter().enumerate() {
                match self.verdict(&inner, t) {
                    Verdict::Ready => {
                        pick = Some((i, None));
                        break;
                    }
                    Verdict::Blocked(b) => {
                        pick = Some((i, Some(b)));
                        break;
                    }
                    Verdict::Wait => {}
                }
            }
            if let Some((i, blocked)) = pick {
                let t = Box::new(inner.waiting.remove(i));
                return Some(match blocked {
                    None => Next::Run(t),
                    Some(b) => Next::Blocked(t, b),
                });
            }
            // Woken when a task ends; a dependency outside this batch is looked at
            // again now and then.
            inner = self
                .wake
                .wait_timeout(inner, Duration::from_millis(200))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn verdict(&self, inner: &Inner, t: &Planned) -> Verdict {
        let mut bad = Vec::new();
        let mut wait = false;
        for d in &t.deps {
            let st = if inner.left.contains_key(d) {
                match inner.ended.get(d) {
                    Some(s) => s.clone(),
                    None => Status::Running,
                }
            } else {
                status(self.store, d)
            };
            match st {
                Status::Done => {}
                Status::Running => wait = true,
                Status::Interrupted => bad.push((d.clone(), "interrupted".to_string())),
                Status::Unspawned => bad.push((d.clone(), "not spawned".to_string())),
                Status::Bad(why) => bad.push((d.clone(), why)),
            }
        }
        if !bad.is_empty() {
            let by: Vec<String> = bad.iter().map(|(d, _)| d.clone()).collect();
            let said: Vec<String> = bad.iter().map(|(d, why)| format!("{d} ({why})")).collect();
            return Verdict::Blocked(Blocked {
                by,
                detail: format!("blocked by {}", said.join(", ")),
            });
        }
        if wait { Verdict::Wait } else { Verdict::Ready }
    }

    /// Take every task not handed out yet (the batch stops starting tasks).
    pub fn drain(&self) -> Vec<Planned> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let all = std::mem::take(&mut inner.waiting);
        drop(inner);
        self.wake.notify_all();
        all
    }

    /// Task `t` ended in `state`. Returns the best-of-N group whose last candidate this
    /// was: the caller chooses its winner, then calls [`Ready::group_ended`].
    pub fn ended(&self, t: &Planned, state: State) -> Option<String> {
        let u = unit(t);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let left = inner.left.entry(u.clone()).or_insert(1);
        *left = left.saturating_sub(1);
        let last = *left == 0;
        if !last {
            return None;
        }
        if t.candidate_of.is_some() {
            return Some(u);
        }
        let st = if state.is_success() {
            Status::Done
        } else {
            Status::Bad(state.to_string())
        };
        inner.ended.insert(u, st);
        drop(inner);
        self.wake.notify_all();
        None
    }

    /// A best-of-N group ended: with a winner (`done`) or without.
    pub fn group_ended(&self, group: &str, done: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let st = if done {
            Status::Done
        } else {
            Status::Bad("no candidate succeeded".into())
        };
        inner.ended.insert(group.to_string(), st);
        drop(inner);
        self.wake.notify_all();
    }

    /// The tasks that wait for a dependency now (told as a phase at the batch's start).
    pub fn waiting_now(&self) -> Vec<(String, u32)> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner
            .waiting
            .iter()
            .filter(|t| !t.deps.is_empty() && matches!(self.verdict(&inner, t), Verdict::Wait))
            .map(|t| (t.id.to_string(), t.first_attempt))
            .collect()
    }
}

enum Verdict {
    Ready,
    Wait,
    Blocked(Blocked),
}

/// Per unit of the batch, the length of the longest chain of the batch's tasks that
/// wait for it, itself included.
fn heights(tasks: &[Planned]) -> HashMap<String, usize> {
    let mut dependants: HashMap<String, Vec<String>> = HashMap::new();
    for t in tasks {
        for d in &t.deps {
            dependants.entry(d.clone()).or_default().push(unit(t));
        }
    }
    fn height(
        u: &str,
        dependants: &HashMap<String, Vec<String>>,
        memo: &mut HashMap<String, usize>,
        depth: usize,
    ) -> usize {
        if let Some(h) = memo.get(u) {
            return *h;
        }
        // The manifest has no cycles; the bound only guards against a hand-edited store.
        let below = if depth > 256 {
            0
        } else {
            dependants
                .get(u)
                .into_iter()
                .flatten()
                .map(|d| height(d, dependants, memo, depth + 1))
                .max()
                .unwrap_or(0)
        };
        memo.insert(u.to_string(), below + 1);
        below + 1
    }
    let mut memo = HashMap::new();
    for t in tasks {
        height(&unit(t), &dependants, &mut memo, 0);
    }
    memo
}
