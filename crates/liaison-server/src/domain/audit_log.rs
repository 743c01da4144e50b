//! The auditor's view of the audit log: entries whose actor belongs to the auditor's agency or whose
//! case has it as a party. Querying is itself audited.

use tokio::sync::mpsc;

use crate::audit::verify::{self, Report};
use crate::authz::{AuditScope, Operator};
use crate::chain::{AuditEntry, Checkpoint};
use crate::domain::call::{Call, Work};
use crate::domain::{paging, people};
use crate::error::{AppError, AppResult};
use crate::model::{Handling, Outcome, Timestamp, UserId};
use crate::repo::audit::{AuditQuery, SeqSpan};
use crate::repo::{self, Db};
use crate::state::AppState;

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub case_id: Option<String>,
    pub method: Option<String>,
    pub outcome: Option<Outcome>,
    pub min_handling: Option<Handling>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub page_size: u64,
    pub page_token: Option<String>,
}

impl AuditFilter {
    fn scoped_to(&self, scope: &AuditScope) -> AuditQuery {
        AuditQuery {
            scope: scope.clone(),
            actor_id: self.actor_id.clone(),
            case_id: self.case_id.clone(),
            method: self.method.clone(),
            outcome: self.outcome,
            min_handling: self.min_handling,
            since: self.since,
            until: self.until,
            before_seq: None,
            after_seq: None,
            oldest_first: false,
            limit: self.page_size,
            span: None,
        }
    }

    fn binding(&self, scope: &AuditScope) -> String {
        let time = |t: Option<Timestamp>| {
            t.map(|t| t.timestamp_micros().to_string())
                .unwrap_or_default()
        };
        paging::binding(&[
            "QueryAuditLog",
            scope.principal().map(|p| p.user_id.as_str()).unwrap_or(""),
            self.actor_id.as_deref().unwrap_or(""),
            self.case_id.as_deref().unwrap_or(""),
            self.method.as_deref().unwrap_or(""),
            self.outcome.map(|o| o.as_str()).unwrap_or(""),
            self.min_handling.map(|h| h.as_str()).unwrap_or(""),
            &time(self.since),
            &time(self.until),
        ])
    }
}

/// Seals what was committed before the auditor asked, so that what they read includes every earlier
/// call (their own too). A sealer stopped elsewhere does not stop the read: verification reports
/// it.
async fn settle(state: &AppState) -> AppResult<()> {
    let settled = state
        .sealer
        .settle(&state.db, &state.keys.current(), &*state.clock)
        .await?;
    if !settled {
        tracing::warn!("audit records committed earlier are still unsealed: reading without them");
    }
    Ok(())
}

/// The references of the cases `entries` concern, by case id, that the reader may know: a case
/// of which the reader's agency is the originator, or the receiver once it was released (the whole
/// log's reader, the operator, knows them all). An entry in an auditor's scope can concern a case
/// their agency is no party to (their officer's refused look at it); that case stays unnamed.
pub async fn case_references(
    state: &AppState,
    scope: &AuditScope,
    entries: &[AuditEntry],
) -> std::collections::HashMap<String, String> {
    let mut ids: Vec<String> = entries
        .iter()
        .filter_map(|e| e.record.case_id.clone())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let read = async {
        let tx = state.db.begin_read().await?;
        let found = repo::cases::references(&tx, &ids).await?;
        tx.commit().await?;
        Ok::<_, AppError>(found)
    };
    let found = match read.await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the references of cases in the audit log");
            return Default::default();
        }
    };
    found
        .into_iter()
        .filter(|(_, case)| match scope.agency_id() {
            None => true,
            Some(agency) => {
                case.originating_agency_id == agency
                    || (case.receiving_agency_id == agency && case.released)
            }
        })
        .map(|(id, case)| (id, case.reference))
        .collect()
}

/// The usernames of the users `entries` concern (their target is a user), by id, that the reader
/// may know: users of the reader's own agency (the operator knows them all). An entry of their
/// admin's refused call on another agency's user keeps that user unnamed, as a case is.
pub async fn target_usernames(
    state: &AppState,
    scope: &AuditScope,
    entries: &[AuditEntry],
) -> std::collections::HashMap<String, String> {
    let users: Vec<UserId> = entries
        .iter()
        .filter(|e| e.record.target_type.as_deref() == Some("user"))
        .filter_map(|e| e.record.target_id.as_deref().map(UserId::from))
        .collect();
    people::named(state, users)
        .await
        .into_values()
        .filter(|p| scope.agency_id().is_none_or(|a| p.agency_id.as_str() == a))
        .map(|p| (p.id.to_string(), p.username))
        .collect()
}

