//! The database's limit for a call: `pgbench` running exactly the SQL one call makes, statement
//! for statement and transaction for transaction, as PostgreSQL's statement log shows `liaisond`
//! sending it (see bench/sql/ for the captured statements):
//!
//! - every call first authenticates with one statement outside any transaction (the user joined to
//!   the session);
//! - a filing, in one transaction, looks for an earlier one with its request id, reads the channel
//!   and both agencies, takes the reference number, inserts the case, puts the audit record into
//!   the intake and inserts the FILED event;
//! - a read runs its query and puts its audit record into the intake in one transaction.
//!
//! Two variants measure what the design costs: [`AuditPath::HeadLock`] is the SQL from before the
//! sealer (the entry appended under the head row's lock, the events notified by the call), and
//! [`Reference::Sequence`] takes the case reference from a database sequence instead of the
//! per-channel counter row, so that no statement of a call waits for another call's commit. The
//! sealer's own work (one batch for many calls) is not in the scripts. The head-lock variant's hash
//! is SHA-256 computed by PostgreSQL over a short string, not the canonical encoding: the chain
//! pgbench leaves does not verify, so the report runs it last.

use std::path::Path;
use std::process::Command;

use sea_orm::sqlx::{Connection, Row};

use crate::BenchResult;

/// The ids the scripts use: a signed-in officer and supervisor, a channel and its agencies, a case.
#[derive(Debug, Clone)]
pub struct Context {
    pub officer_id: String,
    pub officer_username: String,
    pub officer_session: String,
    pub supervisor_id: String,
    pub supervisor_username: String,
    pub supervisor_session: String,
    pub channel_id: String,
    pub originating_agency_id: String,
    pub receiving_agency_id: String,
    pub case_id: String,
}

impl Context {
    /// Reads the ids from the database `liaisond` serves, after the population signed in.
    pub async fn load(database_url: &str, officer: &str, supervisor: &str) -> BenchResult<Context> {
        let mut conn = sea_orm::sqlx::PgConnection::connect(database_url)
            .await
            .map_err(|e| format!("pgbench context: {e}"))?;
        let session = |username: &str| {
            format!(
                "SELECT u.id, u.agency_id, s.id AS session_id FROM users u JOIN sessions s ON \
                 s.user_id = u.id WHERE u.username = '{username}' AND s.revoked_at IS NULL \
                 ORDER BY s.created_at DESC LIMIT 1"
            )
        };
        let officer_row = sea_orm::sqlx::query(&session(officer))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("no session for {officer}: {e}"))?;
        let supervisor_row = sea_orm::sqlx::query(&session(supervisor))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("no session for {supervisor}: {e}"))?;
        let get = |row: &sea_orm::sqlx::postgres::PgRow, col: &str| -> BenchResult<String> {
            row.try_get::<String, _>(col).map_err(|e| e.to_string())
        };
        let originating = get(&officer_row, "agency_id")?;
        let receiving = get(&supervisor_row, "agency_id")?;
        let channel = sea_orm::sqlx::query(
            "SELECT id FROM channels WHERE status = 2 AND ((low_agency_id = $1 AND \
             high_agency_id = $2) OR (low_agency_id = $2 AND high_agency_id = $1)) LIMIT 1",
        )
        .bind(&originating)
        .bind(&receiving)
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("no active channel between the officer and supervisor: {e}"))?;
        let case =
            sea_orm::sqlx::query("SELECT id FROM cases WHERE receiving_agency_id = $1 LIMIT 1")
                .bind(&receiving)
                .fetch_one(&mut conn)
                .await
                .map_err(|e| format!("no case to read: {e}"))?;
        conn.close().await.ok();
        Ok(Context {
            officer_id: get(&officer_row, "id")?,
            officer_username: officer.to_string(),
            officer_session: get(&officer_row, "session_id")?,
            supervisor_id: get(&supervisor_row, "id")?,
            supervisor_username: supervisor.to_string(),
            supervisor_session: get(&supervisor_row, "session_id")?,
            channel_id: get(&channel, "id")?,
            originating_agency_id: originating,
            receiving_agency_id: receiving,
            case_id: get(&case, "id")?,
        })
    }
}

const NOW_MICROS: &str = "(extract(epoch from clock_timestamp()) * 1000000)::bigint";

fn authenticate(user_id: &str, session_id: &str) -> String {
    format!(
        "SELECT users.*, sessions.id AS session_id, sessions.user_id AS session_user_id, \
         sessions.created_at AS session_created_at, sessions.last_used_at AS session_last_used_at, \
         sessions.expires_at AS session_expires_at, sessions.revoked_at AS session_revoked_at, \
         sessions.revoked_reason AS session_revoked_reason FROM users INNER JOIN sessions ON \
         sessions.user_id = users.id WHERE users.id = '{user_id}' AND sessions.id = '{session_id}';\n"
    )
}

/// How a call's audit record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditPath {
    /// Into the intake, as `audit::append` does: no shared row.
    Intake,
    /// Before the sealer: the head row's lock, the entry, the head's new hash.
    HeadLock,
}

