//! `liaison.v1.AuditService`.

use std::pin::Pin;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use super::{convert, Api};
use crate::chain::Checkpoint;
use crate::domain::audit_log::{self, AuditFilter, Verification};
use crate::domain::paging;
use crate::error::AppResult;
use crate::limits::{MAX_ID_CHARS, SHA256_HEX_CHARS};
use crate::model::{Handling, Outcome};
use crate::pb::{self, audit_service_server::AuditService};
use crate::validate::{self, Violations};

impl TryFrom<&pb::QueryAuditLogRequest> for AuditFilter {
    type Error = crate::error::AppError;

    fn try_from(m: &pb::QueryAuditLogRequest) -> AppResult<Self> {
        let mut v = Violations::new();
        let filter = AuditFilter {
            actor_id: v.check("actor_id", validate::optional_uuid(&m.actor_id)),
            case_id: v.check("case_id", validate::optional_uuid(&m.case_id)),
            method: (!m.method.is_empty())
                .then(|| v.check("method", validate::text(&m.method, 1, 100, false))),
            outcome: convert::optional_enum(&mut v, "outcome", m.outcome, Outcome::from_code),
            min_handling: convert::optional_enum(
                &mut v,
                "min_handling",
                m.min_handling,
                Handling::from_code,
            ),
            since: convert::from_timestamp(&mut v, "since", m.since),
            until: convert::from_timestamp(&mut v, "until", m.until),
            page_size: paging::page_size(m.page_size).unwrap_or_else(|_| {
                v.add(
                    "page_size",
                    format!("must be between 1 and {}", paging::MAX_PAGE_SIZE),
                );
                0
            }),
            page_token: (!m.page_token.is_empty()).then(|| m.page_token.clone()),
        };
        if let (Some(since), Some(until)) = (filter.since, filter.until) {
            if since >= until {
                v.add("until", "must be after since");
            }
        }
        v.finish()?;
        Ok(filter)
    }
}

impl TryFrom<&pb::ExportAuditLogRequest> for AuditFilter {
    type Error = crate::error::AppError;

    fn try_from(m: &pb::ExportAuditLogRequest) -> AppResult<Self> {
        AuditFilter::try_from(&pb::QueryAuditLogRequest {
            actor_id: m.actor_id.clone(),
            case_id: m.case_id.clone(),
            method: m.method.clone(),
            outcome: m.outcome,
            since: m.since,
            until: m.until,
            min_handling: m.min_handling,
            page_size: 0,
            page_token: String::new(),
        })
    }
}

fn checkpoint_to_pb(c: Checkpoint) -> pb::Checkpoint {
    pb::Checkpoint {
        sequence: c.seq,
        hash: c.hash,
        time: Some(convert::timestamp(c.at)),
        key_id: c.kid,
        signature: c.signature,
    }
}

fn checkpoint_from_pb(c: &pb::Checkpoint) -> AppResult<Checkpoint> {
    let mut v = Violations::new();
    if c.sequence < 1 {
        v.add("checkpoint.sequence", "must be 1 or more");
    }
    let hash = v.check(
        "checkpoint.hash",
        validate::text(&c.hash, SHA256_HEX_CHARS, SHA256_HEX_CHARS, false),
    );
    let at = convert::from_timestamp(&mut v, "checkpoint.time", c.time);
    if c.time.is_none() {
        v.add("checkpoint.time", "must be set");
    }
    let kid = v.check(
        "checkpoint.key_id",
        validate::text(&c.key_id, 1, MAX_ID_CHARS, false),
    );
    let signature = v.check(
        "checkpoint.signature",
        validate::text(&c.signature, 1, 256, false),
    );
    v.finish()?;
    Ok(Checkpoint {
        seq: c.sequence,
        hash,
        at: validate::checked(at)?,
        kid,
        signature,
    })
}

type EntryStream = Pin<Box<dyn Stream<Item = Result<pb::AuditEntry, Status>> + Send>>;

