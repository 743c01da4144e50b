//! Bulk loading for `liaison-bench seed`: many rows per round trip and many round trips per
//! transaction. PostgreSQL takes rows through `COPY ... FROM STDIN` (text format), SQLite through
//! multi-row `INSERT`s sized below its bound-parameter limit. The audit log is appended a chunk per
//! transaction, each chunk moving the head row only if it is still where the chunk's chain starts.

use std::io::Write as _;

use sea_orm::sea_query::{Alias, Query};
use sea_orm::sqlx;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, RuntimeErr, Set};

use super::entities::{
    agency, audit_checkpoint, audit_entry, case, case_event, case_note, channel, user,
};
use super::{Db, Tx};
use crate::chain::{AuditEntry, Checkpoint, GENESIS_HASH};
use crate::clock::to_micros;
use crate::error::{AppError, AppResult};
use crate::model::{Agency, Case, CaseEvent, Channel, Note, Timestamp, User};

/// A case as the seed writes it: the case, the request id it was filed with, and when it was
/// escalated (a FILED case left past its deadline, as the service's timer would have done).
#[derive(Debug, Clone)]
pub struct NewCase {
    pub case: Case,
    pub request_id: String,
    pub escalated_at: Option<Timestamp>,
}

/// Cases with their timelines and notes, written in one transaction.
#[derive(Debug, Clone, Default)]
pub struct CaseBatch {
    pub cases: Vec<NewCase>,
    pub events: Vec<CaseEvent>,
    pub notes: Vec<Note>,
}

impl CaseBatch {
    pub fn rows(&self) -> usize {
        self.cases.len() + self.events.len() + self.notes.len()
    }
}

/// Entries continuing the chain from `after` (the head's sequence number and hash), with the
/// checkpoints signed over them.
#[derive(Debug, Clone)]
pub struct AuditBatch {
    pub after: (i64, String),
    pub entries: Vec<AuditEntry>,
    pub checkpoints: Vec<Checkpoint>,
}

/// SQLite's limit on bound parameters in one statement (`SQLITE_MAX_VARIABLE_NUMBER` since 3.32).
const SQLITE_MAX_PARAMETERS: usize = 32_766;
/// PostgreSQL's: the wire protocol counts parameters in 16 bits.
const POSTGRES_MAX_PARAMETERS: usize = 65_535;

fn rows_per_insert(backend: DbBackend, columns: usize) -> usize {
    let limit = match backend {
        DbBackend::Postgres => POSTGRES_MAX_PARAMETERS,
        _ => SQLITE_MAX_PARAMETERS,
    };
    (limit / columns).max(1)
}

fn sqlx_error(err: sqlx::Error) -> AppError {
    DbErr::Exec(RuntimeErr::SqlxError(err)).into()
}

/// Inserts `models` with as few multi-row statements as the backend's parameter limit allows (each
/// row binds one parameter per column of the table).
async fn insert_many<E, A>(tx: &Tx, models: Vec<A>) -> AppResult<()>
where
    E: EntityTrait,
    E::Model: sea_orm::IntoActiveModel<A>,
    A: sea_orm::ActiveModelTrait<Entity = E> + Send,
{
    use sea_orm::Iterable;
    let per_statement = rows_per_insert(tx.backend(), E::Column::iter().count());
    let mut models = models.into_iter().peekable();
    while models.peek().is_some() {
        let chunk: Vec<A> = models.by_ref().take(per_statement).collect();
        E::insert_many(chunk)
            .exec_without_returning(&tx.txn)
            .await?;
    }
    Ok(())
}

/// Whether any agency is registered (the seed refuses such a database).
/// Places the loaded history's events in the audit chain's order: at the newest signed
/// checkpoint, before everything that follows (they were recorded by no call of this server, and
/// have no sequence number of their own). Live queues start after them; the figures of
/// `StatsService` count them.
pub async fn place_history(db: &Db) -> AppResult<()> {
    db.conn
        .execute_unprepared(
            "UPDATE case_events SET seq = (SELECT MAX(seq) FROM audit_checkpoints) \
             WHERE seq IS NULL AND audit_intake_id IS NULL",
        )
        .await?;
    Ok(())
}