pub async fn query(
    state: &AppState,
    call: &Call,
    scope: &AuditScope,
    filter: AuditFilter,
) -> AppResult<(Vec<AuditEntry>, Option<String>)> {
    let secret = &state.keys.page_token_secret();
    let binding = filter.binding(scope);
    let before_seq = filter
        .page_token
        .as_deref()
        .map(|t| paging::decode::<i64>(secret, &binding, t))
        .transpose()?;
    let mut query = AuditQuery {
        before_seq,
        limit: filter.page_size + 1,
        ..filter.scoped_to(scope)
    };
    // Read on a reader connection (SQLite's writer is never held by an auditor's scan), then
    // audit the query.
    settle(state).await?;
    let (entries, window_floor) = {
        let tx = state.db.begin_read().await?;
        let span = repo::audit::time_span(&tx, query.since, query.until).await?;
        query.span = Some(span);
        // An actor or a case is read from its own index. Otherwise the walk goes down the
        // sequence (within the time range's span, if one was asked) and, where that is longer
        // than a window, looks through one window of it and hands back where the window ended.
        let narrowed = query.actor_id.is_some() || query.case_id.is_some();
        let mut floor = None;
        if !narrowed && span != SeqSpan::Empty {
            let (first, last) = match span {
                SeqSpan::Within(first, last) => (first, last),
                SeqSpan::Empty | SeqSpan::Unknown => (1, i64::MAX),
            };
            let head = repo::audit::head(&tx).await?.0;
            let upper = before_seq
                .unwrap_or(i64::MAX)
                .min(last.saturating_add(1))
                .min(head + 1);
            let lowest = upper - state.max_audit_scan;
            if lowest > first {
                query.after_seq = Some(lowest - 1);
                floor = Some(lowest);
            }
        }
        let entries = repo::audit::query(&tx, &query).await?;
        tx.commit().await?;
        (entries, floor)
    };
    Work::begin(state, call).await?.commit().await?;
    let full = entries.len() as u64 > filter.page_size;
    let (entries, next) =
        paging::page(secret, &binding, entries, filter.page_size, |last| last.seq)?;
    match window_floor {
        // The window ran out before the page filled: go on below it.
        Some(floor) if !full => Ok((entries, Some(paging::encode(secret, &binding, &floor)?))),
        _ => Ok((entries, next)),
    }
}

/// Entries are read from the database this many at a time while exporting.
const EXPORT_BATCH: u64 = 500;

/// Streams every matching entry, oldest first, a batch at a time: memory stays constant however
/// long the log is, and a slow reader slows the reads instead of growing a buffer.
fn pump(db: Db, mut query: AuditQuery) -> mpsc::Receiver<AppResult<AuditEntry>> {
    let (sender, receiver) = mpsc::channel(EXPORT_BATCH as usize);
    query.oldest_first = true;
    query.limit = EXPORT_BATCH;
    tokio::spawn(async move {
        loop {
            let batch = async {
                let tx = db.begin_read().await?;
                // Where the time range lies in the sequence is worked out once per export.
                if query.span.is_none() {
                    query.span = Some(repo::audit::time_span(&tx, query.since, query.until).await?);
                }
                repo::audit::query(&tx, &query).await
            }
            .await;
            let batch = match batch {
                Ok(batch) => batch,
                Err(e) => {
                    sender.send(Err(e)).await.ok();
                    return;
                }
            };
            let done = (batch.len() as u64) < EXPORT_BATCH;
            for entry in batch {
                query.after_seq = Some(entry.seq);
                if sender.send(Ok(entry)).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
        }
    });
    receiver
}

/// An auditor's export: the same scope and filters as [`query`]. The export itself is audited when
/// it starts.
pub async fn export(
    state: &AppState,
    call: &Call,
    scope: &AuditScope,
    filter: AuditFilter,
) -> AppResult<mpsc::Receiver<AppResult<AuditEntry>>> {
    Work::begin(state, call).await?.commit().await?;
    settle(state).await?;
    Ok(pump(state.db.clone(), filter.scoped_to(scope)))
}

/// The operator's export of the whole log, straight from the database.
pub fn export_all(
    db: &Db,
    operator: &Operator,
    filter: AuditFilter,
) -> mpsc::Receiver<AppResult<AuditEntry>> {
    pump(db.clone(), filter.scoped_to(&operator.audit_scope()))
}

pub async fn latest_checkpoint(
    state: &AppState,
    call: &Call,
    _auditor: &AuditScope,
) -> AppResult<Checkpoint> {
    settle(state).await?;
    let work = Work::begin(state, call).await?;
    let checkpoint = repo::audit::latest_checkpoint(work.tx()).await?;
    work.commit().await?;
    checkpoint.ok_or(AppError::NotFound("no checkpoint has been signed yet"))
}

/// What an auditor asks to verify.
#[derive(Debug, Clone)]
pub enum Verification {
    Range { from: Option<i64>, to: Option<i64> },
    Checkpoint(Checkpoint),
}

/// Refuses a range (`from..=to`, or to the head) longer than `--max-verified-per-call`, so an
/// auditor's call stays a few seconds' work; the whole log is the operator's `liaisond audit verify`.
async fn bounded(state: &AppState, from: Option<i64>, to: Option<i64>) -> AppResult<()> {
    let head = {
        let tx = state.db.begin_read().await?;
        let head = repo::audit::last_seq(&tx).await?;
        tx.commit().await?;
        head
    };
    let from = from.unwrap_or(1).max(1);
    let to = to.unwrap_or(head).min(head);
    let most = state.max_verified_per_call;
    if to - from + 1 > most {
        return Err(AppError::FailedPrecondition(format!(
            "VerifyAuditChain checks at most {most} entries a call and {from} to {to} is {} \
             entries: give from_sequence and to_sequence, or run `liaisond audit verify` on the \
             database for the whole log",
            to - from + 1
        )));
    }
    Ok(())
}

pub async fn verify_chain(
    state: &AppState,
    call: &Call,
    _auditor: &AuditScope,
    what: Verification,
) -> AppResult<Report> {
    // Checkpoints may be signed by a key another replica added since this one last looked.
    if let Err(e) = state.keys.reload() {
        tracing::warn!(error = %e, "could not reload the signing keys");
    }
    settle(state).await?;
    let (keys, now) = (state.keys.current(), state.clock.now());
    let report = match what {
        Verification::Range { from, to } => {
            bounded(state, from, to).await?;
            verify::verify(&state.db, &keys, now, from, to).await?
        }
        Verification::Checkpoint(checkpoint) => {
            bounded(state, Some(checkpoint.seq), None).await?;
            verify::verify_checkpoint(&state.db, &keys, now, &checkpoint).await?
        }
    };
    Work::begin(state, call).await?.commit().await?;
    Ok(report)
}
