//! Audit rows: the append under the head row's lock, and the auditor's query.
//!
//! The head row (`audit_head`, id 1) holds the last sequence number and hash. Taking it with an
//! `UPDATE ... RETURNING` locks it until commit, so appends from every process are serialised:
//! sequence numbers are dense, in commit order, and each entry chains from the one before.

use std::ops::ControlFlow;

use sea_orm::sea_query::{Alias, Condition, Expr, Order, Query};
use sea_orm::{
    sqlx, ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, StreamTrait,
};
use tokio_stream::StreamExt;

use super::entities::{audit_checkpoint, audit_entry};
use super::{decode, Tx};
use crate::authz::AuditScope;
use crate::chain::{chain_hash, AuditEntry, AuditRecord, Checkpoint, RecordView, Signer};
use crate::clock::{from_micros, to_micros};
use crate::error::{AppError, AppResult};
use crate::model::{Outcome, Roles, Timestamp};

/// Appends `record` under the head row's lock: its sequence number, its link in the chain and the
/// service's MAC over its hash.
pub async fn append(tx: &Tx, record: AuditRecord, keys: &impl Signer) -> AppResult<AuditEntry> {
    let head = Alias::new("audit_head");
    let (id, seq_col, hash_col) = (Alias::new("id"), Alias::new("seq"), Alias::new("hash"));
    let take_head = Query::update()
        .table(head.clone())
        .value(seq_col.clone(), Expr::col(seq_col.clone()).add(1))
        .and_where(Expr::col(id.clone()).eq(1))
        .returning(Query::returning().columns([seq_col.clone(), hash_col.clone()]))
        .to_owned();
    let row = tx
        .txn
        .query_one(tx.backend().build(&take_head))
        .await?
        .ok_or_else(|| AppError::internal("the audit head row is missing"))?;
    let seq: i64 = row.try_get("", "seq")?;
    let prev_hash: String = row.try_get("", "hash")?;
    let entry_hash = chain_hash(seq, &record, &prev_hash);
    let mac = keys.entry_mac(&entry_hash);

    audit_entry::ActiveModel {
        seq: Set(seq),
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
        prev_hash: Set(prev_hash.clone()),
        hash: Set(entry_hash.clone()),
        mac: Set(Some(mac.clone())),
    }
    .insert(&tx.txn)
    .await?;

    let move_head = Query::update()
        .table(head)
        .value(hash_col, entry_hash.clone())
        .and_where(Expr::col(id).eq(1))
        .to_owned();
    tx.txn.execute(tx.backend().build(&move_head)).await?;

    Ok(AuditEntry {
        seq,
        record,
        prev_hash,
        hash: entry_hash,
        mac: Some(mac),
    })
}

impl TryFrom<audit_entry::Model> for AuditEntry {
    type Error = AppError;

    fn try_from(row: audit_entry::Model) -> AppResult<Self> {
        Ok(AuditEntry {
            seq: row.seq,
            record: AuditRecord {
                at: from_micros(row.at),
                actor_id: row.actor_id,
                actor_username: row.actor_username,
                actor_agency_id: row.actor_agency_id,
                actor_roles: Roles::from_bits(row.actor_roles),
                method: row.method,
                target_type: row.target_type,
                target_id: row.target_id,
                case_id: row.case_id,
                case_originating_agency_id: row.case_originating_agency_id,
                case_receiving_agency_id: row.case_receiving_agency_id,
                outcome: decode(row.outcome.into(), Outcome::from_code, "audit outcome")?,
                status_code: row.status_code,
                request_id: row.request_id,
                peer: row.peer,
                event: row.event,
            },
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
    /// The range holds too many entries to tell cheaply.
    Unknown,
}

/// A time range holding at most this many entries is narrowed to the sequence numbers it spans.
const SPAN_SCAN_LIMIT: u64 = 50_000;

/// The sequence numbers of the entries with `since <= at < until`, read from the index on
/// `(at, seq)` alone and at most [`SPAN_SCAN_LIMIT`] of them. Entries are ordered by sequence
/// number and their times only nearly follow it (a time is taken before the head's lock), so the
/// time range cannot be turned into a sequence range by looking up its ends; this looks at every
/// entry in it, which is cheap for the ranges people ask about (a day is a few tens of thousands).
/// Only a closed range is worth it: a walk down the sequence from the head reaches an open one
/// (`since` alone) at once.
pub async fn time_span(
    tx: &Tx,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> AppResult<SeqSpan> {
    let (Some(since), Some(until)) = (since, until) else {
        return Ok(SeqSpan::Unknown);
    };
    let (seq, at) = (Alias::new("seq"), Alias::new("at"));
    let in_range = Query::select()
        .column(seq.clone())
        .from(Alias::new("audit_entries"))
        .and_where(Expr::col(at.clone()).gte(to_micros(since)))
        .and_where(Expr::col(at).lt(to_micros(until)))
        .limit(SPAN_SCAN_LIMIT + 1)
        .to_owned();
    let span = Query::select()
        .expr_as(Expr::col(seq.clone()).count(), Alias::new("entries"))
        .expr_as(Expr::col(seq.clone()).min(), Alias::new("first"))
        .expr_as(Expr::col(seq).max(), Alias::new("last"))
        .from_subquery(in_range, Alias::new("in_range"))
        .to_owned();
    let row = tx
        .txn
        .query_one(tx.backend().build(&span))
        .await?
        .ok_or_else(|| AppError::internal("an aggregate returned no row"))?;
    let entries: i64 = row.try_get("", "entries")?;
    let first: Option<i64> = row.try_get("", "first")?;
    let last: Option<i64> = row.try_get("", "last")?;
    Ok(match (first, last) {
        _ if entries as u64 > SPAN_SCAN_LIMIT => SeqSpan::Unknown,
        (Some(first), Some(last)) => SeqSpan::Within(first, last),
        _ => SeqSpan::Empty,
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

/// The last sequence number and hash, as committed.
pub async fn head(tx: &Tx) -> AppResult<(i64, String)> {
    let query = Query::select()
        .columns([Alias::new("seq"), Alias::new("hash")])
        .from(Alias::new("audit_head"))
        .and_where(Expr::col(Alias::new("id")).eq(1))
        .to_owned();
    let row = tx
        .txn
        .query_one(tx.backend().build(&query))
        .await?
        .ok_or_else(|| AppError::internal("the audit head row is missing"))?;
    Ok((row.try_get("", "seq")?, row.try_get("", "hash")?))
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
const SCAN_COLUMNS: [&str; 20] = [
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

/// Stores a checkpoint; one already stored for the same sequence number wins.
pub async fn insert_checkpoint(tx: &Tx, checkpoint: &Checkpoint) -> AppResult<()> {
    let row = audit_checkpoint::ActiveModel {
        seq: Set(checkpoint.seq),
        hash: Set(checkpoint.hash.clone()),
        at: Set(to_micros(checkpoint.at)),
        kid: Set(checkpoint.kid.clone()),
        signature: Set(checkpoint.signature.clone()),
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

/// The first sequence number whose entry must carry a MAC: entries before it were written before
/// entries carried one.
pub async fn mac_start(tx: &Tx) -> AppResult<i64> {
    let row = tx
        .txn
        .query_one(sea_orm::Statement::from_string(
            tx.backend(),
            "SELECT seq FROM audit_mac_start WHERE id = 1",
        ))
        .await?
        .ok_or_else(|| AppError::internal("the audit MAC start row is missing"))?;
    Ok(row.try_get::<i64>("", "seq")?)
}
