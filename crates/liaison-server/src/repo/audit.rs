//! Audit rows: the intake calls append to, the sealer's batch (take committed records, append
//! their entries, stamp their events), and the auditor's query.
//!
//! A call inserts its record into `audit_intake` in its own transaction and takes no shared lock.
//! One seal at a time (a transaction-scoped advisory lock on PostgreSQL; SQLite has one writer)
//! takes committed records, numbers them after the head (the newest entry) and appends their
//! entries, so sequence numbers are dense and in one order across every server.

use std::ops::ControlFlow;

use sea_orm::sea_query::{
    Alias, CaseStatement, Condition, Expr, LockBehavior, LockType, Order, Query,
};
use sea_orm::{
    sqlx, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter,
    QueryOrder, QuerySelect, Set, Statement, StreamTrait,
};
use tokio_stream::StreamExt;

use super::entities::{
    audit_checkpoint, audit_entry, audit_intake, audit_intake_rejected, case_event,
};
use super::{decode, Tx};
use crate::authz::AuditScope;
use crate::chain::{AuditEntry, AuditRecord, Checkpoint, RecordView, Refusals, GENESIS_HASH};
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{Handling, Outcome, Roles, Timestamp};

/// A record in the intake: its intake number, what it says and the service's MAC over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeRecord {
    pub id: i64,
    pub record: AuditRecord,
    pub mac: String,
}

/// The row of an entry or of the intake for `record`: both have the same record columns, and
/// `extra` sets the rest.
macro_rules! active_record {
    ($model:path, $record:expr, { $($extra:tt)* }) => {{
        let record: &AuditRecord = $record;
        $model {
            at: Set(to_micros(record.at)),
            actor_id: Set(record.actor_id.clone()),
            actor_username: Set(record.actor_username.clone()),
            actor_agency_id: Set(record.actor_agency_id.clone()),
            actor_roles: Set(record.actor_roles.bits()),
            method: Set(record.method.clone()),
            target_type: Set(record.target_type.clone()),
            target_id: Set(record.target_id.clone()),
            case_id: Set(record.case_id.clone()),
            case_originating_agency_id: Set(record.case_originating_agency_id.clone()),
            case_receiving_agency_id: Set(record.case_receiving_agency_id.clone()),
            outcome: Set(record.outcome.code()),
            status_code: Set(record.status_code),
            request_id: Set(record.request_id.clone()),
            peer: Set(record.peer.clone()),
            event: Set(record.event.clone()),
            refusals: Set(record.refusals.map(|r| r.count)),
            first_refused_at: Set(record.refusals.map(|r| to_micros(r.first_at))),
            handling: Set(record.handling.map(Handling::code)),
            $($extra)*
        }
    }};
}

/// Puts a call's record into the intake, in the call's transaction: it commits or rolls back with
/// the change it describes. Answers its intake number.
pub async fn insert_intake(tx: &Tx, record: &AuditRecord, mac: String) -> AppResult<i64> {
    let row = active_record!(audit_intake::ActiveModel, record, {
        id: sea_orm::NotSet,
        mac: Set(mac),
    });
    Ok(audit_intake::Entity::insert(row)
        .exec(&tx.txn)
        .await?
        .last_insert_id)
}

/// The record a row of the entries or of the intake holds: both have the same record columns.
macro_rules! record_of_row {
    ($row:ident) => {
        AuditRecord {
            at: from_micros($row.at),
            actor_id: $row.actor_id,
            actor_username: $row.actor_username,
            actor_agency_id: $row.actor_agency_id,
            actor_roles: Roles::from_bits($row.actor_roles),
            method: $row.method,
            target_type: $row.target_type,
            target_id: $row.target_id,
            case_id: $row.case_id,
            case_originating_agency_id: $row.case_originating_agency_id,
            case_receiving_agency_id: $row.case_receiving_agency_id,
            outcome: decode($row.outcome.into(), Outcome::from_code, "audit outcome")?,
            status_code: $row.status_code,
            request_id: $row.request_id,
            peer: $row.peer,
            event: $row.event,
            refusals: refusals($row.refusals, $row.first_refused_at),
            handling: $row
                .handling
                .map(|h| decode(h.into(), Handling::from_code, "handling code"))
                .transpose()?,
        }
    };
}

