//! Agent presets, command templates and the environment an agent runs in (SPEC §4).
//!
//! A template is a list of arguments; placeholders (`{prompt}`, `{prompt_file}`, `{task}`,
//! `{branch}`, `{worktree}`, `{base}`) may stand alone or inside a larger argument.
//! Substitution is a single left-to-right pass: text that came from a value is never
//! looked at again, so a prompt containing `{task}` arrives as written.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::adapter::Format;
use crate::config::AgentChoice;
use crate::error::Error;

pub struct Preset {
    pub name: &'static str,
    pub command: &'static [&'static str],
    /// Extra environment the CLI needs to run unattended.
    pub env: &'static [(&'static str, &'static str)],
    pub note: &'static str,
    /// The structured output the command asks for, which git-agents reads (see
    /// [`crate::adapter`]); `None`: plain text.
    pub output: Option<Format>,
}

/// Non-interactive invocations of the agent CLIs we know (see README).
pub const PRESETS: &[Preset] = &[
    Preset {
        name: "claude",
        command: &[
            "claude",
            "-p",
            "{prompt}",
            "--permission-mode",
            "acceptEdits",
            "--output-format",
            "stream-json",
            "--verbose",
        ],
        env: &[],
        note: "Claude Code, print mode, edits accepted without asking",
        output: Some(Format::ClaudeStreamJson),
    },
    Preset {
        name: "codex",
        command: &[
            "codex",
            "exec",
            "--json",
            "--sandbox",
            "workspace-write",
            "{prompt}",
        ],
        env: &[],
        note: "OpenAI Codex CLI, exec mode, may write inside the worktree",
        output: Some(Format::CodexJson),
    },
    Preset {
        name: "aider",
        command: &["aider", "--yes-always", "--message", "{prompt}"],
        env: &[],
        note: "aider, one message then exit; it commits by itself",
        output: Some(Format::AiderText),
    },
    Preset {
        name: "gemini",
        command: &[
            "gemini",
            "--approval-mode",
            "auto_edit",
            "--output-format",
            "stream-json",
            "-p",
            "{prompt}",
        ],
        env: &[],
        note: "Gemini CLI, prompt mode, edits approved",
        output: Some(Format::GeminiStreamJson),
    },
    Preset {
        name: "opencode",
        command: &["opencode", "run", "--format", "json", "{prompt}"],
        env: &[],
        note: "opencode run; permissions come from opencode.json",
        output: Some(Format::OpencodeJson),
    },
    Preset {
        name: "cursor-agent",
        command: &[
            "cursor-agent",
            "--print",
            "--force",
            "--output-format",
            "stream-json",
            "{prompt}",
        ],
        env: &[],
        note: "Cursor's agent CLI, print mode, changes allowed",
        output: Some(Format::CursorStreamJson),
    },
    Preset {
        name: "goose",
        command: &[
            "goose",
            "run",
            "--quiet",
            "--output-format",
            "stream-json",
            "-t",
            "{prompt}",
        ],
        env: &[("GOOSE_MODE", "auto")],
        note: "goose run with GOOSE_MODE=auto",
        output: Some(Format::GooseStreamJson),
    },
    Preset {
        name: "amp",
        command: &[
            "amp",
            "--dangerously-allow-all",
            "--stream-json",
            "-x",
            "{prompt}",
        ],
        env: &[],
        note: "Amp, execute mode, all tools allowed",
        output: Some(Format::AmpStreamJson),
    },
];

pub const PRESET_NAMES: &[&str] = &[
    "claude",
    "codex",
    "aider",
    "gemini",
    "opencode",
    "cursor-agent",
    "goose",
    "amp",
];

impl Preset {
    /// The command template, extra environment and output format, owned.
    pub(crate) fn parts(&self) -> (Vec<String>, Vec<(String, String)>, Option<Format>) {
        (
            self.command.iter().map(|s| s.to_string()).collect(),
            self.env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            self.output,
        )
    }
}

pub fn is_preset(name: &str) -> bool {
    PRESETS.iter().any(|p| p.name == name)
}

pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

/// A resolved agent: its template, the program located on PATH, extra environment.
#[derive(Debug, Clone)]
pub struct Agent {
    pub template: Vec<String>,
    pub program: PathBuf,
    pub env: Vec<(String, String)>,
    /// The structured output git-agents reads from it; `None`: plain text.
    pub output: Option<Format>,
}

impl Agent {
    /// Resolve a choice (or, with none, the first preset on PATH) and locate its program.
    pub fn resolve(choice: Option<&AgentChoice>) -> Result<Agent, Error> {
        let (template, env, output) = match choice {
            Some(AgentChoice::Command(c)) => (c.clone(), Vec::new(), None),
            Some(AgentChoice::Preset(name)) => preset(name)
                .ok_or_else(|| {
                    Error::usage(format!(
                        "unknown agent {name:?}; expected one of {}",
                        PRESET_NAMES.join(", ")
                    ))
                })?
                .parts(),
            None => PRESETS
                .iter()
                .find(|p| which::which(p.command[0]).is_ok())
                .ok_or_else(|| {
                    Error::usage("no agent CLI found on PATH and none configured").with_hint(
                        "install one (claude, codex, aider, ...), or pass --agent NAME or --command CMD",
                    )
                })?
                .parts(),
        };
        let program = which::which(&template[0]).map_err(|_| {
            Error::usage(format!("agent program {:?} not found on PATH", template[0]))
                .with_hint("install it, or choose another with --agent NAME or --command CMD")
        })?;
        Ok(Agent {
            template,
            program,
            env,
            output,
        })
    }

    /// The output format a task's `output` setting chose, if it chose one: a format, or
    /// plain text (`text`).
    pub fn with_output(mut self, output: Option<OutputChoice>) -> Agent {
        match output {
            Some(OutputChoice::Text) => self.output = None,
            Some(OutputChoice::Format(f)) => self.output = Some(f),
            None => {}
        }
        self
    }

    /// The template that resumes the agent's session `id` (the Ralph loop's next
    /// attempt), where the CLI can: `claude --resume ID …`, `codex exec resume ID …`.
    pub fn resume_template(&self, id: &str) -> Option<Vec<String>> {
        let mut t = self.template.clone();
        match self.output? {
            Format::ClaudeStreamJson => {
                t.splice(1..1, ["--resume".to_string(), id.to_string()]);
            }
            Format::CodexJson => {
                let exec = t.iter().position(|a| a == "exec")?;
                t.splice(exec + 1..exec + 1, ["resume".to_string(), id.to_string()]);
            }
            _ => return None,
        }
        Some(t)
    }

    /// Whether the prompt goes on stdin (the template names neither prompt placeholder).
    pub fn prompt_on_stdin(&self) -> bool {
        !uses_prompt(&self.template)
    }
}

/// A task's `output` setting: a structured format, or plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputChoice {
    Text,
    Format(Format),
}

impl OutputChoice {
    pub fn parse(name: &str) -> Option<OutputChoice> {
        match name {
            "text" => Some(OutputChoice::Text),
            n => Format::parse(n).map(OutputChoice::Format),
        }
    }
}

pub fn uses_prompt(template: &[String]) -> bool {
    template
        .iter()
        .any(|a| a.contains("{prompt}") || a.contains("{prompt_file}"))
}

/// Values for the placeholders.
pub struct Vars<'a> {
    pub prompt: &'a str,
    pub prompt_file: &'a str,
    pub task: &'a str,
    pub branch: &'a str,
    pub worktree: &'a str,
    pub base: &'a str,
}

/// Substitute placeholders in one pass; unknown `{…}` are left as written.
pub fn expand(arg: &str, v: &Vars) -> String {
    crate::template::expand(arg, |name| {
        let val = match name {
            "prompt" => v.prompt,
            "prompt_file" => v.prompt_file,
            "task" => v.task,
            "branch" => v.branch,
            "worktree" => v.worktree,
            "base" => v.base,
            _ => return None,
        };
        Some(val.to_string())
    })
}

