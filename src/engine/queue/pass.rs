//! One run through the queue: each task merged in memory onto its target's tip, the
//! target moved over whole tasks, and each verdict told once it is final.

use anyhow::Result;
use gix::ObjectId;
use std::collections::HashSet;

use super::check::{CheckResult, Checks};
use super::steps::{self, Resolution};
use super::{Check, Item, OnConflict, Queue, Verdict, message_of, phase};
use crate::engine::events::{Kind, Phase};
use crate::error::Error;
use crate::merge::{self, Checkout, Landing, Merger, Messages};
use crate::task::{MergeResult, State};

/// A branch tasks merge into: what its ref holds, and the queue's tip on top of it.
pub(super) struct Target {
    pub branch: String,
    pub landed: ObjectId,
    pub tip: ObjectId,
    /// Items in `tip` and not yet in `landed`.
    pub pending: Vec<usize>,
}

/// One run through the queue: the verdicts so far, and which of them are out.
pub(super) struct Pass<'q, 'a> {
    pub q: &'q Queue<'a>,
    pub items: &'q [Item],
    /// The branch each item merges into.
    pub into: Vec<String>,
    pub verdicts: Vec<Option<Verdict>>,
    /// Items whose verdict waits for their target branch to move ([`Pass::flush`]):
    /// until it has, nothing is said about them.
    pub landing: HashSet<usize>,
    /// Items whose verdict is out; they go out in queue order.
    pub shown: usize,
    /// Where the answers of checks come from (run now, or speculated ahead).
    pub checks: &'q mut dyn Checks,
}

impl Pass<'_, '_> {
    /// Tell the verdict of every item that is settled, in queue order, stopping at the
    /// first that is not.
    pub fn show_ready(&mut self) {
        while matches!(self.verdicts.get(self.shown), Some(Some(_)))
            && !self.landing.contains(&self.shown)
        {
            self.announce(self.shown);
            self.shown += 1;
        }
    }

    /// The verdict on item `i`, and the task's new state when this run changed it.
    fn announce(&self, i: usize) {
        let Some(verdict) = &self.verdicts[i] else {
            return;
        };
        let it = &self.items[i];
        let id = it.rec.id.as_str();
        self.q.events.task(id, verdict.event(&self.into[i]));
        if let Ok(Some(now)) = self.q.store.load(id)
            && now.state != it.rec.state
        {
            self.q.events.task(
                id,
                Kind::TaskEnded {
                    state: now.state,
                    detail: now.detail.unwrap_or_default(),
                },
            );
        }
    }

    /// Take item `i` through the queue onto `t`.
    pub fn one(&mut self, merger: &mut Merger, i: usize, t: &mut Target) -> Result<Verdict> {
        let (q, items) = (self.q, self.items);
        let it = &items[i];
        let dry = q.dry_run;
        let rec = &it.rec;
        let id = rec.id.as_str();
        let subject = crate::git::subject_of(&rec.prompt);
        let msg = Messages {
            id,
            branch: &rec.branch,
            subject: &subject,
        };
        let mut v = Verdict::new(MergeResult::Error);
        let mut resolved_once = false;
        loop {
            q.events.task(id, phase(Phase::Merging, rec));
            let Some(head) = q.repo.branch_tip(&rec.branch) else {
                v.detail = format!("branch {} is gone", rec.branch);
                return Ok(v);
            };
            if !dry {
                merger.forget();
            }
            let (tip, note) = match merger.land(it.strategy, t.tip, head, &msg)? {
                Landing::UpToDate => {
                    v.result = if dry {
                        MergeResult::WouldMerge
                    } else {
                        MergeResult::UpToDate
                    };
                    v.detail = format!("already in {}", t.branch);
                    v.commit = Some(t.tip);
                    // A task recorded as merged keeps the record of where it went.
                    if !dry && rec.state != State::Merged {
                        self.pend(i, t, &v);
                    }
                    return Ok(v);
                }
                Landing::Merged { tip, note } => (tip, note),
                Landing::Conflict { paths } => {
                    v.conflicts = paths;
                    if dry {
                        v.result = MergeResult::WouldConflict;
                        v.detail = format!("conflicts in {}", merge::short_list(&v.conflicts, 5));
                        return Ok(v);
                    }
                    merger.forget();
                    let can_resolve = !resolved_once
                        && matches!(q.on_conflict, OnConflict::Agent | OnConflict::Retry);
                    if can_resolve {
                        resolved_once = true;
                        self.flush(t)?;
                        let done = match q.on_conflict {
                            OnConflict::Agent => {
                                steps::resolve_with_agent(q, it, &t.branch, t.tip, &v.conflicts)?
                            }
                            _ => steps::rerun(q, it, t.tip)?,
                        };
                        match done {
                            Resolution::Again => continue,
                            Resolution::Empty => {
                                v.result = MergeResult::Empty;
                                v.detail = "re-run from the new base changed nothing".into();
                                v.conflicts.clear();
                                return Ok(v);
                            }
                            Resolution::Failed(why) => {
                                v.result = MergeResult::Failed;
                                v.detail = why;
                                return Ok(v);
                            }
                            Resolution::Interrupted(why) => {
                                v.result = MergeResult::Interrupted;
                                v.detail = why;
                                return Ok(v);
                            }
                            Resolution::Conflicted(why) => v.detail = why,
                        }
                    }
                    v.result = MergeResult::Conflicted;
                    if v.detail.is_empty() {
                        v.detail = format!("conflicts in {}", merge::short_list(&v.conflicts, 5));
                    }
                    let (conflicts, detail) = (v.conflicts.clone(), v.detail.clone());
                    q.store.update(id, |r| {
                        r.state = State::Conflicted;
                        r.conflicts = conflicts;
                        r.detail = Some(detail);
                    })?;
                    return Ok(v);
                }
            };
            v.detail = note.unwrap_or_default();

            // Untracked files in the base checkout that this task would overwrite.
            if let Some(c) = merge::checkout_of(q.repo, &t.branch)? {
                let added = merger.added_paths(t.tip, tip)?;
                let blocking = merge::untracked_in_the_way(&c, &added)?;
                if !blocking.is_empty() {
                    merger.forget();
                    v.result = MergeResult::Blocked;
                    v.detail = format!(
                        "untracked files in {} would be overwritten: {}",
                        c.dir.display(),
                        merge::short_list(&blocking, 5)
                    );
                    return Ok(v);
                }
            }

            if dry {
                v.result = MergeResult::WouldMerge;
                t.tip = tip; // kept in memory only: the next task merges onto it
                return Ok(v);
            }
            merger.keep()?;
            if let Some(check) = &it.check {
                self.flush(t)?;
                match self.checks.check(i, check, tip, t.tip, &t.branch)? {
                    CheckResult::Passed => v.check = Some(Check::Passed),
                    CheckResult::Failed(why) => {
                        v.result = MergeResult::CheckFailed;
                        v.check = Some(Check::Failed);
                        v.detail = why.clone();
                        q.store.update(id, |r| {
                            r.merge_check = Some(Check::Failed.as_str().into());
                            r.detail = Some(format!("merge check: {why}"));
                        })?;
                        return Ok(v);
                    }
                    CheckResult::Interrupted => {
                        v.result = MergeResult::Interrupted;
                        return Ok(v);
                    }
                }
            }
            v.result = MergeResult::Merged;
            v.commit = Some(tip);
            t.tip = tip;
            self.pend(i, t, &v);
            return Ok(v);
        }
    }

