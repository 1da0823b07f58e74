//! `git agents demo`: the whole batch cycle in a scratch repository, run by a toy agent
//! built into this binary, so it needs no agent CLI. Each step is a real `git agents`
//! command, printed before it runs.
//!
//! The toy agent is this same binary started with `GIT_AGENTS_TOY_AGENT=1` in its
//! environment (set through the demo manifest's `env`): an environment trigger rather than
//! a hidden subcommand, which completions would list (clap #1335).

use anyhow::{Context as _, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::cli::Ctx;
use crate::error::{Error, Exit};
use crate::git;

/// The environment variable that turns this binary into the demo's toy agent.
pub const TOY_ENV: &str = "GIT_AGENTS_TOY_AGENT";

/// Watch a whole batch in a scratch repository: spawn, list, merge (with a conflict), prune
///
/// Needs no agent CLI: a toy agent built into git-agents does the work, with short pauses
/// so the progress lines can be seen. The scratch repository is removed at the end unless
/// --keep is given.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Make the scratch repository here (must not exist yet, or be empty)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Keep the scratch repository afterwards
    #[arg(long)]
    pub keep: bool,
}

const MANIFEST: &str = r#"# A demo manifest. The agent is a toy built into git-agents; with a real one you
# would write `agent: claude` (or codex, aider, ...) instead of `command` and `env`.
command: ["{exe}", "{task}", "{prompt}"]
env: { GIT_AGENTS_TOY_AGENT: "1" }
jobs: 3
tasks:
  - id: add-license
    prompt: Add a LICENSE file.
  - id: friendly-greeting
    prompt: Make the greeting friendlier.
  - id: formal-greeting
    prompt: Make the greeting formal.
"#;

pub fn run(ctx: &Ctx, args: DemoArgs) -> Result<Exit> {
    let exe = std::env::current_exe().context("cannot find the git-agents binary")?;
    let (dir, scratch) = match &args.dir {
        Some(d) => {
            if d.exists()
                && std::fs::read_dir(d)
                    .map(|mut e| e.next().is_some())
                    .unwrap_or(true)
            {
                return Err(
                    Error::usage(format!("{} exists and is not empty", d.display()))
                        .with_hint("give --dir a new or empty directory")
                        .into(),
                );
            }
            std::fs::create_dir_all(d)?;
            (std::path::absolute(d)?, false)
        }
        None => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let d = std::env::temp_dir()
                .join(format!("git-agents-demo.{}.{nanos}", std::process::id()));
            std::fs::create_dir_all(&d)?;
            (d, true)
        }
    };
    let repo = dir.join("demo");
    let result = demo(ctx, &exe, &repo);
    if args.keep || !scratch {
        ctx.ui.status(&format!(
            "\nThe demo repository is kept at {}",
            repo.display()
        ));
    } else {
        // Background deletions of prune may still run in there; that is harmless.
        let _ = std::fs::remove_dir_all(&dir);
        ctx.ui
            .status("\nThe demo repository was removed (keep it with --keep).");
    }
    result
}

fn demo(ctx: &Ctx, exe: &Path, repo: &Path) -> Result<Exit> {
    let say = |text: &str| ctx.ui.status(&format!("\n# {text}"));
    std::fs::create_dir_all(repo)?;
    git::init_repo(repo, "main")?;
    // The demo commits with your identity when you have one, else with its own.
    if !git::has_identity(repo)? {
        git::set_local_config(repo, "user.name", "git-agents demo")?;
        git::set_local_config(repo, "user.email", "demo@git-agents.invalid")?;
    }
    std::fs::write(
        repo.join("README.md"),
        "# demo\n\nA tiny project for git-agents to work on.\n",
    )?;
    std::fs::write(repo.join("greeting.txt"), "Hello, world.\n")?;
    git::commit_paths(repo, &["README.md", "greeting.txt"], "Initial commit\n")?;
    let exe_text = exe
        .to_string_lossy()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    std::fs::write(
        repo.join("agents.yaml"),
        MANIFEST.replace("{exe}", &exe_text),
    )?;

    say(&format!(
        "A scratch repository at {} with three tasks in agents.yaml;\n# two of them rewrite the same line of greeting.txt.",
        repo.display()
    ));
    step(ctx, exe, repo, &["spawn"], &[0])?;
    say("Each task has its own branch and worktree, its work committed there.");
    step(ctx, exe, repo, &["list"], &[0])?;
    say(
        "Merge them one by one into main. The third conflicts with the second: the queue stops\n# before it, and your checkout is untouched (no markers, no half-done merge).",
    );
    step(ctx, exe, repo, &["merge"], &[0, 1])?;
    say("Let the task's agent resolve the conflict in its own worktree, then merge again.");
    step(
        ctx,
        exe,
        repo,
        &["merge", "formal-greeting", "--on-conflict", "agent"],
        &[0],
    )?;
    step(ctx, exe, repo, &["list"], &[0])?;
    say("Everything is in main; clean up the worktrees and branches.");
    step(ctx, exe, repo, &["prune"], &[0])?;
    say("The result:");
    let log = git::log_graph(repo, "main")?;
    ctx.ui.out(&log);
    let greeting = std::fs::read_to_string(repo.join("greeting.txt"))?;
    ctx.ui.out(&format!("\ngreeting.txt:\n{greeting}"));
    Ok(Exit::Ok)
}

