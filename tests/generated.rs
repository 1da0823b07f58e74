//! The committed completion scripts (completions/) and man pages (man/) are exactly what
//! the binary generates. When they drift, this test fails; regenerate them with
//!
//! ```text
//! GIT_AGENTS_REGENERATE=1 cargo test --test generated
//! ```
//!
//! which rewrites the files (and removes man pages of commands that no longer exist).

use git_agents::cmd::{completions, man};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_git-agents");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every generated file, by path relative to the crate root.
fn expected() -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    for shell in completions::SHELLS {
        files.insert(
            Path::new("completions").join(completions::file_name(*shell)),
            completions::script(*shell),
        );
    }
    for (name, text) in man::pages() {
        files.insert(Path::new("man").join(name), text);
    }
    files
}

/// Files in the generated directories that generation would not produce.
fn stale(expected: &BTreeMap<PathBuf, String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["completions", "man"] {
        let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
            continue;
        };
        for e in entries.flatten() {
            let rel = Path::new(dir).join(e.file_name());
            if !expected.contains_key(&rel) {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn committed_files_match_the_binary() {
    let expected = expected();
    let regenerate = std::env::var_os("GIT_AGENTS_REGENERATE").is_some_and(|v| !v.is_empty());
    if regenerate {
        for (rel, text) in &expected {
            let path = root().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, text).unwrap();
        }
        for rel in stale(&expected) {
            std::fs::remove_file(root().join(rel)).unwrap();
        }
        return;
    }
    let mut problems = Vec::new();
    for (rel, text) in &expected {
        match std::fs::read_to_string(root().join(rel)) {
            Ok(on_disk) if on_disk == *text => {}
            Ok(_) => problems.push(format!("{} differs", rel.display())),
            Err(_) => problems.push(format!("{} is missing", rel.display())),
        }
    }
    for rel in stale(&expected) {
        problems.push(format!("{} is not generated any more", rel.display()));
    }
    assert!(
        problems.is_empty(),
        "generated files are out of date:\n  {}\nregenerate them with: GIT_AGENTS_REGENERATE=1 cargo test --test generated",
        problems.join("\n  ")
    );
}

/// What the commands print is what was committed (the library and the binary agree).
#[test]
fn commands_print_the_generated_text() {
    let files = expected();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let parsed: clap_complete::Shell = shell.parse().unwrap();
        let rel = Path::new("completions").join(completions::file_name(parsed));
        assert_eq!(text, files[&rel], "{shell}");
    }
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        files[Path::new("man/git-agents.1")]
    );
}

/// Generation depends on nothing but the code: twice gives the same bytes, and no page
/// carries a date (the third field of `.TH` is empty).
#[test]
fn generation_is_deterministic() {
    assert_eq!(expected(), expected());
    let version = env!("CARGO_PKG_VERSION");
    for (name, text) in man::pages() {
        let th = text.lines().find(|l| l.starts_with(".TH ")).unwrap();
        let title = name.trim_end_matches(".1").to_uppercase();
        assert_eq!(
            th,
            format!(".TH {title} 1  \"git-agents {version}\" \"Git Agents Manual\""),
            "{name}"
        );
    }
}

#[test]
fn one_page_per_visible_subcommand() {
    use clap::CommandFactory;
    let cmd = git_agents::cli::Cli::command();
    let names: Vec<String> = man::pages().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names[0], "git-agents.1");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        let page = format!("git-agents-{}.1", sub.get_name());
        assert!(names.contains(&page), "{page} missing from {names:?}");
    }
}
