//! Runner templates: a command prefix the agent (and its setup and check) runs inside,
//! such as `docker run … IMAGE`. `runner:` in the manifest (or `agents.runner`) is a
//! preset name (`docker`, `podman`) or a template: a list of arguments with the agent's
//! placeholders (`{prompt}`, `{prompt_file}`, `{task}`, `{branch}`, `{worktree}`,
//! `{base}`) and `{common_dir}`, `{container}`, `{image}`, `{port}`, `{grace}` (the stop grace in
//! seconds). An argument
//! `GIT_AGENTS_*` right after `-e`/`--env` stands for one `-e NAME` per variable of the
//! task's environment.
//!
//! A container outlives the client that started it when the client is killed, so a
//! timeout or `git agents stop` also runs the runner's stop command (`docker stop` by
//! the container's name, derived from the task): the preset's, or `runner_stop`.

use anyhow::Result;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;

/// The placeholders a runner template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "prompt",
    "prompt_file",
    "task",
    "branch",
    "worktree",
    "base",
    "common_dir",
    "container",
    "image",
    "port",
    "grace",
];

/// The built-in presets.
pub const PRESETS: &[&str] = &["docker", "podman"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// `docker` or `podman`.
    Preset(String),
    Template(Vec<String>),
}

/// A resolved runner: its template, image and stop command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    pub spec: Spec,
    pub image: Option<String>,
    /// `runner_stop`; a preset brings its own.
    pub stop: Option<Vec<String>>,
}

/// Why a template is refused, or nothing.
pub fn check_template(what: &str, t: &[String]) -> Result<(), String> {
    crate::template::check(
        what,
        t,
        PLACEHOLDERS,
        &format!(
            "{what} must not be empty; give a command prefix such as [docker, run, --rm, IMAGE]"
        ),
    )
}

/// A `runner` value as written in git config: a preset name, or a command split like a
/// shell.
pub fn parse_spec(text: &str) -> Result<Spec, String> {
    if PRESETS.contains(&text.trim()) || text.trim() == crate::remote::RUNNER {
        return Ok(Spec::Preset(text.trim().to_string()));
    }
    let t = crate::manifest::split_command(text).map_err(|e| format!("runner: {e}"))?;
    check_template("runner", &t)?;
    Ok(Spec::Template(t))
}

impl Runner {
    /// `docker`, `podman` or `template`.
    pub fn kind_name(&self) -> &str {
        match &self.spec {
            Spec::Preset(p) => p,
            Spec::Template(_) => "template",
        }
    }

    /// The program that runs the container.
    pub fn program(&self) -> &str {
        match &self.spec {
            Spec::Preset(p) => p,
            Spec::Template(t) => &t[0],
        }
    }

    /// Before anything is created: the image a preset needs, the runner's program.
    pub fn check(&self, task: &str) -> Result<(), Error> {
        if let Spec::Preset(p) = &self.spec
            && self.image.as_deref().is_none_or(|i| i.trim().is_empty())
        {
            return Err(Error::usage(format!(
                "task {task}: runner {p} needs an image, and runner_image is not set"
            ))
            .with_hint(
                "set runner_image: IMAGE in the manifest, or: git config agents.runnerImage IMAGE",
            ));
        }
        if which::which(self.program()).is_err() {
            return Err(Error::usage(format!(
                "task {task}: runner program {:?} not found on PATH",
                self.program()
            ))
            .with_hint("install it, or change `runner`"));
        }
        Ok(())
    }

