//! Referral cases: filing, reading, the queues, lifecycle moves, notes and the timeline.

use std::ops::Not;

use chrono::Datelike;

use crate::authz::{
    self, CaseAction, CasePermit, CaseScope, Unchecked, CASE_NOT_FOUND, CHANNEL_NOT_FOUND,
};
use crate::domain::call::{Call, Work};
use crate::domain::lifecycle::{self, Move};
use crate::domain::markings::{self, MarkingsRequest};
use crate::domain::paging;
use crate::domain::preservation::{self, PreservationMove};
use crate::domain::{deadlines, items, moves, terms};
use crate::error::{AppError, AppResult};
use crate::model::{
    AgencyId, Case, CaseEvent, CaseId, CaseOrder, CaseStatus, CaseView, CategoryCode, ChannelId,
    ChannelStatus, DeadlineClock, EventActor, EventId, EventKind, ItemAnswer, Markings, MoveAction,
    Note, NoteId, NoteVisibility, Preservation, PreservationOrder, PreservationStatus, Priority,
    RequestKind, Resolution, Role, Rule, Rules, TermId, TermKind, Timestamp,
};
use crate::repo::cases::{CaseCursor, CaseQuery, TimelineCursor};
use crate::repo::{self, Tx};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct NewReferral {
    pub request_id: String,
    pub channel_id: ChannelId,
    pub category: CategoryCode,
    pub priority: Priority,
    pub title: String,
    pub summary: String,
    pub markings: Markings,
    pub kind: RequestKind,
    /// Exactly when `kind` is PRESERVATION.
    pub preservation: Option<PreservationOrder>,
    /// The agreed legal basis cited (see [`terms::cited_basis`]).
    pub legal_basis_id: Option<TermId>,
    /// What a REQUEST asks for, item by item.
    pub items: Vec<String>,
}

/// A new event of `case`, recorded by `actor` now. Until the referral is released, only its
/// originating agency sees its events: the receiving side's timeline begins with the release.
pub(crate) fn event(
    case: &Case,
    kind: EventKind,
    actor: EventActor<'_>,
    at: Timestamp,
) -> CaseEvent {
    let mut ev = CaseEvent::new(EventId::generate(), case.id.clone(), kind, actor, at);
    if !case.is_released() {
        ev.visible_to_agency_id = Some(case.originating_agency_id.clone());
    }
    ev
}

/// Loads a case, named by its id or its reference (see [`crate::validate::case_key`]), and checks
/// the caller may do `action` to it: the permit holds the case. A reference the caller may not
/// see is as NOT_FOUND as an id.
pub(crate) async fn load(
    tx: &Tx,
    call: &Call,
    scope: &CaseScope,
    id: &CaseId,
    action: CaseAction,
) -> AppResult<CasePermit> {
    let found = if crate::validate::is_case_reference(id.as_str()) {
        repo::cases::find_by_reference(tx, id.as_str()).await?
    } else {
        repo::cases::find(tx, id).await?
    };
    let case = found.ok_or(CASE_NOT_FOUND)?;
    // Someone the referral is not released to learns nothing of it, not even in their agency's
    // audit view: the entry names the case as they named it.
    if !case.hidden_from(scope.agency_id().as_str()) {
        call.concerns_unchecked_case(&case);
    }
    let permit = authz::authorize(scope, case, action)?;
    call.touches_marked(permit.case().markings.handling);
    Ok(permit)
}

