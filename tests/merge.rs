//! `git agents merge` on real repositories: tasks spawned by a fake agent, then merged.

mod common;

use common::{Env, tasks};
use std::path::Path;

/// A fake agent driven by spec files: `specs/ID` holds a file name on its first line and
/// that file's content after it. In a worktree with a merge in progress (`merge
/// --on-conflict agent`), it resolves every conflicted file to `resolved by ID`.
fn scripted_agent(env: &Env) {
    let specs = env.root.join("specs");
    std::fs::create_dir_all(&specs).unwrap();
    env.agent(
        "fake-agent",
        &format!(
            r#"spec="{}/$GIT_AGENTS_TASK"
if git rev-parse -q --verify MERGE_HEAD >/dev/null; then
  case "$1" in *"stopped with conflicts"*) ;; *) echo "unexpected prompt: $1"; exit 9;; esac
  [ -n "$GIT_AGENTS_PORT" ] || {{ echo "no GIT_AGENTS_PORT"; exit 8; }}
  git diff --name-only --diff-filter=U | while read -r f; do
    echo "resolved by $GIT_AGENTS_TASK" > "$f"
  done
  exit 0
fi
f=$(sed -n 1p "$spec")
mkdir -p "$(dirname "$f")"
sed -n '2,$p' "$spec" > "$f""#,
            specs.display()
        ),
    );
}

/// Spawn tasks `(id, file, content)` in this order; every one must succeed.
fn spawn(env: &Env, specs: &[(&str, &str, &str)]) {
    scripted_agent(env);
    let mut manifest = String::from("command: [fake-agent, \"{prompt}\"]\ntasks:\n");
    for (id, file, content) in specs {
        std::fs::write(
            env.root.join("specs").join(id),
            format!("{file}\n{content}\n"),
        )
        .unwrap();
        manifest.push_str(&format!("  - id: {id}\n    prompt: Do {id}\n"));
    }
    env.write("agents.yaml", &manifest);
    // agents.yaml stays untracked in the main checkout, as a user's would often be.
    // One at a time: concurrent `git worktree add` in one repository can race (git reads a
    // sibling's half-written metadata), which is spawn's to fix, not these tests' subject.
    let run = env.run(&["spawn", "-j", "1", "--json"]).ok();
    for (id, t) in tasks(&run.json()) {
        assert_eq!(t["state"], "succeeded", "{id}: {t}");
    }
}

const THREE: &[(&str, &str, &str)] = &[
    ("alpha", "a.txt", "alpha"),
    ("beta", "b/b.txt", "beta"),
    ("gamma", "g.txt", "gamma"),
];

fn rev(env: &Env, r: &str) -> String {
    env.git(&["rev-parse", r]).trim().to_string()
}

/// The user's checkout has no merge in progress and no tracked changes.
fn assert_checkout_clean(env: &Env) {
    assert!(!env.repo.join(".git/MERGE_HEAD").exists());
    assert_eq!(
        env.git(&["status", "--porcelain", "--untracked-files=no"]),
        ""
    );
}

fn state(env: &Env, id: &str) -> String {
    env.record(id)["state"].as_str().unwrap().to_string()
}

#[test]
fn three_clean_merges_with_merge_commits() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    let run = env.run(&["merge", "--json"]).ok();
    let t = tasks(&run.json());
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(t[id]["result"], "merged", "{}", t[id]);
        assert_eq!(t[id]["state"], "merged");
        assert_eq!(t[id]["merged_into"], "main");
        assert_eq!(state(&env, id), "merged");
    }
    // One no-ff merge commit per task, in manifest order, each naming its task.
    let log = env.git(&[
        "log",
        "--first-parent",
        "--format=%s",
        &format!("{before}..main"),
    ]);
    assert_eq!(
        log,
        "Merge agent/gamma: Do gamma\nMerge agent/beta: Do beta\nMerge agent/alpha: Do alpha\n"
    );
    let msg = env.git(&["log", "-1", "--format=%B", "main~1"]);
    assert_eq!(msg, "Merge agent/beta: Do beta\n\nAgent-Task: beta\n\n");
    for id in ["alpha", "beta", "gamma"] {
        let parents = env.git(&[
            "rev-list",
            "--parents",
            "-n1",
            t[id]["commit"].as_str().unwrap(),
        ]);
        assert_eq!(
            parents.split_whitespace().count(),
            3,
            "{id} is a merge commit"
        );
        assert!(env.git_ok(&[
            "merge-base",
            "--is-ancestor",
            &format!("agent/{id}"),
            "main"
        ]));
    }
    assert_eq!(t["gamma"]["commit"].as_str().unwrap(), rev(&env, "main"));
    // Files and ref moved together in the user's checkout.
    assert_eq!(
        std::fs::read_to_string(env.repo.join("b/b.txt")).unwrap(),
        "beta\n"
    );
    assert_checkout_clean(&env);
    // Nothing is left to merge.
    let again = env.run(&["merge"]).ok();
    assert!(
        again.stderr().contains("nothing to merge"),
        "{}",
        again.stderr()
    );
}

