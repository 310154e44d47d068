//! `salon admin ...`: the instance operator's tasks, run against the data
//! directory while the server runs or not (SQLite in WAL mode allows both).
//!
//! Reports come from people in rooms (`report` messages); the operator reads
//! them here and resolves them. Output is plain text for a terminal.

use crate::config::Admin;
use crate::store::{ReportRow, Store};

/// Runs one admin command and returns what to print.
pub async fn run(store: &Store, cmd: &Admin) -> anyhow::Result<String> {
    match cmd {
        Admin::Reports { all } => Ok(format_reports(&store.reports(*all).await?, *all)),
        Admin::Resolve { id } => {
            if store.resolve_report(*id).await? {
                Ok(format!("report {id} resolved\n"))
            } else {
                anyhow::bail!("no open report {id}")
            }
        }
    }
}

fn format_reports(rows: &[ReportRow], all: bool) -> String {
    if rows.is_empty() {
        return if all { "no reports\n" } else { "no open reports\n" }.to_string();
    }
    let mut out = String::new();
    for r in rows {
        let state = match r.resolved_at {
            Some(_) => "resolved",
            None => "open",
        };
        let about = r
            .target
            .as_deref()
            .map_or("the room".to_string(), |t| format!("participant \"{t}\""));
        let room = crate::http::ws::short(&r.room_id);
        out.push_str(&format!(
            "#{} [{state}] {} (unix) room \"{}\" ({room}…): {} reported {about}\n    reason: {}\n",
            r.id, r.created_at, r.room_name, r.reporter, r.reason
        ));
    }
    out
}
