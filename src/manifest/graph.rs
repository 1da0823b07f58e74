//! The manifest's task graph and best-of-N fields: `depends_on`, `candidates`, `agents`.
//!
//! A dependency may name a task further down the file, so unknown ids, self-dependencies
//! and cycles are only known once every task is read. To still report them at the
//! offending value's own line and column, the manifest is read a second time when the
//! graph is wrong, with the verdict in hand: the value's visitor raises the error, and
//! serde_yaml places it (see [`super::parse`]).

use serde::de::{self, DeserializeSeed, Deserializer, SeqAccess, Visitor};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use super::Task;
use crate::task::TaskId;

/// The most candidates one task may run: each is a worktree and an agent run, and more
/// than this is a typo far more often than a plan.
pub const MAX_CANDIDATES: u32 = 16;

/// Errors of the graph, by (task index in the file, dependency as written).
pub(super) type Verdict = HashMap<(usize, String), String>;

/// Where in the file a dependency sits: which task (index) and the verdict, if known.
#[derive(Clone, Copy)]
pub(super) struct Spot<'a> {
    pub(super) task: usize,
    pub(super) verdict: Option<&'a Verdict>,
}

/// `depends_on`: a list of task ids (or one id).
pub(super) struct DepsSeed<'a>(pub(super) Spot<'a>);

impl<'de> DeserializeSeed<'de> for DepsSeed<'_> {
    type Value = Vec<TaskId>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<TaskId>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DepsSeed<'_> {
    type Value = Vec<TaskId>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of task ids")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<TaskId>, E> {
        Ok(vec![DepSeed(self.0).visit_str(v)?])
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<TaskId>, A::Error> {
        let mut out: Vec<TaskId> = Vec::new();
        while let Some(id) = seq.next_element_seed(DepSeed(self.0))? {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        Ok(out)
    }
}

struct DepSeed<'a>(Spot<'a>);

impl<'de> DeserializeSeed<'de> for DepSeed<'_> {
    type Value = TaskId;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<TaskId, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for DepSeed<'_> {
    type Value = TaskId;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a task id")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<TaskId, E> {
        let id = TaskId::parse(v).map_err(|e| E::custom(format!("depends_on: {e}")))?;
        if let Some(why) = self
            .0
            .verdict
            .and_then(|verdict| verdict.get(&(self.0.task, v.to_string())))
        {
            return Err(E::custom(why));
        }
        Ok(id)
    }
}

/// `candidates: N`, 1 to [`MAX_CANDIDATES`].
pub(super) struct CandidatesValue(pub(super) u32);

impl<'de> de::Deserialize<'de> for CandidatesValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = CandidatesValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a number of candidates from 1 to {MAX_CANDIDATES}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CandidatesValue, E> {
                check_candidates(v).map(CandidatesValue).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CandidatesValue, E> {
                if v < 0 {
                    return Err(E::custom(candidates_rule(&v.to_string())));
                }
                self.visit_u64(v as u64)
            }
        }
        d.deserialize_u64(V)
    }
}

fn candidates_rule(v: &str) -> String {
    format!(
        "candidates: {v} is out of range: give 1 to {MAX_CANDIDATES} \
         (each candidate is a worktree and an agent run of its own)"
    )
}

/// The rule for a number of candidates, shared with `spawn --best-of`.
pub fn check_candidates(v: u64) -> Result<u32, String> {
    if v == 0 || v > u64::from(MAX_CANDIDATES) {
        return Err(candidates_rule(&v.to_string()));
    }
    Ok(v as u32)
}

/// `agents: [claude, codex, …]`: one candidate per entry, each a preset name.
pub(super) struct AgentsValue(pub(super) Vec<String>);

