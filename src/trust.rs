//! Trust in a manifest that came with the repository (SPEC §7).
//!
//! A manifest tracked by git arrived with somebody else's commits; its commands (agent
//! `command`, `setup`, `check`) and its `env` (which could redirect `PATH`) run only once
//! the user trusted that exact content. Trust is recorded by content hash in
//! `<common dir>/agents/trust`, so any change to those fields asks again. Commands from
//! the user's own git config, flags, or an untracked manifest need no trust.

use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::git::Repo;
use crate::manifest::{Layer, Manifest};

/// What trusting the manifest allows, one line per item in a fixed order: its commands
/// and env, and the prompt files it reads from outside what the repository tracks. What
/// the hash covers (joined raw) and what the user is shown (escaped, see [`shown`]).
pub fn items(repo: &Repo, m: &Manifest) -> Vec<String> {
    items_with(&Tracked::read(repo), repo, m)
}

fn items_with(tracked: &Tracked, repo: &Repo, m: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    let layer = |out: &mut Vec<String>, who: &str, l: &Layer| {
        if let Some(c) = &l.command {
            out.push(format!("{who} command: {}", shell_words::join(c)));
        }
        for s in l.setup.iter().flatten() {
            out.push(format!("{who} setup: {s}"));
        }
        if let Some(c) = &l.check {
            out.push(format!("{who} check: {c}"));
        }
        for (k, v) in &l.env {
            out.push(format!("{who} env: {k}={v}"));
        }
    };
    layer(&mut out, "all tasks", &m.top);
    if let Some(n) = &m.notify {
        out.push(format!("notify: {n}"));
    }
    for t in &m.tasks {
        let who = format!("task {}", t.id);
        layer(&mut out, &who, &t.layer);
        // A prompt goes into the agent's prompt, its commits and a pull request: a
        // manifest from somebody else may read only what the repository itself tracks.
        if let Some(file) = &t.prompt_file
            && let Some(why) = tracked.outside(repo, file)
        {
            out.push(format!("{who} prompt_file: {} ({why})", file.display()));
        }
    }
    out
}

/// The trusted content: the items, raw, one per line (the hash is over this).
pub fn content(items: &[String]) -> String {
    items.iter().map(|i| format!("{i}\n")).collect()
}

/// The items as shown to a user judging them: control characters visible, so a command
/// cannot hide itself behind a carriage return or a terminal escape.
pub fn shown(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|i| crate::ui::escape_control(i).into_owned())
        .collect()
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

/// What the repository tracks: the index of every work tree (the main one and the
/// linked ones), each with its canonical root. `None` for an index that cannot be read.
struct Tracked {
    trees: Vec<(PathBuf, Option<gix::worktree::Index>)>,
    kind: gix::hash::Kind,
}

impl Tracked {
    fn read(repo: &Repo) -> Tracked {
        let local = repo.local();
        let mut trees = vec![(repo.root.clone(), local.index_or_empty().ok())];
        for wt in local.worktrees().unwrap_or_default() {
            let Ok(base) = wt.base() else { continue };
            let base = std::fs::canonicalize(&base).unwrap_or(base);
            let index = wt
                .into_repo_with_possibly_inaccessible_worktree()
                .ok()
                .and_then(|r| r.index_or_empty().ok());
            trees.push((base, index));
        }
        Tracked {
            trees,
            kind: local.object_hash(),
        }
    }

    /// Whether `path` (absolute) is a file of some work tree's index. An unreadable index
    /// of a tree that holds the path counts as tracking it: when in doubt, ask.
    fn has_path(&self, path: &Path) -> bool {
        use std::os::unix::ffi::OsStrExt;
        self.trees.iter().any(|(root, index)| {
            let Ok(rel) = path.strip_prefix(root) else {
                return false;
            };
            match index {
                Some(index) => index
                    .entry_by_path(rel.as_os_str().as_bytes().into())
                    .is_some(),
                None => true,
            }
        })
    }

    /// Whether some index tracks a file with exactly these bytes (as git would store
    /// them: with CRLF line ends turned to LF too, for `core.autocrlf`).
    fn has_content(&self, text: &str) -> bool {
        let mut ids = Vec::new();
        let blob =
            |t: &str| gix::objs::compute_hash(self.kind, gix::objs::Kind::Blob, t.as_bytes()).ok();
        ids.extend(blob(text));
        if text.contains("\r\n") {
            ids.extend(blob(&text.replace("\r\n", "\n")));
        }
        self.trees.iter().any(|(_, index)| match index {
            Some(index) => index.entries().iter().any(|e| ids.contains(&e.id)),
            None => false,
        })
    }

