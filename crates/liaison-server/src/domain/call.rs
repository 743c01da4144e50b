//! One call as the audit log sees it, and the unit of work that commits a call's changes together
//! with its audit entry.
//!
//! The rule: a call that succeeds is audited inside its own transaction ([`Work::commit`] is the
//! only way to commit), and a call that fails is audited afterwards by [`audit_failure`], in a
//! transaction of its own, once the failed work has rolled back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::audit;
use crate::authz::Unchecked;
use crate::chain::AuditRecord;
use crate::error::{AppError, AppResult};
use crate::limits::MAX_ID_CHARS;
use crate::model::Principal;
use crate::model::{Case, CaseEvent, CaseId, Handling, Outcome, Roles, Timestamp, User};
use crate::repo::{self, Tx};
use crate::state::AppState;
use crate::sync::lock;

/// Who made a call, as far as it is known.
#[derive(Debug, Clone, Default)]
struct Actor {
    user_id: Option<String>,
    username: Option<String>,
    agency_id: Option<String>,
    roles: Roles,
}

/// What a call concerns.
#[derive(Debug, Clone, Default)]
struct Subject {
    target_type: Option<&'static str>,
    target_id: Option<String>,
    case_id: Option<String>,
    case_parties: Option<(String, String)>,
    /// The strictest handling code in force on what the call read or changed.
    handling: Option<Handling>,
}

/// Ids from requests are recorded as given, cut to the longest id a request may carry.
fn clip(value: &str) -> String {
    value.chars().take(MAX_ID_CHARS).collect()
}

/// The context of one call: method, request id, peer, and what is learned while serving it.
#[derive(Debug)]
pub struct Call {
    pub method: String,
    pub request_id: String,
    pub peer: Option<String>,
    actor: Mutex<Actor>,
    subject: Mutex<Subject>,
    /// Set once the call's entry has committed (or its refusal was counted).
    audited: AtomicBool,
    /// Set once a signed-in user's token authenticated the call.
    authenticated: AtomicBool,
    event: Mutex<Option<&'static str>>,
}

impl Call {
    pub fn new(method: impl Into<String>, request_id: String, peer: Option<String>) -> Self {
        Call {
            method: method.into(),
            request_id,
            peer,
            actor: Mutex::new(Actor::default()),
            subject: Mutex::new(Subject::default()),
            audited: AtomicBool::new(false),
            authenticated: AtomicBool::new(false),
            event: Mutex::new(None),
        }
    }

    /// The signed-in caller, as their token authenticated them.
    pub fn set_principal(&self, p: &Principal) {
        self.authenticated.store(true, Ordering::SeqCst);
        *lock(&self.actor) = Actor {
            user_id: Some(p.user_id.to_string()),
            username: Some(p.username.clone()),
            agency_id: Some(p.agency_id.to_string()),
            roles: p.roles,
        };
    }

    pub fn set_user(&self, user: &User) {
        *lock(&self.actor) = Actor {
            user_id: Some(user.id.to_string()),
            username: Some(user.username.clone()),
            agency_id: Some(user.agency_id.to_string()),
            roles: user.roles,
        };
    }

    /// The acting user's id, when known; for logs.
    pub fn actor_id(&self) -> Option<String> {
        lock(&self.actor).user_id.clone()
    }

    /// A sign-in attempt for a username that matched no user.
    pub fn set_attempted_username(&self, username: &str) {
        lock(&self.actor).username = Some(clip(username));
    }

    pub fn concerns(&self, target_type: &'static str, id: &str) {
        let mut subject = lock(&self.subject);
        subject.target_type = Some(target_type);
        subject.target_id = Some(clip(id));
        if target_type == "case" {
            // Only a well-formed id names a case; anything else stays in target_id.
            subject.case_id = uuid::Uuid::parse_str(id)
                .ok()
                .map(|u| u.hyphenated().to_string());
        }
    }

    /// Names a security event for the call's entry (such as `refresh-token-reuse`).
    pub fn set_event(&self, event: &'static str) {
        *lock(&self.event) = Some(event);
    }

