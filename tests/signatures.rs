//! Each known failure signature of an agent preset, proven on the real binary with the
//! output the real CLI printed (tests/fixtures/real/, recorded offline and logged out,
//! stamped with its version): a fake agent named like the preset's CLI replays it, in
//! the plain and in the structured (JSON-line) mode. The task must fail (not `empty`,
//! not `succeeded`) with the CLI's own words as its reason, a hint, and the detail in
//! `show` and its JSON — no real CLI needed.

mod common;

use common::Env;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn fixture(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(name);
    assert!(p.is_file(), "missing fixture {}", p.display());
    p
}

/// The fixture's name for `cli` in `mode` (whatever version was recorded).
fn recorded(cli: &str, mode: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real");
    let name = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .find(|n| n.starts_with(&format!("{cli}-")) && n.ends_with(&format!(".{mode}.txt")))
        .unwrap_or_else(|| panic!("no {cli} {mode} fixture in {}", dir.display()));
    fixture(&name)
}

/// A fake `cli` that prints the recorded output, then runs `then` (shell).
fn replay(env: &Env, cli: &str, mode: &str, then: &str) {
    let f = recorded(cli, mode);
    env.agent(cli, &format!("cat '{}'\n{then}", f.display()));
}

struct Ended {
    show: serde_json::Value,
    human: String,
    took: Duration,
}