/// Refreshes the planner's statistics of every table (`ANALYZE`, on both databases).
pub async fn analyze(db: &Db) -> AppResult<()> {
    db.conn.execute_unprepared("ANALYZE").await?;
    Ok(())
}

pub async fn has_agencies(tx: &Tx) -> AppResult<bool> {
    Ok(agency::Entity::find().one(&tx.txn).await?.is_some())
}

pub async fn insert_agencies(tx: &Tx, agencies: &[Agency], created_at: Timestamp) -> AppResult<()> {
    let models = agencies
        .iter()
        .map(|a| agency::ActiveModel {
            id: Set(a.id.to_string()),
            code: Set(a.code.clone()),
            name: Set(a.name.clone()),
            country: Set(a.country.clone()),
            created_at: Set(to_micros(created_at)),
            time_zone: Set(a.time_zone.clone()),
            holidays: Set(super::agencies::holidays_json(&a.holidays)),
        })
        .collect();
    insert_many(tx, models).await
}

/// Inserts users that all share one password hash.
pub async fn insert_users(tx: &Tx, users: &[User], password_hash: &str) -> AppResult<()> {
    let models = users
        .iter()
        .map(|u| user::ActiveModel {
            id: Set(u.id.to_string()),
            username: Set(u.username.clone()),
            display_name: Set(u.display_name.clone()),
            agency_id: Set(u.agency_id.to_string()),
            roles: Set(u.roles.bits()),
            disabled: Set(u.disabled),
            password_hash: Set(password_hash.to_string()),
            must_change_password: Set(u.must_change_password),
            created_at: Set(to_micros(u.created_at)),
            updated_at: Set(to_micros(u.updated_at)),
        })
        .collect();
    insert_many(tx, models).await
}

/// Inserts channels, each approved one with its founding categories as the first terms of its
/// register, as approving it does.
pub async fn insert_channels(tx: &Tx, channels: &[Channel]) -> AppResult<()> {
    for channel in channels {
        if let Some(approver) = &channel.approved_by {
            for term in channel.founding_categories(approver, channel.updated_at) {
                super::terms::insert(tx, &term).await?;
            }
        }
    }
    let models = channels
        .iter()
        .map(|c| {
            let (low, high) = if c.proposing_agency_id < c.partner_agency_id {
                (&c.proposing_agency_id, &c.partner_agency_id)
            } else {
                (&c.partner_agency_id, &c.proposing_agency_id)
            };
            channel::ActiveModel {
                id: Set(c.id.to_string()),
                proposing_agency_id: Set(c.proposing_agency_id.to_string()),
                partner_agency_id: Set(c.partner_agency_id.to_string()),
                low_agency_id: Set(low.to_string()),
                high_agency_id: Set(high.to_string()),
                categories: Set(c.categories.bits()),
                status: Set(c.status.code()),
                proposed_by: Set(c.proposed_by.to_string()),
                approved_by: Set(c.approved_by.clone().map(String::from)),
                suspended_by_agency_id: Set(c.suspended_by_agency_id.clone().map(String::from)),
                created_at: Set(to_micros(c.created_at)),
                updated_at: Set(to_micros(c.updated_at)),
                version: Set(c.version),
            }
        })
        .collect();
    insert_many(tx, models).await
}

