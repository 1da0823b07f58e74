//! Best-of-N: candidates run at once in worktrees of their own, the winner is chosen by
//! check, diff size and time, `pick` overrides it, merge lands the winner only, prune
//! removes the losers (their tips logged), and bad input is refused.

mod common;

use common::{Env, tasks};

/// Candidates that wait for each other (so they must run at once), then: c1 leaves a
/// file the check refuses, c2 writes a large change, c3 a small one. `dep` records what
/// it started from.
fn three_ways(env: &Env) {
    let meet = env.root.join("meet");
    std::fs::create_dir_all(&meet).unwrap();
    env.agent(
        "worker",
        &format!(
            "case \"$GIT_AGENTS_TASK\" in\n\
             fix.c*) touch '{m}'/\"$GIT_AGENTS_TASK\"\n\
               n=0; while [ \"$(ls '{m}' | wc -l)\" -lt 3 ]; do n=$((n+1)); [ $n -gt 400 ] && exit 9; sleep 0.025; done\n\
               echo \"$GIT_AGENTS_PORT\" > port.txt ;;\n\
             esac\n\
             case \"$GIT_AGENTS_TASK\" in\n\
             fix.c1) echo broken > bad.txt ;;\n\
             fix.c2) seq 1 200 > big.txt ;;\n\
             fix.c3) echo small > small.txt ;;\n\
             use) ls > seen.txt ;;\n\
             esac",
            m = meet.display()
        ),
    );
    env.write(
        "agents.yaml",
        "command: [worker]\ncheck: \"test ! -e bad.txt\"\ntasks:\n\
  - {id: fix, prompt: Fix it, candidates: 3}\n\
  - {id: use, prompt: Use it, depends_on: [fix]}\n",
    );
}

#[test]
fn best_of_three_picks_the_passing_candidate_with_the_smallest_diff() {
    let env = Env::new();
    three_ways(&env);
    let spawn = env.run(&["spawn", "-j", "3"]).code_is(1); // c1's check fails
    // The plain lines (the live view off a terminal) name the winner and why.
    assert!(
        spawn
            .stderr()
            .contains("fix: winner fix.c3 (check passed; smallest diff"),
        "{}",
        spawn.stderr()
    );
    let c1 = env.record("fix.c1");
    assert_eq!(c1["state"], "failed");
    assert_eq!(c1["check"], "failed");
    assert_eq!(env.record("fix.c2")["state"], "succeeded");
    let c3 = env.record("fix.c3");
    assert_eq!(c3["state"], "succeeded");
    assert_eq!(c3["candidate_of"], "fix");
    assert_eq!(c3["winner"], "fix.c3");
    let reason = c3["winner_reason"].as_str().unwrap();
    assert!(reason.contains("check passed"), "{reason}");
    assert!(reason.contains("smallest diff"), "{reason}");
    assert!(reason.contains("fix.c1 check failed"), "{reason}");
    // Own worktrees, branches and ports.
    let ports: std::collections::BTreeSet<String> = ["fix.c1", "fix.c2", "fix.c3"]
        .iter()
        .map(|c| env.git(&["show", &format!("agent/{c}:port.txt")]))
        .collect();
    assert_eq!(ports.len(), 3);
    for b in ["agent/fix.c1", "agent/fix.c2", "agent/fix.c3"] {
        assert!(env.branches().contains(&b.to_string()), "{b}");
    }
    // The event log names the winner; the dependant starts from the winner's work.
    let events = env.agents_dir().join("events");
    let log = std::fs::read_dir(&events)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("\"task\":\"fix\",\"kind\":\"winner-chosen\",\"winner\":\"fix.c3\""),
        "{text}"
    );
    let seen = env.git(&["show", "agent/use:seen.txt"]);
    assert!(
        seen.contains("small.txt") && !seen.contains("big.txt"),
        "{seen}"
    );

    // list folds the candidates into one row; --candidates shows each.
    let list = env.run(&["list"]).ok().stdout();
    assert!(list.contains("winner fix.c3"), "{list}");
    assert!(!list.contains("fix.c1"), "{list}");
    let all = env.run(&["list", "--candidates"]).ok().stdout();
    assert!(all.contains("fix.c1") && all.contains("fix.c2"), "{all}");
    let doc = env.run(&["list", "--json"]).ok().json();
    let t = tasks(&doc);
    assert_eq!(t["fix"]["winner"], "fix.c3");
    assert_eq!(
        t["fix"]["candidates"],
        serde_json::json!(["fix.c1", "fix.c2", "fix.c3"])
    );
    assert_eq!(t["use"]["depends_on"], serde_json::json!(["fix"]));

    // show compares them side by side.
    let show = env.run(&["show", "fix"]).ok().stdout();
    assert!(
        show.contains("CANDIDATE") && show.contains("fix.c3*"),
        "{show}"
    );
    assert!(show.contains("2 files +201 -0"), "{show}");
    assert!(show.contains("winner: fix.c3 (check passed"), "{show}");

    // A command that needs one worktree asks for a candidate.
    let path = env.run(&["path", "fix"]).code_is(2);
    assert!(
        path.stderr()
            .contains("name one of them (the winner is fix.c3)"),
        "{}",
        path.stderr()
    );

    // pick overrides; merge lands the winner only; prune removes the losers.
    let bad = env.run(&["pick", "fix", "fix.c9"]).code_is(2);
    assert!(
        bad.stderr().contains("not a candidate of task fix"),
        "{}",
        bad.stderr()
    );
    env.run(&["pick", "fix", "2"]).ok();
    assert_eq!(env.record("fix.c1")["winner"], "fix.c2");
    assert!(
        env.record("fix.c2")["winner_reason"]
            .as_str()
            .unwrap()
            .contains("picked by hand")
    );
    let refused = env.run(&["merge", "fix.c3"]).code_is(2);
    assert!(
        refused.stderr().contains("lost to fix.c2"),
        "{}",
        refused.stderr()
    );
    env.run(&["merge", "fix"]).ok();
    assert_eq!(env.record("fix.c2")["state"], "merged");
    let files = env.git(&["ls-tree", "--name-only", "main"]);
    assert!(
        files.contains("big.txt") && !files.contains("small.txt"),
        "{files}"
    );
    let c1_tip = env.git(&["rev-parse", "agent/fix.c1"]).trim().to_string();
    let c3_tip = env.git(&["rev-parse", "agent/fix.c3"]).trim().to_string();
    env.run(&["prune"]).ok();
    let branches = env.branches();
    assert!(
        !branches
            .iter()
            .any(|b| b == "agent/fix.c1" || b == "agent/fix.c3"),
        "{branches:?}"
    );
    let pruned = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    assert!(pruned.contains(&c1_tip), "{pruned}");
    // c3's work lives on in `use`, which started from it; a tip no ref reaches is logged.
    assert!(
        pruned.contains(&c3_tip)
            || env.git_ok(&["merge-base", "--is-ancestor", &c3_tip, "agent/use"])
    );
}

