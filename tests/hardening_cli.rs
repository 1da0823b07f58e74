//! A newcomer's first hour (issue 12): the README's examples run as written, `-C` and
//! the other global options on both sides of the subcommand, completion through a git
//! alias, and git's reset rule for multi-valued config keys in every config file.

mod common;

use common::{BIN, Env};
use std::path::Path;

/// An agent that leaves one file, so every task has work to commit.
fn toucher(env: &Env) {
    env.agent("toucher", "echo done > \"touched-$GIT_AGENTS_TASK.txt\"");
}

/// Ignored files `a`, `b`, `c` in the checkout, each holding its own name.
fn copy_sources(env: &Env) {
    env.write(".gitignore", "/a\n/b\n/c\n");
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore"]);
    for f in ["a", "b", "c"] {
        env.write(f, f);
    }
}

/// Which of `a`, `b`, `c` were copied into the task's worktree.
fn copied(env: &Env, id: &str) -> Vec<&'static str> {
    let wt = env.worktree(id);
    assert!(wt.is_dir(), "no worktree for {id}");
    ["a", "b", "c"]
        .into_iter()
        .filter(|f| wt.join(f).exists())
        .collect()
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

// ---------------------------------------------------------------------------------------
// Multi-valued keys: an empty value resets the list, in whichever file it appears.

#[test]
fn empty_value_in_repo_config_resets_a_list_from_global_config() {
    let env = Env::new();
    toucher(&env);
    copy_sources(&env);
    append(&env.home.join(".gitconfig"), "[agents]\n\tcopy = a\n");
    append(
        &env.repo.join(".git/config"),
        "[agents]\n\tcopy =\n\tcopy = b\n",
    );
    env.run(&["spawn", "t", "-p", "x", "--command", "toucher"])
        .ok();
    assert_eq!(copied(&env, "t"), ["b"]);
}

#[test]
fn empty_value_resets_in_every_config_source() {
    let env = Env::new();
    toucher(&env);
    copy_sources(&env);
    // global: a; an included file resets and adds b; the repo adds c.
    let inc = env.root.join("included.cfg");
    std::fs::write(&inc, "[agents]\n\tcopy =\n\tcopy = b\n").unwrap();
    append(
        &env.home.join(".gitconfig"),
        &format!(
            "[agents]\n\tcopy = a\n[include]\n\tpath = {}\n",
            inc.display()
        ),
    );
    append(&env.repo.join(".git/config"), "[agents]\n\tcopy = c\n");
    env.run(&["spawn", "inc", "-p", "x", "--command", "toucher"])
        .ok();
    assert_eq!(copied(&env, "inc"), ["b", "c"]);

    // A reset at the end of .git/config leaves nothing but later `-c` values.
    append(&env.repo.join(".git/config"), "[agents]\n\tcopy =\n");
    env.run(&["spawn", "none", "-p", "x", "--command", "toucher"])
        .ok();
    assert!(copied(&env, "none").is_empty());
    let mut cmd = env.cmd(&["spawn", "dashc", "-p", "x", "--command", "toucher"]);
    cmd.env("GIT_CONFIG_PARAMETERS", "'agents.copy'='a'");
    common::Run(cmd.output().unwrap()).ok();
    assert_eq!(copied(&env, "dashc"), ["a"]);
    // `git -c agents.copy=` resets what the files said.
    std::fs::write(&inc, "[agents]\n\tcopy = b\n").unwrap();
    let mut cmd = env.cmd(&["spawn", "dashc-reset", "-p", "x", "--command", "toucher"]);
    cmd.env(
        "GIT_CONFIG_PARAMETERS",
        "'agents.copy'='' 'agents.copy'='c'",
    );
    common::Run(cmd.output().unwrap()).ok();
    assert_eq!(copied(&env, "dashc-reset"), ["c"]);
}

