//! git-agents as a git subcommand: `git -c` and `-C` like git's own commands, `init`
//! (flags off a terminal, the prompt on a pseudo-terminal), and man pages that make
//! `git agents --help` work.

mod common;

use common::{BIN, Env, Run, tasks};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Put the binary on the test PATH so that git finds `git agents`.
fn with_bin(env: &Env) {
    std::os::unix::fs::symlink(BIN, env.bin.join("git-agents")).unwrap();
}

/// Run `git ARGS` (which may run `git agents …`) in `dir`, whatever its exit status.
fn git_run(env: &Env, dir: &Path, args: &[&str]) -> Run {
    let mut cmd = Command::new("git");
    env.apply(&mut cmd);
    Run(cmd.current_dir(dir).args(args).output().unwrap())
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

// ---- git -c -----------------------------------------------------------------------

#[test]
fn git_dash_c_sets_the_agent_command() {
    let env = Env::new();
    with_bin(&env);
    env.agent("echo-agent", "printf '%s' \"$1\" > said.txt");
    let run = git_run(
        &env,
        &env.repo,
        &[
            "-c",
            "agents.command=echo-agent {prompt}",
            "agents",
            "spawn",
            "-p",
            "Say hi",
            "--json",
        ],
    )
    .ok();
    let t = tasks(&run.json());
    assert_eq!(t["say-hi"]["state"], "succeeded");
    let said = std::fs::read_to_string(env.worktree("say-hi").join("said.txt")).unwrap();
    assert_eq!(said, "Say hi");
}

#[test]
fn git_dash_c_wins_over_repository_config() {
    let env = Env::new();
    with_bin(&env);
    env.agent("touch-agent", "echo x > x.txt");
    env.git(&["config", "agents.branchPrefix", "local/"]);
    env.git(&["config", "agents.command", "touch-agent"]);
    git_run(
        &env,
        &env.repo,
        &[
            "-c",
            "agents.branchPrefix=cli/",
            "agents",
            "spawn",
            "-p",
            "One",
        ],
    )
    .ok();
    // Without -c, the repository's value applies.
    git_run(&env, &env.repo, &["agents", "spawn", "-p", "Two"]).ok();
    let branches = env.branches();
    assert!(branches.contains(&"cli/one".to_string()), "{branches:?}");
    assert!(branches.contains(&"local/two".to_string()), "{branches:?}");
}

#[test]
fn git_dash_c_jobs_limits_parallelism() {
    let env = Env::new();
    with_bin(&env);
    // Each agent records the worker slot it ran in.
    env.agent(
        "slot-agent",
        "echo \"$GIT_AGENTS_INDEX\" > slot.txt; sleep 0.3",
    );
    env.write(
        "agents.yaml",
        "command: [slot-agent]\ntasks:\n  - {id: a, prompt: A}\n  - {id: b, prompt: B}\n  - {id: c, prompt: C}\n",
    );
    let slots = |env: &Env| -> Vec<String> {
        let mut s: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|id| {
                std::fs::read_to_string(env.worktree(id).join("slot.txt"))
                    .unwrap()
                    .trim()
                    .to_string()
            })
            .collect();
        s.sort();
        s.dedup();
        s
    };
    git_run(&env, &env.repo, &["-c", "agents.jobs=1", "agents", "spawn"]).ok();
    assert_eq!(
        slots(&env),
        ["0"],
        "agents.jobs=1 from git -c runs one at a time"
    );

    // A bad value given with -c is reported as that key, exit 2.
    let run = git_run(
        &env,
        &env.repo,
        &["-c", "agents.jobs=0", "agents", "spawn", "-p", "x"],
    )
    .code_is(2);
    assert!(run.stderr().contains("agents.jobs"), "{}", run.stderr());
}

#[test]
fn git_config_env_encoding_is_honoured() {
    // git ≥ 2.31 can also pass config as GIT_CONFIG_COUNT/KEY_n/VALUE_n.
    let env = Env::new();
    env.agent("touch-agent", "echo x > x.txt");
    env.cmd(&["spawn", "-p", "Env config"])
        .env("GIT_CONFIG_COUNT", "2")
        .env("GIT_CONFIG_KEY_0", "agents.command")
        .env("GIT_CONFIG_VALUE_0", "touch-agent")
        .env("GIT_CONFIG_KEY_1", "agents.branchPrefix")
        .env("GIT_CONFIG_VALUE_1", "env/")
        .output()
        .unwrap();
    assert!(env.branches().contains(&"env/env-config".to_string()));
}

// ---- -C ---------------------------------------------------------------------------

/// A repository with one spawned task `t` (worktree present) and a subdirectory.
fn spawned() -> Env {
    let env = Env::new();
    with_bin(&env);
    env.agent("touch-agent", "echo x > x.txt");
    env.write("sub/dir/file.txt", "f\n");
    env.run(&["spawn", "t", "-p", "T", "--command", "touch-agent"])
        .ok();
    env
}

