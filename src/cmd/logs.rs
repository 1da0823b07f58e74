//! `git agents logs ID [-f] [--raw]`: a task's log; `-f` follows it while the task runs.
//! An agent whose output format git-agents reads (see [`crate::adapter`]) is shown
//! readably: its tools and targets, its messages, its result; `--raw` prints the stream
//! as the agent wrote it, which is what the log file holds.

use anyhow::{Context as _, Result};
use std::io::{Read, Seek, SeekFrom};
use std::time::Duration;

use crate::adapter::{Format, Parser};
use crate::cli::Ctx;
use crate::error::{Error, Exit};
use crate::task::{State, TaskId};

use super::Workspace;

/// Print a task's log (setup, agent and check output of every attempt)
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The task
    pub id: String,

    /// Keep printing new output while the task runs
    #[arg(short, long)]
    pub follow: bool,

    /// Print the agent's output as it wrote it (its JSON stream), not rendered
    #[arg(long)]
    pub raw: bool,
}

pub fn run(ctx: &Ctx, args: LogsArgs) -> Result<Exit> {
    let id = TaskId::parse(&args.id).map_err(Error::usage)?;
    let ws = Workspace::open_lenient(ctx)?;
    let rec = ws.record(id.as_str())?;
    let format = rec
        .output
        .as_deref()
        .and_then(Format::parse)
        .filter(|_| !args.raw);
    let mut view = View {
        parser: format.map(Parser::new),
        partial: Vec::new(),
    };
    let path = ws.store.log_path(id.as_str());
    let mut file = std::fs::File::open(&path)
        .with_context(|| format!("cannot open the log {}", path.display()))?;
    let mut buf = Vec::new();
    file.read_to_end(&mut buf)?;
    let mut pos = buf.len() as u64;
    ctx.ui.out(&view.text(buf, !args.follow));
    // A remote job's engine keeps its own log while it runs (kubectl logs, gh run view).
    if rec.process_state() == State::Running
        && let Some(text) = crate::remote::engine_log(&ws.repo.root, &rec)
    {
        ctx.ui.out(&format!(
            "==> the remote job's log, from its engine:\n{}",
            crate::ui::escape_control_lines(&text)
        ));
    }
    if !args.follow {
        return Ok(Exit::Ok);
    }
    crate::supervise::install_interrupt_handler();
    loop {
        let running = ws
            .store
            .load(id.as_str())?
            .is_some_and(|r| matches!(r.process_state(), State::Running | State::Pending));
        // Read once more after the task ended, so its last lines are not missed.
        file.seek(SeekFrom::Start(pos))?;
        let mut more = Vec::new();
        file.read_to_end(&mut more)?;
        pos += more.len() as u64;
        let text = view.text(more, !running);
        if !text.is_empty() {
            ctx.ui.out(&text);
        }
        if !running {
            return Ok(Exit::Ok);
        }
        if crate::supervise::interrupted() {
            return Ok(Exit::Interrupted);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What is printed of the log: as it is, or rendered line by line.
struct View {
    parser: Option<Parser>,
    /// The start of a line not yet ended (while following).
    partial: Vec<u8>,
}

impl View {
    /// The text for `bytes` read from the log; a last line without its newline waits
    /// for the rest unless this is the `last` read.
    fn text(&mut self, bytes: Vec<u8>, last: bool) -> String {
        let Some(p) = self.parser.as_mut() else {
            return String::from_utf8_lossy(&bytes).into_owned();
        };
        self.partial.extend_from_slice(&bytes);
        let end = if last {
            self.partial.len()
        } else {
            self.partial
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let chunk: Vec<u8> = self.partial.drain(..end).collect();
        let mut out = String::new();
        for line in String::from_utf8_lossy(&chunk).lines() {
            crate::adapter::render_line(p, line, &mut out);
        }
        out
    }
}
