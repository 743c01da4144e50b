//! Enum values as people type them (`in-progress`, `urgent`) and as the protos name them
//! (`CASE_STATUS_IN_PROGRESS`): the command line and the tables use the first, JSON the second.

use liaison_proto as pb;

/// A generated protobuf enum, read from the `i32` a message carries.
pub trait ProtoEnum {
    /// What every value's proto name starts with, such as `CASE_STATUS_`.
    const PREFIX: &'static str;
    fn name(value: i32) -> Option<&'static str>;
}

macro_rules! proto_enum {
    ($($ty:ty => $prefix:literal),+ $(,)?) => {
        $(
            impl ProtoEnum for $ty {
                const PREFIX: &'static str = $prefix;
                fn name(value: i32) -> Option<&'static str> {
                    <$ty>::try_from(value).ok().map(|v| v.as_str_name())
                }
            }
        )+
    };
}

proto_enum! {
    pb::Role => "ROLE_",
    pb::Category => "CATEGORY_",
    pb::Priority => "PRIORITY_",
    pb::CaseStatus => "CASE_STATUS_",
    pb::Resolution => "RESOLUTION_",
    pb::ChannelStatus => "CHANNEL_STATUS_",
    pb::NoteVisibility => "NOTE_VISIBILITY_",
    pb::AuditOutcome => "AUDIT_OUTCOME_",
    pb::CaseEventKind => "CASE_EVENT_KIND_",
    pb::CaseView => "CASE_VIEW_",
    pb::Handling => "HANDLING_",
    pb::SourceReliability => "SOURCE_RELIABILITY_",
    pb::InformationAccuracy => "INFORMATION_ACCURACY_",
    pb::RoleChangeStatus => "ROLE_CHANGE_STATUS_",
    pb::RequestKind => "REQUEST_KIND_",
    pb::RefusalGround => "REFUSAL_GROUND_",
    pb::PreservationStatus => "PRESERVATION_STATUS_",
    pb::TermKind => "TERM_KIND_",
    pb::MoveAction => "MOVE_ACTION_",
    pb::ItemOutcome => "ITEM_OUTCOME_",
    pb::MoveStatus => "MOVE_STATUS_",
    pb::TermStatus => "TERM_STATUS_",
    pb::DeadlineClock => "DEADLINE_CLOCK_",
    pb::ExtensionReason => "EXTENSION_REASON_",
}

/// The proto name (`CASE_STATUS_FILED`), or the number when this client does not know the value.
pub fn proto_name<E: ProtoEnum>(value: i32) -> serde_json::Value {
    match E::name(value) {
        Some(name) => serde_json::Value::from(name),
        None => serde_json::Value::from(value),
    }
}

/// The name people type (`in-progress`); empty for the unspecified value.
pub fn friendly<E: ProtoEnum>(value: i32) -> String {
    match E::name(value) {
        Some(name) => {
            let short = name.strip_prefix(E::PREFIX).unwrap_or(name);
            if short == "UNSPECIFIED" {
                String::new()
            } else {
                short.to_ascii_lowercase().replace('_', "-")
            }
        }
        None => format!("unknown({value})"),
    }
}

