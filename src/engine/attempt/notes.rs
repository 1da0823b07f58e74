//! What a failed attempt leaves the next one: the tail of its log, in the notes file.

use anyhow::Result;
use std::io::Write;
use std::path::Path;

/// The last `lines` lines of the task's log from this attempt.
pub fn tail_of_log(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    // Only this attempt's part of the log.
    let part = match text.rfind("==> git-agents: ") {
        Some(i) => &text[i..],
        None => &text[..],
    };
    let all: Vec<&str> = part.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Note a failed attempt in the task's notes (which the next attempt's agent can read):
/// why, and the last lines of its output.
pub fn append_notes(path: &Path, n: u32, detail: &str, tail: &str) -> Result<()> {
    let mut file = crate::store::private_file(path, false)?;
    writeln!(file, "## Attempt {n} failed: {detail}\n")?;
    writeln!(file, "Last lines of its output:\n")?;
    for line in tail.lines() {
        writeln!(file, "    {line}")?;
    }
    writeln!(file)?;
    Ok(())
}