#[test]
fn three_clean_squashes() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    env.run(&["merge", "--strategy", "squash"]).ok();
    let log = env.git(&["log", "--format=%s%n%b%P", &format!("{before}..main")]);
    let commits: Vec<&str> = log.split("\n\n").collect();
    assert_eq!(
        env.git(&["rev-list", "--count", &format!("{before}..main")])
            .trim(),
        "3"
    );
    // Linear, one commit per task: subject from the prompt, the trailer last.
    assert_eq!(
        env.git(&["rev-list", "--merges", &format!("{before}..main")]),
        ""
    );
    let msg = env.git(&["log", "-1", "--format=%B", "main"]);
    assert_eq!(msg, "Do gamma\n\nAgent-Task: gamma\n\n", "{commits:?}");
    let files = env.git(&["show", "--name-only", "--format=", "main~1"]);
    assert_eq!(files.trim(), "b/b.txt");
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(state(&env, id), "merged");
    }
    assert!(env.repo.join("g.txt").is_file());
    assert_checkout_clean(&env);
}

#[test]
fn three_clean_rebases_keep_authors_and_messages() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    env.git(&["config", "agents.mergeStrategy", "rebase"]);
    let run = env.run(&["merge", "--json"]).ok();
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["strategy"], "rebase");
    assert_eq!(
        env.git(&["log", "--format=%s", &format!("{before}..main")]),
        "Do gamma\nDo beta\nDo alpha\n"
    );
    assert_eq!(
        env.git(&["rev-list", "--merges", &format!("{before}..main")]),
        ""
    );
    // The first task started at main: it is taken as it is (a fast-forward).
    assert_eq!(
        env.git(&["rev-parse", "main~2"]),
        env.git(&["rev-parse", "agent/alpha"])
    );
    let msg = env.git(&["log", "-1", "--format=%an|%B", "main"]);
    assert_eq!(msg, "Test User|Do gamma\n\nAgent-Task: gamma\n\n");
    assert!(env.repo.join("b/b.txt").is_file());
    assert_checkout_clean(&env);
}

/// alpha and beta both create shared.txt with different content; gamma is unrelated.
const CLASH: &[(&str, &str, &str)] = &[
    ("alpha", "shared.txt", "from alpha"),
    ("beta", "shared.txt", "from beta"),
    ("gamma", "g.txt", "gamma"),
];

#[test]
fn conflict_stops_the_queue_before_that_task_and_leaves_the_checkout_clean() {
    let env = Env::new();
    spawn(&env, CLASH);
    let before = rev(&env, "main");
    let run = env.run(&["merge", "--json"]).code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["result"], "merged");
    assert_eq!(t["beta"]["result"], "conflicted");
    assert_eq!(t["beta"]["conflicts"], serde_json::json!(["shared.txt"]));
    assert_eq!(t["gamma"]["result"], "not-reached");
    assert!(
        run.stderr().contains("beta: conflicted"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("shared.txt"), "{}", run.stderr());
    // main holds exactly the tasks before the conflict.
    assert_eq!(rev(&env, "main^1"), before);
    assert_eq!(rev(&env, "main^2"), rev(&env, "agent/alpha"));
    assert_eq!(state(&env, "alpha"), "merged");
    assert_eq!(state(&env, "beta"), "conflicted");
    assert_eq!(
        env.record("beta")["conflicts"],
        serde_json::json!(["shared.txt"])
    );
    assert_eq!(state(&env, "gamma"), "succeeded");
    // No markers anywhere in the user's checkout.
    assert_eq!(
        std::fs::read_to_string(env.repo.join("shared.txt")).unwrap(),
        "from alpha\n"
    );
    assert_checkout_clean(&env);
    // The conflicting branch is untouched.
    assert_eq!(env.git(&["show", "agent/beta:shared.txt"]), "from beta\n");
}