/// How a filing takes its case reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// The channel's counter row, as `liaisond` does.
    Counter,
    /// A database sequence: the reference without a row every filing of the channel waits on.
    Sequence,
}

/// The sequence [`Reference::Sequence`] uses; [`run`] creates it.
const REFERENCE_SEQUENCE: &str = "pgbench_case_reference";

/// The statements that record a call's audit entry; `:audit_seq` (head lock) or
/// `:audit_intake_id` (intake) is set after them.
fn audit_record(
    path: AuditPath,
    user_id: &str,
    username: &str,
    agency_id: &str,
    method: &str,
    case: &str,
) -> String {
    match path {
        AuditPath::HeadLock => audit_append(user_id, username, agency_id, method, case),
        AuditPath::Intake => format!(
            "INSERT INTO audit_intake (at, actor_id, actor_username, actor_agency_id, actor_roles, \
             method, target_type, target_id, case_id, case_originating_agency_id, \
             case_receiving_agency_id, outcome, status_code, request_id, peer, event, refusals, \
             first_refused_at, mac) VALUES ({NOW_MICROS}, '{user_id}', '{username}', '{agency_id}', \
             1, 'liaison.v1.CaseService/{method}', {case}, 1, 0, gen_random_uuid()::text, \
             '127.0.0.1:50000', NULL, NULL, NULL, \
             'k1:' || encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex')) \
             RETURNING id AS audit_intake_id \\gset\n"
        ),
    }
}

/// The head row's lock, the entry, the head's new hash: what `audit::append` sent before the
/// sealer.
fn audit_append(
    user_id: &str,
    username: &str,
    agency_id: &str,
    method: &str,
    case: &str,
) -> String {
    format!(
        "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq AS audit_seq, hash AS audit_prev \\gset\n\
         INSERT INTO audit_entries (seq, at, actor_id, actor_username, actor_agency_id, actor_roles, \
         method, target_type, target_id, case_id, case_originating_agency_id, \
         case_receiving_agency_id, outcome, status_code, request_id, peer, event, prev_hash, hash) \
         VALUES (:audit_seq, {NOW_MICROS}, '{user_id}', '{username}', '{agency_id}', 1, \
         'liaison.v1.CaseService/{method}', {case}, 1, 0, gen_random_uuid()::text, \
         '127.0.0.1:50000', NULL, :audit_prev, \
         encode(sha256(convert_to(:audit_prev || :audit_seq, 'UTF8')), 'hex')) RETURNING *;\n\
         UPDATE audit_head SET hash = encode(sha256(convert_to(:audit_prev || :audit_seq, 'UTF8')), 'hex') WHERE id = 1;\n"
    )
}

/// FileReferral: two transactions, as `liaisond` runs it.
pub fn file_script(c: &Context, path: AuditPath, reference: Reference) -> String {
    let take_reference = match reference {
        Reference::Counter => "INSERT INTO case_counters (channel_id, year, last_seq) VALUES ('{channel}', 2099, 1) \
         ON CONFLICT (channel_id, year) DO UPDATE SET last_seq = case_counters.last_seq + 1 RETURNING last_seq \\gset\n"
            .replace("{channel}", &c.channel_id),
        Reference::Sequence => {
            format!("SELECT nextval('{REFERENCE_SEQUENCE}') AS last_seq \\gset\n")
        }
    };
    // The two ways of numbering never meet: each has a year of its own.
    let year = match reference {
        Reference::Counter => 2099,
        Reference::Sequence => 2098,
    };
    let (event_audit, notify) = match path {
        AuditPath::HeadLock => (
            ":audit_seq, NULL",
            "SELECT pg_notify('liaison_case_events', :audit_seq::text);\n",
        ),
        AuditPath::Intake => ("NULL, :audit_intake_id", ""),
    };
    let case_cols = "id, reference, channel_id, category, priority, title, summary, \
                     originating_agency_id, receiving_agency_id, filed_by, assignee_id, status, \
                     resolution, filed_at, updated_at, acknowledged_at, closed_at, \
                     acknowledge_due_at, version, request_id, escalated_at";
    format!(
        "\\set n random(1, 2000000000)\n\
         {auth}\
         BEGIN;\n\
         SELECT {case_cols} FROM cases WHERE filed_by = '{officer}' AND request_id = 'pgbench-' || :client_id || '-' || :n LIMIT 1;\n\
         SELECT * FROM channels WHERE id = '{channel}' LIMIT 1;\n\
         SELECT * FROM agencies WHERE id = '{orig}' LIMIT 1;\n\
         SELECT * FROM agencies WHERE id = '{recv}' LIMIT 1;\n\
         {take_reference}\
         INSERT INTO cases ({case_cols}) VALUES (gen_random_uuid()::text, \
         'PB-PB-DRUGS-{year}-' || lpad(:last_seq::text, 9, '0'), '{channel}', 1, 1, 'Courier consignment', \
         'Parcel routed through a freight forwarder with a declared value far below its weight.', \
         '{orig}', '{recv}', '{officer}', NULL, 1, NULL, {NOW_MICROS}, {NOW_MICROS}, NULL, NULL, \
         {NOW_MICROS} + 259200000000, 1, 'pgbench-' || :client_id || '-' || :n, NULL) RETURNING id AS case_id \\gset\n\
         {audit}\
         INSERT INTO case_events (id, case_id, kind, actor_id, actor_agency_id, at, from_status, \
         to_status, reason, assignee_id, resolution, note_id, visible_to_agency_id, seq, \
         audit_intake_id) VALUES (gen_random_uuid()::text, :case_id, 1, '{officer}', '{orig}', \
         {NOW_MICROS}, NULL, 1, NULL, NULL, NULL, NULL, NULL, {event_audit}) RETURNING *;\n\
         {notify}\
         COMMIT;\n",
        auth = authenticate(&c.officer_id, &c.officer_session),
        audit = audit_record(
            path,
            &c.officer_id,
            &c.officer_username,
            &c.originating_agency_id,
            "FileReferral",
            &format!(
                "'case', :case_id, :case_id, '{}', '{}'",
                c.originating_agency_id, c.receiving_agency_id
            )
        ),
        officer = c.officer_id,
        channel = c.channel_id,
        orig = c.originating_agency_id,
        recv = c.receiving_agency_id,
    )
}