    /// Item `i` is in `t`'s tip: it lands when the branch next moves.
    fn pend(&mut self, i: usize, t: &mut Target, v: &Verdict) {
        t.pending.push(i);
        self.landing.insert(i);
        self.verdicts[i] = Some(v.clone());
    }

    /// Move the base branch over every pending task (a fast-forward from what it holds),
    /// then mark them merged. If it cannot move, none of them landed, and the queue ends.
    pub fn flush(&mut self, t: &mut Target) -> Result<()> {
        if t.pending.is_empty() || self.q.dry_run {
            return Ok(());
        }
        let pending = std::mem::take(&mut t.pending);
        // One step per task, so the reflog names each.
        let steps: Vec<(ObjectId, String)> = pending
            .iter()
            .filter_map(|&i| {
                let commit = self.verdicts[i].as_ref()?.commit?;
                Some((
                    commit,
                    format!("git agents merge: {}", self.items[i].rec.id),
                ))
            })
            .collect();
        let repo = self.q.repo;
        let moved = (|| -> Result<()> {
            if t.tip == t.landed {
                return Ok(());
            }
            let checkout: Option<Checkout> = merge::checkout_of(repo, &t.branch)?;
            if let Some(c) = &checkout
                && let Some(why) = merge::checkout_busy(c)?
            {
                return Err(Error::refused(format!(
                    "cannot update {}: {} is checked out there and {why}",
                    c.dir.display(),
                    t.branch
                ))
                .into());
            }
            crate::fault::point("merge:before-advance");
            merge::advance(repo, &t.branch, checkout.as_ref(), t.landed, &steps)
        })();
        if let Err(e) = moved {
            let detail = message_of(&e);
            for &i in &pending {
                if let Some(v) = self.verdicts[i].as_mut() {
                    v.result = MergeResult::Error;
                    v.detail = format!("not landed: {detail}");
                    v.commit = None;
                }
            }
            t.tip = t.landed;
            self.settled(&pending);
            return Err(e);
        }
        t.landed = t.tip;
        crate::fault::point("merge:advanced");
        let now = crate::time::now();
        for &i in &pending {
            let Some(v) = self.verdicts[i].as_mut() else {
                continue;
            };
            let commit = v.commit.map(|c| c.to_string());
            let check = v.check.map(|c| c.as_str().to_string());
            let rec = self.q.store.update(&self.items[i].rec.id, |r| {
                r.state = State::Merged;
                r.merged_at = Some(now);
                r.merged_commit = commit.clone();
                r.merged_into = Some(t.branch.clone());
                r.conflicts.clear();
                r.merge_check = check.clone();
                r.detail = None;
            })?;
            if self.q.prune {
                match steps::prune(self.q.repo, self.q.store, &rec) {
                    Ok(()) => v.detail = join(&v.detail, "pruned"),
                    Err(e) => v.detail = join(&v.detail, &format!("not pruned: {e:#}")),
                }
            }
        }
        self.settled(&pending);
        Ok(())
    }

    /// These items' target moved (or failed to): their verdicts are final; tell them.
    fn settled(&mut self, pending: &[usize]) {
        for i in pending {
            self.landing.remove(i);
        }
        self.show_ready();
    }
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}; {b}")
    }
}
