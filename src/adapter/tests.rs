use super::*;

fn replay(format: Format, text: &str) -> (Parser, Vec<Event>) {
    let mut p = Parser::new(format);
    let events = text.lines().filter_map(|l| p.feed(l)).collect();
    (p, events)
}

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/streams/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn lives(events: &[Event]) -> Vec<String> {
    events.iter().filter_map(Event::live).collect()
}

#[test]
fn claude_stream() {
    let (p, ev) = replay(Format::ClaudeStreamJson, &fixture("claude-2.1.197.jsonl"));
    let u = p.usage();
    assert_eq!(
        u.session_id.as_deref(),
        Some("5f1c2a7e-0d3b-4c8e-9a61-2b7f0e4d9c11")
    );
    assert_eq!(u.turns, Some(4));
    assert_eq!(u.cost_usd, Some(0.0731));
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.cached_tokens),
        (12470, 242, 35730)
    );
    assert!(!u.is_error);
    assert!(
        u.final_message
            .as_deref()
            .unwrap()
            .starts_with("Fixed the nested parser")
    );
    assert_eq!(
        lives(&ev),
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
}

#[test]
fn claude_counts_a_message_s_usage_once_before_the_result() {
    let text = fixture("claude-2.1.197.jsonl");
    let mut p = Parser::new(Format::ClaudeStreamJson);
    for l in text.lines().take(3) {
        p.feed(l);
    }
    // msg_01A came as two lines: its usage counts once.
    assert_eq!(p.usage().input_tokens, 4 + 11530);
    assert_eq!(p.usage().output_tokens, 3);
    assert_eq!(p.usage().cost_usd, None);
}

#[test]
fn claude_is_error_wins_over_subtype() {
    let (p, ev) = replay(
        Format::ClaudeStreamJson,
        &fixture("claude-2.1.197-not-logged-in.jsonl"),
    );
    assert!(p.usage().is_error);
    assert_eq!(p.usage().cost_usd, Some(0.0));
    assert_eq!(
        ev.last(),
        Some(&Event::Finished {
            ok: false,
            summary: "Not logged in · Please run /login".into()
        })
    );
}

#[test]
fn codex_stream() {
    let (p, ev) = replay(Format::CodexJson, &fixture("codex-0.169.0.jsonl"));
    let u = p.usage();
    assert_eq!(
        u.session_id.as_deref(),
        Some("0199a213-81c0-7800-8aa1-bbab2a035a53")
    );
    assert_eq!(u.turns, Some(1));
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.cached_tokens),
        (24763, 122, 24448)
    );
    assert_eq!(u.cost_usd, None);
    assert_eq!(
        lives(&ev),
        [
            "starting",
            "shell bash -lc 'cargo test --lib parser'",
            "edit src/parser.rs",
            "shell bash -lc 'cargo test --lib parser'",
            "Fixed `parse` to handle nested nodes; the parser tests pass.",
        ]
    );
    let (p, ev) = replay(Format::CodexJson, &fixture("codex-0.169.0-offline.jsonl"));
    assert!(p.usage().is_error);
    assert!(matches!(ev.last(), Some(Event::Finished { ok: false, .. })));
}

#[test]
fn gemini_stream() {
    let (p, ev) = replay(Format::GeminiStreamJson, &fixture("gemini-0.61.0.jsonl"));
    let u = p.usage();
    assert_eq!(
        u.session_id.as_deref(),
        Some("c3d2b1a0-7f6e-4d5c-9b8a-112233445566")
    );
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.cached_tokens),
        (18260, 474, 9120)
    );
    assert_eq!(
        u.final_message.as_deref(),
        Some("Fixed the nested parser; the parser tests pass now.")
    );
    assert_eq!(
        lives(&ev),
        [
            "starting",
            "run_shell_command cargo test --lib parser",
            "replace /work/repo/src/parser.rs",
            "Fixed the nested parser",
            "Fixed the nested parser; the parser tests pass now.",
            "finished",
        ]
    );
}