/// A refusal summary's stored count and first time, as the record has them.
fn refusals(count: Option<i64>, first_at: Option<i64>) -> Option<Refusals> {
    Some(Refusals {
        count: count?,
        first_at: from_micros(first_at?),
    })
}

impl TryFrom<audit_intake::Model> for IntakeRecord {
    type Error = AppError;

    fn try_from(row: audit_intake::Model) -> AppResult<Self> {
        Ok(IntakeRecord {
            id: row.id,
            record: record_of_row!(row),
            mac: row.mac,
        })
    }
}

/// The key of the PostgreSQL advisory lock a seal holds for its transaction ("LIAISEAL").
pub(crate) const SEAL_LOCK: i64 = 0x4C49_4149_5345_414C;

/// Takes this transaction's turn to seal: false when another server's seal holds it (PostgreSQL;
/// SQLite's one writer serialises seals by itself). The lock ends with the transaction, so a
/// sealer that dies mid-batch hands over at once.
pub async fn take_seal_turn(tx: &Tx) -> AppResult<bool> {
    if tx.backend() != DbBackend::Postgres {
        return Ok(true);
    }
    let row = tx
        .txn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_try_advisory_xact_lock($1) AS turn",
            [SEAL_LOCK.into()],
        ))
        .await?
        .ok_or_else(|| AppError::internal("an advisory lock returned no row"))?;
    Ok(row.try_get("", "turn")?)
}

/// Removes and answers the oldest committed intake records, at most `limit`, in intake order. The
/// removal is this transaction's first write, so on SQLite it takes the writer at once.
pub async fn take_intake(tx: &Tx, limit: u64) -> AppResult<Vec<IntakeRecord>> {
    let id = Alias::new("id");
    let mut oldest = Query::select();
    oldest
        .column(id.clone())
        .from(Alias::new("audit_intake"))
        .order_by(id.clone(), Order::Asc)
        .limit(limit);
    if tx.backend() == DbBackend::Postgres {
        oldest.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let take = Query::delete()
        .from_table(Alias::new("audit_intake"))
        .and_where(Expr::col(id).in_subquery(oldest.to_owned()))
        .returning_all()
        .to_owned();
    let mut rows = audit_intake::Model::find_by_statement(tx.backend().build(&take))
        .all(&tx.txn)
        .await?;
    // RETURNING gives no order.
    rows.sort_unstable_by_key(|row| row.id);
    rows.into_iter().map(IntakeRecord::try_from).collect()
}

/// Keeps a record the sealer refused, with why: verification reports every one.
pub async fn reject_intake(
    tx: &Tx,
    rejected: &IntakeRecord,
    reason: &str,
    at: Timestamp,
) -> AppResult<()> {
    let row = active_record!(audit_intake_rejected::ActiveModel, &rejected.record, {
        intake_id: Set(rejected.id),
        mac: Set(rejected.mac.clone()),
        reason: Set(reason.to_string()),
        rejected_at: Set(to_micros(at)),
    });
    audit_intake_rejected::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(audit_intake_rejected::Column::IntakeId)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(&tx.txn)
        .await?;
    Ok(())
}

/// A refused intake record, as verification reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRecord {
    pub intake_id: i64,
    pub method: String,
    pub at: Timestamp,
    pub reason: String,
}

/// The refused records, oldest first, at most `limit`.
pub async fn rejected(tx: &Tx, limit: u64) -> AppResult<Vec<RejectedRecord>> {
    Ok(audit_intake_rejected::Entity::find()
        .order_by_asc(audit_intake_rejected::Column::IntakeId)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(|row| RejectedRecord {
            intake_id: row.intake_id,
            method: row.method,
            at: from_micros(row.at),
            reason: row.reason,
        })
        .collect())
}

/// Intake records still waiting, oldest first: their intake numbers, methods and times.
pub async fn waiting(tx: &Tx, limit: u64) -> AppResult<Vec<(i64, String, Timestamp)>> {
    Ok(audit_intake::Entity::find()
        .select_only()
        .columns([
            audit_intake::Column::Id,
            audit_intake::Column::Method,
            audit_intake::Column::At,
        ])
        .order_by_asc(audit_intake::Column::Id)
        .limit(limit)
        .into_tuple::<(i64, String, i64)>()
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(|(id, method, at)| (id, method, from_micros(at)))
        .collect())
}

