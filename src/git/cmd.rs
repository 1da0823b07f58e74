//! The one `git` process builder and its runners: private to the git module, so git
//! argv is spelled nowhere else.

use super::*;

/// Start a `git` command in `dir` with the hygiene described in the module docs.
pub(super) fn command(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    // Tasks delete and move branches at the same time; git waits only 1 s for another
    // process's packed-refs lock, which a loaded machine can exceed ("could not delete
    // ... packed refs"). Waiting longer costs nothing when there is no contention.
    cmd.args(["-c", "core.packedRefsTimeout=10000"]);
    cmd.current_dir(dir)
        .env("LC_ALL", "C")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    for var in REPO_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Run git and return its output whatever the exit status.
pub(super) fn output<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<Output> {
    let _lock = match args.first() {
        Some(a) if a.as_ref() == "worktree" => worktree_lock()?,
        _ => None,
    };
    command(dir)
        .args(args)
        .output()
        .map_err(|e| anyhow!("cannot run git: {e}"))
}

/// Run git with `input` on its stdin (commit messages travel this way: an argument is
/// limited to 128 KiB by the kernel, and shows in `ps`), whatever the exit status.
pub(super) fn output_with_input<S: AsRef<OsStr>>(
    dir: &Path,
    args: &[S],
    input: &[u8],
) -> Result<Output> {
    let mut cmd = command(dir);
    cmd.args(args);
    output_of(cmd, input)
}

/// Run a prepared git command with `input` on its stdin, whatever the exit status.
pub(super) fn output_of(mut cmd: Command, input: &[u8]) -> Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow!("cannot run git: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = input.to_vec();
    // Written from a thread: git may fill its output pipes before reading all of it.
    let writer = std::thread::spawn(move || {
        use std::io::Write as _;
        // git may exit without reading (a bad option): its exit status tells why.
        let _ = stdin.write_all(&input);
    });
    let out = child
        .wait_with_output()
        .map_err(|e| anyhow!("cannot run git: {e}"))?;
    let _ = writer.join();
    Ok(out)
}

/// Like [`run`], with `input` on git's stdin.
pub(super) fn run_with_input<S: AsRef<OsStr>>(
    dir: &Path,
    args: &[S],
    input: &[u8],
) -> Result<String> {
    let out = output_with_input(dir, args, input)?;
    checked(args, out)
}

/// Run git; a non-zero exit is an error naming the command and its stderr.
pub(super) fn run<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Result<String> {
    let out = output(dir, args)?;
    checked(args, out)
}

pub(super) fn checked<S: AsRef<OsStr>>(args: &[S], out: Output) -> Result<String> {
    if !out.status.success() {
        let argv: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(anyhow!(
            "`git {}` failed ({}): {}",
            argv.join(" "),
            out.status,
            stderr.trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(super) fn split_z(text: &str) -> Vec<String> {
    text.split('\0')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
