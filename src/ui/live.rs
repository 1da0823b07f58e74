//! The live table: painted at once on a terminal, cells updated in place as slow facts
//! arrive, then the final table printed in its place.

use super::{Ui, table};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// A table painted at once with what is known, whose cells are then updated in place as
/// slow facts arrive; the final paint is the same text [`table`] gives. Only for stdout
/// on a terminal that understands cursor movement ([`Ui::live_table`]).
///
/// While live, each line is cut to the terminal's width, so that one line of text is
/// one line on screen and the cursor can go back over them; a table taller than the
/// screen shows its first rows while live. The final paint erases the live lines and
/// prints the whole table as plain output, which may wrap and scroll freely.
pub struct LiveTable {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Rows shown while live (those that fit on the screen).
    shown: usize,
    width: usize,
    /// The lines now on screen, header first.
    painted: Vec<String>,
    last_paint: Instant,
}

/// Repaints at most this often; the last state is always painted by `finish`.
const LIVE_REPAINT: Duration = Duration::from_millis(40);

impl Ui {
    /// A live table when stdout is a terminal that moves its cursor (not `TERM=dumb`);
    /// `None` otherwise, and the caller prints [`table`] once everything is known.
    pub fn live_table(&self, header: &[&str], rows: Vec<Vec<String>>) -> Option<LiveTable> {
        if !std::io::stdout().is_terminal() || std::env::var_os("TERM").is_some_and(|t| t == "dumb")
        {
            return None;
        }
        let (height, width) = terminal_size();
        let mut t = LiveTable {
            header: header.iter().map(|h| h.to_string()).collect(),
            shown: rows.len().min(height.saturating_sub(2)),
            rows,
            width,
            painted: Vec::new(),
            last_paint: Instant::now(),
        };
        t.paint();
        Some(t)
    }
}

impl LiveTable {
    /// Row `i` now reads `cells`; painted now or at the next repaint.
    pub fn set(&mut self, i: usize, cells: Vec<String>) {
        if let Some(row) = self.rows.get_mut(i) {
            *row = cells;
        }
        if self.last_paint.elapsed() >= LIVE_REPAINT {
            self.paint();
        }
    }

    /// The final paint: the whole table as [`table`] prints it, in place of the live one.
    pub fn finish(mut self) {
        let mut out = String::new();
        if !self.painted.is_empty() {
            // Back to the table's first line, and clear from there down.
            out.push_str(&format!("\x1b[{}A\r\x1b[J", self.painted.len()));
        }
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        out.push_str(&table(&header, &self.rows));
        self.painted.clear();
        write_stdout(&out);
    }

    fn paint(&mut self) {
        let header: Vec<&str> = self.header.iter().map(String::as_str).collect();
        let text = table(&header, &self.rows[..self.shown]);
        let lines: Vec<String> = text.lines().map(|l| fit(l, self.width)).collect();
        let mut out = String::new();
        if !self.painted.is_empty() {
            out.push_str(&format!("\x1b[{}A", self.painted.len()));
        }
        for (i, line) in lines.iter().enumerate() {
            if self.painted.get(i) == Some(line) {
                out.push_str("\r\x1b[1B"); // unchanged: step over it
            } else {
                out.push_str("\r\x1b[2K");
                out.push_str(line);
                out.push('\n');
            }
        }
        write_stdout(&out);
        self.painted = lines;
        self.last_paint = Instant::now();
    }
}

fn write_stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// The terminal's rows and columns (24×80 when it does not say).
fn terminal_size() -> (usize, usize) {
    // SAFETY: TIOCGWINSZ fills the struct we own; failure leaves it zeroed.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    let rows = if ok && ws.ws_row > 0 {
        ws.ws_row as usize
    } else {
        24
    };
    let cols = if ok && ws.ws_col > 0 {
        ws.ws_col as usize
    } else {
        80
    };
    (rows, cols)
}

/// `line` cut to fewer than `width` visible characters (the last column is left free:
/// some terminals wrap when it is written), colour codes kept whole and reset.
fn fit(line: &str, width: usize) -> String {
    let max = width.saturating_sub(1);
    let mut out = String::with_capacity(line.len());
    let mut visible = 0;
    let mut coloured = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            coloured = true;
            out.push(c);
            for c in chars.by_ref() {
                out.push(c);
                if c == 'm' {
                    break;
                }
            }
        } else if visible < max {
            out.push(c);
            visible += 1;
        }
    }
    if coloured {
        out.push_str("\x1b[0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::paint;
    use crate::ui::table::strip_ansi;

    #[test]
    fn fit_cuts_visible_text_and_keeps_colour_codes_whole() {
        assert_eq!(fit("abcdef", 4), "abc");
        assert_eq!(fit("ab", 80), "ab");
        let coloured = format!("x {}", paint(true, "32", "succeeded"));
        assert_eq!(fit(&coloured, 6), "x \x1b[32msuc\x1b[0m\x1b[0m");
        assert_eq!(strip_ansi(&fit(&coloured, 6)), "x suc");
    }
}