#[test]
fn empty_value_resets_setup_and_worktree_config() {
    let env = Env::new();
    toucher(&env);
    copy_sources(&env);
    // Per-worktree config (extensions.worktreeConfig) is read after .git/config.
    env.git(&["config", "extensions.worktreeConfig", "true"]);
    env.git(&[
        "config",
        "--add",
        "agents.setup",
        "echo from-repo > setup-repo.txt",
    ]);
    env.git(&["config", "--add", "agents.copy", "a"]);
    env.git(&["config", "--worktree", "--add", "agents.setup", ""]);
    env.git(&[
        "config",
        "--worktree",
        "--add",
        "agents.setup",
        "echo from-worktree > setup-wt.txt",
    ]);
    env.git(&["config", "--worktree", "--add", "agents.copy", ""]);
    env.run(&["spawn", "wt", "-p", "x", "--command", "toucher"])
        .ok();
    let wt = env.worktree("wt");
    assert!(wt.join("setup-wt.txt").exists());
    assert!(!wt.join("setup-repo.txt").exists());
    assert!(copied(&env, "wt").is_empty());
}

// ---------------------------------------------------------------------------------------
// Global options on both sides of the subcommand.

/// Run `git-agents` from `dir` with `args`.
fn run_in(env: &Env, dir: &Path, args: &[&str]) -> common::Run {
    let mut cmd = env.cmd(args);
    cmd.current_dir(dir);
    common::Run(cmd.output().unwrap())
}

fn listed_ids(run: common::Run) -> Vec<String> {
    common::tasks(&run.ok().json()).into_keys().collect()
}

#[test]
fn dash_c_applies_in_order_on_both_sides_of_the_subcommand() {
    let env = Env::new();
    toucher(&env);
    env.run(&["spawn", "t", "-p", "x", "--command", "toucher"])
        .ok();
    // From HOME, `..` then `repo` reaches the repository: each -C is relative to the one
    // before, wherever it stands on the line.
    let home = &env.home;
    for line in [
        &["-C", "..", "list", "-C", "repo", "--json"][..],
        &["-C", "..", "-C", "repo", "list", "--json"],
        &["list", "-C", "..", "-C", "repo", "--json"],
        &["-C..", "list", "--json", "-Crepo"],
        &["-qC", "..", "ls", "-C", "", "-vC", "repo", "--json"],
        &[
            "-C", "", "-C", "..", "list", "-C", "", "-C", "repo", "--json",
        ],
        &[
            "--color", "never", "-C", "..", "list", "--json", "-C", "repo",
        ],
    ] {
        let run = run_in(&env, home, line);
        assert_eq!(run.code(), 0, "{line:?}: {}", run.stderr());
        assert_eq!(listed_ids(run), ["t"], "{line:?}");
    }
    // The same split after git's own -C, through `git agents`.
    std::os::unix::fs::symlink(BIN, env.bin.join("git-agents")).unwrap();
    let mut git = std::process::Command::new("git");
    env.apply(&mut git);
    git.current_dir(&env.root).args([
        "-C", "home", "agents", "-C", "..", "list", "-C", "repo", "--json",
    ]);
    assert_eq!(listed_ids(common::Run(git.output().unwrap())), ["t"]);
    // A -C that leads nowhere names the directory it tried, from where it stood.
    let run = run_in(&env, home, &["-C", "..", "list", "-C", "nowhere"]).code_is(2);
    assert!(run.stderr().contains("'nowhere'"), "{}", run.stderr());
    assert!(!env.root.join("nowhere").exists());
}