#[test]
fn conflict_with_skip_goes_on_with_the_next_task() {
    let env = Env::new();
    spawn(&env, CLASH);
    let run = env
        .run(&["merge", "--on-conflict", "skip", "--json"])
        .code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["result"], "merged");
    assert_eq!(t["beta"]["result"], "conflicted");
    assert_eq!(t["gamma"]["result"], "merged");
    assert_eq!(rev(&env, "main"), t["gamma"]["commit"].as_str().unwrap());
    assert!(env.repo.join("g.txt").is_file());
    assert_checkout_clean(&env);
    // A later merge of the conflicted task names it (default selection skips it).
    let again = env.run(&["merge"]).ok();
    assert!(again.stderr().contains("nothing to merge"));
    env.run(&["merge", "beta"]).code_is(1);
}

#[test]
fn conflict_resolved_by_the_agent_then_merged() {
    let env = Env::new();
    spawn(&env, CLASH);
    let run = env.run(&["merge", "--on-conflict", "agent", "--json"]).ok();
    let t = tasks(&run.json());
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(t[id]["result"], "merged", "{id}: {}", t[id]);
    }
    assert_eq!(
        std::fs::read_to_string(env.repo.join("shared.txt")).unwrap(),
        "resolved by beta\n"
    );
    // The resolution is a merge of main into the task branch, committed in its worktree.
    let wt = env.worktree("beta");
    assert_eq!(env.git_in(&wt, &["status", "--porcelain"]), "");
    let parents = env.git(&["rev-list", "--parents", "-n1", "agent/beta"]);
    assert_eq!(parents.split_whitespace().count(), 3);
    assert!(env.git_ok(&["merge-base", "--is-ancestor", "agent/alpha", "agent/beta"]));
    let log = std::fs::read_to_string(env.agents_dir().join("logs/beta.log")).unwrap();
    assert!(log.contains("resolving conflicts"), "{log}");
    let prompt =
        std::fs::read_to_string(env.agents_dir().join("prompts/conflict/beta.md")).unwrap();
    assert!(
        prompt.contains("- shared.txt") && prompt.contains("Do beta"),
        "{prompt}"
    );
    assert_checkout_clean(&env);
}

#[test]
fn agent_that_leaves_markers_is_undone_and_the_task_stays_conflicted() {
    let env = Env::new();
    spawn(&env, CLASH);
    // From now on the agent does nothing: the markers stay.
    env.agent("fake-agent", "exit 0");
    let tip = rev(&env, "agent/beta");
    let run = env
        .run(&["merge", "--on-conflict", "agent", "--json"])
        .code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["beta"]["result"], "conflicted");
    assert!(
        t["beta"]["detail"]
            .as_str()
            .unwrap()
            .contains("conflict markers"),
        "{}",
        t["beta"]
    );
    assert_eq!(t["gamma"]["result"], "merged");
    // The task's worktree is back where it was: no merge in progress, same tip.
    let wt = env.worktree("beta");
    assert_eq!(rev(&env, "agent/beta"), tip);
    assert_eq!(env.git_in(&wt, &["status", "--porcelain"]), "");
    assert_eq!(state(&env, "beta"), "conflicted");
    assert_checkout_clean(&env);
}

#[test]
fn conflict_with_retry_reruns_the_task_from_the_new_base() {
    let env = Env::new();
    spawn(&env, CLASH);
    let old_tip = rev(&env, "agent/beta");
    let run = env.run(&["merge", "--on-conflict", "retry", "--json"]).ok();
    let t = tasks(&run.json());
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(t[id]["result"], "merged", "{id}: {}", t[id]);
    }
    assert_eq!(t["beta"]["attempts"], 2);
    // The re-run started from main with alpha in it, so beta's version lands.
    assert_eq!(
        std::fs::read_to_string(env.repo.join("shared.txt")).unwrap(),
        "from beta\n"
    );
    assert!(env.git_ok(&["merge-base", "--is-ancestor", "agent/alpha", "agent/beta"]));
    // The replaced branch tip is logged, so it can be recovered.
    let pruned = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    assert!(pruned.contains(&old_tip), "{pruned}");
    assert_checkout_clean(&env);
}

