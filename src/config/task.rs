//! Per-task settings: each one resolved from flag, task entry, git config and manifest
//! top level, in that order.

use std::collections::BTreeMap;
use std::time::Duration;

use super::{Flags, GitConfig, bad_value, keys};
use crate::error::Error;
use crate::manifest::{Layer, Strategy};

/// Which agent runs a task: a preset by name, or an explicit command template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentChoice {
    Preset(String),
    Command(Vec<String>),
}

/// Everything a task runs with, after precedence.
#[derive(Debug, Clone)]
pub struct TaskSettings {
    /// `None`: nobody chose; use the first preset found on PATH.
    pub agent: Option<AgentChoice>,
    /// Base as named (`main`); `None`: the branch checked out in the main worktree.
    pub base: Option<String>,
    pub timeout: Option<Duration>,
    pub retries: u32,
    pub setup: Vec<String>,
    pub check: Option<String>,
    pub copy: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub merge_strategy: Strategy,
    /// The agent's output format, when the task chose one (`output`).
    pub output: Option<crate::agent::OutputChoice>,
    /// The task's budget.
    pub max_cost: Option<f64>,
    pub max_tokens: Option<u64>,
    pub retry_in: RetryIn,
    /// `sandbox`, `sandbox_write`, `sandbox_network`, `runner`, `runner_image`,
    /// `runner_stop`.
    pub sandbox: crate::sandbox::Settings,
    /// `runner: remote`: how the task is dispatched (see `crate::remote`).
    pub remote: Option<crate::remote::Settings>,
}

/// Where a task's next attempt runs after a failed one: a fresh worktree from the base
/// (`fresh`, the default), or the same worktree on top of what the last attempt left,
/// the agent's session resumed where its CLI can (`same`, the Ralph loop).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RetryIn {
    #[default]
    Fresh,
    Same,
}

impl RetryIn {
    pub fn parse(s: &str) -> Option<RetryIn> {
        match s {
            "fresh" => Some(RetryIn::Fresh),
            "same" => Some(RetryIn::Same),
            _ => None,
        }
    }
}

fn agent_at(agent: &Option<String>, command: &Option<Vec<String>>) -> Option<AgentChoice> {
    // At any one level, `command` wins over `agent`.
    match (command, agent) {
        (Some(c), _) => Some(AgentChoice::Command(c.clone())),
        (None, Some(a)) => Some(AgentChoice::Preset(a.clone())),
        (None, None) => None,
    }
}

