//! The task manifest (`agents.yaml`, SPEC §3): a strict schema, and every error naming the
//! file, line and column, and what was expected.
//!
//! This is the only module that knows serde_yaml, so the YAML library can be replaced in
//! one place. Validation that needs more than one value (duplicate ids, prompt versus
//! prompt_file) happens inside deserialization so that serde_yaml attaches a position.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::task::TaskId;

mod depth;

/// How a task's branch is brought into the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    Merge,
    Squash,
    Rebase,
}

impl Strategy {
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "merge" => Some(Strategy::Merge),
            "squash" => Some(Strategy::Squash),
            "rebase" => Some(Strategy::Rebase),
            _ => None,
        }
    }
}

/// The settings a manifest level (top or task) may give; `None` = not given here.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    pub agent: Option<String>,
    pub command: Option<Vec<String>>,
    pub base: Option<String>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub setup: Option<Vec<String>>,
    pub check: Option<String>,
    pub copy: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub merge_strategy: Option<Strategy>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub prompt: String,
    /// The file the prompt was read from, canonical (symlinks and `..` resolved).
    pub prompt_file: Option<PathBuf>,
    pub layer: Layer,
}

#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub path: PathBuf,
    /// The file's bytes as parsed: trust decides "tracked by git" on this content too,
    /// not only on the path it was reached by.
    pub text: String,
    pub jobs: Option<usize>,
    pub remote: Option<String>,
    pub port_range: Option<String>,
    /// Command (`sh -c`) run once when a batch ends, the summary JSON on its stdin.
    pub notify: Option<String>,
    pub top: Layer,
    pub tasks: Vec<Task>,
}

impl Manifest {
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id.as_str() == id)
    }
}

/// A manifest (or prompt file) larger than this is refused before it is read.
pub const MAX_BYTES: u64 = 4 << 20;

/// Collections nested deeper than this are refused before the YAML parser sees them:
/// libyaml's time grows with the square of the nesting of flow collections (a 400 KB
/// file of `[[[[` took minutes), and no real manifest comes near it.
pub const MAX_DEPTH: usize = 64;

/// What is wrong with `path` as a file to read, judged from its metadata alone, so a
/// fifo or a device is never opened (opening a fifo blocks): `None` if it is a regular
/// file of at most [`MAX_BYTES`].
pub fn file_problem(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("was not found".into()),
        Err(e) => Some(format!("cannot be read: {e}")),
        Ok(m) if m.is_dir() => Some("is a directory, not a file".into()),
        Ok(m) if !m.is_file() => Some("is not a regular file (a fifo, socket or device)".into()),
        Ok(m) if m.len() > MAX_BYTES => Some(format!(
            "is {} bytes, larger than the limit of {} MiB",
            m.len(),
            MAX_BYTES >> 20
        )),
        Ok(_) => None,
    }
}

