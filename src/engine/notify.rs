//! Telling the user that a batch is over.
//!
//! - `agents.notify` (git config) or the manifest's top-level `notify`: a command run
//!   with `sh -c` once a spawn batch ends, in the main worktree, with the summary (the
//!   document `spawn --json` prints) on its stdin. Its output goes to
//!   `<state dir>/notify.log`; it gets [`TIMEOUT`] at most, so a hung webhook cannot hold
//!   a batch open. A batch interrupted by Ctrl-C runs none: its processes are being
//!   stopped. From a tracked manifest it runs only once trusted (it is one of the
//!   manifest's commands, see `trust`).
//! - A detached batch also leaves a note in `<state dir>/ended/`; the next `git agents`
//!   command run on a terminal in that repository shows it in one line and removes it,
//!   so it is shown once.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::{GitConfig, keys};
use crate::error::Exit;
use crate::git::Repo;
use crate::manifest::Manifest;
use crate::store::Store;
use crate::supervise::Outcome;
use crate::task::State;

/// How long a notify command may run.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// The notify command: git config over the manifest (SPEC §2). An empty value turns it
/// off, so `git -c agents.notify= agents spawn` silences a manifest's.
pub fn command(git: &GitConfig, manifest: Option<&Manifest>) -> Option<String> {
    let cmd = match git.get(keys::NOTIFY) {
        Some(c) => c.to_string(),
        None => manifest?.notify.clone()?,
    };
    (!cmd.trim().is_empty()).then_some(cmd)
}

/// How a spawn batch ended.
pub struct BatchEnd<'a> {
    pub repo: &'a Repo,
    pub store: &'a Store,
    /// The batch's tasks, in the order asked.
    pub ids: &'a [String],
    pub exit: Exit,
    /// Whether the batch ran detached (its end is then shown by the next command).
    pub detached: bool,
    pub command: Option<String>,
}

/// Run the notify command and leave the detached note. Returns what went wrong, for the
/// caller to show: neither ever changes how the batch ended.
pub fn batch_ended(end: &BatchEnd) -> Vec<String> {
    let mut problems = Vec::new();
    let records: Vec<_> = end
        .ids
        .iter()
        .filter_map(|id| end.store.load(id).ok().flatten())
        .collect();
    if end.detached {
        let states = records.iter().map(|r| (r.id.clone(), r.state)).collect();
        if let Err(e) = leave_note(end.store, states, end.exit) {
            problems.push(format!("cannot leave a note of the batch's end: {e:#}"));
        }
    }
    let Some(cmd) = &end.command else {
        return problems;
    };
    if end.exit == Exit::Interrupted {
        return problems;
    }
    let docs = records
        .iter()
        .map(|r| crate::report::task_json(end.store, r, &crate::report::live(end.repo, r)))
        .collect();
    let summary = crate::report::document(docs);
    if let Err(e) = run(end.repo, end.store, cmd, summary.into_bytes()) {
        problems.push(format!("notify command `{cmd}`: {e:#}"));
    }
    problems
}

fn log_path(store: &Store) -> PathBuf {
    store.dir.join("notify.log")
}

fn run(repo: &Repo, store: &Store, cmd: &str, summary: Vec<u8>) -> Result<()> {
    crate::store::private_dir(&store.dir)?;
    let path = log_path(store);
    let mut log = crate::store::private_file(&path, false)?;
    use std::io::Write as _;
    let _ = writeln!(
        log,
        "==> {} notify: {cmd}",
        crate::time::rfc3339(crate::time::now())
    );
    let job = super::launch::batch_shell(cmd, &repo.root, summary, crate::time::deadline(TIMEOUT));
    let outcome = job.run(&mut log, |_| {}, |_| {})?;
    let shown = crate::engine::cleanup::show(&path, &repo.root);
    match outcome {
        Outcome::Exited(0) => Ok(()),
        Outcome::Exited(c) => Err(anyhow::anyhow!("exited {c} (its output: {shown})")),
        Outcome::TimedOut => Err(anyhow::anyhow!(
            "still running after {}s: stopped (its output: {shown})",
            TIMEOUT.as_secs()
        )),
        Outcome::Interrupted => Err(anyhow::anyhow!("interrupted")),
    }
}

/// What a detached batch leaves for the next command to show.
#[derive(Debug, Serialize, Deserialize)]
struct Note {
    pid: u32,
    ended_at: u64,
    states: BTreeMap<String, State>,
    exit_code: u8,
}

fn notes_dir(store: &Store) -> PathBuf {
    store.dir.join("ended")
}

fn leave_note(store: &Store, states: BTreeMap<String, State>, exit: Exit) -> Result<()> {
    let dir = notes_dir(store);
    crate::store::private_dir(&dir)?;
    let note = Note {
        pid: std::process::id(),
        ended_at: crate::time::now(),
        states,
        exit_code: exit.code(),
    };
    let name = format!("{:013}-{}.json", note.ended_at, note.pid);
    crate::store::write_atomic(&dir.join(name), &serde_json::to_vec(&note)?)
}

/// The ends of detached batches not shown yet, one line each, oldest first; each is
/// removed as it is taken, so two commands at once never both show it.
pub fn take_ended(store: &Store) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(notes_dir(store)) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut lines = Vec::new();
    for p in paths {
        let note = std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Note>(&b).ok());
        // Whoever removes it shows it; a note that does not parse just goes.
        if std::fs::remove_file(&p).is_err() {
            continue;
        }
        if let Some(n) = note {
            lines.push(line(&n, crate::time::now()));
        }
    }
    lines
}

fn line(n: &Note, now: u64) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in n.states.values() {
        *counts.entry(s.as_str()).or_default() += 1;
    }
    let counts: Vec<String> = counts.iter().map(|(s, c)| format!("{c} {s}")).collect();
    let ago = crate::time::short(Duration::from_millis(now.saturating_sub(n.ended_at)));
    let tasks = n.states.len();
    let what = if n.exit_code == Exit::Interrupted.code() {
        "was interrupted"
    } else {
        "ended"
    };
    format!(
        "a detached spawn of {tasks} task{} {what} {ago} ago: {}; see: git agents list",
        crate::engine::cleanup::plural(tasks),
        if counts.is_empty() {
            "nothing ran".to_string()
        } else {
            counts.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_config_wins_and_empty_turns_notify_off() {
        let m = Manifest {
            notify: Some("from-manifest".into()),
            ..Manifest::default()
        };
        let none = GitConfig::from_pairs(std::iter::empty());
        assert_eq!(command(&none, Some(&m)).as_deref(), Some("from-manifest"));
        assert_eq!(command(&none, None), None);
        let git = GitConfig::from_pairs([("agents.notify", "from-git")]);
        assert_eq!(command(&git, Some(&m)).as_deref(), Some("from-git"));
        let off = GitConfig::from_pairs([("agents.notify", "")]);
        assert_eq!(command(&off, Some(&m)), None);
    }

    #[test]
    fn notes_are_taken_once() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let states = BTreeMap::from([
            ("a".to_string(), State::Succeeded),
            ("b".to_string(), State::Failed),
            ("c".to_string(), State::Succeeded),
        ]);
        leave_note(&store, states, Exit::Failed).unwrap();
        let lines = take_ended(&store);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("a detached spawn of 3 tasks ended "),
            "{}",
            lines[0]
        );
        assert!(
            lines[0].contains(": 1 failed, 2 succeeded;"),
            "{}",
            lines[0]
        );
        assert!(take_ended(&store).is_empty());
    }
}