#[test]
fn manifest_color_quiet_and_verbose_work_before_and_after_the_subcommand() {
    let env = Env::new();
    env.write("one.yaml", "tasks:\n  - id: one\n    prompt: One\n");
    env.write("sub/two.yaml", "tasks:\n  - id: two\n    prompt: Two\n");
    for (line, want) in [
        (&["--manifest", "one.yaml", "list", "--json"][..], "one"),
        (&["list", "--manifest", "one.yaml", "--json"], "one"),
        (&["--manifest=one.yaml", "list", "--json"], "one"),
        // Given twice, the later one wins, as for git's own options.
        (
            &[
                "--manifest",
                "one.yaml",
                "list",
                "--manifest",
                "sub/two.yaml",
                "--json",
            ],
            "two",
        ),
        // A relative manifest is read from where all the -C options lead.
        (
            &["--manifest", "two.yaml", "-C", "sub", "list", "--json"],
            "two",
        ),
        (
            &["-C", "sub", "list", "--manifest", "two.yaml", "--json"],
            "two",
        ),
    ] {
        let run = env.run(line);
        assert_eq!(run.code(), 0, "{line:?}: {}", run.stderr());
        assert_eq!(listed_ids(run), [want], "{line:?}");
    }
    let coloured = |line: &[&str]| env.run(line).ok().stdout().contains('\u{1b}');
    assert!(coloured(&[
        "--color",
        "always",
        "list",
        "--manifest",
        "one.yaml"
    ]));
    assert!(coloured(&[
        "--manifest",
        "one.yaml",
        "list",
        "--color",
        "always"
    ]));
    assert!(!coloured(&[
        "--color",
        "always",
        "list",
        "--color",
        "never",
        "--manifest",
        "one.yaml"
    ]));
    // -q after the subcommand mutes status lines as it does before it.
    toucher(&env);
    for line in [
        &["-q", "spawn", "q1", "-p", "x", "--command", "toucher"][..],
        &["spawn", "q2", "-p", "x", "--command", "toucher", "-q"],
    ] {
        let run = env.run(line).ok();
        assert_eq!(run.stderr(), "", "{line:?}");
    }
    for line in [
        &["-v", "spawn", "v1", "-p", "x", "--command", "toucher"][..],
        &[
            "spawn",
            "v2",
            "-p",
            "x",
            "--command",
            "toucher",
            "--verbose",
        ],
    ] {
        let run = env.run(line).ok();
        assert!(
            run.stderr().contains("toucher"),
            "{line:?}: {}",
            run.stderr()
        );
    }
}

// ---------------------------------------------------------------------------------------
// The README's examples, as written.

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

/// The README's text under the heading that starts with `heading` (such as
/// "## A first spawn"), up to the next heading of the same or a higher level. Lines in
/// code blocks are never headings.
fn section(heading: &str) -> String {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let mut out = String::new();
    let (mut inside, mut fenced) = (false, false);
    for line in readme().lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            let l = line.chars().take_while(|c| *c == '#').count();
            if inside && l <= level {
                break;
            }
            if line.starts_with(heading) {
                inside = true;
                continue;
            }
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(!out.is_empty(), "README has no section {heading:?}");
    out
}

/// The fenced blocks of `text` whose info string is `lang`.
fn blocks(text: &str, lang: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) if info.trim() == lang => current = Some(String::new()),
            (Some(_), Some(_)) => out.push(current.take().unwrap()),
            (Some(block), None) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    out
}