    /// Whether a signed-in user's token authenticated the call.
    pub fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::SeqCst)
    }

    /// Whether the call's entry has committed.
    pub fn is_audited(&self) -> bool {
        self.audited.load(Ordering::SeqCst)
    }

    /// The call concerns this case: its parties' auditors will see the entry.
    pub fn concerns_case(&self, case: &Case) {
        let originating = case.originating_agency_id.as_str();
        // A referral not yet released is its originating agency's alone, in the log too.
        let receiving = if case.is_released() {
            case.receiving_agency_id.as_str()
        } else {
            originating
        };
        self.concerns_case_for(
            case.id.as_str(),
            (originating, receiving),
            Some(case.markings.handling),
        );
    }

    /// The call read or changed content marked `handling`: its entry records the strictest such
    /// code, so an auditor can ask who read H2 material.
    pub fn touches_marked(&self, handling: Handling) {
        let mut subject = lock(&self.subject);
        subject.handling = subject.handling.max(Some(handling));
    }

    /// The call concerns this case, read but not yet authorized: an attempt on it is its parties'
    /// auditors' to see too. Its handling code is recorded only once the call may see the case
    /// (see [`Call::touches_marked`]): the caller's own agency's auditors see the entry, and a code
    /// is something about the case.
    pub fn concerns_unchecked_case(&self, case: &Unchecked<Case>) {
        self.concerns_case_for(case.id(), case.parties(), None);
    }

    /// The call concerns this case, but only `agency_id`'s auditors may see the entry (an
    /// internal note must not show up in the other agency's audit view either).
    pub fn concerns_case_within(&self, case: &Case, agency_id: &str) {
        self.concerns_case_for(
            case.id.as_str(),
            (agency_id, agency_id),
            Some(case.markings.handling),
        );
    }

    fn concerns_case_for(
        &self,
        case_id: &str,
        (originating, receiving): (&str, &str),
        handling: Option<Handling>,
    ) {
        let mut subject = lock(&self.subject);
        subject.handling = subject.handling.max(handling);
        subject.target_type = Some("case");
        subject.target_id = Some(case_id.to_string());
        subject.case_id = Some(case_id.to_string());
        subject.case_parties = Some((originating.to_string(), receiving.to_string()));
    }

    fn record(&self, state: &AppState, outcome: Outcome, status_code: i32) -> AuditRecord {
        let subject = lock(&self.subject).clone();
        self.record_about(state, outcome, status_code, subject)
    }

    fn record_about(
        &self,
        state: &AppState,
        outcome: Outcome,
        status_code: i32,
        subject: Subject,
    ) -> AuditRecord {
        let actor = lock(&self.actor).clone();
        let (originating, receiving) = subject.case_parties.unzip();
        AuditRecord {
            at: state.clock.now(),
            actor_id: actor.user_id,
            actor_username: actor.username,
            actor_agency_id: actor.agency_id,
            actor_roles: actor.roles,
            method: self.method.clone(),
            target_type: subject.target_type.map(str::to_string),
            target_id: subject.target_id,
            case_id: subject.case_id,
            case_originating_agency_id: originating,
            case_receiving_agency_id: receiving,
            outcome,
            status_code,
            request_id: self.request_id.clone(),
            peer: self.peer.clone(),
            event: lock(&self.event).map(str::to_string),
            refusals: None,
            handling: subject.handling,
        }
    }
}

/// The transaction of one call. Dropping it rolls back; [`Work::commit`] appends the call's
/// `ALLOWED` audit entry and commits both together, with the case events the call recorded.
pub struct Work<'a> {
    tx: Tx,
    state: &'a AppState,
    call: &'a Call,
    /// Written at commit, tied to the call's audit record.
    events: Vec<CaseEvent>,
}

impl<'a> Work<'a> {
    pub async fn begin(state: &'a AppState, call: &'a Call) -> AppResult<Work<'a>> {
        Ok(Work {
            tx: state.db.begin().await?,
            state,
            call,
            events: Vec::new(),
        })
    }

    pub fn tx(&self) -> &Tx {
        &self.tx
    }

    /// The service's clock now.
    pub fn now(&self) -> Timestamp {
        self.state.clock.now()
    }

    /// Adds an event to the case's timeline when the work commits. Once the sealer seals the call's
    /// audit record, the event carries that entry's sequence number: dense and in one order across
    /// every server, which is what lets a watcher resume after the last event it saw and miss
    /// nothing.
    pub fn record_event(&mut self, event: CaseEvent) {
        self.events.push(event);
    }

    /// Commits the work with a DENIED or FAILED entry for `err` instead: for a refusal that must
    /// still change something (revoking a session whose refresh token was replayed). The call
    /// then answers `err`, and no second entry is written for it.
    pub async fn commit_refused(self, err: &AppError) -> AppResult<()> {
        let record = self
            .call
            .record(self.state, outcome_of(err), err.code() as i32);
        self.seal(record).await
    }

    pub async fn commit(self) -> AppResult<()> {
        let record = self.call.record(self.state, Outcome::Allowed, 0);
        self.seal(record).await
    }

    async fn seal(self, record: AuditRecord) -> AppResult<()> {
        let intake_id = append(self.state, &self.tx, record).await?;
        for event in &self.events {
            repo::cases::insert_event(&self.tx, event, intake_id).await?;
        }
        self.tx.commit().await?;
        self.call.audited.store(true, Ordering::SeqCst);
        self.state.sealer.wake();
        Ok(())
    }
}

/// Puts a call's record into the audit intake, timing it for the metrics; answers its intake
/// number.
async fn append(state: &AppState, tx: &Tx, record: AuditRecord) -> AppResult<i64> {
    let started = std::time::Instant::now();
    let outcome = record.outcome;
    let intake_id = audit::append(tx, &state.keys.current(), record).await?;
    state
        .metrics
        .observe_audit_append(outcome.as_str(), started.elapsed());
    Ok(intake_id)
}

