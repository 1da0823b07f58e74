//! Finding a task's processes from outside the process that started them: what `stop`
//! signals after a supervisor died (`kill -9`, a crash) and what `list`/`show` report as
//! still running for an `interrupted` task.
//!
//! The supervisor's own tree walk (`supervise::tree`) only works from inside the
//! supervisor: it relies on being the subreaper and on the token it made. Here the
//! supervisor may be gone, its orphans re-parented to init, its agent's group leader dead
//! while a `setsid` child lives on. What still ties them to the task is what every job of
//! an attempt inherits (Linux, `/proc/PID/environ`, which is the environment the process
//! was started with):
//!
//! - the job marker `GIT_AGENTS_JOB` (`supervise::tree::TOKEN_VAR`), set on every agent,
//!   setup and check job, and never by anything else;
//! - `GIT_AGENTS_TASK` and `GIT_AGENTS_WORKTREE` (`agent::environment`): the task id
//!   alone is not unique across repositories, its absolute worktree path is.
//!
//! A process carrying all three is the task's. So are the members of the recorded agent's
//! process group while its leader lives (the group is ours for sure then) or while one of
//! its members carries the marks (then the group id was not reused), the group of any
//! marked process that leads its own (it made it: `setsid`), and every descendant of all
//! of those, whatever environment it was given. Never this process or one of its
//! ancestors: `stop` run from inside an agent must not kill the shell waiting for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;

use crate::store::{Proc, Record};
use crate::supervise::tree::{Stat, stat};

/// The job marker `supervise::tree` puts in every job's environment, as it reads in
/// `/proc/PID/environ`.
const JOB_VAR: &[u8] = b"GIT_AGENTS_JOB=";

impl Stat {
    fn ended(&self) -> bool {
        matches!(self.state, 'Z' | 'X')
    }

    fn ident(&self) -> Proc {
        Proc {
            pid: self.pid,
            start: self.start,
        }
    }
}

/// The marks of one process that tie it to a task.
#[derive(Debug, Clone, Default)]
struct Marks {
    job: bool,
    task: Option<Vec<u8>>,
    worktree: Option<Vec<u8>>,
}

/// `None` when the environment cannot be read now: a process in the middle of an exec
/// or of its end shows none, and must be read again on the next scan.
fn marks(pid: u32) -> Option<Marks> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    if env.is_empty() {
        return None;
    }
    let mut m = Marks::default();
    for var in env.split(|b| *b == 0) {
        if var.starts_with(JOB_VAR) {
            m.job = true;
        } else if let Some(v) = var.strip_prefix(b"GIT_AGENTS_TASK=") {
            m.task = Some(v.to_vec());
        } else if let Some(v) = var.strip_prefix(b"GIT_AGENTS_WORKTREE=") {
            m.worktree = Some(v.to_vec());
        }
    }
    Some(m)
}

impl Marks {
    fn of(&self, rec: &Record) -> bool {
        let wt = rec.worktree.as_os_str().as_bytes();
        self.job
            && self.task.as_deref() == Some(rec.id.as_bytes())
            && self
                .worktree
                .as_deref()
                // The supervisor passes the path as (lossy) UTF-8.
                .is_some_and(|w| w == wt || w == rec.worktree.to_string_lossy().as_bytes())
    }
}

/// Everything running now, read once; the marks of each process are read the first time
/// a task asks and remembered across snapshots (by pid and start time, so a reused pid
/// is read again).
#[derive(Default)]
pub struct Finder {
    marks: HashMap<(u32, u64), Marks>,
    procs: Vec<Stat>,
    /// This process and its ancestors: never members.
    spared: HashSet<u32>,
}

impl Finder {
    pub fn new() -> Finder {
        let mut f = Finder::default();
        f.refresh();
        f
    }

    /// Read `/proc` again.
    pub fn refresh(&mut self) {
        self.procs = all();
        let by_pid: HashMap<u32, &Stat> = self.procs.iter().map(|p| (p.pid, p)).collect();
        self.spared.clear();
        let mut pid = std::process::id();
        while pid > 1 && self.spared.insert(pid) {
            match by_pid.get(&pid) {
                Some(p) => pid = p.ppid,
                None => break,
            }
        }
        self.spared.insert(1);
        let live: HashSet<(u32, u64)> = self.procs.iter().map(|p| (p.pid, p.start)).collect();
        self.marks.retain(|k, _| live.contains(k));
    }

    fn marked(&mut self, p: &Stat, rec: &Record) -> bool {
        let key = (p.pid, p.start);
        if let Some(m) = self.marks.get(&key) {
            return m.of(rec);
        }
        match marks(p.pid) {
            Some(m) => self.marks.entry(key).or_insert(m).of(rec),
            None => false,
        }
    }

