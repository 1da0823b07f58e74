//! The real-CLI tier: `git agents spawn --agent claude|codex|gemini|opencode|amp` with the
//! real agent CLIs, pinned in .ci/agent-clis and installed by .ci/run (which points
//! `GIT_AGENTS_REAL_CLIS` at their bin directory). Offline and logged out — HOME is an
//! empty temp dir and the environment is cleared, so no login, API key or proxy of the
//! machine leaks in — each must end the task as a failure (never `empty`, never
//! `succeeded`), with the CLI's own reason in `show`'s detail and JSON, within a bound,
//! and with no process of it left behind.
//!
//! Without `GIT_AGENTS_REAL_CLIS` (a plain `cargo test`) the tier prints a notice and
//! skips. With it set, a CLI missing from the directory fails its test loudly: CI never
//! skips one silently.

mod common;

use common::Env;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

const VAR: &str = "GIT_AGENTS_REAL_CLIS";

/// The directory holding `cli`, or `None` (with a notice) when the tier is not set up.
fn cli_dir(cli: &str) -> Option<PathBuf> {
    cli_in(std::env::var_os(VAR), cli)
}

fn cli_in(dir: Option<std::ffi::OsString>, cli: &str) -> Option<PathBuf> {
    let Some(dir) = dir else {
        // Straight to stderr: libtest would swallow an `eprintln!` of a passing test.
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: the real-CLI tests (tests/real_cli.rs) are SKIPPED: {VAR} is not set. \
                 `.ci/run` installs the CLIs pinned in .ci/agent-clis and sets it."
            );
        });
        let _ = cli;
        return None;
    };
    let dir = PathBuf::from(dir);
    let bin = dir.join(cli);
    assert!(
        bin.is_file(),
        "REAL-CLI TIER: {cli} is not installed in {} ({VAR}): its npm install failed \
         (see .ci/run's output) or .ci/agent-clis lost it",
        dir.display()
    );
    Some(dir)
}

struct Ended {
    show: serde_json::Value,
    human: String,
    took: Duration,
    env: Env,
}

