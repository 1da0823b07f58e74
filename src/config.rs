//! `agents.*` configuration and its precedence (SPEC §2):
//! command-line flag > the task's manifest entry > git config > the manifest's top level
//! > built-in default.
//!
//! Git config is read through gix (so `.git/config`, `~/.gitconfig` and includes apply),
//! then overlaid with `git -c` values, which git hands to subcommands in
//! `GIT_CONFIG_PARAMETERS` / `GIT_CONFIG_COUNT` and gix does not read by itself.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::manifest::{Layer, Manifest, Strategy};

pub mod keys {
    pub const AGENT: &str = "agents.agent";
    pub const COMMAND: &str = "agents.command";
    pub const MANIFEST: &str = "agents.manifest";
    pub const BASE: &str = "agents.base";
    pub const JOBS: &str = "agents.jobs";
    pub const TIMEOUT: &str = "agents.timeout";
    pub const RETRIES: &str = "agents.retries";
    pub const SETUP: &str = "agents.setup";
    pub const CHECK: &str = "agents.check";
    pub const COPY: &str = "agents.copy";
    pub const MERGE_STRATEGY: &str = "agents.mergeStrategy";
    pub const WORKTREE_DIR: &str = "agents.worktreeDir";
    pub const BRANCH_PREFIX: &str = "agents.branchPrefix";
    pub const REMOTE: &str = "agents.remote";
    pub const PORT_RANGE: &str = "agents.portRange";
    pub const MIN_FREE_DISK: &str = "agents.minFreeDisk";

    pub const ALL: &[&str] = &[
        AGENT,
        COMMAND,
        MANIFEST,
        BASE,
        JOBS,
        TIMEOUT,
        RETRIES,
        SETUP,
        CHECK,
        COPY,
        MERGE_STRATEGY,
        WORKTREE_DIR,
        BRANCH_PREFIX,
        REMOTE,
        PORT_RANGE,
        MIN_FREE_DISK,
    ];
    /// Keys that may be given several times; the values add up.
    pub const MULTI: &[&str] = &[SETUP, COPY];
}

/// The `agents.*` values of git config, lowercased keys to values in the order git
/// would apply them (the last one wins for single-valued keys).
#[derive(Debug, Default, Clone)]
pub struct GitConfig {
    values: HashMap<String, Vec<String>>,
}

impl GitConfig {
    pub fn load(repo: &gix::Repository) -> GitConfig {
        let snapshot = repo.config_snapshot();
        let file = snapshot.plumbing();
        let mut values = HashMap::new();
        for key in keys::ALL {
            if let Some(all) = file.strings(*key) {
                let all: Vec<String> = all.iter().map(|v| v.to_string()).collect();
                values.insert(key.to_ascii_lowercase(), all);
            }
        }
        let mut cfg = GitConfig { values };
        cfg.overlay(command_line_config());
        cfg
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> GitConfig {
        let mut cfg = GitConfig::default();
        cfg.overlay(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        cfg
    }

    fn overlay(&mut self, pairs: Vec<(String, String)>) {
        for (k, v) in pairs {
            let k = k.to_ascii_lowercase();
            let multi = keys::MULTI.iter().any(|m| m.eq_ignore_ascii_case(&k));
            let slot = self.values.entry(k).or_default();
            if multi && v.is_empty() {
                // Like git's own lists (credential.helper), an empty value resets the list.
                slot.clear();
            } else {
                slot.push(v);
            }
        }
    }

    /// The effective value of a single-valued key (the last one given).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(&key.to_ascii_lowercase())
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// All values of a multi-valued key, after resets; `None` if never set.
    pub fn all(&self, key: &str) -> Option<Vec<String>> {
        let v = self.values.get(&key.to_ascii_lowercase())?;
        Some(v.iter().filter(|s| !s.is_empty()).cloned().collect())
    }
}

/// `git -c k=v agents …` arrives in the environment; parse both of git's encodings.
fn command_line_config() -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Ok(params) = std::env::var("GIT_CONFIG_PARAMETERS") {
        // Each entry is shell-quoted: 'key'='value' (git ≥ 2.31) or 'key=value'.
        for word in shell_words::split(&params).unwrap_or_default() {
            match word.split_once('=') {
                Some((k, v)) => out.push((k.to_string(), v.to_string())),
                // `-c key` with no value means true.
                None => out.push((word, "true".to_string())),
            }
        }
    }
    if let Some(count) = std::env::var("GIT_CONFIG_COUNT")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    {
        for i in 0..count {
            if let (Ok(k), Ok(v)) = (
                std::env::var(format!("GIT_CONFIG_KEY_{i}")),
                std::env::var(format!("GIT_CONFIG_VALUE_{i}")),
            ) {
                out.push((k, v));
            }
        }
    }
    out.retain(|(k, _)| k.to_ascii_lowercase().starts_with("agents."));
    out
}

fn bad_value(key: &str, value: &str, expected: &str) -> Error {
    Error::usage(format!(
        "invalid git config {key}={value:?}: expected {expected}"
    ))
    .with_hint(format!("fix it with: git config {key} <value>"))
}

/// Which agent runs a task: a preset by name, or an explicit command template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentChoice {
    Preset(String),
    Command(Vec<String>),
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
        Some(t) => Some(
            crate::time::parse_duration(t)
                .map_err(|_| bad_value(keys::TIMEOUT, t, "a duration such as 45s, 30m, 2h"))?,
        ),
        None => None,
    };
    let git_retries = match git.get(keys::RETRIES) {
        Some(r) => Some(
            r.parse::<u32>()
                .map_err(|_| bad_value(keys::RETRIES, r, "a number of extra attempts, e.g. 1"))?,
        ),
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
    })
}