pub fn resolve_task(
    flags: &Flags,
    task: Option<&Layer>,
    git: &GitConfig,
    top: &Layer,
) -> Result<TaskSettings, Error> {
    let empty = Layer::default();
    let task = task.unwrap_or(&empty);

    let git_agent = {
        let command =
            match git.get(keys::COMMAND) {
                Some(c) => Some(crate::manifest::split_command(c).map_err(|e| {
                    Error::usage(format!("invalid git config {}: {e}", keys::COMMAND))
                })?),
                None => None,
            };
        let agent = match git.get(keys::AGENT) {
            Some(a) if !crate::agent::is_preset(a) => {
                return Err(bad_value(
                    keys::AGENT,
                    a,
                    &format!("one of {}", crate::agent::PRESET_NAMES.join(", ")),
                ));
            }
            other => other.map(str::to_string),
        };
        agent_at(&agent, &command)
    };
    let agent = agent_at(&flags.agent, &flags.command)
        .or_else(|| agent_at(&task.agent, &task.command))
        .or(git_agent)
        .or_else(|| agent_at(&top.agent, &top.command));

    let git_timeout = match git.get(keys::TIMEOUT) {
        Some(t) => Some(crate::time::parse_duration(t).map_err(|e| {
            bad_value(
                keys::TIMEOUT,
                t,
                &format!("a duration such as 45s, 30m, 2h ({e})"),
            )
        })?),
        None => None,
    };
    let git_retries = match git.get(keys::RETRIES) {
        Some(r) => Some(parse_retries(r).ok_or_else(|| {
            bad_value(
                keys::RETRIES,
                r,
                &format!("a number of extra attempts from 0 to {MAX_RETRIES}"),
            )
        })?),
        None => None,
    };
    let git_strategy = match git.get(keys::MERGE_STRATEGY) {
        Some(s) => Some(
            Strategy::parse(s)
                .ok_or_else(|| bad_value(keys::MERGE_STRATEGY, s, "merge, squash or rebase"))?,
        ),
        None => None,
    };
    let git_check = git.get(keys::CHECK).filter(|c| !c.trim().is_empty());
    let git_output = match git.get(keys::OUTPUT) {
        Some(o) => Some(crate::agent::OutputChoice::parse(o).ok_or_else(|| {
            bad_value(
                keys::OUTPUT,
                o,
                &format!("one of {}", crate::adapter::Format::names()),
            )
        })?),
        None => None,
    };
    let git_max_cost = match git.get(keys::MAX_COST) {
        Some(c) => Some(
            crate::engine::budget::parse_cost(c)
                .ok_or_else(|| bad_value(keys::MAX_COST, c, "a number of US dollars, 0 or more"))?,
        ),
        None => None,
    };
    let git_max_tokens = match git.get(keys::MAX_TOKENS) {
        Some(t) => Some(crate::engine::budget::parse_tokens(t).ok_or_else(|| {
            bad_value(
                keys::MAX_TOKENS,
                t,
                "a whole number of tokens such as 200000 or 200k",
            )
        })?),
        None => None,
    };
    let git_retry_in = match git.get(keys::RETRY_IN) {
        Some(r) => {
            Some(RetryIn::parse(r).ok_or_else(|| bad_value(keys::RETRY_IN, r, "fresh or same"))?)
        }
        None => None,
    };

    let check = match &flags.check {
        Some(c) => c.clone(),
        None => task
            .check
            .clone()
            .or(git_check.map(str::to_string))
            .or(top.check.clone()),
    };
    let mut env = top.env.clone();
    env.extend(task.env.clone());

    let mut sandbox = super::sandbox::resolve(flags, task, git, top)?;
    let remote = match &sandbox.runner {
        Some(r) if crate::remote::is_runner(&r.spec) => {
            sandbox.runner = None;
            Some(crate::remote::resolve(task, git, top)?)
        }
        _ => None,
    };
    Ok(TaskSettings {
        agent,
        base: flags
            .base
            .clone()
            .or(task.base.clone())
            .or(git.get(keys::BASE).map(str::to_string))
            .or(top.base.clone()),
        timeout: flags
            .timeout
            .or(task.timeout)
            .or(git_timeout)
            .or(top.timeout),
        retries: flags
            .retries
            .or(task.retries)
            .or(git_retries)
            .or(top.retries)
            .unwrap_or(0),
        setup: task
            .setup
            .clone()
            .or(git.all(keys::SETUP))
            .or(top.setup.clone())
            .unwrap_or_default(),
        check: check.filter(|c| !c.trim().is_empty()),
        copy: task
            .copy
            .clone()
            .or(git.all(keys::COPY))
            .or(top.copy.clone())
            .unwrap_or_default(),
        env,
        merge_strategy: flags
            .merge_strategy
            .or(task.merge_strategy)
            .or(git_strategy)
            .or(top.merge_strategy)
            .unwrap_or(Strategy::Merge),
        output: task.output.or(git_output).or(top.output),
        max_cost: flags
            .max_cost
            .or(task.max_cost)
            .or(git_max_cost)
            .or(top.max_cost),
        max_tokens: flags
            .max_tokens
            .or(task.max_tokens)
            .or(git_max_tokens)
            .or(top.max_tokens),
        retry_in: flags
            .retry_in
            .or(task.retry_in)
            .or(git_retry_in)
            .or(top.retry_in)
            .unwrap_or_default(),
        sandbox,
        remote,
    })
}

/// The most extra attempts a task may get, wherever `retries` is set: enough for any
/// flaky agent, and attempt numbers stay far from overflowing.
pub const MAX_RETRIES: u32 = 100;

