//! Authorization: who may do what, in one place. Deny by default.
//!
//! Every rule of the service lives here, and every check hands out a capability value that only
//! this module can make (their fields are private). The repository's reads and the domain's moves
//! *take* those values, so code that did not pass a check cannot name the privileged operation:
//!
//! | capability        | made by              | who gets it                                  | what it opens |
//! |-------------------|----------------------|----------------------------------------------|---------------|
//! | [`CaseScope`]     | [`case_scope`]       | OFFICER or SUPERVISOR                        | queues, filing, watching; the cases of [`CaseScope::parts`] |
//! | [`CasePermit`]    | [`authorize`]        | whoever the scope admits, per [`CaseAction`] | one case's content, notes and timeline; a lifecycle move |
//! | [`AgencyAdmin`]   | [`agency_admin`]     | ADMIN                                        | the admin's own agency's users; channel proposals |
//! | [`ChannelPermit`] | [`channel_move`]     | an ADMIN of a party, per move                | one channel status change |
//! | [`TermPermit`]    | [`term_move`]        | an ADMIN of a party, per move                | one decision on a term of a channel's register |
//! | [`AuditScope`]    | [`auditor`]          | AUDITOR: their agency's entries              | audit log reads |
//! | [`StatsReader`]   | [`stats_reader`]     | SUPERVISOR or ANALYST                        | the figures of their agency's channels |
//! | [`Operator`]      | [`operator`]         | the operator at the database                 | first agencies and users; the whole audit log |
//! | [`Service`]       | [`service`]          | the service's own timers                     | escalating overdue cases |
//!
//! Case visibility is written once, as data: [`CaseScope::parts`] is a union of conjunctions of
//! equalities on a case's parties. The repository turns the parts into its SQL filter, and
//! [`CaseScope::admits`] evaluates the same parts in Rust, so the two cannot disagree.

use crate::error::{AppError, AppResult};
use crate::model::{
    AgencyId, Case, CaseEvent, CaseMove, CaseView, Channel, ChannelStatus, ChannelTerm, Note,
    Principal, Role, RoleChange, TermStatus, UserId,
};

pub const CASE_NOT_FOUND: AppError = AppError::NotFound("case not found");
pub const CHANNEL_NOT_FOUND: AppError = AppError::NotFound("channel not found");
pub const TERM_NOT_FOUND: AppError = AppError::NotFound("channel term not found");

/// Refuses a caller whose password an admin reset, until they change it (only ChangePassword is
/// open to them).
pub fn require_settled_password(principal: &Principal) -> AppResult<()> {
    if principal.must_change_password {
        return Err(AppError::FailedPrecondition(
            "your password was reset: change it with AuthService/ChangePassword first".into(),
        ));
    }
    Ok(())
}