/// Files a referral to the other agency of an ACTIVE channel. Filing again with a request id the
/// caller already used returns the first case.
pub async fn file(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    new: NewReferral,
) -> AppResult<Case> {
    match file_once(state, call, scope, &new).await {
        // A concurrent filing with the same request id won the race: answer with its case.
        Err(AppError::AlreadyExists(_)) => {
            let work = Work::begin(state, call).await?;
            match repo::cases::find_by_request(work.tx(), scope.user_id(), &new.request_id).await? {
                Some(case) => replay(work, call, scope, &new, case).await,
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
    scope: &CaseScope,
    new: &NewReferral,
    case: Unchecked<Case>,
) -> AppResult<Case> {
    call.concerns_unchecked_case(&case);
    let case = authz::authorize(scope, case, CaseAction::Read)?.into_case();
    call.touches_marked(case.markings.handling);
    // The markings as filed, unless the provider changed them since: then a retry is compared
    // on the rest.
    let markings_as_filed = repo::cases::markings_changed(work.tx(), &case.id)
        .await?
        .not()
        .then_some(&case.markings);
    let same = case.channel_id == new.channel_id
        && case.category == new.category
        && case.priority == new.priority
        && case.title == new.title
        && case.summary == new.summary
        && markings_as_filed.is_none_or(|m| *m == new.markings)
        && case.kind == new.kind
        && case.preservation.as_ref().map(|p| &p.order) == new.preservation.as_ref()
        && case.legal_basis_id == new.legal_basis_id
        && case.items.iter().map(|i| &i.text).eq(new.items.iter());
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
    scope: &CaseScope,
    new: &NewReferral,
) -> AppResult<Case> {
    let p = scope.principal();
    let mut work = Work::begin(state, call).await?;
    // A retry of an earlier filing is answered in the same transaction that would file it.
    if let Some(case) = repo::cases::find_by_request(work.tx(), &p.user_id, &new.request_id).await?
    {
        return replay(work, call, scope, new, case).await;
    }
    let tx = work.tx();
    let channel = repo::channels::find(tx, &new.channel_id)
        .await?
        .filter(|c| authz::channel_visible(c, p.agency_id.as_str()))
        .ok_or(CHANNEL_NOT_FOUND)?;
    call.concerns("channel", channel.id.as_str());
    if channel.status != ChannelStatus::Active {
        return Err(AppError::FailedPrecondition(format!(
            "the channel is {}; referrals can be filed only on an ACTIVE channel",
            channel.status
        )));
    }
    let covered = terms::categories_in_force(tx, &channel.id).await?;
    if !covered.contains(&new.category) {
        return Err(AppError::FailedPrecondition(format!(
            "the channel does not cover {}; it covers {}",
            new.category,
            covered
                .iter()
                .map(CategoryCode::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let legal_basis_id =
        terms::cited_basis(tx, &channel.id, new.kind, new.legal_basis_id.as_ref()).await?;
    let held = terms::rules_in_force(tx, &channel.id)
        .await?
        .contains(Rule::FourEyesRelease);
    let receiving_id = channel
        .other_party(p.agency_id.as_str())
        .ok_or(CHANNEL_NOT_FOUND)?
        .to_string();
    let originating = repo::agencies::find(tx, &p.agency_id)
        .await?
        .ok_or_else(|| AppError::internal("caller's agency is missing"))?;
    let receiving = repo::agencies::find(tx, &AgencyId::from(receiving_id.as_str()))
        .await?
        .ok_or_else(|| AppError::internal("channel's agency is missing"))?;

    let deadlines = deadlines::in_force(tx, &channel.id).await?;
    let now = state.clock.now();
    let year = now.year();
    let number = state
        .references
        .next(&state.db, tx, &channel.id, year)
        .await?;
    let case = Case {
        id: CaseId::generate(),
        reference: format!(
            "{}-{}-{}-{year}-{number:06}",
            originating.country, receiving.country, new.category
        ),
        channel_id: channel.id.clone(),
        category: new.category.clone(),
        priority: new.priority,
        title: new.title.clone(),
        summary: new.summary.clone(),
        originating_agency_id: originating.id,
        receiving_agency_id: receiving.id,
        filed_by: p.user_id.clone(),
        assignee_id: None,
        status: if held {
            CaseStatus::PendingRelease
        } else {
            CaseStatus::Filed
        },
        resolution: None,
        filed_at: now,
        updated_at: now,
        acknowledged_at: None,
        closed_at: None,
        acknowledge_due_at: now + deadlines.acknowledge_within(new.priority),
        markings: new.markings.clone(),
        kind: new.kind,
        decline_ground: None,
        preservation: new.preservation.clone().map(|order| Preservation {
            order,
            status: PreservationStatus::Requested,
            preserved_until: None,
            superseded_by: None,
        }),
        legal_basis_id,
        items: items::numbered(new.items.clone()),
        released_at: (!held).then_some(now),
        acknowledge_within: deadlines.acknowledge_within(new.priority),
        due_soon_percent: deadlines.due_soon_percent,
        response: deadlines.clock_for(new.kind, new.priority, (!held).then_some(now)),
        marks: Default::default(),
        version: 1,
    };
    call.concerns_case(&case);
    repo::cases::insert(tx, &case, &new.request_id).await?;
    let mut filed = event(&case, EventKind::Filed, p.as_actor(), now);
    filed.to_status = Some(case.status);
    deadlines::note_clock(None, &case, &mut filed);
    work.record_event(filed);
    if held {
        moves::propose_release(&mut work, &case, p, now).await?;
    }
    work.commit().await?;
    Ok(case)
}

pub async fn get(state: &AppState, call: &Call, scope: &CaseScope, id: &CaseId) -> AppResult<Case> {
    let work = Work::begin(state, call).await?;
    let permit = load(work.tx(), call, scope, id, CaseAction::Read).await?;
    work.commit().await?;
    Ok(permit.into_case())
}

/// Which cases a queue or a watcher is about: a view and filters, each left empty matching all.
#[derive(Debug, Clone)]
pub struct CaseFilter {
    pub view: CaseView,
    pub statuses: Vec<CaseStatus>,
    pub category: Option<CategoryCode>,
    /// Each left out matches every kind.
    pub kinds: Vec<RequestKind>,
    pub priority: Option<Priority>,
    pub channel_id: Option<String>,
    pub assignee_id: Option<String>,
    pub overdue_only: bool,
    /// Only cases with a deadline running out within this time from now.
    pub due_within: Option<chrono::Duration>,
    /// Only cases that missed a deadline.
    pub breached_only: bool,
}

#[derive(Debug, Clone)]
pub struct CaseListing {
    pub filter: CaseFilter,
    pub order: CaseOrder,
    pub page_size: u64,
    pub page_token: Option<String>,
}

impl CaseListing {
    fn binding(&self, scope: &CaseScope) -> String {
        let f = &self.filter;
        let statuses: Vec<&str> = f.statuses.iter().map(|s| s.as_str()).collect();
        let kinds: Vec<&str> = f.kinds.iter().map(|k| k.as_str()).collect();
        paging::binding(&[
            "ListCases",
            scope.user_id(),
            &format!("{:?}", f.view),
            &statuses.join(","),
            f.category.as_ref().map(|c| c.as_str()).unwrap_or(""),
            &kinds.join(","),
            f.priority.map(|c| c.as_str()).unwrap_or(""),
            f.channel_id.as_deref().unwrap_or(""),
            f.assignee_id.as_deref().unwrap_or(""),
            if f.overdue_only { "overdue" } else { "" },
            &f.due_within
                .map_or(String::new(), |d| d.num_seconds().to_string()),
            if f.breached_only { "breached" } else { "" },
            &format!("{:?}", self.order),
        ])
    }
}

/// A page of a queue, and the token of the next page when there is one.
pub async fn list(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    listing: CaseListing,
) -> AppResult<(Vec<Case>, Option<String>)> {
    let secret = &state.keys.page_token_secret();
    let binding = listing.binding(scope);
    let after = listing
        .page_token
        .as_deref()
        .map(|t| paging::decode::<CaseCursor>(secret, &binding, t))
        .transpose()?;
    let filter = listing.filter;
    let now = state.clock.now();
    let query = CaseQuery {
        scope: scope.clone(),
        view: filter.view,
        statuses: filter.statuses,
        category: filter.category,
        kinds: filter.kinds,
        priority: filter.priority,
        channel_id: filter.channel_id,
        assignee_id: filter.assignee_id,
        overdue_at: filter.overdue_only.then_some(now),
        due_between: filter.due_within.map(|d| (now, now + d)),
        breached_at: filter.breached_only.then_some(now),
        order: listing.order,
        after,
        limit: listing.page_size + 1,
    };
    let work = Work::begin(state, call).await?;
    if let Some(category) = &query.category {
        check_category_known(work.tx(), scope, category).await?;
    }
    let cases = repo::cases::list(work.tx(), &query).await?;
    let shown = usize::try_from(listing.page_size).unwrap_or(usize::MAX);
    for case in cases.iter().take(shown) {
        call.touches_marked(case.markings.handling);
    }
    work.commit().await?;
    paging::page(secret, &binding, cases, listing.page_size, |last| {
        CaseCursor::after(last, listing.order)
    })
}

/// Refuses a category no channel of the caller's agency has ever had in its register: a typo
/// would otherwise list nothing, silently. The first three are always known.
pub(crate) async fn check_category_known(
    tx: &Tx,
    scope: &CaseScope,
    category: &CategoryCode,
) -> AppResult<()> {
    if category.known().is_some() {
        return Ok(());
    }
    for channel in repo::channels::list_for_agency(tx, scope.agency_id(), None).await? {
        let registered =
            repo::terms::list(tx, &channel.id, Some(TermKind::Category), false).await?;
        if registered.iter().any(|t| t.code == category.as_str()) {
            return Ok(());
        }
    }
    Err(AppError::invalid(
        "category_code",
        format!("no channel of your agency has a category {category}"),
    ))
}

/// Makes a lifecycle move on the case at the version the caller saw.
pub async fn transition(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    id: &CaseId,
    etag: &str,
    mv: Move,
) -> AppResult<Case> {
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let permit = load(tx, call, scope, id, mv.action()).await?;
    let case = permit.case();
    if case.etag() != etag {
        return Err(stale());
    }
    // The assignee is named by id or username; the move records the id.
    let mv = match mv {
        Move::Assign { assignee_id } => {
            let assignee = match uuid::Uuid::parse_str(assignee_id.as_str()) {
                Ok(_) => repo::users::find(tx, &assignee_id).await?,
                Err(_) => repo::users::find_by_username(tx, assignee_id.as_str()).await?,
            };
            match assignee {
                Some(u)
                    if !u.disabled
                        && u.agency_id == case.receiving_agency_id
                        && u.roles.contains(Role::Officer) =>
                {
                    Move::Assign { assignee_id: u.id }
                }
                _ => {
                    return Err(AppError::invalid(
                        "assignee_id",
                        "must be an enabled OFFICER of the receiving agency, by id or username",
                    ))
                }
            }
        }
        other => other,
    };
    check_rules(tx, case, &mv).await?;
    let next = make_move(&mut work, &permit, scope.principal().as_actor(), &mv).await?;
    work.commit().await?;
    Ok(next)
}

/// Refuses a move the case's channel puts under four eyes (it must be proposed, see
/// [`crate::domain::moves`]), and a decline without a ground where a rule asks for one.
async fn check_rules(tx: &Tx, case: &Case, mv: &Move) -> AppResult<()> {
    let action = match mv {
        Move::Decline { .. } => MoveAction::Decline,
        Move::Close {
            resolution: Resolution::NoAction,
        } => MoveAction::CloseNoAction,
        _ => return Ok(()),
    };
    let rules = terms::rules_in_force(tx, &case.channel_id).await?;
    check_ground(&rules, mv)?;
    if rules.contains(action.rule()) {
        return Err(four_eyes(action.rule()));
    }
    Ok(())
}

/// A decline states a ground where the channel's rule DECLINE_NEEDS_GROUND is in force.
pub(crate) fn check_ground(rules: &Rules, mv: &Move) -> AppResult<()> {
    if matches!(mv, Move::Decline { ground: None, .. }) && rules.contains(Rule::DeclineNeedsGround)
    {
        return Err(AppError::invalid(
            "ground",
            "is required on this channel (its rule DECLINE_NEEDS_GROUND): name one from the \
             closed list of EU Directive 2023/977 Art. 6",
        ));
    }
    Ok(())
}

/// The refusal of a move that `rule` puts under four eyes.
pub(crate) fn four_eyes(rule: Rule) -> AppError {
    AppError::FourEyes {
        rule: rule.as_str(),
        message: format!(
            "the channel's rule {rule} asks that {}: propose the move with ProposeCaseMove, \
             and another supervisor approves it",
            rule.description()
        ),
    }
}

/// Makes a lifecycle move on the permitted case as `actor`, if the case is still at the version
/// the permit holds, and records its event.
pub(crate) async fn make_move(
    work: &mut Work<'_>,
    permit: &CasePermit,
    actor: EventActor<'_>,
    mv: &Move,
) -> AppResult<Case> {
    let case = permit.case();
    let now = work.now();
    let (next, kind) = lifecycle::apply(permit, mv, now)?;
    if !repo::cases::update(work.tx(), &next, case.version).await? {
        return Err(stale());
    }
    let mut ev = event(&next, kind, actor, now);
    ev.from_status = Some(case.status);
    ev.to_status = Some(next.status);
    ev.reason = match kind {
        // What came of each item, when the request had items.
        EventKind::Closed => items::summary(&next),
        _ => mv.reason(),
    };
    ev.assignee_id = match mv {
        Move::Assign { assignee_id } => Some(assignee_id.clone()),
        _ => None,
    };
    ev.resolution = next.resolution.filter(|_| kind == EventKind::Closed);
    ev.ground = next.decline_ground.filter(|_| kind == EventKind::Declined);
    deadlines::note_clock(Some(case), &next, &mut ev);
    if kind == EventKind::Acknowledged {
        // The deadline it met or missed, so that the timeline alone says which.
        ev.clock = Some(DeadlineClock::Acknowledge);
        ev.due_at = Some(case.acknowledge_due_at);
    }
    if kind == EventKind::InformationProvided {
        // The pause moved the deadline: it is warned of again if it is no longer near.
        deadlines::rearm_if_later(work.tx(), &next, now).await?;
    }
    work.record_event(ev);
    Ok(next)
}

/// Sets the permitted case's markings as `actor`, if the case is still at the version the permit
/// holds, and records the MARKINGS_CHANGED event both agencies see.
pub(crate) async fn set_markings(
    work: &mut Work<'_>,
    permit: &CasePermit,
    actor: EventActor<'_>,
    new: Markings,
    reason: Option<String>,
) -> AppResult<Case> {
    let case = permit.case();
    let now = work.now();
    let mut next = case.clone();
    next.markings = new.clone();
    next.updated_at = now;
    next.version = case.version + 1;
    if !repo::cases::update(work.tx(), &next, case.version).await? {
        return Err(stale());
    }
    let mut ev = event(&next, EventKind::MarkingsChanged, actor, now);
    ev.from_status = Some(case.status);
    ev.to_status = Some(case.status);
    ev.reason = reason;
    ev.markings = Some(new);
    work.record_event(ev);
    Ok(next)
}

/// Answers item `number` of a request on the case at the version the caller saw: the receiving
/// side's move, an event both agencies see.
pub async fn answer_item(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    id: &CaseId,
    etag: &str,
    reply: items::Reply,
) -> AppResult<Case> {
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let permit = load(tx, call, scope, id, CaseAction::AnswerItem).await?;
    let case = permit.case();
    if case.etag() != etag {
        return Err(stale());
    }
    let now = state.clock.now();
    let items::Reply {
        number,
        outcome,
        text,
        ground,
    } = reply;
    let answer = ItemAnswer {
        outcome,
        text,
        ground,
        by: scope.user_id().clone(),
        at: now,
    };
    let next = items::answer(case, number, answer)?;
    if !repo::cases::update(tx, &next, case.version).await? {
        return Err(stale());
    }
    let mut ev = event(
        &next,
        EventKind::ItemAnswered,
        scope.principal().as_actor(),
        now,
    );
    ev.from_status = Some(case.status);
    ev.to_status = Some(next.status);
    ev.item_number = Some(number);
    ev.ground = ground;
    // The answer itself, so that answering again keeps what was said before.
    ev.reason = Some(format!("{outcome}: {}", next_answer_text(&next, number)));
    work.record_event(ev);
    work.commit().await?;
    Ok(next)
}

/// The text of item `number`'s answer on the answered case.
fn next_answer_text(case: &Case, number: i32) -> &str {
    case.items
        .iter()
        .find(|i| i.number == number)
        .and_then(|i| i.answer.as_ref())
        .map_or("", |a| a.text.as_str())
}

/// Makes a preservation move on the case at the version the caller saw.
pub async fn preserve(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    id: &CaseId,
    etag: &str,
    mv: PreservationMove,
) -> AppResult<Case> {
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let permit = load(tx, call, scope, id, mv.action()).await?;
    let case = permit.case();
    if case.etag() != etag {
        return Err(stale());
    }
    let now = state.clock.now();
    let (next, kind) = preservation::apply(&permit, &mv, now)?;
    if !repo::cases::update(tx, &next, case.version).await? {
        return Err(stale());
    }
    let mut ev = event(&next, kind, scope.principal().as_actor(), now);
    ev.from_status = Some(case.status);
    ev.to_status = Some(next.status);
    ev.reason = mv.reason();
    ev.preserved_until = mv.until();
    deadlines::note_clock(Some(case), &next, &mut ev);
    work.record_event(ev);
    work.commit().await?;
    Ok(next)
}

/// Marks LAPSED every preservation kept past its date and neither extended nor superseded, once
/// per case however many servers run this (the conditional update lets one win), each audited as
/// the service's own `liaisond/lapse-preservation`.
pub async fn lapse_preservations(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now();
    let due = due_cases(state, now, async |tx: &Tx, now| {
        repo::cases::due_to_lapse(tx, &authz::service(), now, TIMER_BATCH).await
    })
    .await?;
    service_pass(
        state,
        "liaisond/lapse-preservation",
        due,
        now,
        async |tx: &Tx, case: &Case, now| repo::cases::mark_lapsed(tx, case, now).await,
        |case, now| {
            let mut ev = event(
                case,
                EventKind::PreservationLapsed,
                EventActor::Service,
                now,
            );
            ev.from_status = Some(case.status);
            ev.to_status = Some(case.status);
            ev.preserved_until = case.preservation.as_ref().and_then(|p| p.preserved_until);
            ev.reason = Some("kept until its date and neither extended nor superseded".into());
            ev
        },
    )
    .await
}

/// The cases one of the service's timers is due to act on, read in a transaction of their own.
pub(crate) async fn due_cases(
    state: &AppState,
    now: Timestamp,
    read: impl AsyncFnOnce(&Tx, Timestamp) -> AppResult<Vec<Case>>,
) -> AppResult<Vec<Case>> {
    let tx = state.db.begin().await?;
    let due = read(&tx, now).await?;
    tx.commit().await?;
    Ok(due)
}

/// One pass of one of the service's own timers: each case `due` gets a transaction and an audit
/// entry of its own (`method`, made by the service), in which `claim` marks it (false when another
/// server did first, or the case moved on meanwhile) and `record` makes its event. Answers how
/// many it acted on.
pub(crate) async fn service_pass(
    state: &AppState,
    method: &'static str,
    due: Vec<Case>,
    now: Timestamp,
    claim: impl AsyncFn(&Tx, &Case, Timestamp) -> AppResult<bool>,
    record: impl Fn(&Case, Timestamp) -> CaseEvent,
) -> AppResult<usize> {
    let mut done = 0;
    for case in due {
        let call = Call::new(
            method,
            uuid::Uuid::now_v7().to_string(),
            Some("local".into()),
        );
        call.concerns_case(&case);
        let mut work = Work::begin(state, &call).await?;
        if !claim(work.tx(), &case, now).await? {
            continue;
        }
        work.record_event(record(&case, now));
        work.commit().await?;
        done += 1;
    }
    Ok(done)
}

pub(crate) fn stale() -> AppError {
    AppError::Aborted("the case changed since it was read (stale etag); read it again".into())
}

pub async fn add_note(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    case_id: &CaseId,
    body: String,
    visibility: NoteVisibility,
    markings: MarkingsRequest,
) -> AppResult<Note> {
    let p = scope.principal();
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let permit = load(tx, call, scope, case_id, CaseAction::AddNote).await?;
    let case = permit.case();
    let markings = markings.or(&markings::note_defaults(&case.markings));
    markings::check_note_under_case(&markings, &case.markings)?;
    call.touches_marked(markings.handling);
    let now = state.clock.now();
    match visibility {
        // A shared note changes what both sides know of the case: its etag moves.
        NoteVisibility::Shared => repo::cases::touch(tx, &case.id, now).await?,
        // An internal note must not show in the other agency's etag or audit view.
        NoteVisibility::Internal => call.concerns_case_within(case, p.agency_id.as_str()),
    }
    let note = Note {
        id: NoteId::generate(),
        case_id: case.id.clone(),
        author_id: p.user_id.clone(),
        author_agency_id: p.agency_id.clone(),
        visibility,
        body,
        markings,
        created_at: now,
    };
    repo::cases::insert_note(tx, &note).await?;
    let mut ev = event(case, EventKind::NoteAdded, p.as_actor(), now);
    ev.note_id = Some(note.id.clone());
    if visibility == NoteVisibility::Internal {
        ev.visible_to_agency_id = Some(p.agency_id.clone());
    }
    work.record_event(ev);
    work.commit().await?;
    Ok(note)
}

/// Changes the markings of the case at the version the caller saw: its provider's move. Relaxing
/// needs a reason; the change is an event both agencies see.
pub async fn mark_case(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    id: &CaseId,
    etag: &str,
    new: Markings,
    reason: Option<String>,
) -> AppResult<Case> {
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let permit = load(tx, call, scope, id, CaseAction::Mark).await?;
    let case = permit.case();
    if case.etag() != etag {
        return Err(stale());
    }
    let relaxes = markings::check_change(&case.markings, &new, reason.as_deref())?;
    call.touches_marked(new.handling);
    if relaxes
        && terms::rules_in_force(tx, &case.channel_id)
            .await?
            .contains(Rule::FourEyesRelaxMarking)
    {
        return Err(four_eyes(Rule::FourEyesRelaxMarking));
    }
    let next = set_markings(
        &mut work,
        &permit,
        scope.principal().as_actor(),
        new,
        reason,
    )
    .await?;
    work.commit().await?;
    Ok(next)
}

/// Changes the markings of a note of the case: its provider's move (its author, or a supervisor
/// of the author's agency), never laxer than the case. A note the caller may not read is as
/// NOT_FOUND as one that does not exist. Answers the note with the markings in force.
pub async fn mark_note(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    case_id: &CaseId,
    note_id: &NoteId,
    new: Markings,
    reason: Option<String>,
) -> AppResult<Note> {
    let p = scope.principal();
    let mut work = Work::begin(state, call).await?;
    let tx = work.tx();
    let permit = load(tx, call, scope, case_id, CaseAction::Read).await?;
    let case = permit.case();
    let mut note = repo::cases::find_note(tx, &permit, note_id)
        .await?
        .ok_or(NOTE_NOT_FOUND)?;
    if note.visibility == NoteVisibility::Internal {
        call.concerns_case_within(case, note.author_agency_id.as_str());
    }
    call.touches_marked(note.markings.handling);
    authz::may_mark_note(scope, &note)?;
    let relaxes = markings::check_change(&note.markings, &new, reason.as_deref())?;
    markings::check_note_under_case(&new, &case.markings)?;
    call.touches_marked(new.handling);
    if relaxes
        && terms::rules_in_force(tx, &case.channel_id)
            .await?
            .contains(Rule::FourEyesRelaxMarking)
    {
        return Err(four_eyes(Rule::FourEyesRelaxMarking));
    }
    let case = case.clone();
    set_note_markings(&mut work, &case, &note, new.clone(), reason, p.as_actor()).await?;
    work.commit().await?;
    note.markings = new.in_force_under(&case.markings);
    Ok(note)
}

/// Sets a note's markings as `actor` if they are still those read, and records the
/// MARKINGS_CHANGED event: both sides see a shared note's (and its case's etag moves, as adding
/// it did), only its agency an internal note's.
pub(crate) async fn set_note_markings(
    work: &mut Work<'_>,
    case: &Case,
    note: &Note,
    new: Markings,
    reason: Option<String>,
    actor: EventActor<'_>,
) -> AppResult<()> {
    let now = work.now();
    if !repo::cases::update_note_markings(work.tx(), &note.id, &note.markings, &new).await? {
        return Err(AppError::Aborted(
            "the note's markings changed since they were read; read them again".into(),
        ));
    }
    let mut ev = event(case, EventKind::MarkingsChanged, actor, now);
    ev.note_id = Some(note.id.clone());
    ev.reason = reason;
    ev.markings = Some(new);
    match note.visibility {
        NoteVisibility::Shared => repo::cases::touch(work.tx(), &case.id, now).await?,
        NoteVisibility::Internal => ev.visible_to_agency_id = Some(note.author_agency_id.clone()),
    }
    work.record_event(ev);
    Ok(())
}

pub(crate) const NOTE_NOT_FOUND: AppError = AppError::NotFound("note not found");

/// A page of a case's notes or events: the page size asked for and the token from the last page.
#[derive(Debug, Clone)]
pub struct TimelinePage {
    pub page_size: u64,
    pub page_token: Option<String>,
}

/// One of a case's timelines: its notes or its events, as the method `method` pages them.
struct Timeline<Read, CursorOf> {
    method: &'static str,
    read: Read,
    cursor_of: CursorOf,
}

impl<T, Read, CursorOf> Timeline<Read, CursorOf>
where
    Read: AsyncFnOnce(&Tx, &CasePermit, Option<&TimelineCursor>, u64) -> AppResult<Vec<T>>,
    CursorOf: Fn(&T) -> TimelineCursor,
{
    /// A page of the timeline: the case is read under a permit, and the page token is bound to
    /// the caller and the case.
    async fn page(
        self,
        state: &AppState,
        call: &Call,
        scope: &CaseScope,
        case_id: &CaseId,
        page: TimelinePage,
    ) -> AppResult<(Vec<T>, Option<String>)> {
        let secret = state.keys.page_token_secret();
        let binding = paging::binding(&[self.method, scope.user_id(), case_id]);
        let after = page
            .page_token
            .as_deref()
            .map(|t| paging::decode::<TimelineCursor>(&secret, &binding, t))
            .transpose()?;
        let work = Work::begin(state, call).await?;
        let permit = load(work.tx(), call, scope, case_id, CaseAction::Read).await?;
        let items = (self.read)(work.tx(), &permit, after.as_ref(), page.page_size + 1).await?;
        work.commit().await?;
        // The one extra item fetched says whether there is a next page.
        paging::page(&secret, &binding, items, page.page_size, self.cursor_of)
    }
}

pub async fn notes(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    case_id: &CaseId,
    page: TimelinePage,
) -> AppResult<(Vec<Note>, Option<String>)> {
    let notes = Timeline {
        method: "ListNotes",
        // Each note shows the markings in force under its case's, and the call's entry records
        // the strictest of those it returns (the one extra note read ahead is not returned).
        read: async |tx: &Tx, permit: &CasePermit, after: Option<&TimelineCursor>, limit: u64| {
            let mut notes = repo::cases::notes(tx, permit, after, limit).await?;
            let case = &permit.case().markings;
            for note in &mut notes {
                note.markings = note.in_force(case);
            }
            // Only shared notes count: the entry is both agencies' auditors' to see, and an
            // internal note's code is its agency's alone.
            let shown = usize::try_from(limit.saturating_sub(1)).unwrap_or(usize::MAX);
            for note in notes.iter().take(shown) {
                if note.visibility == NoteVisibility::Shared {
                    call.touches_marked(note.markings.handling);
                }
            }
            Ok(notes)
        },
        cursor_of: |n: &Note| TimelineCursor {
            at: n.created_at.timestamp_micros(),
            id: n.id.to_string(),
        },
    };
    notes.page(state, call, scope, case_id, page).await
}

pub async fn events(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    case_id: &CaseId,
    page: TimelinePage,
) -> AppResult<(Vec<CaseEvent>, Option<String>)> {
    let events = Timeline {
        method: "ListCaseEvents",
        read: repo::cases::events,
        cursor_of: |e: &CaseEvent| TimelineCursor {
            at: e.at.timestamp_micros(),
            id: e.id.to_string(),
        },
    };
    events.page(state, call, scope, case_id, page).await
}

/// How many cases one pass of a timer (escalation, lapse) takes on; the next pass takes the rest.
pub(crate) const TIMER_BATCH: u64 = 200;

/// Records an ESCALATED event on every case still FILED past its acknowledge deadline, once per
/// case however many servers run this at once (the conditional update lets one of them win). Each
/// escalation is its own transaction with its own audit entry, made by the service itself.
pub async fn escalate_overdue(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now();
    let due = due_cases(state, now, async |tx: &Tx, now| {
        repo::cases::due_for_escalation(tx, &authz::service(), now, TIMER_BATCH).await
    })
    .await?;
    service_pass(
        state,
        "liaisond/escalate",
        due,
        // False when another server escalated it first, or it was acknowledged meanwhile.
        now,
        async |tx: &Tx, case: &Case, now| repo::cases::mark_escalated(tx, &case.id, now).await,
        |case, now| {
            let overdue_by = now - case.acknowledge_due_at;
            let mut escalation = event(case, EventKind::Escalated, EventActor::Service, now);
            escalation.from_status = Some(CaseStatus::Filed);
            escalation.to_status = Some(CaseStatus::Filed);
            escalation.reason = Some(format!(
                "not acknowledged within {} of filing (overdue by {} minutes)",
                match case.acknowledge_within {
                    w if w.num_minutes() % 60 == 0 => format!("{} hours", w.num_hours()),
                    w => format!("{} minutes", w.num_minutes()),
                },
                overdue_by.num_minutes()
            ));
            escalation
        },
    )
    .await
}
