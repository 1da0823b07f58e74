//! `merge --plan` (the conflict forecast, as a table and matrix or JSON) and
//! `merge --order forecast` (the queue reordered by it).

use anyhow::Result;
use serde_json::json;

use crate::cli::Ctx;
use crate::cmd::Workspace;
use crate::engine::queue::{self, Item, OntoBase};
use crate::error::Exit;
use crate::merge::short_list;
use crate::ui::table;

/// Print the forecast of `items`; nothing changes.
pub fn show(
    ctx: &Ctx,
    ws: &Workspace,
    items: &[Item],
    targets: &[String],
    json: bool,
) -> Result<Exit> {
    let f = queue::forecast(&ws.repo, items, targets)?;
    let ids: Vec<&str> = items.iter().map(|it| it.rec.id.as_str()).collect();
    if json {
        let tasks: Vec<serde_json::Value> = f
            .tasks
            .iter()
            .map(|t| {
                let base_conflicts = match &t.onto_base {
                    OntoBase::Conflict(p) => p.clone(),
                    _ => Vec::new(),
                };
                let paths: serde_json::Map<String, serde_json::Value> = t
                    .conflicts_with
                    .iter()
                    .map(|(id, p)| (id.clone(), p.clone().into()))
                    .collect();
                json!({
                    "id": t.id,
                    "into": t.into,
                    "onto_base": t.onto_base.as_str(),
                    "base_conflicts": base_conflicts,
                    "conflicts_with": t.conflicts_with.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
                    "conflict_paths": paths,
                })
            })
            .collect();
        let order: Vec<&str> = f.order.iter().map(|&i| ids[i]).collect();
        let doc = json!({
            "version": 1,
            "tasks": tasks,
            "order": order,
            "lands": f.lands,
        });
        let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
        s.push('\n');
        ctx.ui.out(&s);
        return Ok(Exit::Ok);
    }
    if items.is_empty() {
        ctx.ui
            .status("nothing to merge: no succeeded task is waiting (see git agents list)");
        return Ok(Exit::Ok);
    }
    // The matrix: one column per task, numbered as the rows; `x` where two conflict.
    let numbers: Vec<String> = (1..=items.len()).map(|n| n.to_string()).collect();
    let mut header: Vec<&str> = vec!["#", "TASK", "ONTO BASE"];
    header.extend(numbers.iter().map(String::as_str));
    header.push("CONFLICTS");
    let rows: Vec<Vec<String>> = f
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut row = vec![
                numbers[i].clone(),
                t.id.clone(),
                match &t.onto_base {
                    OntoBase::Conflict(p) => format!("conflict ({})", short_list(p, 3)),
                    other => format!("{} ({})", other.as_str(), t.into),
                },
            ];
            for (j, other) in ids.iter().enumerate() {
                let mark = if i == j {
                    "-"
                } else if t.conflicts_with.iter().any(|(id, _)| id == other) {
                    "x"
                } else {
                    "."
                };
                row.push(mark.into());
            }
            row.push(
                t.conflicts_with
                    .iter()
                    .map(|(id, p)| format!("{id}: {}", short_list(p, 3)))
                    .collect::<Vec<_>>()
                    .join("; "),
            );
            row
        })
        .collect();
    ctx.ui.out(&table(&header, &rows));
    let order: Vec<&str> = f.order.iter().map(|&i| ids[i]).collect();
    ctx.ui.out(&format!(
        "\norder that lands the most ({} of {}): {}\n(merge in this order with: git agents merge --order forecast)\n",
        f.lands,
        items.len(),
        order.join(" ")
    ));
    Ok(Exit::Ok)
}

/// `items` in the forecast's order.
pub fn reorder(ws: &Workspace, items: Vec<Item>, targets: &[String]) -> Result<Vec<Item>> {
    let f = queue::forecast(&ws.repo, &items, targets)?;
    let mut slots: Vec<Option<Item>> = items.into_iter().map(Some).collect();
    let ordered: Vec<Item> = f.order.iter().filter_map(|&i| slots[i].take()).collect();
    // Dependencies still land before their dependants, whatever the forecast prefers.
    let ids = ordered.iter().map(|i| i.rec.id.clone()).collect();
    let ids = crate::engine::graph::dependency_order(&ws.store, ids);
    let mut slots: Vec<Option<Item>> = ordered.into_iter().map(Some).collect();
    Ok(ids
        .iter()
        .filter_map(|id| {
            let at = slots
                .iter()
                .position(|s| s.as_ref().is_some_and(|i| &i.rec.id == id))?;
            slots[at].take()
        })
        .collect())
}
