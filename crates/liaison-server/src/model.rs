//! The vocabulary of the service: roles, categories, statuses and the records the rules work on.
//! Each enum has a stable small-integer code, used both on the wire and in the database.

use std::fmt;

pub use crate::ids::{
    AgencyId, CaseId, ChannelId, EventId, MoveId, NoteId, SessionId, TermId, UserId,
};

/// Defines a closed enum with stable integer codes and names.
macro_rules! coded_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:literal => $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn code(self) -> i16 {
                match self { $($name::$variant => $code),+ }
            }

            pub fn from_code(code: i64) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

coded_enum!(Role {
    Officer = 1 => "OFFICER",
    Supervisor = 2 => "SUPERVISOR",
    Auditor = 3 => "AUDITOR",
    Admin = 4 => "ADMIN",
    // Reads the work plan's figures of the agency's channels; never case content.
    Analyst = 5 => "ANALYST",
});

coded_enum!(Category {
    Drugs = 1 => "DRUGS",
    Fraud = 2 => "FRAUD",
    Cyber = 3 => "CYBER",
});

coded_enum!(Priority {
    Routine = 1 => "ROUTINE",
    Priority = 2 => "PRIORITY",
    Urgent = 3 => "URGENT",
});

coded_enum!(CaseStatus {
    Filed = 1 => "FILED",
    Acknowledged = 2 => "ACKNOWLEDGED",
    Declined = 3 => "DECLINED",
    InProgress = 4 => "IN_PROGRESS",
    AwaitingInfo = 5 => "AWAITING_INFO",
    Closed = 6 => "CLOSED",
    Withdrawn = 7 => "WITHDRAWN",
    // Filed on a channel whose rules make a second supervisor release each outgoing referral:
    // only the originating agency sees it until then.
    PendingRelease = 8 => "PENDING_RELEASE",
});

coded_enum!(Resolution {
    Actioned = 1 => "ACTIONED",
    NoAction = 2 => "NO_ACTION",
    ReferredElsewhere = 3 => "REFERRED_ELSEWHERE",
    Duplicate = 4 => "DUPLICATE",
});

coded_enum!(ChannelStatus {
    Proposed = 1 => "PROPOSED",
    Active = 2 => "ACTIVE",
    Suspended = 3 => "SUSPENDED",
});

coded_enum!(NoteVisibility {
    Shared = 1 => "SHARED",
    Internal = 2 => "INTERNAL",
});

coded_enum!(Outcome {
    Allowed = 1 => "ALLOWED",
    Denied = 2 => "DENIED",
    Failed = 3 => "FAILED",
});

coded_enum!(EventKind {
    Filed = 1 => "FILED",
    Acknowledged = 2 => "ACKNOWLEDGED",
    Declined = 3 => "DECLINED",
    Assigned = 4 => "ASSIGNED",
    InformationRequested = 5 => "INFORMATION_REQUESTED",
    InformationProvided = 6 => "INFORMATION_PROVIDED",
    Closed = 7 => "CLOSED",
    Reopened = 8 => "REOPENED",
    Withdrawn = 9 => "WITHDRAWN",
    NoteAdded = 10 => "NOTE_ADDED",
    Escalated = 11 => "ESCALATED",
    MarkingsChanged = 12 => "MARKINGS_CHANGED",
    PreservationConfirmed = 13 => "PRESERVATION_CONFIRMED",
    PreservationExtended = 14 => "PRESERVATION_EXTENDED",
    PreservationSuperseded = 15 => "PRESERVATION_SUPERSEDED",
    PreservationLapsed = 16 => "PRESERVATION_LAPSED",
    // A second supervisor released a PENDING_RELEASE referral: it is FILED.
    Released = 17 => "RELEASED",
    // A move that needs a second supervisor was proposed (only the proposing agency sees it).
    MoveProposed = 18 => "MOVE_PROPOSED",
    // A second supervisor approved it; the move's own event follows.
    MoveApproved = 19 => "MOVE_APPROVED",
    // It was rejected, or withdrawn by its proposer.
    MoveRejected = 20 => "MOVE_REJECTED",
    // An item of a request was answered, partly answered or refused.
    ItemAnswered = 21 => "ITEM_ANSWERED",
    // A deadline (the event's `clock`) is near: most of its window has gone. Once per deadline.
    DueSoon = 22 => "DUE_SOON",
    // The answer's deadline passed unanswered (the acknowledgement's is ESCALATED, as before).
    // Once per deadline.
    Breached = 23 => "BREACHED",
    // The receiving side moved the answer's deadline, with a reason both sides see.
    DeadlineExtended = 24 => "DEADLINE_EXTENDED",
});

coded_enum!(
    /// The two clocks a referral runs under: its acknowledgement's, and its answer's.
    DeadlineClock {
        Acknowledge = 1 => "ACKNOWLEDGE",
        Response = 2 => "RESPONSE",
    }
);

coded_enum!(
    /// Why the receiving side extends an answer's deadline (each reason once per case). A
    /// judicial authorisation pending is the delay EU Directive 2023/977 Art. 5(3) makes the
    /// receiver announce at once, with reasons.
    ExtensionReason {
        JudicialAuthorisationPending = 1 => "JUDICIAL_AUTHORISATION_PENDING",
        Volume = 2 => "VOLUME",
        Translation = 3 => "TRANSLATION",
        Other = 4 => "OTHER",
    }
);

coded_enum!(
    /// How a numbered item of a request was answered.
    ItemOutcome {
        Answered = 1 => "ANSWERED",
        PartlyAnswered = 2 => "PARTLY_ANSWERED",
        Refused = 3 => "REFUSED",
    }
);

/// One numbered thing a request asks for, and its answer once given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestItem {
    pub number: i32,
    pub text: String,
    pub answer: Option<ItemAnswer>,
}

/// An item's answer: its outcome, the answer or the refusal's reasons, the ground of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemAnswer {
    pub outcome: ItemOutcome,
    pub text: String,
    pub ground: Option<RefusalGround>,
    pub by: UserId,
    pub at: Timestamp,
}

