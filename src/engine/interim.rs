//! INTERIM (helper e-watch), to delete when e-spawn's `engine::run` lands: it writes
//! every event of a batch to `<state dir>/events/<batch>.ndjson`. Until then this stands
//! in with the three events `watch` and `notify` need: batch-started once the tasks are
//! claimed, then task-ended for each task and batch-ended when the batch is over. Delete
//! this file, its line in engine/mod.rs and its two calls in cmd/spawn.rs.

use std::collections::BTreeMap;

use super::events::{Emitter, Kind, Log, batch_id};
use crate::error::Exit;
use crate::store::Store;

pub struct Interim(Emitter);

pub fn start(store: &Store, ids: &[String], detached: bool) -> Option<Interim> {
    let batch = batch_id();
    let log = Log::create(&store.dir, &batch).ok()?;
    let em = Emitter::new(batch).with(log);
    em.all(Kind::BatchStarted {
        command: "spawn".into(),
        tasks: ids.to_vec(),
        pid: std::process::id(),
        detached,
    });
    Some(Interim(em))
}

pub fn end(interim: Option<Interim>, store: &Store, ids: &[String], exit: Exit) {
    let Some(Interim(em)) = interim else { return };
    let mut states = BTreeMap::new();
    for id in ids {
        let Ok(Some(rec)) = store.load(id) else {
            continue;
        };
        em.task(
            id,
            Kind::TaskEnded {
                state: rec.state,
                detail: rec.detail.clone().unwrap_or_default(),
            },
        );
        states.insert(id.clone(), rec.state);
    }
    em.all(Kind::BatchEnded {
        states,
        exit_code: i32::from(exit.code()),
    });
}
