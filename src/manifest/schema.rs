//! The raw schema: the seeds and visitors that walk the manifest's mappings (top level,
//! task list, task), refusing unknown and duplicate fields where serde_yaml can place them.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use super::file::{file_problem, read_regular};
use super::graph::{AgentsValue, CandidatesValue, DepsSeed, Spot};
use super::spend::{Cost, Output, RetryInValue, Tokens};
use super::values::{
    AgentName, CommandValue, DurationValue, EnvMap, Jobs, NonEmpty, PortRange, StrList,
};
use super::{Layer, Strategy, Task};
use crate::task::TaskId;

const TOP_FIELDS: &[&str] = &[
    "agent",
    "command",
    "base",
    "jobs",
    "timeout",
    "retries",
    "setup",
    "check",
    "copy",
    "env",
    "merge_strategy",
    "remote",
    "port_range",
    "notify",
    "tasks",
    "output",
    "max_cost",
    "max_tokens",
    "retry_in",
    "sandbox",
    "sandbox_write",
    "sandbox_network",
    "runner",
    "runner_image",
    "runner_stop",
    "remote_dispatch",
    "remote_timeout",
];

const TASK_FIELDS: &[&str] = &[
    "id",
    "prompt",
    "prompt_file",
    "agent",
    "command",
    "base",
    "timeout",
    "retries",
    "setup",
    "check",
    "copy",
    "env",
    "merge_strategy",
    "output",
    "max_cost",
    "max_tokens",
    "retry_in",
    "sandbox",
    "sandbox_write",
    "sandbox_network",
    "runner",
    "runner_image",
    "runner_stop",
    "depends_on",
    "candidates",
    "agents",
    "remote_dispatch",
    "remote_timeout",
];

pub(super) struct RawManifest {
    pub(super) jobs: Option<usize>,
    pub(super) remote: Option<String>,
    pub(super) port_range: Option<String>,
    pub(super) notify: Option<String>,
    pub(super) top: Layer,
    pub(super) tasks: Vec<Task>,
}

// Validation happens in the visitors of the values themselves (`visit_str`, `visit_u64`):
// only there does serde_yaml attach the value's own line and column to an error; an error
// raised after a value was read is placed at the start of the enclosing mapping.

/// Reads one of the fields a [`Layer`] holds; returns false if `key` is not one.
fn layer_field<'de, A: MapAccess<'de>>(
    layer: &mut Layer,
    key: &str,
    map: &mut A,
) -> Result<bool, A::Error> {
    fn once<T, E: de::Error>(slot: &mut Option<T>, key: &str, v: T) -> Result<(), E> {
        if slot.is_some() {
            return Err(E::custom(format!("duplicate field `{key}`")));
        }
        *slot = Some(v);
        Ok(())
    }
    match key {
        "agent" => once(&mut layer.agent, key, map.next_value::<AgentName>()?.0)?,
        "command" => {
            let v = map.next_value::<CommandValue>()?.0;
            once(&mut layer.command, key, v)?
        }
        "base" => once(&mut layer.base, key, map.next_value::<NonEmpty>()?.0)?,
        "timeout" => once(
            &mut layer.timeout,
            key,
            map.next_value::<DurationValue>()?.0,
        )?,
        "retries" => {
            let r: u32 = map.next_value()?;
            if r > crate::config::MAX_RETRIES {
                return Err(de::Error::custom(format!(
                    "retries must be at most {}",
                    crate::config::MAX_RETRIES
                )));
            }
            once(&mut layer.retries, key, r)?
        }
        "setup" => once(&mut layer.setup, key, map.next_value::<StrList>()?.0)?,
        "check" => once(&mut layer.check, key, map.next_value::<String>()?)?,
        "copy" => once(&mut layer.copy, key, map.next_value::<StrList>()?.0)?,
        "env" => layer.env = map.next_value::<EnvMap>()?.0,
        "merge_strategy" => once(
            &mut layer.merge_strategy,
            key,
            map.next_value::<Strategy>()?,
        )?,
        "output" => once(&mut layer.output, key, map.next_value::<Output>()?.0)?,
        "max_cost" => once(&mut layer.max_cost, key, map.next_value::<Cost>()?.0)?,
        "max_tokens" => once(&mut layer.max_tokens, key, map.next_value::<Tokens>()?.0)?,
        "retry_in" => once(
            &mut layer.retry_in,
            key,
            map.next_value::<RetryInValue>()?.0,
        )?,
        _ => return isolation_field(layer, key, map),
    }
    Ok(true)
}

