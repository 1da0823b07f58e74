//! Issue 16: runner templates. No Docker daemon here: a fake `docker` on PATH records
//! its argv and runs the command after the image on this machine, and its `stop`
//! records its argv and kills that command.

mod common;

use common::Env;
use std::time::{Duration, Instant};

const FAKE_DOCKER: &str = r#"case "$1" in
run)
  name=; prev=
  for a in "$@"; do [ "$prev" = --name ] && name=$a; prev=$a; done
  # The pid first, then run.args whole: a test that sees run.args can stop us.
  echo $$ > "$HOME/$name.pid"
  printf '%s\n' "$@" > "$HOME/run.args.tmp" && mv "$HOME/run.args.tmp" "$HOME/run.args"
  while [ $# -gt 0 ] && [ "$1" != test-image ]; do shift; done
  shift
  exec "$@"
  ;;
stop)
  printf '%s\n' "$@" > "$HOME/stop.args"
  last=; for a in "$@"; do last=$a; done
  kill "$(cat "$HOME/$last.pid")"
  ;;
esac"#;

fn docker_env(manifest_extra: &str, agent: &str) -> Env {
    let env = Env::new();
    env.agent("docker", FAKE_DOCKER);
    env.agent("inside", agent);
    env.write(
        "agents.yaml",
        &format!(
            "runner: docker\nrunner_image: test-image\n{manifest_extra}tasks:\n  - id: t1\n    prompt: work\n    command: inside\n"
        ),
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    env
}

fn lines(env: &Env, file: &str) -> Vec<String> {
    std::fs::read_to_string(env.home.join(file))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_docker_preset_runs_the_documented_argv() {
    let env = docker_env("", "echo \"$GIT_AGENTS_TASK\" > inside.txt");
    let doc = env.run(&["spawn", "--trust", "--json"]).ok().json();
    assert_eq!(common::tasks(&doc)["t1"]["state"], "succeeded", "{doc}");
    assert_eq!(env.git(&["show", "agent/t1:inside.txt"]), "t1\n");
    let a = lines(&env, "run.args");
    let wt = env.worktree("t1").display().to_string();
    let common_dir = env.repo.join(".git").display().to_string();
    assert_eq!(a[..4], ["run", "--rm", "--init", "--name"]);
    assert!(
        a[4].starts_with("git-agents-t1-") && a[4].ends_with("-1"),
        "{a:?}"
    );
    let rest = &a[5..];
    let want_head = [
        "-v".to_string(),
        format!("{wt}:{wt}"),
        "-v".into(),
        format!("{common_dir}:{common_dir}"),
        "-w".into(),
        wt.clone(),
    ];
    assert_eq!(rest[..6], want_head, "{a:?}");
    // Every variable of the task's environment by name (docker takes the value from
    // its own environment), then the port, the image, the agent.
    let env_names: Vec<&str> = rest[6..]
        .chunks(2)
        .take_while(|c| c[0] == "-e")
        .map(|c| c[1].as_str())
        .collect();
    for v in [
        "GIT_AGENTS_TASK",
        "GIT_AGENTS_WORKTREE",
        "GIT_AGENTS_PORT",
        "GIT_AGENTS_BRANCH",
    ] {
        assert!(env_names.contains(&v), "{v} not passed: {a:?}");
    }
    let tail = &rest[6 + 2 * env_names.len()..];
    assert_eq!(tail.len(), 4, "{a:?}");
    assert_eq!(tail[0], "-p");
    let (host, inner) = tail[1].split_once(':').unwrap();
    assert!(host.parse::<u16>().is_ok() && host == inner, "{a:?}");
    assert_eq!(tail[2..], ["test-image", "inside"]);
    let rec = env.record("t1");
    assert_eq!(rec["isolation"]["runner"], "docker");
    assert_eq!(rec["isolation"]["runner_image"], "test-image");
    let show = env.run(&["show", "t1"]).ok().stdout();
    assert!(show.contains("runner docker (image test-image)"), "{show}");
}

#[test]
fn a_timeout_runs_the_runners_stop_command() {
    let env = docker_env("timeout: 1s\n", "exec sleep 30");
    let start = Instant::now();
    let doc = env.run(&["spawn", "--trust", "--json"]).json();
    assert_eq!(common::tasks(&doc)["t1"]["state"], "timed-out", "{doc}");
    assert!(start.elapsed() < Duration::from_secs(20));
    let run = lines(&env, "run.args");
    let stop = lines(&env, "stop.args");
    assert_eq!(stop[..2], ["stop", "--time"], "{stop:?}");
    assert_eq!(stop.last(), run.get(4), "stopped by the container's name");
}

#[test]
fn git_agents_stop_runs_the_runners_stop_command() {
    let env = docker_env("", "exec sleep 30");
    env.run(&["spawn", "--trust", "--detach"]).ok();
    let until = Instant::now() + Duration::from_secs(20);
    while !env.home.join("run.args").exists() || env.record("t1")["runner_stop"].is_null() {
        assert!(Instant::now() < until, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    env.run(&["stop", "t1"]).ok();
    let run = lines(&env, "run.args");
    let stop = lines(&env, "stop.args");
    assert_eq!(stop.first().map(String::as_str), Some("stop"), "{stop:?}");
    assert_eq!(stop.last(), run.get(4));
    assert_eq!(env.record("t1")["state"], "interrupted");
}

#[test]
fn a_template_gets_its_placeholders_and_its_stop_command() {
    let env = Env::new();
    env.agent(
        "wrap",
        "printf '%s\\n' \"$@\" > \"$HOME/run.args\"\nwhile [ \"$1\" != -- ]; do shift; done\nshift\nexec \"$@\"",
    );
    env.agent("inside", "echo done > done.txt");
    env.write(
        "agents.yaml",
        "runner: [wrap, \"{task}\", \"{branch}\", \"{common_dir}\", \"{worktree}\", -e, GIT_AGENTS_*, --]\n\
         runner_stop: [wrap-stop, \"{container}\"]\n\
         tasks:\n  - id: t1\n    prompt: work\n    command: inside\n",
    );
    env.git(&["add", "agents.yaml"]);
    env.git(&["commit", "-qm", "manifest"]);
    env.run(&["spawn", "--trust"]).ok();
    let a = lines(&env, "run.args");
    let wt = env.worktree("t1").display().to_string();
    let common_dir = env.repo.join(".git").display().to_string();
    assert_eq!(
        a[..4],
        ["t1".to_string(), "agent/t1".into(), common_dir, wt]
    );
    // `-e GIT_AGENTS_*` spreads over the GIT_AGENTS_ variables only.
    assert!(a.iter().any(|x| x == "GIT_AGENTS_TASK"));
    assert!(!a.iter().any(|x| x == "COMPOSE_PROJECT_NAME"));
    assert_eq!(a[a.len() - 2..], ["--", "inside"]);
    assert_eq!(env.git(&["show", "agent/t1:done.txt"]), "done\n");
}

/// Nothing of a task exists: no branch, no worktree, no record.
fn nothing_created(env: &Env) {
    assert_eq!(env.branches(), ["main"]);
    assert!(!env.repo.join(".worktrees").exists());
    assert!(
        !env.agents_dir().join("tasks").exists()
            || std::fs::read_dir(env.agents_dir().join("tasks"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[test]
fn bad_runners_are_usage_errors_and_create_nothing() {
    let env = Env::new();
    env.agent("docker", FAKE_DOCKER);
    env.agent("inside", "true");
    for (manifest, says) in [
        ("runner: docker\n", "runner_image"),
        ("runner: []\n", "must not be empty"),
        (
            "runner: [docker, run, \"{imagine}\"]\n",
            "unknown placeholder {imagine}",
        ),
        ("runner: kubernetes-ish\n", "unknown runner"),
        ("runner: [nosuchrunner, run]\n", "not found on PATH"),
        (
            "runner: docker\nrunner_image: x\nrunner_stop: [docker, stop, \"{nope}\"]\n",
            "unknown placeholder {nope}",
        ),
        (
            "runner: docker\nrunner_image: x\nsandbox: bwrap\n",
            "cannot be combined",
        ),
    ] {
        env.write(
            "agents.yaml",
            &format!("{manifest}tasks:\n  - id: t1\n    prompt: work\n    command: inside\n"),
        );
        let out = env.run(&["spawn", "--trust"]).code_is(2);
        assert!(out.stderr().contains(says), "{manifest}: {}", out.stderr());
        assert!(out.stderr().lines().count() <= 3, "{}", out.stderr());
        nothing_created(&env);
    }
    // In git config too.
    env.write(
        "agents.yaml",
        "tasks:\n  - id: t1\n    prompt: work\n    command: inside\n",
    );
    env.git(&["config", "agents.runner", "docker {nope}"]);
    let out = env.run(&["spawn", "--trust"]).code_is(2);
    assert!(out.stderr().contains("agents.runner"), "{}", out.stderr());
    nothing_created(&env);
}
