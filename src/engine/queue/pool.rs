//! The merge checks' scratch worktrees, kept for the whole queue: a check takes one,
//! moves it to its candidate (only the files that differ change, then everything
//! untracked goes, so it holds what a fresh checkout would) and gives it back. A long
//! queue on a big repository pays for one checkout per parallel check, not per check.
//!
//! Checks line up for a worktree in the queue's order ([`Pool::ticket`]: the task nearest
//! the head of the queue first) and are served in that order, each with whichever
//! worktree is free first: one a check gave back, or a new one. New worktrees are made
//! while more checks wait than worktrees are free or being made, each at the commit of
//! the check it will most likely serve, and (in the speculative queue) on threads of
//! their own ([`Pool::fill`]), so a check stopped while it waits ends at once. They are
//! made all at once, up front: on a slow filesystem a checkout running beside the
//! checks holds up their moves (measured: `git reset --hard` of a few files waited
//! seconds for two checkouts to end), and one made first, alone, then the others while
//! checks run, was slower end to end than all at once. Once the queue has fewer checks
//! left than worktrees, the free ones beyond that are removed while the last checks run
//! ([`Pool::trim`]), not at the end.
//!
//! They live under the state dir as `pool-K.PID`, so the leftovers of a merge that was
//! killed are removed by the next merge or `prune` ([`super::clean_scratch`]).
//! `GIT_AGENTS_MERGE_SCRATCH=fresh` makes a new one for every check and removes it
//! afterwards (how the queue worked before; the benchmark compares the two).

use anyhow::Result;
use gix::ObjectId;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread::Scope;

use super::check::Cancel;
use super::scratch::{remove_scratch, scratch_root, trash_scratch};
use crate::engine::cleanup::Trash;
use crate::git::{self, Repo};
use crate::store::Store;

pub struct Pool {
    root: PathBuf,
    fresh: bool,
    state: Mutex<State>,
    turn: Condvar,
    elsewhere: AtomicBool,
    /// Where removed worktrees go: their files are deleted in the background once the
    /// queue ends ([`Pool::clear`]), not while the merge waits.
    trash: Trash,
}

#[derive(Default)]
struct State {
    free: Vec<Slot>,
    made: usize,
    all: Vec<PathBuf>,
    /// Checkouts of new worktrees under way.
    making: usize,
    /// Checks waiting for a worktree, served smallest first, with the commit each
    /// wants.
    waiting: BTreeMap<Ticket, String>,
    /// Why the last new worktree could not be made, for the first check in line.
    failed: Option<String>,
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
            elsewhere: AtomicBool::new(false),
            trash: Trash::new(store),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place in the line for a worktree, for a check of queue item `item` on `commit`:
    /// taken when the check is decided on, before its thread runs, so the line keeps the
    /// queue's order. Every ticket must be passed to [`Pool::take`].
    pub fn ticket(&self, item: usize, commit: ObjectId) -> Ticket {
        let mut st = self.state();
        st.issued += 1;
        let t = Ticket(item, st.issued);
        st.waiting.insert(t, commit.to_string());
        t
    }