coded_enum!(
    /// What a referral is: a request, which is owed an answer, or information the provider gives
    /// on its own initiative, which is owed only an acknowledgement (EU Directive 2023/977), or an
    /// expedited preservation request: keep stored data while the formal request is prepared
    /// (Budapest Convention Art. 29).
    RequestKind {
        Request = 1 => "REQUEST",
        Spontaneous = 2 => "SPONTANEOUS",
        Preservation = 3 => "PRESERVATION",
    }
);

coded_enum!(
    /// Where an expedited preservation stands.
    PreservationStatus {
        Requested = 1 => "REQUESTED",
        Preserved = 2 => "PRESERVED",
        Extended = 3 => "EXTENDED",
        Superseded = 4 => "SUPERSEDED",
        Lapsed = 5 => "LAPSED",
    }
);

/// What an expedited preservation request asks to keep, and why (Budapest Convention Art. 29(2)).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PreservationOrder {
    /// The stored data to be preserved.
    pub data: String,
    /// Who holds it, or where it is.
    pub custodian: String,
    /// The offence under investigation, and a brief summary of the facts.
    pub offence: String,
    /// Why preservation is necessary.
    pub necessity: String,
    /// The formal request for search, seizure or disclosure that will follow.
    pub formal_request: String,
}

/// A preservation request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preservation {
    pub order: PreservationOrder,
    pub status: PreservationStatus,
    /// While PRESERVED or EXTENDED (and after): until when the receiving side keeps the data.
    pub preserved_until: Option<Timestamp>,
    /// Once SUPERSEDED: the formal request, as the requesting side names it.
    pub superseded_by: Option<String>,
}

/// The shortest preservation the receiving side may confirm (Budapest Convention Art. 29(7)).
pub const MIN_PRESERVATION: chrono::Duration = chrono::Duration::days(60);

coded_enum!(
    /// The only grounds on which a request may be declined (EU Directive 2023/977 Art. 6).
    RefusalGround {
        NotAvailable = 1 => "NOT_AVAILABLE",
        IncompleteOrUnclear = 2 => "INCOMPLETE_OR_UNCLEAR",
        JudicialAuthorisationRefused = 3 => "JUDICIAL_AUTHORISATION_REFUSED",
        NationalSecurity = 4 => "NATIONAL_SECURITY",
        JeopardisesInvestigation = 5 => "JEOPARDISES_INVESTIGATION",
        EndangersPerson = 6 => "ENDANGERS_PERSON",
        MinorOffence = 7 => "MINOR_OFFENCE",
        ConsentWithheld = 8 => "CONSENT_WITHHELD",
    }
);

coded_enum!(
    /// How the receiver may use what the provider gave, as SIENA marks it. Each code carries the
    /// restrictions of the codes below it, so the order is the strictness: H3 adds the conditions
    /// the provider states in text.
    Handling {
        H0 = 1 => "H0",
        H1 = 2 => "H1",
        H2 = 3 => "H2",
        H3 = 4 => "H3",
    }
);

coded_enum!(
    /// How reliable the provider judges the source (the 4x4 system's letter).
    SourceReliability {
        A = 1 => "A",
        B = 2 => "B",
        C = 3 => "C",
        X = 4 => "X",
    }
);

coded_enum!(
    /// How accurate the provider judges the information (the 4x4 system's number).
    InformationAccuracy {
        KnownTrue = 1 => "1",
        KnownToSource = 2 => "2",
        Corroborated = 3 => "3",
        CannotBeJudged = 4 => "4",
    }
);

impl Handling {
    /// What the code binds the receiver to, in a line.
    pub fn meaning(self) -> &'static str {
        match self {
            Handling::H0 => "no restriction beyond the law",
            Handling::H1 => {
                "not for use as evidence in judicial proceedings without the provider's permission"
            }
            Handling::H2 => "not to be disseminated without the provider's permission",
            Handling::H3 => "other restrictions, stated by the provider",
        }
    }
}

impl SourceReliability {
    pub fn meaning(self) -> &'static str {
        match self {
            SourceReliability::A => "no doubt of the source's reliability",
            SourceReliability::B => "source mostly reliable",
            SourceReliability::C => "source not reliable",
            SourceReliability::X => "source reliability cannot be judged",
        }
    }
}

impl InformationAccuracy {
    pub fn meaning(self) -> &'static str {
        match self {
            InformationAccuracy::KnownTrue => "known to be true without reservation",
            InformationAccuracy::KnownToSource => "known personally to the source",
            InformationAccuracy::Corroborated => {
                "not known personally to the source but corroborated"
            }
            InformationAccuracy::CannotBeJudged => "accuracy cannot be judged",
        }
    }
}

/// What the provider of a case, note or attachment marks it with: the handling code that binds
/// the receiver, and the grading of its source and accuracy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Markings {
    pub handling: Handling,
    /// The restrictions an H3 marking states; `None` for H0 to H2.
    pub handling_conditions: Option<String>,
    pub source_reliability: SourceReliability,
    pub information_accuracy: InformationAccuracy,
}

impl Default for Markings {
    /// What a case or note carries when its provider said nothing: H0, graded "cannot be judged".
    /// Cases filed before markings existed read so.
    fn default() -> Self {
        Markings {
            handling: Handling::H0,
            handling_conditions: None,
            source_reliability: SourceReliability::X,
            information_accuracy: InformationAccuracy::CannotBeJudged,
        }
    }
}

impl Markings {
    /// Whether these markings bind the receiver less than `other`: a lower handling code, or the
    /// same H3 with other conditions (which the service cannot rank, so it treats any change of
    /// them as a relaxation that only the provider may make).
    pub fn is_laxer_than(&self, other: &Markings) -> bool {
        self.handling < other.handling
            || (self.handling == Handling::H3
                && other.handling == Handling::H3
                && self.handling_conditions != other.handling_conditions)
    }