/// The newest intake number handed out so far (committed), 0 when the intake is empty.
pub async fn newest_intake(tx: &Tx) -> AppResult<i64> {
    Ok(audit_intake::Entity::find()
        .select_only()
        .column(audit_intake::Column::Id)
        .order_by_desc(audit_intake::Column::Id)
        .into_tuple::<i64>()
        .one(&tx.txn)
        .await?
        .unwrap_or(0))
}

/// Whether any intake record numbered `upto` or lower is still waiting to be sealed.
pub async fn waiting_upto(tx: &Tx, upto: i64) -> AppResult<bool> {
    Ok(audit_intake::Entity::find()
        .select_only()
        .column(audit_intake::Column::Id)
        .filter(audit_intake::Column::Id.lte(upto))
        .into_tuple::<i64>()
        .one(&tx.txn)
        .await?
        .is_some())
}

/// Appends sealed entries (already numbered, chained and MAC'd) in as few statements as the
/// database's parameter limit allows.
pub async fn insert_entries(tx: &Tx, entries: &[AuditEntry]) -> AppResult<()> {
    // 20 columns a row: SQLite allows 32,766 parameters a statement.
    for chunk in entries.chunks(500) {
        let rows = chunk.iter().map(|entry| {
            let record = &entry.record;
            active_record!(audit_entry::ActiveModel, record, {
                seq: Set(entry.seq),
                prev_hash: Set(entry.prev_hash.clone()),
                hash: Set(entry.hash.clone()),
                mac: Set(entry.mac.clone()),
            })
        });
        audit_entry::Entity::insert_many(rows)
            .exec_without_returning(&tx.txn)
            .await?;
    }
    Ok(())
}

/// Gives the events recorded by sealed calls their entries' sequence numbers: `(intake number,
/// sequence number)` pairs. Answers how many events were stamped.
pub async fn stamp_events(tx: &Tx, sealed: &[(i64, i64)]) -> AppResult<u64> {
    let mut stamped = 0;
    for chunk in sealed.chunks(500) {
        let mut seq = CaseStatement::new();
        for (intake_id, entry_seq) in chunk {
            seq = seq.case(
                Expr::col(case_event::Column::AuditIntakeId).eq(*intake_id),
                *entry_seq,
            );
        }
        let stamp = Query::update()
            .table(case_event::Entity)
            .value(case_event::Column::Seq, seq)
            .value(
                case_event::Column::AuditIntakeId,
                Expr::value(Option::<i64>::None),
            )
            .and_where(
                Expr::col(case_event::Column::AuditIntakeId)
                    .is_in(chunk.iter().map(|(intake_id, _)| *intake_id)),
            )
            .to_owned();
        stamped += tx
            .txn
            .execute(tx.backend().build(&stamp))
            .await?
            .rows_affected();
    }
    Ok(stamped)
}

impl TryFrom<audit_entry::Model> for AuditEntry {
    type Error = AppError;

    fn try_from(row: audit_entry::Model) -> AppResult<Self> {
        Ok(AuditEntry {
            seq: row.seq,
            record: record_of_row!(row),
            prev_hash: row.prev_hash,
            hash: row.hash,
            mac: row.mac,
        })
    }
}

/// An audit log query, scoped by the reader's capability.
#[derive(Debug, Clone)]
pub struct AuditQuery {
    /// Whose entries: an auditor's agency's (whose actor belongs to it or whose case has it as a
    /// party), or the whole log.
    pub scope: AuditScope,
    pub actor_id: Option<String>,
    pub case_id: Option<String>,
    pub method: Option<String>,
    pub outcome: Option<Outcome>,
    /// Only entries recording this handling code or a stricter one.
    pub min_handling: Option<Handling>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Only entries with a lower sequence number (the cursor, newest first).
    pub before_seq: Option<i64>,
    /// Only entries with a higher sequence number (the cursor, oldest first).
    pub after_seq: Option<i64>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    pub limit: u64,
    /// The sequence numbers `since..until` spans, when the caller already knows them (see
    /// [`time_span`]); worked out by [`query`] when `None`.
    pub span: Option<SeqSpan>,
}

/// Where the entries of a time range lie in the sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqSpan {
    /// No entry falls in the range.
    Empty,
    /// Every entry in the range has `first <= seq <= last`.
    Within(i64, i64),
    /// No time range was asked for.
    Unknown,
}

