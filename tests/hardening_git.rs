//! Issue 12's git findings: an agent's commit is never lost (submodule stores, a retry
//! after a failed leftovers commit, prune after a squash or a deleted base), commits are
//! signed when git would sign them, and SHA-256 repositories work.

mod common;

use common::Env;
use std::path::{Path, PathBuf};

/// `(id, branch, sha)` of each pruned.log line.
fn pruned_log(env: &Env) -> Vec<(String, String, String)> {
    let text =
        std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 4, "bad pruned.log line {l:?}");
            (f[1].to_string(), f[2].to_string(), f[3].to_string())
        })
        .collect()
}

/// A fake agent that commits a file of its own and leaves one more change uncommitted.
fn committer(env: &Env) {
    env.agent(
        "committer",
        r#"printf '%s\n' "$GIT_AGENTS_TASK" > "own-$GIT_AGENTS_TASK.txt"
git add -A && git commit -q -m "own work of $GIT_AGENTS_TASK"
printf 'more\n' >> "own-$GIT_AGENTS_TASK.txt""#,
    );
}

fn spawn(env: &Env, id: &str, agent: &str) {
    env.run(&["spawn", "-p", &format!("Do {id}"), "--command", agent, id])
        .ok();
}

// ---------------------------------------------------------------------------------
// SHA-256 repositories (item 14)

#[test]
fn sha256_repository_spawn_list_merge_prune() {
    let env = Env::new();
    let repo = env.root.join("s256");
    std::fs::create_dir_all(&repo).unwrap();
    env.git_in(
        &repo,
        &["init", "-q", "--object-format=sha256", "-b", "main"],
    );
    std::fs::write(repo.join("README.md"), "hello\n").unwrap();
    env.git_in(&repo, &["add", "README.md"]);
    env.git_in(&repo, &["commit", "-q", "-m", "initial"]);
    committer(&env);
    let run = |args: &[&str]| {
        let mut c = env.cmd(args);
        c.current_dir(&repo);
        common::Run(c.output().unwrap())
    };
    for (id, strategy) in [("m", "merge"), ("s", "squash"), ("r", "rebase")] {
        run(&["spawn", "-p", &format!("Do {id}"), "--command", "committer", id]).ok();
        let list = run(&["list", "--json"]).ok().json();
        let tasks = common::tasks(&list);
        assert_eq!(tasks[id]["state"], "succeeded");
        assert_eq!(tasks[id]["ahead"], 2, "{list}");
        assert_eq!(tasks[id]["head"].as_str().unwrap().len(), 64);
        run(&["merge", id, "--strategy", strategy]).ok();
        assert!(
            repo.join(format!("own-{id}.txt")).is_file(),
            "{strategy} did not land"
        );
    }
    run(&["prune"]).ok();
    assert!(env.git_in(&repo, &["branch", "--list", "agent/*"]).is_empty());
    env.git_in(&repo, &["fsck", "--no-progress"]);
    // Squash and rebase left the agent's own commits out of main: logged, 64 digits.
    let log = std::fs::read_to_string(repo.join(".git/agents/pruned.log")).unwrap();
    let shas: Vec<&str> = log.lines().map(|l| l.rsplit(' ').next().unwrap()).collect();
    assert_eq!(shas.len(), 2, "{log}");
    for sha in shas {
        assert_eq!(sha.len(), 64);
        env.git_in(&repo, &["cat-file", "-e", sha]);
    }
}