    /// The markings in force on a note of a case marked `case`: the note's own, unless the case
    /// is stricter (a case marked stricter after the note was written), whose handling then holds.
    pub fn in_force_under(&self, case: &Markings) -> Markings {
        if case.handling > self.handling {
            Markings {
                handling: case.handling,
                handling_conditions: case.handling_conditions.clone(),
                ..self.clone()
            }
        } else {
            self.clone()
        }
    }
}

impl PartialOrd for Handling {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Handling {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.code().cmp(&other.code())
    }
}

coded_enum!(
    /// Where a role change that needs a second admin stands. A PENDING one past its expiry reads
    /// as EXPIRED.
    RoleChangeStatus {
        Pending = 1 => "PENDING",
        Approved = 2 => "APPROVED",
        Rejected = 3 => "REJECTED",
        Expired = 4 => "EXPIRED",
    }
);

coded_enum!(
    /// What a term of a channel's register is.
    TermKind {
        LegalBasis = 1 => "LEGAL_BASIS",
        Rule = 2 => "RULE",
        Category = 3 => "CATEGORY",
        Deadline = 4 => "DEADLINE",
    }
);

/// What a DEADLINE term of a channel's register sets, as its code names it:
/// `ACKNOWLEDGE_<PRIORITY>`, `ANSWER_<KIND>_<PRIORITY>` (REQUEST or PRESERVATION), `DUE_SOON`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadlineTerm {
    Acknowledge(Priority),
    Answer(RequestKind, Priority),
    DueSoon,
}

impl DeadlineTerm {
    pub fn parse(code: &str) -> Option<Self> {
        if code == "DUE_SOON" {
            return Some(DeadlineTerm::DueSoon);
        }
        let priority = |p: &str| Priority::ALL.iter().copied().find(|x| x.as_str() == p);
        if let Some(p) = code.strip_prefix("ACKNOWLEDGE_") {
            return priority(p).map(DeadlineTerm::Acknowledge);
        }
        let rest = code.strip_prefix("ANSWER_")?;
        [RequestKind::Request, RequestKind::Preservation]
            .into_iter()
            .find_map(|kind| {
                let p = rest.strip_prefix(kind.as_str())?.strip_prefix('_')?;
                priority(p).map(|p| DeadlineTerm::Answer(kind, p))
            })
    }

    /// The bounds a sane window of this deadline keeps to.
    pub fn bounds(self) -> (chrono::Duration, chrono::Duration) {
        match self {
            DeadlineTerm::Acknowledge(_) => {
                (chrono::Duration::minutes(15), chrono::Duration::days(30))
            }
            _ => (chrono::Duration::minutes(30), chrono::Duration::days(365)),
        }
    }

    /// What it sets, in words, for the term's title.
    pub fn describe(self, span: Option<chrono::Duration>, percent: Option<i16>) -> String {
        let span = span.map_or(String::new(), |s| {
            let h = s.num_hours();
            if h >= 48 && h % 24 == 0 {
                format!("{} days", h / 24)
            } else if s.num_minutes() % 60 == 0 {
                format!("{h} hours")
            } else {
                format!("{} minutes", s.num_minutes())
            }
        });
        match self {
            DeadlineTerm::Acknowledge(p) => format!("acknowledge a {p} referral within {span}"),
            DeadlineTerm::Answer(kind, p) => format!("answer a {p} {kind} within {span}"),
            DeadlineTerm::DueSoon => format!(
                "a deadline is due soon once {}% of its window has gone",
                percent.unwrap_or(DUE_SOON_PERCENT)
            ),
        }
    }
}

/// A category of cases as a channel's register names it: one of the three the service began with
/// ([`Category`]: DRUGS, FRAUD, CYBER), or one the agencies agreed since (ORGANISED_CRIME, ...).
/// Upper-case letters and '_', as it appears inside a case's reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryCode(String);

impl CategoryCode {
    /// The code, if it has a category's shape: 2 to 32 of A-Z and '_', beginning with a letter.
    pub fn parse(code: &str) -> Option<CategoryCode> {
        let ok = (2..=32).contains(&code.len())
            && code.starts_with(|c: char| c.is_ascii_uppercase())
            && code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        ok.then(|| CategoryCode(code.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The founding category it is, if it is one.
    pub fn known(&self) -> Option<Category> {
        Category::ALL.iter().copied().find(|c| c.as_str() == self.0)
    }
}

impl Category {
    /// What it covers, in the work plan's words.
    pub fn work_plan_title(self) -> &'static str {
        match self {
            Category::Drugs => "Drugs: narcotics, precursors, organised crime finance",
            Category::Fraud => "Fraud: document, identity and immigration fraud",
            Category::Cyber => "Cyber: cybercrime, breaches, digital fraud",
        }
    }
}

impl From<Category> for CategoryCode {
    fn from(category: Category) -> Self {
        CategoryCode(category.as_str().to_string())
    }
}

impl fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

coded_enum!(
    /// A rule a channel's agencies may agree (a term of kind RULE, whose code is the rule's name):
    /// each binds the moves of both sides on the channel while it is in force.
    Rule {
        FourEyesRelease = 1 => "FOUR_EYES_RELEASE",
        FourEyesDecline = 2 => "FOUR_EYES_DECLINE",
        FourEyesCloseNoAction = 3 => "FOUR_EYES_CLOSE_NO_ACTION",
        FourEyesRelaxMarking = 4 => "FOUR_EYES_RELAX_MARKING",
        DeclineNeedsGround = 5 => "DECLINE_NEEDS_GROUND",
    }
);

impl Rule {
    pub fn from_name(name: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.as_str() == name)
    }

    /// What the rule asks, in words.
    pub fn description(self) -> &'static str {
        match self {
            Rule::FourEyesRelease => {
                "a second supervisor of the originating agency releases each outgoing referral"
            }
            Rule::FourEyesDecline => "a second supervisor of the receiving agency approves each decline",
            Rule::FourEyesCloseNoAction => {
                "a second supervisor of the receiving agency approves each close with NO_ACTION"
            }
            Rule::FourEyesRelaxMarking => {
                "a second supervisor of the providing agency approves each relaxation of a case's or a note's markings"
            }
            Rule::DeclineNeedsGround => "every decline states a ground from the closed list",
        }
    }