/// How far an entry's time may lie after its checkpoint's (the servers' clocks differ) or before
/// it (the seal's normal wait) and the entry still be found by time through the checkpoints. A
/// batch holding an entry older than this when sealed is marked late, and found on its own.
pub const TIME_MARGIN: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// The sequence numbers that entries with `since <= at < until` lie between, from two look-ups
/// in the checkpoints' index on time, and one in the index of late batches:
///
/// - every entry up to a checkpoint signed before `since - TIME_MARGIN` was recorded before
///   `since`, so the span starts after the last such checkpoint;
/// - every entry after the first checkpoint signed at `until + TIME_MARGIN` or later was sealed
///   after it and so recorded after `until`, unless its batch is late (sealed more than the
///   margin after its oldest entry, as after a sealer outage): the span ends at that checkpoint,
///   or at the last late batch beyond it holding an entry older than `until`.
///
/// A checkpoint's time rises with its sequence number (the sealer makes it so, and before the
/// sealer checkpoints were signed over the head as it stood), so each look-up is one index step.
/// An end left open is open in the span too.
pub async fn time_span(
    tx: &Tx,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> AppResult<SeqSpan> {
    if since.is_none() && until.is_none() {
        return Ok(SeqSpan::Unknown);
    }
    if let (Some(since), Some(until)) = (since, until) {
        if until <= since {
            return Ok(SeqSpan::Empty);
        }
    }
    let first = match since {
        Some(since) => audit_checkpoint::Entity::find()
            .filter(audit_checkpoint::Column::At.lt(to_micros(since - TIME_MARGIN)))
            .order_by_desc(audit_checkpoint::Column::At)
            .order_by_desc(audit_checkpoint::Column::Seq)
            .one(&tx.txn)
            .await?
            .map_or(1, |c| c.seq + 1),
        None => 1,
    };
    let last = match until {
        Some(until) => {
            let sealed_after = audit_checkpoint::Entity::find()
                .filter(audit_checkpoint::Column::At.gte(to_micros(until + TIME_MARGIN)))
                .order_by_asc(audit_checkpoint::Column::At)
                .order_by_asc(audit_checkpoint::Column::Seq)
                .one(&tx.txn)
                .await?;
            match sealed_after {
                Some(checkpoint) => {
                    let late = audit_checkpoint::Entity::find()
                        .filter(audit_checkpoint::Column::Late.eq(true))
                        .filter(audit_checkpoint::Column::Seq.gt(checkpoint.seq))
                        .filter(audit_checkpoint::Column::OldestAt.lt(to_micros(until)))
                        .order_by_desc(audit_checkpoint::Column::Seq)
                        .one(&tx.txn)
                        .await?;
                    late.map_or(checkpoint.seq, |c| c.seq)
                }
                None => i64::MAX,
            }
        }
        None => i64::MAX,
    };
    Ok(if first > last {
        SeqSpan::Empty
    } else {
        SeqSpan::Within(first, last)
    })
}

/// Entries matching `q`, newest first unless asked otherwise. With no agency, every entry
/// (the operator's export). A time range is also narrowed to the sequence numbers it spans, so
/// the walk along the sequence stops where the range does.
pub async fn query(tx: &Tx, q: &AuditQuery) -> AppResult<Vec<AuditEntry>> {
    let span = match q.span {
        Some(span) => span,
        None => time_span(tx, q.since, q.until).await?,
    };
    let mut query = audit_entry::Entity::find();
    match span {
        SeqSpan::Empty => return Ok(Vec::new()),
        SeqSpan::Within(first, last) => {
            query = query
                .filter(audit_entry::Column::Seq.gte(first))
                .filter(audit_entry::Column::Seq.lte(last));
        }
        SeqSpan::Unknown => {}
    }
    if let Some(agency) = q.scope.agency_id() {
        query = query.filter(
            Condition::any()
                .add(audit_entry::Column::ActorAgencyId.eq(agency))
                .add(audit_entry::Column::CaseOriginatingAgencyId.eq(agency))
                .add(audit_entry::Column::CaseReceivingAgencyId.eq(agency)),
        );
    }
    if let Some(actor) = &q.actor_id {
        query = query.filter(audit_entry::Column::ActorId.eq(actor.as_str()));
    }
    if let Some(case_id) = &q.case_id {
        query = query.filter(audit_entry::Column::CaseId.eq(case_id.as_str()));
    }
    if let Some(method) = &q.method {
        query = query.filter(audit_entry::Column::Method.eq(method.as_str()));
    }
    if let Some(handling) = q.min_handling {
        query = query.filter(audit_entry::Column::Handling.gte(handling.code()));
    }
    if let Some(outcome) = q.outcome {
        query = query.filter(audit_entry::Column::Outcome.eq(outcome.code()));
    }
    // Within a known span the walk along the sequence is the plan: the time is then compared as
    // `at + 0`, which no index answers. Otherwise the planner, taking time and sequence to be
    // independent, expects a handful of rows from the index on `at` where a day holds tens of
    // thousands, and fetches and sorts them all.
    let at = || match span {
        SeqSpan::Within(..) => Expr::expr(Expr::col(audit_entry::Column::At).add(0)),
        SeqSpan::Empty | SeqSpan::Unknown => Expr::col(audit_entry::Column::At),
    };
    if let Some(since) = q.since {
        query = query.filter(at().gte(to_micros(since)));
    }
    if let Some(until) = q.until {
        query = query.filter(at().lt(to_micros(until)));
    }
    if let Some(before) = q.before_seq {
        query = query.filter(audit_entry::Column::Seq.lt(before));
    }
    if let Some(after) = q.after_seq {
        query = query.filter(audit_entry::Column::Seq.gt(after));
    }
    query = if q.oldest_first {
        query.order_by_asc(audit_entry::Column::Seq)
    } else {
        query.order_by_desc(audit_entry::Column::Seq)
    };
    query
        .limit(q.limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(AuditEntry::try_from)
        .collect()
}

/// Every entry from `from_seq` on, in sequence order, at most `limit` of them.
pub async fn range(tx: &Tx, from_seq: i64, limit: u64) -> AppResult<Vec<AuditEntry>> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::Seq.gte(from_seq))
        .order_by_asc(audit_entry::Column::Seq)
        .limit(limit)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(AuditEntry::try_from)
        .collect()
}

