//! Process identities that survive pid reuse (pid plus kernel start time), and whether
//! one, or its process group, still runs.

use serde::{Deserialize, Serialize};
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

/// A process identity that survives pid reuse: pid plus its kernel start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proc {
    pub pid: u32,
    pub start: u64,
}

impl Proc {
    pub fn current() -> Proc {
        static ME: OnceLock<Proc> = OnceLock::new();
        *ME.get_or_init(|| Proc::of(std::process::id()))
    }

    pub fn of(pid: u32) -> Proc {
        Proc {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// Whether this very process is still running (a zombie counts as gone).
    pub fn is_alive(&self) -> bool {
        if self.pid == 0 {
            return false;
        }
        if self.pid == std::process::id() {
            // This process: alive, unless the record names an earlier one with our pid.
            let me = Proc::current();
            return self.start == 0 || me.start == 0 || self.start == me.start;
        }
        match proc_stat(self.pid) {
            Some((state, start)) => state != 'Z' && (self.start == 0 || start == self.start),
            None => {
                if Path::new("/proc/self/stat").exists() {
                    return false;
                }
                // No procfs (macOS): the best we have is whether the pid exists.
                // SAFETY: kill with signal 0 only checks for existence and permission.
                unsafe { libc::kill(self.pid as libc::pid_t, 0) == 0 }
            }
        }
    }
}

impl Proc {
    /// Whether this process, or any process still in the process group it led, runs.
    /// An agent's leader may be gone while a command it started still works in the
    /// worktree.
    pub fn group_alive(&self) -> bool {
        if self.is_alive() {
            return true;
        }
        // SAFETY: signal 0 to a process group only checks that it exists.
        self.pid != 0 && unsafe { libc::kill(-(self.pid as libc::pid_t), 0) } == 0
    }
}

fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let state = fields.first()?.chars().next()?;
    // Field 22 of the file (starttime) is the 20th after the name.
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

fn start_time(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn liveness() {
        let me = Proc::current();
        assert!(me.is_alive());
        let wrong_start = Proc {
            pid: me.pid,
            start: me.start + 1,
        };
        if Path::new("/proc/self/stat").exists() {
            assert!(!wrong_start.is_alive());
        }
        assert!(!Proc { pid: 0, start: 0 }.is_alive());
    }
}