/// The `GIT_AGENTS_*` variables (and `COMPOSE_PROJECT_NAME`) for one attempt.
pub struct AgentEnv<'a> {
    pub task: &'a str,
    pub branch: &'a str,
    pub worktree: &'a str,
    pub base: &'a str,
    pub attempt: u32,
    pub notes: &'a str,
    pub port: Option<u16>,
    pub index: usize,
    pub repo_name: &'a str,
}

pub fn environment(e: &AgentEnv, user: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = user.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut set = |k: &str, v: String| env.push((k.to_string(), v));
    set("GIT_AGENTS_TASK", e.task.into());
    set("GIT_AGENTS_BRANCH", e.branch.into());
    set("GIT_AGENTS_WORKTREE", e.worktree.into());
    set("GIT_AGENTS_BASE", e.base.into());
    set("GIT_AGENTS_ATTEMPT", e.attempt.to_string());
    set("GIT_AGENTS_NOTES", e.notes.into());
    set("GIT_AGENTS_INDEX", e.index.to_string());
    if let Some(p) = e.port {
        set("GIT_AGENTS_PORT", p.to_string());
    }
    if std::env::var_os("COMPOSE_PROJECT_NAME").is_none()
        && !user.contains_key("COMPOSE_PROJECT_NAME")
    {
        set("COMPOSE_PROJECT_NAME", compose_name(e.repo_name, e.task));
    }
    env
}

/// Docker compose project names allow `[a-z0-9_-]`, starting with a letter or digit.
fn compose_name(repo: &str, task: &str) -> String {
    let raw = format!("{repo}-{task}").to_ascii_lowercase();
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    while s.starts_with(['-', '_']) {
        s.remove(0);
    }
    if s.is_empty() { "agents".into() } else { s }
}

/// The state dirs and files an agent CLI writes besides the worktree (its sessions,
/// settings, credentials refresh): writable under `sandbox: bwrap` on top of
/// `sandbox_write`. Keyed by the program a template names, so `command: claude …`
/// gets them too.
pub fn sandbox_write(program: &str) -> &'static [&'static str] {
    let name = std::path::Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    match name {
        "claude" => &["~/.claude", "~/.claude.json"],
        "codex" => &["~/.codex"],
        "gemini" => &["~/.gemini"],
        "aider" => &["~/.aider"],
        "opencode" => &["~/.local/share/opencode", "~/.config/opencode"],
        "cursor-agent" => &["~/.cursor"],
        "goose" => &["~/.config/goose", "~/.local/share/goose"],
        "amp" => &["~/.config/amp", "~/.local/share/amp"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(prompt: &'a str) -> Vars<'a> {
        Vars {
            prompt,
            prompt_file: "/p.md",
            task: "t1",
            branch: "agent/t1",
            worktree: "/w/t1",
            base: "main",
        }
    }

    #[test]
    fn expansion_is_one_pass() {
        assert_eq!(expand("--message={prompt}", &vars("hi")), "--message=hi");
        assert_eq!(expand("{task}", &vars("{branch}")), "t1");
        assert_eq!(
            expand("{prompt}", &vars("see {task} and {x}")),
            "see {task} and {x}"
        );
        assert_eq!(expand("{unknown} {", &vars("x")), "{unknown} {");
        assert_eq!(expand("{{task}}", &vars("x")), "{t1}");
        assert_eq!(expand("{base}..{branch}", &vars("x")), "main..agent/t1");
    }

    #[test]
    fn presets_are_complete() {
        assert_eq!(PRESETS.len(), PRESET_NAMES.len());
        for (p, n) in PRESETS.iter().zip(PRESET_NAMES) {
            assert_eq!(p.name, *n);
            assert!(uses_prompt(
                &p.command.iter().map(|s| s.to_string()).collect::<Vec<_>>()
            ));
        }
    }

    #[test]
    fn compose_names() {
        assert_eq!(compose_name("My.Repo", "fix-1"), "my-repo-fix-1");
        assert_eq!(compose_name("_x", "a.b"), "x-a-b");
    }
}