    /// The move it puts under four eyes, if it does.
    pub fn four_eyes(self) -> Option<MoveAction> {
        match self {
            Rule::FourEyesRelease => Some(MoveAction::Release),
            Rule::FourEyesDecline => Some(MoveAction::Decline),
            Rule::FourEyesCloseNoAction => Some(MoveAction::CloseNoAction),
            Rule::FourEyesRelaxMarking => Some(MoveAction::RelaxMarking),
            Rule::DeclineNeedsGround => None,
        }
    }
}

/// The rules in force on a channel.
pub type Rules = Set<Rule>;

coded_enum!(
    /// A move with diplomatic weight, which a channel's rule may put under four eyes.
    MoveAction {
        Release = 1 => "RELEASE",
        Decline = 2 => "DECLINE",
        CloseNoAction = 3 => "CLOSE_NO_ACTION",
        RelaxMarking = 4 => "RELAX_MARKING",
        RelaxNoteMarking = 5 => "RELAX_NOTE_MARKING",
    }
);

impl MoveAction {
    /// The rule that puts it under four eyes.
    pub fn rule(self) -> Rule {
        match self {
            MoveAction::Release => Rule::FourEyesRelease,
            MoveAction::Decline => Rule::FourEyesDecline,
            MoveAction::CloseNoAction => Rule::FourEyesCloseNoAction,
            MoveAction::RelaxMarking | MoveAction::RelaxNoteMarking => Rule::FourEyesRelaxMarking,
        }
    }
}

coded_enum!(
    /// Where a proposed move stands. A PENDING one past its expiry reads as EXPIRED.
    MoveStatus {
        Pending = 1 => "PENDING",
        Approved = 2 => "APPROVED",
        Rejected = 3 => "REJECTED",
        Expired = 4 => "EXPIRED",
    }
);

/// A move proposed by one person and made only when a second supervisor of the same agency
/// approves it, with what the move needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseMove {
    pub id: MoveId,
    pub case_id: CaseId,
    pub action: MoveAction,
    /// Whose supervisors approve it: the agency that makes the move.
    pub agency_id: AgencyId,
    pub requested_by: UserId,
    pub requested_at: Timestamp,
    pub expires_at: Timestamp,
    /// As stored: PENDING, APPROVED or REJECTED (see [`CaseMove::status_at`]).
    pub status: MoveStatus,
    /// The reason the move states (a decline's, a relaxation's).
    pub reason: Option<String>,
    /// For DECLINE: the ground.
    pub ground: Option<RefusalGround>,
    /// For RELAX_MARKING: the markings to set.
    pub markings: Option<Markings>,
    pub decision: Option<Decided>,
    /// The version of the case it was proposed on: it is made only on that version.
    pub case_version: Option<i64>,
    /// For RELAX_NOTE_MARKING: the note.
    pub note_id: Option<NoteId>,
}

impl CaseMove {
    /// The status at `now`: a proposal nobody decided before its expiry has lapsed.
    pub fn status_at(&self, now: Timestamp) -> MoveStatus {
        match self.status {
            MoveStatus::Pending if now >= self.expires_at => MoveStatus::Expired,
            status => status,
        }
    }
}

coded_enum!(
    /// Where a term of a channel's register stands. A code is live while PROPOSED or AGREED.
    TermStatus {
        Proposed = 1 => "PROPOSED",
        Agreed = 2 => "AGREED",
        Rejected = 3 => "REJECTED",
        Withdrawn = 4 => "WITHDRAWN",
        Retired = 5 => "RETIRED",
    }
);

/// One entry of the register a channel's agencies agree: proposed by one agency's admin, agreed
/// (or rejected) by the other's, withdrawn by its proposer, retired by either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelTerm {
    pub id: TermId,
    pub channel_id: ChannelId,
    pub kind: TermKind,
    pub code: String,
    pub title: String,
    pub reference: Option<String>,
    pub notes: Option<String>,
    pub status: TermStatus,
    pub proposing_agency_id: AgencyId,
    pub proposed_by: UserId,
    pub proposed_at: Timestamp,
    /// Who agreed, rejected or withdrew it.
    pub decision: Option<Decided>,
    /// Who retired it.
    pub retirement: Option<Decided>,
    /// For a DEADLINE: the window it sets (or, for DUE_SOON, the share of a window).
    pub span: Option<chrono::Duration>,
    pub percent: Option<i16>,
}

/// Who made a decision, when, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    pub by: UserId,
    pub at: Timestamp,
    pub reason: Option<String>,
}

impl ChannelTerm {
    /// Whether it binds: agreed, and not retired.
    pub fn in_force(&self) -> bool {
        self.status == TermStatus::Agreed
    }
}

/// A change of a user's roles that one admin proposed and a second must approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleChange {
    pub id: String,
    pub agency_id: AgencyId,
    pub user_id: UserId,
    pub roles_before: Roles,
    pub roles_after: Roles,
    pub reason: Option<String>,
    pub requested_by: UserId,
    pub requested_at: Timestamp,
    pub expires_at: Timestamp,
    /// As stored: PENDING, APPROVED or REJECTED (see [`RoleChange::status_at`]).
    pub status: RoleChangeStatus,
    pub decided_by: Option<UserId>,
    pub decided_at: Option<Timestamp>,
    pub decision_reason: Option<String>,
}

impl RoleChange {
    /// The status at `now`: a proposal nobody answered before its expiry has lapsed.
    pub fn status_at(&self, now: Timestamp) -> RoleChangeStatus {
        match self.status {
            RoleChangeStatus::Pending if now >= self.expires_at => RoleChangeStatus::Expired,
            status => status,
        }
    }
}

