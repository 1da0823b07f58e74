//! The task manifest (`agents.yaml`, SPEC §3): a strict schema, and every error naming the
//! file, line and column, and what was expected.
//!
//! This is the only module that knows serde_yaml, so the YAML library can be replaced in
//! one place. Validation that needs more than one value (duplicate ids, prompt versus
//! prompt_file) happens inside deserialization so that serde_yaml attaches a position.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::task::TaskId;

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
pub enum Prompt {
    Text(String),
    /// Path as written, resolved against the manifest's directory.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub prompt: String,
    pub prompt_file: Option<PathBuf>,
    pub layer: Layer,
}

#[derive(Debug, Clone, Default)]
pub struct Manifest {
    pub path: PathBuf,
    pub jobs: Option<usize>,
    pub remote: Option<String>,
    pub port_range: Option<String>,
    pub top: Layer,
    pub tasks: Vec<Task>,
}

impl Manifest {
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id.as_str() == id)
    }
}

/// Read and validate a manifest file. Every failure is a usage error (exit 2).
pub fn load(path: &Path) -> Result<Manifest, Error> {
    let text = std::fs::read(path)
        .map_err(|e| Error::usage(format!("cannot read manifest {}: {e}", path.display())))?;
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
    let raw: RawManifest = if text.trim().is_empty() {
        return Err(Error::usage(format!(
            "{}: the manifest is empty; expected a mapping with a `tasks` list",
            path.display()
        )));
    } else {
        serde_yaml::from_str(text).map_err(|e| yaml_error(path, text, &e))?
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tasks = Vec::with_capacity(raw.tasks.len());
    for t in raw.tasks {
        let (prompt, prompt_file) = match t.prompt {
            Prompt::Text(s) => (s, None),
            Prompt::File(rel) => {
                let full = dir.join(&rel);
                let text = std::fs::read_to_string(&full).map_err(|e| {
                    Error::usage(format!(
                        "{}: task {}: cannot read prompt_file {}: {e}",
                        path.display(),
                        t.id,
                        rel.display()
                    ))
                    .with_hint("prompt_file is relative to the manifest's directory")
                })?;
                (text, Some(full))
            }
        };
        tasks.push(Task {
            id: t.id,
            prompt,
            prompt_file,
            layer: t.layer,
        });
    }
    Ok(Manifest {
        path: path.to_path_buf(),
        jobs: raw.jobs,
        remote: raw.remote,
        port_range: raw.port_range,
        top: raw.top,
        tasks,
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
    top: Layer,
    tasks: Vec<RawTask>,
}

struct RawTask {
    id: TaskId,
    prompt: Prompt,
    layer: Layer,
}

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
        "agent" => {
            let v: String = map.next_value()?;
            if !crate::agent::is_preset(&v) {
                return Err(de::Error::custom(format!(
                    "unknown agent {v:?}, expected one of {}; or give a `command`",
                    crate::agent::PRESET_NAMES.join(", ")
                )));
            }
            once(&mut layer.agent, key, v)?
        }
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
        "env" => {
            let env: BTreeMap<String, Scalar> = map.next_value()?;
            for k in env.keys() {
                if k.is_empty() || k.contains('=') || k.contains('\0') {
                    return Err(de::Error::custom(format!(
                        "invalid environment variable name {k:?}"
                    )));
                }
            }
            layer.env = env.into_iter().map(|(k, v)| (k, v.0)).collect();
        }
        "merge_strategy" => once(
            &mut layer.merge_strategy,
            key,
            map.next_value::<Strategy>()?,
        )?,
        _ => return Ok(false),
    }
    Ok(true)
}

impl<'de> Deserialize<'de> for RawManifest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawManifest;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping with a `tasks` list")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawManifest, A::Error> {
                let mut m = RawManifest {
                    jobs: None,
                    remote: None,
                    port_range: None,
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
                        "jobs" => {
                            let j: usize = map.next_value()?;
                            if j == 0 || j > 1024 {
                                return Err(de::Error::custom("jobs must be between 1 and 1024"));
                            }
                            m.jobs = Some(j);
                        }
                        "remote" => m.remote = Some(map.next_value::<NonEmpty>()?.0),
                        "port_range" => m.port_range = Some(map.next_value::<String>()?),
                        "tasks" => {
                            m.tasks = map.next_value::<TaskList>()?.0;
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
        d.deserialize_map(V)
    }
}

struct TaskList(Vec<RawTask>);

impl<'de> Deserialize<'de> for TaskList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TaskList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tasks")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TaskList, A::Error> {
                let mut seen = HashSet::new();
                let mut tasks = Vec::new();
                while let Some(t) = seq.next_element::<RawTask>()? {
                    if !seen.insert(t.id.clone()) {
                        return Err(de::Error::custom(format!(
                            "duplicate task id {:?}; every task needs its own id",
                            t.id.as_str()
                        )));
                    }
                    tasks.push(t);
                }
                Ok(TaskList(tasks))
            }
        }
        d.deserialize_seq(V)
    }
}

impl<'de> Deserialize<'de> for RawTask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTask;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a task mapping with `id` and `prompt` or `prompt_file`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTask, A::Error> {
                let mut id: Option<TaskId> = None;
                let mut prompt: Option<String> = None;
                let mut prompt_file: Option<PathBuf> = None;
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
                        "id" => id = Some(map.next_value()?),
                        "prompt" => prompt = Some(map.next_value::<NonEmpty>()?.0),
                        "prompt_file" => {
                            prompt_file = Some(PathBuf::from(map.next_value::<NonEmpty>()?.0))
                        }
                        other => return Err(de::Error::unknown_field(other, TASK_FIELDS)),
                    }
                }
                let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
                let prompt = match (prompt, prompt_file) {
                    (Some(p), None) => Prompt::Text(p),
                    (None, Some(f)) => Prompt::File(f),
                    (Some(_), Some(_)) => {
                        return Err(de::Error::custom(format!(
                            "task {id}: has both `prompt` and `prompt_file`; give exactly one"
                        )));
                    }
                    (None, None) => {
                        return Err(de::Error::custom(format!(
                            "task {id}: has neither `prompt` nor `prompt_file`; give exactly one"
                        )));
                    }
                };
                Ok(RawTask { id, prompt, layer })
            }
        }
        d.deserialize_map(V)
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
        let s = Scalar::deserialize(d)?.0;
        crate::time::parse_duration(&s)
            .map(DurationValue)
            .map_err(|e| {
                de::Error::custom(format!(
                    "invalid duration {s:?} ({e}); expected e.g. 45s, 30m, 2h"
                ))
            })
    }
}

struct NonEmpty(String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(de::Error::custom("expected a non-empty string"));
        }
        Ok(NonEmpty(s))
    }
}

/// A YAML scalar taken as text (environment values: `PORT: 3000` is fine).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                if v.contains('\0') {
                    return Err(E::custom("value contains a NUL byte"));
                }
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
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