    /// The template before expansion (a preset's spelled out).
    pub fn template(&self) -> Vec<String> {
        match &self.spec {
            Spec::Template(t) => t.clone(),
            Spec::Preset(p) => [
                p.as_str(),
                "run",
                "--rm",
                "--init",
                "--name",
                "{container}",
                "-v",
                "{worktree}:{worktree}",
                "-v",
                "{common_dir}:{common_dir}",
                "-w",
                "{worktree}",
                "-e",
                "GIT_AGENTS_*",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        }
    }

    /// The stop command before expansion, if there is one.
    pub fn stop_template(&self) -> Option<Vec<String>> {
        match (&self.spec, &self.stop) {
            (_, Some(s)) => Some(s.clone()),
            (Spec::Preset(p), None) => Some(
                [p.as_str(), "stop", "--time", "{grace}", "{container}"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            ),
            (Spec::Template(_), None) => None,
        }
    }
}

/// Values for a runner's placeholders.
pub struct Vars<'a> {
    pub prompt: &'a str,
    pub prompt_file: &'a str,
    pub task: &'a str,
    pub branch: &'a str,
    pub worktree: &'a str,
    pub base: &'a str,
    pub common_dir: &'a str,
    pub container: &'a str,
    pub image: &'a str,
    pub port: &'a str,
}

/// Substitute placeholders in one pass (a value is never looked at again).
pub fn expand(arg: &str, v: &Vars) -> String {
    crate::template::expand(arg, |name| {
        let val = match name {
            "prompt" => v.prompt,
            "prompt_file" => v.prompt_file,
            "task" => v.task,
            "branch" => v.branch,
            "worktree" => v.worktree,
            "base" => v.base,
            "common_dir" => v.common_dir,
            "container" => v.container,
            "image" => v.image,
            "port" => v.port,
            "grace" => return Some(grace_secs()),
            _ => return None,
        };
        Some(val.to_string())
    })
}

fn grace_secs() -> String {
    crate::engine::stop::grace().as_secs().max(1).to_string()
}

/// The full prefix for one job: the template expanded, `-e GIT_AGENTS_*` spread over
/// the job's environment (`env_names`), and for a preset the port and the image.
pub fn prefix(r: &Runner, v: &Vars, env_names: &[&str], port: Option<u16>) -> Vec<String> {
    let t = r.template();
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if (t[i] == "-e" || t[i] == "--env") && t.get(i + 1).is_some_and(|a| a == "GIT_AGENTS_*") {
            let all = matches!(r.spec, Spec::Preset(_));
            for n in env_names {
                if all || n.starts_with("GIT_AGENTS_") {
                    out.push("-e".to_string());
                    out.push(n.to_string());
                }
            }
            i += 2;
            continue;
        }
        out.push(expand(&t[i], v));
        i += 1;
    }
    if let Spec::Preset(_) = r.spec {
        if let Some(p) = port {
            out.push("-p".into());
            out.push(format!("{p}:{p}"));
        }
        out.push(v.image.to_string());
    }
    out
}

/// The name of the container of one attempt: from the task, unique per supervisor.
pub fn container_name(task: &str, attempt: u32) -> String {
    let clean: String = task
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("git-agents-{clean}-{}-{attempt}", std::process::id())
}

/// Run a runner's stop command (already expanded), waiting for it at most `limit`.
/// Returns whether it ran and exited 0. A stop command is best effort: the client's
/// process tree is stopped anyway.
pub fn run_stop(argv: &[String], limit: Duration) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let Ok(mut child) = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let until = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s.success(),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// The agent of a task whose runner is set: its program runs inside the container, so
/// it is not looked for on our PATH. `None` without a runner.
pub fn container_agent(
    task: &str,
    settings: &crate::config::TaskSettings,
) -> Option<Result<crate::agent::Agent, Error>> {
    settings.sandbox.runner.as_ref()?;
    use crate::config::AgentChoice;
    let (template, env, output) = match &settings.agent {
        Some(AgentChoice::Command(c)) => (c.clone(), Vec::new(), None),
        Some(AgentChoice::Preset(name)) => match crate::agent::preset(name) {
            Some(p) => p.parts(),
            None => return Some(Err(Error::usage(format!("unknown agent {name:?}")))),
        },
        None => {
            return Some(Err(Error::usage(format!(
                "task {task}: with a runner, the agent must be named (its CLI is in the image, not on this PATH)"
            ))
            .with_hint("pass --agent NAME or --command CMD, or set agent: in the manifest")));
        }
    };
    Some(Ok(crate::agent::Agent {
        program: template[0].clone().into(),
        template,
        env,
        output,
    }))
}