/// GetCase by a supervisor of the receiving agency.
pub fn get_case_script(c: &Context, path: AuditPath) -> String {
    format!(
        "{auth}BEGIN;\n\
         SELECT * FROM cases WHERE id = '{case}' LIMIT 1;\n\
         {audit}COMMIT;\n",
        auth = authenticate(&c.supervisor_id, &c.supervisor_session),
        case = c.case_id,
        audit = audit_record(
            path,
            &c.supervisor_id,
            &c.supervisor_username,
            &c.receiving_agency_id,
            "GetCase",
            &format!(
                "'case', '{0}', '{0}', '{1}', '{2}'",
                c.case_id, c.originating_agency_id, c.receiving_agency_id
            )
        ),
    )
}

/// ListCases: the INCOMING queue, newest first, a page of 50 (51 asked for).
pub fn list_cases_script(c: &Context, path: AuditPath) -> String {
    format!(
        "{auth}BEGIN;\n\
         SELECT * FROM cases WHERE receiving_agency_id = '{recv}' ORDER BY filed_at DESC, id DESC LIMIT 51;\n\
         {audit}COMMIT;\n",
        auth = authenticate(&c.supervisor_id, &c.supervisor_session),
        recv = c.receiving_agency_id,
        audit = audit_record(
            path,
            &c.supervisor_id,
            &c.supervisor_username,
            &c.receiving_agency_id,
            "ListCases",
            "NULL, NULL, NULL, NULL, NULL"
        ),
    )
}

/// What pgbench measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Scripts (calls) per second.
    pub tps: f64,
    pub latency_ms: f64,
}

/// Runs the scripts (equal weights) at `clients` for `seconds` and reads pgbench's summary.
pub fn run(
    database_url: &str,
    scripts: &[(&str, String)],
    clients: usize,
    seconds: u64,
    dir: &Path,
) -> BenchResult<Measured> {
    // The sequence the reference-free filings take numbers from, and the head row the head-lock
    // scripts number entries from, which the service itself no longer moves (its head is the
    // newest entry).
    let created = Command::new("psql")
        .args(["-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!(
            "CREATE SEQUENCE IF NOT EXISTS {REFERENCE_SEQUENCE}"
        ))
        .arg("-c")
        .arg(
            "UPDATE audit_head SET seq = h.seq, hash = h.hash FROM (SELECT seq, hash FROM \
             audit_entries ORDER BY seq DESC LIMIT 1) h WHERE audit_head.id = 1",
        )
        .arg(database_url)
        .output()
        .map_err(|e| format!("psql (apt-get install postgresql-client): {e}"))?;
    if !created.status.success() {
        return Err(format!(
            "creating {REFERENCE_SEQUENCE}: {}",
            String::from_utf8_lossy(&created.stderr)
        ));
    }
    let mut command = Command::new("pgbench");
    command.args([
        "-n",
        "-M",
        "prepared",
        "-c",
        &clients.to_string(),
        "-j",
        "2",
        "-T",
        &seconds.to_string(),
    ]);
    for (name, script) in scripts {
        let path = dir.join(format!("{name}.sql"));
        std::fs::write(&path, script).map_err(|e| format!("{}: {e}", path.display()))?;
        command.arg("-f").arg(format!("{}@1", path.display()));
    }
    let output = command
        .arg(database_url)
        .output()
        .map_err(|e| format!("pgbench (apt-get install postgresql-client): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "pgbench failed: {}{}",
            text,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let number_after = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<f64>().ok())
    };
    Ok(Measured {
        tps: number_after("tps = ").ok_or_else(|| format!("no tps in pgbench's output: {text}"))?,
        latency_ms: number_after("latency average = ").unwrap_or(f64::NAN),
    })
}
