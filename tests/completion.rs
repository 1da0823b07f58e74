//! Shell completion as a user gets it: bash through git's own completion script (so
//! `git agents <TAB>` reaches our `_git_agents`), `git-agents` directly, task ids from
//! the store and the manifest, and fish when it is installed. Skipped, with a note, when
//! git's completion script (or fish) is not on this machine.

mod common;

use common::{BIN, Env};
use std::path::{Path, PathBuf};
use std::process::Command;

/// git's bash completion script, wherever this system keeps it.
fn git_completion_script() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = [
        "/usr/share/bash-completion/completions/git",
        "/usr/share/git-core/contrib/completion/git-completion.bash",
        "/usr/share/git/completion/git-completion.bash",
        "/usr/local/share/bash-completion/completions/git",
        "/etc/bash_completion.d/git",
        "/opt/homebrew/etc/bash_completion.d/git-completion.bash",
        "/usr/local/etc/bash_completion.d/git-completion.bash",
    ]
    .iter()
    .map(PathBuf::from)
    .collect();
    // git installed from source keeps it next to its exec path.
    if let Ok(out) = Command::new("git").arg("--exec-path").output() {
        let exec = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if let Some(prefix) = exec.parent().and_then(Path::parent) {
            candidates.push(prefix.join("share/bash-completion/completions/git"));
            candidates.push(prefix.join("share/git-core/contrib/completion/git-completion.bash"));
        }
    }
    candidates
        .into_iter()
        .find(|p| p.is_file() && std::fs::read_to_string(p).is_ok_and(|t| t.contains("__git_main")))
}

