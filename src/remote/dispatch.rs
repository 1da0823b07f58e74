//! Dispatchers: what starts a remote task's job. `command` is a template of the user's
//! own (an argv list with placeholders); the built-in ones are spelled out in
//! [`Dispatch::job`].

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::launch::Job;

/// The names `remote_dispatch` accepts besides a command list.
pub const NAMES: &[&str] = &["command", "ssh", "kubernetes", "github-actions"];

/// The placeholders a `command` dispatcher's template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "task",
    "branch",
    "remote",
    "url",
    "job",
    "nonce",
    "base_ref",
    "task_ref",
    "status_ref",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dispatch {
    /// `command`: this argv, placeholders filled in, starts the job (and may be the
    /// job: while it runs, the job is not lost, and `stop` ends it).
    Command(Vec<String>),
}

/// What a dispatcher needs to know about one run of a task.
pub struct Ticket<'a> {
    pub task: &'a str,
    pub branch: &'a str,
    pub remote: &'a str,
    pub url: &'a str,
    pub job: &'a str,
    pub nonce: &'a str,
}

fn check_template(t: &[String]) -> Result<(), String> {
    if t.is_empty() || t[0].trim().is_empty() {
        return Err("remote_dispatch must not be an empty command".into());
    }
    for arg in t {
        let mut rest = arg.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !PLACEHOLDERS.contains(&name)
            {
                return Err(format!(
                    "remote_dispatch: unknown placeholder {{{name}}}; known: {}",
                    PLACEHOLDERS
                        .iter()
                        .map(|p| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            rest = &after[close + 1..];
        }
    }
    Ok(())
}

impl Dispatch {
    /// A dispatcher by name, or why not.
    pub fn named(name: &str) -> Result<Dispatch, String> {
        match name {
            "command" => Err(
                "remote_dispatch: command wants the command itself, as a list: [my-dispatch, \"{task}\"]"
                    .into(),
            ),
            other => Err(format!(
                "unknown remote dispatcher {other:?}; expected one of {} or a command as a list",
                NAMES.join(", ")
            )),
        }
    }

    /// A `command` dispatcher from its template.
    pub fn command(t: Vec<String>) -> Result<Dispatch, String> {
        check_template(&t)?;
        Ok(Dispatch::Command(t))
    }

    /// `agents.remoteDispatch`: a name, or a command split like a shell.
    pub fn parse_config(text: &str) -> Result<Dispatch, String> {
        let t = text.trim();
        if !t.contains(char::is_whitespace) && !t.contains('{') && !t.contains('/') {
            return Dispatch::named(t);
        }
        Dispatch::command(crate::manifest::split_command(text)?)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Dispatch::Command(_) => "command",
        }
    }

    /// The job that starts (or is) the remote run, from the repository at `root`.
    pub fn job(&self, root: &Path, t: &Ticket) -> Job {
        let vars: BTreeMap<&str, String> = [
            ("task", t.task.to_string()),
            ("branch", t.branch.to_string()),
            ("remote", t.remote.to_string()),
            ("url", t.url.to_string()),
            ("job", t.job.to_string()),
            ("nonce", t.nonce.to_string()),
            ("base_ref", super::base_ref(t.task)),
            ("task_ref", super::task_ref(t.task)),
            ("status_ref", super::status_ref(t.task)),
        ]
        .into_iter()
        .collect();
        let env = vec![
            ("GIT_AGENTS_TASK".to_string(), t.task.to_string()),
            ("GIT_AGENTS_REMOTE".to_string(), t.remote.to_string()),
            ("GIT_AGENTS_REMOTE_URL".to_string(), t.url.to_string()),
            ("GIT_AGENTS_JOB".to_string(), t.job.to_string()),
        ];
        match self {
            Dispatch::Command(template) => Job {
                program: template[0].clone().into(),
                args: template[1..].iter().map(|a| expand(a, &vars)).collect(),
                dir: root.to_path_buf(),
                env,
                stdin: None,
                deadline: None,
                stop: None,
            },
        }
    }
}

/// `{name}` replaced by its value, in one pass (a value is never expanded again).
pub fn expand(arg: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}').and_then(|c| vars.get(&after[..c]).map(|v| (c, v))) {
            Some((close, v)) => {
                out.push_str(v);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `remote_dispatch` in the manifest: a name or a command list.
pub(crate) struct DispatchValue(pub(crate) Dispatch);

impl<'de> serde::Deserialize<'de> for DispatchValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DispatchValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "a dispatcher ({}) or a command as a list",
                    NAMES.join(", ")
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DispatchValue, E> {
                Dispatch::named(v).map(DispatchValue).map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<DispatchValue, A::Error> {
                let mut t = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    t.push(s);
                }
                Dispatch::command(t)
                    .map(DispatchValue)
                    .map_err(de::Error::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_templates() {
        assert!(Dispatch::named("nomad").unwrap_err().contains("unknown remote dispatcher"));
        assert!(Dispatch::command(vec!["x".into(), "{nope}".into()]).is_err());
        let d = Dispatch::parse_config("my-dispatch {task} {url}").unwrap();
        let job = d.job(
            Path::new("/r"),
            &Ticket {
                task: "t1",
                branch: "agent/t1",
                remote: "origin",
                url: "/srv/r.git",
                job: "agents-t1-x",
                nonce: "x",
            },
        );
        assert_eq!(job.program, "my-dispatch");
        assert_eq!(job.args, ["t1", "/srv/r.git"]);
        assert_eq!(expand("{task}{x}", &[("task", "{x}".to_string())].into()), "{x}{x}");
    }
}
