//! The output layer: stdout carries data (tables, JSON), stderr carries status, progress
//! and errors. `--quiet` mutes status; progress bars appear only when stderr is a terminal.
//! This is the only module allowed to print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use crate::task::State;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: bool,
    /// Colour on stdout (tables).
    pub color: bool,
    /// Colour on stderr (status, errors).
    pub color_err: bool,
    pub stderr_tty: bool,
    pub stdin_tty: bool,
}

impl Ui {
    pub fn new(choice: ColorChoice, quiet: bool, verbose: bool) -> Ui {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let stderr_tty = std::io::stderr().is_terminal();
        let decide = |tty: bool| match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color,
        };
        Ui {
            quiet,
            verbose,
            color: decide(std::io::stdout().is_terminal()),
            color_err: decide(stderr_tty),
            stderr_tty,
            stdin_tty: std::io::stdin().is_terminal(),
        }
    }

    /// Write data to stdout. A closed pipe (`| head`) is not an error worth a panic.
    pub fn out(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    // Lines on stderr often carry text from the repository (paths, ids, commands, YAML
    // keys in a manifest error): control characters in them are always escaped here.

    /// A status line on stderr, muted by `--quiet`.
    pub fn status(&self, line: &str) {
        if !self.quiet {
            eprintln!("{}", escape_control_lines(line));
        }
    }

    /// A detail line on stderr, shown only with `--verbose`.
    pub fn debug(&self, line: &str) {
        if self.verbose && !self.quiet {
            eprintln!("{}", escape_control_lines(line));
        }
    }

    /// A warning on stderr; not muted by `--quiet`.
    pub fn warn(&self, line: &str) {
        let prefix = paint(self.color_err, "33", "warning:");
        eprintln!("{prefix} {}", escape_control_lines(line));
    }

    pub fn error(&self, message: &str, hint: Option<&str>) {
        let prefix = paint(self.color_err, "31;1", "error:");
        eprintln!("{prefix} {}", escape_control_lines(message));
        if let Some(h) = hint {
            let prefix = paint(self.color_err, "36", "hint:");
            eprintln!("{prefix} {}", escape_control_lines(h));
        }
    }

    /// Prompts are possible only when both stdin and stderr are terminals (dialoguer
    /// reads /dev/tty even when stdin is piped).
    pub fn can_prompt(&self) -> bool {
        self.stdin_tty && self.stderr_tty
    }

    /// A multi-select on the terminal, every item checked to start with. `None` when the
    /// user cancels (Esc or q). Call only when [`Ui::can_prompt`] says so.
    pub fn choose_many(
        &self,
        prompt: &str,
        items: &[String],
    ) -> anyhow::Result<Option<Vec<usize>>> {
        let theme = dialoguer::theme::SimpleTheme;
        let checked: Vec<(String, bool)> = items.iter().map(|i| (i.clone(), true)).collect();
        Ok(dialoguer::MultiSelect::with_theme(&theme)
            .with_prompt(prompt)
            .items_checked(checked)
            .interact_opt()?)
    }

    /// A yes/no question on the terminal; Esc or q answers no. Call only when
    /// [`Ui::can_prompt`] says so.
    pub fn confirm(&self, question: &str, default: bool) -> anyhow::Result<bool> {
        let answer = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(default)
            .interact_opt();
        Ok(answered(answer, question)?.unwrap_or(false))
    }

    /// One item chosen on the terminal, `default` highlighted to start with. `None` when
    /// the user cancels (Esc or q). Call only when [`Ui::can_prompt`] says so.
    pub fn choose_one(
        &self,
        prompt: &str,
        items: &[String],
        default: usize,
    ) -> anyhow::Result<Option<usize>> {
        let choice = dialoguer::Select::new()
            .with_prompt(prompt)
            .items(items)
            .default(default)
            .interact_opt();
        answered(choice, prompt)
    }

    pub fn state(&self, state: State) -> String {
        paint(self.color, state_color(state), state.as_str())
    }
}

/// A prompt's answer, or why there is none: Ctrl-C is an interruption (exit 130), and
/// the cursor the prompt hid comes back whatever happened.
fn answered<T>(answer: dialoguer::Result<T>, prompt: &str) -> anyhow::Result<T> {
    answer.map_err(|e| {
        let _ = dialoguer::console::Term::stderr().show_cursor();
        let dialoguer::Error::IO(io) = &e;
        if io.kind() == std::io::ErrorKind::Interrupted {
            return crate::error::Error::interrupted().into();
        }
        anyhow::Error::from(e).context(format!("cannot ask on the terminal: {prompt}"))
    })
}

