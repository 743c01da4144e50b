//! Four eyes on the moves that carry diplomatic weight. Where a rule of the case's channel asks
//! for it, releasing an outgoing referral, declining, closing with NO_ACTION and relaxing a
//! case's markings are proposed by one person and made only when another supervisor of the same
//! agency approves. A proposal lapses unanswered after [`MOVE_TTL`]; its steps are timeline events
//! only that agency sees (the other side sees the move itself once it is made).

use std::collections::HashMap;

use crate::authz::{self, CaseAction, CaseScope};
use crate::domain::call::{Call, Work};
use crate::domain::cases::{self, event};
use crate::domain::lifecycle::{self, Move};
use crate::domain::{markings, terms};
use crate::error::{AppError, AppResult};
use crate::model::{
    Case, CaseId, CaseMove, CaseStatus, ChannelStatus, Decided, EventKind, Markings, MoveAction,
    MoveId, MoveStatus, Note, NoteId, Principal, RefusalGround, Resolution, Role, Timestamp,
};
use crate::repo::moves::MoveQuery;
use crate::repo::{self};
use crate::state::AppState;

/// How long a proposal waits for a second supervisor.
pub const MOVE_TTL: chrono::Duration = chrono::Duration::hours(72);

pub const MOVE_NOT_FOUND: AppError = AppError::NotFound("case move not found");

/// A move as it is proposed: what it needs to be made later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub action: MoveAction,
    pub reason: Option<String>,
    pub ground: Option<RefusalGround>,
    pub markings: Option<Markings>,
    /// For RELAX_NOTE_MARKING: the note.
    pub note_id: Option<NoteId>,
}

/// A move with the reference of its case, as listings show it.
#[derive(Debug, Clone)]
pub struct MoveView {
    pub case_move: CaseMove,
    pub case_reference: String,
}

/// What a proposer or an approver must be allowed to do to the case.
fn case_action(action: MoveAction) -> CaseAction {
    match action {
        MoveAction::Release => CaseAction::Release,
        MoveAction::Decline => CaseAction::Decline,
        MoveAction::CloseNoAction => CaseAction::Close,
        MoveAction::RelaxMarking => CaseAction::Mark,
        // Who may mark a note is the note's question (its provider), asked of the note.
        MoveAction::RelaxNoteMarking => CaseAction::Read,
    }
}

/// The lifecycle move an action makes (none for a relaxation, which changes markings).
fn lifecycle_move(m: &CaseMove) -> Option<Move> {
    match m.action {
        MoveAction::Release => Some(Move::Release),
        MoveAction::Decline => Some(Move::Decline {
            reason: m.reason.clone().unwrap_or_default(),
            ground: m.ground,
        }),
        MoveAction::CloseNoAction => Some(Move::Close {
            resolution: Resolution::NoAction,
        }),
        MoveAction::RelaxMarking | MoveAction::RelaxNoteMarking => None,
    }
}

fn new_move(case: &Case, p: &Principal, proposal: Proposal, now: Timestamp) -> CaseMove {
    CaseMove {
        id: MoveId::generate(),
        case_id: case.id.clone(),
        action: proposal.action,
        agency_id: p.agency_id.clone(),
        requested_by: p.user_id.clone(),
        requested_at: now,
        expires_at: now + MOVE_TTL,
        status: MoveStatus::Pending,
        reason: proposal.reason,
        ground: proposal.ground,
        markings: proposal.markings,
        decision: None,
        case_version: Some(case.version),
        note_id: proposal.note_id,
    }
}

