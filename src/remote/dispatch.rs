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
    /// `ssh`: the job runs over `ssh HOST`, hosts taken round-robin, at most
    /// `agents.remoteHostJobs` at once on each.
    Ssh,
    /// `kubernetes`: a Job rendered from [`JOB_TEMPLATE`], applied with `kubectl`.
    Kubernetes,
    /// `github-actions`: `gh workflow run` of the shipped [`WORKFLOW`].
    GithubActions,
}

/// The Kubernetes Job template (`src/remote/examples/kubernetes-job.yaml`).
pub const JOB_TEMPLATE: &str = include_str!("examples/kubernetes-job.yaml");
/// The GitHub Actions workflow (`src/remote/examples/github-workflow.yml`).
pub const WORKFLOW: &str = include_str!("examples/github-workflow.yml");

/// What the built-in dispatchers need beyond the task, from git config
/// (`agents.remoteImage`, `agents.remoteSecret`, `agents.remoteNamespace`,
/// `agents.remoteWorkflow`, `agents.remoteHosts`, `agents.remoteHostJobs`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Params {
    pub image: Option<String>,
    /// The Kubernetes Secret the job's environment comes from (never a key itself).
    pub secret: String,
    pub namespace: String,
    pub workflow: String,
    pub hosts: Vec<String>,
    pub host_jobs: usize,
}

/// What a dispatcher needs to know about one run of a task.
pub struct Ticket<'a> {
    pub task: &'a str,
    pub branch: &'a str,
    pub remote: &'a str,
    pub url: &'a str,
    pub job: &'a str,
    pub nonce: &'a str,
    /// `ssh`: the host taken for this job.
    pub host: Option<&'a str>,
}

fn check_template(t: &[String]) -> Result<(), String> {
    crate::template::check(
        "remote_dispatch",
        t,
        PLACEHOLDERS,
        "remote_dispatch must not be an empty command",
    )
}

impl Dispatch {
    /// A dispatcher by name, or why not.
    pub fn named(name: &str) -> Result<Dispatch, String> {
        match name {
            "ssh" => Ok(Dispatch::Ssh),
            "kubernetes" => Ok(Dispatch::Kubernetes),
            "github-actions" => Ok(Dispatch::GithubActions),
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
            Dispatch::Ssh => "ssh",
            Dispatch::Kubernetes => "kubernetes",
            Dispatch::GithubActions => "github-actions",
        }
    }

    /// The job that starts (or is) the remote run, from the repository at `root`;
    /// files it needs (a rendered Job) go to `scratch`.
    pub fn job(&self, root: &Path, t: &Ticket, p: &Params, scratch: &Path) -> anyhow::Result<Job> {
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
        let job = |program: &str, args: Vec<String>| Job {
            program: program.into(),
            args,
            dir: root.to_path_buf(),
            env: env.clone(),
            stdin: None,
            deadline: None,
            stop: None,
        };
        Ok(match self {
            Dispatch::Command(template) => job(
                &template[0],
                template[1..].iter().map(|a| expand(a, &vars)).collect(),
            ),
            Dispatch::Ssh => {
                let host = t.host.unwrap_or("localhost");
                let script = format!(
                    "set -e; d=$(mktemp -d); git clone -q {} \"$d/c\"; cd \"$d/c\"; exec git agents run-task {}",
                    shell_words::quote(t.url),
                    shell_words::quote(t.task)
                );
                job(
                    "ssh",
                    vec![
                        "-o".into(),
                        "BatchMode=yes".into(),
                        host.to_string(),
                        script,
                    ],
                )
            }
            Dispatch::Kubernetes => {
                let file = scratch.join(format!("{}.yaml", t.job));
                std::fs::create_dir_all(scratch)?;
                std::fs::write(&file, render_job(t, p))?;
                job(
                    "kubectl",
                    vec![
                        "apply".into(),
                        "-f".into(),
                        file.to_string_lossy().into_owned(),
                    ],
                )
            }
            Dispatch::GithubActions => job(
                "gh",
                vec![
                    "workflow".into(),
                    "run".into(),
                    p.workflow.clone(),
                    "-f".into(),
                    format!("task={}", t.task),
                    "-f".into(),
                    format!("job={}", t.job),
                ],
            ),
        })
    }

    /// The command that prints the job's log from its engine, if it has one of its own.
    pub fn logs(&self, t: &Ticket, p: &Params) -> Option<Vec<String>> {
        match self {
            Dispatch::Command(_) | Dispatch::Ssh => None,
            Dispatch::Kubernetes => Some(vec![
                "kubectl".into(),
                "logs".into(),
                format!("job/{}", t.job),
                "--namespace".into(),
                p.namespace.clone(),
            ]),
            Dispatch::GithubActions => Some(vec![
                "sh".into(),
                "-c".into(),
                "id=$(gh run list --workflow \"$1\" --json databaseId,displayTitle --jq \".[] | select(.displayTitle | contains(\\\"$2\\\")) | .databaseId\" | head -n 1); [ -n \"$id\" ] && gh run view \"$id\" --log".into(),
                "sh".into(),
                p.workflow.clone(),
                t.job.to_string(),
            ]),
        }
    }

