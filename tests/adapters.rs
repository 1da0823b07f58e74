//! Agents' structured output, end to end: fake agent CLIs named like the presets replay
//! the recorded samples (tests/fixtures/streams); what the user sees (activity events
//! for the live line, `logs`), what the store keeps (usage per attempt), what list, show,
//! spawn's summary and the JSON say.

mod common;

use common::{Env, tasks};
use serde_json::Value;

fn fixture(name: &str) -> String {
    format!(
        "{}/tests/fixtures/streams/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A fake CLI named `name`: it records its arguments, leaves a file, prints `fixture`.
fn fake(env: &Env, name: &str, fixture_name: &str) {
    env.agent(
        name,
        &format!(
            "printf '%s\\n' \"$@\" > '{root}/args-'\"$GIT_AGENTS_TASK\"\n\
             echo \"$GIT_AGENTS_TASK\" > \"out-$GIT_AGENTS_TASK.txt\"\n\
             cat '{f}'",
            root = env.root.display(),
            f = fixture(fixture_name)
        ),
    );
}

fn args_of(env: &Env, id: &str) -> Vec<String> {
    std::fs::read_to_string(env.root.join(format!("args-{id}")))
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Every event of the repository's batches, in order.
fn events(env: &Env) -> Vec<Value> {
    let dir = env.agents_dir().join("events");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

fn activity(env: &Env, id: &str) -> Vec<String> {
    events(env)
        .iter()
        .filter(|e| e["task"] == id && e["kind"] == "activity")
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn claude_stream_shows_activity_records_usage_and_renders_its_log() {
    let env = Env::new();
    fake(&env, "claude", "claude-2.1.197.jsonl");
    let run = env
        .run(&[
            "spawn",
            "--agent",
            "claude",
            "-p",
            "fix the parser",
            "--json",
        ])
        .ok();
    let doc = run.json();
    let t = &tasks(&doc)["fix-the-parser"];
    assert_eq!(t["state"], "succeeded");
    let u = &t["usage"];
    assert_eq!(u["cost_usd"], 0.0731);
    assert_eq!(u["session_id"], "5f1c2a7e-0d3b-4c8e-9a61-2b7f0e4d9c11");
    assert_eq!(u["turns"], 4);
    assert_eq!(
        (&u["input_tokens"], &u["output_tokens"], &u["cached_tokens"]),
        (&Value::from(12470), &Value::from(242), &Value::from(35730))
    );
    assert_eq!(u["is_error"], false);
    assert!(
        u["final_message"]
            .as_str()
            .unwrap()
            .starts_with("Fixed the nested parser")
    );
    // The preset asked for the stream.
    let args = args_of(&env, "fix-the-parser");
    let joined = args.join(" ");
    assert!(
        joined.contains("--output-format stream-json --verbose"),
        "{joined}"
    );

    // The record keeps it per attempt.
    let rec = env.record("fix-the-parser");
    assert_eq!(rec["output"], "claude-stream-json");
    assert_eq!(rec["attempts"][0]["usage"]["cost_usd"], 0.0731);
    assert_eq!(rec["attempts"][0]["usage"]["session_id"], u["session_id"]);

    // The live line's text: what the agent does, never raw JSON.
    let live = activity(&env, "fix-the-parser");
    assert_eq!(
        live,
        [
            "starting",
            "I'll look at the failing test first.",
            "Bash cargo test --lib parser 2>&1 | tail -20",
            "Read /work/repo/src/parser.rs",
            "Edit /work/repo/src/parser.rs",
            "Fixed the nested parser: `parse` now delegates to `Node::parse_nested`.",
            "finished",
        ]
    );
    assert!(
        !events(&env)
            .iter()
            .any(|e| e["kind"] == "output" && e["task"] == "fix-the-parser"),
        "a structured agent's raw lines are not output events"
    );
    let usage_events: Vec<_> = events(&env)
        .into_iter()
        .filter(|e| e["kind"] == "usage")
        .collect();
    assert_eq!(usage_events.len(), 1);
    assert_eq!(usage_events[0]["usage"]["cost_usd"], 0.0731);

    // list: COST; --wide: TOKENS; JSON: the same usage.
    let list = env.run(&["list"]).ok().stdout();
    assert!(list.lines().next().unwrap().contains("COST"), "{list}");
    assert!(!list.contains("TOKENS"), "{list}");
    assert!(list.contains("$0.0731"), "{list}");
    let wide = env.run(&["list", "--wide"]).ok().stdout();
    assert!(wide.contains("TOKENS"), "{wide}");
    assert!(wide.contains("12.5k in / 242 out / 35.7k cached"), "{wide}");
    let lj = env.run(&["list", "--json"]).ok().json();
    assert_eq!(tasks(&lj)["fix-the-parser"]["usage"], *u);

    // show
    let show = env.run(&["show", "fix-the-parser"]).ok().stdout();
    for want in [
        "$0.0731",
        "5f1c2a7e-0d3b-4c8e-9a61-2b7f0e4d9c11",
        "turns",
        "Fixed the nested parser",
    ] {
        assert!(show.contains(want), "{want} missing:\n{show}");
    }
    let sj = env.run(&["show", "fix-the-parser", "--json"]).ok().json();
    assert_eq!(tasks(&sj)["fix-the-parser"]["usage"]["turns"], 4);

    // logs: readable; --raw: the stream as written, byte for byte.
    let logs = env.run(&["logs", "fix-the-parser"]).ok().stdout();
    assert!(logs.contains("▸ Bash cargo test --lib parser"), "{logs}");
    assert!(logs.contains("── done: Fixed the nested parser"), "{logs}");
    assert!(!logs.contains("{\"type\""), "{logs}");
    let raw = env.run(&["logs", "fix-the-parser", "--raw"]).ok().stdout();
    let stream = std::fs::read_to_string(fixture("claude-2.1.197.jsonl")).unwrap();
    assert!(raw.contains(&stream), "the log keeps the raw stream");
}

#[test]
fn every_preset_s_sample_is_read_and_the_summary_ends_with_the_batch_total() {
    let env = Env::new();
    let presets = [
        ("codex", "codex-0.169.0.jsonl"),
        ("gemini", "gemini-0.61.0.jsonl"),
        ("cursor-agent", "cursor-agent-2025.09.18.jsonl"),
        ("amp", "amp-0.0.1764000000.jsonl"),
        ("opencode", "opencode-1.0.55.jsonl"),
        ("goose", "goose-1.12.0.jsonl"),
        ("aider", "aider-0.86.1.txt"),
    ];
    let mut manifest = String::from("tasks:\n");
    for (name, file) in presets {
        fake(&env, name, file);
        manifest.push_str(&format!(
            "  - id: t-{name}\n    agent: {name}\n    prompt: fix it\n"
        ));
    }
    env.write("agents.yaml", &manifest);
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    let run = env.run(&["spawn", "-j", "4"]).ok();
    let out = run.stdout();
    let total = out.lines().last().unwrap();
    // opencode $0.0174 + aider $0.0170 = $0.0344; the others report tokens only.
    assert!(
        total.starts_with("total: $0.0344 over 2 of 7 tasks,"),
        "{out}"
    );
    let doc = env.run(&["list", "--json"]).ok().json();
    let t = tasks(&doc);
    let usage = |id: &str| t[id]["usage"].clone();
    assert_eq!(usage("t-codex")["input_tokens"], 24763);
    assert_eq!(
        usage("t-codex")["session_id"],
        "0199a213-81c0-7800-8aa1-bbab2a035a53"
    );
    assert_eq!(usage("t-gemini")["cached_tokens"], 9120);
    assert_eq!(usage("t-cursor-agent")["output_tokens"], 388);
    assert_eq!(usage("t-amp")["turns"], 3);
    assert_eq!(usage("t-opencode")["cost_usd"], 0.0174);
    assert_eq!(usage("t-goose")["output_tokens"], 520);
    assert_eq!(usage("t-aider")["cost_usd"], 0.017);
    assert_eq!(usage("t-codex")["cost_usd"], Value::Null);
    for (name, _) in presets {
        assert_eq!(t[&format!("t-{name}")]["state"], "succeeded", "{name}");
    }
    // Each preset asked its CLI for the structured mode.
    assert!(args_of(&env, "t-codex").contains(&"--json".to_string()));
    assert!(
        args_of(&env, "t-opencode")
            .join(" ")
            .contains("--format json")
    );
    assert!(args_of(&env, "t-amp").contains(&"--stream-json".to_string()));
    assert!(
        args_of(&env, "t-gemini")
            .join(" ")
            .contains("--output-format stream-json")
    );
    assert!(
        args_of(&env, "t-goose")
            .join(" ")
            .contains("--output-format stream-json")
    );
    assert_eq!(
        activity(&env, "t-codex")[1],
        "shell bash -lc 'cargo test --lib parser'"
    );
    assert_eq!(
        activity(&env, "t-opencode")[1],
        "bash cargo test --lib parser"
    );
}

#[test]
fn a_custom_command_opts_in_with_output_and_stays_text_without() {
    let env = Env::new();
    fake(&env, "my-agent", "claude-2.1.197.jsonl");
    env.write(
        "agents.yaml",
        "tasks:\n\
         \x20 - id: structured\n    command: my-agent {prompt}\n    output: claude-stream-json\n    prompt: p\n\
         \x20 - id: plain\n    command: my-agent {prompt}\n    prompt: p\n",
    );
    env.run(&["spawn"]).ok();
    let doc = env.run(&["list", "--json"]).ok().json();
    let t = tasks(&doc);
    assert_eq!(t["structured"]["usage"]["cost_usd"], 0.0731);
    assert_eq!(t["plain"]["usage"], Value::Null);
    assert!(activity(&env, "plain").is_empty());
    let out: Vec<_> = events(&env)
        .into_iter()
        .filter(|e| e["task"] == "plain" && e["kind"] == "output")
        .collect();
    assert_eq!(out.len(), 10, "plain text: every line is an output event");
    // Its log is shown as it is.
    let logs = env.run(&["logs", "plain"]).ok().stdout();
    assert!(logs.contains("{\"type\":\"result\""), "{logs}");
}

#[test]
fn garbage_truncated_interleaved_and_huge_lines_never_break_a_run() {
    let env = Env::new();
    let huge = env.root.join("huge.txt");
    // A 10 MB line that starts like an event, and a 10 MB line of text.
    std::fs::write(
        &huge,
        format!(
            "{{\"type\":\"assistant\",\"message\":{{\"content\":[{{\"type\":\"text\",\"text\":\"{}\"}}]}}}}\n{}\n",
            "a".repeat(10 << 20),
            "b".repeat(10 << 20)
        ),
    )
    .unwrap();
    let sample = std::fs::read_to_string(fixture("claude-2.1.197.jsonl")).unwrap();
    // Each event preceded by half of itself (a torn line) and another program's line.
    let mut stream = String::from("\u{0}\u{1b}[2J garbage\n");
    for l in sample.lines() {
        stream.push_str(&format!("{}\nwarning: noise\n{l}\n", &l[..l.len() / 2]));
    }
    let noisy = env.root.join("noisy.jsonl");
    std::fs::write(&noisy, stream).unwrap();
    env.agent(
        "claude",
        &format!(
            "echo x > x.txt\ncat '{}'\ncat '{}'\nprintf '{{\"type\":\"result\",\"is_er'",
            noisy.display(),
            huge.display()
        ),
    );
    env.run(&["spawn", "--agent", "claude", "-p", "noisy"]).ok();
    let rec = env.record("noisy");
    assert_eq!(rec["state"], "succeeded");
    assert_eq!(rec["attempts"][0]["usage"]["cost_usd"], 0.0731);
    let log = std::fs::read(env.agents_dir().join("logs/noisy.log")).unwrap();
    assert!(log.len() > 20 << 20, "the raw stream is all in the log");
    let logs = env.run(&["logs", "noisy"]).ok();
    assert!(logs.stdout().contains("warning: noise"));
}

#[test]
fn an_agent_that_says_it_failed_fails_its_task_even_with_exit_0() {
    let env = Env::new();
    fake(&env, "claude", "claude-2.1.197-not-logged-in.jsonl");
    env.run(&["spawn", "--agent", "claude", "-p", "try"])
        .code_is(1);
    let rec = env.record("try");
    assert_eq!(rec["state"], "failed");
    assert_eq!(
        rec["detail"],
        "the agent reported an error: Not logged in · Please run /login"
    );
    assert_eq!(rec["attempts"][0]["usage"]["is_error"], true);
}
