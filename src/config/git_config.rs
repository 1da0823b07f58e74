//! The `agents.*` values of git config: read through gix, then overlaid with the `git -c`
//! values git hands to subcommands in the environment.

use std::collections::HashMap;

use super::keys;

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
