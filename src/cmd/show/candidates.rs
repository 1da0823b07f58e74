//! `show ID` of a best-of-N task: its candidates side by side.

use anyhow::Result;
use serde_json::json;

use crate::cli::Ctx;
use crate::cmd::Workspace;
use crate::engine::candidates;
use crate::error::Exit;
use crate::report;
use crate::ui::{escape_control, table};

/// A best-of-N task: its candidates side by side (check, diff against the base, time,
/// exit code), and the winner with the reason it won.
pub(super) fn show(ctx: &Ctx, ws: &Workspace, id: &str, as_json: bool) -> Result<Exit> {
    let entries = candidates::compare(&ws.repo, &ws.store, id);
    let winner = entries.first().and_then(|e| e.rec.graph.winner.clone());
    let reason = entries
        .first()
        .and_then(|e| e.rec.graph.winner_reason.clone());
    if as_json {
        let docs = entries
            .iter()
            .map(|e| {
                let mut v = report::task_json(&ws.store, &e.rec, &report::live(&ws.repo, &e.rec));
                v["diff"] = json!(e.diff);
                v["time_ms"] = json!(e.time.map(|t| t.as_millis() as u64));
                v
            })
            .collect();
        ctx.ui.out(&report::document(docs));
        return Ok(Exit::Ok);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let mark = if winner.as_deref() == Some(e.rec.id.as_str()) {
                "*"
            } else {
                ""
            };
            vec![
                format!("{}{mark}", e.rec.id),
                ctx.ui.state(e.rec.state),
                e.rec.check.clone().unwrap_or_else(|| "-".into()),
                e.diff
                    .map(|d| format!("{} files +{} -{}", d.files, d.added, d.removed))
                    .unwrap_or_else(|| "-".into()),
                e.time.map(crate::time::short).unwrap_or_else(|| "-".into()),
                e.rec
                    .exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "-".into()),
                escape_control(&e.rec.command.first().cloned().unwrap_or_default()).to_string(),
            ]
        })
        .collect();
    ctx.ui.out(&table(
        &[
            "CANDIDATE",
            "STATE",
            "CHECK",
            "DIFF",
            "TIME",
            "EXIT",
            "AGENT",
        ],
        &rows,
    ));
    let said = match (&winner, &reason) {
        (Some(w), Some(r)) => format!("winner: {w} ({})\n", escape_control(r)),
        (None, Some(r)) => format!("no winner: {}\n", escape_control(r)),
        _ => "no winner yet: candidates are still running\n".to_string(),
    };
    ctx.ui.out(&said);
    Ok(Exit::Ok)
}