impl Roles {
    /// Whether these roles read case content.
    pub fn reads_cases(self) -> bool {
        self.contains(Role::Officer) || self.contains(Role::Supervisor)
    }

    /// Whether going from `before` to these roles needs a second admin: it makes someone an
    /// ADMIN (else one admin could make a second admin to approve their own changes), or it gives
    /// an ADMIN a role that reads case content.
    pub fn need_second_admin_after(self, before: Roles) -> bool {
        let added = |role: Role| self.contains(role) && !before.contains(role);
        added(Role::Admin)
            || (self.contains(Role::Admin) && (added(Role::Officer) || added(Role::Supervisor)))
    }
}

/// Which queue a case listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CaseView {
    /// Every case the caller may see.
    All,
    /// Cases the caller's agency received.
    Incoming,
    /// Cases the caller's agency filed.
    Outgoing,
    AssignedToMe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CaseOrder {
    NewestFirst,
    DueFirst,
}

impl Priority {
    /// How long the receiving agency has to acknowledge a case of this priority, unless its
    /// channel agreed otherwise.
    pub fn acknowledge_within(self) -> chrono::Duration {
        match self {
            Priority::Routine => chrono::Duration::hours(72),
            Priority::Priority => chrono::Duration::hours(24),
            Priority::Urgent => chrono::Duration::hours(4),
        }
    }

    /// How long the receiving agency has to answer a request of this priority, unless its
    /// channel agreed otherwise: EU Directive 2023/977 Art. 5's 8 hours, 3 days and 7 days.
    pub fn answer_within(self) -> chrono::Duration {
        match self {
            Priority::Routine => chrono::Duration::days(7),
            Priority::Priority => chrono::Duration::days(3),
            Priority::Urgent => chrono::Duration::hours(8),
        }
    }
}

/// The share of a deadline's window after which it is DUE_SOON, unless the channel agreed another.
pub const DUE_SOON_PERCENT: i16 = 75;

/// The moment `percent` of the window ending at `due_at` has gone.
pub fn warn_at(due_at: Timestamp, window: chrono::Duration, percent: i16) -> Timestamp {
    let left = window * i32::from(100 - percent.clamp(1, 99)) / 100;
    due_at - left
}

/// The answer's clock of a REQUEST or PRESERVATION (EU Directive 2023/977 Art. 5). It starts
/// when the receiving agency receives the referral (its release), stands still while the case
/// awaits information from the requester, and stops at the answer: the close or decline of a
/// request, the confirmation of a preservation, or a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseClock {
    /// The window the channel gave the case's kind and priority when it was filed.
    pub window: chrono::Duration,
    /// When the answer is due: receipt, plus the window, the pauses that ended and the
    /// extensions. None while the referral is held before its release.
    pub due_at: Option<Timestamp>,
    /// While the case awaits information: since when the clock stands still.
    pub paused_since: Option<Timestamp>,
    /// The pauses that ended, in all.
    pub paused: chrono::Duration,
    /// When the clock stopped.
    pub stopped_at: Option<Timestamp>,
    /// The deadline's extensions, oldest first.
    pub extensions: Vec<DeadlineExtension>,
}

/// One move of an answer's deadline by the receiving side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineExtension {
    pub reason: ExtensionReason,
    /// The reasons in words: required for OTHER, optional for the rest.
    pub text: Option<String>,
    pub from: Timestamp,
    pub to: Timestamp,
    pub by: UserId,
    pub at: Timestamp,
}

impl ResponseClock {
    /// A clock of `window` that has not started.
    pub fn new(window: chrono::Duration) -> Self {
        ResponseClock {
            window,
            due_at: None,
            paused_since: None,
            paused: chrono::Duration::zero(),
            stopped_at: None,
            extensions: Vec::new(),
        }
    }

    /// Whether time counts against the deadline now: started, not paused, not stopped.
    pub fn is_running(&self) -> bool {
        self.due_at.is_some() && self.paused_since.is_none() && self.stopped_at.is_none()
    }

    pub fn start(&mut self, at: Timestamp) {
        if self.due_at.is_none() {
            self.due_at = Some(at + self.window);
        }
    }

    pub fn pause(&mut self, at: Timestamp) {
        if self.is_running() {
            self.paused_since = Some(at);
        }
    }

    /// Ends a pause: the deadline moves by as long as the clock stood still.
    pub fn resume(&mut self, at: Timestamp) {
        if let Some(since) = self.paused_since.take() {
            let stood = (at - since).max(chrono::Duration::zero());
            self.paused += stood;
            self.due_at = self.due_at.map(|due| due + stood);
        }
    }

    pub fn stop(&mut self, at: Timestamp) {
        if self.due_at.is_some() && self.stopped_at.is_none() {
            self.resume(at);
            self.stopped_at = Some(at);
        }
    }

    /// Where the clock's time ends, seen at `now`: its stop, the start of its pause, or now.
    fn end(&self, now: Timestamp) -> Timestamp {
        self.stopped_at.or(self.paused_since).unwrap_or(now)
    }

    /// How long it stood still, the pause in course included, seen at `now`.
    pub fn paused_for(&self, now: Timestamp) -> chrono::Duration {
        let ongoing = self
            .paused_since
            .filter(|_| self.stopped_at.is_none())
            .map_or(chrono::Duration::zero(), |since| now - since);
        self.paused + ongoing.max(chrono::Duration::zero())
    }

    /// How long the clock has run since `started` (the receipt), paused time excluded.
    pub fn elapsed(&self, started: Timestamp, now: Timestamp) -> chrono::Duration {
        if self.due_at.is_none() {
            // Not started: the referral is held (or was withdrawn before its release).
            return chrono::Duration::zero();
        }
        (self.end(now) - started - self.paused).max(chrono::Duration::zero())
    }