#[test]
fn a_failing_check_keeps_that_task_out() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    let seen = env.root.join("seen");
    // Fails on the candidate holding beta's file; records where it ran.
    let check = format!("pwd >> {}; test ! -e b/b.txt", seen.display());
    // One check at a time (the default, agents.jobs, checks ahead in parallel).
    let run = env
        .run(&["merge", "--jobs", "1", "--check", &check, "--json"])
        .code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["result"], "merged");
    assert_eq!(t["alpha"]["merge_check"], "passed");
    assert_eq!(t["beta"]["result"], "check-failed");
    assert_eq!(t["beta"]["merge_check"], "failed");
    assert_eq!(t["gamma"]["result"], "merged");
    assert_eq!(state(&env, "beta"), "succeeded");
    assert!(!env.repo.join("b/b.txt").exists());
    assert!(env.repo.join("g.txt").exists());
    assert_eq!(
        env.git(&[
            "rev-list",
            "--count",
            "--first-parent",
            &format!("{before}..main")
        ])
        .trim(),
        "2"
    );
    // Each check ran in its own scratch worktree, removed afterwards.
    let dirs = std::fs::read_to_string(&seen).unwrap();
    assert_eq!(dirs.lines().count(), 3);
    for d in dirs.lines() {
        assert!(d.contains("/.git/agents/scratch/"), "{d}");
        assert!(!Path::new(d).exists(), "{d} left behind");
    }
    assert!(!env.git(&["worktree", "list"]).contains("scratch"));
    assert_checkout_clean(&env);
}

#[test]
fn passing_checks_from_config_let_every_task_land() {
    let env = Env::new();
    spawn(&env, THREE);
    env.git(&["config", "agents.check", "test -f a.txt"]);
    let run = env.run(&["merge", "--json"]).ok();
    let t = tasks(&run.json());
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(t[id]["result"], "merged");
        assert_eq!(t[id]["merge_check"], "passed");
    }
    // --no-check wins over the config.
    let env2 = Env::new();
    spawn(&env2, THREE);
    env2.git(&["config", "agents.check", "false"]);
    let t = tasks(&env2.run(&["merge", "--no-check", "--json"]).ok().json());
    assert_eq!(t["beta"]["merge_check"], serde_json::Value::Null);
}

#[test]
fn a_dirty_base_checkout_is_refused_with_nothing_changed() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    env.write("README.md", "my own edit\n");
    let run = env.run(&["merge"]).code_is(1);
    let err = run.stderr();
    assert!(err.contains("uncommitted changes (README.md)"), "{err}");
    assert!(err.contains("hint:"), "{err}");
    assert_eq!(rev(&env, "main"), before);
    assert_eq!(
        std::fs::read_to_string(env.repo.join("README.md")).unwrap(),
        "my own edit\n"
    );
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(state(&env, id), "succeeded");
    }
}

#[test]
fn untracked_files_block_only_the_task_that_would_overwrite_them() {
    let env = Env::new();
    spawn(&env, THREE);
    env.write("g.txt", "mine, untracked\n");
    env.write("notes.txt", "unrelated, untracked\n");
    let run = env
        .run(&["merge", "--on-conflict", "skip", "--json"])
        .code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["result"], "merged");
    assert_eq!(t["beta"]["result"], "merged");
    assert_eq!(t["gamma"]["result"], "blocked");
    assert!(t["gamma"]["detail"].as_str().unwrap().contains("g.txt"));
    assert_eq!(
        std::fs::read_to_string(env.repo.join("g.txt")).unwrap(),
        "mine, untracked\n"
    );
    assert!(env.repo.join("b/b.txt").exists());
    assert_checkout_clean(&env);
}

#[test]
fn base_checked_out_nowhere_moves_by_ref_only() {
    let env = Env::new();
    spawn(&env, THREE);
    env.git(&["switch", "-q", "-c", "side"]);
    let run = env.run(&["merge", "--json"]).ok();
    let t = tasks(&run.json());
    assert_eq!(rev(&env, "main"), t["gamma"]["commit"].as_str().unwrap());
    // The checkout (on side) is untouched.
    assert!(!env.repo.join("a.txt").exists());
    assert_eq!(env.git(&["symbolic-ref", "--short", "HEAD"]).trim(), "side");
    // One reflog entry per task.
    let reflog = env.git(&["reflog", "-3", "--format=%gs", "main"]);
    assert_eq!(
        reflog,
        "git agents merge: gamma\ngit agents merge: beta\ngit agents merge: alpha\n"
    );
}

