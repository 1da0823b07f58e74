//! Doing what was decided: every step in order, each failure stopping there with what
//! was done said and nothing lost. In a dry run, only the saying.

use super::{Action, Context, Discard, Task, Why, WorktreeStep};
use crate::modules;
use crate::worktree::{self, Admin};

/// What happened (or, in a dry run, would) to one task.
#[derive(Debug)]
pub enum Fate {
    Pruned {
        why: Why,
        did: Vec<String>,
        /// `(what, sha)` discarded by force and logged (no sha yet in a dry run).
        discarded: Vec<(String, Option<String>)>,
    },
    Kept {
        reasons: Vec<String>,
        /// Whether --force would remove it.
        forceable: bool,
    },
    /// Something failed half-way; what was done is said, nothing was lost.
    Failed(String),
}

impl Context<'_> {
    /// Do what was decided for `t` (in a dry run, only say it). Each step's failure
    /// stops it there, with what was done said and nothing lost.
    pub fn carry_out(&self, t: &Task, action: Action) -> Fate {
        let r = match action {
            Action::Keep { reasons, forceable } => return Fate::Kept { reasons, forceable },
            Action::Remove(r) => *r,
        };
        let root = &self.repo.root;
        let would = self.dry_run;
        let mut did = Vec::new();
        let mut discarded = Vec::new();
        let log_failed = |e: anyhow::Error| {
            Fate::Failed(format!("cannot write pruned.log, nothing removed: {e:#}"))
        };

        // What force discards is saved and logged before anything goes.
        for d in &r.discards {
            match d {
                Discard::Tip { what, sha } => discarded.push((what.clone(), Some(sha.to_string()))),
                Discard::Uncommitted { what, .. } if would => discarded.push((what.clone(), None)),
                Discard::Uncommitted {
                    what,
                    worktree: wt,
                    admin,
                } => {
                    let msg = format!(
                        "git-agents: uncommitted files of task {}\n\nSaved by `git agents prune --force` before removing {}.",
                        t.id,
                        wt.display()
                    );
                    let admin = Admin {
                        dir: admin.clone(),
                        worktree: wt.clone(),
                    };
                    match worktree::snapshot(wt, &admin, &msg, &[]) {
                        Ok(sha) => discarded.push((what.clone(), Some(sha))),
                        Err(e) => {
                            return Fate::Kept {
                                reasons: vec![format!("cannot save its uncommitted files: {e:#}")],
                                forceable: false,
                            };
                        }
                    }
                }
            }
        }
        if !would {
            for sha in discarded.iter().filter_map(|(_, s)| s.as_ref()) {
                if let Err(e) = self.store.log_discarded(&t.id, &t.branch, sha) {
                    return log_failed(e);
                }
            }
        }

        // Commits an agent made inside a submodule live in the worktree's admin dir: they
        // are fetched into (or moved to) the main repository's module store first.
        if let Some((dir, tips)) = &r.modules {
            let common = &self.repo.common_dir;
            match modules::keep(common, root, dir, tips, &t.id, would) {
                Ok(kept) => did.extend(kept.iter().map(|k| k.describe(would, root))),
                Err(e) if !r.force => {
                    return Fate::Kept {
                        reasons: vec![format!("{e:#}")],
                        forceable: true,
                    };
                }
                Err(e) => {
                    for (name, sha) in modules::pending(dir, root, tips) {
                        did.push(format!(
                            "{} submodule {name}'s commit {sha} (logged to pruned.log; not kept: {e:#})",
                            if would { "discard" } else { "discarded" }
                        ));
                        if !would
                            && let Err(e) = self.store.log_discarded(
                                &t.id,
                                &format!("{}:{}", t.branch, name.replace(char::is_whitespace, "_")),
                                &sha,
                            )
                        {
                            return log_failed(e);
                        }
                    }
                }
            }
        }

        if !would {
            for sha in &r.unreached {
                if let Err(e) = self.store.log_discarded(&t.id, &t.branch, &sha.to_string()) {
                    return log_failed(e);
                }
            }
        }
        if let Some(head) = r.head_logged {
            did.push(format!(
                "{} its worktree's HEAD {head} to pruned.log",
                if would { "log" } else { "logged" }
            ));
        }

        crate::fault::point("prune:logged");
        // The worktree and its admin dir: renamed away at once.
        match &r.worktree {
            Some(WorktreeStep::Move { path, admin, shown }) => {
                did.push(format!(
                    "{} {shown}",
                    if would { "remove" } else { "removed" }
                ));
                if !would {
                    if let Err(e) = self.trash.take(path, &t.id) {
                        return Fate::Failed(format!("{e:#}; nothing removed"));
                    }
                    // The admin dir is gone when a crash came between the worktree's
                    // `.git` and its admin dir (or it was deleted by hand): only the
                    // files were left to move.
                    if let Some(admin) = admin
                        && std::fs::symlink_metadata(admin).is_ok()
                        && let Err(e) = self.trash.take(admin, &format!("{}.git", t.id))
                    {
                        return Fate::Failed(format!(
                            "moved {shown} away but not its git metadata: {e:#} (git worktree prune clears it)"
                        ));
                    }
                }
            }
            Some(WorktreeStep::ClearStale { admin, shown }) => {
                did.push(format!(
                    "{} stale metadata of {shown}",
                    if would { "clear" } else { "cleared" }
                ));
                if !would && let Err(e) = self.trash.take(admin, &format!("{}.git", t.id)) {
                    return Fate::Failed(format!("{e:#}"));
                }
            }
            None => {}
        }

        crate::fault::point("prune:moved");
        // The branch, only if it is still where it was checked.
        if let Some(tip) = r.branch {
            let shown = if r.unreached.contains(&tip) {
                format!(
                    "{tip}, {} to pruned.log",
                    if would { "logging it" } else { "logged" }
                )
            } else if r.why != Why::Forced {
                tip.to_hex_with_len(7).to_string()
            } else {
                tip.to_string()
            };
            did.push(if would {
                format!("delete branch {} (at {shown})", t.branch)
            } else {
                format!("deleted branch {} (was {shown})", t.branch)
            });
            if !would && let Err(e) = self.repo.delete_branch(&t.branch, tip) {
                return Fate::Failed(format!(
                    "{}; kept branch {}: {e:#}",
                    did[..did.len() - 1].join(", "),
                    t.branch
                ));
            }
        }

        crate::fault::point("prune:branch-deleted");
        if !would
            && r.tombstone
            && let Err(e) = self.store.update(&t.id, |rec| {
                rec.pruned = true;
                rec.owner = None;
                rec.child = None;
                rec.port = None;
            })
        {
            return Fate::Failed(format!(
                "{}; cannot mark its record pruned: {e:#}",
                did.join(", ")
            ));
        }
        // A remote task's private refs on the shared remote go with it.
        if let Some(rec) = t.rec.as_ref().filter(|r| r.remote.is_some()) {
            did.push(if would {
                "would delete its private refs on the remote".into()
            } else {
                match crate::remote::forget(&self.repo.root, rec) {
                    Ok(()) => "deleted its private refs on the remote".into(),
                    Err(e) => format!("kept its private refs on the remote: {e:#}"),
                }
            });
        }
        Fate::Pruned {
            why: r.why,
            did,
            discarded,
        }
    }
}
