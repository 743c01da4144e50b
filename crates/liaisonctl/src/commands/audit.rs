//! `liaisonctl audit ...`: querying, exporting and verifying the audit log.

use std::io::Write;

use liaison_proto as pb;
use serde_json::json;
use tokio_stream::StreamExt;

use super::{fetch_pages, Page};
use crate::cli::{AuditCommand, AuditFilters};
use crate::connection::Ctl;
use crate::error::{code_name, CliError};
use crate::json::{self, rfc3339, time, timestamp};
use crate::names::friendly;
use crate::output::{Cell, Style, Table};
use crate::session::private_file;

pub async fn run(ctl: &mut Ctl, command: AuditCommand) -> Result<(), CliError> {
    match command {
        AuditCommand::Query { filters, paging } => {
            let page: Page<pb::AuditEntry> =
                fetch_pages(ctl, query(&filters), &paging, rpc!(audit.query_audit_log)).await?;
            ctl.out.show(
                || page.to_json("entries", json::audit_entry),
                || entries_table(ctl, &page.items),
            )?;
            page.note_more(ctl);
            Ok(())
        }
        AuditCommand::Export { filters, out } => export(ctl, &filters, out).await,
        AuditCommand::Verify {
            from,
            to,
            checkpoint,
        } => {
            let checkpoint = match checkpoint {
                Some(path) => {
                    let text = std::fs::read_to_string(&path).map_err(|e| {
                        CliError::Usage(format!("cannot read {}: {e}", path.display()))
                    })?;
                    Some(json::parse_checkpoint(&text).map_err(|e| {
                        CliError::Usage(format!("{} is not a checkpoint: {e}", path.display()))
                    })?)
                }
                None => None,
            };
            let report = ctl
                .call(
                    pb::VerifyAuditChainRequest {
                        from_sequence: from.unwrap_or_default(),
                        to_sequence: to.unwrap_or_default(),
                        checkpoint,
                    },
                    rpc!(audit.verify_audit_chain),
                )
                .await?;
            ctl.out.show(
                || json::verification(&report),
                || {
                    if report.ok {
                        format!(
                            "{} {} entries and {} signed checkpoints checked; the head is at {}.",
                            ctl.out.paint("The audit chain is intact:", Style::Green),
                            report.entries_checked,
                            report.checkpoints_checked,
                            report.head_sequence
                        )
                    } else {
                        format!(
                            "{} {} entries and {} checkpoints checked.",
                            ctl.out.paint("The audit chain is broken.", Style::Red),
                            report.entries_checked,
                            report.checkpoints_checked
                        )
                    }
                },
            )?;
            if report.ok {
                Ok(())
            } else {
                Err(CliError::Other(format!(
                    "the audit chain is broken at entry {}: {}",
                    report.first_bad_sequence, report.problem
                )))
            }
        }
        AuditCommand::Checkpoint { out } => {
            let checkpoint = ctl
                .call(pb::GetCheckpointRequest {}, rpc!(audit.get_checkpoint))
                .await?;
            let document = json::checkpoint(&checkpoint);
            if let Some(path) = &out {
                let text = serde_json::to_string_pretty(&document)
                    .map_err(|e| CliError::Other(e.to_string()))?;
                std::fs::write(path, format!("{text}\n")).map_err(|e| {
                    CliError::Other(format!("cannot write {}: {e}", path.display()))
                })?;
            }
            ctl.out.show(
                || document.clone(),
                || {
                    let mut text = ctl.out.fields(&[
                        ("Sequence", checkpoint.sequence.to_string()),
                        ("Hash", checkpoint.hash.clone()),
                        (
                            "Time",
                            time(checkpoint.time.as_ref())
                                .map(rfc3339)
                                .unwrap_or_default(),
                        ),
                        ("Key", checkpoint.key_id.clone()),
                        ("Signature", checkpoint.signature.clone()),
                    ]);
                    match &out {
                        Some(path) => text.push_str(&format!(
                            "Kept in {}: check it later with `liaisonctl audit verify --checkpoint {}`.",
                            path.display(),
                            path.display()
                        )),
                        None => text.push_str(
                            "Keep it: `liaisonctl audit checkpoint --out FILE`, then later \
                             `liaisonctl audit verify --checkpoint FILE`.",
                        ),
                    }
                    text
                },
            )
        }
    }
}

/// "CaseService/GetCase" means "liaison.v1.CaseService/GetCase".
fn full_method(method: &str) -> String {
    if method.contains('.') || !method.contains('/') {
        method.to_string()
    } else {
        format!("liaison.v1.{method}")
    }
}