/// Stores a proposal and its MOVE_PROPOSED event, seen only by the agency that makes the move.
async fn record_proposal(work: &mut Work<'_>, case: &Case, m: &CaseMove) -> AppResult<()> {
    repo::moves::expire_lapsed(work.tx(), &case.id, m.action, m.requested_at).await?;
    repo::moves::insert(work.tx(), m).await?;
    let actor = crate::model::EventActor::User {
        id: m.requested_by.as_str(),
        agency_id: m.agency_id.as_str(),
    };
    let mut ev = event(case, EventKind::MoveProposed, actor, m.requested_at);
    ev.visible_to_agency_id = Some(m.agency_id.clone());
    ev.move_id = Some(m.id.clone());
    ev.reason = Some(match &m.reason {
        Some(reason) => format!("{}: {reason}", m.action),
        None => m.action.to_string(),
    });
    work.record_event(ev);
    Ok(())
}

/// The RELEASE a filing under FOUR_EYES_RELEASE proposes itself, in the filing's work.
pub(crate) async fn propose_release(
    work: &mut Work<'_>,
    case: &Case,
    filer: &Principal,
    now: Timestamp,
) -> AppResult<()> {
    let proposal = Proposal {
        action: MoveAction::Release,
        reason: None,
        ground: None,
        markings: None,
        note_id: None,
    };
    record_proposal(work, case, &new_move(case, filer, proposal, now)).await
}

/// Proposes a move a rule of the case's channel puts under four eyes, by someone who may make
/// it, on the case at the version they saw. Refused when no rule asks for it, when the case could
/// not take the move now, or while the same move of the case awaits a decision.
pub async fn propose(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    case_id: &CaseId,
    etag: &str,
    proposal: Proposal,
) -> AppResult<MoveView> {
    let mut work = Work::begin(state, call).await?;
    let permit = cases::load(
        work.tx(),
        call,
        scope,
        case_id,
        case_action(proposal.action),
    )
    .await?;
    let case = permit.case();
    // The other side learns nothing of a move until it is made.
    call.concerns_case_within(case, scope.agency_id().as_str());
    if case.etag() != etag {
        return Err(AppError::Aborted(
            "the case changed since it was read (stale etag); read it again".into(),
        ));
    }
    let rules = terms::rules_in_force(work.tx(), &case.channel_id).await?;
    let rule = proposal.action.rule();
    // A held referral may always be put up for release again, even once the rule is retired:
    // there is no other way out for it but withdrawal.
    let held = proposal.action == MoveAction::Release && case.status == CaseStatus::PendingRelease;
    if !rules.contains(rule) && !held {
        return Err(AppError::FailedPrecondition(format!(
            "no rule of the channel puts {} under four eyes (it has no {rule}): make the move \
             directly",
            proposal.action
        )));
    }
    let now = state.clock.now();
    let m = new_move(case, scope.principal(), proposal, now);
    // The move must be one the case could take now; it is checked again when approved.
    match lifecycle_move(&m) {
        Some(mv) => {
            cases::check_ground(&rules, &mv)?;
            lifecycle::apply(&permit, &mv, now)?;
        }
        None => {
            let new = m
                .markings
                .as_ref()
                .ok_or_else(|| AppError::invalid("markings", "is required to relax markings"))?;
            call.touches_marked(new.handling);
            let before = match &m.note_id {
                None => case.markings.clone(),
                Some(note_id) => {
                    let note = note_of(work.tx(), &permit, scope, note_id).await?;
                    markings::check_note_under_case(new, &case.markings)?;
                    note.markings
                }
            };
            let relaxes = markings::check_change(&before, new, m.reason.as_deref())?;
            if !relaxes {
                return Err(AppError::FailedPrecondition(
                    "these markings relax nothing: change them directly (UpdateCaseMarkings, \
                     UpdateNoteMarkings)"
                        .into(),
                ));
            }
        }
    }
    let waiting =
        repo::moves::pending_for(work.tx(), &case.id, m.action, m.note_id.as_ref(), now).await?;
    if let Some(waiting) = waiting {
        return Err(AppError::FailedPrecondition(format!(
            "a {} of this case already awaits a decision ({}): approve or reject it, or let it \
             lapse at {}",
            m.action,
            waiting.id,
            waiting.expires_at.to_rfc3339()
        )));
    }
    let case = case.clone();
    record_proposal(&mut work, &case, &m).await?;
    work.commit().await?;
    Ok(MoveView {
        case_move: m,
        case_reference: case.reference,
    })
}