/// Print a command, then run it as a user would, as this same binary.
fn step(ctx: &Ctx, exe: &Path, repo: &Path, args: &[&str], ok: &[i32]) -> Result<()> {
    ctx.ui.status(&format!("$ git agents {}", args.join(" ")));
    let status = Command::new(exe)
        .arg("-C")
        .arg(repo)
        .args(args)
        .env_remove(TOY_ENV)
        .status()
        .with_context(|| format!("cannot run git agents {}", args.join(" ")))?;
    let code = status.code().unwrap_or(130);
    if code == 130 {
        return Err(Error::interrupted().into());
    }
    if !ok.contains(&code) {
        bail!("`git agents {}` exited {code}", args.join(" "));
    }
    Ok(())
}

/// The toy agent: `git-agents TASK PROMPT` with `GIT_AGENTS_TOY_AGENT=1`, run in a task's
/// worktree. It "thinks" briefly, then edits files by task; asked to resolve a merge
/// conflict, it keeps both sides of every conflict.
pub fn toy_agent(args: &[String]) -> i32 {
    match toy(args) {
        Ok(()) => 0,
        Err(e) => {
            let _ = std::io::Write::write_all(
                &mut std::io::stdout(),
                format!("toy agent: {e:#}\n").as_bytes(),
            );
            1
        }
    }
}

fn toy(args: &[String]) -> Result<()> {
    use std::io::Write;
    let task = args.first().map(String::as_str).unwrap_or("");
    let prompt = args.get(1).map(String::as_str).unwrap_or("");
    let pause = std::env::var("GIT_AGENTS_TOY_PAUSE_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400u64);
    let mut out = std::io::stdout();
    for thought in [
        "reading the task",
        "looking around the repository",
        "editing",
    ] {
        writeln!(out, "toy agent: {thought}…")?;
        out.flush()?;
        std::thread::sleep(Duration::from_millis(pause));
    }
    if prompt.starts_with("Merging `") {
        for entry in std::fs::read_dir(".")? {
            let path = entry?.path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if !text.contains("<<<<<<< ") {
                continue;
            }
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| {
                    !(l.starts_with("<<<<<<< ")
                        || l.starts_with("=======")
                        || l.starts_with(">>>>>>> ")
                        || l.starts_with("||||||| "))
                })
                .collect();
            std::fs::write(&path, kept.join("\n") + "\n")?;
            writeln!(out, "toy agent: kept both sides in {}", path.display())?;
        }
        return Ok(());
    }
    match task {
        "add-license" => std::fs::write(
            "LICENSE",
            "Copyright (c) the demo authors.\nPermission is granted to use this demo freely.\n",
        )?,
        "friendly-greeting" => std::fs::write("greeting.txt", "Hi there, friend!\n")?,
        "formal-greeting" => std::fs::write("greeting.txt", "Good day to you, world.\n")?,
        _ => {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open("NOTES.md")?;
            writeln!(f, "- {task}: {prompt}")?;
        }
    }
    writeln!(out, "toy agent: done with {task}")?;
    Ok(())
}
