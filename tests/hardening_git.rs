//! Issue 12's git findings: an agent's commit is never lost (submodule stores, a retry
//! after a failed leftovers commit, prune after a squash or a deleted base), commits are
//! signed when git would sign them, and SHA-256 repositories work.

mod common;

use common::Env;
use std::path::{Path, PathBuf};

/// `(id, branch, sha)` of each pruned.log line.
fn pruned_log(env: &Env) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(env.agents_dir().join("pruned.log")).unwrap_or_default();
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
    let all = [("m", "merge"), ("s", "squash"), ("r", "rebase")];
    for (id, _) in all {
        run(&[
            "spawn",
            "-p",
            &format!("Do {id}"),
            "--command",
            "committer",
            id,
        ])
        .ok();
    }
    let list = run(&["list", "--json"]).ok().json();
    let tasks = common::tasks(&list);
    for (id, strategy) in all {
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
    assert!(
        env.git_in(&repo, &["branch", "--list", "agent/*"])
            .is_empty()
    );
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

// ---------------------------------------------------------------------------------
// prune logs every tip no other ref reaches, forced or not (item 7)

/// The task's branch tip, full.
fn tip(env: &Env, id: &str) -> String {
    env.git(&["rev-parse", &format!("agent/{id}")])
        .trim()
        .to_string()
}

/// `sha` is in pruned.log for `id`, still an object, and `git branch` brings it back.
#[track_caller]
fn logged_and_recoverable(env: &Env, id: &str, sha: &str) {
    let log = pruned_log(env);
    assert!(
        log.contains(&(id.to_string(), format!("agent/{id}"), sha.to_string())),
        "{sha} of {id} not in pruned.log: {log:?}"
    );
    let name = format!("back-{id}");
    env.git(&["branch", &name, sha]);
    assert_eq!(env.git(&["rev-parse", &name]).trim(), sha);
}

#[test]
fn prune_after_squash_merge_logs_the_tip() {
    let env = Env::new();
    committer(&env);
    for id in ["sq", "rb", "mg"] {
        spawn(&env, id, "committer");
    }
    let (sq, rb, mg) = (tip(&env, "sq"), tip(&env, "rb"), tip(&env, "mg"));
    env.run(&["merge", "sq", "--strategy", "squash"]).ok();
    env.run(&["merge", "rb", "--strategy", "rebase"]).ok();
    env.run(&["merge", "mg", "--strategy", "merge"]).ok();
    let out = env.run(&["prune"]).ok();
    assert!(
        out.stdout().contains(&format!(
            "deleted branch agent/sq (was {sq}, logged to pruned.log)"
        )),
        "{}",
        out.stdout()
    );
    assert!(env.branches() == ["main"], "{:?}", env.branches());
    logged_and_recoverable(&env, "sq", &sq);
    logged_and_recoverable(&env, "rb", &rb);
    // A real merge keeps the tip reachable from main: nothing to log.
    assert!(!pruned_log(&env).iter().any(|(_, _, s)| *s == mg));
    assert_eq!(pruned_log(&env).len(), 2);
}

#[test]
fn prune_after_hand_squash_logs_the_tip() {
    let env = Env::new();
    committer(&env);
    spawn(&env, "hand", "committer");
    let sha = tip(&env, "hand");
    env.git(&["merge", "-q", "--squash", "agent/hand"]);
    env.git(&["commit", "-q", "-m", "squashed by hand"]);
    // --dry-run says it would log, and logs nothing.
    let dry = env.run(&["prune", "--dry-run"]).ok();
    assert!(
        dry.stdout().contains("logging it to pruned.log"),
        "{}",
        dry.stdout()
    );
    assert!(pruned_log(&env).is_empty());
    env.run(&["prune"]).ok();
    assert!(!env.branches().contains(&"agent/hand".to_string()));
    logged_and_recoverable(&env, "hand", &sha);
}

#[test]
fn merge_prune_after_squash_logs_the_tip_once() {
    let env = Env::new();
    committer(&env);
    spawn(&env, "mp", "committer");
    let sha = tip(&env, "mp");
    env.run(&["merge", "mp", "--strategy", "squash", "--prune"])
        .ok();
    assert_eq!(pruned_log(&env).len(), 1, "{:?}", pruned_log(&env));
    logged_and_recoverable(&env, "mp", &sha);
}

#[test]
fn prune_after_the_base_branch_is_deleted_logs_the_tip() {
    let env = Env::new();
    committer(&env);
    env.git(&["branch", "dev"]);
    env.run(&[
        "spawn",
        "-p",
        "Do d",
        "--command",
        "committer",
        "--base",
        "dev",
        "d",
    ])
    .ok();
    let sha = tip(&env, "d");
    env.run(&["merge", "d"]).ok();
    env.git(&["branch", "-D", "dev"]);
    env.run(&["prune"]).ok();
    assert!(!env.branches().contains(&"agent/d".to_string()));
    logged_and_recoverable(&env, "d", &sha);
}

#[test]
fn prune_of_an_empty_task_whose_base_is_gone_logs_the_tip() {
    let env = Env::new();
    env.agent("idle", "true");
    env.git(&["checkout", "-q", "-b", "dev"]);
    env.write("dev.txt", "dev\n");
    env.git(&["add", "dev.txt"]);
    env.git(&["commit", "-q", "-m", "dev only"]);
    env.git(&["checkout", "-q", "main"]);
    env.run(&[
        "spawn",
        "-p",
        "Do e",
        "--command",
        "idle",
        "--base",
        "dev",
        "--keep-empty",
        "e",
    ])
    .ok();
    assert_eq!(env.record("e")["state"], "empty");
    let sha = tip(&env, "e");
    // While dev holds the commit, nothing needs logging.
    let dry = env.run(&["prune", "--dry-run"]).ok();
    assert!(!dry.stdout().contains("pruned.log"), "{}", dry.stdout());
    env.git(&["branch", "-D", "dev"]);
    env.run(&["prune"]).ok();
    logged_and_recoverable(&env, "e", &sha);
}

#[test]
fn prune_of_a_tip_another_ref_holds_logs_nothing() {
    let env = Env::new();
    committer(&env);
    spawn(&env, "kept", "committer");
    let sha = tip(&env, "kept");
    env.git(&["tag", "keep-it", &sha]);
    env.git(&["merge", "-q", "--squash", "agent/kept"]);
    env.git(&["commit", "-q", "-m", "squashed by hand"]);
    env.run(&["prune"]).ok();
    assert!(pruned_log(&env).is_empty(), "{:?}", pruned_log(&env));
}

#[test]
fn forced_prune_logs_each_tip_once() {
    let env = Env::new();
    committer(&env);
    spawn(&env, "f", "committer");
    let sha = tip(&env, "f");
    env.run(&["prune", "f", "--force", "--yes"]).ok();
    assert_eq!(pruned_log(&env).len(), 1, "{:?}", pruned_log(&env));
    logged_and_recoverable(&env, "f", &sha);
}

#[test]
fn prune_logs_a_detached_worktree_head_no_ref_reaches() {
    let env = Env::new();
    committer(&env);
    spawn(&env, "det", "committer");
    let wt = env.worktree("det");
    // A commit on a detached HEAD, then the branch squashed into main by hand.
    env.git_in(&wt, &["checkout", "-q", "--detach"]);
    std::fs::write(wt.join("detached.txt"), "x\n").unwrap();
    env.git_in(&wt, &["add", "detached.txt"]);
    env.git_in(&wt, &["commit", "-q", "-m", "on a detached head"]);
    let head = env.git_in(&wt, &["rev-parse", "HEAD"]).trim().to_string();
    env.run(&["prune", "det", "--force", "--yes"]).ok();
    let log = pruned_log(&env);
    assert!(log.iter().any(|(_, _, s)| *s == head), "{log:?}");
    env.git(&["cat-file", "-e", &head]);
}

// ---------------------------------------------------------------------------------
// A failed leftovers commit never costs the agent's files (item 6), and commit
// messages never travel in argv

/// A `gpg.program` that signs anything (as git expects: the status line on the fd
/// named by `--status-fd`, the armored signature on stdout), or one that always fails.
fn fake_gpg(env: &Env, works: bool) -> PathBuf {
    let body = if works {
        r#"cat >/dev/null
printf '[GNUPG:] KEY_CONSIDERED FAKE 0\n[GNUPG:] SIG_CREATED D 1 8 00 1767225600 FAKE\n' >&2
printf -- '-----BEGIN PGP SIGNATURE-----\n\nZmFrZSBzaWduYXR1cmU=\n-----END PGP SIGNATURE-----\n'"#
    } else {
        "cat >/dev/null\necho 'gpg: signing failed: No secret key' >&2\nexit 2"
    };
    env.agent(if works { "gpg-ok" } else { "gpg-fails" }, body)
}

fn sign_with(env: &Env, gpg: &Path) {
    env.git(&["config", "commit.gpgsign", "true"]);
    env.git(&["config", "gpg.program", gpg.to_str().unwrap()]);
}

/// A fake agent that leaves its work uncommitted.
fn leaver(env: &Env) {
    env.agent(
        "leaver",
        r#"printf 'work of attempt %s\n' "$GIT_AGENTS_ATTEMPT" > "left-$GIT_AGENTS_TASK.txt""#,
    );
}

#[test]
fn failing_leftovers_commit_saves_the_files_before_a_retry() {
    let env = Env::new();
    leaver(&env);
    let gpg = fake_gpg(&env, false);
    sign_with(&env, &gpg);
    let out = env.run(&[
        "spawn",
        "-p",
        "Leave files",
        "--command",
        "leaver",
        "--retries",
        "1",
        "g",
    ]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let rec = env.record("g");
    assert_eq!(rec["state"], "failed");
    assert!(
        rec["detail"].as_str().unwrap().contains("gpg"),
        "the failure names the signing: {rec}"
    );
    // The first attempt's files were saved before the retry threw its worktree away.
    let log = pruned_log(&env);
    assert_eq!(log.len(), 1, "{log:?}");
    let (id, branch, sha) = &log[0];
    assert_eq!((id.as_str(), branch.as_str()), ("g", "agent/g"));
    env.git(&["cat-file", "-e", sha]);
    assert_eq!(
        env.git(&["show", &format!("{sha}:left-g.txt")]),
        "work of attempt 1\n"
    );
    // A rescue object: its parent is where the attempt started, and it is not signed.
    let main = env.git(&["rev-parse", "main"]);
    assert_eq!(env.git(&["rev-parse", &format!("{sha}^")]), main);
    assert!(!env.git(&["cat-file", "-p", sha]).contains("gpgsig"));
    // The last attempt's files stay in its worktree.
    assert_eq!(
        std::fs::read_to_string(env.worktree("g").join("left-g.txt")).unwrap(),
        "work of attempt 2\n"
    );
}

#[test]
fn retry_snapshot_keeps_copied_files_out() {
    let env = Env::new();
    env.write(".gitignore", ".env\n");
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore .env"]);
    env.write(".env", "SECRET=1\n");
    env.write("notes.txt", "copied, not ignored\n");
    // Stages one file by hand and leaves another unstaged; committing them fails.
    env.agent(
        "stager",
        r#"echo staged > staged.txt && git add staged.txt && echo loose > loose.txt"#,
    );
    let gpg = fake_gpg(&env, false);
    sign_with(&env, &gpg);
    env.write(
        "agents.yaml",
        "command: [stager]\nretries: 1\ncopy: [.env, notes.txt]\ntasks:\n  - {id: c, prompt: Stage}\n",
    );
    let out = env.run(&["spawn", "c"]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    let log = pruned_log(&env);
    assert_eq!(log.len(), 1, "{log:?}");
    let files = env.git(&["ls-tree", "-r", "--name-only", &log[0].2]);
    assert!(
        files.contains("staged.txt") && files.contains("loose.txt"),
        "{files}"
    );
    assert!(
        !files.contains(".env") && !files.contains("notes.txt"),
        "{files}"
    );
}

#[test]
fn a_first_prompt_line_over_128_kib_commits_with_a_short_subject() {
    let env = Env::new();
    leaver(&env);
    let line = "make it so ".repeat(20_000); // 220 KB on one line
    env.write("big.md", &format!("{line}\n\nSecond paragraph.\n"));
    env.write(
        "agents.yaml",
        "command: [leaver]\ntasks:\n  - {id: big, prompt_file: big.md}\n",
    );
    env.run(&["spawn", "big"]).ok();
    assert_eq!(env.record("big")["state"], "succeeded");
    let subject = env.git(&["log", "-1", "--format=%s", "agent/big"]);
    let subject = subject.trim_end();
    assert!(subject.starts_with("make it so make it so"), "{subject}");
    assert!(
        subject.ends_with('…') && subject.chars().count() <= 200,
        "{subject}"
    );
    let body = env.git(&["log", "-1", "--format=%b", "agent/big"]);
    assert_eq!(body.trim(), "Agent-Task: big");
    // The merge commit and a squash take the same subject.
    env.run(&["merge", "big"]).ok();
    let merge = env.git(&["log", "-1", "--format=%s", "main"]);
    assert_eq!(merge.trim_end(), format!("Merge agent/big: {subject}"));
}

#[test]
fn leftovers_commit_is_signed_when_git_signs() {
    let env = Env::new();
    leaver(&env);
    let gpg = fake_gpg(&env, true);
    sign_with(&env, &gpg);
    spawn(&env, "s", "leaver");
    let commit = env.git(&["cat-file", "-p", "agent/s"]);
    assert!(
        commit.contains("\ngpgsig -----BEGIN PGP SIGNATURE-----"),
        "{commit}"
    );
}

// ---------------------------------------------------------------------------------
// merge signs its commits when git would (item 13)

fn has_signature(env: &Env, rev: &str) -> bool {
    let c = env.git(&["cat-file", "-p", rev]);
    c.contains("\ngpgsig -----BEGIN PGP SIGNATURE-----\n")
        && c.contains("\n ZmFrZSBzaWduYXR1cmU=\n")
}

#[test]
fn merge_signs_merge_squash_and_rebase_commits_under_commit_gpgsign() {
    let env = Env::new();
    committer(&env);
    for id in ["m", "s", "r"] {
        spawn(&env, id, "committer");
    }
    let gpg = fake_gpg(&env, true);
    sign_with(&env, &gpg);
    env.run(&["merge", "m", "--strategy", "merge"]).ok();
    assert!(has_signature(&env, "main"), "merge commit unsigned");
    // Author and committer as without signing.
    let who = env.git(&["log", "-1", "--format=%an <%ae> %ad|%cn <%ce>", "main"]);
    assert!(
        who.starts_with("Test User <test@example.com>")
            && who.trim_end().ends_with("|Test User <test@example.com>"),
        "{who}"
    );
    env.run(&["merge", "s", "--strategy", "squash"]).ok();
    assert!(has_signature(&env, "main"), "squash commit unsigned");
    env.run(&["merge", "r", "--strategy", "rebase"]).ok();
    // Both replayed commits are signed, and keep their messages.
    assert!(has_signature(&env, "main") && has_signature(&env, "main~1"));
    assert_eq!(
        env.git(&["log", "-1", "--format=%s", "main~1"]).trim(),
        "own work of r"
    );
    env.git(&["fsck", "--no-progress", "--no-dangling"]);
    // The signing objects were cleared.
    assert!(
        !env.agents_dir()
            .join("scratch")
            .read_dir()
            .is_ok_and(|mut d| d.next().is_some())
    );
}

#[test]
fn merge_with_a_failing_signer_fails_clearly_and_moves_nothing() {
    let env = Env::new();
    committer(&env);
    spawn(&env, "f", "committer");
    // main moves on, so that no strategy can fast-forward: each needs a new commit.
    env.write("main.txt", "main\n");
    env.git(&["add", "main.txt"]);
    env.git(&["commit", "-q", "-m", "main moves"]);
    let gpg = fake_gpg(&env, false);
    sign_with(&env, &gpg);
    let before = env.git(&["rev-parse", "main"]);
    let objects = env.git(&["count-objects"]);
    for strategy in ["merge", "squash", "rebase"] {
        let out = env.run(&["merge", "f", "--strategy", strategy]);
        assert_eq!(out.code(), 1, "{}", out.stderr());
        let all = format!("{}{}", out.stdout(), out.stderr());
        assert!(all.contains("cannot sign the commit"), "{all}");
        assert!(all.contains("No secret key"), "{all}");
        assert_eq!(env.git(&["rev-parse", "main"]), before);
        assert_eq!(env.record("f")["state"], "succeeded");
    }
    // Nothing written, not even the merged tree's objects.
    assert_eq!(env.git(&["count-objects"]), objects);
    // A dry run never signs, so it still works.
    let dry = env.run(&["merge", "f", "--dry-run"]).ok();
    assert!(dry.stdout().contains("would-merge"), "{}", dry.stdout());
    // And `git -c commit.gpgsign=false` (as the hint says) merges unsigned.
    let mut c = std::process::Command::new("git");
    env.apply(&mut c);
    std::fs::copy(common::BIN, env.bin.join("git-agents")).unwrap();
    let out = c
        .args(["-c", "commit.gpgsign=false", "agents", "merge", "f"])
        .output()
        .unwrap();
    let out = common::Run(out).ok();
    assert!(out.stdout().contains("merged"), "{}", out.stdout());
    assert!(!has_signature(&env, "main"));
}

// ---------------------------------------------------------------------------------
// An agent's commits inside a submodule outlive its worktree (item 5)

/// A repository `lib` next to the main one, added to it as submodule `lib`. With
/// `main_store` false, the main checkout leaves it uninitialised (as a clone without
/// --recurse-submodules does): no `.git/modules/lib`.
fn with_submodule(env: &Env, main_store: bool) -> PathBuf {
    env.git(&["config", "--global", "protocol.file.allow", "always"]);
    let lib = env.root.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    env.git_in(&lib, &["init", "-q", "-b", "main"]);
    std::fs::write(lib.join("l.txt"), "lib\n").unwrap();
    env.git_in(&lib, &["add", "l.txt"]);
    env.git_in(&lib, &["commit", "-q", "-m", "lib"]);
    let url = format!("file://{}", lib.display());
    env.git(&["submodule", "add", "-q", &url, "lib"]);
    env.git(&["commit", "-q", "-m", "add lib"]);
    if !main_store {
        env.git(&["submodule", "deinit", "-q", "-f", "lib"]);
        std::fs::remove_dir_all(env.repo.join(".git/modules/lib")).unwrap();
    }
    lib
}

/// An agent that initialises the submodule, commits inside it, and records the new
/// commit in the superproject; `exit` is its exit code.
fn sub_committer(env: &Env, exit: i32) {
    env.agent(
        "sub-committer",
        &format!(
            r#"git submodule update -q --init lib || exit 9
cd lib && printf 'agent %s attempt %s\n' "$GIT_AGENTS_TASK" "$GIT_AGENTS_ATTEMPT" >> l.txt
git commit -q -am "agent work in lib" && cd ..
git add lib && git commit -q -m "bump lib"
exit {exit}"#
        ),
    );
}

fn sub_head(env: &Env, id: &str) -> String {
    env.git_in(&env.worktree(id).join("lib"), &["rev-parse", "HEAD"])
        .trim()
        .to_string()
}

/// Whether the main store of submodule `name` has `sha`.
fn main_store_has(env: &Env, name: &str, sha: &str) -> bool {
    let dir = env.repo.join(".git/modules").join(name);
    dir.is_dir() && env.git_ok(&["--git-dir", dir.to_str().unwrap(), "cat-file", "-e", sha])
}

/// With the submodule's origin gone, the main checkout still gets `sha` from its store.
#[track_caller]
fn checks_out_offline(env: &Env, lib: &Path, sha: &str) {
    std::fs::rename(lib, env.root.join("lib-gone")).unwrap();
    env.git(&["submodule", "update", "-q", "--init", "lib"]);
    assert_eq!(
        env.git_in(&env.repo.join("lib"), &["rev-parse", "HEAD"])
            .trim(),
        sha
    );
}

#[test]
fn worktree_of_a_repo_with_submodules_gets_an_empty_directory() {
    let env = Env::new();
    with_submodule(&env, true);
    env.agent(
        "look",
        "ls -A lib > ../seen.txt; git submodule status > ../status.txt",
    );
    env.run(&[
        "spawn",
        "-p",
        "Look",
        "--command",
        "look",
        "--keep-empty",
        "look",
    ])
    .ok();
    let seen = std::fs::read_to_string(env.repo.join(".worktrees/seen.txt")).unwrap();
    assert_eq!(seen, "", "the submodule directory is empty");
    let status = std::fs::read_to_string(env.repo.join(".worktrees/status.txt")).unwrap();
    assert!(status.starts_with('-'), "uninitialised: {status}");
}

#[test]
fn submodule_commit_is_fetched_into_the_main_store_before_prune() {
    let env = Env::new();
    let lib = with_submodule(&env, true);
    sub_committer(&env, 0);
    spawn(&env, "sub", "sub-committer");
    let sha = sub_head(&env, "sub");
    assert!(!main_store_has(&env, "lib", &sha));
    env.run(&["merge", "sub"]).ok();
    // A dry run says so and changes nothing.
    let dry = env.run(&["prune", "--dry-run"]).ok();
    assert!(
        dry.stdout()
            .contains("keep 1 commit of submodule lib into .git/modules/lib"),
        "{}",
        dry.stdout()
    );
    assert!(!main_store_has(&env, "lib", &sha));
    let out = env.run(&["prune"]).ok();
    assert!(
        out.stdout()
            .contains("kept 1 commit of submodule lib into .git/modules/lib"),
        "{}",
        out.stdout()
    );
    assert!(!env.worktree("sub").exists());
    let kept = env.git(&[
        "--git-dir",
        ".git/modules/lib",
        "rev-parse",
        &format!("refs/agents/kept/sub/{sha}"),
    ]);
    assert_eq!(kept.trim(), sha);
    checks_out_offline(&env, &lib, &sha);
}

#[test]
fn submodule_store_moves_to_the_main_repo_when_it_has_none() {
    let env = Env::new();
    let lib = with_submodule(&env, false);
    sub_committer(&env, 0);
    spawn(&env, "sub", "sub-committer");
    let sha = sub_head(&env, "sub");
    env.run(&["merge", "sub"]).ok();
    let out = env.run(&["prune"]).ok();
    assert!(
        out.stdout()
            .contains("moved submodule lib's store (1 commit only there) to .git/modules/lib"),
        "{}",
        out.stdout()
    );
    assert!(main_store_has(&env, "lib", &sha));
    checks_out_offline(&env, &lib, &sha);
}

#[test]
fn submodule_added_by_the_agent_survives_a_forced_prune() {
    let env = Env::new();
    env.git(&["config", "--global", "protocol.file.allow", "always"]);
    let lib = env.root.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    env.git_in(&lib, &["init", "-q", "-b", "main"]);
    std::fs::write(lib.join("l.txt"), "lib\n").unwrap();
    env.git_in(&lib, &["add", "l.txt"]);
    env.git_in(&lib, &["commit", "-q", "-m", "lib"]);
    env.agent(
        "sub-adder",
        &format!(
            r#"git submodule add -q file://{} vendor/lib || exit 9
cd vendor/lib && echo agent >> l.txt && git commit -q -am "agent work" && cd ../..
git add -A && git commit -q -m "add vendor/lib""#,
            lib.display()
        ),
    );
    spawn(&env, "add", "sub-adder");
    let sha = env
        .git_in(
            &env.worktree("add").join("vendor/lib"),
            &["rev-parse", "HEAD"],
        )
        .trim()
        .to_string();
    let tip = tip(&env, "add");
    env.run(&["prune", "add", "--force", "--yes"]).ok();
    // The submodule's name is its path: a store two directories deep.
    assert!(main_store_has(&env, "vendor/lib", &sha));
    logged_and_recoverable(&env, "add", &tip);
}

#[test]
fn submodule_only_initialised_leaves_nothing_behind() {
    for main_store in [true, false] {
        let env = Env::new();
        with_submodule(&env, main_store);
        env.agent(
            "init-only",
            "git submodule update -q --init lib && echo x > x.txt",
        );
        spawn(&env, "i", "init-only");
        env.run(&["merge", "i"]).ok();
        let out = env.run(&["prune"]).ok();
        assert!(!out.stdout().contains("submodule"), "{}", out.stdout());
        let store = env.repo.join(".git/modules/lib");
        assert_eq!(store.exists(), main_store);
        if main_store {
            let refs = env.git(&[
                "--git-dir",
                ".git/modules/lib",
                "for-each-ref",
                "refs/agents",
            ]);
            assert!(refs.is_empty(), "{refs}");
        }
    }
}

#[test]
fn submodule_commit_of_a_discarded_attempt_is_kept() {
    let env = Env::new();
    with_submodule(&env, true);
    sub_committer(&env, 1);
    let out = env.run(&[
        "spawn",
        "-p",
        "Fail",
        "--command",
        "sub-committer",
        "--retries",
        "1",
        "r",
    ]);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert_eq!(env.record("r")["attempts"].as_array().unwrap().len(), 2);
    // The first attempt's worktree is gone; its submodule commit is in the main store.
    let refs = env.git(&[
        "--git-dir",
        ".git/modules/lib",
        "for-each-ref",
        "--format=%(refname)",
        "refs/agents/kept/r/",
    ]);
    let kept: Vec<&str> = refs.lines().collect();
    assert_eq!(kept.len(), 1, "{refs}");
    let sha = kept[0].rsplit('/').next().unwrap();
    let text = env.git(&[
        "--git-dir",
        ".git/modules/lib",
        "show",
        &format!("{sha}:l.txt"),
    ]);
    assert!(text.contains("agent r attempt 1"), "{text}");
}

#[test]
fn submodule_commit_is_kept_when_the_worktree_was_deleted_by_hand() {
    for main_store in [true, false] {
        let env = Env::new();
        let lib = with_submodule(&env, main_store);
        sub_committer(&env, 0);
        spawn(&env, "gone", "sub-committer");
        let sha = sub_head(&env, "gone");
        env.run(&["merge", "gone"]).ok();
        std::fs::remove_dir_all(env.worktree("gone")).unwrap();
        env.run(&["prune"]).ok();
        assert!(!env.repo.join(".git/worktrees/gone").exists());
        assert!(
            main_store_has(&env, "lib", &sha),
            "main store: {main_store}"
        );
        checks_out_offline(&env, &lib, &sha);
    }
}

#[test]
fn stale_metadata_cleared_by_prune_keeps_submodule_commits_first() {
    let env = Env::new();
    with_submodule(&env, true);
    sub_committer(&env, 0);
    spawn(&env, "unmerged", "sub-committer");
    let sha = sub_head(&env, "unmerged");
    std::fs::remove_dir_all(env.worktree("unmerged")).unwrap();
    // Plain prune leaves the task (its branch is not in main) and clears its stale
    // metadata, keeping the submodule commit first.
    let out = env.run(&["prune"]).ok();
    assert!(
        out.stderr().contains("kept 1 commit of submodule lib"),
        "{}",
        out.stderr()
    );
    assert!(env.branches().contains(&"agent/unmerged".to_string()));
    assert!(!env.repo.join(".git/worktrees/unmerged").exists());
    assert!(main_store_has(&env, "lib", &sha));
}

#[test]
fn spawn_leaves_other_hand_deleted_worktrees_metadata_alone() {
    let env = Env::new();
    with_submodule(&env, true);
    sub_committer(&env, 0);
    spawn(&env, "first", "sub-committer");
    let sha = sub_head(&env, "first");
    std::fs::remove_dir_all(env.worktree("first")).unwrap();
    // An empty task's worktree is removed at once: only its own metadata goes.
    env.agent("idle", "true");
    spawn(&env, "idle", "idle");
    assert_eq!(env.record("idle")["state"], "empty");
    let store = env.repo.join(".git/worktrees/first/modules/lib");
    assert!(
        env.git_ok(&[
            "--git-dir",
            store.to_str().unwrap(),
            "--work-tree",
            store.to_str().unwrap(),
            "cat-file",
            "-e",
            &sha
        ]),
        "the first task's submodule store is gone"
    );
}

#[test]
fn submodule_commits_that_cannot_be_kept_stop_prune_unless_forced() {
    let env = Env::new();
    with_submodule(&env, false);
    sub_committer(&env, 0);
    spawn(&env, "blocked", "sub-committer");
    let sha = sub_head(&env, "blocked");
    env.run(&["merge", "blocked"]).ok();
    // Something that is not a git directory where the main store would go.
    std::fs::create_dir_all(env.repo.join(".git/modules")).unwrap();
    std::fs::write(env.repo.join(".git/modules/lib"), "not a store\n").unwrap();
    let out = env.run(&["prune"]).code_is(1);
    assert!(
        out.stderr()
            .contains("submodule lib has commits only in this worktree"),
        "{}",
        out.stderr()
    );
    assert!(env.worktree("blocked").exists());
    assert!(pruned_log(&env).is_empty());
    // --force removes it, and logs the commit it could not keep.
    let out = env.run(&["prune", "--force", "--yes"]).ok();
    assert!(
        out.stdout()
            .contains(&format!("discarded submodule lib's commit {sha}")),
        "{}",
        out.stdout()
    );
    let log = pruned_log(&env);
    assert!(
        log.contains(&("blocked".into(), "agent/blocked:lib".into(), sha.clone())),
        "{log:?}"
    );
}
