//! Child processes: agents, setup and check commands.
//!
//! Each child leads its own process group, and everything it starts stays findable
//! even after `setsid` or a double fork (see [`tree`]): a timeout or Ctrl-C stops the
//! whole tree (SIGTERM, a grace period, then SIGKILL), and so does the child's own end,
//! so an agent's background processes never outlive its task. The terminal's own Ctrl-C
//! reaches only us: we forward it. stdout and stderr share one pipe and are streamed line
//! by line into the task's log.
//!
//! Children start through duct (`reader()`: one pipe for stdout and stderr, exit status
//! unchecked). duct's `kill()` reaches only the direct child, so stopping is ours: a
//! `before_spawn` hook gives the child its own group and a parent-death signal, and the
//! tree walk finds the rest. Two things duct would do for us are done by hand because
//! duct waits on them: stdin is our own pipe fed by a detached thread (duct's
//! `stdin_bytes` makes `try_wait` wait for its writer, which a grandchild that inherits
//! stdin and never reads would block forever), and lines are read on a thread we may
//! abandon when something outside the tree keeps the output pipe open.

pub(crate) mod tree;

use anyhow::{Context as _, Result};
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Catch SIGINT/SIGTERM/SIGHUP: set a flag every supervisor polls. Children sit in
/// their own process groups, so they only stop when we stop them.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// How long a stopped process tree gets between SIGTERM and SIGKILL (at most a minute,
/// whatever the environment says).
fn grace() -> Duration {
    std::env::var("GIT_AGENTS_KILL_GRACE_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_millis)
        .unwrap_or(Duration::from_secs(3))
        .min(Duration::from_secs(60))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit code; a child killed by signal N reads 128+N, as in a shell.
    Exited(i32),
    TimedOut,
    Interrupted,
}

pub struct Job<'a> {
    pub program: &'a OsStr,
    pub args: &'a [String],
    pub dir: &'a Path,
    pub env: &'a [(String, String)],
    /// Bytes for stdin; `None` closes stdin (`/dev/null`).
    pub stdin: Option<Vec<u8>>,
    pub deadline: Option<Instant>,
    /// A command that stops the job from outside (a runner's `docker stop NAME`), run
    /// before the signals on a timeout or Ctrl-C.
    pub stop: Option<&'a [String]>,
}

/// Run a job to its end, streaming its output into `log` and each line to `on_line`.
/// `on_start` receives the pid of the group leader once it runs.
pub fn run(
    job: Job,
    log: &mut dyn Write,
    on_start: impl FnMut(u32),
    on_line: impl FnMut(&str),
) -> Result<Outcome> {
    run_halting(job, log, &AtomicBool::new(false), on_start, on_line)
}