/// The note a relaxation is about, as the caller may read it, if the caller may change its
/// markings (its provider: its author, or a supervisor of the author's agency).
async fn note_of(
    tx: &crate::repo::Tx,
    permit: &crate::authz::CasePermit,
    scope: &CaseScope,
    note_id: &NoteId,
) -> AppResult<Note> {
    let note = repo::cases::find_note(tx, permit, note_id)
        .await?
        .ok_or(cases::NOTE_NOT_FOUND)?;
    authz::may_mark_note(scope, &note)?;
    Ok(note)
}

/// Which of the agency's moves a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveListing {
    /// PENDING moves the caller may approve: a supervisor's, proposed by someone else.
    AwaitingMe,
    ProposedByMe,
    All,
}

/// The moves of the caller's agency on cases the caller may see, newest first, at most 1,000.
pub async fn list(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    listing: MoveListing,
    case_id: Option<&CaseId>,
    include_decided: bool,
) -> AppResult<Vec<MoveView>> {
    let work = Work::begin(state, call).await?;
    let p = scope.principal();
    let now = state.clock.now();
    let case_id = match case_id {
        Some(id) => {
            let case = cases::load(work.tx(), call, scope, id, CaseAction::Read)
                .await?
                .into_case();
            call.concerns_case_within(&case, p.agency_id.as_str());
            Some(case.id)
        }
        None => None,
    };
    if listing == MoveListing::AwaitingMe && !p.has(Role::Supervisor) {
        // Only supervisors approve: nothing awaits anyone else.
        work.commit().await?;
        return Ok(Vec::new());
    }
    let query = MoveQuery {
        case_id,
        requested_by: (listing == MoveListing::ProposedByMe).then(|| p.user_id.clone()),
        not_requested_by: (listing == MoveListing::AwaitingMe).then(|| p.user_id.clone()),
        pending_at: (listing == MoveListing::AwaitingMe || !include_decided).then_some(now),
        limit: 1000,
    };
    let found = repo::moves::list(work.tx(), &p.agency_id, &query).await?;
    let mut ids: Vec<String> = found.iter().map(|m| m.case_id.to_string()).collect();
    ids.sort();
    ids.dedup();
    // Only the moves of cases the caller may read, each with its case's reference.
    let visible: HashMap<String, Case> = repo::cases::find_many(work.tx(), &ids)
        .await?
        .into_iter()
        .filter_map(|case| authz::authorize(scope, case, CaseAction::Read).ok())
        .map(|permit| {
            let case = permit.into_case();
            (case.id.to_string(), case)
        })
        .collect();
    work.commit().await?;
    Ok(found
        .into_iter()
        .filter_map(|m| {
            let case = visible.get(m.case_id.as_str())?;
            Some(MoveView {
                case_reference: case.reference.clone(),
                case_move: m,
            })
        })
        .collect())
}

