//! `list` at scale (issue 19): no file's content read twice for the same answer (the
//! index learns what a count found, as `git status` makes it), never at the cost of a
//! lock someone else holds or a wrong count; and on a terminal the table shows at once.

mod common;

use common::{Env, tasks};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// A fake agent that writes its prompt into a file named after the task.
fn writer(env: &Env) {
    env.agent(
        "fake-agent",
        r#"printf '%s\n' "$1" > "out-$GIT_AGENTS_TASK.txt""#,
    );
}

/// A repository whose `*.txt` files go through a clean filter that notes each read in
/// the file `$LIST_READS` names (when set), then passes the content through unchanged.
/// git and gitoxide run the clean filter on a file exactly when they compare its
/// content with the index: counting its runs counts content reads, with no tracing.
fn counting_repo() -> Env {
    let env = Env::new();
    env.git(&[
        "config",
        "filter.count.clean",
        r#"[ -n "$LIST_READS" ] && echo read >> "$LIST_READS"; exec cat"#,
    ]);
    env.write(".gitattributes", "*.txt filter=count\n");
    for d in ["a", "b", "c"] {
        for f in ["one", "two", "three"] {
            env.write(&format!("{d}/{f}.txt"), &format!("{d} {f}\n"));
        }
    }
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "files"]);
    env
}

