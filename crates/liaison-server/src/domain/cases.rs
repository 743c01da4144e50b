//! Referral cases: filing, reading, the queues, lifecycle moves, notes and the timeline.

use chrono::Datelike;

use crate::authz::{self, CaseAction, CASE_NOT_FOUND};
use crate::domain::call::{Call, Work};
use crate::domain::lifecycle::{self, Move};
use crate::domain::paging;
use crate::error::{AppError, AppResult};
use crate::model::Principal;
use crate::model::{
    Case, CaseEvent, CaseOrder, CaseStatus, CaseView, Category, ChannelStatus, EventKind, Note,
    NoteVisibility, Priority, Role, Timestamp,
};
use crate::repo::cases::{CaseCursor, CaseQuery, TimelineCursor};
use crate::repo::{self, Tx};
use crate::state::AppState;

const CHANNEL_NOT_FOUND: AppError = AppError::NotFound("channel not found");

#[derive(Debug, Clone)]
pub struct NewReferral {
    pub request_id: String,
    pub channel_id: String,
    pub category: Category,
    pub priority: Priority,
    pub title: String,
    pub summary: String,
}

fn event(case: &Case, kind: EventKind, actor: &Principal, at: Timestamp) -> CaseEvent {
    CaseEvent {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: case.id.clone(),
        kind,
        actor_id: actor.user_id.clone(),
        actor_agency_id: actor.agency_id.clone(),
        at,
        from_status: None,
        to_status: None,
        reason: None,
        assignee_id: None,
        resolution: None,
        note_id: None,
        visible_to_agency_id: None,
    }
}

/// Loads a case and checks the caller may do `action` to it.
async fn load(
    tx: &Tx,
    call: &Call,
    p: &Principal,
    id: &str,
    action: CaseAction,
) -> AppResult<(Case, authz::Permit)> {
    let case = repo::cases::find(tx, id).await?.ok_or(CASE_NOT_FOUND)?;
    call.concerns_case(&case);
    let permit = authz::authorize(p, &case, action)?;
    Ok((case, permit))
}

/// Files a referral to the other agency of an ACTIVE channel. Filing again with a request id the
/// caller already used returns the first case.
pub async fn file(
    state: &AppState,
    call: &Call,
    p: &Principal,
    new: NewReferral,
) -> AppResult<Case> {
    authz::case_scope(p)?;
    match file_once(state, call, p, &new).await {
        // A concurrent filing with the same request id won the race: answer with its case.
        Err(AppError::AlreadyExists(_)) => {
            let work = Work::begin(state, call).await?;
            match repo::cases::find_by_request(work.tx(), &p.user_id, &new.request_id).await? {
                Some(case) => replay(work, call, p, &new, case).await,
                None => Err(AppError::internal("request id taken but no case found")),
            }
        }
        other => other,
    }
}

/// Answers a filing whose request id the caller already used with the case the first one made. A
/// request id reused for a different referral is refused rather than answered with the first case.
async fn replay(
    work: Work<'_>,
    call: &Call,
    p: &Principal,
    new: &NewReferral,
    case: Case,
) -> AppResult<Case> {
    call.concerns_case(&case);
    authz::authorize(p, &case, CaseAction::Read)?;
    let same = case.channel_id == new.channel_id
        && case.category == new.category
        && case.priority == new.priority
        && case.title == new.title
        && case.summary == new.summary;
    if !same {
        return Err(AppError::invalid(
            "request_id",
            "was already used for a different referral; use a new request_id",
        ));
    }
    work.commit().await?;
    Ok(case)
}