#[test]
fn dash_c_is_relative_and_composes() {
    let env = spawned();
    let want = format!("{}\n", env.worktree("t").display());
    // Relative to the current directory.
    let run = Run(env
        .cmd(&["-C", "repo", "path", "t"])
        .current_dir(&env.root)
        .output()
        .unwrap())
    .ok();
    assert_eq!(run.stdout(), want);
    // Repeated: each is relative to the one before, like git's.
    let run = Run(env
        .cmd(&["-C", "repo", "-C", "sub", "-C", "dir", "path", "t"])
        .current_dir(&env.root)
        .output()
        .unwrap())
    .ok();
    assert_eq!(run.stdout(), want);
    // After the subcommand too (a global option), and an empty one is ignored.
    let run = Run(env
        .cmd(&["path", "t", "-C", "", "-C", "repo/sub"])
        .current_dir(&env.root)
        .output()
        .unwrap())
    .ok();
    assert_eq!(run.stdout(), want);
    // git's -C and ours compose the same way.
    let run = git_run(
        &env,
        &env.root,
        &["-C", "repo", "agents", "-C", "sub", "path", "t"],
    )
    .ok();
    assert_eq!(run.stdout(), want);
}

#[test]
fn dash_c_to_a_missing_directory_is_a_usage_error() {
    let env = spawned();
    let run = Run(env
        .cmd(&["-C", "nowhere", "path", "t"])
        .current_dir(&env.root)
        .output()
        .unwrap())
    .code_is(2);
    assert!(run.stderr().contains("nowhere"), "{}", run.stderr());
}

// ---- init -------------------------------------------------------------------------

/// PATH with the test's bin dir and git only, so that no real agent CLI of this machine
/// is found.
fn isolated_path(env: &Env) -> String {
    let gitdir = env.root.join("gitonly");
    if !gitdir.exists() {
        std::fs::create_dir_all(&gitdir).unwrap();
        let out = Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap();
        let git = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        std::os::unix::fs::symlink(git, gitdir.join("git")).unwrap();
    }
    format!("{}:{}", env.bin.display(), gitdir.display())
}

fn init(env: &Env, args: &[&str]) -> Run {
    let mut all = vec!["init"];
    all.extend_from_slice(args);
    Run(env
        .cmd(&all)
        .env("PATH", isolated_path(env))
        .stdin(Stdio::null())
        .output()
        .unwrap())
}

