//! The Ralph loop: `retry_in: same` runs the next attempt in the same worktree, on top of
//! what the last one left, with the check's failure tail in the notes and the prompt,
//! and the agent's session resumed (`claude --resume ID`, `codex exec resume ID`).

mod common;

use common::Env;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/streams/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A fake CLI: records its arguments per attempt; the first attempt commits first.txt,
/// later ones leave second.txt; it prints `sample`.
fn fake(env: &Env, name: &str, sample: &str) {
    env.agent(
        name,
        &format!(
            "printf '%s\\n' \"$@\" > '{root}/args-'\"$GIT_AGENTS_ATTEMPT\"\n\
             if [ -f first.txt ]; then echo second > second.txt\n\
             else echo first > first.txt; git add first.txt; git commit -qm 'first attempt'; fi\n\
             cat '{f}'",
            root = env.root.display(),
            f = fixture(sample)
        ),
    );
}

fn args(env: &Env, attempt: u32) -> Vec<String> {
    std::fs::read_to_string(env.root.join(format!("args-{attempt}")))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

const CHECK: &str = "test -f second.txt || { echo 'MISSING second.txt'; exit 1; }";

#[test]
fn retry_in_same_keeps_the_first_attempt_s_commits_and_resumes_claude_s_session() {
    let env = Env::new();
    fake(&env, "claude", "claude-2.1.197.jsonl");
    env.run(&[
        "spawn",
        "--agent",
        "claude",
        "-p",
        "build it",
        "--retries",
        "2",
        "--retry-in",
        "same",
        "--check",
        CHECK,
    ])
    .ok();
    let rec = env.record("build-it");
    assert_eq!(rec["state"], "succeeded");
    assert_eq!(rec["attempts"].as_array().unwrap().len(), 2);
    let first = args(&env, 1);
    assert!(!first.contains(&"--resume".to_string()), "{first:?}");
    let second = args(&env, 2);
    let at = second
        .iter()
        .position(|a| a == "--resume")
        .expect("resumed");
    assert_eq!(second[at + 1], "5f1c2a7e-0d3b-4c8e-9a61-2b7f0e4d9c11");
    // The prompt carries the check's failure tail.
    let prompt = second.join("\n");
    assert!(prompt.contains("build it"), "{prompt}");
    assert!(prompt.contains("Attempt 1 did not pass"), "{prompt}");
    assert!(prompt.contains("MISSING second.txt"), "{prompt}");
    // And so do the notes.
    let notes = std::fs::read_to_string(env.agents_dir().join("notes/build-it.md")).unwrap();
    assert!(notes.contains("MISSING second.txt"), "{notes}");
    // The first attempt's commit is under the second's work, on the one branch.
    let log = env.git(&["log", "--format=%s", "agent/build-it"]);
    assert!(log.contains("first attempt"), "{log}");
    let files = env.git(&["ls-tree", "--name-only", "agent/build-it"]);
    assert!(
        files.contains("first.txt") && files.contains("second.txt"),
        "{files}"
    );
    // Nothing was discarded.
    let pruned = env.agents_dir().join("pruned.log");
    assert!(
        !pruned.exists()
            || !std::fs::read_to_string(&pruned)
                .unwrap()
                .contains("build-it"),
        "the same worktree is kept"
    );
}

#[test]
fn retry_in_same_resumes_codex_and_stops_at_retries() {
    let env = Env::new();
    fake(&env, "codex", "codex-0.169.0.jsonl");
    env.write(
        "agents.yaml",
        "tasks:\n  - id: loop\n    agent: codex\n    prompt: p\n    retries: 2\n    retry_in: same\n",
    );
    // A check that never passes: three attempts, then the task fails.
    env.git(&["config", "agents.check", "echo 'still failing'; exit 3"]);
    env.run(&["spawn"]).code_is(1);
    let rec = env.record("loop");
    assert_eq!(rec["state"], "failed");
    assert_eq!(rec["attempts"].as_array().unwrap().len(), 3);
    for n in [2, 3] {
        let a = args(&env, n);
        assert_eq!(
            &a[..3],
            ["exec", "resume", "0199a213-81c0-7800-8aa1-bbab2a035a53"],
            "attempt {n}: {a:?}"
        );
        assert!(a.join(" ").contains("still failing"), "{a:?}");
    }
    assert_eq!(args(&env, 1)[..2], ["exec", "--json"]);
    // Usage of every attempt is kept; the totals add up.
    let doc = env.run(&["show", "loop", "--json"]).ok().json();
    assert_eq!(doc["tasks"][0]["usage"]["input_tokens"], 3 * 24763);
    assert_eq!(doc["tasks"][0]["usage"]["turns"], 3);
}

#[test]
fn retry_in_fresh_is_still_the_default() {
    let env = Env::new();
    fake(&env, "claude", "claude-2.1.197.jsonl");
    env.run(&[
        "spawn",
        "--agent",
        "claude",
        "-p",
        "fresh one",
        "--retries",
        "1",
        "--check",
        CHECK,
    ])
    .code_is(1);
    // Each attempt started from the base: the second one found no first.txt.
    assert!(!args(&env, 2).contains(&"--resume".to_string()));
    let files = env.git(&["ls-tree", "--name-only", "agent/fresh-one"]);
    assert!(!files.contains("second.txt"), "{files}");
}