impl<'de> de::Deserialize<'de> for AgentsValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AgentsValue;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of agent preset names, one per candidate")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AgentsValue, A::Error> {
                let mut out = Vec::new();
                while let Some(a) = seq.next_element::<super::values::AgentName>()? {
                    out.push(a.0);
                }
                check_agents(&out).map_err(de::Error::custom)?;
                Ok(AgentsValue(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// The rule for a list of candidate agents, shared with `spawn --agents`.
pub fn check_agents(agents: &[String]) -> Result<(), String> {
    if agents.is_empty() {
        return Err(
            "agents: the list is empty; name at least one agent (one candidate each), \
             or drop the field"
                .into(),
        );
    }
    if agents.len() > MAX_CANDIDATES as usize {
        return Err(format!(
            "agents: {} entries is more than the limit of {MAX_CANDIDATES} candidates",
            agents.len()
        ));
    }
    Ok(())
}

/// The errors of the tasks' graph: dependencies on unknown tasks, on the task itself,
/// and the edge that closes each cycle; also a task id that another task's candidates
/// would take (`fix.c2` beside a `fix` with two or more candidates). `None` when sound.
pub(super) fn verdict(tasks: &[Task]) -> Option<Verdict> {
    let index: BTreeMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut out = Verdict::new();
    for (i, t) in tasks.iter().enumerate() {
        for d in &t.depends_on {
            if d == &t.id {
                out.insert(
                    (i, d.to_string()),
                    format!("task {} depends on itself; remove it from depends_on", t.id),
                );
            } else if !index.contains_key(d.as_str()) {
                out.insert(
                    (i, d.to_string()),
                    format!(
                        "task {} depends on {d:?}, which is not a task of this manifest",
                        t.id
                    ),
                );
            }
        }
    }
    // Cycles: a depth-first walk; an edge back to a task on the current path closes one.
    let mut mark = vec![0u8; tasks.len()]; // 0 new, 1 on the path, 2 done
    for start in 0..tasks.len() {
        if mark[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        mark[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let deps = &tasks[node].depends_on;
            if *next >= deps.len() {
                mark[node] = 2;
                stack.pop();
                continue;
            }
            let dep = &deps[*next];
            *next += 1;
            let Some(&j) = index.get(dep.as_str()) else {
                continue;
            };
            if j == node {
                continue; // reported above
            }
            match mark[j] {
                0 => {
                    mark[j] = 1;
                    stack.push((j, 0));
                }
                1 => {
                    let from = stack.iter().position(|(n, _)| *n == j).unwrap_or(0);
                    let mut path: Vec<&str> = stack[from..]
                        .iter()
                        .map(|(n, _)| tasks[*n].id.as_str())
                        .collect();
                    path.push(tasks[j].id.as_str());
                    out.insert(
                        (node, dep.to_string()),
                        format!(
                            "dependency cycle: {}; a task cannot wait for itself",
                            path.join(" → ")
                        ),
                    );
                }
                _ => {}
            }
        }
    }
    for (i, t) in tasks.iter().enumerate() {
        if let Some((owner, n)) = candidate_parts(t.id.as_str())
            && let Some(&o) = index.get(owner)
            && tasks[o].candidate_count() >= n
        {
            out.insert(
                (i, format!("#id {}", t.id)),
                format!(
                    "task id {} is the name of candidate {n} of task {owner}; give it another id",
                    t.id
                ),
            );
        }
    }
    (!out.is_empty()).then_some(out)
}

/// `fix.c2` → (`fix`, 2): how a candidate's id is made from its task's (see
/// [`candidate_id`]).
pub fn candidate_parts(id: &str) -> Option<(&str, u32)> {
    let (owner, n) = id.rsplit_once(".c")?;
    if owner.is_empty()
        || n.is_empty()
        || n.starts_with('0')
        || !n.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some((owner, n.parse().ok()?))
}

/// The id of candidate `n` (1-based) of task `id`: `fix.c2`. A valid task id, branch
/// name component and directory name (no `~`, `/` or `:`), unless `id` is already at
/// the length limit, which [`candidate_id_checked`] refuses.
pub fn candidate_id(id: &str, n: u32) -> String {
    format!("{id}.c{n}")
}

/// [`candidate_id`], checked against the id rules.
pub fn candidate_id_checked(id: &TaskId, n: u32) -> Result<TaskId, String> {
    TaskId::parse(&candidate_id(id.as_str(), n)).map_err(|_| {
        format!(
            "task {id}: its candidates would be named {}, longer than an id may be; \
             give the task a shorter id",
            candidate_id(id.as_str(), n)
        )
    })
}

/// The id check that [`verdict`] asks for, at the task's `id` value.
pub(super) fn id_verdict<'a>(spot: Spot<'a>, id: &str) -> Option<&'a String> {
    spot.verdict?.get(&(spot.task, format!("#id {id}")))
}

impl Task {
    /// How many candidates the task runs (1: an ordinary task).
    pub fn candidate_count(&self) -> u32 {
        match (&self.agents, self.candidates) {
            (Some(a), _) => a.len() as u32,
            (None, Some(n)) => n,
            (None, None) => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::parse;
    use std::path::Path;

    fn err(text: &str) -> String {
        parse(text, Path::new("agents.yaml")).unwrap_err().message
    }

    #[test]
    fn graph_errors_name_the_value() {
        let e = err(
            "tasks:\n  - id: a\n    prompt: x\n    depends_on: [b]\n  - id: b\n    prompt: y\n    depends_on: [a]\n",
        );
        assert!(e.starts_with("agents.yaml:7:18: "), "{e}");
        assert!(e.contains("dependency cycle: a → b → a"), "{e}");
        let e = err("tasks:\n  - id: a\n    prompt: x\n    depends_on: [a]\n");
        assert!(e.starts_with("agents.yaml:4:18: "), "{e}");
        assert!(e.contains("depends on itself"), "{e}");
        let e = err("tasks:\n  - id: a\n    prompt: x\n    depends_on:\n      - nope\n");
        assert!(e.starts_with("agents.yaml:5:9: "), "{e}");
        assert!(e.contains("\"nope\", which is not a task"), "{e}");
        let e = err("tasks:\n  - id: a\n    prompt: x\n    candidates: 0\n");
        assert!(e.starts_with("agents.yaml:4:17: "), "{e}");
        assert!(e.contains("give 1 to 16"), "{e}");
        let e = err("tasks:\n  - id: a\n    prompt: x\n    candidates: 1000\n");
        assert!(e.contains("out of range"), "{e}");
        let e = err("tasks:\n  - id: a\n    prompt: x\n    agents: []\n");
        assert!(e.contains("the list is empty"), "{e}");
        let e = err("tasks:\n  - id: a\n    prompt: x\n    agents: [claude, nope]\n");
        assert!(e.contains("unknown agent"), "{e}");
        let e = err(
            "tasks:\n  - id: a\n    prompt: x\n    candidates: 2\n  - id: a.c2\n    prompt: y\n",
        );
        assert!(e.starts_with("agents.yaml:5:9: "), "{e}");
        assert!(e.contains("candidate 2 of task a"), "{e}");
        let e = err("tasks:\n  - id: a\n    prompt: x\n    candidates: 2\n    agents: [claude]\n");
        assert!(e.contains("both"), "{e}");
    }

    #[test]
    fn a_sound_graph_parses() {
        let m = parse(
            "tasks:\n  - id: d\n    prompt: x\n    depends_on: [b, c]\n  - id: b\n    prompt: x\n    depends_on: a\n  - id: c\n    prompt: x\n    depends_on: [a]\n  - id: a\n    prompt: x\n    candidates: 3\n  - id: e\n    prompt: x\n    agents: [claude, codex, claude]\n",
            Path::new("agents.yaml"),
        )
        .unwrap();
        assert_eq!(m.tasks[0].depends_on.len(), 2);
        assert_eq!(m.tasks[1].depends_on[0].as_str(), "a");
        assert_eq!(m.tasks[3].candidate_count(), 3);
        assert_eq!(m.tasks[4].candidate_count(), 3);
        assert_eq!(super::candidate_parts("fix.c12"), Some(("fix", 12)));
        assert_eq!(super::candidate_parts("fix.c0"), None);
        assert_eq!(super::candidate_parts("v1.c"), None);
    }
}
