//! Settings of a whole run (jobs, worktree dir, branch prefix, remote, ports, free disk),
//! and the parsers of their values.

use std::path::{Path, PathBuf};

use super::paths::{expand_home, normalize};
use super::{Flags, GitConfig, bad_value, keys};
use crate::error::Error;
use crate::manifest::Manifest;

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