#[test]
fn into_merges_into_another_branch() {
    let env = Env::new();
    spawn(&env, THREE);
    env.git(&["branch", "integration"]);
    let before = rev(&env, "main");
    env.run(&["merge", "alpha", "--into", "integration"]).ok();
    assert_eq!(rev(&env, "main"), before);
    assert_eq!(rev(&env, "integration^2"), rev(&env, "agent/alpha"));
    assert_eq!(env.record("alpha")["merged_into"], "integration");
}

#[test]
fn a_commit_on_base_during_the_queue_is_detected_by_compare_and_swap() {
    for checked_out in [true, false] {
        let env = Env::new();
        spawn(&env, THREE);
        if !checked_out {
            env.git(&["switch", "-q", "-c", "side"]);
        }
        // The check of the first task sneaks a commit onto main, once.
        let flag = env.root.join("sneaked");
        let check = format!(
            "test -e {f} || {{ touch {f}; cd {r} && git update-ref refs/heads/main $(git commit-tree -p main -m sneaky 'main^{{tree}}'); }}",
            f = flag.display(),
            r = env.repo.display()
        );
        let run = env.run(&["merge", "--check", &check, "--json"]).code_is(1);
        let t = tasks(&run.json());
        assert_eq!(t["alpha"]["result"], "error", "{}", t["alpha"]);
        assert!(
            t["alpha"]["detail"]
                .as_str()
                .unwrap()
                .contains("main moved"),
            "{}",
            t["alpha"]
        );
        assert_eq!(t["gamma"]["result"], "not-reached");
        // The sneaked commit is kept, nothing landed on top of it.
        assert_eq!(
            env.git(&["log", "-1", "--format=%s", "main"]).trim(),
            "sneaky"
        );
        for id in ["alpha", "beta", "gamma"] {
            assert_eq!(state(&env, id), "succeeded");
        }
        assert_checkout_clean(&env);
        // Running again merges everything onto the new tip.
        env.run(&["merge"]).ok();
        assert_eq!(
            env.git(&["log", "-1", "--format=%s", "main~3"]).trim(),
            "sneaky"
        );
    }
}

#[test]
fn dry_run_reports_and_changes_nothing() {
    let env = Env::new();
    spawn(&env, CLASH);
    let before = rev(&env, "main");
    let records = std::fs::read(env.agents_dir().join("tasks/alpha.json")).unwrap();
    let objects = env.git(&["count-objects"]);
    let run = env.run(&["merge", "--dry-run", "--json"]).code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["result"], "would-merge");
    assert_eq!(t["beta"]["result"], "would-conflict");
    assert_eq!(t["beta"]["conflicts"], serde_json::json!(["shared.txt"]));
    assert_eq!(t["gamma"]["result"], "would-merge");
    assert_eq!(rev(&env, "main"), before);
    assert_eq!(
        std::fs::read(env.agents_dir().join("tasks/alpha.json")).unwrap(),
        records
    );
    assert_eq!(env.git(&["count-objects"]), objects);
    assert_eq!(state(&env, "beta"), "succeeded");
}

#[test]
fn prune_removes_worktrees_and_branches_of_merged_tasks() {
    let env = Env::new();
    spawn(&env, THREE);
    env.run(&["merge", "--strategy", "squash", "--prune"]).ok();
    assert_eq!(env.branches(), vec!["main"]);
    for id in ["alpha", "beta", "gamma"] {
        assert!(!env.worktree(id).exists());
        assert_eq!(env.record(id)["pruned"], true);
        assert_eq!(state(&env, id), "merged");
    }
    // Squashed branches are not in main: their tips are logged. (alpha's squash is its
    // very commit: same tree, parent, message and the tests' fixed dates.)
    let log = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");
    assert!(log.contains(" beta agent/beta ") && log.contains(" gamma agent/gamma "));
}