/// Text from a repository (manifest commands, prompts, paths, YAML keys) made safe to show
/// on a terminal: control characters and bidirectional overrides would let it rewrite
/// what the reader sees (`touch /tmp/pwn #\r\e[2K` shows as an empty line), so they are
/// shown as visible escapes (`\r`, `\e`, `\x07`, `\u{202e}`), newlines as `\n`. Use this
/// wherever a user is asked to judge such text; hashes stay over the raw text.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    escape(text, false)
}

/// [`escape_control`] for multi-line messages: newlines stay line breaks.
pub fn escape_control_lines(text: &str) -> Cow<'_, str> {
    escape(text, true)
}

fn needs_escape(c: char) -> bool {
    c.is_control() // C0, DEL and C1
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        // Marks that also reorder text, and separators some terminals break lines at.
        || matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}')
}

fn escape(text: &str, keep_newlines: bool) -> Cow<'_, str> {
    let hidden = |c: char| needs_escape(c) && !(keep_newlines && c == '\n');
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !hidden(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x1b' => out.push_str("\\e"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

pub fn state_color(state: State) -> &'static str {
    match state {
        State::Succeeded | State::Merged => "32",
        State::Failed | State::TimedOut | State::Conflicted => "31",
        State::Running => "36",
        State::Interrupted | State::Orphaned => "33",
        State::Pending | State::Empty => "2",
    }
}

pub fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A plain text table: columns padded to their widest cell, no trailing spaces.
/// `cells` may contain the colour codes [`paint`] makes; widths are measured without
/// them. Cells often hold repository text (conflicting paths, details, branches), so
/// every other control character is shown escaped, as [`escape_control`] does.
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

/// SGR parameters [`paint`] uses: colours and weights that can never hide text (no
/// conceal, no colour pairs chosen by the repository).
const OUR_SGR: [&str; 8] = ["0", "1", "2", "31", "32", "33", "36", "31;1"];

/// A table cell with every control character escaped except the colour codes that
/// [`paint`] writes.
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

fn strip_ansi(s: &str) -> String {
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

/// Live progress of a batch: one line per running task plus an overall bar on a
/// terminal, plain one-line events (one per phase change) otherwise. Clones share one
/// display: one goes to the engine as a sink, another finishes it.
#[derive(Clone)]
pub struct Progress {
    bars: Option<Bars>,
    /// Width of the longest id, so the live lines line up.
    width: usize,
    quiet: bool,
    started: Instant,
    lines: Arc<Mutex<HashMap<String, (String, String)>>>,
}

#[derive(Clone)]
struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    tasks: Arc<Mutex<HashMap<String, ProgressBar>>>,
}

