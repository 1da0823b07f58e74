//! Every process a job started, wherever it went: its own process group, a new session
//! (`setsid`), or orphaned by a double fork.
//!
//! Three things keep such processes findable (Linux, through `/proc`):
//! - we are a child subreaper (`PR_SET_CHILD_SUBREAPER`), so a descendant whose parent
//!   dies is re-parented to us instead of to init: the tree never leaves us;
//! - every job's environment carries a token ([`TOKEN_VAR`]) that its processes inherit,
//!   so an orphan re-parented to us is told apart from our own other children (git);
//! - each scan remembers the members it saw (pid and kernel start time, so a reused pid
//!   is never taken for one), so even a descendant that dropped its environment stays
//!   known once seen.
//!
//! Orphans re-parented to us are ours to reap: a member that ended is waited for by its
//! own pid, never with `waitpid(-1)`, which would steal the exit status of a child
//! another thread waits for.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// The variable that marks a job's processes. Its value is `<our pid>.<job number>`.
pub const TOKEN_VAR: &str = "GIT_AGENTS_JOB";

/// A process identity that survives pid reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Member {
    pub pid: u32,
    start: u64,
}

/// One process as `/proc/PID/stat` shows it (also read by `engine::procs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stat {
    pub(crate) pid: u32,
    pub(crate) state: char,
    pub(crate) ppid: u32,
    pub(crate) pgid: u32,
    pub(crate) start: u64,
}

pub(crate) fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        pid,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgid: f.get(2)?.parse().ok()?,
        // Field 22 of the file (starttime) is the 20th after the name.
        start: f.get(19)?.parse().ok()?,
    })
}

fn all() -> Vec<Stat> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(stat)
        .collect()
}

fn has_token(pid: u32, token: &[u8]) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|env| env.split(|b| *b == 0).any(|var| var == token))
        .unwrap_or(false)
}

/// Make this process the reaper of its orphaned descendants (once; Linux only).
pub fn become_subreaper() {
    #[cfg(target_os = "linux")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: prctl with integer arguments changes only this process's attribute.
        ONCE.call_once(|| unsafe {
            libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        });
    }
}

/// A fresh `NAME=value` token for one job.
pub fn new_token() -> (String, String) {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (TOKEN_VAR.to_string(), format!("{}.{n}", std::process::id()))
}

pub struct Tree {
    me: u32,
    leader: u32,
    /// Until the leader is reaped (by `Child::try_wait`), its pid is ours; after that it
    /// may be anyone's.
    leader_reaped: bool,
    token: Vec<u8>,
    known: HashSet<Member>,
}

impl Tree {
    pub fn new(leader: u32, token: &(String, String)) -> Tree {
        Tree {
            me: std::process::id(),
            leader,
            leader_reaped: false,
            token: format!("{}={}", token.0, token.1).into_bytes(),
            known: HashSet::new(),
        }
    }

    /// The leader has been waited for: its pid no longer names it.
    pub fn leader_reaped(&mut self) {
        self.leader_reaped = true;
    }

    /// Every member still running (the leader included until reaped). Members that
    /// ended as our children are reaped on the way.
    pub fn scan(&mut self) -> Vec<Member> {
        let procs = all();
        let mut children: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, p) in procs.iter().enumerate() {
            children.entry(p.ppid).or_default().push(i);
        }
        let mut todo: Vec<usize> = Vec::new();
        for (i, p) in procs.iter().enumerate() {
            let m = Member {
                pid: p.pid,
                start: p.start,
            };
            let seed = if p.pid == self.leader {
                !self.leader_reaped && p.ppid == self.me
            } else {
                self.known.contains(&m)
                    || (p.ppid == self.me && p.state != 'Z' && has_token(p.pid, &self.token))
            };
            if seed && p.pid != self.me {
                todo.push(i);
            }
        }
        let mut seen: HashSet<usize> = HashSet::new();
        let mut live = Vec::new();
        while let Some(i) = todo.pop() {
            if !seen.insert(i) {
                continue;
            }
            let p = &procs[i];
            if p.pid == self.me {
                continue;
            }
            let m = Member {
                pid: p.pid,
                start: p.start,
            };
            self.known.insert(m);
            if let Some(kids) = children.get(&p.pid) {
                todo.extend(kids);
            }
            if p.state == 'Z' || p.state == 'X' {
                if p.ppid == self.me && p.pid != self.leader {
                    // SAFETY: waits for one specific child of ours that has ended.
                    unsafe {
                        libc::waitpid(p.pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG);
                    }
                }
                continue;
            }
            live.push(m);
        }
        live
    }

    /// Send `sig` to the leader's process group and to every live member.
    pub fn signal(&mut self, sig: libc::c_int) -> usize {
        if !self.leader_reaped {
            super::signal_group(self.leader, sig);
        }
        let live = self.scan();
        for m in &live {
            // Checked again right before the signal: the pid still names the member.
            if stat(m.pid).is_some_and(|s| s.start == m.start) {
                // SAFETY: kill on a process we just identified by pid and start time.
                unsafe {
                    libc::kill(m.pid as libc::pid_t, sig);
                }
            }
        }
        live.len()
    }

    /// Stop whatever still runs: SIGTERM, up to `grace` to end, then SIGKILL, and wait
    /// (briefly) until every member is gone and reaped.
    pub fn stop_all(&mut self, grace: Duration) {
        if self.signal(libc::SIGTERM) == 0 {
            return;
        }
        if self.wait_empty(grace) {
            return;
        }
        self.signal(libc::SIGKILL);
        self.wait_empty(Duration::from_secs(2));
    }

    fn wait_empty(&mut self, within: Duration) -> bool {
        let until = crate::time::deadline(within);
        loop {
            if self.scan().is_empty() {
                return true;
            }
            if until.is_some_and(|u| Instant::now() >= u) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn stat_reads_this_process() {
        let me = stat(std::process::id()).unwrap();
        assert_eq!(me.pid, std::process::id());
        assert!(me.ppid > 0);
        assert!(me.start > 0);
        assert!(all().iter().any(|s| s.pid == me.pid));
    }
}
