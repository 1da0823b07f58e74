//! The engine: what git-agents does, below the commands and knowing nothing of the
//! terminal. It reports through typed [`events`] to sinks (the live view, plain lines,
//! the NDJSON event log); `cmd/*` only parse, call the engine and render.

pub mod cleanup;
pub mod events;
pub mod queue;
