//! Property tests (a small deterministic generator, no extra crate): the manifest parser
//! and id validation never panic on arbitrary input, and what they accept obeys the rules.

use git_agents::manifest;
use git_agents::task::TaskId;
use std::path::Path;

/// xorshift64*: reproducible pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn id_rule(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

#[test]
fn accepted_ids_obey_the_rule_and_never_escape() {
    let alphabet = [
        "a", "z", "0", "9", ".", "..", "_", "-", "/", "\\", "A", " ", "é", "\0", "\n", ".lock",
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..50_000 {
        let len = rng.below(70);
        let s: String = (0..len).map(|_| rng.pick(&alphabet)).collect();
        if let Ok(id) = TaskId::parse(&s) {
            assert!(id_rule(id.as_str()), "accepted {s:?}");
            let p = Path::new("/w").join(id.as_str());
            assert_eq!(p.parent(), Some(Path::new("/w")), "{s:?} escapes");
            assert!(!id.as_str().contains(".."), "{s:?}");
        }
        // Slugs of anything are valid ids.
        let slug = TaskId::slug(&s, |_| false);
        assert!(
            TaskId::parse(slug.as_str()).is_ok(),
            "slug of {s:?} = {slug}"
        );
    }
}

#[test]
fn the_manifest_parser_never_panics() {
    let pieces = [
        "tasks:",
        "\n",
        "  - ",
        "id: ",
        "a",
        "prompt: ",
        "x",
        "prompt_file: ",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "'",
        "\"",
        "&a",
        "*a",
        "!!binary ",
        "---",
        "...",
        "#",
        "\t",
        "- ",
        "jobs: ",
        "-1",
        "99999999999999999999999",
        "0",
        "timeout: ",
        "1h",
        "env: ",
        "command: ",
        "agent: ",
        "claude",
        "setup: ",
        "copy: ",
        "null",
        "~",
        "true",
        "1e9",
        ".inf",
        "<<: *a",
        "? ",
        "\u{feff}",
        "\u{0}",
        "é",
        "merge_strategy: ",
        "squash",
        "retries: ",
        "check: ",
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let dir = Path::new("/nonexistent-dir/agents.yaml");
    for _ in 0..20_000 {
        let n = rng.below(40);
        let text: String = (0..n).map(|_| rng.pick(&pieces)).collect();
        match manifest::parse(&text, dir) {
            Ok(m) => {
                for t in &m.tasks {
                    assert!(id_rule(t.id.as_str()));
                    assert!(!t.prompt.trim().is_empty());
                }
            }
            Err(e) => {
                assert!(
                    e.message.starts_with("/nonexistent-dir/agents.yaml"),
                    "{}",
                    e.message
                );
                assert!(
                    !e.message.contains('\n') || e.message.lines().count() <= 2,
                    "{}",
                    e.message
                );
            }
        }
    }
}
