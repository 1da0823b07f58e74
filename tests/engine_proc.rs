//! Issue 11, the process side: children run through duct with every guarantee the
//! supervisor had, every prompt is asked by the ui module (answered here on a
//! pseudo-terminal the test opens itself), and git's argv is spelled only in the git
//! module.

mod common;

use common::{BIN, Env};
use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------
// Children

#[test]
fn a_background_process_holding_a_big_prompt_on_stdin_does_not_hold_up_the_task() {
    let env = Env::new();
    // The prompt goes on stdin (the command names no {prompt}); it is more than a pipe
    // holds. The agent reads none of it, starts a process that keeps stdin open (as fd
    // 3: sh gives a background job /dev/null) and exits at once.
    env.agent(
        "leaver",
        "exec 3<&0\nsleep 300 &\necho $! > ../leaver.pid\necho done > done.txt",
    );
    env.write("prompt.md", &"a long prompt\n".repeat(80_000));
    env.write(
        "agents.yaml",
        "command: [leaver]\ntimeout: 60s\ntasks:\n  - {id: big, prompt_file: prompt.md}\n",
    );
    let start = Instant::now();
    let run = env.run(&["spawn", "--json"]).ok();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "spawn waited {:?} on a process holding stdin",
        start.elapsed()
    );
    let tasks = common::tasks(&run.json());
    assert_eq!(tasks["big"]["state"], "succeeded", "{}", run.stderr());
    assert!(env.worktree("big").join("done.txt").is_file());
    let pid: i32 = std::fs::read_to_string(env.repo.join(".worktrees/leaver.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signal 0 only asks whether the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0;
    assert!(!alive, "the background process {pid} outlived its task");
}

// ---------------------------------------------------------------------------------------
// Prompts, answered on a pseudo-terminal

/// git-agents with stdin and stderr on a fresh pseudo-terminal, stdout on a pipe: waits
/// until `wait_for` shows on the terminal, types `keys`, and returns the exit code and
/// everything the terminal showed.
fn at_a_terminal(env: &Env, args: &[&str], wait_for: &str, keys: &[u8]) -> (i32, String) {
    let (mut master, slave) = pty();
    let mut cmd = Command::new(BIN);
    env.apply(&mut cmd);
    cmd.args(args)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(cmd);
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = {
        let screen = Arc::clone(&screen);
        let mut master = master.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the last process holding the terminal is gone.
            while let Ok(n @ 1..) = master.read(&mut buf) {
                screen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    let shown = |s: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&s.lock().unwrap()).into_owned();
    let until = Instant::now() + Duration::from_secs(20);
    while !shown(&screen).contains(wait_for) {
        if Instant::now() > until || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!(
                "never asked {wait_for:?}; the terminal showed:\n{}",
                shown(&screen)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    master.write_all(keys).unwrap();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!(
                "no end after the answer; the terminal showed:\n{}",
                shown(&screen)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(master);
    let _ = reader.join();
    (code, shown(&screen))
}

fn pty() -> (std::fs::File, OwnedFd) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors, which we own from here on.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    }
}

fn tracked_manifest(env: &Env) {
    env.agent("w", "echo x > x.txt");
    env.write(
        "agents.yaml",
        "command: w\ncheck: \"true\"\ntasks:\n  - {id: t1, prompt: a}\n  - {id: t2, prompt: b}\n",
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
}

#[test]
fn a_tracked_manifest_is_trusted_by_answering_yes_at_the_terminal() {
    let env = Env::new();
    tracked_manifest(&env);
    let (code, screen) = at_a_terminal(&env, &["spawn", "t1"], "Trust them and run?", b"y");
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("is tracked by git and would run these commands:"),
        "{screen}"
    );
    assert!(screen.contains("all tasks command: w"), "{screen}");
    assert!(env.worktree("t1").join("x.txt").is_file());
    let trust = std::fs::read_to_string(env.agents_dir().join("trust")).unwrap();
    assert_eq!(trust.lines().count(), 1, "{trust}");
    // Recorded: the next run asks nothing, even off a terminal.
    env.run(&["spawn", "t2"]).ok();
}

#[test]
fn answering_no_or_escape_runs_nothing_and_records_nothing() {
    for key in [&b"n"[..], b"\x1b", b"q"] {
        let env = Env::new();
        tracked_manifest(&env);
        let (code, screen) = at_a_terminal(&env, &["spawn", "t1"], "Trust them and run?", key);
        assert_eq!(code, 2, "{key:?}: {screen}");
        assert!(screen.contains("not trusted: nothing was run"), "{screen}");
        assert!(!env.repo.join(".worktrees").exists());
        assert!(!env.agents_dir().join("trust").exists());
        assert_eq!(env.branches(), vec!["main"]);
    }
}

#[test]
fn init_asks_which_agent_at_the_terminal() {
    let env = Env::new();
    // Two presets found on PATH come first, in preset order; `j` moves to the second.
    let found: Vec<String> = ["claude", "codex"]
        .iter()
        .map(|n| {
            env.agent(n, "exit 0");
            n.to_string()
        })
        .collect();
    let (code, screen) =
        at_a_terminal(&env, &["init"], "Which agent should run the tasks?", b"j\r");
    assert_eq!(code, 0, "{screen}");
    assert_eq!(env.git(&["config", "agents.agent"]).trim(), found[1]);
    assert!(env.repo.join("agents.yaml").is_file());
}

#[test]
fn init_cancelled_at_the_terminal_writes_nothing() {
    let env = Env::new();
    env.agent("claude", "exit 0");
    let (code, screen) = at_a_terminal(&env, &["init"], "Which agent should run the tasks?", b"q");
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("init cancelled; nothing was written"),
        "{screen}"
    );
    assert!(!env.repo.join("agents.yaml").exists());
    assert!(!env.git_ok(&["config", "agents.agent"]));
}

// ---------------------------------------------------------------------------------------
// Where things are spelled

fn sources() -> Vec<(String, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    walk(&root.join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            (rel, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

/// Lines of code (comments left out) that contain one of `needles`, as `file:line: text`.
fn offenders(needles: &[&str], allowed: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for (file, text) in sources() {
        if allowed(&file) {
            continue;
        }
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if needles.iter().any(|needle| code.contains(needle)) {
                out.push(format!("{file}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    out
}

#[test]
fn only_the_ui_module_names_dialoguer() {
    let found = offenders(&["dialoguer"], |f| f.starts_with("src/ui/"));
    assert!(
        found.is_empty(),
        "prompts belong in src/ui/ (add a Ui method):\n{}",
        found.join("\n")
    );
}

/// None left: the git module's raw wrappers (src/git/cmd.rs) are private now, so only a new
/// `Command::new("git")` elsewhere could slip past the compiler. The list only shrinks.
const STILL_SPELLING_GIT_ARGV: &[&str] = &[];

#[test]
fn git_argv_is_spelled_only_in_the_git_module() {
    let raw = [
        "git::run(",
        "git::run_with_input(",
        "git::output(",
        "git::output_with_input(",
        "git::output_of(",
        "git::command(",
        "Command::new(\"git\")",
    ];
    let found = offenders(&raw, |f| {
        f.starts_with("src/git/") || STILL_SPELLING_GIT_ARGV.iter().any(|p| f.starts_with(p))
    });
    assert!(
        found.is_empty(),
        "git argv outside src/git/ (add a named operation there):\n{}",
        found.join("\n")
    );
}