/// How many file contents a `list --json` read, and its tasks.
fn counted_list(env: &Env, extra: &[(&str, &str)]) -> (usize, serde_json::Value) {
    let reads = env.root.join(format!(
        "reads-{}",
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut cmd = env.cmd(&["list", "--json"]);
    cmd.env("LIST_READS", &reads);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = std::fs::read_to_string(&reads)
        .map(|s| s.lines().count())
        .unwrap_or(0);
    (n, serde_json::from_slice(&out.stdout).unwrap())
}

fn index_of(env: &Env, wt: &Path) -> PathBuf {
    let p = env.git_in(
        wt,
        &["rev-parse", "--path-format=absolute", "--git-path", "index"],
    );
    PathBuf::from(p.trim())
}

/// Who a file is (changes whenever it is rewritten or replaced).
fn identity(p: &Path) -> (u64, i64, i64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.mtime(), m.mtime_nsec(), m.len())
}

fn tracked(env: &Env, wt: &Path) -> Vec<String> {
    env.git_in(wt, &["ls-files"])
        .lines()
        .map(String::from)
        .collect()
}

/// Make every file of `wt` an hour old and its index exactly as old: each entry is then
/// racily clean (as new as the index), so git and list must compare every file's content,
/// as in a worktree checked out the second its index was written, without waiting for
/// the clock. The stat data the index holds are the files' own.
fn age_and_race(env: &Env, wt: &Path) -> SystemTime {
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(unix_secs(SystemTime::now()) - 3600);
    touch_all(wt, old);
    refresh(env, wt);
    set_mtime(&index_of(env, wt), old);
    old
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

/// Set the mtime of every file and link of `wt` (its `.git` file aside) to `t`.
fn touch_all(wt: &Path, t: SystemTime) {
    let ok = Command::new("find")
        .current_dir(wt)
        .args([
            ".", "-path", "./.git", "-prune", "-o", "-exec", "touch", "-h", "-d",
        ])
        .arg(format!("@{}", unix_secs(t)))
        .args(["{}", "+"])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// `git update-index --refresh`: the index takes the files' stat data as they are.
fn refresh(env: &Env, wt: &Path) {
    let mut cmd = Command::new("git");
    env.apply(&mut cmd);
    // Exit 1 only says some file differs; the refresh is done all the same.
    cmd.current_dir(wt)
        .args(["update-index", "-q", "--refresh"])
        .status()
        .unwrap();
}

fn set_mtime(p: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

fn porcelain(env: &Env, wt: &Path) -> String {
    env.git_in(wt, &["status", "--porcelain", "--untracked-files=all"])
}

/// Wait until the clock has left the second of every file's last change, so that what a
/// count learns about them may be kept (no longer than that).
fn past_their_second(wt: &Path) {
    let newest = walk(wt)
        .iter()
        .filter_map(|p| std::fs::symlink_metadata(p).ok()?.modified().ok())
        .max()
        .unwrap();
    let secs = newest
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let target = SystemTime::UNIX_EPOCH + Duration::from_secs(secs + 1) + Duration::from_millis(80);
    if let Ok(wait) = target.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name() == ".git" {
            continue;
        }
        let p = e.path();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_second_list_on_a_fresh_spawn_reads_no_file_content() {
    let env = counting_repo();
    writer(&env);
    env.write(
        "agents.yaml",
        "command: [fake-agent, \"{prompt}\"]\ntasks:\n  - {id: one, prompt: One}\n  - {id: two, prompt: Two}\n",
    );
    env.run(&["spawn"]).ok();
    for id in ["one", "two"] {
        past_their_second(&env.worktree(id));
    }
    let files: usize = ["one", "two"]
        .iter()
        .map(|id| tracked(&env, &env.worktree(id)).len())
        .sum();
    let (first, doc) = counted_list(&env, &[]);
    assert!(first <= files, "{first} reads for {files} files");
    let (second, again) = counted_list(&env, &[]);
    assert_eq!(second, 0, "the second list read {second} files' content");
    assert_eq!(tasks(&doc), tasks(&again));
    for id in ["one", "two"] {
        assert_eq!(tasks(&again)[id]["dirty"], 0);
    }
}

#[test]
fn racy_entries_are_read_once_and_never_again() {
    let env = counting_repo();
    let wt = env.worktree("w");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "w"]);
    let before = porcelain(&env, &wt);
    age_and_race(&env, &wt);
    let index = index_of(&env, &wt);
    let raced = identity(&index);
    let txt = tracked(&env, &wt)
        .iter()
        .filter(|p| p.ends_with(".txt"))
        .count();

    let (first, _) = counted_list(&env, &[]);
    assert_eq!(first, txt, "each racily clean file read exactly once");
    assert_ne!(identity(&index), raced, "what it learnt is written back");
    let (second, doc) = counted_list(&env, &[]);
    assert_eq!(second, 0, "nothing read again");
    // The stray worktree is listed (orphaned) with the same count git gives.
    assert_eq!(tasks(&doc)["w"]["dirty"], 0);
    assert_eq!(porcelain(&env, &wt), before, "git status sees the same");
    // git agrees the refreshed index is clean without reading anything either.
    let reads = env.root.join("git-reads");
    let mut cmd = Command::new("git");
    env.apply(&mut cmd);
    let out = cmd
        .current_dir(&wt)
        .env("LIST_READS", &reads)
        .args(["status", "--porcelain"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!reads.exists(), "git status had to read content again");
}

#[test]
fn a_held_index_lock_is_never_waited_on_nor_touched() {
    let env = counting_repo();
    let wt = env.worktree("w");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "w"]);
    std::fs::write(wt.join("a/one.txt"), "changed\n").unwrap();
    std::fs::write(wt.join("new.txt"), "new\n").unwrap();
    let before = porcelain(&env, &wt);
    age_and_race(&env, &wt);
    let index = index_of(&env, &wt);
    let raced = identity(&index);
    let lock = index.with_extension("lock");
    std::fs::write(&lock, "held by another git\n").unwrap();

    let started = Instant::now();
    let (reads, doc) = counted_list(&env, &[]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "list waited for the lock: {:?}",
        started.elapsed()
    );
    assert!(reads > 0);
    assert_eq!(tasks(&doc)["w"]["dirty"], 2);
    assert_eq!(
        identity(&index),
        raced,
        "the index was written under a held lock"
    );
    assert_eq!(
        std::fs::read_to_string(&lock).unwrap(),
        "held by another git\n",
        "somebody else's lock was touched"
    );

    // Released, the next list writes back; what git reports does not change.
    std::fs::remove_file(&lock).unwrap();
    let (_, doc) = counted_list(&env, &[]);
    assert_eq!(tasks(&doc)["w"]["dirty"], 2);
    assert_ne!(identity(&index), raced);
    assert!(!lock.exists(), "no lock left behind");
    assert_eq!(porcelain(&env, &wt), before);
    // The changed file's size tells it apart: nothing is read any more.
    let (reads, _) = counted_list(&env, &[]);
    assert_eq!(reads, 0);
}

#[test]
fn optional_locks_off_leaves_every_index_alone() {
    let env = counting_repo();
    let wt = env.worktree("w");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "w"]);
    age_and_race(&env, &wt);
    let index = index_of(&env, &wt);
    let raced = identity(&index);
    for off in ["0", "false", "no", "off"] {
        let (reads, doc) = counted_list(&env, &[("GIT_OPTIONAL_LOCKS", off)]);
        assert!(
            reads > 0,
            "GIT_OPTIONAL_LOCKS={off}: still counted by content"
        );
        assert_eq!(tasks(&doc)["w"]["dirty"], 0);
        assert_eq!(
            identity(&index),
            raced,
            "GIT_OPTIONAL_LOCKS={off} wrote the index"
        );
    }
    let (_, _) = counted_list(&env, &[("GIT_OPTIONAL_LOCKS", "1")]);
    assert_ne!(identity(&index), raced, "GIT_OPTIONAL_LOCKS=1 allows it");
}