/// Settings that apply to a whole run rather than one task.
#[derive(Debug, Clone)]
pub struct Global {
    pub jobs: usize,
    pub worktree_dir: PathBuf,
    pub branch_prefix: String,
    pub remote: String,
    pub port_range: (u16, u16),
    pub min_free_disk: u64,
}

pub fn resolve_global(
    flags: &Flags,
    git: &GitConfig,
    manifest: Option<&Manifest>,
    root: &Path,
    repo_name: &str,
) -> Result<Global, Error> {
    let jobs = match (flags.jobs, git.get(keys::JOBS)) {
        (Some(j), _) => j,
        (None, Some(j)) => j
            .parse::<usize>()
            .ok()
            .filter(|j| (1..=1024).contains(j))
            .ok_or_else(|| bad_value(keys::JOBS, j, "a number from 1 to 1024"))?,
        (None, None) => manifest.and_then(|m| m.jobs).unwrap_or(4),
    };
    let dir = git.get(keys::WORKTREE_DIR).unwrap_or(".worktrees");
    if dir.trim().is_empty() {
        return Err(bad_value(keys::WORKTREE_DIR, dir, "a directory path"));
    }
    let dir = dir.replace("{repo}", repo_name);
    let worktree_dir = normalize(&root.join(dir));

    let branch_prefix = git.get(keys::BRANCH_PREFIX).unwrap_or("agent/").to_string();
    let probe = format!("refs/heads/{branch_prefix}x");
    if gix::validate::reference::name(probe.as_str().into()).is_err() || branch_prefix.is_empty() {
        return Err(bad_value(
            keys::BRANCH_PREFIX,
            &branch_prefix,
            "a prefix that makes valid branch names, such as agent/",
        ));
    }
    let remote = git
        .get(keys::REMOTE)
        .map(str::to_string)
        .or(manifest.and_then(|m| m.remote.clone()))
        .unwrap_or_else(|| "origin".into());
    const PORTS: &str = "a range such as 20000-29999";
    let port_range = match (git.get(keys::PORT_RANGE), manifest) {
        (Some(text), _) => {
            parse_port_range(text).ok_or_else(|| bad_value(keys::PORT_RANGE, text, PORTS))?
        }
        // The manifest checks its value when it is read, with its line and column; this
        // only names the right culprit should that ever be bypassed.
        (
            None,
            Some(Manifest {
                port_range: Some(text),
                path,
                ..
            }),
        ) => parse_port_range(text).ok_or_else(|| {
            Error::usage(format!(
                "{}: invalid port_range {text:?}: expected {PORTS}",
                path.display()
            ))
        })?,
        (None, _) => (20000, 29999),
    };
    let min_free_disk = match git.get(keys::MIN_FREE_DISK) {
        Some(s) => parse_size(s)
            .ok_or_else(|| bad_value(keys::MIN_FREE_DISK, s, "a size such as 500MiB or 2G"))?,
        None => 1 << 30,
    };
    Ok(Global {
        jobs,
        worktree_dir,
        branch_prefix,
        remote,
        port_range,
        min_free_disk,
    })
}

/// Lexically remove `.` and `..` so that paths compare and display cleanly.
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

pub fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    let (a, b) = s.trim().split_once('-')?;
    let (a, b): (u16, u16) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (a >= 1 && a <= b).then_some((a, b))
}

/// Sizes like `1GiB`, `500M`, `2g`, `1048576`.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            let git = GitConfig::from_pairs([(k, v)]);
            let e = resolve_task(&Flags::default(), None, &git, &Layer::default()).unwrap_err();
            assert!(e.message.contains(k), "{}", e.message);
        }
        let git = GitConfig::from_pairs([("agents.jobs", "0")]);
        assert!(resolve_global(&Flags::default(), &git, None, Path::new("/r"), "r").is_err());
    }

    #[test]
    fn global_defaults_and_paths() {
        let g = resolve_global(
            &Flags::default(),
            &GitConfig::default(),
            None,
            Path::new("/w/r"),
            "r",
        )
        .unwrap();
        assert_eq!(g.jobs, 4);
        assert_eq!(g.worktree_dir, Path::new("/w/r/.worktrees"));
        assert_eq!(g.branch_prefix, "agent/");
        assert_eq!(g.port_range, (20000, 29999));
        assert_eq!(g.min_free_disk, 1 << 30);
        let git = GitConfig::from_pairs([
            ("agents.worktreeDir", "../{repo}.agents"),
            ("agents.jobs", "2"),
        ]);
        let g = resolve_global(&Flags::default(), &git, None, Path::new("/w/r"), "r").unwrap();
        assert_eq!(g.worktree_dir, Path::new("/w/r.agents"));
        assert_eq!(g.jobs, 2);
        assert_eq!(parse_size("500MiB"), Some(500 << 20));
        assert_eq!(parse_size("lots"), None);
    }
}
