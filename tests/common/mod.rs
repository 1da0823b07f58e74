//! Hermetic test environment: a real git repository in a temp dir, the real binary,
//! no inherited git config or repository variables, fixed identity and dates, and fake
//! agents written as small shell scripts.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Env {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub bin: PathBuf,
    pub repo: PathBuf,
}

pub const BIN: &str = env!("CARGO_BIN_EXE_git-agents");

impl Env {
    /// A repository with one commit on `main`.
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(tmp.path()).unwrap();
        let home = root.join("home");
        let bin = root.join("bin");
        let repo = root.join("repo");
        for d in [&home, &bin, &repo] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(
            home.join(".gitconfig"),
            "[user]\n\tname = Test User\n\temail = test@example.com\n[init]\n\tdefaultBranch = main\n",
        )
        .unwrap();
        let env = Env {
            _tmp: tmp,
            root,
            home,
            bin,
            repo,
        };
        env.git(&["init", "-q", "-b", "main"]);
        env.write("README.md", "hello\n");
        env.git(&["add", "README.md"]);
        env.git(&["commit", "-q", "-m", "initial"]);
        env
    }

    pub fn apply(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env(
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()),
            )
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env("LC_ALL", "C")
            .env("TZ", "UTC")
            .env("GIT_AGENTS_KILL_GRACE_MS", "500")
            .current_dir(&self.repo);
    }

    pub fn git(&self, args: &[&str]) -> String {
        self.git_in(&self.repo, args)
    }

    pub fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.apply(&mut cmd);
        let out = cmd.current_dir(dir).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn git_ok(&self, args: &[&str]) -> bool {
        let mut cmd = Command::new("git");
        self.apply(&mut cmd);
        cmd.args(args).output().unwrap().status.success()
    }

    /// The git-agents binary, ready to run in the repository.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        self.apply(&mut cmd);
        cmd.args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run(self.cmd(args).output().unwrap())
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.repo.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A fake agent: an executable `sh` script named `name` on the PATH.
    pub fn agent(&self, name: &str, body: &str) -> PathBuf {
        let p = self.bin.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    pub fn agents_dir(&self) -> PathBuf {
        self.repo.join(".git/agents")
    }

    pub fn worktree(&self, id: &str) -> PathBuf {
        self.repo.join(".worktrees").join(id)
    }

    pub fn branches(&self) -> Vec<String> {
        self.git(&["for-each-ref", "--format=%(refname:short)", "refs/heads"])
            .lines()
            .map(String::from)
            .collect()
    }

    pub fn record(&self, id: &str) -> serde_json::Value {
        let p = self.agents_dir().join("tasks").join(format!("{id}.json"));
        serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap()
    }
}

pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout(), self.stderr()))
    }
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code(),
            0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    #[track_caller]
    pub fn code_is(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// The task objects of a `--json` document, by id.
pub fn tasks(doc: &serde_json::Value) -> std::collections::BTreeMap<String, serde_json::Value> {
    assert_eq!(doc["version"], 1);
    doc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_string(), t.clone()))
        .collect()
}

/// Whether `program`, which a test needs beside git and sh (bwrap, a schema checker), is
/// on PATH. `.ci/run` installs each and sets `GIT_AGENTS_CI`: there a missing one fails
/// the test, loudly. Elsewhere (a plain `cargo test` on a machine without it) the test
/// says so on stderr and is skipped.
pub fn needs(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    if !found {
        if std::env::var_os("GIT_AGENTS_CI").is_some_and(|v| !v.is_empty()) {
            panic!("{program} is not installed, and .ci/run should have installed it");
        }
        eprintln!("NOTICE: {program} is not installed: skipping this test (.ci/run installs it)");
    }
    found
}

/// Whether process `pid` lives: a zombie (dead, not yet reaped) counts as gone.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !matches!(
            s.rfind(')')
                .and_then(|i| s[i + 1..].trim_start().chars().next()),
            Some('Z' | 'X') | None
        )
    })
}

/// The pid a fake agent wrote to `path` (`echo $$ > path`), waiting up to 30 s for it: the
/// file can exist, empty, before the shell's write.
#[track_caller]
pub fn read_pid(path: &Path) -> u32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && let Ok(pid) = s.trim().parse()
        {
            return pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} was never written",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