#[test]
fn the_index_of_a_running_task_is_never_locked() {
    let env = counting_repo();
    // An agent that runs until the test lets it go.
    env.agent(
        "waiter",
        "touch \"$GIT_AGENTS_WORKTREE.started\"\nwhile [ ! -e \"$GIT_AGENTS_WORKTREE.go\" ]; do sleep 0.05; done",
    );
    let mut spawn = env
        .cmd(&["spawn", "busy", "-p", "Wait", "--command", "waiter"])
        .spawn()
        .unwrap();
    let wt = env.worktree("busy");
    let started = wt.with_extension("started");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !started.exists() {
        assert!(Instant::now() < deadline, "the agent did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    age_and_race(&env, &wt);
    let index = index_of(&env, &wt);
    let raced = identity(&index);
    let (reads, doc) = counted_list(&env, &[]);
    assert_eq!(tasks(&doc)["busy"]["state"], "running");
    assert_eq!(tasks(&doc)["busy"]["dirty"], 0);
    assert!(reads > 0);
    assert_eq!(
        identity(&index),
        raced,
        "list locked a running task's index"
    );
    std::fs::write(wt.with_extension("go"), "").unwrap();
    assert!(spawn.wait().unwrap().success());
}

#[test]
fn a_racy_change_of_the_same_size_stays_dirty_after_a_write_back() {
    let env = Env::new();
    env.write("f.txt", "aaaa\n");
    env.write("g.txt", "gggg\n");
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "two"]);
    let wt = env.worktree("w");
    env.git(&["worktree", "add", "-q", wt.to_str().unwrap(), "-b", "w"]);
    let index = index_of(&env, &wt);
    let f = wt.join("f.txt");

    // The racy-git case: f.txt rewritten in place, same size, and its stat data equal to
    // what the index holds at git's (whole second) precision.
    let old = age_and_race(&env, &wt);
    let mut racy = false;
    for _ in 0..20 {
        std::fs::write(&f, "bbbb\n").unwrap();
        set_mtime(&f, old);
        if ctime_recorded(&env, &wt, "f.txt") == ctime_secs(&f) {
            racy = true;
            break;
        }
        // Refreshed in another second: start again from equal stat data.
        std::fs::write(&f, "aaaa\n").unwrap();
        set_mtime(&f, old);
        refresh(&env, &wt);
        set_mtime(&index, old);
    }
    assert!(racy, "could not set up equal stat data");
    // g.txt only touched: clean content, new stat data worth keeping, so list writes.
    set_mtime(&wt.join("g.txt"), old - Duration::from_secs(60));
    let raced = identity(&index);

    let t = tasks(&env.run(&["list", "--json"]).ok().json());
    assert_eq!(t["w"]["dirty"], 1, "the same-size change is seen");
    assert_ne!(identity(&index), raced, "the index was written back");
    // Written now, an index would make f.txt's equal stat data look clean: it is smudged.
    let debug = env.git_in(&wt, &["ls-files", "--debug", "f.txt"]);
    assert!(debug.contains("size: 0"), "{debug}");

    let t = tasks(&env.run(&["list", "--json"]).ok().json());
    assert_eq!(t["w"]["dirty"], 1, "still seen after the write-back");
    assert_eq!(porcelain(&env, &wt), " M f.txt\n");
}