    /// Whether the deadline passed before the clock's time ended.
    pub fn is_breached(&self, now: Timestamp) -> bool {
        self.due_at.is_some_and(|due| self.end(now) > due)
    }

    /// When it becomes DUE_SOON, while it runs.
    pub fn warn_at(&self, percent: i16) -> Option<Timestamp> {
        self.due_at
            .filter(|_| self.is_running())
            .map(|due| warn_at(due, self.window, percent))
    }
}

/// A set of values of a coded enum, stored as a bit mask (bit `code - 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Set<T> {
    bits: i32,
    _kind: std::marker::PhantomData<T>,
}

pub trait Coded: Copy + 'static {
    fn code_of(self) -> i16;
    fn all() -> &'static [Self];
}

macro_rules! coded {
    ($($t:ty),+) => {$(
        impl Coded for $t {
            fn code_of(self) -> i16 { self.code() }
            fn all() -> &'static [Self] { Self::ALL }
        }
    )+};
}
coded!(Role, Category, Rule);

impl<T: Coded> Set<T> {
    pub fn empty() -> Self {
        Set {
            bits: 0,
            _kind: std::marker::PhantomData,
        }
    }

    pub fn from_bits(bits: i32) -> Self {
        let known = T::all()
            .iter()
            .fold(0, |acc, v| acc | (1 << (v.code_of() - 1)));
        Set {
            bits: bits & known,
            _kind: std::marker::PhantomData,
        }
    }

    pub fn bits(self) -> i32 {
        self.bits
    }

    pub fn insert(&mut self, value: T) {
        self.bits |= 1 << (value.code_of() - 1);
    }

    pub fn contains(self, value: T) -> bool {
        self.bits & (1 << (value.code_of() - 1)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.bits == 0
    }

    pub fn iter(self) -> impl Iterator<Item = T> {
        T::all().iter().copied().filter(move |v| self.contains(*v))
    }
}

impl<T: Coded> Default for Set<T> {
    fn default() -> Self {
        Set::empty()
    }
}

impl<T: Coded> FromIterator<T> for Set<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut set = Set::empty();
        for value in iter {
            set.insert(value);
        }
        set
    }
}

pub type Roles = Set<Role>;
pub type Categories = Set<Category>;

pub type Timestamp = chrono::DateTime<chrono::Utc>;

#[derive(Debug, Clone)]
pub struct Agency {
    pub id: AgencyId,
    pub code: String,
    pub name: String,
    pub country: String,
    /// Its IANA time zone, such as Asia/Kolkata: UTC until its admin sets it.
    pub time_zone: String,
    /// Its public holidays, in order: for showing working days, never for moving a deadline.
    pub holidays: Vec<chrono::NaiveDate>,
}

/// A person as cases name them: who filed, works, wrote or changed something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub agency_id: AgencyId,
    pub agency_code: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub agency_id: AgencyId,
    pub roles: Roles,
    pub disabled: bool,
    /// Set by an admin's password reset: until the user changes it, only ChangePassword works.
    pub must_change_password: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: ChannelId,
    pub proposing_agency_id: AgencyId,
    pub partner_agency_id: AgencyId,
    pub categories: Categories,
    pub status: ChannelStatus,
    pub proposed_by: UserId,
    pub approved_by: Option<UserId>,
    /// While SUSPENDED: the agency that suspended it, the only one that may resume it.
    pub suspended_by_agency_id: Option<AgencyId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: i64,
}

impl Channel {
    /// Its founding categories as the first CATEGORY terms of its register, agreed with the
    /// channel by `approver` at `at`.
    pub fn founding_categories(&self, approver: &UserId, at: Timestamp) -> Vec<ChannelTerm> {
        self.categories
            .iter()
            .map(|category| ChannelTerm {
                id: TermId::generate(),
                channel_id: self.id.clone(),
                kind: TermKind::Category,
                code: category.as_str().to_string(),
                title: category.work_plan_title().to_string(),
                reference: None,
                notes: None,
                status: TermStatus::Agreed,
                proposing_agency_id: self.proposing_agency_id.clone(),
                proposed_by: self.proposed_by.clone(),
                proposed_at: self.created_at,
                decision: Some(Decided {
                    by: approver.clone(),
                    at,
                    reason: Some("agreed with the channel".into()),
                }),
                retirement: None,
                span: None,
                percent: None,
            })
            .collect()
    }

    pub fn has_party(&self, agency_id: &str) -> bool {
        self.proposing_agency_id == agency_id || self.partner_agency_id == agency_id
    }

    /// The agency across the channel from `agency_id`.
    pub fn other_party(&self, agency_id: &str) -> Option<&str> {
        if self.proposing_agency_id == agency_id {
            Some(self.partner_agency_id.as_str())
        } else if self.partner_agency_id == agency_id {
            Some(self.proposing_agency_id.as_str())
        } else {
            None
        }
    }
}

#[derive(Debug, Clone)]
pub struct Case {
    pub id: CaseId,
    pub reference: String,
    pub channel_id: ChannelId,
    pub category: CategoryCode,
    pub priority: Priority,
    pub title: String,
    pub summary: String,
    pub originating_agency_id: AgencyId,
    pub receiving_agency_id: AgencyId,
    pub filed_by: UserId,
    pub assignee_id: Option<UserId>,
    pub status: CaseStatus,
    pub resolution: Option<Resolution>,
    pub filed_at: Timestamp,
    pub updated_at: Timestamp,
    pub acknowledged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub acknowledge_due_at: Timestamp,
    pub markings: Markings,
    pub kind: RequestKind,
    /// Set when the case was declined on a stated ground.
    pub decline_ground: Option<RefusalGround>,
    /// Exactly for cases of kind PRESERVATION.
    pub preservation: Option<Preservation>,
    /// The agreed legal basis the referral cites, if it cites one.
    pub legal_basis_id: Option<TermId>,
    /// A request's numbered items, in order; empty for the others.
    pub items: Vec<RequestItem>,
    /// When the receiving agency could first see it: at filing, or at its release under a
    /// four-eyes rule. None while held, and forever for a referral withdrawn before release.
    pub released_at: Option<Timestamp>,
    /// The acknowledgement's window, as the channel gave it when the case was filed.
    pub acknowledge_within: chrono::Duration,
    /// The share of a window after which a deadline is DUE_SOON, as the channel gave it.
    pub due_soon_percent: i16,
    /// The answer's clock: REQUEST and PRESERVATION cases filed since clocks exist.
    pub response: Option<ResponseClock>,
    /// What the service's timers recorded: the acknowledgement ESCALATED, the answer BREACHED.
    /// Read with the case; only the timers write them.
    pub marks: DeadlineMarks,
    pub version: i64,
}

