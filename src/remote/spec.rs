//! What travels through the remote's private refs: the task's spec (pushed with its
//! base) and the job's status (pushed with its branch). Both are JSON blobs; a status is
//! read as hostile input: whatever it holds, the task fails with a clear reason rather
//! than anything crashing.

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::agent::OutputChoice;
use crate::config::{AgentChoice, RetryIn};
use crate::engine::plan::Planned;
use crate::store::Record;

pub const VERSION: u32 = 1;

/// The most a status blob may weigh: a record and a log's tail, not a log.
pub const MAX_STATUS: usize = 4 << 20;

/// `refs/agents/task/<id>`: one run of one task.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TaskSpec {
    pub version: u32,
    pub id: String,
    /// Names this run: a status answering another nonce is an older run's.
    pub nonce: String,
    /// The branch the job pushes (the local name, whatever the job's prefix).
    pub branch: String,
    /// The base as named locally, and its commit (also at `refs/agents/base/<id>`).
    pub base: String,
    pub base_commit: String,
    pub first_attempt: u32,
    /// A one-task manifest (JSON, which the manifest parser reads as YAML): the
    /// prompt and the task's resolved settings. No secret belongs here: the agent's
    /// key comes from the job's own environment.
    pub manifest: String,
}

/// `refs/agents/status/<id>`: how the job ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub version: u32,
    pub nonce: String,
    /// The task's record as the job left it; none when the job could not run it.
    pub record: Option<Record>,
    /// Why the job could not run the task at all.
    #[serde(default)]
    pub error: Option<String>,
    /// The last lines of the job's log.
    #[serde(default)]
    pub log_tail: String,
}

impl TaskSpec {
    pub fn of(t: &Planned, nonce: &str) -> TaskSpec {
        let s = &t.settings;
        let mut task = Map::new();
        task.insert("id".into(), json!(t.id.as_str()));
        task.insert("prompt".into(), json!(t.prompt));
        match &s.agent {
            Some(AgentChoice::Preset(p)) => {
                task.insert("agent".into(), json!(p));
            }
            Some(AgentChoice::Command(c)) => {
                task.insert("command".into(), json!(c));
            }
            None => {}
        }
        if let Some(d) = s.timeout {
            task.insert("timeout".into(), json!(format!("{}s", d.as_secs().max(1))));
        }
        task.insert("retries".into(), json!(s.retries));
        if !s.setup.is_empty() {
            task.insert("setup".into(), json!(s.setup));
        }
        if let Some(c) = &s.check {
            task.insert("check".into(), json!(c));
        }
        if !s.copy.is_empty() {
            task.insert("copy".into(), json!(s.copy));
        }
        if !s.env.is_empty() {
            task.insert("env".into(), json!(s.env));
        }
        match s.output {
            Some(OutputChoice::Text) => {
                task.insert("output".into(), json!("text"));
            }
            Some(OutputChoice::Format(f)) => {
                task.insert("output".into(), json!(f.name()));
            }
            None => {}
        }
        if let Some(c) = s.max_cost {
            task.insert("max_cost".into(), json!(c));
        }
        if let Some(n) = s.max_tokens {
            task.insert("max_tokens".into(), json!(n));
        }
        task.insert(
            "retry_in".into(),
            json!(match s.retry_in {
                RetryIn::Fresh => "fresh",
                RetryIn::Same => "same",
            }),
        );
        let manifest = json!({ "tasks": [Value::Object(task)] }).to_string();
        TaskSpec {
            version: VERSION,
            id: t.id.to_string(),
            nonce: nonce.to_string(),
            branch: t.branch.clone(),
            base: t.base_name.clone(),
            base_commit: t.base_commit.clone(),
            first_attempt: t.first_attempt,
            manifest,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<TaskSpec, String> {
        let spec: TaskSpec = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a git-agents task spec ({e})"))?;
        if spec.version != VERSION {
            return Err(format!(
                "task spec version {} is not {VERSION}: update git-agents where the job runs",
                spec.version
            ));
        }
        Ok(spec)
    }
}

impl Status {
    /// A status read from the remote, checked against the run it should answer.
    pub fn parse(bytes: &[u8], id: &str, nonce: &str) -> Result<Status, String> {
        if bytes.len() > MAX_STATUS {
            return Err(format!(
                "the status is {} bytes, more than the {MAX_STATUS} a status may hold",
                bytes.len()
            ));
        }
        let st: Status = serde_json::from_slice(bytes)
            .map_err(|e| format!("it is not a git-agents status ({e})"))?;
        if st.version != VERSION {
            return Err(format!("its version {} is not {VERSION}", st.version));
        }
        if st.nonce != nonce {
            return Err(format!(
                "it answers run {:?}, not this one ({nonce:?})",
                st.nonce
            ));
        }
        if let Some(r) = &st.record {
            if r.id != id {
                return Err(format!("its record is of task {:?}, not {id:?}", r.id));
            }
            if matches!(
                r.state,
                crate::task::State::Pending | crate::task::State::Running
            ) {
                return Err(format!("its record says {}, not an end", r.state));
            }
        } else if st.error.is_none() {
            return Err("it holds neither a record nor an error".into());
        }
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_is_checked_against_its_run() {
        let rec = |id: &str, state: &str| {
            serde_json::json!({
                "version": 1, "id": id, "state": state, "branch": "agent/t1", "base": "main",
                "base_commit": "0", "worktree": "/w", "prompt": "p", "command": ["a"],
                "check": null, "exit_code": 0, "head": null, "created_at": 0,
                "started_at": null, "finished_at": null, "owner": null, "child": null,
            })
        };
        let status = |nonce: &str, record: Value| {
            serde_json::to_vec(&json!({"version": 1, "nonce": nonce, "record": record})).unwrap()
        };
        assert!(Status::parse(&status("n1", rec("t1", "succeeded")), "t1", "n1").is_ok());
        let e = Status::parse(&status("n0", rec("t1", "succeeded")), "t1", "n1").unwrap_err();
        assert!(e.contains("answers run \"n0\""), "{e}");
        let e = Status::parse(&status("n1", rec("t2", "failed")), "t1", "n1").unwrap_err();
        assert!(e.contains("task \"t2\""), "{e}");
        let e = Status::parse(&status("n1", rec("t1", "running")), "t1", "n1").unwrap_err();
        assert!(e.contains("running, not an end"), "{e}");
        let e = Status::parse(&status("n1", Value::Null), "t1", "n1").unwrap_err();
        assert!(e.contains("neither a record nor an error"), "{e}");
        let e = Status::parse(b"\x1b[31mnope", "t1", "n1").unwrap_err();
        assert!(e.contains("not a git-agents status"), "{e}");
        let big = vec![b' '; MAX_STATUS + 1];
        assert!(
            Status::parse(&big, "t1", "n1")
                .unwrap_err()
                .contains("more than")
        );
    }
}
