//! bubblewrap's argv for one job, and the probe that it runs here at all.
//!
//! Mounts are applied in order, each over the ones before: the whole filesystem
//! read-only, a fresh `/dev`, `/proc` of the job's own PID namespace, a private `/tmp`,
//! then what stays visible under `/tmp` (read-only), then what may be written. Inside a
//! writable mount, the few files the job must not replace (the worktree's `.git` file,
//! its admin dir's `commondir`, `gitdir` and `config.worktree`, the object store's packs) are bound
//! read-only again: a rename or unlink onto a mount point fails.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one sandboxed job sees besides the read-only rest.
#[derive(Debug, Clone, Default)]
pub struct Mounts {
    /// Bound again read-only so the private `/tmp` does not hide them (the repository,
    /// the worktrees' dir, the home dir, `PATH` dirs that live under `/tmp`).
    pub visible: Vec<PathBuf>,
    /// `sandbox_write`, the preset's state dirs: writable where they exist.
    pub write: Vec<PathBuf>,
    /// The task's worktree: writable, its `.git` file not.
    pub worktree: PathBuf,
    /// The repository's object store: writable, its packs and `info/` not.
    pub objects: PathBuf,
    /// The worktree's admin dir (`<common>/worktrees/<name>`): writable, its
    /// `commondir`, `gitdir` and `config.worktree` not.
    pub admin: Option<PathBuf>,
    /// The dir holding the branch's ref (`refs/heads/agent`) shown as `private`, which
    /// holds the branch alone; every other entry of the real dir is bound read-only.
    pub refs: Option<RefDir>,
    /// The branch's reflog, appended to in place.
    pub reflog: Option<PathBuf>,
    pub network: bool,
    /// Where the job starts.
    pub dir: PathBuf,
}

#[derive(Debug, Clone)]
pub struct RefDir {
    pub real: PathBuf,
    pub private: PathBuf,
    /// Names in `real` other than the branch's own.
    pub others: Vec<OsString>,
}

fn push(out: &mut Vec<OsString>, flag: &str, src: &Path, dst: &Path) {
    out.push(flag.into());
    out.push(src.into());
    out.push(dst.into());
}

/// The arguments to `bwrap` before the job's own program and arguments (ending `--`).
pub fn argv(m: &Mounts) -> Vec<OsString> {
    let mut a: Vec<OsString> = [
        "--die-with-parent",
        "--new-session",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    if !m.network {
        a.push("--unshare-net".into());
    }
    push(&mut a, "--ro-bind", Path::new("/"), Path::new("/"));
    a.extend(["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"].map(OsString::from));
    for v in &m.visible {
        push(&mut a, "--ro-bind-try", v, v);
    }
    for w in &m.write {
        push(&mut a, "--bind-try", w, w);
    }
    push(&mut a, "--bind", &m.worktree, &m.worktree);
    let gitfile = m.worktree.join(".git");
    push(&mut a, "--ro-bind-try", &gitfile, &gitfile);
    push(&mut a, "--bind", &m.objects, &m.objects);
    for sub in ["pack", "info"] {
        let p = m.objects.join(sub);
        push(&mut a, "--ro-bind-try", &p, &p);
    }
    if let Some(admin) = &m.admin {
        push(&mut a, "--bind", admin, admin);
        for f in ["commondir", "gitdir", "config.worktree"] {
            let p = admin.join(f);
            push(&mut a, "--ro-bind-try", &p, &p);
        }
    }
    if let Some(r) = &m.refs {
        push(&mut a, "--bind", &r.private, &r.real);
        for name in &r.others {
            // `-try`: a sibling's `<ref>.lock` may be gone by now, and one that is gone
            // needs no protecting.
            let p = r.real.join(name);
            push(&mut a, "--ro-bind-try", &p, &p);
        }
    }
    if let Some(log) = &m.reflog {
        push(&mut a, "--bind-try", log, log);
    }
    a.push("--chdir".into());
    a.push(m.dir.clone().into());
    a.push("--".into());
    a
}

/// Run `bwrap` with the namespaces and mounts a sandbox uses, around `true`: why it
/// cannot, or nothing.
pub(super) fn probe(no_network: bool) -> Result<(), String> {
    let Ok(bwrap) = which::which("bwrap") else {
        return Err("bwrap is not installed (no `bwrap` on PATH)".into());
    };
    let mut args = argv(&Mounts {
        worktree: PathBuf::from("/"),
        objects: PathBuf::from("/"),
        network: !no_network,
        dir: PathBuf::from("/"),
        ..Mounts::default()
    });
    args.push("true".into());
    let out = Command::new(&bwrap)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bwrap.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or("").trim();
    Err(format!(
        "{} exited {} ({})",
        bwrap.display(),
        out.status.code().unwrap_or(-1),
        crate::ui::escape_control(first)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_order() {
        let m = Mounts {
            worktree: "/w/t1".into(),
            objects: "/r/.git/objects".into(),
            dir: "/w/t1".into(),
            network: true,
            ..Mounts::default()
        };
        let a: Vec<String> = argv(&m)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect();
        assert!(!a.contains(&"--unshare-net".to_string()));
        let pos = |x: &str| a.iter().position(|s| s == x).unwrap();
        // Read-only first, then the worktree over it, then its `.git` file over that.
        assert!(pos("--ro-bind") < pos("--bind"));
        assert_eq!(a.last().unwrap(), "--");
        let off = argv(&Mounts {
            network: false,
            ..m
        });
        assert!(off.iter().any(|s| s == "--unshare-net"));
    }
}