    /// Why a prompt file is not plainly part of the repository, or `None` if it is a
    /// tracked file of a work tree (not inside a `.git` directory).
    fn outside(&self, repo: &Repo, canonical: &Path) -> Option<&'static str> {
        let in_tree = self
            .trees
            .iter()
            .any(|(root, _)| canonical.starts_with(root));
        if !in_tree {
            return Some("outside the repository");
        }
        let in_git_dir = canonical.starts_with(&repo.common_dir)
            || canonical.components().any(|c| c.as_os_str() == ".git");
        if in_git_dir {
            return Some("inside the git directory");
        }
        if !self.has_path(canonical) {
            return Some("not tracked by git");
        }
        None
    }
}

/// Whether the manifest came with the repository, judged on the file itself rather than
/// on how its path was spelled (`../agents.yaml`, `sub/../agents.yaml`, a symlink, a hard
/// link, a copy): its path as given or with symlinks resolved is tracked in a work tree,
/// or its content is that of a tracked file.
fn is_tracked_with(tracked: &Tracked, m: &Manifest) -> bool {
    let given = std::path::absolute(&m.path)
        .map(|p| crate::config::normalize(&p))
        .unwrap_or_else(|_| m.path.clone());
    let canonical = std::fs::canonicalize(&m.path).ok();
    tracked.has_path(&given)
        || canonical.is_some_and(|c| tracked.has_path(&c))
        || tracked.has_content(&m.text)
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

/// What running a manifest's commands needs from the user.
#[derive(Debug)]
pub enum Decision {
    /// Nothing to trust (untracked, no commands), already trusted, or `--trust`.
    Trusted,
    /// A tracked manifest whose exact content nobody trusted yet.
    NeedsConfirmation(Request),
}

/// The content a user is asked to trust, and how to say so.
#[derive(Debug)]
pub struct Request {
    path: PathBuf,
    items: Vec<String>,
    /// What [`record`] stores once the user said yes.
    pub hash: String,
}

impl Request {
    fn reads_files(&self) -> bool {
        self.items.iter().any(|i| i.contains(" prompt_file: "))
    }

    /// The lines to show before asking: what the manifest would do, each item escaped.
    pub fn summary(&self) -> Vec<String> {
        let what = if self.reads_files() {
            "would run these commands and read these files"
        } else {
            "would run these commands"
        };
        let mut lines = vec![format!(
            "{} is tracked by git and {what}:",
            self.path.display()
        )];
        lines.extend(shown(&self.items).into_iter().map(|l| format!("  {l}")));
        lines
    }

    pub const QUESTION: &str = "Trust them and run?";

    /// The answer was no: nothing ran, nothing was recorded.
    pub fn declined(&self) -> Error {
        Error::usage("not trusted: nothing was run")
    }

    /// Nobody can be asked (no terminal): refuse, saying how to trust.
    pub fn refused(&self) -> Error {
        let what = if self.reads_files() {
            "its commands and the files it reads are"
        } else {
            "its commands are"
        };
        Error::usage(format!(
            "{} came with the repository and {what} not trusted yet",
            self.path.display()
        ))
        .with_hint("review them with `git agents trust`, or pass --trust for this run")
    }
}

/// Whether a tracked manifest's commands may run: already trusted, trusted for this run
/// (`--trust`), or only once the user confirms (the caller asks, then [`record`]s).
/// Decides only: asks nothing, writes nothing.
pub fn ensure(repo: &Repo, m: &Manifest, trust_flag: bool) -> Decision {
    let tracked = Tracked::read(repo);
    if !is_tracked_with(&tracked, m) {
        return Decision::Trusted;
    }
    let items = items_with(&tracked, repo, m);
    if items.is_empty() {
        return Decision::Trusted;
    }
    let hash = content_hash(&content(&items));
    if trust_flag || is_trusted(repo, &hash) {
        return Decision::Trusted;
    }
    Decision::NeedsConfirmation(Request {
        path: m.path.clone(),
        items,
        hash,
    })
}