/// Sets the reference counters: the next case filed on `channel_id` in `year` gets the number
/// after `last`. The channels are new, so no counter exists yet.
pub async fn insert_reference_counters(tx: &Tx, counters: &[(String, i32, i64)]) -> AppResult<()> {
    if counters.is_empty() {
        return Ok(());
    }
    let mut insert = Query::insert()
        .into_table(Alias::new("case_counters"))
        .columns([
            Alias::new("channel_id"),
            Alias::new("year"),
            Alias::new("last_seq"),
        ])
        .to_owned();
    for (channel_id, year, last) in counters {
        insert
            .values([channel_id.as_str().into(), (*year).into(), (*last).into()])
            .map_err(AppError::internal)?;
    }
    tx.txn.execute(tx.backend().build(&insert)).await?;
    Ok(())
}

/// Writes cases, their events and notes in one transaction.
pub async fn insert_cases(db: &Db, batch: &CaseBatch) -> AppResult<()> {
    match db.conn.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.conn.get_postgres_connection_pool();
            let mut tx = pool.begin().await.map_err(sqlx_error)?;
            copy_in(&mut tx, CASES_COPY, &encode_cases(&batch.cases)).await?;
            copy_in(&mut tx, EVENTS_COPY, &encode_events(&batch.events)).await?;
            copy_in(&mut tx, NOTES_COPY, &encode_notes(&batch.notes)).await?;
            tx.commit().await.map_err(sqlx_error)
        }
        _ => {
            let tx = db.begin().await?;
            insert_many(&tx, batch.cases.iter().map(case_model).collect()).await?;
            insert_many(&tx, batch.events.iter().map(event_model).collect()).await?;
            insert_many(&tx, batch.notes.iter().map(note_model).collect()).await?;
            tx.commit().await
        }
    }
}

/// Appends a chunk of the audit chain in one transaction, in the sealer's turn: nothing is written
/// when the head (the newest entry) is no longer at `batch.after` (a server sealed meanwhile, and
/// the chunk's chain would not continue it).
pub async fn append_audit(db: &Db, batch: &AuditBatch) -> AppResult<()> {
    if batch.entries.is_empty() {
        return Ok(());
    }
    let (after_seq, after_hash) = &batch.after;
    let moved = || {
        AppError::Aborted(format!(
            "the audit log moved past entry {after_seq} while seeding: another process is \
             appending to it; seed a database no server is using"
        ))
    };
    match db.conn.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.conn.get_postgres_connection_pool();
            let mut tx = pool.begin().await.map_err(sqlx_error)?;
            // The seal's turn holds off live seals until this chunk commits.
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(super::audit::SEAL_LOCK)
                .execute(&mut *tx)
                .await
                .map_err(sqlx_error)?;
            let head: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(sqlx_error)?;
            if head.unwrap_or((0, GENESIS_HASH.to_string())) != (*after_seq, after_hash.clone()) {
                return Err(moved());
            }
            copy_in(&mut tx, AUDIT_COPY, &encode_audit(&batch.entries)).await?;
            copy_in(
                &mut tx,
                CHECKPOINTS_COPY,
                &encode_checkpoints(&batch.checkpoints),
            )
            .await?;
            tx.commit().await.map_err(sqlx_error)
        }
        _ => {
            // SQLite's one writer serialises this with seals.
            let tx = db.begin().await?;
            if super::audit::head(&tx).await? != (*after_seq, after_hash.clone()) {
                return Err(moved());
            }
            insert_many(&tx, batch.entries.iter().map(audit_model).collect()).await?;
            insert_many(
                &tx,
                batch.checkpoints.iter().map(checkpoint_model).collect(),
            )
            .await?;
            tx.commit().await
        }
    }
}

async fn copy_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    statement: &str,
    rows: &[u8],
) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut copy = tx.copy_in_raw(statement).await.map_err(sqlx_error)?;
    if let Err(e) = copy.send(rows).await {
        copy.abort("seed: sending rows failed").await.ok();
        return Err(sqlx_error(e));
    }
    copy.finish().await.map_err(sqlx_error)?;
    Ok(())
}

fn case_model(new: &NewCase) -> case::ActiveModel {
    super::cases::case_row(&new.case, &new.request_id, new.escalated_at)
}