fn ctime_secs(p: &Path) -> i64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).unwrap().ctime()
}

/// The ctime seconds the index records for `path`.
fn ctime_recorded(env: &Env, wt: &Path, path: &str) -> i64 {
    let debug = env.git_in(wt, &["ls-files", "--debug", path]);
    let line = debug
        .lines()
        .find_map(|l| l.trim().strip_prefix("ctime: "))
        .unwrap_or_else(|| panic!("{debug}"));
    line.split(':').next().unwrap().parse().unwrap()
}

#[test]
fn racy_counts_match_git_through_filters_links_and_big_files() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let env = Env::new();
    let big: String = (0..20_000).map(|i| format!("{i:09}\n")).collect();
    env.write(".gitattributes", "*.crlf text eol=crlf\n*.id ident\n");
    env.write("text.crlf", "one\ntwo\n");
    env.write("stamp.id", "$Id$\nbody\n");
    env.write("big.bin", &big);
    env.write("empty.txt", "");
    env.write("run.sh", "#!/bin/sh\n");
    std::fs::set_permissions(
        env.repo.join("run.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    env.write("plain.txt", "plain\n");
    symlink("plain.txt", env.repo.join("link")).unwrap();
    env.git(&["add", "-A"]);
    env.git(&["commit", "-q", "-m", "kinds"]);

    type Change = fn(&Path);
    let cases: Vec<(&str, Change)> = vec![
        ("clean", |_| {}),
        ("crlf-edit", |w| {
            std::fs::write(w.join("text.crlf"), "one\r\nTWO\r\n").unwrap()
        }),
        ("crlf-as-lf", |w| {
            // Same blob once converted, other bytes and size on disk: git says modified.
            std::fs::write(w.join("text.crlf"), "one\ntwo\n").unwrap()
        }),
        ("ident-edit", |w| {
            let p = w.join("stamp.id");
            let s = std::fs::read_to_string(&p).unwrap().replace("body", "BODY");
            std::fs::write(p, s).unwrap()
        }),
        ("big-edit", |w| {
            let p = w.join("big.bin");
            let mut s = std::fs::read_to_string(&p).unwrap();
            s.replace_range(150_000..150_009, "999999999");
            std::fs::write(p, s).unwrap()
        }),
        ("big-shrunk", |w| {
            std::fs::write(w.join("big.bin"), "short\n").unwrap()
        }),
        ("link-retarget", |w| {
            std::fs::remove_file(w.join("link")).unwrap();
            symlink("PLAIN.txt", w.join("link")).unwrap()
        }),
        ("empty-filled", |w| {
            std::fs::write(w.join("empty.txt"), "x").unwrap()
        }),
        ("exec-edit", |w| {
            std::fs::write(w.join("run.sh"), "#!/bin/SH\n").unwrap()
        }),
    ];
    let mut dirs = Vec::new();
    for (name, change) in &cases {
        let wt = env.worktree(name);
        env.git(&[
            "worktree",
            "add",
            "-q",
            wt.to_str().unwrap(),
            "-b",
            &format!("case-{name}"),
        ]);
        let old = age_and_race(&env, &wt);
        change(&wt);
        // Back to the old mtime, so the stat data says as little as it can.
        touch_all(&wt, old);
        dirs.push(wt);
    }
    let want: Vec<String> = dirs.iter().map(|wt| porcelain(&env, wt)).collect();
    // git status may have refreshed those indexes: make them racy again.
    for wt in &dirs {
        let old = std::fs::symlink_metadata(wt.join("plain.txt"))
            .unwrap()
            .modified()
            .unwrap();
        set_mtime(&index_of(&env, wt), old);
    }
    for round in ["racy", "written back"] {
        let t = tasks(&env.run(&["list", "--json"]).ok().json());
        let mut wrong = Vec::new();
        for (((name, _), wt), want) in cases.iter().zip(&dirs).zip(&want) {
            let lines = want.lines().count();
            if t[*name]["dirty"] != lines {
                wrong.push(format!(
                    "{round} {name}: list says {}, git says {lines}:\n{want}",
                    t[*name]["dirty"]
                ));
            }
            let now = porcelain(&env, wt);
            if &now != want {
                wrong.push(format!(
                    "{round} {name}: git status changed:\n{want}→\n{now}"
                ));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

/// Run `args` on a terminal (a pty from `script`), returning what it printed.
fn on_terminal(env: &Env, args: &str) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut cmd = Command::new(script);
    env.apply(&mut cmd);
    let out = cmd
        .env("TERM", "xterm")
        .args(["-q", "-f", "-e", "-c"])
        .arg(format!("{} {args}", common::BIN))
        .arg("/dev/null")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else if c != '\r' {
            out.push(c);
        }
    }
    out
}

/// Table lines as words, the AGE column (which moves with the clock) left out.
fn words(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_whitespace()
                .enumerate()
                .filter(|(i, _)| *i != 6)
                .map(|(_, w)| w.to_string())
                .collect()
        })
        .collect()
}

#[test]
fn on_a_terminal_ids_and_states_paint_before_the_slow_columns() {
    let env = Env::new();
    writer(&env);
    env.write(
        "agents.yaml",
        "command: [fake-agent, \"{prompt}\"]\ntasks:\n  - {id: alpha, prompt: A}\n  - {id: beta, prompt: B}\n  - {id: later, prompt: C}\n",
    );
    env.run(&["spawn", "alpha", "beta"]).ok();
    std::fs::write(env.worktree("beta").join("wip.txt"), "wip\n").unwrap();
    let Some(raw) = on_terminal(&env, "list") else {
        eprintln!("no `script` to make a terminal with: skipped");
        return;
    };
    // The first paint is everything before the cursor first goes back up.
    let up = raw.find("\x1b[").and_then(|_| {
        raw.match_indices("\x1b[")
            .find(|(i, _)| {
                let rest = &raw[i + 2..];
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                digits > 0 && rest[digits..].starts_with('A')
            })
            .map(|(i, _)| i)
    });
    let up = up.unwrap_or_else(|| panic!("never repainted:\n{raw:?}"));
    let first = words(&strip(&raw[..up]));
    assert_eq!(first[0][..5], ["ID", "STATE", "BRANCH", "COMMITS", "DIRTY"]);
    let rows: Vec<_> = first[1..].iter().map(|r| r[..5].join(" ")).collect();
    assert_eq!(
        rows,
        [
            "alpha succeeded agent/alpha .. ..",
            "beta succeeded agent/beta .. ..",
            "later pending - - -",
        ],
        "{raw:?}"
    );

    // The last paint is the whole table, as printed without a terminal.
    let last = raw.rfind("\x1b[J").expect("a final paint");
    let last = words(&strip(&raw[last..]));
    let plain = words(&env.run(&["list"]).ok().stdout());
    assert_eq!(last, plain, "{raw:?}");
    assert_eq!(plain[2][4], "1", "beta's wip file: {plain:?}");

    // --json is the same on a terminal.
    let json = on_terminal(&env, "list --json").unwrap().replace('\r', "");
    let a: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(tasks(&a), tasks(&env.run(&["list", "--json"]).ok().json()));
}