#[test]
fn agents_list_runs_one_candidate_per_agent() {
    let env = Env::new();
    for name in ["claude", "codex"] {
        env.agent(name, &format!("echo {name} > \"$GIT_AGENTS_TASK.txt\""));
    }
    env.run(&[
        "spawn",
        "-p",
        "Say hello",
        "--agents",
        "claude,codex",
        "hello",
    ])
    .ok();
    assert_eq!(env.record("hello.c1")["command"][0], "claude");
    assert_eq!(env.record("hello.c2")["command"][0], "codex");
    let w = env.record("hello.c1")["winner"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(w == "hello.c1" || w == "hello.c2", "{w}");
    // -p with best-of and an id that exists is refused, nothing changed.
    let before = env.branches();
    let again = env
        .run(&["spawn", "-p", "Again", "--best-of", "2", "hello"])
        .code_is(2);
    assert!(
        again.stderr().contains("task hello exists already"),
        "{}",
        again.stderr()
    );
    assert_eq!(env.branches(), before);
}

#[test]
fn bad_best_of_input_is_refused_with_the_reason() {
    let env = Env::new();
    env.agent("worker", "echo x > x.txt");
    for (manifest, want) in [
        ("candidates: 0", "agents.yaml:5:17: "),
        ("candidates: 1000", "give 1 to 16"),
        ("agents: []", "the list is empty"),
        (
            "candidates: 2\n    agents: [claude]",
            "both `candidates` and `agents`",
        ),
    ] {
        env.write(
            "agents.yaml",
            &format!("command: [worker]\ntasks:\n  - id: t\n    prompt: T\n    {manifest}\n"),
        );
        let run = env.run(&["spawn"]).code_is(2);
        assert!(run.stderr().contains(want), "{manifest}: {}", run.stderr());
        assert!(!env.agents_dir().join("tasks").exists());
    }
    std::fs::remove_file(env.repo.join("agents.yaml")).unwrap();
    for n in ["0", "1000", "x"] {
        let run = env
            .run(&["spawn", "-p", "T", "--command", "worker", "--best-of", n])
            .code_is(2);
        assert!(run.stderr().contains("--best-of"), "{}", run.stderr());
    }
    assert_eq!(env.branches(), vec!["main".to_string()]);
}