fn event_model(e: &CaseEvent) -> case_event::ActiveModel {
    // Only events recorded by a live call carry its audit record.
    super::cases::event_row(e, None)
}

fn note_model(n: &Note) -> case_note::ActiveModel {
    super::cases::note_row(n)
}

fn audit_model(e: &AuditEntry) -> audit_entry::ActiveModel {
    let r = &e.record;
    audit_entry::ActiveModel {
        seq: Set(e.seq),
        at: Set(to_micros(r.at)),
        actor_id: Set(r.actor_id.clone()),
        actor_username: Set(r.actor_username.clone()),
        actor_agency_id: Set(r.actor_agency_id.clone()),
        actor_roles: Set(r.actor_roles.bits()),
        method: Set(r.method.clone()),
        target_type: Set(r.target_type.clone()),
        target_id: Set(r.target_id.clone()),
        case_id: Set(r.case_id.clone()),
        case_originating_agency_id: Set(r.case_originating_agency_id.clone()),
        case_receiving_agency_id: Set(r.case_receiving_agency_id.clone()),
        outcome: Set(r.outcome.code()),
        status_code: Set(r.status_code),
        request_id: Set(r.request_id.clone()),
        peer: Set(r.peer.clone()),
        event: Set(r.event.clone()),
        refusals: Set(r.refusals.map(|c| c.count)),
        first_refused_at: Set(r.refusals.map(|c| to_micros(c.first_at))),
        handling: Set(r.handling.map(crate::model::Handling::code)),
        prev_hash: Set(e.prev_hash.clone()),
        hash: Set(e.hash.clone()),
        mac: Set(e.mac.clone()),
    }
}

fn checkpoint_model(c: &Checkpoint) -> audit_checkpoint::ActiveModel {
    audit_checkpoint::ActiveModel {
        seq: Set(c.seq),
        hash: Set(c.hash.clone()),
        at: Set(to_micros(c.at)),
        kid: Set(c.kid.clone()),
        signature: Set(c.signature.clone()),
        oldest_at: Set(None),
        late: Set(false),
    }
}

const CASES_COPY: &str = "COPY cases (id, reference, channel_id, category, priority, title, \
    summary, originating_agency_id, receiving_agency_id, filed_by, assignee_id, status, \
    resolution, filed_at, updated_at, acknowledged_at, closed_at, acknowledge_due_at, version, \
    request_id, escalated_at, handling, handling_conditions, source_reliability, \
    information_accuracy, kind, decline_ground, preservation_data, preservation_custodian, \
    preservation_offence, preservation_necessity, preservation_formal_request, \
    preservation_status, preserved_until, preservation_superseded_by, legal_basis_id, request_items, released_at, category_code) \
    FROM STDIN";
const EVENTS_COPY: &str = "COPY case_events (id, case_id, kind, actor_id, actor_agency_id, at, \
    from_status, to_status, reason, assignee_id, resolution, note_id, visible_to_agency_id, \
    handling, handling_conditions, source_reliability, information_accuracy, refusal_ground, \
    preserved_until, move_id, item_number) FROM STDIN";
const NOTES_COPY: &str = "COPY case_notes (id, case_id, author_id, author_agency_id, visibility, \
    body, created_at, handling, handling_conditions, source_reliability, information_accuracy) \
    FROM STDIN";
const AUDIT_COPY: &str = "COPY audit_entries (seq, at, actor_id, actor_username, \
    actor_agency_id, actor_roles, method, target_type, target_id, case_id, \
    case_originating_agency_id, case_receiving_agency_id, outcome, status_code, request_id, peer, \
    event, refusals, first_refused_at, handling, prev_hash, hash, mac) FROM STDIN";
const CHECKPOINTS_COPY: &str = "COPY audit_checkpoints (seq, hash, at, kid, signature) FROM STDIN";

/// Rows in `COPY`'s text format: tab-separated, `\N` for NULL, backslash escapes.
struct CopyRows {
    out: Vec<u8>,
    at_row_start: bool,
}

