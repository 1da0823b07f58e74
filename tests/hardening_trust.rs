//! Hardening of trust and the manifest (issue 12): a tracked manifest is recognised
//! whatever path reaches it; what a user judges is shown with control characters
//! visible; a tracked manifest's prompt_file stays in the repository or needs trust;
//! deep nesting and huge files are refused fast; every manifest error names its place.

mod common;

use common::{Env, Run};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

// ---- trust decided on the file, not on the spelling of its path -----------------------

/// A repository whose tracked `agents.yaml` runs `w`, a fake agent that leaves a marker
/// outside the repository: the marker says whether the manifest's command ran.
fn tracked_repo() -> (Env, PathBuf) {
    let env = Env::new();
    let marker = env.root.join("ran");
    env.agent(
        "w",
        &format!("touch '{}'; echo x > x.txt", marker.display()),
    );
    env.write(
        "agents.yaml",
        "command: w\ntasks:\n  - {id: t1, prompt: do it}\n",
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
    std::fs::create_dir_all(env.repo.join("sub")).unwrap();
    std::fs::create_dir_all(env.root.join("out")).unwrap();
    (env, marker)
}

#[track_caller]
fn assert_refused_untouched(env: &Env, marker: &Path, run: Run, how: &str) {
    let run = run.code_is(2);
    assert!(
        run.stderr().contains("not trusted"),
        "{how}: {}",
        run.stderr()
    );
    assert!(!marker.exists(), "{how}: the manifest's command ran");
    assert!(
        !env.repo.join(".worktrees").exists(),
        "{how}: worktree made"
    );
    assert!(
        !env.agents_dir().join("tasks").exists(),
        "{how}: task recorded"
    );
    assert_eq!(env.branches(), vec!["main"], "{how}");
}

/// Every way of reaching the tracked manifest's content: each is refused without trust
/// and runs with --trust.
#[test]
fn a_tracked_manifest_needs_trust_whatever_path_reaches_it() {
    // Each gives the directory to run in, global arguments and environment variables.
    type Setup = fn(&Env) -> (PathBuf, Vec<String>, Vec<(String, String)>);
    let cases: Vec<(&str, Setup)> = vec![
        ("absolute", |e| {
            (
                e.repo.clone(),
                vec![
                    "--manifest".into(),
                    e.repo.join("agents.yaml").display().to_string(),
                ],
                vec![],
            )
        }),
        ("relative from a subdir", |e| {
            (
                e.repo.join("sub"),
                vec!["--manifest".into(), "../agents.yaml".into()],
                vec![],
            )
        }),
        ("with ./", |e| {
            (
                e.repo.clone(),
                vec!["--manifest".into(), "./agents.yaml".into()],
                vec![],
            )
        }),
        ("through ..", |e| {
            (
                e.repo.clone(),
                vec!["--manifest".into(), "sub/../agents.yaml".into()],
                vec![],
            )
        }),
        ("git config with ..", |e| {
            e.git(&["config", "agents.manifest", "sub/../agents.yaml"]);
            (e.repo.clone(), vec![], vec![])
        }),
        ("git -c with ..", |e| {
            (
                e.repo.clone(),
                vec![],
                vec![(
                    "GIT_CONFIG_PARAMETERS".into(),
                    "'agents.manifest'='./sub/../agents.yaml'".into(),
                )],
            )
        }),
        ("GIT_CONFIG_COUNT", |e| {
            (
                e.repo.clone(),
                vec![],
                vec![
                    ("GIT_CONFIG_COUNT".into(), "1".into()),
                    ("GIT_CONFIG_KEY_0".into(), "agents.manifest".into()),
                    ("GIT_CONFIG_VALUE_0".into(), "sub/../agents.yaml".into()),
                ],
            )
        }),
        ("symlink inside", |e| {
            std::os::unix::fs::symlink("agents.yaml", e.repo.join("link.yaml")).unwrap();
            (
                e.repo.clone(),
                vec!["--manifest".into(), "link.yaml".into()],
                vec![],
            )
        }),
        ("symlink outside", |e| {
            let l = e.root.join("out/link.yaml");
            std::os::unix::fs::symlink(e.repo.join("agents.yaml"), &l).unwrap();
            (
                e.repo.clone(),
                vec!["--manifest".into(), l.display().to_string()],
                vec![],
            )
        }),
        ("symlinked directory", |e| {
            std::os::unix::fs::symlink(&e.repo, e.root.join("alias")).unwrap();
            let p = e.root.join("alias/agents.yaml");
            (
                e.repo.clone(),
                vec!["--manifest".into(), p.display().to_string()],
                vec![],
            )
        }),
        ("hard link inside", |e| {
            std::fs::hard_link(e.repo.join("agents.yaml"), e.repo.join("hard.yaml")).unwrap();
            (
                e.repo.clone(),
                vec!["--manifest".into(), "hard.yaml".into()],
                vec![],
            )
        }),
        ("hard link outside", |e| {
            let l = e.root.join("out/hard.yaml");
            std::fs::hard_link(e.repo.join("agents.yaml"), &l).unwrap();
            (
                e.repo.clone(),
                vec!["--manifest".into(), l.display().to_string()],
                vec![],
            )
        }),
        ("copy outside", |e| {
            let l = e.root.join("out/copy.yaml");
            std::fs::copy(e.repo.join("agents.yaml"), &l).unwrap();
            (
                e.repo.clone(),
                vec!["--manifest".into(), l.display().to_string()],
                vec![],
            )
        }),
        ("copy with CRLF line ends", |e| {
            let l = e.root.join("out/crlf.yaml");
            let text = std::fs::read_to_string(e.repo.join("agents.yaml")).unwrap();
            std::fs::write(&l, text.replace('\n', "\r\n")).unwrap();
            (
                e.repo.clone(),
                vec!["--manifest".into(), l.display().to_string()],
                vec![],
            )
        }),
    ];
    for (how, setup) in cases {
        let (env, marker) = tracked_repo();
        let (dir, global, vars) = setup(&env);
        let run = |trust: bool| {
            let mut args: Vec<&str> = global.iter().map(String::as_str).collect();
            args.push("spawn");
            if trust {
                args.push("--trust");
            }
            let mut cmd = env.cmd(&args);
            cmd.current_dir(&dir);
            for (k, v) in &vars {
                cmd.env(k, v);
            }
            Run(cmd.output().unwrap())
        };
        assert_refused_untouched(&env, &marker, run(false), how);
        let ok = run(true);
        assert_eq!(ok.code(), 0, "{how} with --trust: {}", ok.stderr());
        assert!(marker.exists(), "{how}: --trust did not run it");
    }
}

#[test]
fn an_untracked_manifest_anywhere_needs_no_trust() {
    let (env, marker) = tracked_repo();
    // The same commands with other prompts: new content, tracked nowhere.
    let other = env.root.join("out/mine.yaml");
    std::fs::write(&other, "command: w\ntasks:\n  - {id: m1, prompt: mine}\n").unwrap();
    env.run(&["--manifest", other.to_str().unwrap(), "spawn"])
        .ok();
    assert!(marker.exists());
    // An untracked file in the repository, reached through `..`.
    std::fs::remove_file(&marker).unwrap();
    env.write(
        "sub/local.yaml",
        "command: w\ntasks:\n  - {id: m2, prompt: local}\n",
    );
    env.run(&["--manifest", "sub/../sub/local.yaml", "spawn"])
        .ok();
    assert!(marker.exists());
}

/// A manifest tracked in a linked worktree (an agent's branch) counts as tracked there.
#[test]
fn a_manifest_tracked_in_a_linked_worktree_needs_trust() {
    let (env, marker) = tracked_repo();
    let wt = env.root.join("linked");
    env.git(&["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()]);
    std::fs::write(
        wt.join("side.yaml"),
        "command: w\ntasks:\n  - {id: s1, prompt: side}\n",
    )
    .unwrap();
    env.git_in(&wt, &["add", "side.yaml"]);
    env.git_in(&wt, &["commit", "-q", "-m", "side manifest"]);
    let m = wt.join("side.yaml");
    let run = env
        .run(&["--manifest", m.to_str().unwrap(), "spawn"])
        .code_is(2);
    assert!(run.stderr().contains("not trusted"), "{}", run.stderr());
    assert!(!marker.exists());
    assert!(!env.agents_dir().join("tasks").exists());
    env.run(&["--manifest", m.to_str().unwrap(), "spawn", "--trust"])
        .ok();
    assert!(marker.exists());
}

// ---- control characters are shown, never interpreted ---------------------------------

/// Bytes a terminal would act on: C0 controls but the newline, DEL, C1 controls (as
/// UTF-8) and the bidirectional overrides and isolates.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

const SNEAKY: &str = r#"command: [w, "--note=\e[2K"]
setup: ["touch pwn #\r\e[2Kcargo build", "echo \a"]
check: "true # \u202Eharmless\u202C"
env: { "LOG\e[8m": "a\nb" }
tasks:
  - id: t1
    prompt: "hello \e]0;title\a world"
"#;

#[test]
fn trust_shows_commands_with_control_characters_visible() {
    let (env, _marker) = tracked_repo();
    env.write("agents.yaml", SNEAKY);
    env.git(&["commit", "-q", "-am", "sneaky"]);
    let run = env.run(&["trust"]).ok();
    let out = run.stdout();
    assert_eq!(raw_controls(&out), vec![], "{out:?}");
    assert_eq!(raw_controls(&run.stderr()), vec![], "{:?}", run.stderr());
    assert_eq!(
        out,
        "all tasks command: w '--note=\\e[2K'\n\
         all tasks setup: touch pwn #\\r\\e[2Kcargo build\n\
         all tasks setup: echo \\x07\n\
         all tasks check: true # \\u{202e}harmless\\u{202c}\n\
         all tasks env: LOG\\e[8m=a\\nb\n"
    );

    // The refusal of an untrusted run, and -v lines naming the command, stay clean too.
    env.write("agents.yaml", &SNEAKY.replace("harmless", "harmless2"));
    env.git(&["commit", "-q", "-am", "changed"]);
    let run = env.run(&["-v", "spawn"]).code_is(2);
    assert_eq!(raw_controls(&run.stderr()), vec![], "{:?}", run.stderr());
    let run = env.run(&["-v", "spawn", "--trust"]).ok();
    let err = run.stderr();
    assert_eq!(raw_controls(&err), vec![], "{err:?}");
    assert!(err.contains("w '--note=\\e[2K'"), "{err}");

    // show: the agent command, the check and the prompt.
    let run = env.run(&["show", "t1"]).ok();
    let out = run.stdout();
    assert_eq!(raw_controls(&out), vec![], "{out:?}");
    assert!(out.contains("w '--note=\\e[2K'"), "{out}");
    assert!(out.contains("true # \\u{202e}harmless2\\u{202c}"), "{out}");
    assert!(out.contains("hello \\e]0;title\\x07 world"), "{out}");
}

#[test]
fn manifest_errors_show_control_characters_visible() {
    let env = Env::new();
    for (text, expect) in [
        (
            "tasks:\n  - {id: a, prompt: x, \"pro\\e[2Kmpt\": y}\n",
            "unknown field `pro\\e[2Kmpt`",
        ),
        ("\"\\u202Ebad\": 1\ntasks: []\n", "`\\u{202e}bad`"),
        (
            "tasks:\n  - {id: a, prompt_file: \"x\\rhidden.md\"}\n",
            "prompt_file x\\rhidden.md",
        ),
    ] {
        env.write("agents.yaml", text);
        let run = env.run(&["spawn"]).code_is(2);
        let err = run.stderr();
        assert_eq!(raw_controls(&err), vec![], "{err:?}");
        assert!(err.contains(expect), "{expect}: {err}");
        // list is lenient: the same text as a warning, escaped too.
        let run = env.run(&["list"]).ok();
        assert_eq!(raw_controls(&run.stderr()), vec![], "{:?}", run.stderr());
    }
}

// ---- prompt_file of a tracked manifest -------------------------------------------------

/// A repository whose tracked manifest has one task reading `prompt_file`; the agent
/// command comes from the user's own git config, so only the prompt file can need trust.
fn prompt_file_repo(prompt_file: &str, extra: impl Fn(&Env)) -> Env {
    let env = Env::new();
    env.agent("w", "cat > prompt-seen.txt");
    env.git(&["config", "agents.command", "w"]);
    std::fs::write(env.root.join("secret.txt"), "the user's secret\n").unwrap();
    extra(&env);
    let prompt_file = prompt_file.replace("[ROOT]", env.root.to_str().unwrap());
    env.write(
        "agents.yaml",
        &format!("tasks:\n  - id: p1\n    prompt_file: {prompt_file}\n"),
    );
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "manifest"]);
    env
}

#[track_caller]
fn assert_prompt_refused(env: &Env, why: &str) {
    let run = env.run(&["spawn"]).code_is(2);
    assert!(
        run.stderr().contains("the files it reads are not trusted"),
        "{why}: {}",
        run.stderr()
    );
    assert!(!env.repo.join(".worktrees").exists(), "{why}");
    assert!(!env.agents_dir().join("tasks").exists(), "{why}");
    assert!(!env.agents_dir().join("prompts").exists(), "{why}");
    assert_eq!(env.branches(), vec!["main"], "{why}");
    let shown = env.run(&["trust"]).ok().stdout();
    assert!(shown.starts_with("task p1 prompt_file: /"), "{shown}");
    assert!(shown.ends_with(&format!(" ({why})\n")), "{shown}");
    // `trust` recorded it: now it runs, and the prompt is the file's.
    env.run(&["spawn"]).ok();
    let seen = std::fs::read_to_string(env.worktree("p1").join("prompt-seen.txt")).unwrap();
    assert!(!seen.is_empty());
}

#[test]
fn a_tracked_manifest_reading_files_outside_the_repository_needs_trust() {
    let env = prompt_file_repo("../secret.txt", |_| {});
    assert_prompt_refused(&env, "outside the repository");

    let env = prompt_file_repo("[ROOT]/secret.txt", |_| {});
    assert_prompt_refused(&env, "outside the repository");
    let env = prompt_file_repo("./../secret.txt", |_| {});
    assert_prompt_refused(&env, "outside the repository");

    // A tracked symlink in the repository pointing outside it.
    let env = prompt_file_repo("p.md", |e| {
        std::os::unix::fs::symlink(e.root.join("secret.txt"), e.repo.join("p.md")).unwrap();
    });
    assert_prompt_refused(&env, "outside the repository");

    // The git directory and untracked (ignored) files are not the repository's content.
    let env = prompt_file_repo(".git/config", |_| {});
    assert_prompt_refused(&env, "inside the git directory");
    let env = prompt_file_repo(".env", |e| {
        e.write(".gitignore", ".env\n");
        e.write(".env", "TOKEN=hunter2\n");
    });
    assert_prompt_refused(&env, "not tracked by git");
}

#[test]
fn a_tracked_prompt_file_or_an_untracked_manifest_needs_no_trust() {
    // Tracked, inside: the repository's own content.
    let env = prompt_file_repo("tasks/p1.md", |e| {
        e.write("tasks/p1.md", "Do the thing.\n");
    });
    env.run(&["spawn"]).ok();
    let seen = std::fs::read_to_string(env.worktree("p1").join("prompt-seen.txt")).unwrap();
    assert_eq!(seen, "Do the thing.\n");
    // Through a tracked symlink to a tracked file: the same.
    let env = prompt_file_repo("link.md", |e| {
        e.write("tasks/p1.md", "Linked.\n");
        std::os::unix::fs::symlink("tasks/p1.md", e.repo.join("link.md")).unwrap();
    });
    env.run(&["spawn"]).ok();

    // The user's own (untracked) manifest may read what it likes.
    let env = Env::new();
    env.agent("w", "cat > prompt-seen.txt");
    env.git(&["config", "agents.command", "w"]);
    std::fs::write(env.root.join("secret.txt"), "mine\n").unwrap();
    env.write(
        "agents.yaml",
        "tasks:\n  - id: p1\n    prompt_file: ../secret.txt\n",
    );
    env.run(&["spawn"]).ok();
    let seen = std::fs::read_to_string(env.worktree("p1").join("prompt-seen.txt")).unwrap();
    assert_eq!(seen, "mine\n");
}

// ---- deep nesting and huge files -------------------------------------------------------

/// Run with a deadline: a hang is a failure, not a stuck test.
fn run_within(env: &Env, args: &[&str], limit: Duration) -> (Run, Duration) {
    let start = Instant::now();
    let mut child = env
        .cmd(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > limit * 5 {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?} still running after {:?}", start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let took = start.elapsed();
    (Run(child.wait_with_output().unwrap()), took)
}

#[test]
fn deeply_nested_manifests_are_refused_fast() {
    let env = Env::new();
    let n = 200_000; // 400 KB
    let flow = format!("tasks: {}{}\n", "[".repeat(n), "]".repeat(n));
    let block: String = format!("tasks:\n{}x\n", "- ".repeat(n));
    let maps: String = (0..2000)
        .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
        .collect();
    for (what, text, line, col) in [
        ("flow", flow, 1, 71),
        ("block", block, 2, 127),
        ("mappings", maps, 65, 65),
    ] {
        env.write("agents.yaml", &text);
        let (run, took) = run_within(&env, &["spawn"], Duration::from_secs(2));
        let run = run.code_is(2);
        assert!(took < Duration::from_secs(2), "{what}: spawn took {took:?}");
        let expect = format!(
            "error: {}:{line}:{col}: collections nested more than 64 deep",
            env.repo.join("agents.yaml").display()
        );
        assert!(
            run.stderr().starts_with(&expect),
            "{what}: {}",
            run.stderr()
        );
        assert!(!env.agents_dir().join("tasks").exists());

        let (run, took) = run_within(&env, &["list"], Duration::from_secs(2));
        let run = run.ok();
        assert!(took < Duration::from_secs(2), "{what}: list took {took:?}");
        assert!(run.stderr().starts_with("warning: "), "{}", run.stderr());
        assert!(
            run.stderr().contains("nested more than 64"),
            "{}",
            run.stderr()
        );
    }
    // 64 levels are fine: the limit is about abuse, not about ordinary manifests.
    env.write(
        "agents.yaml",
        &format!(
            "env: {{X: y}}\ntasks: []\nx: {}{}\n",
            "[".repeat(62),
            "]".repeat(62)
        ),
    );
    let run = env.run(&["spawn"]).code_is(2);
    assert!(
        run.stderr().contains("unknown field `x`"),
        "{}",
        run.stderr()
    );
}

#[test]
fn huge_manifests_are_refused_before_reading() {
    let env = Env::new();
    let mut text = String::from("tasks: []\n");
    while text.len() <= 4 << 20 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    env.write("agents.yaml", &text);
    let (run, took) = run_within(&env, &["spawn"], Duration::from_secs(2));
    let run = run.code_is(2);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        run.stderr().contains("larger than the limit of 4 MiB"),
        "{}",
        run.stderr()
    );
    let run = env.run(&["list"]).ok();
    assert!(
        run.stderr().contains("larger than the limit"),
        "{}",
        run.stderr()
    );
}

// ---- every manifest error names the file, line and column ------------------------------

/// The error line of `spawn` for a manifest, with the repository path as `[REPO]`;
/// checks exit 2 and that nothing was created.
fn manifest_error(env: &Env, text: &str) -> String {
    env.write("agents.yaml", text);
    let run = env.run(&["spawn"]).code_is(2);
    assert!(!env.agents_dir().join("tasks").exists());
    assert!(!env.repo.join(".worktrees").exists());
    assert_eq!(env.branches(), vec!["main"]);
    run.stderr()
        .replace(env.repo.to_str().unwrap(), "[REPO]")
        .trim_end()
        .to_string()
}

#[test]
fn manifest_errors_name_the_offending_value() {
    let env = Env::new();
    env.agent("w", "true");
    insta::assert_snapshot!(
        manifest_error(&env, "jobs: 0\ntasks: []\n"),
        @"error: [REPO]/agents.yaml:1:7: jobs: jobs must be between 1 and 1024"
    );
    insta::assert_snapshot!(
        manifest_error(&env, "command: w\nport_range: 9-1\ntasks:\n  - {id: a, prompt: x}\n"),
        @r#"error: [REPO]/agents.yaml:2:13: port_range: invalid value "9-1"; expected a range such as 20000-29999 (two ports from 1 to 65535, the first not above the second)"#
    );
    insta::assert_snapshot!(
        manifest_error(&env, "port_range: 70000-70001\ntasks: []\n"),
        @r#"error: [REPO]/agents.yaml:1:13: port_range: invalid value "70000-70001"; expected a range such as 20000-29999 (two ports from 1 to 65535, the first not above the second)"#
    );
    insta::assert_snapshot!(
        manifest_error(&env, "tasks:\n  - id: a\n    prompt_file: nope.md\n"),
        @"error: [REPO]/agents.yaml:3:18: tasks[0].prompt_file: cannot read prompt_file nope.md (relative to the manifest's directory): it was not found"
    );
    std::fs::create_dir_all(env.repo.join("adir")).unwrap();
    insta::assert_snapshot!(
        manifest_error(&env, "tasks:\n  - {id: a, prompt_file: adir}\n"),
        @"error: [REPO]/agents.yaml:2:26: tasks[0].prompt_file: cannot read prompt_file adir (relative to the manifest's directory): it is a directory, not a file"
    );
    insta::assert_snapshot!(
        manifest_error(&env, "tasks:\n  - {id: a, prompt: x}\n  - {id: b, prompt: y}\n  - {id: a, prompt: z}\n"),
        @r#"error: [REPO]/agents.yaml:4:10: tasks[2].id: duplicate task id "a"; every task needs its own id"#
    );
    insta::assert_snapshot!(
        manifest_error(&env, "env:\n  OK: 1\n  \"A=B\": 2\ntasks: []\n"),
        @r#"error: [REPO]/agents.yaml:3:3: env: invalid environment variable name "A=B""#
    );
    insta::assert_snapshot!(
        manifest_error(&env, "tasks:\n  - id: a\n    prompt: x\n    timeout: soon\n"),
        @r#"error: [REPO]/agents.yaml:4:14: tasks[0].timeout: invalid duration "soon" (expected a duration such as 45s, 30m, 2h); expected e.g. 45s, 30m, 2h"#
    );
    insta::assert_snapshot!(
        manifest_error(&env, "base: main\nagent: robot\ntasks: []\n"),
        @r#"error: [REPO]/agents.yaml:2:8: agent: unknown agent "robot", expected one of claude, codex, aider, gemini, opencode, cursor-agent, goose, amp; or give a `command`"#
    );
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[test]
fn a_manifest_that_is_not_a_file_says_what_it_is() {
    let env = Env::new();
    std::fs::create_dir_all(env.repo.join("dir.yaml")).unwrap();
    mkfifo(&env.repo.join("fifo.yaml"));
    let fifo = env.repo.join("fifo.yaml");
    let fifo = fifo.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--manifest", "dir.yaml", "spawn"],
            "dir.yaml is a directory, not a file",
        ),
        (
            &["--manifest", "fifo.yaml", "spawn"],
            "fifo.yaml is not a regular file (a fifo, socket or device)",
        ),
        (
            &["--manifest", "nope.yaml", "spawn"],
            "nope.yaml was not found",
        ),
        (
            &["--manifest", fifo, "list"],
            "fifo.yaml is not a regular file",
        ),
    ];
    for (args, expect) in cases {
        // A fifo opened for reading would block until a writer came: never opened.
        let (run, _) = run_within(&env, args, Duration::from_secs(2));
        let err = run.stderr();
        assert!(err.contains(expect), "{args:?}: {err}");
        if args.last() == Some(&"list") {
            run.ok();
        } else {
            run.code_is(2);
        }
    }
    env.git(&["config", "agents.manifest", "fifo.yaml"]);
    let (run, _) = run_within(&env, &["spawn"], Duration::from_secs(2));
    let run = run.code_is(2);
    assert!(
        run.stderr()
            .contains("fifo.yaml (from git config agents.manifest) is not a regular file"),
        "{}",
        run.stderr()
    );
    env.git(&["config", "--unset", "agents.manifest"]);

    // The default name taken by a directory or a fifo: said, not silently skipped.
    std::fs::rename(env.repo.join("fifo.yaml"), env.repo.join("agents.yaml")).unwrap();
    let (run, _) = run_within(&env, &["spawn", "-p", "x"], Duration::from_secs(2));
    let run = run.code_is(2);
    assert!(
        run.stderr().contains("agents.yaml is not a regular file"),
        "{}",
        run.stderr()
    );
    // A prompt_file that is a fifo is refused the same way, at its line and column.
    std::fs::rename(env.repo.join("agents.yaml"), env.repo.join("p.fifo")).unwrap();
    env.write("agents.yaml", "tasks:\n  - {id: a, prompt_file: p.fifo}\n");
    let (run, _) = run_within(&env, &["spawn"], Duration::from_secs(2));
    let run = run.code_is(2);
    assert!(
        run.stderr().contains("agents.yaml:2:26: tasks[0].prompt_file: cannot read prompt_file p.fifo (relative to the manifest's directory): it is not a regular file"),
        "{}",
        run.stderr()
    );
    assert!(!env.agents_dir().join("tasks").exists());
}
