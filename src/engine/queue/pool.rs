//! The merge checks' scratch worktrees, kept for the whole queue: a check takes one,
//! moves it to its candidate (only the files that differ change, then everything
//! untracked goes, so it holds what a fresh checkout would) and gives it back. A long
//! queue on a big repository pays for one checkout per parallel check, not per check.
//!
//! Checks line up for a worktree in the queue's order ([`Pool::ticket`]: the task nearest
//! the head of the queue first) and are served in that order, each with whichever
//! worktree is free first: one a check gave back, or a new one. New worktrees are made
//! while fewer are free or under way than checks wait: one at a time until the first is
//! whole (the head's check starts after a single checkout, not after N checkouts sharing
//! the machine), then at most [`MAKE_AT_ONCE`] at a time while checks run.
//!
//! They live under the state dir as `pool-K.PID`, so the leftovers of a merge that was
//! killed are removed by the next merge or `prune` ([`super::clean_scratch`]).
//! `GIT_AGENTS_MERGE_SCRATCH=fresh` makes a new one for every check and removes it
//! afterwards (how the queue worked before; the benchmark compares the two).

use anyhow::Result;
use gix::ObjectId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use super::check::Cancel;
use super::scratch::{remove_scratch, scratch_root};
use crate::git::{self, Repo};
use crate::store::Store;

/// How many worktrees are made at once once the first exists: a checkout of a big
/// repository is mostly the kernel creating files, and two at once already keep two
/// cores busy.
const MAKE_AT_ONCE: usize = 2;

pub struct Pool {
    root: PathBuf,
    fresh: bool,
    state: Mutex<State>,
    turn: Condvar,
}

#[derive(Default)]
struct State {
    free: Vec<Slot>,
    made: usize,
    all: Vec<PathBuf>,
    /// Checkouts of new worktrees under way.
    making: usize,
    /// Checks waiting for a worktree, served smallest first, with the commit each
    /// wants once its thread asks.
    waiting: BTreeMap<Ticket, Option<String>>,
    issued: u64,
}

/// A check's place in the line for a worktree: the item's position in the queue, then
/// the order of asking.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Ticket(usize, u64);

/// One scratch worktree, taken from the pool.
pub struct Slot {
    dir: PathBuf,
    /// The commit it holds when it is known to hold exactly that (just made).
    clean_at: Option<String>,
}

