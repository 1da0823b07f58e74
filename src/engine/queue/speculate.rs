//! Speculative checks (`merge --jobs N`) and batches that bisect (`merge --batch N`).
//!
//! The queue itself stays sequential ([`super::pass`]): tasks are decided one at a time,
//! in order, each on the result of those before, and the base moves only by
//! compare-and-swap. What changes is where a check's answer comes from. Ahead of the
//! queue, this module predicts in memory the results after the next task, the next two,
//! … (each candidate on the result that holds every earlier one predicted to land) and
//! runs up to N checks of them at once, each in a scratch worktree of the pool. When the
//! queue needs the check of task k on result R, it takes the answer for exactly (k, R)
//! if one ran, else waits for it. An answer is a fact about one task's check on one
//! tree, so the queue decides exactly what `--jobs 1` decides whenever the check is
//! deterministic.
//!
//! When a candidate fails or conflicts, the predictions after it change: checks running
//! on the old ones are stopped (their process groups killed) and the candidates are
//! checked again on the new results (a `requeued` event says which and why).
//!
//! With `--batch N`, one check decides up to N consecutive candidates that share a
//! check: it runs on the result holding them all. A pass lands them all; a failure is
//! bisected (the first half's result checked, then the half that holds the failure;
//! with slots for all of them, every prefix at once) until the failing candidate is
//! found. Two rules place the checks, both sound for any placement of failures: the
//! undecided candidates are spread evenly over the slots left (U of them over S slots:
//! batches of U/S rounded up, at most N), so a round that passes everywhere decides as
//! many as it can; and the slots a bisection leaves go on past the failed batch, on the
//! result without its last candidate. This trusts that a result passes only when every
//! task in it would have passed on its own prefix (a deterministic check that fails
//! because of a task, not because of a combination): the README says so.

use anyhow::Result;
use gix::ObjectId;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::Scope;

use super::check::{self, Cancel, CheckResult, Env};
use super::pool::Pool;
use super::{Item, OnConflict};
use crate::engine::events::Kind;
use crate::merge::{Landing, Merger, Messages};

mod answers;

/// A check's answer: `Err` holds why it failed.
type Fact = std::result::Result<(), String>;

/// What merging an item onto a result is predicted to give.
#[derive(Clone, Copy)]
enum Predicted {
    /// The result does not change (already in it; a conflict the queue skips).
    Same,
    /// The queue stops, or needs something that cannot be predicted (an agent).
    End,
    Merged {
        commit: ObjectId,
        tree: ObjectId,
    },
}

/// A candidate in the predicted queue: item `item` checked on `commit`.
struct Pos {
    item: usize,
    commit: ObjectId,
    tree: ObjectId,
    fact: Option<Fact>,
    /// Items predicted to land before it that have not landed yet.
    ahead: Vec<usize>,
}

struct Running {
    id: u64,
    key: (usize, ObjectId),
    commit: ObjectId,
    cancel: Arc<Cancel>,
    cancelled: bool,
}

struct Done {
    id: u64,
    result: Result<CheckResult>,
}

pub(super) struct Speculator<'s, 'e> {
    pub scope: &'s Scope<'s, 'e>,
    pub env: Env<'e>,
    pub pool: &'e Pool,
    pub items: &'e [Item],
    /// The branch each item goes into.
    pub into: &'e [String],
    pub on_conflict: OnConflict,
    pub jobs: usize,
    pub batch: usize,
    merger: Merger,
    predicted: HashMap<(ObjectId, usize), Predicted>,
    known: HashMap<(usize, ObjectId), Fact>,
    running: Vec<Running>,
    tx: Sender<Done>,
    rx: Receiver<Done>,
    next: u64,
    /// Why predictions last changed, for the `requeued` events.
    why: String,
}

