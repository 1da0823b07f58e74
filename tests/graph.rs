//! Task graphs (`depends_on`): order, starting points, blocked dependants, conflicting
//! dependencies, pulled-in dependencies, merge order, resuming after kill -9, and the
//! manifest's graph errors.

mod common;

use common::{Env, tasks};

/// An agent that writes `<task>.txt` and lists what its worktree holds in `seen.txt`
/// (committed with its work); a task named `bad` fails.
fn worker(env: &Env) {
    env.agent(
        "worker",
        "ls > seen.txt\n\
         case \"$GIT_AGENTS_TASK\" in bad*) exit 3 ;; esac\n\
         echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"",
    );
}

fn started(env: &Env, id: &str) -> u64 {
    env.record(id)["started_at"].as_u64().unwrap()
}

fn finished(env: &Env, id: &str) -> u64 {
    env.record(id)["finished_at"].as_u64().unwrap()
}

const DIAMOND: &str = "command: [worker]\ntasks:\n\
  - {id: d, prompt: D, depends_on: [b, c]}\n\
  - {id: b, prompt: B, depends_on: [a]}\n\
  - {id: c, prompt: C, depends_on: [a]}\n\
  - {id: a, prompt: A}\n";

#[test]
fn a_diamond_runs_in_order_from_the_right_starting_points() {
    let env = Env::new();
    worker(&env);
    env.write("agents.yaml", DIAMOND);
    env.run(&["spawn", "-j", "4"]).ok();
    for id in ["a", "b", "c", "d"] {
        assert_eq!(env.record(id)["state"], "succeeded", "{id}");
    }
    for (before, after) in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")] {
        assert!(
            finished(&env, before) <= started(&env, after),
            "{before} must end before {after} starts"
        );
    }
    // b starts from a's work; d from b and c merged, holding a's commit once.
    let a_tip = env.git(&["rev-parse", "agent/a"]).trim().to_string();
    let b_rec = env.record("b");
    assert_eq!(b_rec["base_commit"], a_tip.as_str());
    assert_eq!(b_rec["depends_on"], serde_json::json!(["a"]));
    let d_base = env.record("d")["base_commit"].as_str().unwrap().to_string();
    let parents = env.git(&["rev-list", "--parents", "-n1", &d_base]);
    let b_tip = env.git(&["rev-parse", "agent/b"]).trim().to_string();
    let c_tip = env.git(&["rev-parse", "agent/c"]).trim().to_string();
    assert!(
        parents.contains(&b_tip) && parents.contains(&c_tip),
        "{parents}"
    );
    let a_commits = env.git(&["log", "--format=%H", "--grep=Agent-Task: a$", &d_base]);
    assert_eq!(a_commits.lines().count(), 1, "{a_commits}");
    let seen = env.git(&["show", "agent/d:seen.txt"]);
    for f in ["a.txt", "b.txt", "c.txt"] {
        assert!(seen.contains(f), "d saw {seen}");
    }
    // The event log shows d waiting for its dependencies.
    let events = env.agents_dir().join("events");
    let log = std::fs::read_dir(&events)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("\"task\":\"d\",\"kind\":\"phase\",\"phase\":\"waiting-for-dependencies\""),
        "{text}"
    );
    // list --json tells the graph.
    let doc = env.run(&["list", "--json"]).ok().json();
    let t = tasks(&doc);
    assert_eq!(t["d"]["depends_on"], serde_json::json!(["b", "c"]));
    assert_eq!(t["d"]["waiting_for"], serde_json::json!([]));
    // merge lands dependencies before dependants, whatever order they are named in.
    let out = env
        .run(&["merge", "d", "c", "b", "a", "--json"])
        .ok()
        .json();
    let order: Vec<String> = out["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let pos = |id: &str| order.iter().position(|o| o == id).unwrap();
    assert!(
        pos("a") < pos("b") && pos("a") < pos("c") && pos("b") < pos("d"),
        "{order:?}"
    );
    for id in ["a", "b", "c", "d"] {
        assert!(
            env.repo.join(format!("{id}.txt")).exists()
                || env.git(&["show", &format!("main:{id}.txt")]).contains(id)
        );
    }
}