/// The sandbox and runner fields of a [`Layer`] (see `crate::sandbox`, `crate::runner`).
fn isolation_field<'de, A: MapAccess<'de>>(
    layer: &mut Layer,
    key: &str,
    map: &mut A,
) -> Result<bool, A::Error> {
    match key {
        "sandbox" => layer.sandbox = Some(map.next_value::<crate::sandbox::SandboxName>()?.0),
        "sandbox_write" => {
            layer.sandbox_write = Some(map.next_value::<crate::sandbox::WriteList>()?.0)
        }
        "sandbox_network" => layer.sandbox_network = Some(map.next_value::<bool>()?),
        "runner" => layer.runner = Some(map.next_value::<crate::runner::SpecValue>()?.0),
        "runner_image" => layer.runner_image = Some(map.next_value::<NonEmpty>()?.0),
        "runner_stop" => layer.runner_stop = Some(map.next_value::<crate::runner::StopValue>()?.0),
        "remote_dispatch" => {
            layer.remote_dispatch = Some(
                map.next_value::<crate::remote::dispatch::DispatchValue>()?
                    .0,
            )
        }
        "remote_timeout" => layer.remote_timeout = Some(map.next_value::<DurationValue>()?.0),
        _ => return Ok(false),
    }
    Ok(true)
}

/// The whole manifest; carries the manifest's directory down to `prompt_file`.
pub(super) struct ManifestSeed<'a> {
    pub(super) dir: &'a Path,
    /// The graph's errors, on the second reading of a manifest whose graph is wrong.
    pub(super) verdict: Option<&'a super::graph::Verdict>,
}

impl<'de> DeserializeSeed<'de> for ManifestSeed<'_> {
    type Value = RawManifest;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawManifest, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ManifestSeed<'_> {
    type Value = RawManifest;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping with a `tasks` list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawManifest, A::Error> {
        let mut m = RawManifest {
            jobs: None,
            remote: None,
            port_range: None,
            notify: None,
            top: Layer::default(),
            tasks: Vec::new(),
        };
        let mut saw_tasks = false;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate field `{key}`")));
            }
            if layer_field(&mut m.top, &key, &mut map)? {
                continue;
            }
            match key.as_str() {
                "jobs" => m.jobs = Some(map.next_value::<Jobs>()?.0),
                "remote" => m.remote = Some(map.next_value::<NonEmpty>()?.0),
                "port_range" => m.port_range = Some(map.next_value::<PortRange>()?.0),
                "notify" => m.notify = Some(map.next_value::<String>()?),
                "tasks" => {
                    m.tasks = map.next_value_seed(TaskListSeed {
                        dir: self.dir,
                        verdict: self.verdict,
                    })?;
                    saw_tasks = true;
                }
                other => return Err(de::Error::unknown_field(other, TOP_FIELDS)),
            }
        }
        if !saw_tasks {
            return Err(de::Error::missing_field("tasks"));
        }
        Ok(m)
    }
}

struct TaskListSeed<'a> {
    dir: &'a Path,
    verdict: Option<&'a super::graph::Verdict>,
}

impl<'de> DeserializeSeed<'de> for TaskListSeed<'_> {
    type Value = Vec<Task>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Task>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for TaskListSeed<'_> {
    type Value = Vec<Task>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of tasks")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Task>, A::Error> {
        let mut ids = HashSet::new();
        let mut tasks = Vec::new();
        while let Some(t) = seq.next_element_seed(TaskSeed {
            dir: self.dir,
            ids: &mut ids,
            spot: Spot {
                task: tasks.len(),
                verdict: self.verdict,
            },
        })? {
            tasks.push(t);
        }
        Ok(tasks)
    }
}

struct TaskSeed<'a> {
    dir: &'a Path,
    /// Ids of the tasks before this one: a repeated id is an error at the id itself.
    ids: &'a mut HashSet<TaskId>,
    spot: Spot<'a>,
}