/// A case's deadlines the service found missed, each recorded once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeadlineMarks {
    pub escalated: bool,
    pub response_breached: bool,
}

impl Case {
    /// Whether the receiving agency may know of it: once released.
    pub fn is_released(&self) -> bool {
        self.released_at.is_some()
    }

    pub fn etag(&self) -> String {
        etag(self.id.as_str(), self.version)
    }

    pub fn is_overdue(&self, now: Timestamp) -> bool {
        self.status == CaseStatus::Filed && now > self.acknowledge_due_at
    }

    /// The deadlines running now: the acknowledgement's while FILED (and released), the
    /// answer's while its clock runs.
    pub fn running_deadlines(&self) -> impl Iterator<Item = Timestamp> + '_ {
        let acknowledge = (self.status == CaseStatus::Filed && self.is_released())
            .then_some(self.acknowledge_due_at);
        let answer = self
            .response
            .as_ref()
            .filter(|r| r.is_running())
            .and_then(|r| r.due_at);
        acknowledge.into_iter().chain(answer)
    }

    /// Whether it missed a deadline by `now`: unacknowledged past its deadline, acknowledged
    /// after it, or its answer late or overdue.
    pub fn missed_a_deadline(&self, now: Timestamp) -> bool {
        let acknowledged_late = self
            .acknowledged_at
            .is_some_and(|at| at > self.acknowledge_due_at);
        self.marks.escalated
            || self.marks.response_breached
            || (self.is_released() && self.is_overdue(now))
            || acknowledged_late
            || self.response.as_ref().is_some_and(|r| r.is_breached(now))
    }

    /// When the acknowledgement becomes DUE_SOON, while the receiver can see the case.
    pub fn acknowledge_warn_at(&self) -> Option<Timestamp> {
        self.is_released().then(|| {
            warn_at(
                self.acknowledge_due_at,
                self.acknowledge_within,
                self.due_soon_percent,
            )
        })
    }

    /// When the answer becomes DUE_SOON, while its clock runs.
    pub fn response_warn_at(&self) -> Option<Timestamp> {
        self.response
            .as_ref()
            .and_then(|r| r.warn_at(self.due_soon_percent))
    }
}

/// An opaque tag for one version of a record.
pub fn etag(id: &str, version: i64) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{id}/{version}").as_bytes());
    format!("{}-{}", version, hex::encode(&digest[..6]))
}

#[derive(Debug, Clone)]
pub struct Note {
    pub id: NoteId,
    pub case_id: CaseId,
    pub author_id: UserId,
    pub author_agency_id: AgencyId,
    pub visibility: NoteVisibility,
    pub body: String,
    /// The note's own markings, as its author's agency set them; see [`Note::in_force`].
    pub markings: Markings,
    pub created_at: Timestamp,
}

impl Note {
    /// The markings in force on the note under its case's.
    pub fn in_force(&self, case: &Markings) -> Markings {
        self.markings.in_force_under(case)
    }
}

#[derive(Debug, Clone)]
pub struct CaseEvent {
    pub id: EventId,
    pub case_id: CaseId,
    pub kind: EventKind,
    pub actor_id: String,
    pub actor_agency_id: String,
    pub at: Timestamp,
    pub from_status: Option<CaseStatus>,
    pub to_status: Option<CaseStatus>,
    pub reason: Option<String>,
    pub assignee_id: Option<UserId>,
    pub resolution: Option<Resolution>,
    pub note_id: Option<NoteId>,
    /// For MARKINGS_CHANGED: the markings after the change (of the note, when `note_id` is set).
    pub markings: Option<Markings>,
    /// For DECLINED: the ground stated.
    pub ground: Option<RefusalGround>,
    /// For PRESERVATION_CONFIRMED and PRESERVATION_EXTENDED: until when the data is kept.
    pub preserved_until: Option<Timestamp>,
    /// Set for events about an INTERNAL note: only this agency sees the event.
    pub visible_to_agency_id: Option<AgencyId>,
    /// For MOVE_PROPOSED, MOVE_APPROVED and MOVE_REJECTED: the proposed move.
    pub move_id: Option<MoveId>,
    /// For ITEM_ANSWERED: the item.
    pub item_number: Option<i32>,
    /// For DUE_SOON, BREACHED and DEADLINE_EXTENDED: which deadline. RESPONSE also on the moves
    /// that start, pause, resume or stop the answer's clock.
    pub clock: Option<DeadlineClock>,
    /// The clock's deadline after the event; none when it paused or stopped.
    pub due_at: Option<Timestamp>,
    /// For DEADLINE_EXTENDED.
    pub extension_reason: Option<ExtensionReason>,
}

/// Who recorded a case event.
#[derive(Debug, Clone, Copy)]
pub enum EventActor<'a> {
    /// A user of an agency.
    User { id: &'a str, agency_id: &'a str },
    /// The service itself (an escalation): no user acted.
    Service,
}

