//! `git agents man [--install [DIR]]`: man pages generated from the clap command with
//! clap_mangen, `git-agents.1` and one `git-agents-<command>.1` per subcommand.
//!
//! Installed where `man` looks, they make `git agents --help` work: git turns it into
//! `git help agents`, which runs `man git-agents`. Generation is deterministic (no date,
//! no build-dependent text): the committed files under `man/` must equal it
//! (tests/generated.rs).

use anyhow::{Context as _, Result};
use clap::{Command, CommandFactory};
use clap_mangen::roff::{Roff, bold, italic, roman};
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Ctx};
use crate::error::{Error, Exit};

/// Print the git-agents(1) man page, or install every page
///
/// Without --install, writes git-agents.1 (roff) to stdout: `git agents man | man -l -`.
/// With --install, writes git-agents.1 and git-agents-<command>.1 for every command to
/// DIR, by default $XDG_DATA_HOME/man/man1 (~/.local/share/man/man1), and says what to
/// add to MANPATH when man would not look there. Then `git agents --help` opens the page.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write all pages to DIR [default: ~/.local/share/man/man1]
    #[arg(long, value_name = "DIR", num_args = 0..=1)]
    pub install: Option<Option<PathBuf>>,
}

pub fn run(ctx: &Ctx, args: ManArgs) -> Result<Exit> {
    let pages = pages();
    let Some(dir) = args.install else {
        ctx.ui.out(&pages[0].1);
        return Ok(Exit::Ok);
    };
    let dir = match dir {
        Some(d) if !d.as_os_str().is_empty() => std::path::absolute(d)?,
        _ => default_dir()?,
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut written = String::new();
    for (name, text) in &pages {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        written.push_str(&format!("{}\n", path.display()));
    }
    ctx.ui.out(&written);
    ctx.ui.status(&format!(
        "installed {} man pages in {}",
        pages.len(),
        dir.display()
    ));
    // man searches `<entry>/man1` for each MANPATH entry.
    let root = if dir.file_name().is_some_and(|n| n == "man1") {
        dir.parent().unwrap_or(&dir).to_path_buf()
    } else {
        dir.clone()
    };
    match on_manpath(&root) {
        Some(true) => ctx.ui.status("`git agents --help` and `man git-agents` now open them"),
        Some(false) => ctx.ui.warn(&format!(
            "{} is not on man's search path; add to your shell's profile:\n  export MANPATH=\"{}:$MANPATH\"",
            root.display(),
            root.display()
        )),
        None => ctx.ui.status(&format!(
            "if `man git-agents` does not find them, add {} to MANPATH",
            root.display()
        )),
    }
    Ok(Exit::Ok)
}

/// `$XDG_DATA_HOME/man/man1`, else `~/.local/share/man/man1`.
pub fn default_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| Path::new(d).is_absolute()) {
        return Ok(PathBuf::from(d).join("man/man1"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| {
            Error::usage("cannot tell where to install: HOME is not set")
                .with_hint("name a directory: git agents man --install DIR")
        })?;
    Ok(PathBuf::from(home).join(".local/share/man/man1"))
}

/// Whether `manpath` lists `root`; `None` when it cannot be asked.
fn on_manpath(root: &Path) -> Option<bool> {
    let out = std::process::Command::new("manpath")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let want = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.trim().split(':').any(|entry| {
        let p = Path::new(entry);
        std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()) == want
    }))
}

/// Every page, the top one first: `(file name, roff text)`.
pub fn pages() -> Vec<(String, String)> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    let mut top = render(&cmd);
    top.push_str(&extra_sections(&cmd));
    out.push((format!("{}.1", page_name(&cmd)), top));
    let mut subs: Vec<&Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    subs.sort_by_key(|s| s.get_name());
    for sub in subs {
        out.push((format!("{}.1", page_name(sub)), render(sub)));
    }
    out
}

fn page_name(cmd: &Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

fn render(cmd: &Command) -> String {
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page_name(cmd).to_uppercase())
        .date("")
        .source(format!("git-agents {}", env!("CARGO_PKG_VERSION")))
        .manual("Git Agents Manual");
    let mut buf = Vec::new();
    man.render(&mut buf)
        .expect("rendering into memory cannot fail");
    String::from_utf8(buf).expect("clap_mangen writes UTF-8")
}

