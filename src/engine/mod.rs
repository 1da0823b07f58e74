//! The engine: what git-agents does, below the commands and knowing nothing of the
//! terminal. It reports through typed [`events`] to sinks (the live view, plain lines,
//! the NDJSON event log); `cmd/*` only parse, call the engine and render.
//!
//! A spawn goes [`plan`] (resolve and check, nothing created) → [`claim`] (pending
//! records under the store lock) → [`run`] (the scheduler: slots, retries, ports,
//! Ctrl-C) → [`attempt`] (worktree, copy, setup, agent, commit, check), whose children
//! are all built by [`launch`].

pub mod attempt;
pub mod budget;
pub mod candidates;
pub mod claim;
pub mod cleanup;
pub mod detach;
pub mod events;
pub mod follow;
pub mod graph;
pub mod launch;
pub mod notify;
pub mod plan;
pub mod procs;
pub mod queue;
pub mod respawn;
pub mod run;
pub mod stop;
pub mod stuck;
pub mod wait;