#[tonic::async_trait]
impl AuditService for Api {
    type ExportAuditLogStream = EntryStream;

    #[tracing::instrument(skip_all)]
    async fn export_audit_log(
        &self,
        request: Request<pb::ExportAuditLogRequest>,
    ) -> Result<Response<Self::ExportAuditLogStream>, Status> {
        let started = self.begin(request, "AuditService/ExportAuditLog").await;
        let result = async {
            let auditor = &started.auditor()?;
            let filter = AuditFilter::try_from(&started.message)?;
            let entries = audit_log::export(&self.state, &started.call, auditor, filter).await?;
            let request_id = started.call.request_id.clone();
            let stream = tokio_stream::wrappers::ReceiverStream::new(entries).map(move |entry| {
                entry.map(convert::audit_entry).map_err(|e| {
                    tracing::error!(%request_id, error = %e, "audit export failed");
                    Status::from(e)
                })
            });
            Ok(Box::pin(stream) as EntryStream)
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_checkpoint(
        &self,
        request: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<pb::Checkpoint>, Status> {
        let started = self.begin(request, "AuditService/GetCheckpoint").await;
        let result = async {
            let auditor = &started.auditor()?;
            let checkpoint =
                audit_log::latest_checkpoint(&self.state, &started.call, auditor).await?;
            Ok(checkpoint_to_pb(checkpoint))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let started = self.begin(request, "AuditService/VerifyAuditChain").await;
        let result = async {
            let auditor = &started.auditor()?;
            let m = &started.message;
            let what = match &m.checkpoint {
                Some(c) => Verification::Checkpoint(checkpoint_from_pb(c)?),
                None => {
                    let mut v = Violations::new();
                    if m.from_sequence < 0 {
                        v.add("from_sequence", "must not be negative");
                    }
                    if m.to_sequence < 0 {
                        v.add("to_sequence", "must not be negative");
                    }
                    if m.to_sequence > 0 && m.from_sequence > m.to_sequence {
                        v.add("to_sequence", "must not be before from_sequence");
                    }
                    v.finish()?;
                    Verification::Range {
                        from: (m.from_sequence > 0).then_some(m.from_sequence),
                        to: (m.to_sequence > 0).then_some(m.to_sequence),
                    }
                }
            };
            let report = audit_log::verify_chain(&self.state, &started.call, auditor, what).await?;
            Ok(pb::VerifyAuditChainResponse {
                ok: report.ok,
                entries_checked: report.entries_checked,
                checkpoints_checked: report.checkpoints_checked,
                first_bad_sequence: report.first_bad_seq.unwrap_or(0),
                problem: report.problem.unwrap_or_default(),
                head_sequence: report.head_seq,
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn query_audit_log(
        &self,
        request: Request<pb::QueryAuditLogRequest>,
    ) -> Result<Response<pb::QueryAuditLogResponse>, Status> {
        let started = self.begin(request, "AuditService/QueryAuditLog").await;
        let result = async {
            let auditor = &started.auditor()?;
            let filter = AuditFilter::try_from(&started.message)?;
            let (entries, next) =
                audit_log::query(&self.state, &started.call, auditor, filter).await?;
            // Cases by reference and users by username, for reading.
            let references = audit_log::case_references(&self.state, auditor, &entries).await;
            let usernames = audit_log::target_usernames(&self.state, auditor, &entries).await;
            let entries = entries
                .into_iter()
                .map(|entry| {
                    let mut named = convert::audit_entry(entry);
                    if let Some(reference) = references.get(&named.case_id) {
                        named.case_reference = reference.clone();
                    }
                    if named.target_type == "user" {
                        if let Some(username) = usernames.get(&named.target_id) {
                            named.target_username = username.clone();
                        }
                    }
                    named
                })
                .collect();
            Ok(pb::QueryAuditLogResponse {
                entries,
                next_page_token: next.unwrap_or_default(),
            })
        }
        .await;
        self.finish(started, result).await
    }
}
