//! git-agents: run coding agents in parallel, each in its own git worktree on its own
//! branch, and bring their work home safely.
//!
//! The binary (`src/main.rs`) only calls [`cli::main`]; everything else lives here so that
//! domain code never parses argv and never prints outside [`ui`].
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod adapter;
pub mod agent;
pub mod cli;
pub mod cmd;
pub mod completion;
pub mod config;
pub mod copy;
pub mod dirty;
pub mod engine;
pub mod error;
pub mod fault;
pub mod git;
pub mod inventory;
pub mod manifest;
pub mod merge;
pub mod modules;
pub mod remote;
pub mod report;
pub mod runner;
pub mod sandbox;
pub mod signature;
pub mod store;
pub mod supervise;
pub mod task;
pub mod template;
pub mod time;
pub mod trust;
pub mod ui;
pub mod worktree;