/// Read a regular file of at most [`MAX_BYTES`]; anything else is refused by
/// [`file_problem`] without being opened. The file is opened non-blocking and checked
/// again, in case it was swapped for a fifo in between.
fn read_regular(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(problem) = file_problem(path) {
        return Err(problem);
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot be read: {e}"))?;
    match file.metadata() {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err("is not a regular file (a fifo, socket or device)".into()),
        Err(e) => return Err(format!("cannot be read: {e}")),
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "is larger than the limit of {} MiB",
            MAX_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// Read and validate a manifest file. Every failure is a usage error (exit 2).
pub fn load(path: &Path) -> Result<Manifest, Error> {
    let text =
        read_regular(path).map_err(|e| Error::usage(format!("manifest {} {e}", path.display())))?;
    let text = String::from_utf8(text).map_err(|e| {
        Error::usage(format!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text, path)
}

/// Parse manifest text; `path` names the file in errors and anchors `prompt_file`.
pub fn parse(text: &str, path: &Path) -> Result<Manifest, Error> {
    if text.trim().is_empty() {
        return Err(Error::usage(format!(
            "{}: the manifest is empty; expected a mapping with a `tasks` list",
            path.display()
        )));
    }
    if text.len() as u64 > MAX_BYTES {
        return Err(Error::usage(format!(
            "{}: the manifest is larger than the limit of {} MiB",
            path.display(),
            MAX_BYTES >> 20
        )));
    }
    if let Some((line, col)) = depth::too_deep(text, MAX_DEPTH) {
        return Err(Error::usage(format!(
            "{}:{line}:{col}: collections nested more than {MAX_DEPTH} deep; \
             a manifest needs only a few levels",
            path.display()
        )));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let de = serde_yaml::Deserializer::from_str(text);
    let raw = ManifestSeed { dir }
        .deserialize(de)
        .map_err(|e| yaml_error(path, text, &e))?;
    Ok(Manifest {
        path: path.to_path_buf(),
        text: text.to_string(),
        jobs: raw.jobs,
        remote: raw.remote,
        port_range: raw.port_range,
        notify: raw.notify,
        top: raw.top,
        tasks: raw.tasks,
    })
}

fn yaml_error(path: &Path, text: &str, e: &serde_yaml::Error) -> Error {
    let mut msg = e.to_string();
    // serde_yaml appends " at line L column C"; we put the position first, like compilers.
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    match e.location() {
        Some(loc) => {
            let (line, col) = refine_position(text, &msg, loc.line(), loc.column());
            Error::usage(format!("{}:{line}:{col}: {msg}", path.display()))
        }
        None => Error::usage(format!("{}: {msg}", path.display())),
    }
}

/// serde_yaml places errors raised inside a mapping at the mapping's start; for an
/// unknown or duplicate key, point at the key itself (the first line at or after the
/// mapping's start, at its indentation or deeper, that begins with `key:`).
fn refine_position(text: &str, msg: &str, line: usize, col: usize) -> (usize, usize) {
    let key = ["unknown field `", "duplicate field `"]
        .iter()
        .find_map(|p| {
            msg.split_once(p)
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(k, _)| k)
        });
    let Some(key) = key else {
        return (line, col);
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut found = 0;
    for (i, l) in lines.iter().enumerate().skip(line.saturating_sub(1)) {
        let stripped = l.trim_start().trim_start_matches("- ").trim_start();
        let indent = l.len() - stripped.len();
        if i + 1 > line && indent + 1 < col {
            break; // left the mapping
        }
        if stripped.starts_with(&format!("{key}:")) {
            found += 1;
            // A duplicate is the second occurrence.
            if !msg.contains("duplicate field") || found == 2 {
                return (i + 1, indent + 1);
            }
        }
    }
    (line, col)
}

// ---- the raw schema -------------------------------------------------------------------

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
];

struct RawManifest {
    jobs: Option<usize>,
    remote: Option<String>,
    port_range: Option<String>,
    notify: Option<String>,
    top: Layer,
    tasks: Vec<Task>,
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
        _ => return Ok(false),
    }
    Ok(true)
}

/// The whole manifest; carries the manifest's directory down to `prompt_file`.
struct ManifestSeed<'a> {
    dir: &'a Path,
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
                    m.tasks = map.next_value_seed(TaskListSeed { dir: self.dir })?;
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
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate field `{key}`")));
            }
            if layer_field(&mut layer, &key, &mut map)? {
                continue;
            }
            match key.as_str() {
                "id" => {
                    let v = map.next_value_seed(IdSeed {
                        ids: &mut *self.ids,
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
        Ok(Task {
            id,
            prompt,
            prompt_file,
            layer,
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

struct Jobs(usize);

impl<'de> Deserialize<'de> for Jobs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Jobs;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number of parallel tasks from 1 to 1024")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Jobs, E> {
                match usize::try_from(v) {
                    Ok(j) if (1..=1024).contains(&j) => Ok(Jobs(j)),
                    _ => Err(E::custom("jobs must be between 1 and 1024")),
                }
            }
        }
        d.deserialize_u64(V)
    }
}

struct PortRange(String);

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = PortRange;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a port range such as 20000-29999")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PortRange, E> {
                match crate::config::parse_port_range(v) {
                    Some(_) => Ok(PortRange(v.to_string())),
                    None => Err(E::custom(format!(
                        "invalid value {v:?}; expected a range such as 20000-29999 \
                         (two ports from 1 to 65535, the first not above the second)"
                    ))),
                }
            }
        }
        d.deserialize_str(V)
    }
}

struct AgentName(String);

impl<'de> Deserialize<'de> for AgentName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = AgentName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an agent preset name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AgentName, E> {
                if !crate::agent::is_preset(v) {
                    return Err(E::custom(format!(
                        "unknown agent {v:?}, expected one of {}; or give a `command`",
                        crate::agent::PRESET_NAMES.join(", ")
                    )));
                }
                Ok(AgentName(v.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// `env`: a mapping of variable names to scalars; a bad name is reported at the name.
struct EnvMap(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for EnvMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EnvMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of environment variables")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvMap, A::Error> {
                let mut out = BTreeMap::new();
                while let Some(k) = map.next_key::<EnvName>()? {
                    let v = map.next_value::<Scalar>()?;
                    out.insert(k.0, v.0);
                }
                Ok(EnvMap(out))
            }
        }
        d.deserialize_map(V)
    }
}

struct EnvName(String);

impl<'de> Deserialize<'de> for EnvName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = EnvName;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an environment variable name")
            }
            fn visit_str<E: de::Error>(self, k: &str) -> Result<EnvName, E> {
                if k.is_empty() || k.contains('=') || k.contains('\0') {
                    return Err(E::custom(format!(
                        "invalid environment variable name {k:?}"
                    )));
                }
                Ok(EnvName(k.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A string or a list of strings (setup, copy).
struct StrList(Vec<String>);

impl<'de> Deserialize<'de> for StrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StrList, E> {
                Ok(StrList(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StrList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(StrList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// An agent command: a string split like a shell (no shell runs it), or a list.
struct CommandValue(Vec<String>);

impl<'de> Deserialize<'de> for CommandValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CommandValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a command string or a list of arguments")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CommandValue, E> {
                split_command(v).map(CommandValue).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CommandValue, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                if out.is_empty() || out[0].is_empty() {
                    return Err(de::Error::custom("command must not be empty"));
                }
                Ok(CommandValue(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// Split a command string like a POSIX shell would split words (quotes, backslashes);
/// nothing else of a shell applies.
pub fn split_command(text: &str) -> Result<Vec<String>, String> {
    let words =
        shell_words::split(text).map_err(|e| format!("cannot split command {text:?}: {e}"))?;
    if words.is_empty() || words[0].is_empty() {
        return Err("command must not be empty".into());
    }
    Ok(words)
}

struct DurationValue(Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarWith(|s| {
            crate::time::parse_duration(&s)
                .map(DurationValue)
                .map_err(|e| format!("invalid duration {s:?} ({e}); expected e.g. 45s, 30m, 2h"))
        }))
    }
}

struct NonEmpty(String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-empty string")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<NonEmpty, E> {
                if s.trim().is_empty() {
                    return Err(E::custom("expected a non-empty string"));
                }
                Ok(NonEmpty(s.to_string()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A YAML scalar taken as text (environment values: `PORT: 3000` is fine).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarWith(|s| Ok(Scalar(s))))
    }
}

/// Visits a scalar of any type as text and hands it to a check, so that the check's
/// error carries the value's line and column.
struct ScalarWith<T>(fn(String) -> Result<T, String>);

impl<T> Visitor<'_> for ScalarWith<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        if v.contains('\0') {
            return Err(E::custom("value contains a NUL byte"));
        }
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<T, E> {
        (self.0)(v.to_string()).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text, Path::new("agents.yaml")).unwrap_err().message
    }

    #[test]
    fn full_manifest() {
        let m = parse(
            "agent: claude\nbase: main\njobs: 3\ntimeout: 30m\nretries: 1\nsetup: [\"npm ci\"]\n\
             check: npm test\ncopy: .env\nenv: { LOG_LEVEL: debug, N: 3 }\ntasks:\n  \
             - id: a\n    prompt: do a\n  - id: b\n    prompt: do b\n    command: my-agent --x \"{prompt}\"\n    \
             env: { X: y }\n",
            Path::new("agents.yaml"),
        )
        .unwrap();
        assert_eq!(m.jobs, Some(3));
        assert_eq!(m.top.timeout, Some(Duration::from_secs(1800)));
        assert_eq!(m.top.copy.as_deref(), Some(&[".env".to_string()][..]));
        assert_eq!(m.top.env["N"], "3");
        assert_eq!(m.tasks.len(), 2);
        assert_eq!(
            m.tasks[1].layer.command.as_deref().unwrap(),
            &["my-agent", "--x", "{prompt}"]
        );
    }

    #[test]
    fn errors_name_line_column_and_expectation() {
        let e = err("tasks:\n  - id: a\n    prompt: x\n    promt: y\n");
        assert!(e.starts_with("agents.yaml:4:5: "), "{e}");
        assert!(e.contains("unknown field `promt`"), "{e}");

        let e = err("tasks:\n  - id: a\n    prompt: x\n  - id: a\n    prompt: y\n");
        assert!(e.starts_with("agents.yaml:"), "{e}");
        assert!(e.contains("duplicate task id \"a\""), "{e}");

        let e = err("tasks:\n  - id: a\n    prompt: x\n    prompt_file: y.md\n");
        assert!(e.contains("both `prompt` and `prompt_file`"), "{e}");
        let e = err("tasks:\n  - id: a\n");
        assert!(e.contains("neither"), "{e}");
        let e = err("timeout: soon\ntasks: []\n");
        assert!(e.starts_with("agents.yaml:1:"), "{e}");
        assert!(e.contains("invalid duration"), "{e}");
        let e = err("jobs: many\ntasks: []\n");
        assert!(e.contains("jobs"), "{e}");
        let e = err("tasks:\n  - id: Bad/Id\n    prompt: x\n");
        assert!(e.contains("invalid task id"), "{e}");
        let e = err("agent: nope\ntasks: []\n");
        assert!(e.contains("unknown agent"), "{e}");
        let e = err("tasks: {}\n");
        assert!(e.contains("list of tasks"), "{e}");
        let e = err("base: main\n");
        assert!(e.contains("missing field `tasks`"), "{e}");
        let e = err("");
        assert!(e.contains("empty"), "{e}");
        let e = err("tasks: [\n");
        assert!(e.starts_with("agents.yaml:"), "{e}");
    }
}
