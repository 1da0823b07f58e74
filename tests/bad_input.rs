//! A corpus of bad input: every case exits 2 with a short message naming the problem,
//! never panics, and creates nothing (no worktree, no record, no branch).

mod common;

use common::Env;

struct Case {
    name: &'static str,
    manifest: Option<Vec<u8>>,
    args: Vec<String>,
    expect: &'static str,
}

fn case(name: &'static str, manifest: &str, args: &[&str], expect: &'static str) -> Case {
    Case {
        name,
        manifest: Some(manifest.as_bytes().to_vec()),
        args: args.iter().map(|s| s.to_string()).collect(),
        expect,
    }
}

fn assert_nothing_created(env: &Env, name: &str) {
    assert!(
        !env.repo.join(".worktrees").exists(),
        "{name}: created worktrees"
    );
    assert!(
        !env.agents_dir().join("tasks").exists(),
        "{name}: created records"
    );
    assert_eq!(env.branches(), vec!["main"], "{name}: created branches");
}

fn check(env: &Env, c: &Case) {
    match &c.manifest {
        Some(m) => std::fs::write(env.repo.join("agents.yaml"), m).unwrap(),
        None => {
            let _ = std::fs::remove_file(env.repo.join("agents.yaml"));
        }
    }
    let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
    let run = env.run(&args);
    let err = run.stderr();
    assert_eq!(
        run.code(),
        2,
        "{}: exit {} stderr:\n{err}",
        c.name,
        run.code()
    );
    assert!(
        err.contains(c.expect),
        "{}: expected {:?} in:\n{err}",
        c.name,
        c.expect
    );
    assert!(!err.contains("panicked"), "{}: {err}", c.name);
    let lines = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("For more information"))
        .count();
    assert!(lines <= 2, "{}: more than two lines:\n{err}", c.name);
    assert_nothing_created(env, c.name);
}