fn query(f: &AuditFilters) -> pb::QueryAuditLogRequest {
    pb::QueryAuditLogRequest {
        actor_id: f.actor.clone().unwrap_or_default(),
        case_id: f.case_id.clone().unwrap_or_default(),
        method: f.method.as_deref().map(full_method).unwrap_or_default(),
        outcome: f.outcome.map(|o| o.code()).unwrap_or_default(),
        since: f.since.map(timestamp),
        until: f.until.map(timestamp),
        page_size: 0,
        page_token: String::new(),
        min_handling: f.min_handling.map(|h| h.code()).unwrap_or_default(),
    }
}

fn entries_table(ctl: &Ctl, entries: &[pb::AuditEntry]) -> String {
    if entries.is_empty() {
        return "No entries.".into();
    }
    let mut table = Table::new(&[
        "SEQ", "TIME", "ACTOR", "METHOD", "OUTCOME", "STATUS", "H", "TARGET", "REQUEST",
    ]);
    for e in entries {
        let outcome = friendly::<pb::AuditOutcome>(e.outcome);
        let style = match pb::AuditOutcome::try_from(e.outcome) {
            Ok(pb::AuditOutcome::Denied) => Some(Style::Red),
            Ok(pb::AuditOutcome::Failed) => Some(Style::Yellow),
            _ => None,
        };
        let target = if e.refusals > 0 {
            // A summary of calls refused before authentication.
            let since = time(e.first_refused_time.as_ref())
                .map(|t| t.format("%H:%M:%S").to_string())
                .unwrap_or_default();
            let from = if e.peer.is_empty() {
                "anywhere"
            } else {
                &e.peer
            };
            format!("{} calls from {from} since {since}", e.refusals)
        } else if e.target_type.is_empty() {
            e.event.clone()
        } else {
            // Cases by reference and users by username where the server named them.
            let target = if !e.case_reference.is_empty() && e.target_id == e.case_id {
                e.case_reference.as_str()
            } else if !e.target_username.is_empty() {
                e.target_username.as_str()
            } else {
                e.target_id.as_str()
            };
            if e.event.is_empty() {
                format!("{} {target}", e.target_type)
            } else {
                format!("{} {target} ({})", e.target_type, e.event)
            }
        };
        table.row(vec![
            e.sequence.to_string().into(),
            time(e.time.as_ref())
                .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
                .into(),
            if e.actor_username.is_empty() {
                "—".into()
            } else {
                e.actor_username.as_str().into()
            },
            e.method
                .strip_prefix("liaison.v1.")
                .unwrap_or(&e.method)
                .into(),
            Cell::styled(outcome, style),
            code_name(tonic::Code::from_i32(e.status_code)).into(),
            friendly::<pb::Handling>(e.handling)
                .to_ascii_uppercase()
                .into(),
            target.into(),
            e.request_id.as_str().into(),
        ]);
    }
    ctl.out.table(&table)
}

/// Every matching entry as NDJSON, whatever the output format: it is for machines and archives.
async fn export(
    ctl: &mut Ctl,
    filters: &AuditFilters,
    out: Option<std::path::PathBuf>,
) -> Result<(), CliError> {
    let q = query(filters);
    let request = pb::ExportAuditLogRequest {
        actor_id: q.actor_id,
        case_id: q.case_id,
        method: q.method,
        outcome: q.outcome,
        since: q.since,
        until: q.until,
        min_handling: q.min_handling,
    };
    let mut writer: Box<dyn Write> = match &out {
        // The log names who read which case: only its owner should read the copy.
        Some(path) => Box::new(std::io::BufWriter::new(private_file(path).map_err(
            |e| {
                CliError::Other(format!(
                    "cannot create {} (it must not exist yet): {e}",
                    path.display()
                ))
            },
        )?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut stream = ctl
        .call_streaming(request, rpc!(audit.export_audit_log))
        .await?;
    let mut count = 0u64;
    while let Some(entry) = stream.next().await {
        let entry = entry.map_err(|s| ctl.explain(s))?;
        serde_json::to_writer(&mut writer, &json::audit_entry(&entry))
            .map_err(|e| CliError::Other(e.to_string()))?;
        writer.write_all(b"\n")?;
        count += 1;
    }
    writer.flush()?;
    drop(writer);
    if let Some(path) = &out {
        let summary = json!({ "exported": count, "file": path });
        if ctl.out.json_mode() {
            ctl.out.json(&summary)?;
        } else {
            ctl.out
                .print(&format!("Exported {count} entries to {}.", path.display()))?;
        }
    } else {
        ctl.out.note(&format!("exported {count} entries"));
    }
    Ok(())
}
