//! `agents.*` configuration and its precedence (SPEC §2):
//! command-line flag > the task's manifest entry > git config > the manifest's top level
//! > built-in default.
//!
//! Git config is read through gix (so `.git/config`, `~/.gitconfig` and includes apply),
//! then overlaid with `git -c` values, which git hands to subcommands in
//! `GIT_CONFIG_PARAMETERS` / `GIT_CONFIG_COUNT` and gix does not read by itself.

use std::time::Duration;

use crate::error::Error;
use crate::manifest::Strategy;

mod git_config;
mod global;
pub mod keys;
mod paths;
mod sandbox;
mod task;

pub use git_config::GitConfig;
pub use global::{Global, branch_prefix_rule, parse_port_range, parse_size, resolve_global};
pub use paths::{check_worktree_dir, normalize, resolve_existing};
pub use task::{AgentChoice, MAX_RETRIES, RetryIn, TaskSettings, parse_retries, resolve_task};

fn bad_value(key: &str, value: &str, expected: &str) -> Error {
    Error::usage(format!(
        "invalid git config {key}={value:?}: expected {expected}"
    ))
    .with_hint(format!("fix it with: git config {key} <value>"))
}

/// Values from the command line; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub agent: Option<String>,
    pub command: Option<Vec<String>>,
    pub base: Option<String>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    /// `Some(None)` is `--no-check`.
    pub check: Option<Option<String>>,
    pub jobs: Option<usize>,
    pub merge_strategy: Option<Strategy>,
    /// `--max-task-cost`, `--max-tokens`: each task's budget.
    pub max_cost: Option<f64>,
    pub max_tokens: Option<u64>,
    /// `--retry-in`.
    pub retry_in: Option<RetryIn>,
    /// `--sandbox`.
    pub sandbox: Option<crate::sandbox::Sandbox>,
}
