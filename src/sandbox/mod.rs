//! Sandboxes: the agent, its `setup` and its `check` run under bubblewrap (`sandbox:
//! bwrap`) with the whole filesystem read-only except what the task may write (its
//! worktree, what a commit on its own branch needs, a private `/tmp`, `sandbox_write`).
//!
//! The settings ([`Settings`], resolved per task like every other setting), what a task's
//! record says about them ([`Isolation`]), the check that bubblewrap works before
//! anything is created ([`probe`]), and the enclosure that wraps one attempt's jobs and
//! brings the agent's commits onto its branch afterwards ([`Enclosure`]).

mod bwrap;
mod enclosure;
mod paths;
mod refs;
mod values;

pub use bwrap::{Mounts, argv as bwrap_argv};
pub use enclosure::{Enclosure, Ready, Wrapped};
pub use paths::{check_write_path, expand_home};
pub(crate) use values::{SandboxName, WriteList};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::error::Error;

/// Which sandbox a task's jobs run in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sandbox {
    #[default]
    None,
    Bwrap,
}

/// The names `sandbox` takes.
pub const NAMES: &[&str] = &["none", "bwrap"];

impl Sandbox {
    pub fn parse(s: &str) -> Option<Sandbox> {
        match s {
            "none" => Some(Sandbox::None),
            "bwrap" => Some(Sandbox::Bwrap),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sandbox::None => "none",
            Sandbox::Bwrap => "bwrap",
        }
    }
}

/// A task's sandbox and runner settings, after precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub sandbox: Sandbox,
    /// `sandbox_write`: absolute paths the agent may write besides its worktree.
    pub write: Vec<PathBuf>,
    /// `sandbox_network`: on unless set to false.
    pub network: bool,
    pub runner: Option<crate::runner::Runner>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sandbox: Sandbox::None,
            write: Vec::new(),
            network: true,
            runner: None,
        }
    }
}

/// How a task was isolated, as its record, `show` and `--json` tell it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Isolation {
    /// `none` or `bwrap`.
    pub sandbox: Sandbox,
    /// Every path the agent could write besides its worktree and its branch (the
    /// preset's state dirs included), when sandboxed.
    #[serde(default)]
    pub sandbox_write: Vec<PathBuf>,
    pub sandbox_network: bool,
    /// `docker`, `podman` or `template`, when a runner wraps the agent.
    #[serde(default)]
    pub runner: Option<String>,
    #[serde(default)]
    pub runner_image: Option<String>,
}

impl Isolation {
    /// One line for `show`: the sandbox and what it lets the agent write, or the runner.
    pub fn describe(&self) -> String {
        if let Some(r) = &self.runner {
            return match &self.runner_image {
                Some(i) => format!("runner {r} (image {i})"),
                None => format!("runner {r}"),
            };
        }
        match self.sandbox {
            Sandbox::None => "none".into(),
            Sandbox::Bwrap => {
                let mut w = vec![
                    "its worktree".to_string(),
                    "its branch".into(),
                    "objects".into(),
                    "a private /tmp".into(),
                ];
                w.extend(self.sandbox_write.iter().map(|p| p.display().to_string()));
                format!(
                    "bwrap (network {}; writes {})",
                    if self.sandbox_network { "on" } else { "off" },
                    w.join(", ")
                )
            }
        }
    }
}

impl Settings {
    /// Whether anything wraps the task's jobs.
    pub fn is_plain(&self) -> bool {
        self.sandbox == Sandbox::None && self.runner.is_none()
    }

    /// The paths the agent may write: `sandbox_write` and its program's own state dirs.
    pub fn writable(&self, program: &str) -> Vec<PathBuf> {
        let mut out = self.write.clone();
        for p in crate::agent::sandbox_write(program) {
            if let Some(p) = expand_home(p)
                && !out.contains(&p)
            {
                out.push(p);
            }
        }
        out
    }

    /// What the record keeps.
    pub fn isolation(&self, program: &str) -> Isolation {
        let sandboxed = self.sandbox == Sandbox::Bwrap;
        Isolation {
            sandbox: self.sandbox,
            sandbox_write: if sandboxed {
                self.writable(program)
            } else {
                Vec::new()
            },
            sandbox_network: self.network || !sandboxed,
            runner: self.runner.as_ref().map(|r| r.kind_name().to_string()),
            runner_image: self.runner.as_ref().and_then(|r| r.image.clone()),
        }
    }

    /// Everything that can be checked before anything is created: a sandbox together
    /// with a runner, bubblewrap working here, the runner's program and image.
    pub fn check(&self, task: &str, common_dir: &std::path::Path) -> Result<(), Error> {
        if self.sandbox == Sandbox::Bwrap && self.runner.is_some() {
            return Err(Error::usage(format!(
                "task {task}: sandbox: bwrap and a runner cannot be combined"
            ))
            .with_hint("a container is its own sandbox: drop one of `sandbox` and `runner`"));
        }
        if self.sandbox == Sandbox::Bwrap {
            // The task's branch is shown writable as a file among read-only ones (see
            // `refs`); a reftable store keeps every ref in shared tables instead.
            if common_dir.join("reftable").is_dir() {
                return Err(Error::usage(format!(
                    "task {task}: sandbox: bwrap needs a repository with loose refs, and this one \
                     stores refs in reftable"
                ))
                .with_hint("set sandbox: none for this repository"));
            }
            probe(!self.network)?;
        }
        if let Some(r) = &self.runner {
            r.check(task)?;
        }
        Ok(())
    }
}

/// Whether bubblewrap runs here with the namespaces a sandbox uses (answered once per
/// process and network setting). An error names the package to install.
pub fn probe(no_network: bool) -> Result<(), Error> {
    use std::sync::Mutex;
    static SEEN: Mutex<[Option<Result<(), String>>; 2]> = Mutex::new([None, None]);
    let i = usize::from(no_network);
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let answer = seen[i]
        .get_or_insert_with(|| bwrap::probe(no_network))
        .clone();
    answer.map_err(|why| {
        Error::usage(format!("sandbox: bwrap cannot run here: {why}")).with_hint(
            "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install \
             bubblewrap), and allow unprivileged user namespaces, or set sandbox: none",
        )
    })
}