/// Declares a clap value enum whose kebab-case names `--help` lists, mapped onto a proto enum.
macro_rules! friendly_enum {
    (
        $(#[$meta:meta])*
        $name:ident => $pb:ty {
            $( $(#[$vmeta:meta])* $variant:ident => $pbv:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl From<$name> for $pb {
            fn from(v: $name) -> $pb {
                match v {
                    $( $name::$variant => <$pb>::$pbv ),+
                }
            }
        }

        impl $name {
            /// The value as a message carries it.
            pub fn code(self) -> i32 {
                <$pb>::from(self) as i32
            }
        }
    };
}

friendly_enum! {
    /// A case's category.
    CategoryArg => pb::Category {
        /// Narcotics, precursors, organised crime finance
        Drugs => Drugs,
        /// Document, identity and immigration fraud
        Fraud => Fraud,
        /// Cybercrime, breaches, digital fraud
        Cyber => Cyber,
    }
}

friendly_enum! {
    /// How an item of a request was answered.
    OutcomeOfItemArg => pb::ItemOutcome {
        Answered => Answered,
        PartlyAnswered => PartlyAnswered,
        /// Refused on a --ground from the closed list
        Refused => Refused,
    }
}

friendly_enum! {
    /// What a term of a channel's register is.
    TermKindArg => pb::TermKind {
        /// A legal basis requests on the channel cite: a treaty, an arrangement, a statute
        LegalBasis => LegalBasis,
        /// A rule both sides follow: four-eyes-release, four-eyes-decline,
        /// four-eyes-close-no-action, four-eyes-relax-marking or decline-needs-ground (the code)
        Rule => Rule,
        /// A category of cases the channel covers (the code, such as ORGANISED_CRIME)
        Category => Category,
        /// A deadline's window (ANSWER_REQUEST_URGENT with --duration 12h, ACKNOWLEDGE_ROUTINE,
        /// ...) or DUE_SOON with --percent
        Deadline => Deadline,
    }
}

friendly_enum! {
    /// What a referral is.
    KindArg => pb::RequestKind {
        /// You ask for something: an answer is owed, or a refusal on a listed ground
        Request => Request,
        /// Information you give on your own initiative: acknowledged, never declined
        Spontaneous => Spontaneous,
        /// Keep stored data while the formal request is prepared (Budapest Convention Art. 29)
        Preservation => Preservation,
    }
}

friendly_enum! {
    /// The grounds a request may be declined on (EU Directive 2023/977 Art. 6).
    GroundArg => pb::RefusalGround {
        /// The information is not available
        NotAvailable => NotAvailable,
        /// The request is incomplete or unclear
        IncompleteOrUnclear => IncompleteOrUnclear,
        /// A judicial authorisation it needs was refused
        JudicialAuthorisationRefused => JudicialAuthorisationRefused,
        /// It would harm national security
        NationalSecurity => NationalSecurity,
        /// It would jeopardise an ongoing investigation
        JeopardisesInvestigation => JeopardisesInvestigation,
        /// It would endanger a person's safety
        EndangersPerson => EndangersPerson,
        /// It concerns a minor offence
        MinorOffence => MinorOffence,
        /// A third party's consent was withheld
        ConsentWithheld => ConsentWithheld,
    }
}

friendly_enum! {
    /// Why you extend an answer's deadline; each reason extends a case's once.
    ExtensionReasonArg => pb::ExtensionReason {
        /// A judicial authorisation the answer needs is pending
        JudicialAuthorisationPending => JudicialAuthorisationPending,
        /// The volume of what was asked
        Volume => Volume,
        /// The answer is being translated
        Translation => Translation,
        /// Another reason, stated with --text
        Other => Other,
    }
}

friendly_enum! {
    /// A handling code: how the receiver may use what you provide.
    HandlingArg => pb::Handling {
        /// No restriction beyond the law
        #[value(name = "H0")]
        H0 => H0,
        /// Not for use as evidence in judicial proceedings without your permission
        #[value(name = "H1")]
        H1 => H1,
        /// Not to be disseminated without your permission
        #[value(name = "H2")]
        H2 => H2,
        /// Other restrictions, stated with --conditions
        #[value(name = "H3")]
        H3 => H3,
    }
}

friendly_enum! {
    /// How reliable the source is.
    SourceArg => pb::SourceReliability {
        /// No doubt of its reliability
        #[value(name = "A")]
        A => A,
        /// Mostly reliable
        #[value(name = "B")]
        B => B,
        /// Not reliable
        #[value(name = "C")]
        C => C,
        /// Cannot be judged
        #[value(name = "X")]
        X => X,
    }
}

friendly_enum! {
    /// How accurate the information is.
    AccuracyArg => pb::InformationAccuracy {
        /// Known to be true without reservation
        #[value(name = "1")]
        KnownTrue => KnownTrue,
        /// Known personally to the source
        #[value(name = "2")]
        KnownToSource => KnownToSource,
        /// Not known personally to the source, but corroborated
        #[value(name = "3")]
        Corroborated => Corroborated,
        /// Cannot be judged
        #[value(name = "4")]
        CannotBeJudged => CannotBeJudged,
    }
}

friendly_enum! {
    /// How soon the receiving side must acknowledge.
    PriorityArg => pb::Priority {
        /// Acknowledge within 72 hours
        Routine => Routine,
        /// Acknowledge within 24 hours
        Priority => Priority,
        /// Acknowledge within 4 hours
        Urgent => Urgent,
    }
}

friendly_enum! {
    /// Where a case is in its lifecycle.
    StatusArg => pb::CaseStatus {
        Filed => Filed,
        Acknowledged => Acknowledged,
        Declined => Declined,
        InProgress => InProgress,
        AwaitingInfo => AwaitingInfo,
        Closed => Closed,
        Withdrawn => Withdrawn,
        /// Filed, waiting for a second supervisor to release it
        PendingRelease => PendingRelease,
    }
}

friendly_enum! {
    /// How a case ended.
    ResolutionArg => pb::Resolution {
        Actioned => Actioned,
        NoAction => NoAction,
        ReferredElsewhere => ReferredElsewhere,
        Duplicate => Duplicate,
    }
}

friendly_enum! {
    /// A role within the user's own agency.
    RoleArg => pb::Role {
        /// Files referrals and works their own cases
        Officer => Officer,
        /// Acknowledges, assigns, closes and reopens the agency's cases
        Supervisor => Supervisor,
        /// Queries the audit log
        Auditor => Auditor,
        /// Manages users and channels
        Admin => Admin,
        /// Reads the figures of the agency's channels, never a case
        Analyst => Analyst,
    }
}

friendly_enum! {
    /// A channel's state.
    ChannelStatusArg => pb::ChannelStatus {
        Proposed => Proposed,
        Active => Active,
        Suspended => Suspended,
    }
}

friendly_enum! {
    /// How an audited call ended.
    OutcomeArg => pb::AuditOutcome {
        Allowed => Allowed,
        /// Not authenticated, not permitted, or not visible
        Denied => Denied,
        /// Permitted but failed
        Failed => Failed,
    }
}

friendly_enum! {
    /// A queue: which cases it holds.
    ViewArg => pb::CaseView {
        /// Cases received by your agency
        Incoming => Incoming,
        /// Cases filed by your agency
        Outgoing => Outgoing,
        /// Cases assigned to you
        Mine => AssignedToMe,
        /// Every case you may see
        All => All,
    }
}

/// The order of a queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OrderArg {
    /// Newest filing first
    Newest,
    /// Earliest acknowledgement deadline first
    Due,
}

impl OrderArg {
    pub fn code(self) -> i32 {
        match self {
            OrderArg::Newest => pb::CaseOrder::NewestFirst as i32,
            OrderArg::Due => pb::CaseOrder::DueFirst as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn friendly_names_match_what_people_type() {
        assert_eq!(
            friendly::<pb::CaseStatus>(pb::CaseStatus::InProgress as i32),
            "in-progress"
        );
        assert_eq!(
            friendly::<pb::CaseEventKind>(pb::CaseEventKind::InformationRequested as i32),
            "information-requested"
        );
        assert_eq!(friendly::<pb::Resolution>(0), "");
        assert_eq!(friendly::<pb::Priority>(99), "unknown(99)");
        // Each value enum's kebab-case name is the friendly name of the value it maps to.
        for arg in <StatusArg as clap::ValueEnum>::value_variants() {
            let name = clap::ValueEnum::to_possible_value(arg)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            assert_eq!(name, friendly::<pb::CaseStatus>(arg.code()));
        }
        for arg in <ResolutionArg as clap::ValueEnum>::value_variants() {
            let name = clap::ValueEnum::to_possible_value(arg)
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            assert_eq!(name, friendly::<pb::Resolution>(arg.code()));
        }
    }

    #[test]
    fn proto_names_for_json() {
        assert_eq!(
            proto_name::<pb::Category>(pb::Category::Drugs as i32),
            serde_json::json!("CATEGORY_DRUGS")
        );
        assert_eq!(proto_name::<pb::Category>(42), serde_json::json!(42));
    }
}
