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
    pub const NOTIFY: &str = "agents.notify";

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
        NOTIFY,
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
        // gix hands over every value of a key in git's order (system, global, local,
        // worktree, includes in place); they go through the same overlay as `git -c`, so
        // an empty value resets a list wherever it was written, as git's own lists do.
        let mut pairs = Vec::new();
        for key in keys::ALL {
            for v in file.strings(*key).unwrap_or_default() {
                pairs.push((key.to_string(), v.to_string()));
            }
        }
        let mut cfg = GitConfig::default();
        cfg.overlay(pairs);
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
        // git itself stops with an error at the first missing pair; stopping there too
        // keeps an absurd count from looping (nearly) forever.
        for i in 0..count {
            match (
                std::env::var(format!("GIT_CONFIG_KEY_{i}")),
                std::env::var(format!("GIT_CONFIG_VALUE_{i}")),
            ) {
                (Ok(k), Ok(v)) => out.push((k, v)),
                _ => break,
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

/// The most extra attempts a task may get, wherever `retries` is set: enough for any
/// flaky agent, and attempt numbers stay far from overflowing.
pub const MAX_RETRIES: u32 = 100;

/// A `retries` value: a whole number from 0 to [`MAX_RETRIES`].
pub fn parse_retries(s: &str) -> Option<u32> {
    s.trim().parse::<u32>().ok().filter(|r| *r <= MAX_RETRIES)
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
    let dir = expand_home(dir)?.replace("{repo}", repo_name);
    let worktree_dir = normalize(&root.join(dir));

    let branch_prefix = git.get(keys::BRANCH_PREFIX).unwrap_or("agent/").to_string();
    if let Some(rule) = branch_prefix_rule(&branch_prefix) {
        return Err(Error::usage(format!(
            "invalid git config {}={branch_prefix:?}: {rule}",
            keys::BRANCH_PREFIX
        ))
        .with_hint(format!(
            "set a prefix such as agent/ with: git config {} agent/",
            keys::BRANCH_PREFIX
        )));
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

/// `~` and `~/…` mean the home directory, as in git's path-valued settings.
fn expand_home(dir: &str) -> Result<String, Error> {
    let Some(rest) = dir.strip_prefix('~') else {
        return Ok(dir.to_string());
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(Error::usage(format!(
            "invalid git config {}={dir:?}: only ~ and ~/ are expanded (to $HOME)",
            keys::WORKTREE_DIR
        ))
        .with_hint("give the path as ~/… or in full"));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(format!("{}{rest}", home.to_string_lossy())),
        None => Err(Error::usage(format!(
            "git config {}={dir:?} starts with ~ but HOME is not set",
            keys::WORKTREE_DIR
        ))
        .with_hint("set HOME, or give the path in full")),
    }
}

/// Why a branch prefix cannot be used, if it cannot: every `PREFIX<task id>` must be a
/// branch name git accepts (`git check-ref-format --branch`) and means what it says.
pub fn branch_prefix_rule(prefix: &str) -> Option<String> {
    if prefix.is_empty() {
        return Some("the prefix must not be empty".into());
    }
    if prefix.starts_with('-') {
        return Some(
            "a branch name must not start with '-' (git would take it for an option)".into(),
        );
    }
    if prefix.starts_with("refs/") {
        return Some(
            "branches already live in refs/heads/: a prefix starting with refs/ makes names like refs/heads/refs/tags/ID that read as other refs"
                .into(),
        );
    }
    // Task ids are lowercase letters, digits, `.`, `_` and `-`, starting with a letter or
    // digit: `x` stands for any of them.
    let probe = format!("refs/heads/{prefix}x");
    gix::validate::reference::branch_name(probe.as_str().into())
        .err()
        .map(|e| {
            let rule = e.to_string();
            let mut chars = rule.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => rule,
            }
        })
}

/// Refuse a worktree dir that would break or confuse git: the repository root itself, a
/// directory containing it, or anything inside a git dir (`.git/refs/heads` makes every
/// worktree a corrupt ref). Symlinks on the way are resolved, so a tracked `.worktrees`
/// symlink into `.git` is caught too.
pub fn check_worktree_dir(dir: &Path, root: &Path, common_dir: &Path) -> Result<(), Error> {
    let resolved = resolve_existing(dir);
    let root_real = resolve_existing(root);
    let git_dirs = [
        root.join(".git"),
        resolve_existing(&root.join(".git")),
        common_dir.to_path_buf(),
        resolve_existing(common_dir),
    ];
    let shown = dir.display();
    let problem = if [dir, resolved.as_path()].contains(&root) || resolved == root_real {
        Some(format!("{shown} is the repository root itself"))
    } else if root.starts_with(dir) || root_real.starts_with(&resolved) {
        Some(format!("{shown} contains the repository"))
    } else {
        git_dirs
            .iter()
            .find(|g| dir.starts_with(g) || resolved.starts_with(g))
            .map(|g| {
                format!(
                    "{shown} is inside the git directory {}: worktrees there corrupt the repository",
                    g.display()
                )
            })
    };
    match problem {
        Some(p) => Err(
            Error::usage(format!("invalid {}: {p}", keys::WORKTREE_DIR)).with_hint(format!(
                "use a directory of its own, e.g.: git config {} .worktrees",
                keys::WORKTREE_DIR
            )),
        ),
        None => Ok(()),
    }
}

/// `p` with its longest existing prefix resolved (symlinks and all), the rest appended
/// as written: where `p` is, or would be once created.
pub fn resolve_existing(p: &Path) -> PathBuf {
    let mut head = p.to_path_buf();
    let mut tail = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(&head) {
            return tail
                .iter()
                .rev()
                .fold(real, |acc, c: &std::ffi::OsString| acc.join(c));
        }
        match (head.file_name().map(|n| n.to_os_string()), head.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                head = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
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
            ("agents.retries", "101"),
            ("agents.retries", "4294967296"),
            ("agents.timeout", "18446744073709551615s"),
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

    #[test]
    fn branch_prefixes_follow_gits_branch_name_rules() {
        for good in ["agent/", "bot-", "a.b/", "team/agents/", "x_", "@", "HEAD/"] {
            assert_eq!(branch_prefix_rule(good), None, "{good}");
        }
        for (bad, word) in [
            ("", "empty"),
            ("-", "'-'"),
            ("--force/", "'-'"),
            ("refs/tags/", "refs/heads/"),
            ("refs/heads/", "refs/heads/"),
            ("a..b/", "dots"),
            ("a b/", "invalid byte"),
            ("a\tb/", "invalid byte"),
            ("a~/", "invalid byte"),
            ("a^/", "invalid byte"),
            ("a:/", "invalid byte"),
            ("a?/", "invalid byte"),
            ("a[/", "invalid byte"),
            ("a*/", "'*'"),
            ("x.lock/", ".lock"),
            ("a@{/", "'@{'"),
            ("/a/", "slash"),
            ("a//", "slashes"),
            (".hidden/", "dot"),
            ("a/.b/", "dot"),
        ] {
            let rule = branch_prefix_rule(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(rule.contains(word), "{bad:?}: {rule}");
        }
    }

    #[test]
    fn worktree_dirs_that_break_git_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(tmp.path()).unwrap();
        let root = base.join("r");
        std::fs::create_dir_all(root.join(".git/refs/heads")).unwrap();
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink(".git/refs", root.join("sneaky")).unwrap();
        let common = root.join(".git");
        for (dir, word) in [
            (root.clone(), "root itself"),
            (root.join("sub/.."), "root itself"),
            (base.clone(), "contains the repository"),
            (PathBuf::from("/"), "contains the repository"),
            (root.join(".git"), "inside the git directory"),
            (root.join(".git/refs/heads"), "inside the git directory"),
            (root.join("sneaky/heads"), "inside the git directory"),
        ] {
            let e = check_worktree_dir(&normalize(&dir), &root, &common)
                .expect_err(&dir.display().to_string());
            assert!(e.message.contains(word), "{}: {}", dir.display(), e.message);
            assert!(e.message.contains(keys::WORKTREE_DIR), "{}", e.message);
        }
        for ok in [
            root.join(".worktrees"),
            root.join("sub/wt"),
            base.join("r.agents"),
            root.join(".gitx"),
        ] {
            check_worktree_dir(&ok, &root, &common).unwrap();
        }
    }

    #[test]
    fn worktree_dir_expands_home() {
        // HOME is read from the environment, as git does.
        let home = std::env::var("HOME").unwrap_or_default();
        if home.is_empty() {
            return;
        }
        for (given, want) in [
            ("~", home.clone()),
            ("~/wts/{repo}", format!("{home}/wts/r")),
        ] {
            let git = GitConfig::from_pairs([("agents.worktreeDir", given)]);
            let g = resolve_global(&Flags::default(), &git, None, Path::new("/w/r"), "r").unwrap();
            assert_eq!(g.worktree_dir, normalize(Path::new(&want)), "{given}");
        }
        let git = GitConfig::from_pairs([("agents.worktreeDir", "~bob/wts")]);
        let e = resolve_global(&Flags::default(), &git, None, Path::new("/w/r"), "r").unwrap_err();
        assert!(e.message.contains("only ~ and ~/"), "{}", e.message);
    }
}