/// `runner` in the manifest: a preset name or a template (a list).
pub(crate) struct SpecValue(pub(crate) Spec);

impl<'de> Deserialize<'de> for SpecValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = SpecValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a runner preset (docker, podman), remote, or a command prefix as a list",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SpecValue, E> {
                if PRESETS.contains(&v) || v == crate::remote::RUNNER {
                    Ok(SpecValue(Spec::Preset(v.to_string())))
                } else {
                    Err(E::custom(format!(
                        "unknown runner {v:?}; expected one of {} or a command prefix as a list",
                        PRESETS.join(", ")
                    )))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<SpecValue, A::Error> {
                let mut t = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    t.push(s);
                }
                check_template("runner", &t).map_err(de::Error::custom)?;
                Ok(SpecValue(Spec::Template(t)))
            }
        }
        d.deserialize_any(V)
    }
}

/// `runner_stop`: a template (a list), with the runner's placeholders.
pub(crate) struct StopValue(pub(crate) Vec<String>);

impl<'de> Deserialize<'de> for StopValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StopValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a stop command as a list, e.g. [docker, stop, \"{container}\"]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StopValue, A::Error> {
                let mut t = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    t.push(s);
                }
                check_template("runner_stop", &t).map_err(de::Error::custom)?;
                Ok(StopValue(t))
            }
        }
        d.deserialize_seq(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars<'static> {
        Vars {
            prompt: "p",
            prompt_file: "/p.md",
            task: "t1",
            branch: "agent/t1",
            worktree: "/w/t1",
            base: "main",
            common_dir: "/r/.git",
            container: "c1",
            image: "img",
            port: "20001",
        }
    }

    #[test]
    fn templates_are_checked() {
        assert!(check_template("runner", &[]).is_err());
        assert!(check_template("runner", &["x".into(), "{nope}".into()]).is_err());
        assert!(check_template("runner", &["x".into(), "{worktree}:{common_dir}".into()]).is_ok());
        assert!(check_template("runner", &["sh".into(), "-c".into(), "{ a; }".into()]).is_ok());
        assert!(parse_spec("docker").is_ok());
        assert!(parse_spec("").is_err());
    }

    #[test]
    fn a_preset_mounts_at_the_same_paths_and_passes_the_environment() {
        let r = Runner {
            spec: Spec::Preset("docker".into()),
            image: Some("img".into()),
            stop: None,
        };
        let p = prefix(&r, &vars(), &["GIT_AGENTS_TASK", "FOO"], Some(20001));
        assert_eq!(
            p.join(" "),
            "docker run --rm --init --name c1 -v /w/t1:/w/t1 -v /r/.git:/r/.git -w /w/t1 \
             -e GIT_AGENTS_TASK -e FOO -p 20001:20001 img"
        );
        let stop = r.stop_template().unwrap();
        assert_eq!(stop[..3], ["docker", "stop", "--time"]);
        assert_eq!(expand(&stop[4], &vars()), "c1");
        let t = Runner {
            spec: Spec::Template(vec!["x".into(), "-e".into(), "GIT_AGENTS_*".into()]),
            image: None,
            stop: None,
        };
        assert_eq!(
            prefix(&t, &vars(), &["GIT_AGENTS_TASK", "FOO"], None),
            ["x", "-e", "GIT_AGENTS_TASK"]
        );
        assert_eq!(t.stop_template(), None);
        let podman = Runner {
            spec: Spec::Preset("podman".into()),
            image: Some("img".into()),
            stop: None,
        };
        let p = prefix(&podman, &vars(), &[], None);
        assert_eq!(p[..2], ["podman", "run"]);
        assert_eq!(p.last().unwrap(), "img");
        assert_eq!(podman.stop_template().unwrap()[..2], ["podman", "stop"]);
    }
}