/// A decision on a proposed move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// Approves (and makes) or rejects a move still PENDING. The approver is a supervisor of the
/// agency that makes it, never its proposer; its proposer may reject (withdraw) it.
pub async fn decide(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    id: &MoveId,
    decision: Decision,
    reason: Option<String>,
) -> AppResult<MoveView> {
    let mut work = Work::begin(state, call).await?;
    call.concerns("case-move", id);
    let mut m = repo::moves::find_of_agency(work.tx(), scope.agency_id(), id)
        .await?
        .ok_or(MOVE_NOT_FOUND)?;
    // The case is read first, so that a move of a case the caller may not see is not found.
    let read = cases::load(work.tx(), call, scope, &m.case_id, CaseAction::Read).await?;
    let now = state.clock.now();
    match m.status_at(now) {
        MoveStatus::Pending => {}
        status => {
            return Err(AppError::FailedPrecondition(format!(
                "the move is {status}; only a PENDING one can be decided"
            )))
        }
    }
    let actor = scope.principal().as_actor();
    let decided_kind = match decision {
        Decision::Approve => {
            authz::may_approve_move(scope, &m)?;
            EventKind::MoveApproved
        }
        Decision::Reject => {
            authz::may_reject_move(scope, &m)?;
            // The other side learns nothing of a move that is not made.
            call.concerns_case_within(read.case(), m.agency_id.as_str());
            if reason.is_none() && m.requested_by != *scope.user_id() {
                return Err(AppError::invalid(
                    "reason",
                    "is required to reject someone else's proposal: say why, for its proposer",
                ));
            }
            EventKind::MoveRejected
        }
    };
    let case = read.into_case();
    let mut decided = event(&case, decided_kind, actor, now);
    decided.visible_to_agency_id = Some(m.agency_id.clone());
    decided.move_id = Some(m.id.clone());
    decided.reason = reason.clone();
    work.record_event(decided);
    if decision == Decision::Approve {
        // Made as the approver, who must be allowed to make it, on the case as it is now.
        let permit = cases::load(work.tx(), call, scope, &m.case_id, case_action(m.action)).await?;
        // Approved is what was proposed: on the case as it was then.
        if m.case_version.is_some_and(|v| v != permit.case().version) {
            return Err(AppError::FailedPrecondition(
                "the case changed since the move was proposed: reject it, and propose it again \
                 on the case as it is now"
                    .into(),
            ));
        }
        if m.action == MoveAction::Release {
            let channel = repo::channels::find(work.tx(), &permit.case().channel_id)
                .await?
                .ok_or_else(|| AppError::internal("a case's channel is missing"))?;
            if channel.status != ChannelStatus::Active {
                return Err(AppError::FailedPrecondition(format!(
                    "the channel is {}: a referral is released only onto an ACTIVE channel",
                    channel.status
                )));
            }
        }
        match (lifecycle_move(&m), m.note_id.clone()) {
            (Some(mv), _) => {
                cases::make_move(&mut work, &permit, actor, &mv).await?;
            }
            (None, Some(note_id)) => {
                let new = m
                    .markings
                    .clone()
                    .ok_or_else(|| AppError::internal("a relaxation without markings"))?;
                call.touches_marked(new.handling);
                let note = note_of(work.tx(), &permit, scope, &note_id).await?;
                markings::check_note_under_case(&new, &permit.case().markings)?;
                if !markings::check_change(&note.markings, &new, m.reason.as_deref())? {
                    return Err(AppError::FailedPrecondition(
                        "the note's markings changed since the relaxation was proposed, and it \
                         no longer relaxes them: reject it"
                            .into(),
                    ));
                }
                let case = permit.case().clone();
                cases::set_note_markings(&mut work, &case, &note, new, m.reason.clone(), actor)
                    .await?;
            }
            (None, None) => {
                let new = m
                    .markings
                    .clone()
                    .ok_or_else(|| AppError::internal("a relaxation without markings"))?;
                call.touches_marked(new.handling);
                if !markings::check_change(&permit.case().markings, &new, m.reason.as_deref())? {
                    return Err(AppError::FailedPrecondition(
                        "the case's markings changed since the relaxation was proposed, and it \
                         no longer relaxes them: reject it"
                            .into(),
                    ));
                }
                cases::set_markings(&mut work, &permit, actor, new, m.reason.clone()).await?;
            }
        }
    }
    m.status = match decision {
        Decision::Approve => MoveStatus::Approved,
        Decision::Reject => MoveStatus::Rejected,
    };
    m.decision = Some(Decided {
        by: scope.user_id().clone(),
        at: now,
        reason,
    });
    if !repo::moves::decide(work.tx(), &m).await? {
        return Err(AppError::Aborted(
            "the move was decided meanwhile; read it again".into(),
        ));
    }
    work.commit().await?;
    Ok(MoveView {
        case_move: m,
        case_reference: case.reference,
    })
}