    /// New worktrees are made by [`Pool::claim_make`] and [`Pool::finish_make`] on
    /// threads of the caller's, not by the checks waiting for them (unless none is being
    /// made): a check stopped while it waits then ends at once.
    pub fn make_elsewhere(&self) {
        self.elsewhere.store(true, Ordering::SeqCst);
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
            let Some(slot) = self.wait_turn(repo, ticket, cancel)? else {
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
                    self.state().waiting.insert(ticket, hex.clone());
                }
            }
        }
    }

    /// Wait until `ticket` is first in line and a worktree is free. A new worktree goes
    /// to whoever is first in line when it is whole, not to the check it was made for: a
    /// check nearer the head may have asked since.
    fn wait_turn(
        &self,
        repo: &Repo,
        ticket: Ticket,
        cancel: Option<&Cancel>,
    ) -> Result<Option<Slot>> {
        let mut st = self.state();
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
            {
                if let Some(slot) = st.free.pop() {
                    st.waiting.remove(&ticket);
                    drop(st);
                    self.turn.notify_all();
                    return Ok(Some(slot));
                }
                if let Some(why) = st.failed.take() {
                    st.waiting.remove(&ticket);
                    drop(st);
                    self.turn.notify_all();
                    return Err(anyhow::anyhow!(why));
                }
            }
            let inline = !self.elsewhere.load(Ordering::SeqCst) || st.making == 0;
            if inline && let Some((dir, at)) = Self::wanted(&self.root, &mut st) {
                drop(st);
                let _ = self.finish_make(repo, &dir, &at);
                st = self.state();
                continue;
            }
            st = self.turn.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Claim the next worktree to make, and the commit to make it at, when more checks
    /// wait than worktrees are free or being made.
    pub fn claim_make(&self) -> Option<(PathBuf, String)> {
        Self::wanted(&self.root, &mut self.state())
    }

    fn wanted(root: &Path, st: &mut State) -> Option<(PathBuf, String)> {
        let served = st.free.len() + st.making;
        // At the commit of the first in line that the worktrees free or under way will
        // not serve: it will most likely take this one, with nothing to move.
        let at = st.waiting.values().nth(served)?.clone();
        Some((Self::claim(root, st), at))
    }

    /// Make the worktree [`Pool::claim_make`] claimed and add it to the free ones. A
    /// failure goes to the first check in line.
    pub fn finish_make(&self, repo: &Repo, dir: &Path, at: &str) -> Result<()> {
        let made = self.make(repo, dir, at);
        let mut st = self.state();
        st.making -= 1;
        match &made {
            Ok(()) => st.free.push(Slot {
                dir: dir.to_path_buf(),
                clean_at: Some(at.to_string()),
            }),
            Err(e) => {
                st.all.retain(|d| d != dir);
                st.failed = Some(format!("{e:#}"));
            }
        }
        drop(st);
        self.turn.notify_all();
        made
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
        self.discard(repo, dir);
        self.state().all.retain(|d| d != dir);
    }

    /// Remove a worktree of the pool: into the trash, or (`GIT_AGENTS_MERGE_SCRATCH=fresh`,
    /// the old way the benchmark compares with, or when the trash cannot take it) on the
    /// spot.
    fn discard(&self, repo: &Repo, dir: &Path) {
        if self.fresh || trash_scratch(repo, dir, &self.trash).is_err() {
            remove_scratch(repo, dir);
        }
    }

    /// Make the worktrees the pool wants ([`Pool::claim_make`]), each on a thread of
    /// `scope`: a check stopped while it waits for one ends at once, and the next check
    /// of its task need not wait for a checkout to finish. Each such thread looks again
    /// once its worktree is whole.
    pub fn fill<'s, 'e>(&'e self, scope: &'s Scope<'s, 'e>, repo: &'e Repo) {
        while let Some((dir, at)) = self.claim_make() {
            scope.spawn(move || {
                let _ = self.finish_make(repo, &dir, &at);
                self.fill(scope, repo);
            });
        }
    }

    /// Remove, on a thread of `scope`, the free worktrees beyond `keep` (the most checks
    /// the queue may still run): the last checks run meanwhile.
    pub fn trim<'s, 'e>(&'e self, scope: &'s Scope<'s, 'e>, repo: &'e Repo, keep: usize) {
        let mut extra = Vec::new();
        {
            let mut st = self.state();
            while st.all.len() > keep
                && let Some(slot) = st.free.pop()
            {
                st.all.retain(|d| *d != slot.dir);
                extra.push(slot.dir);
            }
        }
        if !extra.is_empty() {
            scope.spawn(move || {
                for dir in extra {
                    self.discard(repo, &dir);
                }
            });
        }
    }

    /// Remove every scratch worktree this pool made (the end of the queue).
    pub fn clear(&self, repo: &Repo) {
        let dirs = {
            let mut st = self.state();
            st.free.clear();
            std::mem::take(&mut st.all)
        };
        for d in dirs {
            self.discard(repo, &d);
        }
        // Their files go in the background; a merge killed before this leaves its trash
        // to the next prune, like prune's own.
        let _ = self.trash.empty_in_background(Vec::new());
    }
}