/// The head of the chain: the newest entry's sequence number and hash, `(0, genesis)` before the
/// first. The sealer's appends alone move it, so no row is updated to keep it.
pub async fn head(tx: &Tx) -> AppResult<(i64, String)> {
    Ok(audit_entry::Entity::find()
        .select_only()
        .columns([audit_entry::Column::Seq, audit_entry::Column::Hash])
        .order_by_desc(audit_entry::Column::Seq)
        .into_tuple::<(i64, String)>()
        .one(&tx.txn)
        .await?
        .unwrap_or_else(|| (0, GENESIS_HASH.to_string())))
}

/// The highest sequence number stored, 0 when there is none.
pub async fn last_seq(tx: &Tx) -> AppResult<i64> {
    Ok(audit_entry::Entity::find()
        .select_only()
        .column(audit_entry::Column::Seq)
        .order_by_desc(audit_entry::Column::Seq)
        .into_tuple::<i64>()
        .one(&tx.txn)
        .await?
        .unwrap_or(0))
}

pub async fn entry(tx: &Tx, seq: i64) -> AppResult<Option<AuditEntry>> {
    audit_entry::Entity::find_by_id(seq)
        .one(&tx.txn)
        .await?
        .map(AuditEntry::try_from)
        .transpose()
}

/// A stored entry as verification reads it: borrowed from its row, nothing copied.
#[derive(Debug, Clone, Copy)]
pub struct StoredEntry<'a> {
    pub seq: i64,
    pub record: RecordView<'a>,
    pub prev_hash: &'a str,
    pub hash: &'a str,
    pub mac: Option<&'a str>,
}

/// The columns [`scan`] reads, in the order [`stored_entry`] decodes them.
const SCAN_COLUMNS: [&str; 23] = [
    "seq",
    "at",
    "actor_id",
    "actor_username",
    "actor_agency_id",
    "actor_roles",
    "method",
    "target_type",
    "target_id",
    "case_id",
    "case_originating_agency_id",
    "case_receiving_agency_id",
    "outcome",
    "status_code",
    "request_id",
    "peer",
    "event",
    "prev_hash",
    "hash",
    "mac",
    "refusals",
    "first_refused_at",
    "handling",
];

/// Rows a [`scan`] asks for at once: it streams them, and stopping early leaves at most this many
/// for the driver to discard.
const SCAN_WINDOW: u64 = 50_000;

