//! The worktrees spawn makes: written by git-agents itself in the plain case (git's
//! `worktree add` rereads every worktree's metadata before each add), by git when the
//! repository asks more of `worktree add`. Either way git must take them as its own.

mod common;

use common::Env;

fn agent(env: &Env) {
    env.agent(
        "fake-agent",
        r#"echo "$GIT_AGENTS_TASK" > "out-$GIT_AGENTS_TASK.txt""#,
    );
    env.write(
        "agents.yaml",
        "command: [fake-agent]\ntasks:\n  - {id: one, prompt: One}\n  - {id: two, prompt: Two}\n",
    );
}

/// What git says of a task's worktree: it is listed on its branch, clean, can be
/// pruned and removed like any other, and the branch's reflog tells where it began.
fn git_owns(env: &Env, id: &str) {
    let wt = env.worktree(id);
    let list = env.git(&["worktree", "list", "--porcelain"]);
    let entry = format!(
        "worktree {}\nHEAD {}\nbranch refs/heads/agent/{id}\n",
        wt.display(),
        env.git(&["rev-parse", &format!("agent/{id}")]).trim()
    );
    assert!(list.contains(&entry), "{entry}\nnot in\n{list}");
    assert_eq!(
        env.git_in(&wt, &["status", "--porcelain", "--untracked-files=all"]),
        ""
    );
    assert_eq!(
        env.git_in(&wt, &["rev-parse", "--abbrev-ref", "HEAD"])
            .trim(),
        format!("agent/{id}")
    );
    // `git worktree prune` keeps it (nothing half-made, no lock left behind).
    env.git(&["worktree", "prune"]);
    assert!(
        env.git(&["worktree", "list"])
            .contains(wt.to_str().unwrap())
    );
    let reflog = env.git(&["reflog", "show", "--format=%gs", &format!("agent/{id}")]);
    assert!(
        reflog.trim_end().ends_with(&format!(
            "branch: Created from {}",
            env.git(&["rev-parse", "main"]).trim()
        )),
        "{reflog}"
    );
}

/// A PATH whose `git` notes each `worktree add` it is asked for in the returned log,
/// then runs the real git.
fn wrapped_git(env: &Env) -> (String, std::path::PathBuf) {
    let real = String::from_utf8(
        std::process::Command::new("sh")
            .args(["-c", "command -v git"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let log = env.root.join("adds.log");
    let bin = env.root.join("wrapped-git");
    std::fs::create_dir_all(&bin).unwrap();
    let script = format!(
        "#!/bin/sh\ncase \" $* \" in *' worktree add '*) echo add >> '{}';; esac\nexec '{}' \"$@\"\n",
        log.display(),
        real.trim()
    );
    std::fs::write(bin.join("git"), script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}:/usr/local/bin:/usr/bin:/bin",
        bin.display(),
        env.bin.display()
    );
    (path, log)
}

#[test]
fn worktrees_made_without_git_worktree_add_are_gits_own() {
    let env = Env::new();
    agent(&env);
    // A leftover admin dir by the worktree's name: git's naming (name1, …) is followed.
    std::fs::create_dir_all(env.repo.join(".git/worktrees/one")).unwrap();
    std::fs::write(
        env.repo.join(".git/worktrees/one/gitdir"),
        "/nowhere/.git\n",
    )
    .unwrap();
    env.run(&["spawn"]).ok();
    for id in ["one", "two"] {
        git_owns(&env, id);
    }
    let one = std::fs::read_to_string(env.worktree("one").join(".git")).unwrap();
    assert!(one.ends_with(".git/worktrees/one1\n"), "{one}");
    let admin = env.repo.join(".git/worktrees/two");
    assert_eq!(
        std::fs::read_to_string(admin.join("commondir")).unwrap(),
        "../..\n"
    );
    assert!(!admin.join("locked").exists());
    // git removes them like its own; prune then leaves nothing.
    env.run(&["prune", "--all", "--force", "--yes"]).ok();
    assert_eq!(env.git(&["worktree", "list"]).lines().count(), 1);
    assert!(!env.repo.join(".git/worktrees/two").exists());
}

#[test]
fn per_worktree_config_goes_through_git_worktree_add() {
    let env = Env::new();
    agent(&env);
    env.git(&["config", "extensions.worktreeConfig", "true"]);
    env.git(&["config", "--worktree", "user.name", "Main Worktree Only"]);
    let (path, log) = wrapped_git(&env);
    let out = env.cmd(&["spawn"]).env("PATH", &path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "add\nadd\n");
    for id in ["one", "two"] {
        git_owns(&env, id);
    }
}

#[test]
fn git_agents_worktree_add_git_asks_git_for_every_worktree() {
    let env = Env::new();
    agent(&env);
    let (path, log) = wrapped_git(&env);
    let out = env
        .cmd(&["spawn"])
        .env("PATH", &path)
        .env("GIT_AGENTS_WORKTREE_ADD", "git")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&log).unwrap(), "add\nadd\n");
    for id in ["one", "two"] {
        git_owns(&env, id);
    }
    // Without it, the same spawn asks git for none.
    std::fs::remove_file(&log).unwrap();
    env.write(
        "agents.yaml",
        "command: [fake-agent]\ntasks:\n  - {id: three, prompt: Three}\n",
    );
    let out = env.cmd(&["spawn"]).env("PATH", &path).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!log.exists());
    git_owns(&env, "three");
}