fn has(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A repository with manifest tasks alpha and beta, a spawned ad-hoc task `extra`, and
/// a pruned tombstone `gone`; git-agents on PATH so `git agents` runs it.
fn setup() -> Env {
    let env = Env::new();
    std::os::unix::fs::symlink(BIN, env.bin.join("git-agents")).unwrap();
    env.agent("writer", "echo change > \"out-$GIT_AGENTS_TASK.txt\"");
    env.write(
        "agents.yaml",
        "command: [writer]\ntasks:\n  - id: alpha\n    prompt: A\n  - id: beta\n    prompt: B\n",
    );
    env.run(&["spawn", "extra", "-p", "Extra work"]).ok();
    env.run(&["spawn", "gone", "-p", "Gone work"]).ok();
    let path = env.agents_dir().join("tasks/gone.json");
    let mut rec = env.record("gone");
    rec["pruned"] = serde_json::Value::Bool(true);
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    env
}

/// Complete each line (cursor at its end) in one bash that sourced git's completion and
/// ours; returns the candidates per line, trimmed of the spaces git adds.
fn bash_complete(env: &Env, dir: &Path, git_script: &Path, lines: &[&str]) -> Vec<Vec<String>> {
    let ours = env.root.join("git-agents.bash");
    let out = env.cmd(&["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    std::fs::write(&ours, &out.stdout).unwrap();
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
    if [[ ${{COMP_WORDS[0]}} == git ]]; then
        __git_wrap__git_main
    else
        local cmd=$(complete -p "${{COMP_WORDS[0]}}" | sed 's/.*-F \([^ ]*\).*/\1/')
        "$cmd" "${{COMP_WORDS[0]}}" "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
    fi
    printf '%s\n' "RESULT ${{COMPREPLY[*]}}"
}}
"#,
        git = git_script.display(),
        ours = ours.display()
    );
    for l in lines {
        script.push_str(&format!("complete_line '{l}'\n"));
    }
    let mut cmd = Command::new("bash");
    env.apply(&mut cmd);
    let out = cmd
        .current_dir(dir)
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
fn bash_through_gits_completion() {
    let Some(git_script) = git_completion_script() else {
        eprintln!("note: git's bash completion script not found; skipping");
        return;
    };
    let env = setup();
    let lines = [
        "git ag",
        "git agents sp",
        "git agents spawn --",
        "git-agents spawn --",
        "git agents spawn --ag",
        "git agents spawn --agent c",
        "git agents logs ",
        "git agents logs a",
        "git-agents path ",
        "git agents spawn -p ",
        "git agents spawn alpha ",
        "git agents ",
    ];
    let r = bash_complete(&env, &env.repo, &git_script, &lines);
    let has_all = |i: usize, want: &[&str]| {
        for w in want {
            assert!(
                r[i].iter().any(|c| c == w),
                "{:?}: {w} not in {:?}",
                lines[i],
                r[i]
            );
        }
    };
    assert_eq!(r[0], ["agents"], "git lists git-agents as a command");
    assert_eq!(r[1], ["spawn"]);
    // clap #6421: subcommand options complete, through git and directly.
    has_all(
        2,
        &["--prompt", "--agent", "--jobs", "--json", "--manifest"],
    );
    assert_eq!(r[2], r[3]);
    assert_eq!(r[4], ["--agent", "--agents"]);
    assert_eq!(r[5], ["claude", "codex", "cursor-agent"]);
    // Task ids: the manifest's and the store's, never a pruned tombstone.
    assert_eq!(r[6], ["alpha", "beta", "extra"]);
    assert_eq!(r[7], ["alpha"]);
    assert_eq!(r[8], ["alpha", "beta", "extra"]);
    // The word after an option that takes a value is not an id.
    assert!(!r[9].iter().any(|c| c == "alpha"), "{:?}", r[9]);
    has_all(10, &["alpha", "beta"]);
    has_all(11, &["spawn", "logs", "path", "completions", "man", "init"]);
    // A hidden id source never shows: no subcommand other than the real ones.
    assert!(
        r[11]
            .iter()
            .all(|c| !c.contains("complete") || c == "completions")
    );
}

/// Every visible subcommand's long options complete after `git agents SUB --`, so a
/// command that lands later is covered without touching this test.
#[test]
fn bash_every_subcommand_completes_its_options() {
    use clap::CommandFactory;
    let Some(git_script) = git_completion_script() else {
        eprintln!("note: git's bash completion script not found; skipping");
        return;
    };
    let env = setup();
    let mut cmd = git_agents::cli::Cli::command();
    cmd.build();
    let subs: Vec<(String, Vec<String>)> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .map(|s| {
            let longs = s
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect();
            (s.get_name().to_string(), longs)
        })
        .collect();
    let lines: Vec<String> = subs
        .iter()
        .flat_map(|(name, _)| {
            [
                format!("git agents {name} --"),
                format!("git-agents {name} --"),
            ]
        })
        .collect();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let r = bash_complete(&env, &env.repo, &git_script, &refs);
    for (i, (name, longs)) in subs.iter().enumerate() {
        for long in longs {
            for got in [&r[2 * i], &r[2 * i + 1]] {
                assert!(got.contains(long), "{name}: {long} not offered: {got:?}");
            }
        }
    }
}

/// `-C` decides which repository the ids come from: git's own (`git -C repo agents`)
/// and ours (`git-agents -C repo`), from outside the repository.
#[test]
fn bash_ids_follow_dash_c() {
    let Some(git_script) = git_completion_script() else {
        eprintln!("note: git's bash completion script not found; skipping");
        return;
    };
    let env = setup();
    let lines = [
        "git -C repo agents logs ",
        "git-agents -C repo logs ",
        "git agents -C repo path ",
        "git agents logs ",
    ];
    let r = bash_complete(&env, &env.root, &git_script, &lines);
    for i in 0..3 {
        assert_eq!(r[i], ["alpha", "beta", "extra"], "{}", lines[i]);
    }
    assert!(r[3].is_empty(), "outside a repository: {:?}", r[3]);
}

#[test]
fn id_source_is_an_environment_trigger() {
    let env = setup();
    let out = env
        .cmd(&[])
        .env("GIT_AGENTS_COMPLETE", "ids")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "alpha\nbeta\nextra\n");
    // With -C and --manifest, as typed on the command line being completed.
    env.write(
        "other.yaml",
        "command: [writer]\ntasks:\n  - id: zeta\n    prompt: Z\n",
    );
    let out = env
        .cmd(&["-C", "repo", "--manifest", "other.yaml", "logs"])
        .current_dir(&env.root)
        .env("GIT_AGENTS_COMPLETE", "ids")
        .output()
        .unwrap();
    // The manifest's tasks, then the spawned ones that are not in it.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "zeta\nextra\n");
    // Outside a repository: nothing, quietly.
    let out = env
        .cmd(&[])
        .current_dir(&env.root)
        .env("GIT_AGENTS_COMPLETE", "ids")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn fish_completes_git_agents_and_ids() {
    if !has("fish") {
        eprintln!("note: fish not installed; skipping");
        return;
    }
    let env = setup();
    let dir = env.root.join("fish");
    std::fs::create_dir_all(&dir).unwrap();
    let out = env.cmd(&["completions", "fish"]).output().unwrap();
    std::fs::write(dir.join("git-agents.fish"), &out.stdout).unwrap();
    let script = format!(
        "set fish_complete_path {dir} $fish_complete_path
source {dir}/git-agents.fish
for line in 'git-agents spawn --ag' 'git-agents logs ' 'git agents logs ' 'git agents sp'
    echo RESULT (complete -C $line | string replace -r '\\t.*' '')
end",
        dir = dir.display()
    );
    let mut cmd = Command::new("fish");
    env.apply(&mut cmd);
    let out = cmd
        .env("XDG_CONFIG_HOME", env.root.join("config"))
        .env("XDG_DATA_HOME", env.root.join("data"))
        .args(["-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT"))
        .map(str::trim)
        .collect();
    assert_eq!(
        r,
        ["--agent", "alpha beta extra", "alpha beta extra", "spawn"],
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn zsh_script_is_found_by_gits_completion() {
    // `_git` lists `_git-*` files on $fpath as commands, with the text of a
    // `#description` line 2; running zsh completion needs a terminal, so the runtime
    // check is done by hand (see README); here the shape it relies on.
    let env = Env::new();
    let out = env.cmd(&["completions", "zsh"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#compdef git-agents"));
    assert!(lines.next().unwrap().starts_with("#description "));
    assert!(text.contains("_git-agents() {"));
    assert!(text.contains("GIT_AGENTS_COMPLETE=ids git-agents"));
    if has("zsh") {
        let mut cmd = Command::new("zsh");
        env.apply(&mut cmd);
        let f = env.root.join("_git-agents");
        std::fs::write(&f, &text).unwrap();
        let out = cmd.args(["-n", f.to_str().unwrap()]).output().unwrap();
        assert!(
            out.status.success(),
            "zsh -n: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
