//! The register each channel's agencies agree, as they agree the channel: one agency's admin
//! proposes a term (a legal basis), the other's agrees or rejects it, the proposer may withdraw
//! it, and either retires an agreed one. Filing reads it: a request cites an agreed basis.

use crate::authz::{self, AgencyAdmin, TermMove, CHANNEL_NOT_FOUND, TERM_NOT_FOUND};
use crate::domain::call::{Call, Work};
use crate::error::{AppError, AppResult};
use crate::model::{
    CategoryCode, Channel, ChannelId, ChannelTerm, DeadlineTerm, Decided, Principal, RequestKind,
    Rule, Rules, TermId, TermKind, TermStatus,
};
use crate::repo::{self, Tx};
use crate::state::AppState;

/// A term as an admin proposes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTerm {
    pub kind: TermKind,
    pub code: String,
    pub title: String,
    pub reference: Option<String>,
    pub notes: Option<String>,
    /// For a DEADLINE: its window, or DUE_SOON's share.
    pub span: Option<chrono::Duration>,
    pub percent: Option<i16>,
}

/// The channel, if `p`'s agency is a party to it.
async fn channel(tx: &Tx, p: &Principal, id: &ChannelId) -> AppResult<Channel> {
    repo::channels::find(tx, id)
        .await?
        .filter(|c| authz::channel_visible(c, p.agency_id.as_str()))
        .ok_or(CHANNEL_NOT_FOUND)
}

pub async fn propose(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    channel_id: &ChannelId,
    new: NewTerm,
) -> AppResult<ChannelTerm> {
    let work = Work::begin(state, call).await?;
    call.concerns("channel", channel_id);
    let channel = channel(work.tx(), admin.principal(), channel_id).await?;
    check_new(&new)?;
    // A DEADLINE is proposed while the one it replaces is in force; any other term's code is
    // live once at a time.
    if new.kind != TermKind::Deadline
        && repo::terms::find_live(
            work.tx(),
            &channel.id,
            new.kind,
            &new.code,
            TermStatus::Agreed,
        )
        .await?
        .is_some()
    {
        return Err(AppError::AlreadyExists(format!(
            "the channel already has an agreed {} with the code {}",
            new.kind, new.code
        )));
    }
    if new.kind == TermKind::Category && channel.approved_by.is_none() {
        return Err(AppError::FailedPrecondition(
            "a proposed channel's categories are those it was proposed with: propose others once \
             it is approved"
                .into(),
        ));
    }
    let term = ChannelTerm {
        id: TermId::generate(),
        channel_id: channel.id,
        kind: new.kind,
        code: new.code,
        title: new.title,
        reference: new.reference,
        notes: new.notes,
        status: TermStatus::Proposed,
        proposing_agency_id: admin.agency_id().clone(),
        proposed_by: admin.principal().user_id.clone(),
        proposed_at: state.clock.now(),
        decision: None,
        retirement: None,
        span: new.span,
        percent: new.percent,
    };
    call.concerns("channel-term", term.id.as_str());
    repo::terms::insert(work.tx(), &term).await?;
    work.commit().await?;
    Ok(term)
}

/// Agrees, rejects (or withdraws), or retires a term; `reason` goes on the record. Each move
/// starts from one status and is written only if the term is still in it.
pub async fn decide(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    id: &TermId,
    mv: TermMove,
    reason: Option<String>,
) -> AppResult<ChannelTerm> {
    let work = Work::begin(state, call).await?;
    let tx = work.tx();
    call.concerns("channel-term", id);
    let term = repo::terms::find(tx, id).await?.ok_or(TERM_NOT_FOUND)?;
    let channel = repo::channels::find(tx, &term.channel_id)
        .await?
        .ok_or(TERM_NOT_FOUND)?;
    let permit = authz::term_move(admin, &channel, &term, mv)?;
    let from = match mv {
        TermMove::Approve | TermMove::Reject => TermStatus::Proposed,
        TermMove::Retire => TermStatus::Agreed,
    };
    if term.status != from {
        return Err(AppError::FailedPrecondition(format!(
            "the term is {}; only a {from} term can be {}",
            term.status,
            match mv {
                TermMove::Approve => "agreed",
                TermMove::Reject => "rejected or withdrawn",
                TermMove::Retire => "retired",
            }
        )));
    }
    let mut next = term.clone();
    next.status = permit.to();
    let decided = Decided {
        by: admin.principal().user_id.clone(),
        at: state.clock.now(),
        reason,
    };
    // An agreed DEADLINE replaces the one in force: it is retired in the same transaction.
    if mv == TermMove::Approve && term.kind == TermKind::Deadline {
        let old = repo::terms::find_live(
            tx,
            &term.channel_id,
            term.kind,
            &term.code,
            TermStatus::Agreed,
        )
        .await?;
        if let Some(mut old) = old {
            call.concerns("channel-term", old.id.as_str());
            old.status = TermStatus::Retired;
            old.retirement = Some(Decided {
                by: decided.by.clone(),
                at: decided.at,
                reason: Some(format!("replaced by {}", term.id)),
            });
            if !repo::terms::update_status(tx, &old, TermStatus::Agreed).await? {
                return Err(AppError::Aborted(
                    "the term in force was retired meanwhile; try again".into(),
                ));
            }
        }
    }
    match mv {
        TermMove::Approve | TermMove::Reject => next.decision = Some(decided),
        TermMove::Retire => next.retirement = Some(decided),
    }
    if !repo::terms::update_status(tx, &next, from).await? {
        return Err(AppError::Aborted(
            "the term was decided meanwhile; read it again".into(),
        ));
    }
    work.commit().await?;
    Ok(next)
}

