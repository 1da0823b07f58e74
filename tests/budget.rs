//! Budgets: an agent whose reported spend passes `max_cost`/`max_tokens` is stopped like
//! a timeout (its whole process group), its task `failed` with the reason `budget`; a
//! batch's `--max-cost` leaves tasks not yet started pending; an agent that reports
//! nothing is said once not to be held; bad budgets are usage errors that change nothing.

mod common;

use common::{Env, alive, tasks};
use std::time::{Duration, Instant};

fn pid(env: &Env, name: &str) -> u32 {
    common::read_pid(&env.root.join(name))
}

/// An opencode stand-in that reports $0.05 and 110 tokens per step, forever, with a
/// background process of its own.
fn spender(env: &Env) {
    env.agent(
        "opencode",
        &format!(
            "sleep 300 & echo $! > '{root}/bg-'\"$GIT_AGENTS_TASK\"\n\
             echo $$ > '{root}/pid-'\"$GIT_AGENTS_TASK\"\n\
             echo work > work.txt\n\
             while :; do\n\
             echo '{{\"type\":\"step_finish\",\"sessionID\":\"ses_1\",\"part\":{{\"cost\":0.05,\"tokens\":{{\"input\":100,\"output\":10}}}}}}'\n\
             sleep 0.1\n\
             done",
            root = env.root.display()
        ),
    );
}