#[test]
fn a_failed_dependency_blocks_its_dependants_and_nothing_else() {
    let env = Env::new();
    worker(&env);
    env.write(
        "agents.yaml",
        "command: [worker]\ntasks:\n\
  - {id: bad, prompt: B}\n\
  - {id: after, prompt: X, depends_on: [bad]}\n\
  - {id: later, prompt: Y, depends_on: [after]}\n\
  - {id: free, prompt: F}\n",
    );
    let run = env.run(&["spawn", "-j", "2"]).code_is(1);
    assert_eq!(env.record("free")["state"], "succeeded");
    assert_eq!(env.record("bad")["state"], "failed");
    let after = env.record("after");
    assert_eq!(after["state"], "failed");
    assert_eq!(after["blocked_by"], serde_json::json!(["bad"]));
    assert!(
        after["detail"]
            .as_str()
            .unwrap()
            .contains("blocked by bad (failed)")
    );
    assert!(after["attempts"].as_array().unwrap().is_empty());
    assert!(!env.worktree("after").exists());
    assert!(
        env.record("later")["detail"]
            .as_str()
            .unwrap()
            .contains("blocked by after")
    );
    assert!(run.stdout().contains("blocked by bad"), "{}", run.stdout());
    let list = env.run(&["list"]).ok().stdout();
    assert!(list.contains("blocked by bad"), "{list}");
}

#[test]
fn conflicting_dependencies_block_with_the_paths_named() {
    let env = Env::new();
    env.agent("writer", "echo \"$GIT_AGENTS_TASK\" > same.txt");
    env.write(
        "agents.yaml",
        "command: [writer]\ntasks:\n\
  - {id: x, prompt: X}\n\
  - {id: y, prompt: Y}\n\
  - {id: z, prompt: Z, depends_on: [x, y]}\n",
    );
    env.run(&["spawn"]).code_is(1);
    let z = env.record("z");
    assert_eq!(z["state"], "failed");
    let detail = z["detail"].as_str().unwrap();
    assert!(detail.contains("x, y conflict in same.txt"), "{detail}");
    assert_eq!(z["blocked_by"], serde_json::json!(["x", "y"]));
}

#[test]
fn spawning_a_dependant_pulls_in_its_unfinished_dependencies() {
    let env = Env::new();
    worker(&env);
    env.write("agents.yaml", DIAMOND);
    let run = env.run(&["spawn", "b"]).ok();
    assert!(
        run.stderr()
            .contains("also spawning a: unfinished dependencies"),
        "{}",
        run.stderr()
    );
    assert_eq!(env.record("a")["state"], "succeeded");
    assert_eq!(env.record("b")["state"], "succeeded");
    assert!(!env.agents_dir().join("tasks/c.json").exists());
    // Merging d's dependency c alone is fine; merging b lands a first.
    let out = env.run(&["merge", "b"]).ok();
    assert!(
        out.stderr().contains("landing its dependencies first: a"),
        "{}",
        out.stderr()
    );
    assert_eq!(env.record("a")["state"], "merged");
    assert_eq!(env.record("b")["state"], "merged");
}