impl Slot {
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Pool {
    pub fn new(store: &Store) -> Pool {
        Pool {
            root: scratch_root(store),
            fresh: std::env::var("GIT_AGENTS_MERGE_SCRATCH").is_ok_and(|v| v == "fresh"),
            state: Mutex::new(State::default()),
            turn: Condvar::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place in the line for a worktree, for a check of queue item `item`: taken when
    /// the check is decided on, before its thread runs, so the line keeps the queue's
    /// order. Every ticket must be passed to [`Pool::take`].
    pub fn ticket(&self, item: usize) -> Ticket {
        let mut st = self.state();
        st.issued += 1;
        let t = Ticket(item, st.issued);
        st.waiting.insert(t, None);
        t
    }

    /// Wake the checks waiting for a worktree, so a cancelled one leaves the line.
    pub fn wake(&self) {
        self.turn.notify_all();
    }

    /// A scratch worktree holding `commit` (and nothing else), once `ticket`'s turn has
    /// come; `None` when `cancel` stopped the check while it waited.
    pub fn take(
        &self,
        repo: &Repo,
        commit: ObjectId,
        ticket: Ticket,
        cancel: Option<&Cancel>,
    ) -> Result<Option<Slot>> {
        let hex = commit.to_string();
        loop {
            let Some(slot) = self.wait_turn(repo, &hex, ticket, cancel)? else {
                return Ok(None);
            };
            if slot.clean_at.as_deref() == Some(hex.as_str()) {
                return Ok(Some(slot));
            }
            match git::move_scratch_to(&slot.dir, &hex) {
                Ok(()) => return Ok(Some(slot)),
                // A worktree the check broke (its .git removed, say): make a new one.
                Err(_) => {
                    self.drop_slot(repo, &slot.dir);
                    self.state().waiting.insert(ticket, Some(hex.clone()));
                }
            }
        }
    }

    /// Wait until `ticket` is first in line and a worktree is free, making new ones
    /// meanwhile while fewer are free or under way than checks wait. A new worktree goes
    /// to whoever is first in line when it is whole, not to the check that made it: a
    /// check nearer the head may have asked since.
    fn wait_turn(
        &self,
        repo: &Repo,
        commit: &str,
        ticket: Ticket,
        cancel: Option<&Cancel>,
    ) -> Result<Option<Slot>> {
        let mut st = self.state();
        if let Some(want) = st.waiting.get_mut(&ticket) {
            *want = Some(commit.to_string());
        }
        loop {
            if cancel.is_some_and(Cancel::cancelled) {
                st.waiting.remove(&ticket);
                drop(st);
                self.turn.notify_all();
                return Ok(None);
            }
            if st
                .waiting
                .first_key_value()
                .is_some_and(|(t, _)| *t == ticket)
                && let Some(slot) = st.free.pop()
            {
                st.waiting.remove(&ticket);
                drop(st);
                self.turn.notify_all();
                return Ok(Some(slot));
            }
            // Until one worktree is whole, only one is made: the head's check waits for it.
            let limit = if st.made == st.making {
                1
            } else {
                MAKE_AT_ONCE
            };
            if st.making < limit && st.free.len() + st.making < st.waiting.len() {
                // Made at the commit of the first in line that has said: it will most
                // likely take it.
                let at = st
                    .waiting
                    .values()
                    .flatten()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| commit.to_string());
                let dir = Self::claim(&self.root, &mut st);
                drop(st);
                let made = self.make(repo, &dir, &at);
                st = self.state();
                st.making -= 1;
                match made {
                    Ok(()) => st.free.push(Slot {
                        dir,
                        clean_at: Some(at),
                    }),
                    Err(e) => {
                        st.waiting.remove(&ticket);
                        drop(st);
                        self.turn.notify_all();
                        return Err(e);
                    }
                }
                self.turn.notify_all();
                continue;
            }
            st = self.turn.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Name a new worktree and count its checkout as under way.
    fn claim(root: &Path, st: &mut State) -> PathBuf {
        st.made += 1;
        st.making += 1;
        let dir = root.join(format!("pool-{}.{}", st.made, std::process::id()));
        st.all.push(dir.clone());
        dir
    }

    fn make(&self, repo: &Repo, dir: &Path, commit: &str) -> Result<()> {
        crate::store::private_dir(&self.root)?;
        if dir.exists() {
            remove_scratch(repo, dir);
        }
        git::add_scratch_worktree(&repo.root, dir, commit)?;
        // git made it with the umask's mode; like the rest of the state dir it is private.
        crate::store::private_dir(dir)
    }

    /// Done with `slot`: kept for the next check unless `ok` is false or every check
    /// gets a fresh one.
    pub fn give_back(&self, repo: &Repo, slot: Slot, ok: bool) {
        if self.fresh || !ok {
            self.drop_slot(repo, &slot.dir);
        } else {
            self.state().free.push(Slot {
                clean_at: None,
                ..slot
            });
        }
        self.turn.notify_all();
    }

    fn drop_slot(&self, repo: &Repo, dir: &Path) {
        remove_scratch(repo, dir);
        self.state().all.retain(|d| d != dir);
    }

    /// Remove every scratch worktree this pool made (the end of the queue).
    pub fn clear(&self, repo: &Repo) {
        let dirs = {
            let mut st = self.state();
            st.free.clear();
            std::mem::take(&mut st.all)
        };
        for d in dirs {
            remove_scratch(repo, &d);
        }
    }
}