    /// The task's processes still running, as of the last [`Finder::refresh`], by pid.
    pub fn members(&mut self, rec: &Record) -> Vec<Proc> {
        let procs = std::mem::take(&mut self.procs);
        let mut seeds: HashSet<usize> = HashSet::new();
        let mut groups: HashSet<u32> = HashSet::new();
        let leader = rec.child.filter(|c| c.pid > 1);
        for (i, p) in procs.iter().enumerate() {
            let is_leader = leader.is_some_and(|c| c.pid == p.pid && c.start == p.start);
            if is_leader && !p.ended() {
                seeds.insert(i);
                groups.insert(p.pid);
            } else if !p.ended() && self.marked(p, rec) {
                seeds.insert(i);
                if leader.is_some_and(|c| c.pid == p.pgid) || p.pgid == p.pid {
                    groups.insert(p.pgid);
                }
            }
        }
        let mut children: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, p) in procs.iter().enumerate() {
            children.entry(p.ppid).or_default().push(i);
            if groups.contains(&p.pgid) {
                seeds.insert(i);
            }
        }
        let mut todo: Vec<usize> = seeds.into_iter().collect();
        let mut seen: HashSet<usize> = HashSet::new();
        let mut out = Vec::new();
        while let Some(i) = todo.pop() {
            if !seen.insert(i) {
                continue;
            }
            let p = &procs[i];
            if self.spared.contains(&p.pid) {
                continue;
            }
            if let Some(kids) = children.get(&p.pid) {
                todo.extend(kids);
            }
            if !p.ended() {
                out.push(p.ident());
            }
        }
        self.procs = procs;
        out.sort_by_key(|p| p.pid);
        out
    }
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

/// Send `sig` to a process identified by pid and start time, checked again right before:
/// a pid that was reused in between is left alone.
pub fn signal(p: Proc, sig: libc::c_int) {
    if stat(p.pid).is_some_and(|s| s.start == p.start && !s.ended()) {
        // SAFETY: kill on a process we just identified by pid and start time.
        unsafe {
            libc::kill(p.pid as libc::pid_t, sig);
        }
    }
}

/// For `list` and `show`: of the tasks given (those that read `interrupted`), the ones
/// whose processes still run, with their pids. `/proc` is read only when there is a task
/// to look for, and once for all of them.
pub fn leftovers<'a>(recs: impl IntoIterator<Item = &'a Record>) -> BTreeMap<String, Vec<u32>> {
    let mut out = BTreeMap::new();
    let mut finder: Option<Finder> = None;
    for rec in recs {
        let f = finder.get_or_insert_with(Finder::new);
        let pids: Vec<u32> = f.members(rec).iter().map(|p| p.pid).collect();
        if !pids.is_empty() {
            out.insert(rec.id.clone(), pids);
        }
    }
    out
}

/// How `list` and `show` say it: `2 processes still run (pids 12, 13): ...`.
pub fn leftover_note(id: &str, pids: &[u32]) -> String {
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let what = match pids.len() {
        1 => format!("1 process still runs (pid {})", list[0]),
        n => format!("{n} processes still run (pids {})", list.join(", ")),
    };
    format!("{what}; stop them with: git agents stop {id}")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_the_supervisors() {
        let want = format!("{}=", crate::supervise::tree::TOKEN_VAR);
        assert_eq!(JOB_VAR, want.as_bytes());
    }
    use std::process::Command;

    fn record(id: &str, worktree: &std::path::Path) -> Record {
        serde_json::from_value(serde_json::json!({
            "version": 1, "id": id, "state": "running", "branch": "agent/x", "base": "main",
            "base_commit": "0", "worktree": worktree, "prompt": "", "command": [],
            "check": null, "exit_code": null, "head": null, "created_at": 0,
            "started_at": null, "finished_at": null, "owner": null, "child": null,
        }))
        .unwrap()
    }

    #[test]
    fn finds_marked_processes_and_their_children_only() {
        let dir = tempfile::tempdir().unwrap();
        let wt = dir.path().join("wt");
        let rec = record("t", &wt);
        let start = |script: &str, envs: &[(&str, &str)]| {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            for (k, v) in envs {
                c.env(k, v);
            }
            c.spawn().unwrap()
        };
        let wts = wt.to_str().unwrap();
        let mut ours = start(
            "sleep 30 & wait",
            &[
                ("GIT_AGENTS_JOB", "1.0"),
                ("GIT_AGENTS_TASK", "t"),
                ("GIT_AGENTS_WORKTREE", wts),
            ],
        );
        // Same task id in another repository, and a process without the job marker.
        let mut other_repo = start(
            "exec sleep 30",
            &[
                ("GIT_AGENTS_JOB", "1.0"),
                ("GIT_AGENTS_TASK", "t"),
                ("GIT_AGENTS_WORKTREE", "/elsewhere"),
            ],
        );
        let mut unmarked = start(
            "exec sleep 30",
            &[("GIT_AGENTS_TASK", "t"), ("GIT_AGENTS_WORKTREE", wts)],
        );
        // Give the shells time to start their sleeps.
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut finder = Finder::new();
        let mut found = finder.members(&rec);
        while found.len() < 2 && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
            finder.refresh();
            found = finder.members(&rec);
        }
        let pids: Vec<u32> = found.iter().map(|p| p.pid).collect();
        assert!(pids.contains(&ours.id()), "{pids:?}");
        assert_eq!(pids.len(), 2, "the shell and its sleep: {pids:?}");
        assert!(!pids.contains(&other_repo.id()));
        assert!(!pids.contains(&unmarked.id()));
        for p in &found {
            signal(*p, libc::SIGKILL);
        }
        for c in [&mut ours, &mut other_repo, &mut unmarked] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
