//! Waiting for tasks to end (`git agents wait`), from any process.
//!
//! The store's records are the truth: a task has ended once its record leaves
//! `pending`/`running`, or its supervisor is gone (then it reads `interrupted`, as `list`
//! says). Reading a few small records ten times a second costs next to nothing, works the
//! same for foreground and detached batches, and needs no event log.

use anyhow::Result;
use std::time::{Duration, Instant};

use crate::store::Store;
use crate::task::State;

/// How often the records are read.
const POLL: Duration = Duration::from_millis(100);

/// How the wait ended.
#[derive(Debug, Default)]
pub struct Waited {
    /// Each task that ended, in the order they did, with its final state; `None` when its
    /// record went away (a claim withdrawn before the task ever started).
    pub ended: Vec<(String, Option<State>)>,
    /// The tasks still running when the wait stopped (a timeout or Ctrl-C).
    pub running: Vec<String>,
}

impl Waited {
    /// Whether every task ended and in a state that counts as success (SPEC §6).
    pub fn all_ok(&self) -> bool {
        self.running.is_empty()
            && self
                .ended
                .iter()
                .all(|(_, s)| s.is_some_and(State::is_success))
    }
}

/// The ids of the tasks running now (pending or running, supervisor alive).
pub fn running(store: &Store) -> Result<Vec<String>> {
    Ok(store
        .all()?
        .into_iter()
        .filter(|r| !r.pruned && matches!(r.process_state(), State::Pending | State::Running))
        .map(|r| r.id)
        .collect())
}

/// Wait until every task of `ids` has ended, `deadline` passes, or `give_up` says so;
/// `on_end` hears of each task as it ends.
pub fn wait(
    store: &Store,
    ids: &[String],
    deadline: Option<Instant>,
    give_up: impl Fn() -> bool,
    mut on_end: impl FnMut(&str, Option<State>),
) -> Result<Waited> {
    let mut out = Waited::default();
    let mut left: Vec<String> = ids.to_vec();
    loop {
        let mut still = Vec::new();
        for id in left {
            let state = store.load(&id)?.map(|r| r.process_state());
            match state {
                Some(State::Pending | State::Running) => still.push(id),
                s => {
                    on_end(&id, s);
                    out.ended.push((id, s));
                }
            }
        }
        left = still;
        if left.is_empty() || give_up() || deadline.is_some_and(|d| Instant::now() >= d) {
            out.running = left;
            return Ok(out);
        }
        let nap = deadline.map_or(POLL, |d| {
            d.saturating_duration_since(Instant::now()).min(POLL)
        });
        std::thread::sleep(nap);
    }
}