/// Whether an error refuses the caller (`DENIED`) or reports a failure (`FAILED`).
pub fn outcome_of(err: &AppError) -> Outcome {
    match err {
        AppError::Unauthenticated(_)
        | AppError::PermissionDenied(_)
        | AppError::NotFound(_)
        | AppError::TooManyAttempts { .. } => Outcome::Denied,
        AppError::InvalidArgument(_)
        | AppError::Cancelled
        | AppError::Busy
        | AppError::Exhausted(_)
        | AppError::FailedPrecondition(_)
        | AppError::FourEyes { .. }
        | AppError::Aborted(_)
        | AppError::AlreadyExists(_)
        | AppError::Unavailable(_)
        | AppError::Internal(_) => Outcome::Failed,
    }
}

/// Records a failed call of the API. A call refused before authentication (a bad or missing
/// token, a refused sign-in, a busy server) is counted into its caller's summary instead (see
/// [`crate::audit::refusals`]): one entry an interval however many such calls are sent. Every
/// other call has an entry of its own ([`audit_failure`]).
pub async fn audit_refusal(state: &AppState, call: &Call, err: &AppError) -> AppResult<()> {
    if call.is_audited() {
        return Ok(());
    }
    if call.is_authenticated() {
        return audit_failure(state, call, err).await;
    }
    let record = call.record(state, outcome_of(err), err.code() as i32);
    let real_user = lock(&call.actor).user_id.is_some();
    state.metrics.observe_refusal(&call.method, err.code());
    state.refusals.count(record, real_user);
    call.audited.store(true, Ordering::SeqCst);
    Ok(())
}

/// Writes the summaries of the refusals counted since the last flush, in one transaction; answers
/// how many. Summaries that cannot be written are kept for the next flush.
pub async fn flush_refusals(state: &AppState) -> AppResult<usize> {
    let summaries = state.refusals.take();
    if summaries.is_empty() {
        return Ok(0);
    }
    let written = async {
        let tx = state.db.begin().await?;
        for summary in &summaries {
            append(state, &tx, summary.clone()).await?;
        }
        tx.commit().await
    }
    .await;
    match written {
        Ok(()) => {
            state.sealer.wake();
            Ok(summaries.len())
        }
        Err(e) => {
            state.refusals.put_back(summaries);
            Err(e)
        }
    }
}

/// Records a failed or refused call. When it concerns an existing case, the entry is scoped to the
/// case's agencies, so their auditors see attempts on it.
pub async fn audit_failure(state: &AppState, call: &Call, err: &AppError) -> AppResult<()> {
    if call.is_audited() {
        return Ok(());
    }
    let tx = state.db.begin().await?;
    let case_without_parties = {
        let subject = lock(&call.subject);
        match (&subject.case_id, &subject.case_parties) {
            (Some(id), None) if uuid::Uuid::parse_str(id).is_ok() => Some(id.clone()),
            _ => None,
        }
    };
    if let Some(case_id) = case_without_parties {
        if let Some(parties) = repo::cases::parties(&tx, &CaseId::from(case_id.as_str())).await? {
            lock(&call.subject).case_parties = Some(parties);
        }
    }
    let record = call.record(state, outcome_of(err), err.code() as i32);
    append(state, &tx, record).await?;
    tx.commit().await?;
    call.audited.store(true, Ordering::SeqCst);
    state.sealer.wake();
    Ok(())
}

/// Records that a watch stream handed its caller an event of each case, one `ALLOWED` entry per
/// case read (event `watch-delivery`), all in one transaction. An entry for an event about an
/// internal note is scoped to that note's agency, like the note itself.
pub async fn audit_deliveries(
    state: &AppState,
    call: &Call,
    reads: &[(&Case, Option<&str>)],
) -> AppResult<()> {
    let tx = state.db.begin().await?;
    for (case, only_agency) in reads {
        let parties = match only_agency {
            Some(agency) => (agency.to_string(), agency.to_string()),
            // Only the originator's watchers receive a referral before its release.
            None if !case.is_released() => (
                case.originating_agency_id.to_string(),
                case.originating_agency_id.to_string(),
            ),
            None => (
                case.originating_agency_id.to_string(),
                case.receiving_agency_id.to_string(),
            ),
        };
        let subject = Subject {
            target_type: Some("case"),
            target_id: Some(case.id.to_string()),
            case_id: Some(case.id.to_string()),
            case_parties: Some(parties),
            handling: Some(case.markings.handling),
        };
        let mut record = call.record_about(state, Outcome::Allowed, 0, subject);
        record.event = Some(WATCH_DELIVERY.to_string());
        append(state, &tx, record).await?;
    }
    tx.commit().await?;
    state.sealer.wake();
    Ok(())
}

/// The audit event of an entry recording what a watch stream delivered.
pub const WATCH_DELIVERY: &str = "watch-delivery";