impl CopyRows {
    fn with_capacity(bytes: usize) -> Self {
        CopyRows {
            out: Vec::with_capacity(bytes),
            at_row_start: true,
        }
    }

    fn separate(&mut self) {
        if !self.at_row_start {
            self.out.push(b'\t');
        }
        self.at_row_start = false;
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.separate();
        for &byte in value.as_bytes() {
            match byte {
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                _ => self.out.push(byte),
            }
        }
        self
    }

    fn null(&mut self) -> &mut Self {
        self.separate();
        self.out.extend_from_slice(b"\\N");
        self
    }

    fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.separate();
        // Writing into a Vec cannot fail.
        let _ = write!(self.out, "{value}");
        self
    }

    /// A case's or note's four marking columns.
    fn markings(&mut self, m: &crate::model::Markings) -> &mut Self {
        self.int(m.handling.code().into())
            .opt_text(m.handling_conditions.as_deref())
            .int(m.source_reliability.code().into())
            .int(m.information_accuracy.code().into())
    }

    fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    fn end_row(&mut self) {
        self.out.push(b'\n');
        self.at_row_start = true;
    }

    fn finish(self) -> Vec<u8> {
        self.out
    }
}

fn encode_cases(cases: &[NewCase]) -> Vec<u8> {
    let mut rows = CopyRows::with_capacity(cases.len() * 700);
    for new in cases {
        let c = &new.case;
        rows.text(&c.id)
            .text(&c.reference)
            .text(&c.channel_id)
            .int(c.category.known().map_or(0, |k| k.code().into()))
            .int(c.priority.code().into())
            .text(&c.title)
            .text(&c.summary)
            .text(&c.originating_agency_id)
            .text(&c.receiving_agency_id)
            .text(&c.filed_by)
            .opt_text(c.assignee_id.as_deref())
            .int(c.status.code().into())
            .opt_int(c.resolution.map(|r| r.code().into()))
            .int(to_micros(c.filed_at))
            .int(to_micros(c.updated_at))
            .opt_int(c.acknowledged_at.map(to_micros))
            .opt_int(c.closed_at.map(to_micros))
            .int(to_micros(c.acknowledge_due_at))
            .int(c.version)
            .text(&new.request_id)
            .opt_int(new.escalated_at.map(to_micros));
        rows.markings(&c.markings)
            .int(c.kind.code().into())
            .opt_int(c.decline_ground.map(|g| g.code().into()));
        let p = c.preservation.as_ref();
        let order = p.map(|p| &p.order);
        rows.opt_text(order.map(|o| o.data.as_str()))
            .opt_text(order.map(|o| o.custodian.as_str()))
            .opt_text(order.map(|o| o.offence.as_str()))
            .opt_text(order.map(|o| o.necessity.as_str()))
            .opt_text(order.map(|o| o.formal_request.as_str()))
            .opt_int(p.map(|p| p.status.code().into()))
            .opt_int(p.and_then(|p| p.preserved_until).map(to_micros))
            .opt_text(p.and_then(|p| p.superseded_by.as_deref()))
            .opt_text(c.legal_basis_id.as_deref())
            .opt_text(super::cases::items_to_json(&c.items).as_deref())
            .opt_int(c.released_at.map(to_micros))
            .text(c.category.as_str())
            .end_row();
    }
    rows.finish()
}

