//! The queue's side of speculation: asked for the check of task `i` on a result, the
//! answer that already came in, the one still running, or a check run right here.

use anyhow::Result;
use gix::ObjectId;

use super::Speculator;
use crate::engine::queue::check::{self, CheckResult, Checks};
use crate::supervise;

impl Checks for Speculator<'_, '_> {
    fn check(
        &mut self,
        i: usize,
        cmd: &str,
        tip: ObjectId,
        base: ObjectId,
        into: &str,
    ) -> Result<CheckResult> {
        let head = (i, self.tree_of(tip)?);
        loop {
            if supervise::interrupted() {
                return Ok(CheckResult::Interrupted);
            }
            // Answers that came in while the queue landed earlier tasks, then the
            // free slots filled again, before anything else: the checks run meanwhile.
            while let Ok(done) = self.rx.try_recv() {
                if let Some(out) = self.record(done, head) {
                    return out;
                }
            }
            self.steer(i, base, head, tip)?;
            match self.known.get(&head) {
                Some(Ok(())) => return Ok(CheckResult::Passed),
                Some(Err(why)) => return Ok(CheckResult::Failed(why.clone())),
                None => {}
            }
            if !self.running.iter().any(|r| r.key == head)
                && !self.running.iter().any(|r| r.key.0 == i)
                && self.running.len() < self.jobs
            {
                // Off the predictions (a merge the queue made otherwise): run it here.
                let out = check::check_now(self.env, self.pool, &self.items[i], i, cmd, tip, into)?;
                match &out {
                    CheckResult::Passed => {
                        self.known.insert(head, Ok(()));
                    }
                    CheckResult::Failed(why) => {
                        self.known.insert(head, Err(why.clone()));
                    }
                    CheckResult::Interrupted => {}
                }
                return Ok(out);
            }
            if self.running.is_empty() {
                return check::check_now(self.env, self.pool, &self.items[i], i, cmd, tip, into);
            }
            if let Some(out) = self.receive(head) {
                return out;
            }
        }
    }
}
