//! Plain text tables: columns padded to their widest cell, our colour codes kept and
//! every other control character escaped.

use super::escape_control;

/// A plain text table: columns padded to their widest cell, no trailing spaces.
/// `cells` may contain the colour codes [`paint`](super::paint) makes; widths are
/// measured without them. Cells often hold repository text (conflicting paths, details,
/// branches), so every other control character is shown escaped, as [`escape_control`]
/// does.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| escape_cell(c)).collect())
        .collect();
    let width = |s: &str| strip_ansi(s).chars().count();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let mut l = String::new();
        let last = cells.len().saturating_sub(1);
        for (i, cell) in cells.iter().enumerate() {
            l.push_str(cell);
            if i < last {
                l.push_str(&" ".repeat(widths[i] - width(cell) + 2));
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|s| s.to_string()).collect());
    for row in rows {
        line(row);
    }
    out
}

/// SGR parameters [`paint`](super::paint) uses: colours and weights that can never hide
/// text (no conceal, no colour pairs chosen by the repository).
const OUR_SGR: [&str; 8] = ["0", "1", "2", "31", "32", "33", "36", "31;1"];

/// A table cell with every control character escaped except the colour codes that
/// [`paint`](super::paint) writes.
fn escape_cell(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut rest = cell;
    while let Some(at) = rest.find('\x1b') {
        out.push_str(&escape_control(&rest[..at]));
        let tail = &rest[at + 1..];
        let ours = tail
            .strip_prefix('[')
            .and_then(|t| t.split_once('m'))
            .filter(|(params, _)| OUR_SGR.contains(params));
        match ours {
            Some((params, after)) => {
                out.push_str("\x1b[");
                out.push_str(params);
                out.push('m');
                rest = after;
            }
            None => {
                out.push_str("\\e");
                rest = tail;
            }
        }
    }
    out.push_str(&escape_control(rest));
    out
}

pub(super) fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::paint;

    #[test]
    fn table_cells_keep_our_colours_and_escape_the_rest() {
        let hostile = "a\r\x1b[2Kb\x1b[8mhidden\x07\u{202e}";
        let t = table(
            &["ID", "DETAIL"],
            &[vec![paint(true, "31;1", "x"), hostile.to_string()]],
        );
        assert!(t.contains("\x1b[31;1mx\x1b[0m"), "{t:?}");
        assert!(t.contains(r"a\r\e[2Kb\e[8mhidden\x07\u{202e}"), "{t:?}");
        assert_eq!(t.matches('\x1b').count(), 2, "{t:?}");
    }

    #[test]
    fn table_pads_without_trailing_space() {
        let t = table(
            &["ID", "STATE"],
            &[
                vec!["a".into(), paint(true, "32", "ok")],
                vec!["longer".into(), "x".into()],
            ],
        );
        assert_eq!(strip_ansi(&t), "ID      STATE\na       ok\nlonger  x\n");
    }
}