/// What `--help` cannot say but a man page should: exit status, configuration, files,
/// environment, related pages.
fn extra_sections(cmd: &Command) -> String {
    let mut r = Roff::new();
    r.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in [
        (
            "0",
            "all asked-for work succeeded (a task that ends empty counts as success)",
        ),
        ("1", "a task failed, conflicted, was skipped or was refused"),
        (
            "2",
            "usage, configuration or manifest error; nothing was changed",
        ),
        ("130", "interrupted"),
    ] {
        r.control("TP", []);
        r.text([bold(code)]);
        r.text([roman(meaning)]);
    }

    r.control("SH", ["CONFIGURATION"]);
    r.text([roman(
        "Read from git config (.git/config, ~/.gitconfig, includes, and git -c), \
         below command-line flags and the task's manifest entry, above the manifest's \
         top-level defaults. Keys:",
    )]);
    for key in crate::config::keys::ALL {
        r.control("TP", []);
        r.text([bold(*key)]);
        r.text([roman(key_help(key))]);
    }

    r.control("SH", ["FILES"]);
    for (path, meaning) in [
        (
            "agents.yaml, .agents.yaml",
            "the manifest, at the main worktree root (see agents.manifest)",
        ),
        (
            ".worktrees/ID",
            "the worktree of task ID (see agents.worktreeDir)",
        ),
        (
            "$GIT_COMMON_DIR/agents/",
            "state shared by all worktrees: task records, logs, notes",
        ),
        (
            "$GIT_COMMON_DIR/agents/pruned.log",
            "branch tips discarded with --force: time, id, branch, sha",
        ),
    ] {
        r.control("TP", []);
        r.text([italic(path)]);
        r.text([roman(meaning)]);
    }

    r.control("SH", ["ENVIRONMENT"]);
    for (var, meaning) in [
        ("NO_COLOR", "no colour with --color auto"),
        (
            "GIT_AGENTS_TASK, GIT_AGENTS_BRANCH, GIT_AGENTS_WORKTREE, GIT_AGENTS_BASE, GIT_AGENTS_ATTEMPT, GIT_AGENTS_NOTES, GIT_AGENTS_PORT, GIT_AGENTS_INDEX",
            "set for every agent process",
        ),
        (
            "GIT_AGENTS_COMPLETE=ids",
            "print the task ids one per line and exit (used by the shell completions)",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(var)]);
        r.text([roman(meaning)]);
    }

    r.control("SH", ["SEE ALSO"]);
    let mut also: Vec<String> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("{}(1)", page_name(s)))
        .collect();
    also.sort();
    also.push("git-worktree(1)".into());
    also.push("git-config(1)".into());
    r.text([roman(also.join(", "))]);
    r.to_roff()
}

fn key_help(key: &str) -> &'static str {
    use crate::config::keys::*;
    match key {
        AGENT => "agent preset: claude, codex, aider, gemini, opencode, cursor-agent, goose or amp",
        COMMAND => "agent command template, e.g. \"my-agent --task {prompt}\"",
        MANIFEST => "manifest path, relative to the main worktree root",
        BASE => "branch or revision the worktrees start from and merge into",
        JOBS => "agents running at once (default 4)",
        TIMEOUT => "time limit per attempt, e.g. 45s, 30m, 2h",
        RETRIES => "extra attempts after a failed one (default 0)",
        SETUP => "shell command run in each new worktree before the agent (multi-valued)",
        CHECK => "shell command run after the agent; exit 0 means the task passes",
        COPY => "ignored files copied into each new worktree (multi-valued)",
        MERGE_STRATEGY => "merge, squash or rebase (default merge)",
        WORKTREE_DIR => {
            "where worktrees go (default .worktrees; {repo} expands to the repository's name)"
        }
        BRANCH_PREFIX => "prefix of task branches (default agent/)",
        REMOTE => "remote for merge --pr (default origin)",
        PORT_RANGE => "ports handed out as GIT_AGENTS_PORT (default 20000-29999)",
        MIN_FREE_DISK => "spawn refuses when free disk would fall below this (default 1GiB)",
        NOTIFY => "shell command run when a spawn batch ends, the summary JSON on its stdin",
        OUTPUT => "agent output format read (claude-stream-json, codex-json, ..., or text)",
        MAX_COST => "budget of each task in US dollars, as its agent reports its spend",
        MAX_TOKENS => "budget of each task in tokens, input plus output (e.g. 200k)",
        RETRY_IN => "where a retry runs: fresh (a new worktree, default) or same",
        SANDBOX => "bwrap or none (default none): run agents, setup and check sandboxed",
        SANDBOX_WRITE => "absolute path a sandboxed agent may write (multi-valued)",
        SANDBOX_NETWORK => "false takes the network away from a sandboxed agent (default true)",
        RUNNER => "docker, podman or a command prefix the agent runs inside",
        RUNNER_IMAGE => "the image of the docker and podman runners",
        RUNNER_STOP => "command that stops a runner's container (default: the preset's)",
        REMOTE_DISPATCH => {
            "runner: remote: ssh, kubernetes, github-actions or a command that starts the task's job"
        }
        REMOTE_TIMEOUT => "how long a remote job may go without a status (default 6h)",
        REMOTE_IMAGE => "the image of the kubernetes dispatcher's Job",
        REMOTE_SECRET => {
            "the Kubernetes Secret the Job's environment comes from (default git-agents)"
        }
        REMOTE_NAMESPACE => "the Kubernetes namespace of the Job (default default)",
        REMOTE_WORKFLOW => "the GitHub Actions workflow of remote runs (default git-agents.yml)",
        REMOTE_HOSTS => "the ssh dispatcher's hosts, separated by spaces",
        REMOTE_HOST_JOBS => "remote jobs at once on each ssh host (default 1)",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_key_is_explained() {
        for key in crate::config::keys::ALL {
            assert!(
                !key_help(key).is_empty(),
                "{key} has no text in the man page"
            );
        }
    }

    #[test]
    fn top_page_lists_every_page() {
        let pages = pages();
        let top = pages[0].1.replace("\\-", "-");
        for (name, _) in &pages[1..] {
            let see = format!("{}(1)", name.trim_end_matches(".1"));
            assert!(top.contains(&see), "{see} not named in git-agents(1)");
        }
    }
}