fn require_role(principal: &Principal, role: Role) -> AppResult<()> {
    if principal.has(role) {
        Ok(())
    } else {
        Err(AppError::PermissionDenied(format!(
            "this call requires the {role} role"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Cases

/// A party of a case that a visibility rule compares with the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseParty {
    OriginatingAgency,
    ReceivingAgency,
    FiledBy,
    Assignee,
}

impl CaseParty {
    fn of(self, case: &Case) -> Option<&str> {
        match self {
            CaseParty::OriginatingAgency => Some(case.originating_agency_id.as_str()),
            CaseParty::ReceivingAgency => Some(case.receiving_agency_id.as_str()),
            CaseParty::FiledBy => Some(case.filed_by.as_str()),
            CaseParty::Assignee => case.assignee_id.as_deref(),
        }
    }
}

/// One part of a scope: cases whose every listed party is the given agency or user. A part that
/// reaches a case through its receiving side (its receiving agency, or its assignee) admits it
/// only once it is released: a referral held for release (PENDING_RELEASE, or withdrawn before
/// its release) is its originating agency's alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopePart(Vec<(CaseParty, String)>);

impl ScopePart {
    fn of(tests: &[(CaseParty, &str)]) -> Self {
        ScopePart(tests.iter().map(|(p, v)| (*p, v.to_string())).collect())
    }

    /// The equalities, all of which a case must meet.
    pub fn tests(&self) -> &[(CaseParty, String)] {
        &self.0
    }

    /// Whether the part admits only cases released to the receiving agency.
    pub fn released_only(&self) -> bool {
        self.0
            .iter()
            .any(|(party, _)| matches!(party, CaseParty::ReceivingAgency | CaseParty::Assignee))
    }

    pub fn admits(&self, case: &Case) -> bool {
        (!self.released_only() || case.is_released())
            && self
                .0
                .iter()
                .all(|(party, value)| party.of(case) == Some(value.as_str()))
    }
}

/// The cases a principal may see: the capability every case read starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseScope {
    principal: Principal,
    /// Every case of the agency.
    supervisor: bool,
    /// The cases the principal filed or is assigned.
    officer: bool,
}

/// The scope of case content the principal may read; refused for roles without case access.
pub fn case_scope(principal: &Principal) -> AppResult<CaseScope> {
    if !(principal.has(Role::Officer) || principal.has(Role::Supervisor)) {
        return Err(AppError::PermissionDenied(
            "case content requires the OFFICER or SUPERVISOR role".into(),
        ));
    }
    Ok(CaseScope {
        principal: principal.clone(),
        supervisor: principal.has(Role::Supervisor),
        officer: principal.has(Role::Officer),
    })
}

impl CaseScope {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn agency_id(&self) -> &AgencyId {
        &self.principal.agency_id
    }

    pub fn user_id(&self) -> &UserId {
        &self.principal.user_id
    }

    /// The cases of `view` the principal may see, as a union of parts, each answerable by one
    /// index in a queue's order. `CaseView::All` is the principal's whole visibility: a
    /// supervisor's agency's cases, filed or received, and an officer's own cases, filed or
    /// assigned (both, for someone who holds both roles).
    pub fn parts(&self, view: CaseView) -> Vec<ScopePart> {
        use CaseParty::{Assignee, FiledBy};
        use CaseParty::{OriginatingAgency as Outgoing, ReceivingAgency as Incoming};
        let (agency, user) = (self.agency_id(), self.user_id());
        let part = ScopePart::of;
        let mut parts = Vec::new();
        if self.supervisor {
            parts.extend(match view {
                CaseView::All => vec![part(&[(Outgoing, agency)]), part(&[(Incoming, agency)])],
                CaseView::Incoming => vec![part(&[(Incoming, agency)])],
                CaseView::Outgoing => vec![part(&[(Outgoing, agency)])],
                CaseView::AssignedToMe => vec![
                    part(&[(Assignee, user), (Outgoing, agency)]),
                    part(&[(Assignee, user), (Incoming, agency)]),
                ],
            });
        }
        if self.officer {
            parts.extend(match view {
                CaseView::All => vec![part(&[(FiledBy, user)]), part(&[(Assignee, user)])],
                CaseView::Incoming => vec![
                    part(&[(FiledBy, user), (Incoming, agency)]),
                    part(&[(Assignee, user), (Incoming, agency)]),
                ],
                CaseView::Outgoing => vec![
                    part(&[(FiledBy, user), (Outgoing, agency)]),
                    part(&[(Assignee, user), (Outgoing, agency)]),
                ],
                CaseView::AssignedToMe => vec![part(&[(Assignee, user)])],
            });
        }
        parts
    }

    /// Whether the principal may see `case` at all: the Rust reading of [`CaseScope::parts`].
    pub fn admits(&self, case: &Case) -> bool {
        self.parts(CaseView::All)
            .iter()
            .any(|part| part.admits(case))
    }
}

/// What a caller may do to a case they can see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAction {
    Read,
    AddNote,
    Acknowledge,
    Decline,
    Assign,
    RequestInformation,
    ProvideInformation,
    Close,
    Reopen,
    Withdraw,
    /// Changes the case's markings: the providing (originating) side's.
    Mark,
    /// Confirms or extends a preservation: the receiving side's.
    Preserve,
    /// Supersedes a preservation with the formal request: the requesting side's.
    Supersede,
    /// Asks for a PENDING_RELEASE referral's release: the originating side's.
    Release,
    /// Answers an item of a request: the receiving side's, as closing is.
    AnswerItem,
    /// Extends the answer's deadline: the receiving side's, who owe the answer.
    ExtendDeadline,
}

/// Who may do each action to a case they can see, as the service explains a refusal.
fn who_may(action: CaseAction) -> &'static str {
    match action {
        CaseAction::Read | CaseAction::AddNote => "whoever may see the case",
        CaseAction::Acknowledge => {
            "only a supervisor of the receiving agency may acknowledge a case"
        }
        CaseAction::Decline => "only a supervisor of the receiving agency may decline a case",
        CaseAction::Assign => "only a supervisor of the receiving agency may assign a case",
        CaseAction::Reopen => "only a supervisor of the receiving agency may reopen a case",
        CaseAction::RequestInformation => {
            "only the assignee or a receiving supervisor may request information"
        }
        CaseAction::Close => "only the assignee or a receiving supervisor may close a case",
        CaseAction::ProvideInformation => {
            "only the filer or an originating supervisor may provide information"
        }
        CaseAction::Withdraw => "only the filer or an originating supervisor may withdraw a case",
        CaseAction::Mark => {
            "only the providing agency may change a case's markings: its filer or an originating supervisor"
        }
        CaseAction::Preserve => {
            "only the assignee or a receiving supervisor may confirm or extend a preservation"
        }
        CaseAction::Supersede => {
            "only the filer or an originating supervisor may supersede a preservation"
        }
        CaseAction::Release => {
            "only the filer or an originating supervisor may ask for a referral's release"
        }
        CaseAction::AnswerItem => {
            "only the assignee or a receiving supervisor may answer the items of a request"
        }
        CaseAction::ExtendDeadline => {
            "only the assignee or a receiving supervisor may extend the answer's deadline"
        }
    }
}

fn allows(p: &Principal, case: &Case, action: CaseAction) -> bool {
    let receiving_supervisor = p.has(Role::Supervisor) && case.receiving_agency_id == p.agency_id;
    let originating_supervisor =
        p.has(Role::Supervisor) && case.originating_agency_id == p.agency_id;
    let assignee = p.has(Role::Officer) && case.assignee_id.as_deref() == Some(&p.user_id);
    let filer = p.has(Role::Officer) && case.filed_by == p.user_id;
    match action {
        CaseAction::Read | CaseAction::AddNote => true,
        CaseAction::Acknowledge | CaseAction::Decline | CaseAction::Assign | CaseAction::Reopen => {
            receiving_supervisor
        }
        CaseAction::RequestInformation
        | CaseAction::Close
        | CaseAction::Preserve
        | CaseAction::AnswerItem
        | CaseAction::ExtendDeadline => assignee || receiving_supervisor,
        CaseAction::ProvideInformation
        | CaseAction::Withdraw
        | CaseAction::Mark
        | CaseAction::Supersede
        | CaseAction::Release => filer || originating_supervisor,
    }
}

/// Whether the scope's principal may approve a proposed move: a supervisor of the agency that
/// makes it, and not the person who proposed it.
pub fn may_approve_move(scope: &CaseScope, m: &CaseMove) -> AppResult<()> {
    let p = scope.principal();
    if p.user_id == m.requested_by {
        return Err(AppError::PermissionDenied(
            "the approver cannot be the requester: another supervisor must approve the move".into(),
        ));
    }
    if !(p.has(Role::Supervisor) && p.agency_id == m.agency_id) {
        return Err(AppError::PermissionDenied(
            "only a supervisor of the agency that makes the move may approve it".into(),
        ));
    }
    Ok(())
}

/// Whether the scope's principal may reject a proposed move: a supervisor of its agency, or its
/// proposer (who withdraws it).
pub fn may_reject_move(scope: &CaseScope, m: &CaseMove) -> AppResult<()> {
    let p = scope.principal();
    let supervisor = p.has(Role::Supervisor) && p.agency_id == m.agency_id;
    if supervisor || p.user_id == m.requested_by {
        Ok(())
    } else {
        Err(AppError::PermissionDenied(
            "only a supervisor of the agency that makes the move, or its proposer, may reject it"
                .into(),
        ))
    }
}

/// Whether the holder of a permit on a note's case may change the note's markings: only the
/// note's provider may, that is its author or a supervisor of the author's agency.
pub fn may_mark_note(scope: &CaseScope, note: &Note) -> AppResult<()> {
    let p = scope.principal();
    let author = note.author_id == p.user_id;
    let author_supervisor = p.has(Role::Supervisor) && note.author_agency_id == p.agency_id;
    if author || author_supervisor {
        Ok(())
    } else {
        Err(AppError::PermissionDenied(
            "only the providing agency may change a note's markings: its author or a supervisor of the author's agency"
                .into(),
        ))
    }
}

/// A case as the repository read it, before anyone checked who may see it. Its content can be
/// reached only through [`authorize`]; what the audit log must record of a refused attempt (the
/// case's id and parties) is readable without it.
#[derive(Debug, Clone)]
pub struct Unchecked<T>(T);

impl<T> Unchecked<T> {
    pub fn new(value: T) -> Self {
        Unchecked(value)
    }
}

impl Unchecked<Case> {
    pub fn id(&self) -> &str {
        self.0.id.as_str()
    }

    /// The case's parties as the audit log records them: its originating and receiving
    /// agencies, or only the originating one while the referral is not released.
    pub fn parties(&self) -> (&str, &str) {
        let originating = self.0.originating_agency_id.as_str();
        if self.0.is_released() {
            (originating, self.0.receiving_agency_id.as_str())
        } else {
            (originating, originating)
        }
    }

    /// Whether `agency_id` may not even learn that the case exists: it is not released, and the
    /// agency is not its originator.
    pub fn hidden_from(&self, agency_id: &str) -> bool {
        !self.0.is_released() && self.0.originating_agency_id != agency_id
    }
}

impl Unchecked<CaseEvent> {
    pub fn case_id(&self) -> &str {
        self.0.case_id.as_str()
    }
}

/// Proof that a principal may do `action` to a case, with the case: the only way to its content.
#[derive(Debug)]
pub struct CasePermit {
    case: Case,
    action: CaseAction,
    reader_agency_id: String,
}

impl CasePermit {
    pub fn case(&self) -> &Case {
        &self.case
    }

    pub fn into_case(self) -> Case {
        self.case
    }

    pub fn case_id(&self) -> &str {
        self.case.id.as_str()
    }

    pub fn action(&self) -> CaseAction {
        self.action
    }

    /// The agency whose internal notes the holder may read along with the shared ones.
    pub fn reader_agency_id(&self) -> &str {
        &self.reader_agency_id
    }

    /// An event of this case, if its holder may read it: an event about an internal note is only
    /// for that note's agency.
    pub fn event(&self, event: Unchecked<CaseEvent>) -> Option<CaseEvent> {
        let Unchecked(event) = event;
        let internal_elsewhere = event
            .visible_to_agency_id
            .as_deref()
            .is_some_and(|agency| agency != self.reader_agency_id);
        (event.case_id == self.case.id && !internal_elsewhere).then_some(event)
    }
}

/// Checks that the scope's principal may do `action` to `case`: `NotFound` when they may not see
/// it at all, `PermissionDenied` when they see it but the action is not theirs.
pub fn authorize(
    scope: &CaseScope,
    case: Unchecked<Case>,
    action: CaseAction,
) -> AppResult<CasePermit> {
    let Unchecked(case) = case;
    if !scope.admits(&case) {
        return Err(CASE_NOT_FOUND);
    }
    if !allows(&scope.principal, &case, action) {
        return Err(AppError::PermissionDenied(who_may(action).to_string()));
    }
    Ok(CasePermit {
        case,
        action,
        reader_agency_id: scope.agency_id().to_string(),
    })
}

/// The service itself, acting on its own schedule (escalating cases nobody acknowledged): no
/// principal, and only the timer jobs ask for it.
#[derive(Debug)]
pub struct Service(());

pub fn service() -> Service {
    Service(())
}

// ---------------------------------------------------------------------------------------------
// Administration

/// An admin of one agency: manages that agency's users and its side of the channels, and sees no
/// other agency's users.
#[derive(Debug, Clone)]
pub struct AgencyAdmin {
    principal: Principal,
}

pub fn agency_admin(principal: &Principal) -> AppResult<AgencyAdmin> {
    require_role(principal, Role::Admin)?;
    Ok(AgencyAdmin {
        principal: principal.clone(),
    })
}

impl AgencyAdmin {
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The agency whose users this admin manages.
    pub fn agency_id(&self) -> &AgencyId {
        &self.principal.agency_id
    }

    /// Refuses the changes an admin may not make to their own account, so an agency can never be
    /// left without an admin by accident.
    pub fn may_change_self(
        &self,
        user_id: &str,
        disables: bool,
        drops_admin: bool,
    ) -> AppResult<()> {
        if user_id == self.principal.user_id && (disables || drops_admin) {
            return Err(AppError::FailedPrecondition(
                "admins cannot disable themselves or drop their own ADMIN role; ask another admin"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Refuses an approval of a role change by the admin who proposed it, or by the user whose
    /// roles it changes: four eyes means two people, neither of them the one who gains.
    pub fn may_approve(&self, change: &RoleChange) -> AppResult<()> {
        if change.requested_by == self.principal.user_id {
            return Err(AppError::PermissionDenied(
                "the approver cannot be the requester: another admin of the agency must approve"
                    .into(),
            ));
        }
        if change.user_id == self.principal.user_id {
            return Err(AppError::PermissionDenied(
                "the approver cannot be the user whose roles change: another admin of the agency must approve"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// Whether `agency_id` is a party to the channel: parties see it, everyone else is told it does not
/// exist.
pub fn channel_visible(channel: &Channel, agency_id: &str) -> bool {
    channel.has_party(agency_id)
}

/// Proof that an admin may move a channel to `to`.
#[derive(Debug)]
pub struct ChannelPermit {
    to: ChannelStatus,
}

impl ChannelPermit {
    pub fn to(&self) -> ChannelStatus {
        self.to
    }
}

/// Who may move a channel: the partner's admin approves a proposal, only the agency that suspended
/// a channel resumes it, either party's admin suspends. Whether the move itself is possible is the
/// lifecycle's question, asked after this one.
pub fn channel_move(
    admin: &AgencyAdmin,
    channel: &Channel,
    to: ChannelStatus,
) -> AppResult<ChannelPermit> {
    let ours = admin.agency_id();
    if !channel_visible(channel, ours) {
        return Err(CHANNEL_NOT_FOUND);
    }
    match (channel.status, to) {
        (ChannelStatus::Proposed, ChannelStatus::Active) if &channel.partner_agency_id != ours => {
            Err(AppError::PermissionDenied(
                "only an admin of the partner agency may approve a proposed channel".into(),
            ))
        }
        (ChannelStatus::Suspended, ChannelStatus::Active)
            if channel.suspended_by_agency_id.as_deref() != Some(ours) =>
        {
            Err(AppError::PermissionDenied(
                "only an admin of the agency that suspended a channel may resume it".into(),
            ))
        }
        _ => Ok(ChannelPermit { to }),
    }
}

/// What an admin may do to a term of a channel's register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermMove {
    Approve,
    Reject,
    Retire,
}

/// Proof that an admin may make one decision on a term: the status it moves the term to.
#[derive(Debug)]
pub struct TermPermit {
    to: TermStatus,
}

impl TermPermit {
    pub fn to(&self) -> TermStatus {
        self.to
    }
}

/// Who may decide a term of a channel both agencies are party to, as for the channel itself: the
/// other agency agrees or rejects a proposal, the proposing agency may only withdraw its own, and
/// either retires an agreed term. A term of a channel the admin's agency is no party to does not
/// exist for them. Whether the term is still in the status the move starts from is the domain's.
pub fn term_move(
    admin: &AgencyAdmin,
    channel: &Channel,
    term: &ChannelTerm,
    mv: TermMove,
) -> AppResult<TermPermit> {
    let ours = admin.agency_id();
    if !channel_visible(channel, ours) || term.channel_id != channel.id {
        return Err(TERM_NOT_FOUND);
    }
    let proposed_by_us = term.proposing_agency_id == *ours;
    let to = match mv {
        TermMove::Approve if proposed_by_us => {
            return Err(AppError::PermissionDenied(
                "only an admin of the other agency may agree a term your agency proposed".into(),
            ))
        }
        TermMove::Approve => TermStatus::Agreed,
        TermMove::Reject if proposed_by_us => TermStatus::Withdrawn,
        TermMove::Reject => TermStatus::Rejected,
        TermMove::Retire => TermStatus::Retired,
    };
    Ok(TermPermit { to })
}

// ---------------------------------------------------------------------------------------------
// The work plan's figures

/// A reader of the figures of the channels the caller's agency is a party to: a SUPERVISOR, or an
/// ANALYST (who sees figures and never a case).
#[derive(Debug, Clone)]
pub struct StatsReader {
    agency_id: AgencyId,
}

pub fn stats_reader(principal: &Principal) -> AppResult<StatsReader> {
    require_settled_password(principal)?;
    if !(principal.has(Role::Supervisor) || principal.has(Role::Analyst)) {
        return Err(AppError::PermissionDenied(
            "the figures are for supervisors and analysts (SUPERVISOR or ANALYST role)".into(),
        ));
    }
    Ok(StatsReader {
        agency_id: principal.agency_id.clone(),
    })
}

impl StatsReader {
    /// Whether the reader's agency is a party to the channel (else it is NOT_FOUND to them).
    pub fn may_read(&self, channel: &Channel) -> bool {
        channel_visible(channel, self.agency_id.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// The audit log

/// Which entries of the audit log a reader may see: an auditor, the entries whose actor belongs to
/// their agency or whose case has it as a party; the operator at the database, every entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditScope {
    agency_id: Option<String>,
    principal: Option<Principal>,
}

pub fn auditor(principal: &Principal) -> AppResult<AuditScope> {
    require_role(principal, Role::Auditor)?;
    Ok(AuditScope {
        agency_id: Some(principal.agency_id.to_string()),
        principal: Some(principal.clone()),
    })
}

/// The operator at the database: the commands that run with the database's own credentials
/// (`liaisond agency add`, `user add`, `audit export`), before or beside any signed-in user.
/// Whoever holds those credentials can read and write the tables anyway; the value names the
/// privilege where it is used.
#[derive(Debug)]
pub struct Operator(());

pub fn operator() -> Operator {
    Operator(())
}

impl Operator {
    /// The whole audit log.
    pub fn audit_scope(&self) -> AuditScope {
        AuditScope {
            agency_id: None,
            principal: None,
        }
    }
}

impl AuditScope {
    /// The agency whose entries may be read; `None` for the whole log.
    pub fn agency_id(&self) -> Option<&str> {
        self.agency_id.as_deref()
    }

    /// The auditor, when it is one (page tokens are bound to them).
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures::{self, principal};
    use crate::model::CaseStatus;

    fn case() -> Case {
        Case {
            assignee_id: Some("worker".into()),
            status: CaseStatus::InProgress,
            ..fixtures::case("IN", "CA", "filer")
        }
    }

    fn code(p: &Principal, action: CaseAction) -> tonic::Code {
        let checked =
            case_scope(p).and_then(|scope| authorize(&scope, Unchecked::new(case()), action));
        match checked {
            Ok(_) => tonic::Code::Ok,
            Err(e) => e.code(),
        }
    }

    #[test]
    fn the_role_table_holds() {
        use tonic::Code::{NotFound, Ok, PermissionDenied};
        let filer = principal("filer", "IN", &[Role::Officer]);
        let worker = principal("worker", "CA", &[Role::Officer]);
        let other_officer = principal("other", "CA", &[Role::Officer]);
        let recv_sup = principal("rs", "CA", &[Role::Supervisor]);
        let orig_sup = principal("os", "IN", &[Role::Supervisor]);
        let stranger_sup = principal("xs", "US", &[Role::Supervisor]);
        let admin = principal("ad", "CA", &[Role::Admin, Role::Auditor]);

        assert_eq!(code(&filer, CaseAction::Read), Ok);
        assert_eq!(code(&filer, CaseAction::Withdraw), Ok);
        assert_eq!(code(&filer, CaseAction::ProvideInformation), Ok);
        assert_eq!(code(&filer, CaseAction::Close), PermissionDenied);
        assert_eq!(code(&worker, CaseAction::Close), Ok);
        assert_eq!(code(&worker, CaseAction::RequestInformation), Ok);
        assert_eq!(code(&worker, CaseAction::Acknowledge), PermissionDenied);
        assert_eq!(code(&worker, CaseAction::Withdraw), PermissionDenied);
        assert_eq!(code(&other_officer, CaseAction::Read), NotFound);
        assert_eq!(code(&recv_sup, CaseAction::Acknowledge), Ok);
        assert_eq!(code(&recv_sup, CaseAction::Assign), Ok);
        assert_eq!(code(&recv_sup, CaseAction::Reopen), Ok);
        assert_eq!(code(&recv_sup, CaseAction::Withdraw), PermissionDenied);
        assert_eq!(code(&orig_sup, CaseAction::Withdraw), Ok);
        assert_eq!(code(&orig_sup, CaseAction::Acknowledge), PermissionDenied);
        assert_eq!(code(&filer, CaseAction::Mark), Ok);
        assert_eq!(code(&orig_sup, CaseAction::Mark), Ok);
        assert_eq!(code(&worker, CaseAction::Mark), PermissionDenied);
        assert_eq!(code(&recv_sup, CaseAction::Mark), PermissionDenied);
        assert_eq!(code(&stranger_sup, CaseAction::Read), NotFound);
        assert_eq!(code(&admin, CaseAction::Read), PermissionDenied);
    }

    /// Every role set, against cases of every shape the caller can stand in relation to.
    fn people_and_cases() -> (Vec<Principal>, Vec<Case>) {
        let roles = [Role::Officer, Role::Supervisor, Role::Auditor, Role::Admin];
        let mut people = Vec::new();
        for mask in 0u8..16 {
            let set: Vec<Role> = (0..4)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| roles[i])
                .collect();
            for agency in ["IN", "CA", "US"] {
                people.push(principal("me", agency, &set));
            }
        }
        let mut cases = Vec::new();
        for (originating, receiving) in [("IN", "CA"), ("CA", "IN"), ("US", "IN")] {
            for filed_by in ["me", "someone"] {
                for assignee in [None, Some("me"), Some("someone")] {
                    let mut c = case();
                    c.originating_agency_id = originating.into();
                    c.receiving_agency_id = receiving.into();
                    c.filed_by = filed_by.into();
                    c.assignee_id = assignee.map(str::to_string).map(UserId::from);
                    cases.push(c);
                }
            }
        }
        (people, cases)
    }

    /// The visibility rule as the README states it, written independently of the parts.
    fn stated_rule(p: &Principal, c: &Case) -> bool {
        let supervisor = p.has(Role::Supervisor)
            && (c.originating_agency_id == p.agency_id || c.receiving_agency_id == p.agency_id);
        let officer = p.has(Role::Officer)
            && (c.filed_by == p.user_id || c.assignee_id.as_deref() == Some(&p.user_id));
        supervisor || officer
    }

    #[test]
    fn every_view_stays_inside_the_visibility_and_the_visibility_is_the_stated_rule() {
        let (people, cases) = people_and_cases();
        for p in &people {
            let Ok(scope) = case_scope(p) else {
                assert!(!p.has(Role::Officer) && !p.has(Role::Supervisor));
                continue;
            };
            for c in &cases {
                assert_eq!(scope.admits(c), stated_rule(p, c), "{p:?} / {c:?}");
                for view in [
                    CaseView::Incoming,
                    CaseView::Outgoing,
                    CaseView::AssignedToMe,
                ] {
                    let in_view = scope.parts(view).iter().any(|part| part.admits(c));
                    assert!(!in_view || scope.admits(c), "{view:?} leaks {c:?} to {p:?}");
                    let expected = scope.admits(c)
                        && match view {
                            CaseView::Incoming => c.receiving_agency_id == p.agency_id,
                            CaseView::Outgoing => c.originating_agency_id == p.agency_id,
                            CaseView::AssignedToMe => c.assignee_id.as_deref() == Some("me"),
                            CaseView::All => true,
                        };
                    assert_eq!(in_view, expected, "{view:?} of {p:?} on {c:?}");
                }
            }
        }
    }

    #[test]
    fn channel_moves_follow_who_proposed_and_who_suspended() {
        let t = crate::clock::from_micros(0);
        let channel = |status, suspended_by: Option<&str>| Channel {
            id: "ch".into(),
            proposing_agency_id: "IN".into(),
            partner_agency_id: "CA".into(),
            categories: crate::model::Categories::default(),
            status,
            proposed_by: "a".into(),
            approved_by: None,
            suspended_by_agency_id: suspended_by.map(str::to_string).map(AgencyId::from),
            created_at: t,
            updated_at: t,
            version: 1,
        };
        let admin_of = |agency| agency_admin(&principal("ad", agency, &[Role::Admin])).unwrap();
        let code = |admin: &AgencyAdmin, c: &Channel, to| {
            channel_move(admin, c, to).map_or_else(|e| e.code(), |_| tonic::Code::Ok)
        };
        use tonic::Code::{NotFound, Ok, PermissionDenied};
        let proposed = channel(ChannelStatus::Proposed, None);
        assert_eq!(code(&admin_of("CA"), &proposed, ChannelStatus::Active), Ok);
        assert_eq!(
            code(&admin_of("IN"), &proposed, ChannelStatus::Active),
            PermissionDenied
        );
        assert_eq!(
            code(&admin_of("US"), &proposed, ChannelStatus::Active),
            NotFound
        );
        let suspended = channel(ChannelStatus::Suspended, Some("IN"));
        assert_eq!(code(&admin_of("IN"), &suspended, ChannelStatus::Active), Ok);
        assert_eq!(
            code(&admin_of("CA"), &suspended, ChannelStatus::Active),
            PermissionDenied
        );
        let active = channel(ChannelStatus::Active, None);
        assert_eq!(code(&admin_of("CA"), &active, ChannelStatus::Suspended), Ok);
        assert_eq!(code(&admin_of("IN"), &active, ChannelStatus::Suspended), Ok);
        assert!(agency_admin(&principal("o", "IN", &[Role::Officer])).is_err());
    }
}