fn configured_agent(env: &Env) -> Option<String> {
    let mut cmd = Command::new("git");
    env.apply(&mut cmd);
    let out = cmd
        .args(["config", "--local", "agents.agent"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[test]
fn init_with_flags_writes_manifest_and_config() {
    let env = Env::new();
    let run = init(&env, &["--agent", "codex"]).ok();
    let manifest = std::fs::read_to_string(env.repo.join("agents.yaml")).unwrap();
    assert_eq!(manifest, git_agents::cmd::init::STARTER);
    assert_eq!(configured_agent(&env).as_deref(), Some("codex"));
    // codex is not installed here: said, not refused.
    assert!(
        run.stderr().contains("codex is not on PATH"),
        "{}",
        run.stderr()
    );
    // What it wrote is a manifest the other commands accept.
    with_bin(&env);
    let ids = env
        .cmd(&[])
        .env("GIT_AGENTS_COMPLETE", "ids")
        .output()
        .unwrap();
    assert!(ids.status.success());
    let listed = Run(env
        .cmd(&["spawn"])
        .env("PATH", isolated_path(&env))
        .output()
        .unwrap());
    assert!(
        !listed.stderr().contains("agents.yaml:"),
        "the starter manifest does not parse: {}",
        listed.stderr()
    );
}

#[test]
fn init_off_a_terminal_never_asks() {
    let env = Env::new();
    env.agent("aider", "exit 0");
    let run = init(&env, &[]).code_is(2);
    assert!(run.stderr().contains("no terminal"), "{}", run.stderr());
    assert!(run.stderr().contains("--agent"), "{}", run.stderr());
    // Nothing changed.
    assert!(!env.repo.join("agents.yaml").exists());
    assert_eq!(configured_agent(&env), None);

    // -y takes the first preset found on PATH.
    env.agent("gemini", "exit 0");
    init(&env, &["-y"]).ok();
    assert_eq!(configured_agent(&env).as_deref(), Some("aider"));
}

#[test]
fn init_yes_keeps_the_configured_agent() {
    let env = Env::new();
    env.agent("aider", "exit 0");
    env.git(&["config", "agents.agent", "gemini"]);
    init(&env, &["-y"]).ok();
    assert_eq!(configured_agent(&env).as_deref(), Some("gemini"));
}

#[test]
fn init_yes_with_no_agent_on_path_is_an_error() {
    let env = Env::new();
    let run = init(&env, &["-y"]).code_is(2);
    assert!(
        run.stderr().contains("no agent CLI found"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("--agent NAME"), "{}", run.stderr());
    assert!(!env.repo.join("agents.yaml").exists());
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let env = Env::new();
    env.write("agents.yaml", "tasks: []\n# mine\n");
    let run = init(&env, &["--agent", "claude"]).code_is(2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    assert!(run.stderr().contains("--force"), "{}", run.stderr());
    assert_eq!(
        std::fs::read_to_string(env.repo.join("agents.yaml")).unwrap(),
        "tasks: []\n# mine\n"
    );
    assert_eq!(configured_agent(&env), None);

    init(&env, &["--agent", "claude", "--force"]).ok();
    assert_eq!(
        std::fs::read_to_string(env.repo.join("agents.yaml")).unwrap(),
        git_agents::cmd::init::STARTER
    );
    assert_eq!(configured_agent(&env).as_deref(), Some("claude"));

    // A hidden manifest would be shadowed: refused the same way.
    let env = Env::new();
    env.write(".agents.yaml", "tasks: []\n");
    init(&env, &["--agent", "claude"]).code_is(2);
    assert!(!env.repo.join("agents.yaml").exists());
}

#[test]
fn init_honours_manifest_flag_and_works_from_a_subdirectory() {
    let env = Env::new();
    env.write("sub/keep.txt", "k\n");
    let run = Run(env
        .cmd(&["init", "--agent", "amp"])
        .current_dir(env.repo.join("sub"))
        .env("PATH", isolated_path(&env))
        .output()
        .unwrap())
    .ok();
    assert!(env.repo.join("agents.yaml").is_file(), "{}", run.stderr());
    init(&env, &["--agent", "amp", "--manifest", "ci/agents.yaml"]).ok();
    assert!(env.repo.join("ci/agents.yaml").is_file());
}

/// The prompt, answered on a pseudo-terminal (`script` from util-linux): arrow down,
/// Enter picks the second agent found on PATH.
#[test]
fn init_prompts_on_a_terminal() {
    let usable = Command::new("script")
        .args(["-qec", "true", "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !usable {
        eprintln!("note: util-linux `script` not available; skipping the terminal test");
        return;
    }
    let env = Env::new();
    env.agent("aider", "exit 0");
    env.agent("gemini", "exit 0");
    let out = Command::new("sh")
        .args(["-c", "command -v script"])
        .output()
        .unwrap();
    let script = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let mut cmd = Command::new(script);
    env.apply(&mut cmd);
    let mut child = cmd
        .env("PATH", isolated_path(&env))
        .env("TERM", "xterm")
        .args(["-qec", &format!("'{BIN}' init"), "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"\x1b[B\r").unwrap();
    let out = child.wait_with_output().unwrap();
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(
        screen.contains("Which agent should run the tasks?"),
        "{screen}"
    );
    assert!(screen.contains("(not found on PATH)"), "{screen}");
    assert_eq!(
        configured_agent(&env).as_deref(),
        Some("gemini"),
        "{screen}"
    );
    assert!(env.repo.join("agents.yaml").is_file());
}

// ---- man --------------------------------------------------------------------------

#[test]
fn man_prints_the_top_page() {
    let env = Env::new();
    let run = env.run(&["man"]).ok();
    assert!(
        run.stdout().contains(".TH GIT-AGENTS 1"),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains(".SH SYNOPSIS"));
}

#[test]
fn man_install_then_git_help_opens_it() {
    let env = Env::new();
    with_bin(&env);
    // Not a directory man finds by itself (man-db also looks in ../share/man of each
    // PATH entry, which would include <root>/share/man here).
    let dir = env.root.join("pages/man1");
    let run = env.run(&["man", "--install", dir.to_str().unwrap()]).ok();
    for (name, text) in git_agents::cmd::man::pages() {
        let path = dir.join(&name);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{name}");
        assert!(run.stdout().contains(path.to_str().unwrap()));
    }
    assert!(dir.join("git-agents-spawn.1").is_file());
    if has("manpath") {
        // Not on this hermetic MANPATH: the user is told what to add.
        assert!(run.stderr().contains("MANPATH"), "{}", run.stderr());
    }

    if !has("man") {
        eprintln!("note: man is not installed; skipping `git agents --help`");
        return;
    }
    let manroot = env.root.join("pages");
    let mut cmd = Command::new("git");
    env.apply(&mut cmd);
    let out = cmd
        .env("MANPATH", &manroot)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .env("MANWIDTH", "80")
        .args(["agents", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("GIT-AGENTS(1)"), "{text}");
    assert!(text.contains("EXIT STATUS"), "{text}");
    // -h and a subcommand's --help still reach clap.
    let run = git_run(&env, &env.repo, &["agents", "spawn", "--help"]).ok();
    assert!(
        run.stdout().contains("Usage: git agents spawn"),
        "{}",
        run.stdout()
    );
}

#[test]
fn man_install_defaults_to_the_user_data_dir() {
    let env = Env::new();
    let run = Run(env
        .cmd(&["man", "--install"])
        .env("XDG_DATA_HOME", env.root.join("xdg"))
        .output()
        .unwrap())
    .ok();
    assert!(
        env.root.join("xdg/man/man1/git-agents.1").is_file(),
        "{}",
        run.stderr()
    );
    env.run(&["man", "--install"]).ok();
    assert!(
        env.home
            .join(".local/share/man/man1/git-agents-init.1")
            .is_file()
    );
}