impl<'s, 'e> Speculator<'s, 'e> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        scope: &'s Scope<'s, 'e>,
        env: Env<'e>,
        pool: &'e Pool,
        items: &'e [Item],
        into: &'e [String],
        on_conflict: OnConflict,
        jobs: usize,
        batch: usize,
    ) -> Result<Self> {
        let (tx, rx) = channel();
        pool.make_elsewhere();
        Ok(Speculator {
            scope,
            env,
            pool,
            items,
            into,
            on_conflict,
            jobs: jobs.max(1),
            batch: batch.max(1),
            // Predictions are never signed: only their trees matter (answers are keyed
            // by tree), and signing may ask for a passphrase.
            merger: Merger::new(env.repo, false)?,
            predicted: HashMap::new(),
            known: HashMap::new(),
            running: Vec::new(),
            tx,
            rx,
            next: 0,
            why: String::new(),
        })
    }

    /// Whether items `a` and `b` run the same check the same way (a batch holds only
    /// such items).
    fn same_check(&self, a: usize, b: usize) -> bool {
        let (x, y) = (&self.items[a], &self.items[b]);
        x.check == y.check
            && x.settings.setup == y.settings.setup
            && x.settings.copy == y.settings.copy
            && x.settings.env == y.settings.env
            && x.settings.timeout == y.settings.timeout
    }

    fn tree_of(&self, commit: ObjectId) -> Result<ObjectId> {
        Ok(self.merger.repo().find_commit(commit)?.tree_id()?.detach())
    }

    /// Item `k` merged onto `onto`, in memory (written, so a check can check it out).
    fn predict(&mut self, k: usize, onto: ObjectId) -> Result<Predicted> {
        if let Some(p) = self.predicted.get(&(onto, k)) {
            return Ok(*p);
        }
        let it = &self.items[k];
        let rec = &it.rec;
        let p = match self.env.repo.branch_tip(&rec.branch) {
            None => Predicted::Same,
            Some(head) => {
                let subject = crate::git::subject_of(&rec.prompt);
                let msg = Messages {
                    id: &rec.id,
                    branch: &rec.branch,
                    subject: &subject,
                };
                self.merger.forget();
                match self.merger.land(it.strategy, onto, head, &msg)? {
                    Landing::UpToDate => Predicted::Same,
                    Landing::Conflict { .. } if self.on_conflict == OnConflict::Skip => {
                        Predicted::Same
                    }
                    Landing::Conflict { .. } => Predicted::End,
                    Landing::Merged { tip, .. } => {
                        self.merger.keep()?;
                        Predicted::Merged {
                            commit: tip,
                            tree: self.tree_of(tip)?,
                        }
                    }
                }
            }
        };
        self.predicted.insert((onto, k), p);
        Ok(p)
    }

    /// The predicted queue from item `i` on `base`: its candidates that need a check.
    fn chain(&mut self, i: usize, base: ObjectId) -> Result<Vec<Pos>> {
        let limit = self.jobs * self.batch * 2 + 2;
        let mut tip = base;
        let mut ahead = Vec::new();
        let mut out = Vec::new();
        for k in i..self.items.len() {
            if self.into[k] != self.into[i] {
                continue;
            }
            if out.len() >= limit {
                break;
            }
            let (commit, tree) = match self.predict(k, tip)? {
                Predicted::Same => continue,
                Predicted::End => break,
                Predicted::Merged { commit, tree } => (commit, tree),
            };
            if self.items[k].check.is_none() {
                tip = commit;
                ahead.push(k);
                continue;
            }
            let fact = self.known.get(&(k, tree)).cloned();
            let fails = matches!(fact, Some(Err(_)));
            out.push(Pos {
                item: k,
                commit,
                tree,
                fact,
                ahead: ahead.clone(),
            });
            if !fails {
                tip = commit;
                ahead.push(k);
            }
        }
        Ok(out)
    }

    /// Which candidates to check now, best first: at most `jobs`.
    fn plan(&mut self, chain: &mut [Pos]) -> Vec<usize> {
        if self.batch > 1 {
            // A result that passed holds only tasks that pass: each earlier candidate
            // with the same check passes on its own prefix.
            let mut passed: Option<usize> = None;
            for k in (0..chain.len()).rev() {
                if passed.is_some_and(|p| !self.same_check(p, chain[k].item)) {
                    passed = None;
                }
                match chain[k].fact {
                    Some(Ok(())) => passed = Some(chain[k].item),
                    None if passed.is_some() => {
                        chain[k].fact = Some(Ok(()));
                        self.known.insert((chain[k].item, chain[k].tree), Ok(()));
                    }
                    _ => {}
                }
            }
        }
        let mut want = Vec::new();
        let mut k = 0;
        while k < chain.len() && want.len() < self.jobs {
            if chain[k].fact.is_some() {
                k += 1;
                continue;
            }
            // The unknown candidates from k (up to a batch), and whether a known failure
            // follows them: a batch that failed, to bisect.
            let mut f = k;
            while f < chain.len()
                && f - k < self.batch
                && chain[f].fact.is_none()
                && self.same_check(chain[k].item, chain[f].item)
            {
                f += 1;
            }
            let failed = self.batch > 1
                && chain.get(f).is_some_and(|p| {
                    matches!(p.fact, Some(Err(_))) && self.same_check(chain[k].item, p.item)
                });
            if !failed {
                // The undecided candidates from here spread evenly over the slots left
                // (batches of at most N): a round covers as many of them as it can, and
                // a batch no bigger than that finds a failing task in fewer rounds.
                let unknown = chain[k..].iter().filter(|p| p.fact.is_none()).count();
                let size = self
                    .batch
                    .min(unknown.div_ceil(self.jobs - want.len()))
                    .max(1);
                // A check already running on one of these results keeps its place:
                // regrouping would throw its work away.
                let end = (k..f)
                    .find(|&j| {
                        self.running
                            .iter()
                            .any(|r| !r.cancelled && r.key == (chain[j].item, chain[j].tree))
                    })
                    .unwrap_or(k + size.min(f - k) - 1);
                want.push(end);
                k = end + 1;
                continue;
            }
            let end = f - 1;
            if self.jobs - want.len() > end - k {
                // Slots enough for every prefix of the failed batch: one round finds
                // the first failing candidate.
                want.extend(k..=end);
                k = end + 1;
                continue;
            }
            let pick = k + (end - k) / 2;
            want.push(pick);
            k = pick + 1;
        }
        want
    }

    /// Bring the running checks in line with the predictions from item `i` on `base`;
    /// `head` is the answer the queue waits for.
    ///
    /// The head is checked whatever the plan says, on its own: first when it is off the
    /// predictions (a merge the queue made otherwise), else in a slot the plan leaves
    /// free (a batch that holds it may fail).
    fn steer(
        &mut self,
        i: usize,
        base: ObjectId,
        head: (usize, ObjectId),
        tip: ObjectId,
    ) -> Result<()> {
        let mut chain = self.chain(i, base)?;
        let want = self.plan(&mut chain);
        let mut keys: Vec<(usize, ObjectId)> = want
            .iter()
            .map(|&p| (chain[p].item, chain[p].tree))
            .collect();
        if !self.known.contains_key(&head) && !keys.contains(&head) {
            if chain.iter().any(|p| (p.item, p.tree) == head) {
                keys.push(head);
            } else {
                keys.insert(0, head);
            }
        }
        for r in &mut self.running {
            if !r.cancelled && !keys.contains(&r.key) {
                r.cancelled = true;
                r.cancel.cancel();
                let id = &self.items[r.key.0].rec.id;
                self.env.events.task(
                    id,
                    Kind::Requeued {
                        result: r.commit.to_string(),
                        reason: if self.known.get(&r.key).is_some_and(|f| f.is_ok()) {
                            "not needed: a later result holding it passed".into()
                        } else if self.why.is_empty() {
                            "the predicted result changed".into()
                        } else {
                            self.why.clone()
                        },
                    },
                );
            }
        }
        self.pool.wake();
        for key in keys {
            if self.running.len() >= self.jobs {
                break;
            }
            if self.running.iter().any(|r| r.key.0 == key.0) {
                continue; // one check per task at a time (its record holds its process)
            }
            let (commit, covers, ahead) = match chain.iter().position(|p| (p.item, p.tree) == key) {
                Some(at) => {
                    // The candidates this answer decides: back to the one before it
                    // that has an answer or a check of its own.
                    let mut from = at;
                    while from > 0
                        && at - (from - 1) < self.batch
                        && chain[from - 1].fact.is_none()
                        && self.same_check(chain[from - 1].item, key.0)
                        && !want.contains(&(from - 1))
                    {
                        from -= 1;
                    }
                    let covers: Vec<String> = chain[from..=at]
                        .iter()
                        .filter(|p| p.fact.is_none() && self.same_check(p.item, key.0))
                        .map(|p| self.items[p.item].rec.id.clone())
                        .collect();
                    let ahead = chain[at]
                        .ahead
                        .iter()
                        .map(|&a| self.items[a].rec.id.clone())
                        .collect();
                    (chain[at].commit, covers, ahead)
                }
                // The head off the predictions, on the base as it is.
                None if key == head => (tip, vec![self.items[i].rec.id.clone()], Vec::new()),
                None => continue,
            };
            self.start(key, commit, covers, ahead);
        }
        let left = (i..self.items.len())
            .filter(|&k| self.items[k].check.is_some())
            .count();
        self.pool.trim(self.scope, self.env.repo, left);
        Ok(())
    }

    fn start(
        &mut self,
        key: (usize, ObjectId),
        commit: ObjectId,
        covers: Vec<String>,
        ahead: Vec<String>,
    ) {
        let it = &self.items[key.0];
        let Some(cmd) = it.check.as_deref() else {
            return;
        };
        self.env.events.task(
            &it.rec.id,
            Kind::QueueCheck {
                result: commit.to_string(),
                ahead,
                tasks: covers,
            },
        );
        self.next += 1;
        let id = self.next;
        let cancel = Arc::new(Cancel::default());
        self.running.push(Running {
            id,
            key,
            commit,
            cancel: cancel.clone(),
            cancelled: false,
        });
        let (env, pool, into, tx) = (self.env, self.pool, &self.into[key.0], self.tx.clone());
        let ticket = pool.ticket(key.0, commit);
        pool.fill(self.scope, env.repo);
        self.scope.spawn(move || {
            let result = check::check(env, pool, it, cmd, commit, into, ticket, Some(&cancel));
            let _ = tx.send(Done { id, result });
        });
    }

    /// Take one finished check's answer; `Some` when it is the one for `head` and it
    /// ended without one (interrupted, or an error of ours).
    fn receive(&mut self, head: (usize, ObjectId)) -> Option<Result<CheckResult>> {
        let done = self.rx.recv().ok()?;
        self.record(done, head)
    }

    /// Take in one finished check (see [`Speculator::receive`]).
    fn record(&mut self, done: Done, head: (usize, ObjectId)) -> Option<Result<CheckResult>> {
        let at = self.running.iter().position(|r| r.id == done.id)?;
        let r = self.running.remove(at);
        if r.cancelled {
            return None;
        }
        match done.result {
            Ok(CheckResult::Passed) => {
                self.known.insert(r.key, Ok(()));
                None
            }
            Ok(CheckResult::Failed(why)) => {
                let id = &self.items[r.key.0].rec.id;
                self.why = if self.batch > 1 {
                    format!("the result up to {id} failed its check")
                } else {
                    format!("{id} failed its check")
                };
                self.known.insert(r.key, Err(why));
                None
            }
            other if r.key == head => Some(other),
            _ => None,
        }
    }

    /// Stop every running check and wait for their ends.
    pub fn shutdown(&mut self) {
        for r in &mut self.running {
            r.cancelled = true;
            r.cancel.cancel();
        }
        self.pool.wake();
        while !self.running.is_empty() {
            let Ok(done) = self.rx.recv() else {
                break;
            };
            self.running.retain(|r| r.id != done.id);
        }
    }
}