/// The commands (`$ …` lines) of the console examples in `text` (fenced as `console`
/// or plain).
fn console_commands(text: &str) -> Vec<String> {
    let mut all = blocks(text, "console");
    all.extend(blocks(text, ""));
    all.iter()
        .flat_map(|b| {
            b.lines()
                .filter_map(|l| l.strip_prefix("$ "))
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `script` run by `sh -e` in `dir`, with `git agents` on PATH resolving to the binary
/// under test.
fn sh(env: &Env, dir: &Path, script: &str) -> common::Run {
    let link = env.bin.join("git-agents");
    if !link.exists() {
        std::os::unix::fs::symlink(BIN, link).unwrap();
    }
    let mut cmd = std::process::Command::new("sh");
    env.apply(&mut cmd);
    cmd.current_dir(dir).args(["-e", "-c", script]);
    common::Run(cmd.output().unwrap())
}

/// A stand-in for the `claude` CLI that checks it was called as the preset calls it,
/// prints a line and leaves a file named after the task.
fn fake_claude(env: &Env) {
    env.agent(
        "claude",
        r#"[ "$1" = -p ] && [ -n "$2" ] && [ "$3" = --permission-mode ] || { echo "bad args: $*" >&2; exit 3; }
echo "claude: working on $2"
echo "$2" > "claude-$GIT_AGENTS_TASK.txt""#,
    );
}

#[test]
fn readme_first_spawn_runs_as_written() {
    let env = Env::new();
    fake_claude(&env);
    // `cd your-repo` starts from the directory that holds it.
    let repo = env.root.join("your-repo");
    env.git_in(&env.root, &["init", "-q", "-b", "main", "your-repo"]);
    std::fs::write(repo.join("README.md"), "hello\n").unwrap();
    env.git_in(&repo, &["add", "."]);
    env.git_in(&repo, &["commit", "-q", "-m", "initial"]);

    let text = section("## A first spawn");
    let script = blocks(&text, "sh");
    assert_eq!(script.len(), 2, "{text}");
    let run = sh(&env, &env.root, &script.join("\n"));
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    let out = run.stdout();
    // `git log main..agent/<id>` shows the task's commit; `git agents logs` the agent's
    // output, read from inside the task's worktree.
    assert!(out.contains("    Add a --version flag to the CLI"), "{out}");
    assert!(
        out.contains("claude: working on Add a --version flag to the CLI"),
        "{out}"
    );
    // The id the README names is the id spawn made.
    let id = "add-a-version-flag-to-the-cli";
    assert!(text.contains(&format!("(`{id}`)")), "{text}");
    assert!(
        repo.join(".worktrees")
            .join(id)
            .join(format!("claude-{id}.txt"))
            .is_file()
    );
}

/// Each command of `commands` run by `sh` in `dir`, with the exit code it must give.
fn run_each(env: &Env, dir: &Path, commands: &[String], codes: &[i32]) {
    assert_eq!(commands.len(), codes.len(), "{commands:?}");
    for (c, code) in commands.iter().zip(codes) {
        let run = sh(env, dir, c);
        assert_eq!(run.code(), *code, "{c}\n{}\n{}", run.stdout(), run.stderr());
    }
}

#[test]
fn readme_manifest_trust_list_merge_and_prune_run_as_written() {
    let env = Env::new();
    fake_claude(&env);
    env.agent(
        "codex",
        r#"[ "$1" = exec ] || exit 3
echo "$4" > "codex-$GIT_AGENTS_TASK.txt""#,
    );
    // npm stands in for the manifest's setup and check: its test passes only where the
    // manifest's env and copy entries arrived.
    env.agent(
        "npm",
        r#"case "$1" in
ci) exit 0 ;;
test) [ "$LOG_LEVEL" = debug ] && [ -f .env ] ;;
*) exit 3 ;;
esac"#,
    );
    env.agent("cargo", r#"[ "$1" = test ]"#);

    let manifest = blocks(&section("## A manifest"), "yaml");
    assert_eq!(manifest.len(), 1);
    env.write("agents.yaml", &manifest[0]);
    env.write("tasks/audit-log.md", "Add an audit log.\n");
    env.write(".gitignore", ".env\n");
    env.write(".env", "SECRET=1\n");
    env.git(&["add", "agents.yaml", "tasks", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "manifest"]);

    // The manifest is tracked: the trust section's commands let its commands run.
    let trust = blocks(&section("## Trusting a manifest"), "sh");
    assert_eq!(trust.len(), 1);
    let run = sh(&env, &env.repo, &trust[0]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    for id in ["rename-user-model", "add-audit-log"] {
        assert_eq!(env.record(id)["state"], "succeeded", "{id}");
        assert_eq!(env.record(id)["check"], "passed", "{id}");
    }
    assert!(
        env.worktree("add-audit-log")
            .join("codex-add-audit-log.txt")
            .is_file()
    );

    let list = console_commands(&section("## `git agents list`"));
    assert_eq!(list, ["git agents list"]);
    run_each(&env, &env.repo, &list, &[0]);

    let merge = console_commands(&section("## `git agents merge`"));
    assert_eq!(
        merge,
        [r#"git agents merge --check "cargo test" --on-conflict skip"#]
    );
    run_each(&env, &env.repo, &merge, &[0]);
    assert!(env.repo.join("claude-rename-user-model.txt").is_file());
    assert!(env.repo.join("codex-add-audit-log.txt").is_file());

    // The prune example keeps `refactor`: merged once, its branch then got commits the
    // base does not have. Then it discards them.
    sh(&env, &env.repo, "git agents spawn refactor -p Refactor").ok();
    sh(&env, &env.repo, "git agents merge refactor").ok();
    let wt = env.worktree("refactor");
    for n in ["1", "2"] {
        std::fs::write(wt.join("more.txt"), n).unwrap();
        env.git_in(&wt, &["add", "more.txt"]);
        env.git_in(&wt, &["commit", "-q", "-m", "more"]);
    }
    let prune = console_commands(&section("## Cleaning up"));
    assert_eq!(
        prune,
        [
            "git agents prune",
            "git agents prune refactor --force --yes"
        ]
    );
    run_each(&env, &env.repo, &prune, &[1, 0]);
    assert!(
        env.branches().iter().all(|b| !b.starts_with("agent/")),
        "{:?}",
        env.branches()
    );
}

#[test]
fn readme_aliases_and_custom_command_run_as_written() {
    let env = Env::new();
    fake_claude(&env);
    env.agent(
        "my-agent",
        r#"[ "$1" = "--message=Fix the flaky test" ] && [ "$2" = --branch ] && [ "$3" = agent/fix-the-flaky-test ] || exit 3
echo fixed > fixed.txt"#,
    );
    let agents = blocks(&section("## Agents"), "sh");
    assert_eq!(agents.len(), 1);
    let run = sh(&env, &env.repo, &agents[0]);
    assert_eq!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    assert_eq!(env.record("fix-the-flaky-test")["state"], "succeeded");

    let aliases = console_commands(&section("### Aliases"));
    assert_eq!(aliases.len(), 3, "{aliases:?}");
    run_each(&env, &env.repo, &aliases, &[0, 0, 0]);
    assert_eq!(env.record("fix-the-flaky-login-test")["state"], "succeeded");
    run_each(&env, &env.repo, &["git al --json".to_string()], &[0]);
}

#[test]
fn readme_completion_and_man_install_lines_work_in_a_fresh_home() {
    let env = Env::new();
    // A HOME that has nothing in it yet, not even ~/.local.
    let home = env.root.join("fresh-home");
    std::fs::create_dir(&home).unwrap();
    let text = section("### Shell completion");
    let install = blocks(&text, "sh");
    assert_eq!(install.len(), 1, "{text}");
    let mut script = format!("export HOME='{}'\n", home.display());
    script.push_str(&install[0]);
    let run = sh(&env, &home, &script);
    assert_eq!(run.code(), 0, "{}\n{}", install[0], run.stderr());
    for (shell, file) in [
        (
            "bash",
            ".local/share/bash-completion/completions/git-agents",
        ),
        ("zsh", ".zfunc/_git-agents"),
        ("fish", ".config/fish/completions/git-agents.fish"),
    ] {
        let want = env.run(&["completions", shell]).ok().stdout();
        let got = std::fs::read_to_string(home.join(file)).unwrap_or_default();
        assert!(got == want, "{file} is not the {shell} script");
    }
    // bash-completion finds it under that name; sourcing it registers `git-agents`.
    let bash = format!(
        "source '{}' && complete -p git-agents",
        home.join(".local/share/bash-completion/completions/git-agents")
            .display()
    );
    let mut cmd = std::process::Command::new("bash");
    env.apply(&mut cmd);
    let out = cmd.args(["--norc", "-c", &bash]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The man page install line, in the same fresh HOME.
    let man = console_commands(&section("### Man pages"));
    let install = man.iter().find(|c| c.contains("--install")).unwrap();
    let run = sh(
        &env,
        &home,
        &format!("export HOME='{}'\n{install}", home.display()),
    );
    assert_eq!(run.code(), 0, "{install}: {}", run.stderr());
    assert!(home.join(".local/share/man/man1/git-agents.1").is_file());
}

// ---------------------------------------------------------------------------------------
// Completion through a git alias.

/// git's bash completion script, where this system keeps it.
fn git_completion_script() -> Option<std::path::PathBuf> {
    [
        "/usr/share/bash-completion/completions/git",
        "/usr/share/git-core/contrib/completion/git-completion.bash",
        "/usr/share/git/completion/git-completion.bash",
        "/usr/local/share/bash-completion/completions/git",
        "/etc/bash_completion.d/git",
    ]
    .iter()
    .map(std::path::PathBuf::from)
    .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("__git_aliased_command")))
}

/// The candidates bash offers for each line (cursor at its end), through git's
/// completion and ours, in a non-interactive bash with COMP_WORDS set by hand.
fn complete(env: &Env, git_script: &Path, lines: &[&str]) -> Vec<Vec<String>> {
    let ours = env.root.join("git-agents.bash");
    std::fs::write(&ours, env.run(&["completions", "bash"]).ok().stdout()).unwrap();
    let mut script = format!(
        r#"
source '{git}'
source '{ours}'
complete_line() {{
    COMP_LINE="$1"
    COMP_POINT=${{#COMP_LINE}}
    read -ra COMP_WORDS <<< "$1"
    [[ "$1" == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
    COMPREPLY=()
    __git_wrap__git_main
    printf '%s\n' "RESULT ${{COMPREPLY[*]}}"
}}
"#,
        git = git_script.display(),
        ours = ours.display()
    );
    for l in lines {
        script.push_str(&format!("complete_line '{l}'\n"));
    }
    let mut cmd = std::process::Command::new("bash");
    env.apply(&mut cmd);
    let out = cmd
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<Vec<String>> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT"))
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect();
    assert_eq!(
        results.len(),
        lines.len(),
        "bash printed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    results
}

#[test]
fn bash_completes_through_git_aliases_of_agents() {
    let Some(git_script) = git_completion_script() else {
        eprintln!("note: git's bash completion script not found; skipping");
        return;
    };
    let env = Env::new();
    std::os::unix::fs::symlink(BIN, env.bin.join("git-agents")).unwrap();
    env.write(
        "agents.yaml",
        "tasks:\n  - id: alpha\n    prompt: A\n  - id: beta\n    prompt: B\n",
    );
    for (name, value) in [
        ("sa", "agents spawn"),
        // An alias of an alias adds its words after the inner one's.
        ("sc", "sa --agent"),
        ("lg", "agents logs"),
        // git's own quoting of alias values.
        ("q", "agents 'spawn'"),
        ("cq", "-c agents.jobs=2 agents \"spawn\""),
        // A shell alias: its plain words up to the shell syntax.
        ("sh", "!git agents spawn \"$@\"; echo done"),
        ("ag", "agents"),
        ("st", "status"),
    ] {
        env.git(&["config", "--global", &format!("alias.{name}"), value]);
    }
    let repo = env.repo.display().to_string();
    let lines = [
        "git sa --ag".to_string(),
        "git sc c".to_string(),
        "git lg ".to_string(),
        "git q --ag".to_string(),
        "git cq --ag".to_string(),
        "git sh --ag".to_string(),
        "git ag sp".to_string(),
        "git ag spawn --ag".to_string(),
        format!("git -C {repo} sa --ag"),
        format!("git -C {repo} lg b"),
        "git agents spawn --ag".to_string(),
        "git agents logs ".to_string(),
        "git st --shor".to_string(),
    ];
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let r = complete(&env, &git_script, &lines);
    let want: &[&[&str]] = &[
        &["--agent", "--agents"],
        &["claude", "codex", "cursor-agent"],
        &["alpha", "beta"],
        &["--agent", "--agents"],
        &["--agent", "--agents"],
        &["--agent", "--agents"],
        &["spawn"],
        &["--agent", "--agents"],
        &["--agent", "--agents"],
        &["beta"],
        &["--agent", "--agents"],
        &["alpha", "beta"],
        &["--short"],
    ];
    for ((line, got), want) in lines.iter().zip(&r).zip(want) {
        assert_eq!(got, want, "{line:?}");
    }
}
