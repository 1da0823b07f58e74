//! The one launcher: every child a task runs (its agent, its `setup` and `check`
//! commands, merge's check of a merged result and its conflict-resolving agent) is built
//! here, from the task it works for, and run under [`crate::supervise`].
//!
//! A [`Seat`] says who a job works for and where: the variables of the task's
//! environment (`GIT_AGENTS_*`, the task's `env`), the placeholders of an agent's
//! template, the deadline. [`Seat::shell`] and [`Seat::agent`] build a [`Job`];
//! [`Job::run`] runs it in its own process group, its output streamed line by line into
//! the task's log and to the caller. A sandbox or a runner wraps jobs here ([`Job::enclosed`]).

use anyhow::Result;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::agent::{self, Agent, AgentEnv, Vars};
use crate::supervise::{self, Outcome};

/// Who a job works for, and where it runs.
pub struct Seat<'a> {
    /// The task id (`GIT_AGENTS_TASK`, `{task}`).
    pub task: &'a str,
    pub branch: &'a str,
    /// The directory the job runs in: the task's worktree, or a scratch worktree.
    pub dir: &'a Path,
    /// The base as named (`GIT_AGENTS_BASE`, `{base}`).
    pub base: &'a str,
    /// 1-based (`GIT_AGENTS_ATTEMPT`).
    pub attempt: u32,
    /// The port reserved for the task (`GIT_AGENTS_PORT`), if one is.
    pub port: Option<u16>,
    /// The scheduler slot (`GIT_AGENTS_INDEX`).
    pub index: usize,
    /// The task's notes file (`GIT_AGENTS_NOTES`).
    pub notes: &'a Path,
    /// The repository's directory name (for `COMPOSE_PROJECT_NAME`).
    pub repo_name: &'a str,
    /// The task's own `env` setting.
    pub env: &'a BTreeMap<String, String>,
    /// When the task's time limit runs out.
    pub deadline: Option<Instant>,
}

impl Seat<'_> {
    /// The environment every job of the task gets on top of ours.
    pub fn environment(&self) -> Vec<(String, String)> {
        agent::environment(
            &AgentEnv {
                task: self.task,
                branch: self.branch,
                worktree: &self.dir.to_string_lossy(),
                base: self.base,
                attempt: self.attempt,
                notes: &self.notes.to_string_lossy(),
                port: self.port,
                index: self.index,
                repo_name: self.repo_name,
            },
            self.env,
        )
    }

    /// A `setup` or `check` command: `sh -c CMD`, stdin closed.
    pub fn shell(&self, cmd: &str) -> Job {
        Job {
            program: "sh".into(),
            args: vec!["-c".to_string(), cmd.to_string()],
            dir: self.dir.to_path_buf(),
            env: self.environment(),
            stdin: None,
            deadline: self.deadline,
            stop: None,
        }
    }

    /// The agent with `prompt`: its template's placeholders filled in (`{prompt_file}`
    /// is `prompt_file`), its preset's environment added, and the prompt on its stdin
    /// when the template names neither prompt placeholder (else stdin is closed).
    pub fn agent(&self, agent: &Agent, prompt: &str, prompt_file: &Path) -> Job {
        let dir = self.dir.to_string_lossy();
        let vars = Vars {
            prompt,
            prompt_file: &prompt_file.to_string_lossy(),
            task: self.task,
            branch: self.branch,
            worktree: &dir,
            base: self.base,
        };
        let args = agent.template[1..]
            .iter()
            .map(|a| agent::expand(a, &vars))
            .collect();
        let mut env = self.environment();
        env.extend(agent.env.iter().cloned());
        Job {
            program: agent.program.clone().into_os_string(),
            args,
            dir: self.dir.to_path_buf(),
            env,
            stdin: agent.prompt_on_stdin().then(|| prompt.as_bytes().to_vec()),
            deadline: self.deadline,
            stop: None,
        }
    }
}

/// A command of the user's own for a batch as a whole (`agents.notify`): `sh -c CMD` in
/// `dir` with `stdin`, no task's environment.
pub fn batch_shell(cmd: &str, dir: &Path, stdin: Vec<u8>, deadline: Option<Instant>) -> Job {
    Job {
        program: "sh".into(),
        args: vec!["-c".to_string(), cmd.to_string()],
        dir: dir.to_path_buf(),
        env: Vec::new(),
        stdin: Some(stdin),
        deadline,
        stop: None,
    }
}

/// A child ready to run.
#[derive(Debug, Clone)]
pub struct Job {
    pub program: OsString,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub env: Vec<(String, String)>,
    /// Bytes for stdin; `None` closes it.
    pub stdin: Option<Vec<u8>>,
    pub deadline: Option<Instant>,
    /// What stops it from outside besides signals (a runner's `docker stop NAME`), run
    /// on a timeout, a Ctrl-C or `git agents stop`.
    pub stop: Option<Vec<String>>,
}

