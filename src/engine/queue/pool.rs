//! The merge checks' scratch worktrees, kept for the whole queue: a check takes one,
//! moves it to its candidate (only the files that differ change, then everything
//! untracked goes, so it holds what a fresh checkout would) and gives it back. A long
//! queue on a big repository pays for one checkout per parallel check, not per check.
//!
//! They live under the state dir as `pool-K.PID`, so the leftovers of a merge that was
//! killed are removed by the next merge or `prune` ([`super::clean_scratch`]).
//! `GIT_AGENTS_MERGE_SCRATCH=fresh` makes a new one for every check and removes it
//! afterwards (how the queue worked before; the benchmark compares the two).

use anyhow::Result;
use gix::ObjectId;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::scratch::{remove_scratch, scratch_root};
use crate::git::{self, Repo};
use crate::store::Store;

pub struct Pool {
    root: PathBuf,
    fresh: bool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    free: Vec<Slot>,
    made: usize,
    all: Vec<PathBuf>,
}

/// One scratch worktree, taken from the pool.
pub struct Slot {
    dir: PathBuf,
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
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A scratch worktree holding `commit` (and nothing else).
    pub fn take(&self, repo: &Repo, commit: ObjectId) -> Result<Slot> {
        let hex = commit.to_string();
        let reused = self.state().free.pop();
        if let Some(slot) = reused {
            match git::move_scratch_to(&slot.dir, &hex) {
                Ok(()) => return Ok(slot),
                // A worktree the check broke (its .git removed, say): make a new one.
                Err(_) => self.drop_slot(repo, &slot.dir),
            }
        }
        crate::store::private_dir(&self.root)?;
        let dir = {
            let mut st = self.state();
            st.made += 1;
            let dir = self
                .root
                .join(format!("pool-{}.{}", st.made, std::process::id()));
            st.all.push(dir.clone());
            dir
        };
        if dir.exists() {
            remove_scratch(repo, &dir);
        }
        git::add_scratch_worktree(&repo.root, &dir, &hex)?;
        // git made it with the umask's mode; like the rest of the state dir it is private.
        crate::store::private_dir(&dir)?;
        Ok(Slot { dir })
    }

    /// Done with `slot`: kept for the next check unless `ok` is false or every check
    /// gets a fresh one.
    pub fn give_back(&self, repo: &Repo, slot: Slot, ok: bool) {
        if self.fresh || !ok {
            self.drop_slot(repo, &slot.dir);
        } else {
            self.state().free.push(slot);
        }
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