    /// What cancels a job that outlives the dispatcher's own process (a Job, a run);
    /// `None` when ending that process ends the job.
    pub fn cancel(&self, root: &Path, t: &Ticket, p: &Params) -> Option<Job> {
        let job = |program: &str, args: Vec<String>| Job {
            program: program.into(),
            args,
            dir: root.to_path_buf(),
            env: Vec::new(),
            stdin: None,
            deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(60)),
            stop: None,
        };
        match self {
            Dispatch::Command(_) | Dispatch::Ssh => None,
            Dispatch::Kubernetes => Some(job(
                "kubectl",
                vec![
                    "delete".into(),
                    "job".into(),
                    t.job.to_string(),
                    "--namespace".into(),
                    p.namespace.clone(),
                    "--ignore-not-found".into(),
                    "--wait=false".into(),
                ],
            )),
            // The run is found by its name, which holds the job's.
            Dispatch::GithubActions => Some(job(
                "sh",
                vec![
                    "-c".into(),
                    "id=$(gh run list --workflow \"$1\" --json databaseId,displayTitle --jq \".[] | select(.displayTitle | contains(\\\"$2\\\")) | .databaseId\" | head -n 1); [ -z \"$id\" ] || gh run cancel \"$id\"".into(),
                    "sh".into(),
                    p.workflow.clone(),
                    t.job.to_string(),
                ],
            )),
        }
    }
}

/// The Kubernetes Job for ticket `t`: the template with each placeholder a
/// double-quoted (JSON, hence YAML) string.
pub fn render_job(t: &Ticket, p: &Params) -> String {
    let q = |v: &str| serde_json::to_string(v).unwrap_or_default();
    let vars: BTreeMap<&str, String> = [
        ("job", q(t.job)),
        ("task", q(t.task)),
        ("url", q(t.url)),
        ("image", q(p.image.as_deref().unwrap_or_default())),
        ("secret", q(&p.secret)),
        ("namespace", q(&p.namespace)),
    ]
    .into_iter()
    .collect();
    JOB_TEMPLATE
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| expand(l, &vars))
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The ssh hosts in use by this process's remote tasks: host → jobs running there.
static HOSTS: std::sync::Mutex<(usize, BTreeMap<String, usize>)> =
    std::sync::Mutex::new((0, BTreeMap::new()));

/// Take the next host (round-robin) with fewer than `limit` jobs, waiting while none
/// has room; `None` when `give_up` says so first.
pub fn take_host(hosts: &[String], limit: usize, give_up: impl Fn() -> bool) -> Option<String> {
    loop {
        {
            let mut pool = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
            let start = pool.0;
            for k in 0..hosts.len() {
                let i = (start + k) % hosts.len();
                let used = pool.1.get(&hosts[i]).copied().unwrap_or(0);
                if used < limit.max(1) {
                    pool.1.insert(hosts[i].clone(), used + 1);
                    pool.0 = i + 1;
                    return Some(hosts[i].clone());
                }
            }
        }
        if give_up() {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// A job on `host` ended.
pub fn give_back(host: &str) {
    let mut pool = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = pool.1.get_mut(host) {
        *n = n.saturating_sub(1);
    }
}

/// `{name}` replaced by its value, in one pass (a value is never expanded again).
pub fn expand(arg: &str, vars: &BTreeMap<&str, String>) -> String {
    crate::template::expand(arg, |name| vars.get(name).cloned())
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
        assert!(
            Dispatch::named("nomad")
                .unwrap_err()
                .contains("unknown remote dispatcher")
        );
        assert!(Dispatch::command(vec!["x".into(), "{nope}".into()]).is_err());
        let d = Dispatch::parse_config("my-dispatch {task} {url}").unwrap();
        let t = Ticket {
            task: "t1",
            branch: "agent/t1",
            remote: "origin",
            url: "/srv/r.git",
            job: "agents-t1-x",
            nonce: "x",
            host: None,
        };
        let job = d
            .job(
                Path::new("/r"),
                &t,
                &Params::default(),
                Path::new("/nowhere"),
            )
            .unwrap();
        assert_eq!(job.program, "my-dispatch");
        assert_eq!(job.args, ["t1", "/srv/r.git"]);
        assert!(d.cancel(Path::new("/r"), &t, &Params::default()).is_none());
        let yaml = render_job(
            &t,
            &Params {
                image: Some("img:1".into()),
                secret: "s".into(),
                namespace: "ns".into(),
                ..Params::default()
            },
        );
        assert!(
            yaml.contains("name: \"agents-t1-x\"") && yaml.contains("image: \"img:1\""),
            "{yaml}"
        );
        assert!(yaml.contains("emptyDir: {}"), "{yaml}");
        assert_eq!(
            expand("{task}{x}", &[("task", "{x}".to_string())].into()),
            "{x}{x}"
        );
    }
}