fn spawn(env: &Env, preset: &str, extra_env: &[(&str, &str)]) -> Ended {
    let start = Instant::now();
    let mut cmd = env.cmd(&[
        "spawn",
        "t1",
        "-p",
        "Add a line to README.md",
        "--agent",
        preset,
    ]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(1),
        "spawn: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = env.run(&["show", "t1", "--json"]).ok().json();
    let show = doc["tasks"][0].clone();
    let human = env.run(&["show", "t1"]).ok().stdout();
    Ended { show, human, took }
}

#[track_caller]
fn assert_failed_with(e: &Ended, state: &str, detail: &[&str], reason: &str, hint: &str) {
    assert_eq!(e.show["state"], state, "{:#}", e.show);
    let d = e.show["detail"].as_str().unwrap_or_default();
    for want in detail {
        assert!(d.contains(want), "detail {d:?} lacks {want:?}");
    }
    let r = e.show["reason"].as_str().unwrap_or_default();
    assert!(r.contains(reason), "reason {r:?} lacks {reason:?}");
    let h = e.show["hint"].as_str().unwrap_or_default();
    assert!(h.contains(hint), "hint {h:?} lacks {hint:?}");
    assert!(e.human.contains("reason:"), "{}", e.human);
    assert!(e.human.contains("hint:"), "{}", e.human);
    assert_eq!(e.show["history"][0]["detail"], e.show["detail"]);
}

#[test]
fn claude_not_logged_in_plain_and_stream_json() {
    for mode in ["plain", "stream-json"] {
        let env = Env::new();
        replay(&env, "claude", mode, "exit 1");
        let e = spawn(&env, "claude", &[]);
        assert_failed_with(
            &e,
            "failed",
            &["agent exited 1", "claude is not logged in", "Not logged in"],
            "Not logged in · Please run /login",
            "ANTHROPIC_API_KEY",
        );
    }
}

#[test]
fn claude_structured_success_subtype_with_is_error_still_fails() {
    // The stream's result says "subtype":"success" with "is_error":true; even if the
    // CLI exited 0, nothing was done and it said why: not an `empty` success.
    let env = Env::new();
    replay(&env, "claude", "stream-json", "exit 0");
    let e = spawn(&env, "claude", &[]);
    assert_failed_with(
        &e,
        "failed",
        &["without changes", "Not logged in"],
        "Not logged in",
        "/login",
    );
}

#[test]
fn gemini_no_api_key_and_untrusted_folder_plain_and_stream_json() {
    for mode in ["plain", "stream-json"] {
        let env = Env::new();
        replay(&env, "gemini", mode, "exit 41");
        let e = spawn(&env, "gemini", &[]);
        assert_failed_with(
            &e,
            "failed",
            &["agent exited 41", "GEMINI_API_KEY", "not trusted"],
            "GEMINI_API_KEY",
            "TRUST_FOLDER",
        );
        assert_eq!(e.show["exit_code"], 41);
    }
}

#[test]
fn gemini_untrusted_folder_alone_is_not_an_empty_success() {
    // Logged in, gemini prints only the trust line, has its edits denied and exits 0.
    let env = Env::new();
    let line = std::fs::read_to_string(recorded("gemini", "plain")).unwrap();
    let line = line
        .lines()
        .find(|l| l.contains("not trusted"))
        .unwrap()
        .to_string();
    env.agent(
        "gemini",
        &format!("echo '{}'\nexit 0", line.replace('\'', "'\\''")),
    );
    let e = spawn(&env, "gemini", &[]);
    let wt = env.worktree("t1");
    assert_failed_with(
        &e,
        "failed",
        &["without changes", "does not trust the worktree's folder"],
        "current folder is not trusted",
        &format!("\"{}\": \"TRUST_FOLDER\"", wt.parent().unwrap().display()),
    );
    // We never touch gemini's settings ourselves.
    assert!(!env.home.join(".gemini").exists());
}

#[test]
fn codex_lost_network_is_caught_by_the_stuck_detector_plain_and_json() {
    for mode in ["plain", "json"] {
        let env = Env::new();
        // After the recorded part, codex goes on retrying as it does for minutes.
        let last = std::fs::read_to_string(recorded("codex", mode)).unwrap();
        let last = last
            .lines()
            .rev()
            .find(|l| l.contains("Reconnecting"))
            .unwrap()
            .to_string();
        replay(
            &env,
            "codex",
            mode,
            &format!(
                "while :; do echo '{}'; sleep 0.1; done",
                last.replace('\'', "'\\''")
            ),
        );
        let e = spawn(&env, "codex", &[("GIT_AGENTS_STUCK_AFTER", "1s")]);
        assert_failed_with(
            &e,
            "failed",
            &[
                "agent stuck",
                "Reconnecting... waiting for network",
                "no network",
            ],
            // The CLI's own words for why: its first line that names the cause.
            "stream disconnected before completion",
            "network",
        );
        assert!(e.took < Duration::from_secs(20), "took {:?}", e.took);
        assert_eq!(e.show["exit_code"], serde_json::Value::Null);
        // The log says why the output stops where it does.
        let logs = env.run(&["logs", "t1"]).ok().stdout();
        assert!(logs.contains("==> agent stuck: only retries for"), "{logs}");
    }
}

#[test]
fn amp_login_prompt_is_stopped_at_once() {
    let env = Env::new();
    // amp waits for a pasted code forever.
    replay(&env, "amp", "plain", "exec sleep 300");
    let e = spawn(&env, "amp", &[]);
    assert_failed_with(
        &e,
        "failed",
        &["agent stopped", "amp is not logged in"],
        "No API key found",
        "amp login",
    );
    assert!(e.took < Duration::from_secs(20), "took {:?}", e.took);
}

#[test]
fn a_preset_default_timeout_is_overridden_by_the_users() {
    // opencode prints a banner and waits on the network, silently: the time limit ends
    // it (the user's here; the preset's default of 2h otherwise).
    let env = Env::new();
    replay(&env, "opencode", "plain", "exec sleep 300");
    let start = Instant::now();
    let out = env
        .cmd(&[
            "spawn",
            "t1",
            "-p",
            "x",
            "--agent",
            "opencode",
            "--timeout",
            "1s",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(start.elapsed() < Duration::from_secs(20));
    let doc = env.run(&["show", "t1", "--json"]).ok().json();
    assert_eq!(doc["tasks"][0]["state"], "timed-out", "{doc:#}");
}

#[test]
fn a_bad_stuck_threshold_is_named() {
    let env = Env::new();
    replay(&env, "codex", "plain", "exit 0");
    let e = spawn(&env, "codex", &[("GIT_AGENTS_STUCK_AFTER", "soon")]);
    let d = e.show["detail"].as_str().unwrap_or_default();
    assert!(d.contains("GIT_AGENTS_STUCK_AFTER=\"soon\""), "{d}");
}

#[test]
fn a_custom_command_without_a_preset_cli_is_not_judged() {
    // The same words from a program that is no preset's CLI: no reason, no hint.
    let env = Env::new();
    env.agent(
        "my-agent",
        "echo 'Not logged in · Please run /login'; exit 1",
    );
    let out = env
        .cmd(&["spawn", "t1", "-p", "x", "--command", "my-agent {prompt}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = env.run(&["show", "t1", "--json"]).ok().json();
    let t = &doc["tasks"][0];
    assert_eq!(t["detail"], "agent exited 1");
    assert_eq!(t["reason"], serde_json::Value::Null);
}