#[test]
fn an_agent_over_its_cost_budget_is_stopped_with_its_process_group() {
    let env = Env::new();
    spender(&env);
    let start = Instant::now();
    let run = env
        .run(&[
            "spawn",
            "--agent",
            "opencode",
            "--max-task-cost",
            "0.12",
            "-p",
            "spend",
            "--json",
        ])
        .code_is(1);
    assert!(start.elapsed() < Duration::from_secs(20));
    let doc = run.json();
    let t = &tasks(&doc)["spend"];
    assert_eq!(t["state"], "failed");
    assert_eq!(t["reason"], "budget");
    assert_eq!(t["detail"], "budget: spent $0.1500 of max_cost $0.1200");
    assert_eq!(t["usage"]["cost_usd"], 0.15);
    let rec = env.record("spend");
    assert_eq!(rec["attempts"][0]["reason"], "budget");
    for f in ["bg-spend", "pid-spend"] {
        assert!(!alive(pid(&env, f)), "{f} outlived the budget stop");
    }
    // What it did is kept on its branch, as after a timeout.
    assert!(env.git(&["show", "agent/spend:work.txt"]).contains("work"));
    let show = env.run(&["show", "spend"]).ok().stdout();
    assert!(show.contains("budget"), "{show}");
    let events = std::fs::read_dir(env.agents_dir().join("events"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect::<String>();
    assert!(events.contains("\"kind\":\"budget\""), "{events}");
}

#[test]
fn a_token_budget_from_the_manifest_stops_the_agent_too_and_no_retry_follows() {
    let env = Env::new();
    spender(&env);
    env.write(
        "agents.yaml",
        "tasks:\n  - id: tok\n    agent: opencode\n    prompt: p\n    max_tokens: 250\n    retries: 2\n",
    );
    env.run(&["spawn"]).code_is(1);
    let rec = env.record("tok");
    assert_eq!(rec["state"], "failed");
    assert_eq!(rec["reason"], "budget");
    assert_eq!(rec["detail"], "budget: used 330 tokens of max_tokens 250");
    assert_eq!(rec["attempts"].as_array().unwrap().len(), 1, "no retry");
    assert!(!alive(pid(&env, "bg-tok")));
}

#[test]
fn git_config_budgets_apply_and_flags_beat_them() {
    let env = Env::new();
    spender(&env);
    env.git(&["config", "agents.maxTokens", "200"]);
    env.run(&["spawn", "--agent", "opencode", "-p", "a"])
        .code_is(1);
    assert_eq!(
        env.record("a")["detail"],
        "budget: used 220 tokens of max_tokens 200"
    );
    env.run(&[
        "spawn",
        "--agent",
        "opencode",
        "-p",
        "b",
        "--max-tokens",
        "1k",
        "--max-task-cost",
        "0.2",
    ])
    .code_is(1);
    assert_eq!(
        env.record("b")["detail"],
        "budget: spent $0.2500 of max_cost $0.2000"
    );
}

#[test]
fn a_spent_batch_budget_stops_the_running_agent_and_leaves_the_rest_pending() {
    let env = Env::new();
    // aider's report: $0.04 per task; task b lingers after it (its background process
    // named before the report, which may stop it at once).
    env.agent(
        "aider",
        &format!(
            "echo x > \"x-$GIT_AGENTS_TASK.txt\"\n\
             if [ \"$GIT_AGENTS_TASK\" = b ]; then sleep 300 & echo $! > '{}/bg-b'; fi\n\
             echo 'Tokens: 1k sent, 10 received. Cost: $0.04 message, $0.04 session.'\n\
             wait",
            env.root.display()
        ),
    );
    env.write(
        "agents.yaml",
        "agent: aider\ntasks:\n  - id: a\n    prompt: p\n  - id: b\n    prompt: p\n  - id: c\n    prompt: p\n",
    );
    let start = Instant::now();
    let run = env
        .run(&["spawn", "-j", "1", "--max-cost", "0.05"])
        .code_is(1);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{}",
        run.stderr()
    );
    let doc = env.run(&["list", "--json"]).ok().json();
    let t = tasks(&doc);
    assert_eq!(t["a"]["state"], "succeeded");
    assert_eq!(t["b"]["state"], "failed");
    assert_eq!(t["b"]["reason"], "budget");
    assert_eq!(
        t["b"]["detail"],
        "budget: the batch spent $0.0800 of --max-cost $0.0500"
    );
    assert_eq!(t["c"]["state"], "pending", "never started");
    assert!(!env.worktree("c").exists());
    assert!(!alive(pid(&env, "bg-b")));
    // The summary's total counts what was spent.
    assert!(
        run.stdout().contains("total: $0.0800 over 2 of 2 tasks"),
        "{}",
        run.stdout()
    );
    // The next spawn runs c.
    env.run(&["spawn", "c"]).ok();
}

#[test]
fn an_agent_that_reports_nothing_is_said_once_not_to_be_held() {
    let env = Env::new();
    env.agent("quiet", "echo done > done.txt");
    let run = env
        .run(&[
            "spawn",
            "--command",
            "quiet {prompt}",
            "--max-task-cost",
            "1",
            "-p",
            "one",
        ])
        .ok();
    let err = run.stderr();
    assert_eq!(err.matches("no budget holds for one").count(), 1, "{err}");
    // Codex reports tokens, not dollars.
    env.agent("codex", "echo '{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":5,\"cached_input_tokens\":0,\"output_tokens\":1}}'; echo x > x.txt");
    let run = env
        .run(&["spawn", "--agent", "codex", "--max-cost", "1", "-p", "two"])
        .ok();
    assert!(
        run.stderr().contains("no cost limit holds for two"),
        "{}",
        run.stderr()
    );
    assert_eq!(env.record("two")["attempts"][0]["usage"]["input_tokens"], 5);
}

#[test]
fn bad_budgets_and_formats_are_usage_errors_that_change_nothing() {
    let env = Env::new();
    env.agent("quiet", "echo done > done.txt");
    let before = env.branches();
    let check = |env: &Env, args: &[&str], want: &str| {
        let r = env.run(args).code_is(2);
        assert!(r.stderr().contains(want), "{args:?}: {}", r.stderr());
        assert!(r.stderr().lines().count() <= 3, "{}", r.stderr());
        assert_eq!(env.branches(), before);
        assert!(!env.repo.join(".worktrees").exists());
        let tasks = env.agents_dir().join("tasks");
        assert!(
            !tasks.exists() || std::fs::read_dir(&tasks).unwrap().next().is_none(),
            "{args:?} left a record"
        );
    };
    let spawn = |extra: &[&'static str]| {
        let mut a = vec!["spawn", "--command", "quiet {prompt}", "-p", "x"];
        a.extend_from_slice(extra);
        a
    };
    check(&env, &spawn(&["--max-task-cost=-1"]), "--max-task-cost");
    check(&env, &spawn(&["--max-cost", "lots"]), "--max-cost");
    check(&env, &spawn(&["--max-tokens", "1.5"]), "--max-tokens");
    check(&env, &spawn(&["--retry-in", "later"]), "--retry-in");
    for (yaml, want) in [
        ("max_cost: -1", "invalid max_cost -1"),
        ("max_cost: lots", "invalid max_cost \"lots\""),
        ("max_tokens: -5", "invalid max_tokens -5"),
        ("max_tokens: 2.5", "invalid max_tokens 2.5"),
        ("output: xml", "unknown output format \"xml\""),
        ("retry_in: later", "invalid retry_in \"later\""),
    ] {
        env.write(
            "agents.yaml",
            &format!(
                "tasks:\n  - id: t\n    command: quiet {{prompt}}\n    prompt: p\n    {yaml}\n"
            ),
        );
        check(&env, &["spawn"], want);
        let r = env.run(&["spawn"]);
        assert!(
            r.stderr().contains("agents.yaml:5:"),
            "{yaml}: {}",
            r.stderr()
        );
    }
    std::fs::remove_file(env.repo.join("agents.yaml")).unwrap();
    for (k, v) in [
        ("agents.maxCost", "-3"),
        ("agents.maxTokens", "many"),
        ("agents.output", "xml"),
        ("agents.retryIn", "later"),
    ] {
        env.git(&["config", k, v]);
        check(&env, &spawn(&[]), k);
        env.git(&["config", "--unset", k]);
    }
}
