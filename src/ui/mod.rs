//! The output layer: stdout carries data (tables, JSON), stderr carries status, progress
//! and errors. `--quiet` mutes status; progress bars appear only when stderr is a terminal.
//! This is the only module allowed to print.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod escape;
mod live;
mod progress;
mod prompt;
mod table;

pub use escape::{escape_control, escape_control_lines};
pub use live::LiveTable;
pub use progress::Progress;
pub use table::table;

use crate::task::State;
use std::io::{IsTerminal, Write};

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

    pub fn state(&self, state: State) -> String {
        paint(self.color, state_color(state), state.as_str())
    }
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
