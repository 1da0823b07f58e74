//! Which tasks merge, in what order, into which branch, and with what settings. Every
//! problem with the request is a usage error here, before anything changes.

use anyhow::Result;
use std::collections::HashMap;

use super::MergeArgs;
use crate::cmd::Workspace;
use crate::config::{self, Flags};
use crate::engine::graph;
use crate::engine::queue::Item;
use crate::error::Error;
use crate::manifest::Layer;
use crate::store::Record;
use crate::task::{State, TaskId};

/// The tasks to merge, in order, and the distinct branches they go into. Every problem
/// with the request is a usage error here, before anything changes.
pub fn plan(ws: &Workspace, args: &MergeArgs, flags: &Flags) -> Result<(Vec<Item>, Vec<String>)> {
    let position: HashMap<&str, usize> = ws
        .manifest
        .as_ref()
        .map(|m| {
            m.tasks
                .iter()
                .enumerate()
                .map(|(i, t)| (t.id.as_str(), i))
                .collect()
        })
        .unwrap_or_default();
    let mut records: Vec<Record> = Vec::new();
    if args.ids.is_empty() {
        let mut all = ws.store.all()?;
        all.retain(|r| {
            !r.pruned && (r.state == State::Succeeded || (args.all && r.state == State::Conflicted))
        });
        // Manifest order; tasks not in the manifest after them, oldest first.
        all.sort_by_key(|r| {
            (
                position.get(r.id.as_str()).copied().unwrap_or(usize::MAX),
                r.created_at,
            )
        });
        let ids: Vec<String> = all.iter().map(|r| r.id.clone()).collect();
        let (keep, _) = graph::merge_set(&ws.store, &ids, false)?;
        records = keep
            .iter()
            .filter_map(|id| all.iter().find(|r| &r.id == id).cloned())
            .collect();
    } else {
        for raw in &args.ids {
            TaskId::parse(raw).map_err(Error::usage)?;
        }
        let (ids, _) = graph::merge_set(&ws.store, &args.ids, true)?;
        for raw in &ids {
            let id = TaskId::parse(raw).map_err(Error::usage)?;
            if records.iter().any(|r| r.id == id.as_str()) {
                continue;
            }
            let rec = ws.record(id.as_str())?;
            let refuse = |why: String| -> anyhow::Error {
                Error::usage(format!("task {id} {why}"))
                    .with_hint("see the tasks with: git agents list")
                    .into()
            };
            if rec.pruned {
                return Err(refuse("was pruned".into()));
            }
            match rec.state {
                State::Pending => return Err(refuse("has not run yet".into())),
                State::Running if rec.owner_alive() => {
                    return Err(refuse("is still running".into()));
                }
                _ => {}
            }
            if !ws.repo.branch_exists(&rec.branch) {
                return Err(refuse(format!("has no branch {} any more", rec.branch)));
            }
            records.push(rec);
        }
    }

    let empty = Layer::default();
    let top = ws.manifest.as_ref().map(|m| &m.top).unwrap_or(&empty);
    let mut targets: Vec<String> = Vec::new();
    let mut items = Vec::new();
    for rec in records {
        let layer = match ws.manifest.as_ref().and_then(|m| m.task(&rec.id)) {
            Some(t) => t.layer.clone(),
            // An ad-hoc task: the check it was spawned with stands for its own level.
            None => Layer {
                check: rec.check_command.clone(),
                ..Layer::default()
            },
        };
        let merge_settings = config::resolve_task(flags, Some(&layer), &ws.git, top)?;
        let settings = config::resolve_task(&Flags::default(), Some(&layer), &ws.git, top)?;
        let name = args.into.clone().unwrap_or_else(|| rec.base.clone());
        if !args.pr && !ws.repo.branch_exists(&name) {
            let e = match &args.into {
                Some(b) => Error::usage(format!("--into {b}: no local branch {b:?}")),
                None => Error::usage(format!(
                    "task {}: its base {name:?} is not a local branch",
                    rec.id
                )),
            };
            return Err(e
                .with_hint("name an existing branch with --into BRANCH")
                .into());
        }
        let target = match targets.iter().position(|t| *t == name) {
            Some(i) => i,
            None => {
                targets.push(name);
                targets.len() - 1
            }
        };
        items.push(Item {
            rec,
            target,
            strategy: merge_settings.merge_strategy,
            check: merge_settings.check,
            settings,
        });
    }
    Ok((items, targets))
}
