//! A manifest that came with the repository runs its commands only once trusted; state
//! files stay private.

mod common;

use common::Env;

fn tracked_manifest(env: &Env, check: &str) {
    env.agent("w", "echo x > x.txt");
    env.write(
        "agents.yaml",
        &format!("command: w\ncheck: {check}\ntasks:\n  - {{id: t1, prompt: a}}\n  - {{id: t2, prompt: b}}\n"),
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
}

#[test]
fn tracked_manifest_needs_trust_for_its_exact_content() {
    let env = Env::new();
    tracked_manifest(&env, "true");
    let run = env.run(&["spawn", "t1"]).code_is(2);
    assert!(run.stderr().contains("not trusted"), "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("hint: review them with `git agents trust`"),
        "{}",
        run.stderr()
    );
    assert!(!env.repo.join(".worktrees").exists());
    assert!(!env.agents_dir().join("tasks").exists());
    assert_eq!(env.branches(), vec!["main"]);

    let shown = env.run(&["trust"]).ok().stdout();
    assert_eq!(shown, "all tasks command: w\nall tasks check: true\n");
    env.run(&["spawn", "t1"]).ok();

    // A changed check is new content: asked again.
    tracked_manifest(&env, "echo changed");
    let run = env.run(&["spawn", "t2"]).code_is(2);
    assert!(run.stderr().contains("not trusted"), "{}", run.stderr());
    // --trust runs it once without recording.
    env.run(&["spawn", "t2", "--trust"]).ok();
    let trust = std::fs::read_to_string(env.agents_dir().join("trust")).unwrap();
    assert_eq!(trust.lines().count(), 1);
}

#[test]
fn untracked_manifests_and_git_config_commands_need_no_trust() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    env.write(
        "agents.yaml",
        "command: w\ntasks:\n  - {id: u1, prompt: a}\n",
    );
    env.run(&["spawn"]).ok();
    // Tracked, but with prompts only: the commands come from the user's git config.
    env.write("agents.yaml", "tasks:\n  - {id: u2, prompt: b}\n");
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "m"]);
    env.git(&["config", "agents.command", "w"]);
    env.git(&["config", "agents.check", "true"]);
    env.run(&["spawn", "u2"]).ok();
}

#[test]
fn state_files_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    env.agent("fail", "echo secret-ish; exit 1");
    // Run under umask 000 through a shell.
    let mut sh = std::process::Command::new("sh");
    env.apply(&mut sh);
    let out = sh
        .arg("-c")
        .arg(format!(
            "umask 000; exec '{}' spawn f1 -p x --command fail --retries 1",
            common::BIN
        ))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = env.agents_dir();
    for f in [
        "tasks/f1.json",
        "logs/f1.log",
        "notes/f1.md",
        "prompts/f1.md",
        "pruned.log",
    ] {
        let p = dir.join(f);
        if !p.exists() {
            continue;
        }
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o002, 0, "{f} is world-writable ({mode:o})");
        assert_eq!(mode & 0o077, 0, "{f} is readable by others ({mode:o})");
    }
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o002, 0, "agents/ is world-writable ({mode:o})");
}

#[test]
fn merge_checks_from_a_tracked_manifest_need_trust_too() {
    let env = Env::new();
    tracked_manifest(&env, "true");
    env.run(&["spawn", "t1", "--trust"]).ok();
    // Someone changes the check in the repository after the spawn.
    tracked_manifest(&env, "touch pwned");
    let run = env.run(&["merge", "t1"]).code_is(2);
    assert!(run.stderr().contains("not trusted"), "{}", run.stderr());
    assert!(!env.repo.join("pwned").exists());
    assert_eq!(env.git(&["rev-list", "--count", "main"]).trim(), "3");
    // A dry run runs nothing and needs no trust.
    env.run(&["merge", "t1", "--dry-run"]).ok();
    env.run(&["trust"]).ok();
    env.run(&["merge", "t1"]).ok();
}