/// [`run`], also stopped like a timeout (the whole tree, `Outcome::TimedOut`) once
/// `halt` is set, which `on_line` may do: an agent over its budget.
pub fn run_halting(
    job: Job,
    log: &mut dyn Write,
    halt: &AtomicBool,
    mut on_start: impl FnMut(u32),
    mut on_line: impl FnMut(&str),
) -> Result<Outcome> {
    // Before the first child exists: its orphans must come back to us, not to init.
    tree::become_subreaper();
    let token = tree::new_token();
    // The child's whole environment, spelled out: ours without the variables that would
    // point git at our repository instead of the worktree, the job's, then the marker.
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| !crate::git::REPO_ENV.iter().any(|v| k == v))
        .collect();
    env.extend(job.env.iter().map(|(k, v)| (k.into(), v.into())));
    env.push((token.0.clone().into(), token.1.clone().into()));
    let mut expr = duct::cmd(job.program, job.args)
        .dir(job.dir)
        .full_env(env)
        .stderr_to_stdout()
        .unchecked()
        .before_spawn(|cmd| {
            cmd.process_group(0);
            #[cfg(target_os = "linux")]
            // SAFETY: prctl is async-signal-safe. If git-agents itself dies (kill -9),
            // the agent gets SIGTERM instead of running on unsupervised. The spawning
            // thread (this one, duct spawns in place) waits for the child, so the signal
            // never fires early.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                    Ok(())
                });
            }
            Ok(())
        });
    let stdin = match job.stdin {
        Some(bytes) => {
            let (r, w) = std::io::pipe().context("cannot create a pipe")?;
            expr = expr.stdin_file(r);
            Some((w, bytes))
        }
        None => {
            expr = expr.stdin_null();
            None
        }
    };
    let handle = Arc::new(
        expr.reader()
            .with_context(|| format!("cannot start {}", job.program.to_string_lossy()))?,
    );
    // The expression holds our copy of the stdin pipe's read end: drop it, so a child
    // that exits without reading makes the writer fail instead of block.
    drop(expr);
    let pid = handle.pids()[0];
    // From here on, whatever ends this function (a panic included) stops the tree.
    let mut guard = Guard {
        tree: tree::Tree::new(pid, &token),
        done: false,
    };
    on_start(pid);

    if let Some((mut w, bytes)) = stdin {
        // A child that never reads its stdin must not block us: write from a thread.
        std::thread::spawn(move || {
            let _ = w.write_all(&bytes);
        });
    }

    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    let reader = Arc::clone(&handle);
    let pump = std::thread::spawn(move || {
        let mut r = BufReader::new(&*reader);
        loop {
            let mut line = Vec::new();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });

    let mut handle_line = |line: Vec<u8>, log: &mut dyn Write| {
        let _ = log.write_all(&line);
        if !line.ends_with(b"\n") {
            let _ = log.write_all(b"\n");
        }
        on_line(String::from_utf8_lossy(&line).trim_end());
    };

    let mut stop: Option<(Outcome, Instant)> = None;
    // Scanning /proc costs a little; the token finds most members without it, so a scan
    // now and then is enough to remember the rest. Not at once: the job has started
    // nothing yet, and a batch of short jobs would pay a full scan each for nothing.
    let mut next_scan = Instant::now() + Duration::from_millis(100);
    let mut closed_polls = 0u32;
    let status = loop {
        let closed = match rx.recv_timeout(Duration::from_millis(25)) {
            Ok(line) => {
                handle_line(line, log);
                false
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => true,
        };
        if let Some(out) = handle.try_wait()? {
            break out.status;
        }
        if closed {
            // Output closed and the child still runs: it is most likely exiting right
            // now, so look again soon, then less often (one that closed its output and
            // goes on may run for hours).
            closed_polls += 1;
            let nap = if closed_polls <= 20 { 1 } else { 10 };
            std::thread::sleep(Duration::from_millis(nap));
        }
        if Instant::now() >= next_scan {
            guard.tree.scan();
            next_scan = Instant::now() + Duration::from_millis(200);
        }
        match stop {
            None => {
                let why = if interrupted() {
                    Some(Outcome::Interrupted)
                } else if job.deadline.is_some_and(|d| Instant::now() >= d)
                    || halt.load(Ordering::Relaxed)
                {
                    Some(Outcome::TimedOut)
                } else {
                    None
                };
                if let Some(why) = why {
                    if let Some(argv) = job.stop {
                        // The container outlives its client otherwise.
                        crate::runner::run_stop(argv, grace());
                    }
                    guard.tree.signal(libc::SIGTERM);
                    stop = Some((why, Instant::now()));
                }
            }
            Some((_, since)) if since.elapsed() >= grace() => {
                guard.tree.signal(libc::SIGKILL);
            }
            Some(_) => {}
        }
    };
    guard.tree.leader_reaped();
    // Whatever the leader left behind (in its group, in a session of its own, orphaned
    // to us) goes with it: an agent's background processes do not outlive its task.
    let left = match stop {
        Some((_, since)) => grace().saturating_sub(since.elapsed()),
        None => grace(),
    };
    guard.tree.stop_all(left);
    guard.done = true;
    let drain_until = Instant::now() + Duration::from_secs(2);
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => handle_line(line, log),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if Instant::now() >= drain_until {
                    // Something outside the group holds the pipe; stop reading it.
                    signal_group(pid, libc::SIGKILL);
                    break;
                }
            }
        }
    }
    if pump.is_finished() {
        let _ = pump.join();
    }
    let _ = log.flush();
    Ok(match stop {
        Some((why, _)) => why,
        None => Outcome::Exited(
            status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
        ),
    })
}

/// Kills the whole tree when `run` is left before its end (an error or a panic), so no
/// agent runs on unsupervised while this process goes on.
struct Guard {
    tree: tree::Tree,
    done: bool,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.done {
            self.tree.signal(libc::SIGKILL);
        }
    }
}

/// Stop a running job from outside the thread supervising it (a speculative merge check
/// that is no longer wanted): its whole process group gets SIGKILL; [`run`] then sees
/// the leader's end and stops whatever else of its tree is left.
pub fn kill_group(pgid: u32) {
    signal_group(pgid, libc::SIGKILL);
}