async fn file_once(
    state: &AppState,
    call: &Call,
    p: &Principal,
    new: &NewReferral,
) -> AppResult<Case> {
    let mut work = Work::begin(state, call).await?;
    // A retry of an earlier filing is answered in the same transaction that would file it.
    if let Some(case) = repo::cases::find_by_request(work.tx(), &p.user_id, &new.request_id).await?
    {
        return replay(work, call, p, new, case).await;
    }
    let tx = work.tx();
    let channel = repo::channels::find(tx, &new.channel_id)
        .await?
        .filter(|c| c.has_party(&p.agency_id))
        .ok_or(CHANNEL_NOT_FOUND)?;
    call.concerns("channel", &channel.id);
    if channel.status != ChannelStatus::Active {
        return Err(AppError::FailedPrecondition(format!(
            "the channel is {}; referrals can be filed only on an ACTIVE channel",
            channel.status
        )));
    }
    if !channel.categories.contains(new.category) {
        return Err(AppError::FailedPrecondition(format!(
            "the channel does not cover {}; it covers {}",
            new.category,
            channel
                .categories
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let receiving_id = channel
        .other_party(&p.agency_id)
        .ok_or(CHANNEL_NOT_FOUND)?
        .to_string();
    let originating = repo::agencies::find(tx, &p.agency_id)
        .await?
        .ok_or_else(|| AppError::internal("caller's agency is missing"))?;
    let receiving = repo::agencies::find(tx, &receiving_id)
        .await?
        .ok_or_else(|| AppError::internal("channel's agency is missing"))?;

    let now = state.clock.now();
    let year = now.year();
    let number = repo::cases::next_reference_number(tx, &channel.id, year).await?;
    let case = Case {
        id: uuid::Uuid::now_v7().to_string(),
        reference: format!(
            "{}-{}-{}-{year}-{number:06}",
            originating.country, receiving.country, new.category
        ),
        channel_id: channel.id.clone(),
        category: new.category,
        priority: new.priority,
        title: new.title.clone(),
        summary: new.summary.clone(),
        originating_agency_id: originating.id,
        receiving_agency_id: receiving.id,
        filed_by: p.user_id.clone(),
        assignee_id: None,
        status: CaseStatus::Filed,
        resolution: None,
        filed_at: now,
        updated_at: now,
        acknowledged_at: None,
        closed_at: None,
        acknowledge_due_at: now + new.priority.acknowledge_within(),
        version: 1,
    };
    call.concerns_case(&case);
    repo::cases::insert(tx, &case, &new.request_id).await?;
    let mut filed = event(&case, EventKind::Filed, p, now);
    filed.to_status = Some(CaseStatus::Filed);
    work.record_event(filed);
    work.commit().await?;
    Ok(case)
}

pub async fn get(state: &AppState, call: &Call, p: &Principal, id: &str) -> AppResult<Case> {
    authz::case_scope(p)?;
    let work = Work::begin(state, call).await?;
    let (case, _) = load(work.tx(), call, p, id, CaseAction::Read).await?;
    work.commit().await?;
    Ok(case)
}

/// Which cases a queue or a watcher is about: a view and filters, each left empty matching all.
#[derive(Debug, Clone)]
pub struct CaseFilter {
    pub view: CaseView,
    pub statuses: Vec<CaseStatus>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub channel_id: Option<String>,
    pub assignee_id: Option<String>,
    pub overdue_only: bool,
}

#[derive(Debug, Clone)]
pub struct CaseListing {
    pub filter: CaseFilter,
    pub order: CaseOrder,
    pub page_size: u64,
    pub page_token: Option<String>,
}

impl CaseListing {
    fn binding(&self, p: &Principal) -> String {
        let f = &self.filter;
        let statuses: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
        paging::binding(&[
            "ListCases",
            &p.user_id,
            &format!("{:?}", f.view),
            &statuses.join(","),
            f.category.map(|c| c.as_str()).unwrap_or(""),
            f.priority.map(|c| c.as_str()).unwrap_or(""),
            f.channel_id.as_deref().unwrap_or(""),
            f.assignee_id.as_deref().unwrap_or(""),
            if f.overdue_only { "overdue" } else { "" },
            &format!("{:?}", self.order),
        ])
    }
}

/// A page of a queue, and the token of the next page when there is one.
pub async fn list(
    state: &AppState,
    call: &Call,
    p: &Principal,
    listing: CaseListing,
) -> AppResult<(Vec<Case>, Option<String>)> {
    let scope = authz::case_scope(p)?;
    let secret = &state.keys.page_token_secret();
    let binding = listing.binding(p);
    let after = listing
        .page_token
        .as_deref()
        .map(|t| paging::decode::<CaseCursor>(secret, &binding, t))
        .transpose()?;
    let filter = listing.filter;
    let query = CaseQuery {
        scope,
        view: filter.view,
        statuses: filter.statuses,
        category: filter.category,
        priority: filter.priority,
        channel_id: filter.channel_id,
        assignee_id: filter.assignee_id,
        overdue_at: filter.overdue_only.then(|| state.clock.now()),
        order: listing.order,
        after,
        limit: listing.page_size + 1,
    };
    let work = Work::begin(state, call).await?;
    let cases = repo::cases::list(work.tx(), &query).await?;
    work.commit().await?;
    paging::page(secret, &binding, cases, listing.page_size, |last| {
        CaseCursor::after(last, listing.order)
    })
}

/// Makes a lifecycle move on the case at the version the caller saw.
pub async fn transition(
    state: &AppState,
    call: &Call,
    p: &Principal,
    id: &str,
    etag: &str,
    mv: Move,
) -> AppResult<Case> {
    authz::case_scope(p)?;
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let (case, permit) = load(tx, call, p, id, mv.action()).await?;
    if case.etag() != etag {
        return Err(stale());
    }
    if let Move::Assign { assignee_id } = &mv {
        let assignee = repo::users::find(tx, assignee_id).await?;
        let eligible = assignee.is_some_and(|u| {
            !u.disabled
                && u.agency_id == case.receiving_agency_id
                && u.roles.contains(Role::Officer)
        });
        if !eligible {
            return Err(AppError::invalid(
                "assignee_id",
                "must be an enabled OFFICER of the receiving agency",
            ));
        }
    }
    let now = state.clock.now();
    let (next, kind) = lifecycle::apply(&case, &mv, &permit, now)?;
    if !repo::cases::update(tx, &next, case.version).await? {
        return Err(stale());
    }
    let mut ev = event(&next, kind, p, now);
    ev.from_status = Some(case.status);
    ev.to_status = Some(next.status);
    ev.reason = mv.reason();
    ev.assignee_id = match &mv {
        Move::Assign { assignee_id } => Some(assignee_id.clone()),
        _ => None,
    };
    ev.resolution = next.resolution.filter(|_| kind == EventKind::Closed);
    work.record_event(ev);
    work.commit().await?;
    Ok(next)
}

fn stale() -> AppError {
    AppError::Aborted("the case changed since it was read (stale etag); read it again".into())
}

pub async fn add_note(
    state: &AppState,
    call: &Call,
    p: &Principal,
    case_id: &str,
    body: String,
    visibility: NoteVisibility,
) -> AppResult<Note> {
    authz::case_scope(p)?;
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let (case, _) = load(tx, call, p, case_id, CaseAction::AddNote).await?;
    let now = state.clock.now();
    match visibility {
        // A shared note changes what both sides know of the case: its etag moves.
        NoteVisibility::Shared => repo::cases::touch(tx, &case.id, now).await?,
        // An internal note must not show in the other agency's etag or audit view.
        NoteVisibility::Internal => call.concerns_case_within(&case, &p.agency_id),
    }
    let note = Note {
        id: uuid::Uuid::now_v7().to_string(),
        case_id: case.id.clone(),
        author_id: p.user_id.clone(),
        author_agency_id: p.agency_id.clone(),
        visibility,
        body,
        created_at: now,
    };
    repo::cases::insert_note(tx, &note).await?;
    let mut ev = event(&case, EventKind::NoteAdded, p, now);
    ev.note_id = Some(note.id.clone());
    if visibility == NoteVisibility::Internal {
        ev.visible_to_agency_id = Some(p.agency_id.clone());
    }
    work.record_event(ev);
    work.commit().await?;
    Ok(note)
}

/// A page of a case's notes or events: the page size asked for and the token from the last page.
#[derive(Debug, Clone)]
pub struct TimelinePage {
    pub page_size: u64,
    pub page_token: Option<String>,
}

impl TimelinePage {
    fn cursor(
        &self,
        state: &AppState,
        what: &str,
        p: &Principal,
        case_id: &str,
    ) -> AppResult<(String, Option<TimelineCursor>)> {
        let binding = paging::binding(&[what, &p.user_id, case_id]);
        let after = self
            .page_token
            .as_deref()
            .map(|t| paging::decode::<TimelineCursor>(&state.keys.page_token_secret(), &binding, t))
            .transpose()?;
        Ok((binding, after))
    }

    /// Cuts the one extra item fetched and makes the next page's token from the last one kept.
    fn finish<T>(
        &self,
        state: &AppState,
        binding: &str,
        items: Vec<T>,
        cursor_of: impl Fn(&T) -> TimelineCursor,
    ) -> AppResult<(Vec<T>, Option<String>)> {
        paging::page(
            &state.keys.page_token_secret(),
            binding,
            items,
            self.page_size,
            cursor_of,
        )
    }
}

pub async fn notes(
    state: &AppState,
    call: &Call,
    p: &Principal,
    case_id: &str,
    page: TimelinePage,
) -> AppResult<(Vec<Note>, Option<String>)> {
    authz::case_scope(p)?;
    let (binding, after) = page.cursor(state, "ListNotes", p, case_id)?;
    let work = Work::begin(state, call).await?;
    let (case, _) = load(work.tx(), call, p, case_id, CaseAction::Read).await?;
    let notes = repo::cases::notes_visible_to(
        work.tx(),
        &case.id,
        &p.agency_id,
        after.as_ref(),
        page.page_size + 1,
    )
    .await?;
    work.commit().await?;
    page.finish(state, &binding, notes, |n| TimelineCursor {
        at: n.created_at.timestamp_micros(),
        id: n.id.clone(),
    })
}

pub async fn events(
    state: &AppState,
    call: &Call,
    p: &Principal,
    case_id: &str,
    page: TimelinePage,
) -> AppResult<(Vec<CaseEvent>, Option<String>)> {
    authz::case_scope(p)?;
    let (binding, after) = page.cursor(state, "ListCaseEvents", p, case_id)?;
    let work = Work::begin(state, call).await?;
    let (case, _) = load(work.tx(), call, p, case_id, CaseAction::Read).await?;
    let events = repo::cases::events_visible_to(
        work.tx(),
        &case.id,
        &p.agency_id,
        after.as_ref(),
        page.page_size + 1,
    )
    .await?;
    work.commit().await?;
    page.finish(state, &binding, events, |e| TimelineCursor {
        at: e.at.timestamp_micros(),
        id: e.id.clone(),
    })
}

/// How many overdue cases one escalation pass takes on; the next pass takes the rest.
const ESCALATION_BATCH: u64 = 200;

/// Records an ESCALATED event on every case still FILED past its acknowledge deadline, once per
/// case however many servers run this at once (the conditional update lets one of them win). Each
/// escalation is its own transaction with its own audit entry, made by the service itself.
pub async fn escalate_overdue(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now();
    let due = {
        let tx = state.db.begin().await?;
        let due = repo::cases::due_for_escalation(&tx, now, ESCALATION_BATCH).await?;
        tx.commit().await?;
        due
    };
    let mut escalated = 0;
    for case in due {
        let call = Call::new(
            "liaisond/escalate",
            uuid::Uuid::now_v7().to_string(),
            Some("local".into()),
        );
        call.concerns_case(&case);
        let mut work = Work::begin(state, &call).await?;
        if !repo::cases::mark_escalated(work.tx(), &case.id, now).await? {
            // Another server escalated it first, or it was acknowledged meanwhile.
            continue;
        }
        let overdue_by = now - case.acknowledge_due_at;
        work.record_event(CaseEvent {
            id: uuid::Uuid::now_v7().to_string(),
            case_id: case.id.clone(),
            kind: EventKind::Escalated,
            // Recorded by the service itself: no user acted.
            actor_id: String::new(),
            actor_agency_id: String::new(),
            at: now,
            from_status: Some(CaseStatus::Filed),
            to_status: Some(CaseStatus::Filed),
            reason: Some(format!(
                "not acknowledged within {} hours of filing (overdue by {} minutes)",
                case.priority.acknowledge_within().num_hours(),
                overdue_by.num_minutes()
            )),
            assignee_id: None,
            resolution: None,
            note_id: None,
            visible_to_agency_id: None,
        });
        work.commit().await?;
        escalated += 1;
    }
    Ok(escalated)
}