/// Spawn task `t1` with `preset`, its real CLI first on PATH.
fn spawn(preset: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Option<Ended> {
    let mut all = vec!["--agent", preset];
    all.extend_from_slice(args);
    spawn_as(preset, &all, extra_env)
}

/// Spawn task `t1` running `cli` as `args` say (`--agent …` or `--command …`).
fn spawn_as(cli: &str, args: &[&str], extra_env: &[(&str, &str)]) -> Option<Ended> {
    let preset = cli;
    let dir = cli_dir(cli)?;
    let env = Env::new();
    let mut all = vec!["spawn", "t1", "-p", "Add a line to README.md"];
    all.extend_from_slice(args);
    let mut cmd = env.cmd(&all);
    cmd.env(
        "PATH",
        format!(
            "{}:{}:/usr/local/bin:/usr/bin:/bin",
            env.bin.display(),
            dir.display()
        ),
    );
    // Offline even on a machine with network: every proxy variable names a closed port.
    for k in [
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "ALL_PROXY",
        "https_proxy",
        "http_proxy",
        "all_proxy",
    ] {
        cmd.env(k, "http://127.0.0.1:9");
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{preset}: spawn should report a failed task\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = env.run(&["show", "t1", "--json"]).ok().json();
    let human = env.run(&["show", "t1"]).ok().stdout();
    let ended = Ended {
        show: doc["tasks"][0].clone(),
        human,
        took,
        env,
    };
    assert_no_process_left(&ended.env);
    eprintln!(
        "{preset}: {} in {:.1}s: {}",
        ended.show["state"],
        took.as_secs_f64(),
        ended.show["detail"]
    );
    Some(ended)
}

/// No process with this test's HOME is alive: everything the CLI started went with it.
fn assert_no_process_left(env: &Env) {
    let mark = format!("HOME={}", env.home.display()).into_bytes();
    let mut left = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|v| v == mark.as_slice()) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            left.push(format!(
                "{pid}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    assert!(left.is_empty(), "processes left behind: {left:#?}");
}

#[track_caller]
fn assert_failed(e: &Ended, state: &str, said: &[&str], bound: Duration) {
    assert_eq!(e.show["state"], state, "{:#}", e.show);
    let detail = e.show["detail"].as_str().unwrap_or_default();
    for s in said {
        assert!(detail.contains(s), "detail {detail:?} lacks {s:?}");
        assert!(e.human.contains(s), "show lacks {s:?}:\n{}", e.human);
    }
    assert!(e.took < bound, "took {:?} (bound {bound:?})", e.took);
}

#[test]
fn claude_not_logged_in() {
    let Some(e) = spawn("claude", &[], &[]) else {
        return;
    };
    assert_failed(
        &e,
        "failed",
        &["agent exited 1", "Not logged in"],
        Duration::from_secs(60),
    );
    assert_eq!(e.show["reason"], "Not logged in · Please run /login");
    assert!(e.show["hint"].as_str().unwrap().contains("/login"));
}

#[test]
fn gemini_no_api_key_in_an_untrusted_folder() {
    let Some(e) = spawn("gemini", &[], &[]) else {
        return;
    };
    assert_failed(
        &e,
        "failed",
        &["agent exited 41", "GEMINI_API_KEY", "not trusted"],
        Duration::from_secs(90),
    );
    let hint = e.show["hint"].as_str().unwrap();
    assert!(hint.contains("TRUST_FOLDER"), "{hint}");
    // The user's gemini settings are theirs: we never wrote trustedFolders.json.
    assert!(!e.env.home.join(".gemini/trustedFolders.json").exists());
}

#[test]
fn codex_without_network_is_stuck_and_stopped() {
    // codex retries for minutes; a short stuck threshold stands in for the preset's 5m,
    // long enough (its retries so far come within ~8s) for codex to name the cause.
    let Some(e) = spawn("codex", &[], &[("GIT_AGENTS_STUCK_AFTER", "12s")]) else {
        return;
    };
    assert_failed(
        &e,
        "failed",
        &[
            "agent stuck",
            "Reconnecting... waiting for network",
            "codex cannot reach its API",
        ],
        Duration::from_secs(90),
    );
    let reason = e.show["reason"].as_str().unwrap();
    assert!(
        reason.contains("stream disconnected before completion"),
        "{reason}"
    );
}

#[test]
fn amp_not_logged_in_is_stopped_at_its_login_prompt() {
    let Some(e) = spawn("amp", &[], &[]) else {
        return;
    };
    assert_failed(
        &e,
        "failed",
        &["agent stopped", "No API key found"],
        Duration::from_secs(60),
    );
}

#[test]
fn opencode_offline_ends_at_the_time_limit() {
    // opencode waits on the network without a word: only a time limit ends it.
    let Some(e) = spawn("opencode", &["--timeout", "5s"], &[]) else {
        return;
    };
    assert_failed(&e, "timed-out", &["timed out"], Duration::from_secs(60));
}

// The structured output modes (what the adapters use) give the same reasons.

#[test]
fn claude_stream_json_not_logged_in() {
    let cmd =
        "claude -p {prompt} --permission-mode acceptEdits --output-format stream-json --verbose";
    let Some(e) = spawn_as("claude", &["--command", cmd], &[]) else {
        return;
    };
    assert_failed(
        &e,
        "failed",
        &["agent exited 1", "Not logged in"],
        Duration::from_secs(60),
    );
    assert_eq!(e.show["reason"], "Not logged in · Please run /login");
}

#[test]
fn gemini_stream_json_no_api_key_in_an_untrusted_folder() {
    let cmd = "gemini --approval-mode auto_edit -p {prompt} --output-format stream-json";
    let Some(e) = spawn_as("gemini", &["--command", cmd], &[]) else {
        return;
    };
    assert_failed(
        &e,
        "failed",
        &["agent exited 41", "GEMINI_API_KEY", "not trusted"],
        Duration::from_secs(90),
    );
}

#[test]
fn codex_json_without_network_is_stuck_and_stopped() {
    let cmd = "codex exec --json --sandbox workspace-write {prompt}";
    let Some(e) = spawn_as(
        "codex",
        &["--command", cmd],
        &[("GIT_AGENTS_STUCK_AFTER", "12s")],
    ) else {
        return;
    };
    assert_failed(
        &e,
        "failed",
        &[
            "agent stuck",
            "waiting for network",
            "codex cannot reach its API",
        ],
        Duration::from_secs(90),
    );
}

#[test]
#[should_panic(expected = "REAL-CLI TIER: claude is not installed")]
fn a_cli_missing_from_the_set_up_tier_fails_loudly() {
    let empty = tempfile::tempdir().unwrap();
    cli_in(Some(empty.path().into()), "claude");
}

#[test]
fn the_pinned_versions_are_the_ones_recorded() {
    // The fixtures say which version they came from; the installed CLIs must be those.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/MANIFEST");
    let manifest = std::fs::read_to_string(manifest).unwrap();
    for cli in ["claude", "codex", "gemini", "opencode", "amp"] {
        let Some(dir) = cli_dir(cli) else {
            return;
        };
        let env = Env::new();
        let out = Command::new(dir.join(cli))
            .arg("--version")
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", dir.display()))
            .env("HOME", &env.home)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let recorded = manifest
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                (f.get(1) == Some(&cli)).then(|| f[2].to_string())
            })
            .next()
            .unwrap_or_else(|| panic!("no fixture recorded for {cli}"));
        assert!(
            text.contains(&recorded),
            "{cli} --version says {text:?}, the fixtures were recorded from {recorded}: \
             re-record them (tests/fixtures/real/record.sh)"
        );
    }
}