#[test]
fn pull_requests_with_gh_against_a_bare_remote() {
    let env = Env::new();
    spawn(&env, &THREE[..2]);
    let remote = env.root.join("remote.git");
    env.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    env.git(&["push", "-q", "origin", "main"]);
    let calls = env.root.join("gh-calls");
    env.agent(
        "gh",
        &format!(
            r#"echo call >> {c}.count
printf '%s\n' "$*" >> {c}
echo "Creating pull request..." >&2
echo "https://github.example/o/r/pull/$(wc -l < {c}.count)""#,
            c = calls.display()
        ),
    );
    let before = rev(&env, "main");
    let run = env.run(&["merge", "--pr", "--json"]).ok();
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["result"], "pr-opened");
    assert_eq!(t["alpha"]["pr_url"], "https://github.example/o/r/pull/1");
    assert_eq!(t["beta"]["pr_url"], "https://github.example/o/r/pull/2");
    assert_eq!(
        env.record("beta")["pr_url"],
        "https://github.example/o/r/pull/2"
    );
    // Pushed, nothing merged locally.
    let pushed = env.git(&[
        "--git-dir",
        remote.to_str().unwrap(),
        "rev-parse",
        "agent/alpha",
    ]);
    assert_eq!(pushed.trim(), rev(&env, "agent/alpha"));
    assert_eq!(rev(&env, "main"), before);
    assert_eq!(state(&env, "alpha"), "succeeded");
    let calls_text = std::fs::read_to_string(&calls).unwrap();
    assert!(
        calls_text
            .contains("pr create --head agent/alpha --base main --title Do alpha --body Do alpha"),
        "{calls_text}"
    );
    assert!(calls_text.contains("Agent-Task: alpha"), "{calls_text}");
    // Again: branches are pushed, the existing PRs are kept.
    let t = tasks(&env.run(&["merge", "--pr", "alpha", "--json"]).ok().json());
    assert_eq!(t["alpha"]["result"], "pushed");
    assert_eq!(
        std::fs::read_to_string(&calls)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("pr "))
            .count(),
        2
    );
}

#[test]
fn gh_missing_or_failing_is_an_error_per_task() {
    let env = Env::new();
    spawn(&env, &THREE[..2]);
    let remote = env.root.join("remote.git");
    env.git(&["init", "-q", "--bare", remote.to_str().unwrap()]);
    env.git(&["remote", "add", "origin", remote.to_str().unwrap()]);
    // A PATH with git and sh but no gh.
    let only = env.root.join("only");
    std::fs::create_dir_all(&only).unwrap();
    for prog in ["git", "sh"] {
        let found = which(prog);
        std::os::unix::fs::symlink(found, only.join(prog)).unwrap();
    }
    let out = env
        .cmd(&["merge", "--pr", "--json"])
        .env("PATH", &only)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = tasks(&doc);
    for id in ["alpha", "beta"] {
        assert_eq!(t[id]["result"], "error");
        assert!(
            t[id]["detail"]
                .as_str()
                .unwrap()
                .contains("gh (GitHub CLI) not found")
        );
    }
    // A gh that fails: that task errs, the next goes on.
    env.agent(
        "gh",
        r#"case "$*" in *agent/alpha*) echo "boom: no permission" >&2; exit 1;; esac
echo https://github.example/pull/7"#,
    );
    let run = env.run(&["merge", "--pr", "--json"]).code_is(1);
    let t = tasks(&run.json());
    assert_eq!(t["alpha"]["result"], "error");
    assert!(
        t["alpha"]["detail"]
            .as_str()
            .unwrap()
            .contains("boom: no permission")
    );
    assert_eq!(t["beta"]["result"], "pr-opened");
}

fn which(prog: &str) -> std::path::PathBuf {
    for dir in ["/usr/local/bin", "/usr/bin", "/bin"] {
        let p = Path::new(dir).join(prog);
        if p.exists() {
            return p;
        }
    }
    panic!("{prog} not found");
}

