//! `liaisond audit`: verify, checkpoint and export the audit log straight from the database.

use std::sync::Arc;

use clap::Subcommand;
use liaison_server::clock::SystemClock;
use liaison_server::config::Config;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the chain and check the signed checkpoints; exit 1 when anything is wrong.
    Verify {
        /// First sequence number to verify (default: the start).
        #[arg(long)]
        from: Option<i64>,
        /// Last sequence number to verify (default: the head).
        #[arg(long)]
        to: Option<i64>,
        /// A checkpoint kept earlier (JSON, as `audit checkpoint` prints it): prove it is still part
        /// of the chain.
        #[arg(long)]
        checkpoint: Option<std::path::PathBuf>,
    },
    /// Sign the chain's head now and print the checkpoint as JSON (keep it to verify later).
    Checkpoint,
    /// Write entries as NDJSON, oldest first.
    Export {
        /// Only entries at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only entries before this time (RFC 3339).
        #[arg(long)]
        until: Option<chrono::DateTime<chrono::Utc>>,
        #[arg(long)]
        case_id: Option<String>,
        #[arg(long)]
        actor_id: Option<String>,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

pub async fn run(config: &Config, command: AuditCommand) -> Result<(), String> {
    let state = liaison_server::open(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())?;
    match command {
        AuditCommand::Verify {
            from,
            to,
            checkpoint,
        } => {
            let report = match checkpoint {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| format!("reading {}: {e}", path.display()))?;
                    let checkpoint: liaison_server::chain::Checkpoint = serde_json::from_str(&text)
                        .map_err(|e| format!("{} is not a checkpoint: {e}", path.display()))?;
                    liaison_server::audit::verify::verify_checkpoint(
                        &state.db,
                        &state.keys.current(),
                        state.clock.now(),
                        &checkpoint,
                    )
                    .await
                }
                None => {
                    liaison_server::audit::verify::verify(
                        &state.db,
                        &state.keys.current(),
                        state.clock.now(),
                        from,
                        to,
                    )
                    .await
                }
            }
            .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
            if report.ok {
                Ok(())
            } else {
                Err(format!(
                    "the audit chain is broken at {}: {}",
                    report.first_bad_seq.unwrap_or_default(),
                    report.problem.unwrap_or_default()
                ))
            }
        }
        AuditCommand::Checkpoint => {
            let now = chrono::Utc::now();
            liaison_server::audit::checkpoint_head(&state.db, &state.keys.current(), now)
                .await
                .map_err(|e| e.to_string())?;
            let tx = state.db.begin().await.map_err(|e| e.to_string())?;
            let latest = liaison_server::repo::audit::latest_checkpoint(&tx)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("the audit log is empty: nothing to sign")?;
            println!(
                "{}",
                serde_json::to_string_pretty(&latest).map_err(|e| e.to_string())?
            );
            Ok(())
        }
        AuditCommand::Export {
            since,
            until,
            case_id,
            actor_id,
            output,
        } => {
            use std::io::Write;
            let filter = liaison_server::domain::audit_log::AuditFilter {
                since,
                until,
                case_id,
                actor_id,
                ..Default::default()
            };
            let mut out: Box<dyn Write> = match &output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .map_err(|e| format!("creating {}: {e}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let operator = liaison_server::authz::operator();
            let mut entries =
                liaison_server::domain::audit_log::export_all(&state.db, &operator, filter);
            let mut count = 0u64;
            while let Some(entry) = entries.recv().await {
                let entry = entry.map_err(|e| e.to_string())?;
                serde_json::to_writer(&mut out, &entry.to_json()).map_err(|e| e.to_string())?;
                out.write_all(b"\n").map_err(|e| e.to_string())?;
                count += 1;
            }
            out.flush().map_err(|e| e.to_string())?;
            eprintln!("exported {count} entries");
            Ok(())
        }
    }
}
