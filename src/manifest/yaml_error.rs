//! serde_yaml's errors as `file:line:col: message`, with the position moved onto the
//! offending key where serde_yaml places it at the enclosing mapping.

use std::path::Path;

use crate::error::Error;

pub(super) fn yaml_error(path: &Path, text: &str, e: &serde_yaml::Error) -> Error {
    let mut msg = e.to_string();
    // serde_yaml appends " at line L column C"; we put the position first, like compilers.
    if let Some(i) = msg.find(" at line ") {
        msg.truncate(i);
    }
    match e.location() {
        Some(loc) => {
            let (line, col) = refine_position(text, &msg, loc.line(), loc.column());
            Error::usage(format!("{}:{line}:{col}: {msg}", path.display()))
        }
        None => Error::usage(format!("{}: {msg}", path.display())),
    }
}

/// serde_yaml places errors raised inside a mapping at the mapping's start; for an
/// unknown or duplicate key, point at the key itself (the first line at or after the
/// mapping's start, at its indentation or deeper, that begins with `key:`).
fn refine_position(text: &str, msg: &str, line: usize, col: usize) -> (usize, usize) {
    let key = ["unknown field `", "duplicate field `"]
        .iter()
        .find_map(|p| {
            msg.split_once(p)
                .and_then(|(_, rest)| rest.split_once('`'))
                .map(|(k, _)| k)
        });
    let Some(key) = key else {
        return (line, col);
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut found = 0;
    for (i, l) in lines.iter().enumerate().skip(line.saturating_sub(1)) {
        let stripped = l.trim_start().trim_start_matches("- ").trim_start();
        let indent = l.len() - stripped.len();
        if i + 1 > line && indent + 1 < col {
            break; // left the mapping
        }
        if stripped.starts_with(&format!("{key}:")) {
            found += 1;
            // A duplicate is the second occurrence.
            if !msg.contains("duplicate field") || found == 2 {
                return (i + 1, indent + 1);
            }
        }
    }
    (line, col)
}
