//! `spawn --detach`: a batch that goes on with no terminal.
//!
//! The foreground settles every question first (validation, trust, which tasks), then
//! starts this very binary again with the settled request, marked by [`CHILD_ENV`] (a
//! variable, not a hidden flag: clap's completion scripts list hidden flags), in a new
//! session: no controlling terminal, so neither the terminal closing (SIGHUP) nor a
//! signal to the old process group reaches it, and the shell that started it may exit.
//! stdin and stdout are `/dev/null`. Its stderr is a pipe the foreground reads until the
//! tasks are claimed, so a problem found by then (another process took a task) reaches
//! the user, with the same exit code as in the foreground. Once claimed, the batch sends
//! the claimed ids through a pipe on fd [`READY_FD`], closes it and puts stderr on
//! `/dev/null`: from then on it reports only to its logs. The foreground returns as soon
//! as both pipes close: it never waits for the batch itself.

use anyhow::{Context as _, Result};
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// The descriptor on which a detached batch says it has claimed its tasks.
pub const READY_FD: i32 = 3;

/// Set for the process `start` runs: it is the detached batch itself.
pub const CHILD_ENV: &str = "GIT_AGENTS_DETACHED_BATCH";

static CHILD: AtomicBool = AtomicBool::new(false);

/// At startup, before any thread runs: whether this process is a detached batch. The
/// variable is taken out of the environment, so the agents never inherit it.
pub fn take_marker() {
    if std::env::var_os(CHILD_ENV).is_some_and(|v| v == "1") {
        CHILD.store(true, Ordering::SeqCst);
    }
    if std::env::var_os(CHILD_ENV).is_some() {
        // SAFETY: called first thing in main, while this is the only thread.
        unsafe { std::env::remove_var(CHILD_ENV) };
    }
}

/// Whether this process runs a batch `spawn --detach` started.
pub fn is_child() -> bool {
    CHILD.load(Ordering::SeqCst)
}

const READY: &str = "ready";

/// How starting a detached batch went, and what it wrote on stderr until then (our own
/// formatted lines: warnings, or why it ended) for the caller to pass on.
#[derive(Debug)]
pub struct Started {
    pub said: Vec<u8>,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub enum Outcome {
    /// The batch claimed these tasks and runs on its own, as process `pid`.
    Running { pid: u32, ids: Vec<String> },
    /// It ended before claiming anything: its exit code.
    Ended(i32),
}

/// Run `git-agents <args>` (a `spawn`) as a detached batch and wait only until it has
/// claimed its tasks.
pub fn start(args: &[OsString]) -> Result<Started> {
    let exe = std::env::current_exe().context("cannot find the git-agents binary to re-run")?;
    let (mut reader, writer) = std::io::pipe().context("cannot create a pipe")?;
    let (mut err_reader, err_writer) = std::io::pipe().context("cannot create a pipe")?;
    let fd = writer.as_raw_fd();
    let mut cmd = Command::new(&exe);
    cmd.args(args)
        .env(CHILD_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err_writer);
    // SAFETY: only async-signal-safe calls (setsid, dup2, fcntl) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // dup2 onto the same number would keep close-on-exec: clear it instead.
            let ok = if fd == READY_FD {
                libc::fcntl(fd, libc::F_SETFD, 0) != -1
            } else {
                libc::dup2(fd, READY_FD) != -1
            };
            if ok {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", exe.display()))?;
    // Our copies of the write end go, so the pipe ends when the batch closes it.
    drop(cmd);
    drop(writer);
    // stderr first: the batch closes it right after the ready pipe, whose one line
    // always fits the pipe's buffer, so neither read can block the other.
    // Read to the end whatever its size: a batch blocked on a full stderr pipe would
    // never reach the ready line.
    let mut said = Vec::new();
    let _ = err_reader.read_to_end(&mut said);
    let mut ready = String::new();
    let _ = (&mut reader).take(1 << 20).read_to_string(&mut ready);
    if let Some(ids) = ready.lines().find_map(|l| l.strip_prefix(READY)) {
        let ids = ids.split_whitespace().map(str::to_string).collect();
        return Ok(Started {
            said,
            outcome: Outcome::Running {
                pid: child.id(),
                ids,
            },
        });
    }
    // Closed without a word: the batch ended (or is ending) on its own.
    let status = child.wait().context("cannot wait for the detached batch")?;
    Ok(Started {
        said,
        outcome: Outcome::Ended(status.code().unwrap_or(1)),
    })
}

/// In the detached batch, once its tasks are claimed: tell the foreground which, and
/// put stderr on `/dev/null`, which ends the foreground's wait. Does nothing when fd
/// [`READY_FD`] is not a pipe (the variable set by hand).
pub fn ready(ids: &[String]) {
    // SAFETY: fstat only fills the struct we pass.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    let is_pipe = unsafe { libc::fstat(READY_FD, &mut st) } == 0
        && (st.st_mode & libc::S_IFMT) == libc::S_IFIFO;
    if !is_pipe {
        return;
    }
    // SAFETY: fd 3 is the pipe `start` handed us; this File is its only owner and
    // closes it when dropped.
    let mut pipe = unsafe { File::from_raw_fd(READY_FD) };
    let _ = pipe.write_all(format!("{READY} {}\n", ids.join(" ")).as_bytes());
    drop(pipe);
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        // SAFETY: dup2 onto stderr; both descriptors are open.
        unsafe { libc::dup2(null.as_raw_fd(), 2) };
    }
}