impl<'de> DeserializeSeed<'de> for TaskSeed<'_> {
    type Value = Task;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Task, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TaskSeed<'_> {
    type Value = Task;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task mapping with `id` and `prompt` or `prompt_file`")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Task, A::Error> {
        let mut id: Option<TaskId> = None;
        let mut prompt: Option<String> = None;
        let mut prompt_file: Option<(PathBuf, String)> = None;
        let mut layer = Layer::default();
        let mut depends_on = Vec::new();
        let mut candidates = None;
        let mut agents = None;
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate field `{key}`")));
            }
            if layer_field(&mut layer, &key, &mut map)? {
                continue;
            }
            match key.as_str() {
                "depends_on" => depends_on = map.next_value_seed(DepsSeed(self.spot))?,
                "candidates" => candidates = Some(map.next_value::<CandidatesValue>()?.0),
                "agents" => agents = Some(map.next_value::<AgentsValue>()?.0),
                "id" => {
                    let v = map.next_value_seed(IdSeed {
                        ids: &mut *self.ids,
                        spot: self.spot,
                    })?;
                    id = Some(v);
                }
                // Said before reading the file, so a missing file does not hide it.
                "prompt" | "prompt_file" if prompt.is_some() || prompt_file.is_some() => {
                    return Err(both_prompts(id.as_ref()));
                }
                "prompt" => prompt = Some(map.next_value::<NonEmpty>()?.0),
                "prompt_file" => {
                    prompt_file = Some(map.next_value_seed(PromptFileSeed { dir: self.dir })?)
                }
                other => return Err(de::Error::unknown_field(other, TASK_FIELDS)),
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let (prompt, prompt_file) = match (prompt, prompt_file) {
            (Some(p), None) => (p, None),
            (None, Some((file, text))) => (text, Some(file)),
            (Some(_), Some(_)) => return Err(both_prompts(Some(&id))),
            (None, None) => {
                return Err(de::Error::custom(format!(
                    "task {id}: has neither `prompt` nor `prompt_file`; give exactly one"
                )));
            }
        };
        if candidates.is_some() && agents.is_some() {
            return Err(de::Error::custom(format!(
                "task {id}: has both `candidates` and `agents`; `agents` already gives one \
                 candidate per entry, so give one of them"
            )));
        }
        Ok(Task {
            id,
            prompt,
            prompt_file,
            layer,
            depends_on,
            candidates,
            agents,
        })
    }
}

fn both_prompts<E: de::Error>(id: Option<&TaskId>) -> E {
    let task = id
        .map(|i| format!("task {i}"))
        .unwrap_or_else(|| "a task".into());
    E::custom(format!(
        "{task}: has both `prompt` and `prompt_file`; give exactly one"
    ))
}

/// A task id, checked against the rule and against the ids before it.
struct IdSeed<'a> {
    ids: &'a mut HashSet<TaskId>,
    spot: Spot<'a>,
}

impl<'de> DeserializeSeed<'de> for IdSeed<'_> {
    type Value = TaskId;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TaskId, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for IdSeed<'_> {
    type Value = TaskId;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task id")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<TaskId, E> {
        let id = TaskId::parse(v).map_err(E::custom)?;
        if let Some(why) = super::graph::id_verdict(self.spot, v) {
            return Err(E::custom(why));
        }
        if !self.ids.insert(id.clone()) {
            return Err(E::custom(format!(
                "duplicate task id {v:?}; every task needs its own id"
            )));
        }
        Ok(id)
    }
}

/// `prompt_file`: read here, relative to the manifest's directory, so that a missing or
/// unreadable file is reported at the value's line and column. Gives the canonical path
/// and the text.
struct PromptFileSeed<'a> {
    dir: &'a Path,
}

impl<'de> DeserializeSeed<'de> for PromptFileSeed<'_> {
    type Value = (PathBuf, String);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(PathBuf, String), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for PromptFileSeed<'_> {
    type Value = (PathBuf, String);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a file path")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(PathBuf, String), E> {
        if v.trim().is_empty() {
            return Err(E::custom("expected a non-empty string"));
        }
        let rel = Path::new(v);
        let fail = |why: String| {
            let relative = if rel.is_absolute() {
                ""
            } else {
                " (relative to the manifest's directory)"
            };
            E::custom(format!(
                "cannot read prompt_file {}{relative}: it {why}",
                rel.display()
            ))
        };
        let full = self.dir.join(rel);
        if let Some(problem) = file_problem(&full) {
            return Err(fail(problem));
        }
        let canonical = std::fs::canonicalize(&full).map_err(|e| fail(format!("{e}")))?;
        let bytes = read_regular(&canonical).map_err(fail)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        Ok((canonical, text))
    }
}