#[test]
fn bad_requests_exit_2_and_change_nothing() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    let cases: &[(&[&str], &str)] = &[
        (&["merge", "nope"], "no task \"nope\""),
        (&["merge", "Bad/Id"], "invalid task id"),
        (
            &["merge", "--into", "missing"],
            "no local branch \"missing\"",
        ),
        (
            &["merge", "--strategy", "octopus"],
            "invalid value 'octopus'",
        ),
        (&["merge", "--pr", "--prune"], "cannot be used with"),
        (&["merge", "--all", "alpha"], "cannot be used with"),
        (&["merge", "--pr"], "no remote \"origin\""),
    ];
    for (args, want) in cases {
        let run = env.run(args).code_is(2);
        assert!(run.stderr().contains(want), "{args:?}: {}", run.stderr());
    }
    env.git(&["config", "agents.mergeStrategy", "octopus"]);
    let run = env.run(&["merge"]).code_is(2);
    assert!(
        run.stderr().contains("agents.mergeStrategy"),
        "{}",
        run.stderr()
    );
    env.git(&["config", "--unset", "agents.mergeStrategy"]);
    assert_eq!(rev(&env, "main"), before);
    for id in ["alpha", "beta", "gamma"] {
        assert_eq!(state(&env, id), "succeeded");
    }
}

#[test]
fn explicit_ids_merge_in_the_order_given() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    env.run(&["merge", "gamma", "alpha"]).ok();
    assert_eq!(rev(&env, "main~1^2"), rev(&env, "agent/gamma"));
    assert_eq!(rev(&env, "main^2"), rev(&env, "agent/alpha"));
    assert_eq!(rev(&env, "main~2"), before);
    assert_eq!(state(&env, "beta"), "succeeded");
    // Naming a merged task again is fine: it is already in main.
    let t = tasks(&env.run(&["merge", "alpha", "--json"]).ok().json());
    assert_eq!(t["alpha"]["result"], "up-to-date");
}

#[test]
fn rebase_after_an_agent_resolution_lands_squashed() {
    let env = Env::new();
    spawn(&env, CLASH);
    let before = rev(&env, "main");
    let run = env
        .run(&[
            "merge",
            "--strategy",
            "rebase",
            "--on-conflict",
            "agent",
            "--json",
        ])
        .ok();
    let t = tasks(&run.json());
    assert_eq!(t["beta"]["result"], "merged");
    assert!(
        t["beta"]["detail"].as_str().unwrap().contains("squashed"),
        "{}",
        t["beta"]
    );
    // Still linear.
    assert_eq!(
        env.git(&["rev-list", "--merges", &format!("{before}..main")]),
        ""
    );
    assert_eq!(
        env.git(&["log", "--format=%s", &format!("{before}..main")]),
        "Do gamma\nDo beta\nDo alpha\n"
    );
    assert_eq!(
        std::fs::read_to_string(env.repo.join("shared.txt")).unwrap(),
        "resolved by beta\n"
    );
}

#[test]
fn an_ad_hoc_task_is_checked_with_the_check_it_was_spawned_with() {
    let env = Env::new();
    env.agent("maker", "echo made > made.txt");
    env.run(&[
        "spawn",
        "made",
        "-p",
        "Make a file",
        "--command",
        "maker",
        "--check",
        "test -f made.txt",
    ])
    .ok();
    let t = tasks(&env.run(&["merge", "--json"]).ok().json());
    assert_eq!(t["made"]["result"], "merged");
    assert_eq!(t["made"]["merge_check"], "passed");
    assert!(env.repo.join("made.txt").is_file());
}

#[test]
fn ctrl_c_during_a_check_lands_nothing_and_exits_130() {
    let env = Env::new();
    spawn(&env, THREE);
    let before = rev(&env, "main");
    let started = env.root.join("started");
    let check = format!("touch {}; sleep 30", started.display());
    let child = env.cmd(&["merge", "--check", &check]).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !started.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the check never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: signalling a child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(rev(&env, "main"), before);
    assert_eq!(state(&env, "alpha"), "succeeded");
    assert!(!env.git(&["worktree", "list"]).contains("scratch"));
    assert_checkout_clean(&env);
}

/// A conflicting path is repository text: its control characters reach neither the
/// progress lines nor the summary table raw.
#[test]
fn conflicting_paths_with_control_characters_are_shown_escaped() {
    let env = Env::new();
    let evil = "evil\x1b[2K\r.txt";
    spawn(
        &env,
        &[("alpha", evil, "from alpha"), ("beta", evil, "from beta")],
    );
    let run = env.run(&["merge"]).code_is(1);
    for (what, text) in [("stdout", run.stdout()), ("stderr", run.stderr())] {
        assert!(
            !text.contains('\x1b') && !text.contains('\r'),
            "{what}: {text:?}"
        );
    }
    assert!(
        run.stdout().contains(r"evil\e[2K\r.txt"),
        "{}",
        run.stdout()
    );
}