impl Progress {
    pub fn new(ui: &Ui, ids: &[String]) -> Progress {
        let total = ids.len();
        let width = ids.iter().map(|i| i.len()).max().unwrap_or(0);
        let live =
            ui.stderr_tty && !ui.quiet && std::env::var_os("GIT_AGENTS_NO_PROGRESS").is_none();
        let bars = live.then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let overall = multi.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template(
                    "{bar:30.cyan/blue} {pos}/{len} tasks done  {elapsed}",
                )
                .expect("static template"),
            );
            overall.enable_steady_tick(Duration::from_millis(200));
            Bars {
                multi,
                overall,
                tasks: Arc::new(Mutex::new(HashMap::new())),
            }
        });
        Progress {
            bars,
            width,
            quiet: ui.quiet,
            started: Instant::now(),
            lines: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn bar(&self, id: &str) -> Option<ProgressBar> {
        let bars = self.bars.as_ref()?;
        let mut tasks = bars.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let bar = tasks.entry(id.to_string()).or_insert_with(|| {
            let bar = bars
                .multi
                .insert_before(&bars.overall, ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {prefix:.bold} {elapsed:>4} {msg}")
                    .expect("static template"),
            );
            bar.set_prefix(format!("{id:<w$}", w = self.width));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Some(bar.clone())
    }

    fn redraw(&self, id: &str, phase: Option<&str>, output: Option<&str>) -> Option<String> {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let entry = lines.entry(id.to_string()).or_default();
        if let Some(p) = phase {
            entry.0 = p.to_string();
            entry.1.clear();
        }
        if let Some(o) = output {
            let o: String = o
                .trim()
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect();
            if o.is_empty() {
                return None;
            }
            entry.1 = o;
        }
        Some(if entry.1.is_empty() {
            entry.0.clone()
        } else {
            format!("{:<8} {}", entry.0, entry.1)
        })
    }

    /// A task entered a new phase (worktree, setup, agent, commit, check, ...).
    pub fn phase(&self, id: &str, phase: &str) {
        if let Some(bar) = self.bar(id) {
            if let Some(msg) = self.redraw(id, Some(phase), None) {
                bar.set_message(msg);
            }
        } else if !self.quiet {
            eprintln!(
                "[{}] {id}: {phase}",
                crate::time::short(self.started.elapsed())
            );
        }
    }

    /// The agent printed a line; shown as the task's last line on a terminal only.
    pub fn output(&self, id: &str, line: &str) {
        if self.bars.is_some()
            && let (Some(bar), Some(msg)) = (self.bar(id), self.redraw(id, None, Some(line)))
        {
            bar.set_message(msg);
        }
    }

    /// A task reached its final state.
    pub fn done(&self, id: &str, state: State, detail: &str) {
        let text = if detail.is_empty() {
            state.as_str().to_string()
        } else {
            format!("{state} ({})", escape_control(detail))
        };
        if let Some(bars) = &self.bars {
            if let Some(bar) = self.bar(id) {
                bar.set_style(
                    ProgressStyle::with_template("  {prefix:.bold} {msg}")
                        .expect("static template"),
                );
                bar.finish_with_message(paint(true, state_color(state), &text));
            }
            bars.overall.inc(1);
        } else if !self.quiet {
            eprintln!(
                "[{}] {id}: {text}",
                crate::time::short(self.started.elapsed())
            );
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bars {
            b.overall.finish();
            let _ = b.multi.clear();
        }
    }
}

/// The live view and the plain lines are one sink of the engine's events: phases, the
/// last output line and each task's end (attempt ends and batch events show nothing).
impl crate::engine::events::Sink for Progress {
    fn emit(&self, event: &crate::engine::events::Event) {
        use crate::engine::events::{Kind, Phase};
        let Some(id) = event.task.as_deref() else {
            return;
        };
        match &event.kind {
            Kind::Phase { phase, attempt } => {
                let text = match phase {
                    Phase::Worktree if *attempt > 1 => format!("worktree (attempt {attempt})"),
                    p => p.as_str().to_string(),
                };
                self.phase(id, &text);
            }
            Kind::Output { line } => self.output(id, line),
            Kind::TaskEnded { state, detail } => self.done(id, *state, detail),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn control_characters_become_visible() {
        assert!(matches!(escape_control("cargo test"), Cow::Borrowed(_)));
        assert_eq!(
            escape_control("touch /tmp/pwn #\r\x1b[2Kcargo test"),
            "touch /tmp/pwn #\\r\\e[2Kcargo test"
        );
        assert_eq!(escape_control("a\x07b\x7fc\td"), "a\\x07b\\x7fc\\td");
        assert_eq!(escape_control("x\u{9b}y\u{85}"), "x\\u{9b}y\\u{85}");
        assert_eq!(
            escape_control("rm -rf / #\u{202e}\u{2066}ok\u{2069}"),
            "rm -rf / #\\u{202e}\\u{2066}ok\\u{2069}"
        );
        assert_eq!(escape_control("a\nb"), "a\\nb");
        assert_eq!(escape_control_lines("a\nb\rc"), "a\nb\\rc");
        // Ordinary non-ASCII text is left alone.
        assert_eq!(escape_control("café → ✓"), "café → ✓");
    }

    #[test]
    fn fit_cuts_visible_text_and_keeps_colour_codes_whole() {
        assert_eq!(fit("abcdef", 4), "abc");
        assert_eq!(fit("ab", 80), "ab");
        let coloured = format!("x {}", paint(true, "32", "succeeded"));
        assert_eq!(fit(&coloured, 6), "x \x1b[32msuc\x1b[0m\x1b[0m");
        assert_eq!(strip_ansi(&fit(&coloured, 6)), "x suc");
    }
}