fn signal_group(pgid: u32, sig: libc::c_int) {
    // SAFETY: killpg on a process group we created; ESRCH (already gone) is fine.
    unsafe {
        libc::killpg(pgid as libc::pid_t, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, stdin: Option<&str>, deadline: Option<Duration>) -> (Outcome, String) {
        let args = vec!["-c".to_string(), script.to_string()];
        let mut log = Vec::new();
        let out = run(
            Job {
                program: OsStr::new("sh"),
                args: &args,
                dir: Path::new("."),
                env: &[("X".into(), "y".into())],
                stdin: stdin.map(|s| s.as_bytes().to_vec()),
                deadline: deadline.map(|d| Instant::now() + d),
                stop: None,
            },
            &mut log,
            |_| {},
            |_| {},
        )
        .unwrap();
        (out, String::from_utf8(log).unwrap())
    }

    #[test]
    fn streams_output_and_exit_code() {
        let (o, log) = sh(
            "echo out; echo err >&2; echo $X; printf tail; exit 3",
            None,
            None,
        );
        assert_eq!(o, Outcome::Exited(3));
        assert_eq!(log, "out\nerr\ny\ntail\n");
    }

    #[test]
    fn stdin_is_closed_or_fed() {
        let (o, log) = sh("cat", None, None);
        assert_eq!((o, log.as_str()), (Outcome::Exited(0), ""));
        let (_, log) = sh("cat", Some("hello\n"), None);
        assert_eq!(log, "hello\n");
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let start = Instant::now();
        // The grandchild holds the pipe open; it must die with the group.
        let (o, _) = sh(
            "sleep 30 & sleep 30",
            None,
            Some(Duration::from_millis(300)),
        );
        assert_eq!(o, Outcome::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_job_is_marked_and_gets_its_environment() {
        let (o, log) = sh("echo \"${GIT_AGENTS_JOB:-none}\" $X", None, None);
        assert_eq!(o, Outcome::Exited(0));
        let (mark, x) = log.trim().split_once(' ').unwrap();
        assert!(
            mark.starts_with(&format!("{}.", std::process::id())),
            "{log}"
        );
        assert_eq!(x, "y");
    }

    #[test]
    fn a_grandchild_that_keeps_stdin_unread_never_blocks_the_end() {
        // More than a pipe holds, so the writer blocks until every reader is gone; the
        // job exits at once and leaves a background process holding stdin (as fd 3: sh
        // gives a background job /dev/null as its stdin).
        let big = "x".repeat(1 << 20);
        let start = Instant::now();
        let (o, _) = sh(
            "exec 3<&0; sleep 300 & exit 0",
            Some(&big),
            Some(Duration::from_secs(30)),
        );
        assert_eq!(o, Outcome::Exited(0));
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_line_can_stop_its_job() {
        let args = vec!["-c".to_string(), "echo stuck; sleep 30".to_string()];
        let start = Instant::now();
        let halt = AtomicBool::new(false);
        let out = run_halting(
            Job {
                program: OsStr::new("sh"),
                args: &args,
                dir: Path::new("."),
                env: &[],
                stdin: None,
                deadline: None,
                stop: None,
            },
            &mut Vec::new(),
            &halt,
            |_| {},
            |l| {
                if l == "stuck" {
                    halt.store(true, Ordering::Relaxed);
                }
            },
        )
        .unwrap();
        assert_eq!(out, Outcome::TimedOut);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    fn running(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !matches!(
                s[s.rfind(')').unwrap() + 2..].chars().next(),
                Some('Z' | 'X')
            )
        })
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn detached_descendants_end_with_the_job() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        // A new session (setsid), a double fork (orphaned at once), and one that ignores
        // SIGTERM; the job itself exits 0 as soon as all three run.
        let script = format!(
            "setsid sh -c 'echo $$ > {d}/a; exec sleep 300' &\n\
             (setsid sh -c 'echo $$ > {d}/b; exec sleep 300' &)\n\
             (sh -c 'trap \"\" TERM; echo $$ > {d}/c; while :; do sleep 1; done' &)\n\
             while [ ! -s {d}/a ] || [ ! -s {d}/b ] || [ ! -s {d}/c ]; do sleep 0.01; done"
        );
        let start = Instant::now();
        let (o, _) = sh(&script, None, None);
        assert_eq!(o, Outcome::Exited(0));
        assert!(start.elapsed() < Duration::from_secs(10));
        for f in ["a", "b", "c"] {
            let pid: u32 = std::fs::read_to_string(dir.path().join(f))
                .unwrap()
                .trim()
                .parse()
                .unwrap();
            assert!(!running(pid), "{f} ({pid}) outlived its job");
            // Re-parented to us and reaped: not even a zombie is left.
            assert!(
                !Path::new(&format!("/proc/{pid}")).exists(),
                "{f} not reaped"
            );
        }
    }
}