/// A `retries` value: a whole number from 0 to [`MAX_RETRIES`].
pub fn parse_retries(s: &str) -> Option<u32> {
    s.trim().parse::<u32>().ok().filter(|r| *r <= MAX_RETRIES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve_global;
    use std::path::Path;

    fn layer(agent: Option<&str>, retries: Option<u32>, check: Option<&str>) -> Layer {
        Layer {
            agent: agent.map(String::from),
            retries,
            check: check.map(String::from),
            ..Layer::default()
        }
    }

    #[test]
    fn precedence_flag_task_git_top_default() {
        let top = layer(Some("aider"), Some(1), Some("top-check"));
        let task = layer(Some("codex"), Some(2), Some("task-check"));
        let git = GitConfig::from_pairs([
            ("agents.agent", "gemini"),
            ("agents.retries", "3"),
            ("agents.check", "git-check"),
        ]);
        let flags = Flags {
            agent: Some("claude".into()),
            retries: Some(4),
            check: Some(Some("flag-check".into())),
            ..Flags::default()
        };

        let s = resolve_task(&flags, Some(&task), &git, &top).unwrap();
        assert_eq!(s.agent, Some(AgentChoice::Preset("claude".into())));
        assert_eq!(s.retries, 4);
        assert_eq!(s.check.as_deref(), Some("flag-check"));

        let s = resolve_task(&Flags::default(), Some(&task), &git, &top).unwrap();
        assert_eq!(s.agent, Some(AgentChoice::Preset("codex".into())));
        assert_eq!(s.retries, 2);
        assert_eq!(s.check.as_deref(), Some("task-check"));

        let s = resolve_task(&Flags::default(), None, &git, &top).unwrap();
        assert_eq!(s.agent, Some(AgentChoice::Preset("gemini".into())));
        assert_eq!(s.retries, 3);
        assert_eq!(s.check.as_deref(), Some("git-check"));

        let s = resolve_task(&Flags::default(), None, &GitConfig::default(), &top).unwrap();
        assert_eq!(s.agent, Some(AgentChoice::Preset("aider".into())));
        assert_eq!(s.retries, 1);
        assert_eq!(s.check.as_deref(), Some("top-check"));

        let s = resolve_task(
            &Flags::default(),
            None,
            &GitConfig::default(),
            &Layer::default(),
        )
        .unwrap();
        assert_eq!(s.agent, None);
        assert_eq!(s.retries, 0);
        assert_eq!(s.check, None);
        assert_eq!(s.merge_strategy, Strategy::Merge);

        let no_check = Flags {
            check: Some(None),
            ..Flags::default()
        };
        let s = resolve_task(&no_check, Some(&task), &git, &top).unwrap();
        assert_eq!(s.check, None);
    }

    #[test]
    fn command_wins_over_agent_at_one_level_only() {
        let task = Layer {
            agent: Some("codex".into()),
            command: Some(vec!["mine".into()]),
            ..Layer::default()
        };
        let s = resolve_task(
            &Flags::default(),
            Some(&task),
            &GitConfig::default(),
            &Layer::default(),
        )
        .unwrap();
        assert_eq!(s.agent, Some(AgentChoice::Command(vec!["mine".into()])));
        // A task's preset beats a command at a less specific level.
        let task = layer(Some("codex"), None, None);
        let git = GitConfig::from_pairs([("agents.command", "other --x '{prompt}'")]);
        let s = resolve_task(&Flags::default(), Some(&task), &git, &Layer::default()).unwrap();
        assert_eq!(s.agent, Some(AgentChoice::Preset("codex".into())));
        let s = resolve_task(&Flags::default(), None, &git, &Layer::default()).unwrap();
        assert_eq!(
            s.agent,
            Some(AgentChoice::Command(vec![
                "other".into(),
                "--x".into(),
                "{prompt}".into()
            ]))
        );
    }

    #[test]
    fn multi_valued_keys_and_resets() {
        let git = GitConfig::from_pairs([
            ("agents.setup", "a"),
            ("agents.setup", "b"),
            ("agents.copy", ".env"),
            ("agents.copy", ""),
            ("agents.copy", "node_modules"),
        ]);
        assert_eq!(git.all(keys::SETUP).unwrap(), vec!["a", "b"]);
        assert_eq!(git.all(keys::COPY).unwrap(), vec!["node_modules"]);
        let s = resolve_task(&Flags::default(), None, &git, &Layer::default()).unwrap();
        assert_eq!(s.setup, vec!["a", "b"]);
    }

    #[test]
    fn bad_git_values_are_usage_errors() {
        for (k, v) in [
            ("agents.retries", "many"),
            ("agents.timeout", "soon"),
            ("agents.agent", "robot"),
            ("agents.mergeStrategy", "octopus"),
            ("agents.retries", "101"),
            ("agents.retries", "4294967296"),
            ("agents.timeout", "18446744073709551615s"),
            ("agents.maxCost", "-1"),
            ("agents.maxCost", "lots"),
            ("agents.maxTokens", "1.5"),
            ("agents.output", "xml"),
            ("agents.retryIn", "later"),
        ] {
            let git = GitConfig::from_pairs([(k, v)]);
            let e = resolve_task(&Flags::default(), None, &git, &Layer::default()).unwrap_err();
            assert!(e.message.contains(k), "{}", e.message);
        }
        let git = GitConfig::from_pairs([("agents.jobs", "0")]);
        assert!(resolve_global(&Flags::default(), &git, None, Path::new("/r"), "r").is_err());
    }
}