#[test]
fn cursor_stream() {
    let (p, ev) = replay(
        Format::CursorStreamJson,
        &fixture("cursor-agent-2025.09.18.jsonl"),
    );
    let u = p.usage();
    assert_eq!(
        u.session_id.as_deref(),
        Some("6c3f1e2d-1b2a-4c9d-8e7f-0a1b2c3d4e5f")
    );
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.cached_tokens),
        (15210, 388, 10240)
    );
    assert_eq!(
        lives(&ev),
        [
            "starting",
            "Let me read the parser.",
            "read src/parser.rs",
            "shell cargo test --lib parser",
            "The parser handles nested nodes now; tests pass.",
            "finished",
        ]
    );
}

#[test]
fn amp_stream() {
    let (p, ev) = replay(Format::AmpStreamJson, &fixture("amp-0.0.1764000000.jsonl"));
    let u = p.usage();
    assert_eq!(
        u.session_id.as_deref(),
        Some("T-7a1c3e5f-2b4d-4f60-8a9b-0c1d2e3f4a5b")
    );
    assert_eq!(u.turns, Some(3));
    assert_eq!(u.output_tokens, 52 + 96 + 30);
    assert_eq!(u.cost_usd, None);
    assert_eq!(lives(&ev)[1], "Bash cargo test --lib parser");
    assert_eq!(lives(&ev)[2], "edit_file /work/repo/src/parser.rs");
}

#[test]
fn opencode_stream() {
    let (p, ev) = replay(Format::OpencodeJson, &fixture("opencode-1.0.55.jsonl"));
    let u = p.usage();
    assert_eq!(
        u.session_id.as_deref(),
        Some("ses_494719016ffe85dkDMj0FPRbHK")
    );
    assert_eq!(u.turns, Some(2));
    assert!((u.cost_usd.unwrap() - 0.0174).abs() < 1e-9);
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.cached_tokens),
        (11440, 163, 10240)
    );
    assert_eq!(
        lives(&ev),
        [
            "starting",
            "bash cargo test --lib parser",
            "edit /work/repo/src/parser.rs",
            "Nested nodes parse now; the parser tests pass.",
        ]
    );
}

#[test]
fn goose_stream() {
    let (p, ev) = replay(Format::GooseStreamJson, &fixture("goose-1.12.0.jsonl"));
    let u = p.usage();
    assert_eq!((u.input_tokens, u.output_tokens), (14100, 520));
    assert_eq!(
        u.final_message.as_deref(),
        Some("Done: nested nodes parse and the tests pass.")
    );
    assert_eq!(
        lives(&ev),
        [
            "developer__shell cargo test --lib parser",
            "developer__text_editor /work/repo/src/parser.rs",
            "Done: nested nodes parse and the tests pass.",
            "finished",
        ]
    );
}

#[test]
fn aider_text() {
    let (p, ev) = replay(Format::AiderText, &fixture("aider-0.86.1.txt"));
    let u = p.usage();
    assert_eq!(u.cost_usd, Some(0.0170));
    assert_eq!(
        (u.input_tokens, u.output_tokens, u.cached_tokens),
        (6200 + 2100 + 8400, 199, 6100)
    );
    assert_eq!(u.turns, Some(2));
    assert!(lives(&ev).contains(&"Applied edit to src/parser.rs".to_string()));
}

