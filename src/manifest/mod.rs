//! The task manifest (`agents.yaml`, SPEC §3): a strict schema, and every error naming the
//! file, line and column, and what was expected.
//!
//! This is the only module that knows serde_yaml, so the YAML library can be replaced in
//! one place. Validation that needs more than one value (duplicate ids, prompt versus
//! prompt_file) happens inside deserialization so that serde_yaml attaches a position.

use serde::Deserialize;
use serde::de::DeserializeSeed;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;
use crate::task::TaskId;

mod depth;
mod file;
pub mod graph;
mod schema;
mod spend;
mod values;
mod yaml_error;

pub use file::{MAX_BYTES, file_problem};
pub use values::split_command;

use file::read_regular;
use schema::ManifestSeed;
use yaml_error::yaml_error;

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
    /// The agent's output format (`output`): a custom command's opt-in, or `text`.
    pub output: Option<crate::agent::OutputChoice>,
    /// Budgets (`max_cost` in USD, `max_tokens`).
    pub max_cost: Option<f64>,
    pub max_tokens: Option<u64>,
    /// Where a retry runs (`retry_in`).
    pub retry_in: Option<crate::config::RetryIn>,
    pub sandbox: Option<crate::sandbox::Sandbox>,
    pub sandbox_write: Option<Vec<PathBuf>>,
    pub sandbox_network: Option<bool>,
    pub runner: Option<crate::runner::Spec>,
    pub runner_image: Option<String>,
    pub runner_stop: Option<Vec<String>>,
    /// `runner: remote`: what starts the task's job (`remote_dispatch`), and how long a
    /// job may go without a status (`remote_timeout`).
    pub remote_dispatch: Option<crate::remote::Dispatch>,
    pub remote_timeout: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Task {
    pub id: TaskId,
    pub prompt: String,
    /// The file the prompt was read from, canonical (symlinks and `..` resolved).
    pub prompt_file: Option<PathBuf>,
    pub layer: Layer,
    /// Tasks whose work this one starts from (`depends_on`).
    pub depends_on: Vec<TaskId>,
    /// `candidates: N` (best-of-N).
    pub candidates: Option<u32>,
    /// `agents: [..]`: one candidate per entry, with that agent.
    pub agents: Option<Vec<String>>,
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

/// Collections nested deeper than this are refused before the YAML parser sees them:
/// libyaml's time grows with the square of the nesting of flow collections (a 400 KB
/// file of `[[[[` took minutes), and no real manifest comes near it.
pub const MAX_DEPTH: usize = 64;

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
    let raw = ManifestSeed { dir, verdict: None }
        .deserialize(de)
        .map_err(|e| yaml_error(path, text, &e))?;
    if let Some(verdict) = graph::verdict(&raw.tasks) {
        // Read again with the verdict, so the error names the value's line and column.
        let de = serde_yaml::Deserializer::from_str(text);
        let again = ManifestSeed {
            dir,
            verdict: Some(&verdict),
        }
        .deserialize(de);
        let mut why = verdict.values().cloned().collect::<Vec<_>>();
        why.sort();
        return Err(match again {
            Err(e) => yaml_error(path, text, &e),
            Ok(_) => Error::usage(format!("{}: {}", path.display(), why[0])),
        });
    }
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