/// A channel's register, as every user of either agency may read it: the terms in force, or all.
pub async fn list(
    state: &AppState,
    call: &Call,
    p: &Principal,
    channel_id: &ChannelId,
    kind: Option<TermKind>,
    include_inactive: bool,
) -> AppResult<Vec<ChannelTerm>> {
    let work = Work::begin(state, call).await?;
    call.concerns("channel", channel_id);
    let channel = channel(work.tx(), p, channel_id).await?;
    let terms = repo::terms::list(work.tx(), &channel.id, kind, !include_inactive).await?;
    work.commit().await?;
    Ok(terms)
}

/// The legal basis a filing of `kind` on `channel` cites, checked against the channel's register:
/// one of its agreed bases when it names one, and one is required of a REQUEST or PRESERVATION
/// once the channel agreed any (a channel that agreed none yet, as every channel from before the
/// register, takes requests without). Refusals name the bases that would do.
pub async fn cited_basis(
    tx: &Tx,
    channel: &ChannelId,
    kind: RequestKind,
    cited: Option<&TermId>,
) -> AppResult<Option<TermId>> {
    let agreed = repo::terms::list(tx, channel, Some(TermKind::LegalBasis), true).await?;
    let listed = || {
        agreed
            .iter()
            .map(|t| format!("{} ({})", t.code, t.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match cited {
        Some(id) if agreed.iter().any(|t| t.id == *id) => Ok(Some(id.clone())),
        Some(_) if agreed.is_empty() => Err(AppError::invalid(
            "legal_basis_id",
            "names no legal basis agreed on this channel: the channel has agreed none",
        )),
        Some(_) => Err(AppError::invalid(
            "legal_basis_id",
            format!(
                "names no legal basis in force on this channel; in force: {}",
                listed()
            ),
        )),
        None if kind == RequestKind::Spontaneous || agreed.is_empty() => Ok(None),
        None => Err(AppError::invalid(
            "legal_basis_id",
            format!(
                "is required of a {kind}: cite one of the legal bases agreed on this channel: {}",
                listed()
            ),
        )),
    }
}

/// The rules in force on a channel.
pub async fn rules_in_force(tx: &Tx, channel: &ChannelId) -> AppResult<Rules> {
    Ok(repo::terms::list(tx, channel, Some(TermKind::Rule), true)
        .await?
        .iter()
        .filter_map(|t| Rule::from_name(&t.code))
        .collect())
}

/// The categories a channel covers: its CATEGORY terms in force.
pub async fn categories_in_force(tx: &Tx, channel: &ChannelId) -> AppResult<Vec<CategoryCode>> {
    Ok(
        repo::terms::list(tx, channel, Some(TermKind::Category), true)
            .await?
            .iter()
            .filter_map(|t| CategoryCode::parse(&t.code))
            .collect(),
    )
}

/// Checks what a term of its kind must be: a rule is one of the rules the service knows, a
/// category's code can stand inside a case's reference.
pub fn check_new(new: &NewTerm) -> AppResult<()> {
    if new.kind == TermKind::Category && CategoryCode::parse(&new.code).is_none() {
        return Err(AppError::invalid(
            "code",
            "a CATEGORY is 2 to 32 of A-Z and '_', beginning with a letter (like \
             ORGANISED_CRIME): it stands inside case references",
        ));
    }
    if new.kind == TermKind::Deadline {
        return check_deadline(new);
    }
    if new.span.is_some() || new.percent.is_some() {
        return Err(AppError::invalid(
            if new.span.is_some() {
                "duration"
            } else {
                "percent"
            },
            format!("is only for a DEADLINE term, not a {}", new.kind),
        ));
    }
    if new.kind == TermKind::Rule && Rule::from_name(&new.code).is_none() {
        return Err(AppError::invalid(
            "code",
            format!(
                "a RULE is one of {}",
                Rule::ALL
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// A DEADLINE's code names a deadline the service keeps, and it carries a sane value: a window
/// within the deadline's bounds, or for DUE_SOON a share from 50 to 95 %.
fn check_deadline(new: &NewTerm) -> AppResult<()> {
    let Some(deadline) = DeadlineTerm::parse(&new.code) else {
        return Err(AppError::invalid(
            "code",
            "a DEADLINE is ACKNOWLEDGE_<PRIORITY>, ANSWER_REQUEST_<PRIORITY>, \
             ANSWER_PRESERVATION_<PRIORITY> (ROUTINE, PRIORITY or URGENT) or DUE_SOON",
        ));
    };
    match (deadline, new.span, new.percent) {
        (DeadlineTerm::DueSoon, None, Some(p)) if (50..=95).contains(&p) => Ok(()),
        (DeadlineTerm::DueSoon, None, _) => Err(AppError::invalid(
            "percent",
            "must be from 50 to 95: the share of a window after which it is due soon",
        )),
        (DeadlineTerm::DueSoon, Some(_), _) => Err(AppError::invalid(
            "duration",
            "is not for DUE_SOON, which takes a percent",
        )),
        (_, _, Some(_)) => Err(AppError::invalid(
            "percent",
            "is only for DUE_SOON; a window takes a duration",
        )),
        (d, span, None) => {
            let (min, max) = d.bounds();
            match span {
                Some(s) if s >= min && s <= max => Ok(()),
                _ => Err(AppError::invalid(
                    "duration",
                    format!(
                        "must be set, from {} minutes to {} days",
                        min.num_minutes(),
                        max.num_days()
                    ),
                )),
            }
        }
    }
}

/// The windows a channel's DEADLINE terms in force set, over the service's defaults.
pub async fn deadlines_in_force(tx: &Tx, channel: &ChannelId) -> AppResult<Vec<ChannelTerm>> {
    repo::terms::list(tx, channel, Some(TermKind::Deadline), true).await
}