#[test]
fn garbage_truncated_and_huge_lines_are_text() {
    for f in FORMATS.iter().map(|(_, f)| *f) {
        let mut p = Parser::new(f);
        let huge = format!(
            "{{\"type\":\"assistant\",\"x\":\"{}\"",
            "a".repeat(10 << 20)
        );
        for line in [
            "plain banner",
            "{\"type\":\"result\",\"is_error\":tr",
            "{not json}",
            "{\"type\":42}",
            "{\"type\":\"unknown.kind\",\"x\":1}",
            "{}",
            "\u{0}\u{1b}[2J{",
            &huge,
            "{\"type\":\"result\",\"total_cost_usd\":-5,\"usage\":{\"input_tokens\":-1}}",
        ] {
            let _ = p.feed(line);
        }
        assert_eq!(p.feed("   "), None);
        assert_eq!(
            p.feed("hello world"),
            Some(Event::Text("hello world".into()))
        );
        assert!(p.usage().cost_usd.unwrap_or(0.0) >= 0.0, "{f:?}");
    }
    // Unknown types of a known format are ignored, not text.
    let mut p = Parser::new(Format::CodexJson);
    assert_eq!(p.feed("{\"type\":\"turn.started\"}"), None);
    assert_eq!(p.feed("{\"type\":\"new.kind\",\"x\":[1,2]}"), None);
}

#[test]
fn interleaved_lines_keep_their_own_meaning() {
    // Two streams' lines mixed (or a stream with stderr lines between): each line is
    // read alone.
    let a = fixture("claude-2.1.197.jsonl");
    let mut p = Parser::new(Format::ClaudeStreamJson);
    for (i, l) in a.lines().enumerate() {
        p.feed(&format!("warning: line {i} on stderr"));
        p.feed(&l[..l.len() / 2]);
        p.feed(l);
    }
    assert_eq!(p.usage().cost_usd, Some(0.0731));
}

#[test]
fn formats_by_name() {
    for (n, f) in FORMATS {
        assert_eq!(Format::parse(n), Some(*f));
        assert_eq!(f.name(), *n);
    }
    assert_eq!(Format::parse("xml"), None);
}

#[test]
fn render_makes_a_log_readable() {
    let text = format!(
        "==> git-agents: t, attempt 1 of 1\n==> agent: claude\n{}",
        fixture("claude-2.1.197.jsonl")
    );
    let mut out = String::new();
    render(Format::ClaudeStreamJson, &text, &mut out);
    assert!(
        out.starts_with("==> git-agents: t, attempt 1 of 1\n"),
        "{out}"
    );
    assert!(out.contains("▸ Bash cargo test --lib parser"), "{out}");
    assert!(out.contains("── done: Fixed the nested parser"), "{out}");
    assert!(!out.contains("{\"type\""), "{out}");
}

#[test]
fn totals_add_up() {
    let a = Usage {
        input_tokens: 1,
        output_tokens: 2,
        cost_usd: Some(0.5),
        turns: Some(1),
        ..Usage::default()
    };
    let b = Usage {
        input_tokens: 10,
        cost_usd: Some(0.25),
        session_id: Some("s".into()),
        ..Usage::default()
    };
    let t = Usage::total([&a, &b]);
    assert_eq!(
        (t.input_tokens, t.output_tokens, t.cost_usd),
        (11, 2, Some(0.75))
    );
    assert_eq!(t.session_id.as_deref(), Some("s"));
    assert_eq!(Usage::total([]).cost_usd, None);
}

#[test]
fn a_watch_dedupes_the_live_line_and_stops_at_a_budget() {
    use crate::engine::budget::{BatchBudget, Limits, Watch};
    let batch = BatchBudget::new(Some(1.0));
    let limits = Limits {
        max_cost: Some(0.02),
        max_tokens: None,
    };
    let mut w = Watch::new(
        "t",
        1,
        Format::OpencodeJson,
        limits,
        Usage::default(),
        &batch,
    );
    let step = r#"{"type":"step_finish","sessionID":"s","part":{"cost":0.015}}"#;
    let tool = r#"{"type":"tool_use","sessionID":"s","part":{"tool":"bash","state":{"input":{"command":"make test"}}}}"#;
    assert_eq!(w.line(tool).as_deref(), Some("bash make test"));
    assert_eq!(w.line(tool), None, "unchanged: nothing new to show");
    w.line(step);
    assert_eq!(w.over, None);
    w.line(step);
    assert_eq!(
        w.over.as_deref(),
        Some("budget: spent $0.0300 of max_cost $0.0200")
    );
    assert_eq!(w.into_usage().cost_usd, Some(0.03));
}