#[test]
fn manifest_and_flag_corpus() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    let ok_task = "command: w\ntasks:\n  - {id: a, prompt: x}\n";
    let long_id = format!("tasks:\n  - {{id: {}, prompt: x}}\n", "a".repeat(65));
    let huge = format!(
        "command: w\ntasks:\n  - {{id: a, prompt: x, bogus: \"{}\"}}\n",
        "y".repeat(2_000_000)
    );
    let mut cases = vec![
        case(
            "unknown top field",
            "tasks: []\nagnet: claude\n",
            &["spawn"],
            "agents.yaml:2:1: unknown field `agnet`",
        ),
        case(
            "unknown task field",
            "tasks:\n  - id: a\n    prompt: x\n    retry: 2\n",
            &["spawn"],
            "agents.yaml:4:5:",
        ),
        case(
            "tasks not a list",
            "tasks: 3\n",
            &["spawn"],
            "expected a list of tasks",
        ),
        case(
            "manifest is a list",
            "- a\n- b\n",
            &["spawn"],
            "agents.yaml:",
        ),
        case(
            "manifest is a scalar",
            "hello\n",
            &["spawn"],
            "agents.yaml:",
        ),
        case("empty manifest", "", &["spawn"], "the manifest is empty"),
        case("only comments", "# nothing\n", &["spawn"], "agents.yaml:"),
        case(
            "bad yaml",
            "tasks: [\n  {id: a\n",
            &["spawn"],
            "agents.yaml:",
        ),
        case(
            "tab indentation",
            "tasks:\n\t- id: a\n",
            &["spawn"],
            "agents.yaml:",
        ),
        case(
            "duplicate key",
            "tasks: []\ntasks: []\n",
            &["spawn"],
            "agents.yaml:",
        ),
        case(
            "duplicate id",
            "tasks:\n  - {id: a, prompt: x}\n  - {id: a, prompt: y}\n",
            &["spawn"],
            "duplicate task id",
        ),
        case(
            "id uppercase",
            "tasks:\n  - {id: Fix, prompt: x}\n",
            &["spawn"],
            "invalid task id \"Fix\"",
        ),
        case(
            "id with slash",
            "tasks:\n  - {id: a/b, prompt: x}\n",
            &["spawn"],
            "invalid task id",
        ),
        case(
            "id dotdot",
            "tasks:\n  - {id: \"..\", prompt: x}\n",
            &["spawn"],
            "invalid task id",
        ),
        case("id too long", &long_id, &["spawn"], "invalid task id"),
        case(
            "id is a number list",
            "tasks:\n  - {id: [1], prompt: x}\n",
            &["spawn"],
            "agents.yaml:",
        ),
        case(
            "id missing",
            "tasks:\n  - {prompt: x}\n",
            &["spawn"],
            "missing field `id`",
        ),
        case(
            "prompt and file",
            "tasks:\n  - {id: a, prompt: x, prompt_file: p.md}\n",
            &["spawn"],
            "both",
        ),
        case("no prompt", "tasks:\n  - {id: a}\n", &["spawn"], "neither"),
        case(
            "empty prompt",
            "tasks:\n  - {id: a, prompt: \"  \"}\n",
            &["spawn"],
            "non-empty",
        ),
        case(
            "prompt file missing",
            "tasks:\n  - {id: a, prompt_file: nope.md}\n",
            &["spawn"],
            "cannot read prompt_file nope.md",
        ),
        case(
            "prompt is a map",
            "tasks:\n  - {id: a, prompt: {x: 1}}\n",
            &["spawn"],
            "agents.yaml:",
        ),
        case(
            "jobs zero",
            "jobs: 0\ntasks: []\n",
            &["spawn"],
            "jobs must be between 1 and 1024",
        ),
        case(
            "jobs absurd",
            "jobs: 99999999999999999999\ntasks: []\n",
            &["spawn"],
            "agents.yaml:1:",
        ),
        case(
            "retries negative",
            "retries: -3\ntasks: []\n",
            &["spawn"],
            "agents.yaml:1:",
        ),
        case(
            "retries absurd",
            "retries: 5000000000\ntasks: []\n",
            &["spawn"],
            "agents.yaml:1:",
        ),
        case(
            "timeout word",
            "timeout: forever\ntasks: []\n",
            &["spawn"],
            "invalid duration \"forever\"",
        ),
        case(
            "timeout zero",
            "timeout: 0s\ntasks: []\n",
            &["spawn"],
            "invalid duration",
        ),
        case(
            "timeout negative",
            "timeout: -5m\ntasks: []\n",
            &["spawn"],
            "invalid duration",
        ),
        case(
            "unknown agent",
            "agent: skynet\ntasks: []\n",
            &["spawn"],
            "unknown agent \"skynet\"",
        ),
        case(
            "empty command",
            "command: \"\"\ntasks: []\n",
            &["spawn"],
            "command must not be empty",
        ),
        case(
            "empty command list",
            "command: []\ntasks: []\n",
            &["spawn"],
            "command must not be empty",
        ),
        case(
            "command unbalanced quote",
            "command: \"a 'b\"\ntasks: []\n",
            &["spawn"],
            "cannot split command",
        ),
        case(
            "env list",
            "env: [A]\ntasks: []\n",
            &["spawn"],
            "agents.yaml:1:",
        ),
        case(
            "env bad name",
            "env: {\"A=B\": x}\ntasks: []\n",
            &["spawn"],
            "invalid environment variable name",
        ),
        case(
            "strategy unknown",
            "merge_strategy: octopus\ntasks: []\n",
            &["spawn"],
            "unknown variant `octopus`",
        ),
        case(
            "setup map",
            "setup: {a: b}\ntasks: []\n",
            &["spawn"],
            "a string or a list of strings",
        ),
        case(
            "huge junk field",
            &huge,
            &["spawn"],
            "unknown field `bogus`",
        ),
        case(
            "program missing",
            "command: definitely-not-installed-xyz\ntasks:\n  - {id: a, prompt: x}\n",
            &["spawn"],
            "not found on PATH",
        ),
        case("unknown id", ok_task, &["spawn", "zzz"], "no task \"zzz\""),
        case(
            "hostile id arg",
            ok_task,
            &["spawn", "../../etc"],
            "invalid task id",
        ),
        case(
            "id with newline",
            ok_task,
            &["spawn", "a\nb"],
            "invalid task id",
        ),
        case(
            "missing base",
            ok_task,
            &["spawn", "--base", "no-such-branch"],
            "does not name a commit",
        ),
        case(
            "base is a tree",
            ok_task,
            &["spawn", "--base", "HEAD^{tree}"],
            "does not name a commit",
        ),
        case(
            "bad agent flag",
            ok_task,
            &["spawn", "--agent", "robot"],
            "invalid value 'robot'",
        ),
        case(
            "agent and command",
            ok_task,
            &["spawn", "--agent", "claude", "--command", "w"],
            "cannot be used with",
        ),
        case(
            "check and no-check",
            ok_task,
            &["spawn", "--check", "true", "--no-check"],
            "cannot be used with",
        ),
        case("jobs flag huge", ok_task, &["spawn", "-j", "100000"], "-j"),
        case(
            "retries flag word",
            ok_task,
            &["spawn", "--retries", "lots"],
            "--retries",
        ),
        case(
            "empty -p",
            ok_task,
            &["spawn", "-p", ""],
            "the prompt given with -p is empty",
        ),
        case(
            "unknown subcommand",
            ok_task,
            &["spwan"],
            "unrecognized subcommand",
        ),
        case(
            "unknown flag",
            ok_task,
            &["spawn", "--frobnicate"],
            "unexpected argument",
        ),
        case(
            "bad color",
            ok_task,
            &["--color", "purple", "spawn"],
            "invalid value 'purple'",
        ),
        case(
            "missing --manifest file",
            ok_task,
            &["--manifest", "nope.yaml", "spawn"],
            "manifest",
        ),
        case(
            "logs of unknown task",
            ok_task,
            &["logs", "nope"],
            "no task \"nope\" has been spawned",
        ),
        case(
            "path of bad id",
            ok_task,
            &["path", "Bad"],
            "invalid task id",
        ),
    ];
    cases.push(Case {
        name: "binary junk manifest",
        manifest: Some(vec![0xff, 0xfe, 0x00, 0x01, b'\n', 0x80, 0x81]),
        args: vec!["spawn".into()],
        expect: "not UTF-8",
    });
    cases.push(Case {
        name: "no manifest, no prompt",
        manifest: None,
        args: vec!["spawn".into()],
        expect: "no manifest found",
    });
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for c in &cases {
        check(&env, c);
    }
}