fn encode_events(events: &[CaseEvent]) -> Vec<u8> {
    let mut rows = CopyRows::with_capacity(events.len() * 260);
    for e in events {
        rows.text(&e.id)
            .text(&e.case_id)
            .int(e.kind.code().into())
            .text(&e.actor_id)
            .text(&e.actor_agency_id)
            .int(to_micros(e.at))
            .opt_int(e.from_status.map(|s| s.code().into()))
            .opt_int(e.to_status.map(|s| s.code().into()))
            .opt_text(e.reason.as_deref())
            .opt_text(e.assignee_id.as_deref())
            .opt_int(e.resolution.map(|r| r.code().into()))
            .opt_text(e.note_id.as_deref())
            .opt_text(e.visible_to_agency_id.as_deref());
        let m = e.markings.as_ref();
        rows.opt_int(m.map(|m| m.handling.code().into()))
            .opt_text(m.and_then(|m| m.handling_conditions.as_deref()))
            .opt_int(m.map(|m| m.source_reliability.code().into()))
            .opt_int(m.map(|m| m.information_accuracy.code().into()))
            .opt_int(e.ground.map(|g| g.code().into()))
            .opt_int(e.preserved_until.map(to_micros))
            .opt_text(e.move_id.as_deref())
            .opt_int(e.item_number.map(i64::from))
            .end_row();
    }
    rows.finish()
}

fn encode_notes(notes: &[Note]) -> Vec<u8> {
    let mut rows = CopyRows::with_capacity(notes.len() * 300);
    for n in notes {
        rows.text(&n.id)
            .text(&n.case_id)
            .text(&n.author_id)
            .text(&n.author_agency_id)
            .int(n.visibility.code().into())
            .text(&n.body)
            .int(to_micros(n.created_at))
            .markings(&n.markings)
            .end_row();
    }
    rows.finish()
}

fn encode_audit(entries: &[AuditEntry]) -> Vec<u8> {
    let mut rows = CopyRows::with_capacity(entries.len() * 520);
    for e in entries {
        let r = &e.record;
        rows.int(e.seq)
            .int(to_micros(r.at))
            .opt_text(r.actor_id.as_deref())
            .opt_text(r.actor_username.as_deref())
            .opt_text(r.actor_agency_id.as_deref())
            .int(r.actor_roles.bits().into())
            .text(&r.method)
            .opt_text(r.target_type.as_deref())
            .opt_text(r.target_id.as_deref())
            .opt_text(r.case_id.as_deref())
            .opt_text(r.case_originating_agency_id.as_deref())
            .opt_text(r.case_receiving_agency_id.as_deref())
            .int(r.outcome.code().into())
            .int(r.status_code.into())
            .text(&r.request_id)
            .opt_text(r.peer.as_deref())
            .opt_text(r.event.as_deref())
            .opt_int(r.refusals.map(|c| c.count))
            .opt_int(r.refusals.map(|c| to_micros(c.first_at)))
            .opt_int(r.handling.map(|h| h.code().into()))
            .text(&e.prev_hash)
            .text(&e.hash)
            .opt_text(e.mac.as_deref())
            .end_row();
    }
    rows.finish()
}

fn encode_checkpoints(checkpoints: &[Checkpoint]) -> Vec<u8> {
    let mut rows = CopyRows::with_capacity(checkpoints.len() * 300);
    for c in checkpoints {
        rows.int(c.seq)
            .text(&c.hash)
            .int(to_micros(c.at))
            .text(&c.kid)
            .text(&c.signature)
            .end_row();
    }
    rows.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_escapes_what_the_format_reserves() {
        let mut rows = CopyRows::with_capacity(64);
        rows.text("a\tb\\c\nd\re")
            .opt_text(None)
            .int(-42)
            .opt_int(Some(7));
        rows.end_row();
        rows.text("x").end_row();
        assert_eq!(
            String::from_utf8_lossy(&rows.finish()),
            "a\\tb\\\\c\\nd\\re\t\\N\t-42\t7\nx\n"
        );
    }

    #[test]
    fn inserts_stay_below_each_backends_parameter_limit() {
        assert_eq!(rows_per_insert(DbBackend::Sqlite, 19), 1724);
        assert_eq!(rows_per_insert(DbBackend::Postgres, 21), 3120);
        assert!(rows_per_insert(DbBackend::Sqlite, 21) * 21 <= SQLITE_MAX_PARAMETERS);
    }
}