#[test]
fn kill_9_mid_graph_then_spawn_resumes_the_unfinished_part() {
    let env = Env::new();
    let gate = env.root.join("gate");
    env.agent(
        "worker",
        &format!(
            "case \"$GIT_AGENTS_TASK\" in b) while [ ! -e '{}' ]; do sleep 0.05; done ;; esac\n\
             echo \"$GIT_AGENTS_TASK\" > \"$GIT_AGENTS_TASK.txt\"",
            gate.display()
        ),
    );
    env.write("agents.yaml", DIAMOND);
    let mut child = env.cmd(&["spawn", "-j", "1"]).spawn().unwrap();
    // Wait until b runs (a done, c and d not yet).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let p = env.agents_dir().join("tasks/b.json");
        if p.exists() && env.record("b")["child"]["pid"].is_u64() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "b never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While b runs, d waits for b and c, and says so.
    let list = env.run(&["list"]).ok().stdout();
    assert!(list.contains("pending (waiting for b, c)"), "{list}");
    let doc = env.run(&["list", "--json"]).ok().json();
    assert_eq!(
        tasks(&doc)["d"]["waiting_for"],
        serde_json::json!(["b", "c"])
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    std::fs::write(&gate, "").unwrap();
    // b's agent outlives the batch until it sees the gate: wait until it is gone.
    let pid = env.record("b")["child"]["pid"].as_u64().unwrap();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "b's agent never ended"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let a_started = started(&env, "a");
    let doc = env.run(&["list", "--json"]).ok().json();
    assert_eq!(tasks(&doc)["d"]["state"], "interrupted");
    let run = env.run(&["spawn"]).ok();
    assert!(
        !run.stderr().contains("nothing to spawn"),
        "{}",
        run.stderr()
    );
    for id in ["a", "b", "c", "d"] {
        assert_eq!(env.record(id)["state"], "succeeded", "{id}");
    }
    assert_eq!(started(&env, "a"), a_started, "a is not run again");
}

#[test]
fn graph_errors_in_the_manifest_are_refused_with_their_position() {
    let env = Env::new();
    worker(&env);
    for (text, want) in [
        (
            "command: [worker]\ntasks:\n  - {id: a, prompt: A, depends_on: [b]}\n  - {id: b, prompt: B, depends_on: [a]}\n",
            ("agents.yaml:4:37: ", "dependency cycle: a → b → a"),
        ),
        (
            "command: [worker]\ntasks:\n  - {id: a, prompt: A, depends_on: [nope]}\n",
            (
                "agents.yaml:3:37: ",
                "task a depends on \"nope\", which is not a task",
            ),
        ),
        (
            "command: [worker]\ntasks:\n  - {id: a, prompt: A, depends_on: [a]}\n",
            ("agents.yaml:3:37: ", "depends on itself"),
        ),
    ] {
        env.write("agents.yaml", text);
        let run = env.run(&["spawn"]).code_is(2);
        assert!(run.stderr().contains(want.0), "{}", run.stderr());
        assert!(run.stderr().contains(want.1), "{}", run.stderr());
        assert!(!env.agents_dir().join("tasks").exists());
        assert_eq!(env.branches(), vec!["main".to_string()]);
    }
}

#[test]
fn the_longest_chain_starts_first() {
    let env = Env::new();
    worker(&env);
    env.write(
        "agents.yaml",
        "command: [worker]\ntasks:\n\
  - {id: free, prompt: F}\n\
  - {id: root, prompt: R}\n\
  - {id: mid, prompt: M, depends_on: [root]}\n\
  - {id: leaf, prompt: L, depends_on: [mid]}\n",
    );
    env.run(&["spawn", "-j", "1"]).ok();
    assert!(started(&env, "root") < started(&env, "free"));
    assert!(finished(&env, "mid") <= started(&env, "leaf"));
}

#[test]
fn merging_a_dependant_whose_dependency_has_no_work_to_land_is_refused() {
    let env = Env::new();
    worker(&env);
    env.write(
        "agents.yaml",
        "command: [worker]\ntasks:\n  - {id: a, prompt: A}\n  - {id: b, prompt: B, depends_on: [a]}\n",
    );
    env.run(&["spawn"]).ok();
    env.run(&["prune", "--force", "--yes", "a"]).ok();
    let main = env.git(&["rev-parse", "main"]);
    let run = env.run(&["merge", "b"]).code_is(2);
    assert!(
        run.stderr()
            .contains("task b depends on a, which has no work to land"),
        "{}",
        run.stderr()
    );
    assert_eq!(env.git(&["rev-parse", "main"]), main);
    assert_eq!(env.record("b")["state"], "succeeded");
}