#[test]
fn repository_shapes_corpus() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    let spawn = ["spawn", "t", "-p", "x", "--command", "w"];

    // A bare repository has no worktree to start from.
    env.git(&["init", "-q", "--bare", "../bare.git"]);
    let run = env
        .run(&[&["-C", "../bare.git"][..], &spawn[..]].concat())
        .code_is(2);
    assert!(run.stderr().contains("bare repository"), "{}", run.stderr());

    // An empty repository: HEAD points at nothing yet.
    env.git(&["init", "-q", "../empty"]);
    let run = env
        .run(&[&["-C", "../empty"][..], &spawn[..]].concat())
        .code_is(2);
    assert!(
        run.stderr().contains("does not name a commit") || run.stderr().contains("first commit"),
        "{}",
        run.stderr()
    );

    // The worktree dir is a file.
    env.git(&["config", "agents.worktreeDir", "wtfile"]);
    env.write("wtfile", "not a dir");
    let run = env.run(&spawn).code_is(2);
    assert!(
        run.stderr().contains("is not a directory"),
        "{}",
        run.stderr()
    );
    env.git(&["config", "--unset", "agents.worktreeDir"]);
    std::fs::remove_file(env.repo.join("wtfile")).unwrap();

    // The worktree path already exists.
    std::fs::create_dir_all(env.repo.join(".worktrees/t")).unwrap();
    let run = env.run(&spawn).code_is(2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    std::fs::remove_dir_all(env.repo.join(".worktrees")).unwrap();

    // Bad git config values.
    for (k, v, expect) in [
        ("agents.jobs", "0", "agents.jobs"),
        ("agents.branchPrefix", "bad..prefix/", "agents.branchPrefix"),
        ("agents.portRange", "9-1", "agents.portRange"),
        ("agents.timeout", "-1", "agents.timeout"),
        ("agents.manifest", "missing.yaml", "not found"),
    ] {
        env.git(&["config", k, v]);
        let run = env.run(&spawn).code_is(2);
        assert!(run.stderr().contains(expect), "{k}={v}: {}", run.stderr());
        env.git(&["config", "--unset", k]);
    }
    assert_nothing_created(&env, "repository shapes");

    // A detached HEAD is a fine base: the commit itself.
    let head = env.git(&["rev-parse", "HEAD"]);
    env.git(&["checkout", "-q", "--detach"]);
    env.run(&spawn).ok();
    assert_eq!(env.git(&["rev-parse", "agent/t~1"]), head);
}

#[test]
fn a_broken_manifest_does_not_block_looking_or_cleaning_up() {
    let env = Env::new();
    env.agent("w", "echo x > x.txt");
    env.run(&["spawn", "ok1", "-p", "x", "--command", "w"]).ok();
    env.write("agents.yaml", "tasks: [\n");
    let run = env.run(&["list", "--json"]).ok();
    assert!(run.stderr().contains("warning: "), "{}", run.stderr());
    assert!(run.stderr().contains("agents.yaml:"), "{}", run.stderr());
    assert_eq!(common::tasks(&run.json()).len(), 1);
    env.run(&["show", "ok1"]).ok();
    env.run(&["logs", "ok1"]).ok();
    env.run(&["path", "ok1"]).ok();
    env.run(&["prune", "ok1", "--force", "--yes"]).ok();
    // Commands that would run the manifest still refuse it.
    env.run(&["spawn"]).code_is(2);
    env.run(&["merge"]).code_is(2);
}