impl Job {
    /// This job inside the enclosure's sandbox or runner (`ready` made for it).
    pub fn enclosed(
        self,
        encl: &crate::sandbox::Enclosure,
        ready: &crate::sandbox::Ready,
        prompt: &str,
    ) -> Result<Job> {
        let w = encl.wrap(ready, &self.program, &self.args, &self.env, prompt)?;
        Ok(Job {
            program: w.program,
            args: w.args,
            stop: w.stop,
            ..self
        })
    }

    /// Run to its end (or its deadline, or Ctrl-C), streaming its output into `log` and
    /// each line, without its newline, to `on_line`. `on_start` gets the pid of its
    /// process group leader once it runs. An error means it could not run at all.
    pub fn run(
        &self,
        log: &mut dyn Write,
        on_start: impl FnMut(u32),
        on_line: impl FnMut(&str),
    ) -> Result<Outcome> {
        self.run_halting(
            log,
            &std::sync::atomic::AtomicBool::new(false),
            on_start,
            on_line,
        )
    }

    /// [`Job::run`], stopped like a timeout once `halt` is set (a budget passed).
    pub fn run_halting(
        &self,
        log: &mut dyn Write,
        halt: &std::sync::atomic::AtomicBool,
        on_start: impl FnMut(u32),
        on_line: impl FnMut(&str),
    ) -> Result<Outcome> {
        supervise::run_halting(
            supervise::Job {
                program: &self.program,
                args: &self.args,
                dir: &self.dir,
                env: &self.env,
                stdin: self.stdin.clone(),
                deadline: self.deadline,
                stop: self.stop.as_deref(),
            },
            log,
            halt,
            on_start,
            on_line,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat<'a>(dir: &'a Path, env: &'a BTreeMap<String, String>) -> Seat<'a> {
        Seat {
            task: "t1",
            branch: "agent/t1",
            dir,
            base: "main",
            attempt: 2,
            port: Some(20001),
            index: 3,
            notes: Path::new("/n/t1.md"),
            repo_name: "repo",
            env,
            deadline: None,
        }
    }

    fn get<'a>(env: &'a [(String, String)], k: &str) -> Option<&'a str> {
        env.iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn shell_and_agent_jobs_share_the_task_environment() {
        let dir = Path::new("/w/t1");
        let user = BTreeMap::from([("FOO".to_string(), "bar".to_string())]);
        let s = seat(dir, &user);
        let sh = s.shell("make test");
        assert_eq!(sh.program, "sh");
        assert_eq!(sh.args, ["-c", "make test"]);
        assert_eq!(sh.stdin, None);
        let agent = Agent {
            template: vec![
                "a".into(),
                "--msg={prompt}".into(),
                "{task}@{branch}".into(),
            ],
            program: "/bin/a".into(),
            env: vec![("MODE".into(), "auto".into())],
            output: None,
        };
        let job = s.agent(&agent, "do it", Path::new("/p.md"));
        assert_eq!(job.program, "/bin/a");
        assert_eq!(job.args, ["--msg=do it", "t1@agent/t1"]);
        assert_eq!(job.stdin, None, "the template names {{prompt}}");
        for env in [&sh.env, &job.env] {
            assert_eq!(get(env, "FOO"), Some("bar"));
            assert_eq!(get(env, "GIT_AGENTS_TASK"), Some("t1"));
            assert_eq!(get(env, "GIT_AGENTS_WORKTREE"), Some("/w/t1"));
            assert_eq!(get(env, "GIT_AGENTS_ATTEMPT"), Some("2"));
            assert_eq!(get(env, "GIT_AGENTS_PORT"), Some("20001"));
            assert_eq!(get(env, "GIT_AGENTS_INDEX"), Some("3"));
        }
        // The preset's own variables are the agent's, not the shell commands'.
        assert_eq!(get(&job.env, "MODE"), Some("auto"));
        assert_eq!(get(&sh.env, "MODE"), None);
        let quiet = Agent {
            template: vec!["a".into()],
            ..agent
        };
        let job = s.agent(&quiet, "do it", Path::new("/p.md"));
        assert_eq!(job.stdin.as_deref(), Some(&b"do it"[..]));
    }

    #[test]
    fn a_job_runs_supervised() {
        let tmp = tempfile::tempdir().unwrap();
        let user = BTreeMap::new();
        let s = seat(tmp.path(), &user);
        let mut log = Vec::new();
        let mut lines = Vec::new();
        let mut started = None;
        let out = s
            .shell("echo \"$GIT_AGENTS_TASK\"; exit 4")
            .run(
                &mut log,
                |pid| started = Some(pid),
                |l| lines.push(l.to_string()),
            )
            .unwrap();
        assert_eq!(out, Outcome::Exited(4));
        assert!(started.is_some());
        assert_eq!(lines, ["t1"]);
        assert_eq!(log, b"t1\n");
    }
}
