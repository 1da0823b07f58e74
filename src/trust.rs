//! Trust in a manifest that came with the repository (SPEC §7).
//!
//! A manifest tracked by git arrived with somebody else's commits; its commands (agent
//! `command`, `setup`, `check`) and its `env` (which could redirect `PATH`) run only once
//! the user trusted that exact content. Trust is recorded by content hash in
//! `<common dir>/agents/trust`, so any change to those fields asks again. Commands from
//! the user's own git config, flags, or an untracked manifest need no trust.

use anyhow::Result;
use std::fmt::Write as _;
use std::path::Path;

use crate::error::Error;
use crate::git::Repo;
use crate::manifest::{Layer, Manifest};
use crate::ui::Ui;

/// The manifest's runnable content, one line per item, in a fixed order: what the user is
/// shown and what the hash covers.
pub fn runnable_content(m: &Manifest) -> String {
    let mut out = String::new();
    let mut layer = |who: &str, l: &Layer| {
        if let Some(c) = &l.command {
            let _ = writeln!(out, "{who} command: {}", shell_words::join(c));
        }
        for s in l.setup.iter().flatten() {
            let _ = writeln!(out, "{who} setup: {s}");
        }
        if let Some(c) = &l.check {
            let _ = writeln!(out, "{who} check: {c}");
        }
        for (k, v) in &l.env {
            let _ = writeln!(out, "{who} env: {k}={v}");
        }
    };
    layer("all tasks", &m.top);
    for t in &m.tasks {
        layer(&format!("task {}", t.id), &t.layer);
    }
    out
}

pub fn content_hash(content: &str) -> String {
    gix::objs::compute_hash(
        gix::hash::Kind::Sha1,
        gix::objs::Kind::Blob,
        content.as_bytes(),
    )
    .map(|id| id.to_string())
    .unwrap_or_default()
}

/// Whether the manifest is tracked: in the index of the main worktree.
pub fn is_tracked(repo: &Repo, path: &Path) -> bool {
    let Ok(rel) = path.strip_prefix(&repo.root) else {
        return false;
    };
    let Some(rel) = rel.to_str() else {
        return false;
    };
    let local = repo.local();
    let Ok(index) = local.index_or_empty() else {
        return false;
    };
    index.entry_by_path(rel.into()).is_some()
}

fn trust_file(repo: &Repo) -> std::path::PathBuf {
    repo.common_dir.join("agents").join("trust")
}

pub fn is_trusted(repo: &Repo, hash: &str) -> bool {
    std::fs::read_to_string(trust_file(repo))
        .map(|t| t.lines().any(|l| l.split_whitespace().next() == Some(hash)))
        .unwrap_or(false)
}

pub fn record(repo: &Repo, m: &Manifest, hash: &str) -> Result<()> {
    let path = trust_file(repo);
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if text
        .lines()
        .any(|l| l.split_whitespace().next() == Some(hash))
    {
        return Ok(());
    }
    crate::store::private_dir(path.parent().unwrap_or(Path::new(".")))?;
    let _ = writeln!(
        text,
        "{hash} {} {}",
        crate::time::rfc3339(crate::time::now()),
        m.path.display()
    );
    crate::store::write_atomic(&path, text.as_bytes())
}

/// Make sure a tracked manifest's commands may run: already trusted, trusted for this run
/// (`--trust`), or confirmed at a terminal. Otherwise refuse, changing nothing.
pub fn ensure(repo: &Repo, ui: &Ui, m: &Manifest, trust_flag: bool) -> Result<()> {
    if !is_tracked(repo, &m.path) {
        return Ok(());
    }
    let content = runnable_content(m);
    if content.is_empty() {
        return Ok(());
    }
    let hash = content_hash(&content);
    if trust_flag || is_trusted(repo, &hash) {
        return Ok(());
    }
    if ui.can_prompt() {
        ui.status(&format!(
            "{} is tracked by git and would run these commands:",
            m.path.display()
        ));
        for line in content.lines() {
            ui.status(&format!("  {line}"));
        }
        let yes = dialoguer::Confirm::new()
            .with_prompt("Trust them and run?")
            .default(false)
            .interact()
            .unwrap_or(false);
        if yes {
            return record(repo, m, &hash);
        }
        return Err(Error::usage("not trusted: nothing was run").into());
    }
    Err(Error::usage(format!(
        "{} came with the repository and its commands are not trusted yet",
        m.path.display()
    ))
    .with_hint("review them with `git agents trust`, or pass --trust for this run")
    .into())
}