/// Decodes a row of [`SCAN_COLUMNS`] in place, as [`AuditEntry::try_from`] would read it. The
/// values' types are checked against the Rust types when `check_types`.
fn stored_entry<'r, R>(row: &'r R, check_types: bool) -> AppResult<StoredEntry<'r>>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    &'r str: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    i16: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn get<'r, R, T>(row: &'r R, index: usize, check_types: bool) -> AppResult<T>
    where
        R: sqlx::Row,
        usize: sqlx::ColumnIndex<R>,
        T: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    {
        let value = if check_types {
            row.try_get(index)
        } else {
            row.try_get_unchecked(index)
        };
        value.map_err(|e| AppError::internal(format!("reading an audit entry: {e}")))
    }
    let text = |i: usize| get::<R, &'r str>(row, i, check_types);
    let optional = |i: usize| get::<R, Option<&'r str>>(row, i, check_types);
    let outcome: i16 = get(row, 12, check_types)?;
    Ok(StoredEntry {
        seq: get(row, 0, check_types)?,
        record: RecordView {
            at_micros: from_micros(get(row, 1, check_types)?).timestamp_micros(),
            actor_id: optional(2)?,
            actor_username: optional(3)?,
            actor_agency_id: optional(4)?,
            actor_roles: Roles::from_bits(get(row, 5, check_types)?).bits(),
            method: text(6)?,
            target_type: optional(7)?,
            target_id: optional(8)?,
            case_id: optional(9)?,
            case_originating_agency_id: optional(10)?,
            case_receiving_agency_id: optional(11)?,
            outcome: decode(outcome.into(), Outcome::from_code, "audit outcome")?.code(),
            status_code: get(row, 13, check_types)?,
            request_id: text(14)?,
            peer: optional(15)?,
            event: optional(16)?,
            refusals: match (
                get::<R, Option<i64>>(row, 20, check_types)?,
                get::<R, Option<i64>>(row, 21, check_types)?,
            ) {
                (Some(count), Some(first_at)) => {
                    Some((count, from_micros(first_at).timestamp_micros()))
                }
                _ => None,
            },
            handling: get::<R, Option<i16>>(row, 22, check_types)?
                .map(|h| decode(h.into(), Handling::from_code, "handling code"))
                .transpose()?
                .map(Handling::code),
        },
        prev_hash: text(17)?,
        hash: text(18)?,
        mac: optional(19)?,
    })
}

/// Streams the entries with `from <= seq <= to`, in sequence order, to `visit` until it breaks:
/// constant memory however long the log, and no copy of any row.
pub async fn scan(
    tx: &Tx,
    from: i64,
    to: i64,
    mut visit: impl FnMut(StoredEntry<'_>) -> ControlFlow<()>,
) -> AppResult<()> {
    let mut next = from;
    while next <= to {
        let window = Query::select()
            .columns(SCAN_COLUMNS.map(Alias::new))
            .from(Alias::new("audit_entries"))
            .and_where(Expr::col(Alias::new("seq")).gte(next))
            .and_where(Expr::col(Alias::new("seq")).lte(to))
            .order_by(Alias::new("seq"), Order::Asc)
            .limit(SCAN_WINDOW)
            .to_owned();
        let mut rows = Box::pin(tx.txn.stream(tx.backend().build(&window)).await?);
        let mut read = 0u64;
        while let Some(row) = rows.next().await {
            let row = row?;
            let entry = if let Some(row) = row.try_as_pg_row() {
                // PostgreSQL types columns, so every row of a result has the first one's types.
                stored_entry(row, read == 0)?
            } else if let Some(row) = row.try_as_sqlite_row() {
                // SQLite types values, row by row.
                stored_entry(row, true)?
            } else {
                return Err(AppError::internal("an audit row from an unknown database"));
            };
            read += 1;
            next = entry.seq.saturating_add(1);
            if visit(entry).is_break() {
                return Ok(());
            }
        }
        if read < SCAN_WINDOW {
            break;
        }
    }
    Ok(())
}

impl From<audit_checkpoint::Model> for Checkpoint {
    fn from(row: audit_checkpoint::Model) -> Self {
        Checkpoint {
            seq: row.seq,
            hash: row.hash,
            at: from_micros(row.at),
            kid: row.kid,
            signature: row.signature,
        }
    }
}

/// When the entries a seal checkpoints were recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchTimes {
    /// The oldest entry's time.
    pub oldest_at: Timestamp,
    /// Whether it was sealed more than [`TIME_MARGIN`] after it was recorded.
    pub late: bool,
}