impl CaseEvent {
    /// An event of `kind` on a case, carrying nothing else yet: the caller fills in what the kind
    /// carries (statuses, reason, assignee, resolution, note).
    pub fn new(
        id: EventId,
        case_id: CaseId,
        kind: EventKind,
        actor: EventActor<'_>,
        at: Timestamp,
    ) -> Self {
        let (actor_id, actor_agency_id) = match actor {
            EventActor::User { id, agency_id } => (id.to_string(), agency_id.to_string()),
            EventActor::Service => (String::new(), String::new()),
        };
        CaseEvent {
            id,
            case_id,
            kind,
            actor_id,
            actor_agency_id,
            at,
            from_status: None,
            to_status: None,
            reason: None,
            assignee_id: None,
            resolution: None,
            note_id: None,
            markings: None,
            ground: None,
            preserved_until: None,
            visible_to_agency_id: None,
            move_id: None,
            item_number: None,
            clock: None,
            due_at: None,
            extension_reason: None,
        }
    }
}

impl Principal {
    /// The principal as the actor of a case event.
    pub fn as_actor(&self) -> EventActor<'_> {
        EventActor::User {
            id: self.user_id.as_str(),
            agency_id: self.agency_id.as_str(),
        }
    }
}

/// The values unit tests build on: a principal and a case, each test changing what it is about.
#[cfg(test)]
pub mod fixtures {
    use super::*;

    pub fn principal(user: &str, agency: &str, roles: &[Role]) -> Principal {
        Principal {
            user_id: user.into(),
            username: user.into(),
            agency_id: agency.into(),
            roles: roles.iter().copied().collect::<Roles>(),
            session_id: "s".into(),
            must_change_password: false,
        }
    }

    /// A FILED routine drugs case `c` that `filed_by` of `originating` filed to `receiving` at
    /// time zero.
    pub fn case(originating: &str, receiving: &str, filed_by: &str) -> Case {
        let t = crate::clock::from_micros(0);
        Case {
            id: "c".into(),
            reference: "IN-CA-DRUGS-2026-000001".into(),
            channel_id: "ch".into(),
            category: Category::Drugs.into(),
            priority: Priority::Routine,
            title: "t".into(),
            summary: "s".into(),
            originating_agency_id: originating.into(),
            receiving_agency_id: receiving.into(),
            filed_by: filed_by.into(),
            assignee_id: None,
            status: CaseStatus::Filed,
            resolution: None,
            filed_at: t,
            updated_at: t,
            acknowledged_at: None,
            closed_at: None,
            acknowledge_due_at: t,
            markings: Markings::default(),
            kind: RequestKind::Request,
            decline_ground: None,
            preservation: None,
            legal_basis_id: None,
            items: Vec::new(),
            released_at: Some(t),
            acknowledge_within: Priority::Routine.acknowledge_within(),
            due_soon_percent: DUE_SOON_PERCENT,
            response: None,
            marks: DeadlineMarks::default(),
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_the_timer_marked_missed_stays_missed() {
        let t = crate::clock::from_micros(0);
        let mut case = fixtures::case("IN", "CA", "filer");
        assert!(!case.missed_a_deadline(t));
        // Declined after the escalation: no longer FILED, still escalated.
        case.status = CaseStatus::Declined;
        case.marks.escalated = true;
        assert!(case.missed_a_deadline(t));
        // Breached, then extended: the new deadline is ahead, the breach stays.
        case.marks = DeadlineMarks {
            escalated: false,
            response_breached: true,
        };
        assert!(case.missed_a_deadline(t));
    }

    #[test]
    fn role_sets_round_trip_through_bits() {
        let roles: Roles = [Role::Officer, Role::Admin].into_iter().collect();
        assert_eq!(roles.bits(), 0b1001);
        let back = Roles::from_bits(roles.bits());
        assert!(back.contains(Role::Officer) && back.contains(Role::Admin));
        assert!(!back.contains(Role::Auditor));
        assert_eq!(
            back.iter().collect::<Vec<_>>(),
            vec![Role::Officer, Role::Admin]
        );
    }

    #[test]
    fn only_a_change_that_lets_an_admin_read_cases_needs_a_second_admin() {
        let roles = |r: &[Role]| r.iter().copied().collect::<Roles>();
        use Role::*;
        let cases = [
            (&[Admin][..], &[Admin, Supervisor][..], true),
            (&[Supervisor], &[Supervisor, Admin], true),
            (&[Officer], &[Officer, Admin], true),
            (&[], &[Admin, Officer], true),
            (&[Admin, Officer], &[Admin, Officer, Supervisor], true),
            // Making anyone an admin needs a second admin too.
            (&[], &[Admin], true),
            (&[Auditor], &[Auditor, Admin], true),
            // Nothing added that reads cases or administers: no second admin.
            (&[Admin, Supervisor], &[Admin, Supervisor, Auditor], false),
            (&[Admin, Supervisor], &[Admin], false),
            (&[Admin], &[Admin, Auditor], false),
            (&[Officer], &[Officer, Supervisor], false),
        ];
        for (before, after, needed) in cases {
            assert_eq!(
                roles(after).need_second_admin_after(roles(before)),
                needed,
                "{before:?} -> {after:?}"
            );
        }
    }

    #[test]
    fn unknown_bits_are_dropped() {
        assert_eq!(Categories::from_bits(0xff).bits(), 0b111);
    }

    #[test]
    fn acknowledge_deadlines_follow_priority() {
        assert_eq!(Priority::Routine.acknowledge_within().num_hours(), 72);
        assert_eq!(Priority::Priority.acknowledge_within().num_hours(), 24);
        assert_eq!(Priority::Urgent.acknowledge_within().num_hours(), 4);
    }

    #[test]
    fn etag_changes_with_version() {
        assert_ne!(etag("a", 1), etag("a", 2));
        assert_eq!(etag("a", 1), etag("a", 1));
    }
}

/// An authenticated, enabled user, as the database says now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: UserId,
    pub username: String,
    pub agency_id: AgencyId,
    pub roles: Roles,
    pub session_id: SessionId,
    /// Only ChangePassword is open to a user whose password an admin reset.
    pub must_change_password: bool,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(role)
    }
}