impl BatchTimes {
    /// The times of a batch whose oldest entry was recorded at `oldest_at`, sealed at `sealed_at`.
    pub fn new(oldest_at: Timestamp, sealed_at: Timestamp) -> BatchTimes {
        BatchTimes {
            oldest_at,
            late: sealed_at - oldest_at > TIME_MARGIN,
        }
    }
}

/// Stores a checkpoint, with the times of the batch it closes when it closes one; one already
/// stored for the same sequence number wins.
pub async fn insert_checkpoint(
    tx: &Tx,
    checkpoint: &Checkpoint,
    batch: Option<BatchTimes>,
) -> AppResult<()> {
    let row = audit_checkpoint::ActiveModel {
        seq: Set(checkpoint.seq),
        hash: Set(checkpoint.hash.clone()),
        at: Set(to_micros(checkpoint.at)),
        kid: Set(checkpoint.kid.clone()),
        signature: Set(checkpoint.signature.clone()),
        oldest_at: Set(batch.map(|b| to_micros(b.oldest_at))),
        late: Set(batch.is_some_and(|b| b.late)),
    };
    audit_checkpoint::Entity::insert(row)
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(audit_checkpoint::Column::Seq)
                .do_nothing()
                .to_owned(),
        )
        .do_nothing()
        .exec(&tx.txn)
        .await?;
    Ok(())
}

pub async fn latest_checkpoint(tx: &Tx) -> AppResult<Option<Checkpoint>> {
    Ok(audit_checkpoint::Entity::find()
        .order_by_desc(audit_checkpoint::Column::Seq)
        .one(&tx.txn)
        .await?
        .map(Checkpoint::from))
}

pub async fn checkpoint_at(tx: &Tx, seq: i64) -> AppResult<Option<Checkpoint>> {
    Ok(audit_checkpoint::Entity::find_by_id(seq)
        .one(&tx.txn)
        .await?
        .map(Checkpoint::from))
}

/// Checkpoints with `from <= seq`, in sequence order.
pub async fn checkpoints_from(tx: &Tx, from: i64) -> AppResult<Vec<Checkpoint>> {
    Ok(audit_checkpoint::Entity::find()
        .filter(audit_checkpoint::Column::Seq.gte(from))
        .order_by_asc(audit_checkpoint::Column::Seq)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(Checkpoint::from)
        .collect())
}

/// A checkpoint as stored: the signed part, and what the sealer noted of the batch it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub checkpoint: Checkpoint,
    /// The batch's oldest entry time (`None`: no batch, or signed before batches were noted).
    pub oldest_at: Option<Timestamp>,
    pub late: bool,
}

/// Checkpoints with `from <= seq <= to`, in sequence order.
pub async fn checkpoints_between(tx: &Tx, from: i64, to: i64) -> AppResult<Vec<StoredCheckpoint>> {
    Ok(audit_checkpoint::Entity::find()
        .filter(audit_checkpoint::Column::Seq.gte(from))
        .filter(audit_checkpoint::Column::Seq.lte(to))
        .order_by_asc(audit_checkpoint::Column::Seq)
        .all(&tx.txn)
        .await?
        .into_iter()
        .map(|row| StoredCheckpoint {
            oldest_at: row.oldest_at.map(from_micros),
            late: row.late,
            checkpoint: Checkpoint::from(row),
        })
        .collect())
}

/// The first sequence number whose entry must carry a MAC: entries before it were written before
/// entries carried one.
pub async fn mac_start(tx: &Tx) -> AppResult<i64> {
    rule_start(tx, "audit_mac_start").await
}

/// The first sequence number the sealer assigned: from there on every batch is checkpointed.
pub async fn seal_start(tx: &Tx) -> AppResult<i64> {
    rule_start(tx, "audit_seal_start").await
}

async fn rule_start(tx: &Tx, table: &str) -> AppResult<i64> {
    let query = Query::select()
        .column(Alias::new("seq"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new("id")).eq(1))
        .to_owned();
    let row = tx
        .txn
        .query_one(tx.backend().build(&query))
        .await?
        .ok_or_else(|| AppError::internal(format!("the row of {table} is missing")))?;
    Ok(row.try_get::<i64>("", "seq")?)
}
