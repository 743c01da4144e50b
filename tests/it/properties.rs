//! Property tests: every RPC driven with arbitrary and boundary inputs, as every role. For each call:
//! no panic and only a documented status; exactly one audit entry, with that status; nothing
//! changed by a call that failed; and nothing returned outside the caller's scope.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use tonic::Code;

use liaison_server::pb;

use crate::common::{Backend, Client, World};

/// Who makes the call.
#[derive(Debug, Clone, Copy)]
enum Who {
    Anonymous,
    OfficerIn,
    OfficerCa,
    OfficerCa2,
    SupIn,
    SupCa,
    AuditorIn,
    AdminCa,
    SupUs,
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        Just(Who::Anonymous),
        Just(Who::OfficerIn),
        Just(Who::OfficerCa),
        Just(Who::OfficerCa2),
        Just(Who::SupIn),
        Just(Who::SupCa),
        Just(Who::AuditorIn),
        Just(Who::AdminCa),
        Just(Who::SupUs),
    ]
}

/// Text at and around the limits, plus odd characters.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_string()),
        Just("x".repeat(200)),
        Just("x".repeat(201)),
        Just("é".repeat(2000)),
        Just("y".repeat(20_001)),
        Just("bad\u{0}null".to_string()),
        Just("line\nbreak".to_string()),
        "[a-zA-Z0-9 .,'-]{1,40}",
        any::<String>(),
    ]
}

/// Ids: existing ones, unknown ones, malformed ones.
#[derive(Debug, Clone)]
enum Id {
    ExistingCase(usize),
    Channel,
    /// A legal basis India's admin proposed.
    Term,
    /// A close with NO_ACTION proposed on the first case, under the channel's rule.
    Move,
    User(Who),
    Random,
    Raw(String),
}

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        (0usize..4).prop_map(Id::ExistingCase),
        Just(Id::Channel),
        Just(Id::Term),
        Just(Id::Move),
        who().prop_map(Id::User),
        Just(Id::Random),
        prop_oneof![
            Just(String::new()),
            Just("x".repeat(300)),
            "[0-9a-f-]{0,40}",
            any::<String>()
        ]
        .prop_map(Id::Raw),
    ]
}

fn enum_value() -> impl Strategy<Value = i32> {
    prop_oneof![Just(0), 1..5i32, Just(-1), Just(99), any::<i32>()]
}

/// Markings: absent, or any codes (known, unspecified, unknown) with any conditions.
fn markings() -> impl Strategy<Value = Option<pb::Markings>> {
    proptest::option::of(
        (
            enum_value(),
            prop_oneof![Just(String::new()), text()],
            enum_value(),
            enum_value(),
        )
            .prop_map(
                |(handling, handling_conditions, source, accuracy)| pb::Markings {
                    handling,
                    handling_conditions,
                    source_reliability: source,
                    information_accuracy: accuracy,
                },
            ),
    )
}

#[derive(Debug, Clone)]
enum Op {
    File {
        channel: Id,
        category: i32,
        priority: i32,
        title: String,
        summary: String,
        request: Option<String>,
        markings: Option<pb::Markings>,
        kind: i32,
    },
    Get(Id),
    List {
        view: i32,
        statuses: Vec<i32>,
        page_size: i32,
        overdue: bool,
        token: String,
    },
    Acknowledge {
        case: Id,
        stale: bool,
    },
    Decline {
        case: Id,
        reason: String,
        ground: i32,
    },
    Assign {
        case: Id,
        assignee: Id,
    },
    Close {
        case: Id,
        resolution: i32,
    },
    Withdraw {
        case: Id,
        reason: String,
    },
    Note {
        case: Id,
        body: String,
        visibility: i32,
        markings: Option<pb::Markings>,
    },
    MarkCase {
        case: Id,
        stale: bool,
        markings: Option<pb::Markings>,
        reason: String,
    },
    MarkNote {
        case: Id,
        note: Id,
        markings: Option<pb::Markings>,
        reason: String,
    },
    Notes(Id),
    Events(Id),
    CreateUser {
        username: String,
        display: String,
        roles: Vec<i32>,
        password: String,
    },
    UpdateUser {
        user: Id,
        roles: Vec<i32>,
        disabled: Option<bool>,
    },
    Propose {
        partner: Id,
        categories: Vec<i32>,
    },
    Preservation {
        case: Id,
        step: u8,
        days: i64,
        text: String,
    },
    ProposeRoles {
        user: Id,
        roles: Vec<i32>,
        reason: String,
    },
    DecideRoles {
        id: Id,
        approve: bool,
    },
    ProposeTerm {
        channel: Id,
        kind: i32,
        code: String,
        title: String,
    },
    /// 0 approves, 1 rejects, 2 retires.
    DecideTerm {
        id: Id,
        step: u8,
        reason: String,
    },
    ListTerms {
        channel: Id,
        kind: i32,
        all: bool,
    },
    ProposeMove {
        case: Id,
        stale: bool,
        action: i32,
        reason: String,
        ground: i32,
        markings: Option<pb::Markings>,
    },
    AnswerItem {
        case: Id,
        stale: bool,
        number: i32,
        outcome: i32,
        text: String,
        ground: i32,
    },
    ExtendDeadline {
        case: Id,
        stale: bool,
        hours: i64,
        reason: i32,
        text: String,
    },
    /// Approves or rejects the move of `id`.
    DecideMove {
        id: Id,
        approve: bool,
        reason: String,
    },
    ListMoves {
        view: i32,
        case: Option<Id>,
        decided: bool,
    },
    Audit {
        actor: Id,
        page_size: i32,
        token: String,
        outcome: i32,
    },
    Login {
        username: String,
        password: String,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            id(),
            enum_value(),
            enum_value(),
            text(),
            text(),
            proptest::option::of("[0-9a-f-]{36}"),
            markings(),
            enum_value()
        )
            .prop_map(
                |(channel, category, priority, title, summary, request, markings, kind)| {
                    Op::File {
                        channel,
                        category,
                        priority,
                        title,
                        summary,
                        request,
                        markings,
                        kind,
                    }
                }
            ),
        (id(), any::<bool>(), markings(), text()).prop_map(|(case, stale, markings, reason)| {
            Op::MarkCase {
                case,
                stale,
                markings,
                reason,
            }
        }),
        (id(), id(), markings(), text()).prop_map(|(case, note, markings, reason)| {
            Op::MarkNote {
                case,
                note,
                markings,
                reason,
            }
        }),
        id().prop_map(Op::Get),
        (
            enum_value(),
            proptest::collection::vec(enum_value(), 0..10),
            prop_oneof![Just(0), Just(-5), Just(501), 1..600i32],
            any::<bool>(),
            prop_oneof![
                Just(String::new()),
                any::<String>(),
                "[A-Za-z0-9_-]{10,80}\\.[A-Za-z0-9_-]{10,50}"
            ]
        )
            .prop_map(|(view, statuses, page_size, overdue, token)| Op::List {
                view,
                statuses,
                page_size,
                overdue,
                token
            }),
        (id(), any::<bool>()).prop_map(|(case, stale)| Op::Acknowledge { case, stale }),
        (id(), text(), enum_value()).prop_map(|(case, reason, ground)| Op::Decline {
            case,
            reason,
            ground
        }),
        (id(), id()).prop_map(|(case, assignee)| Op::Assign { case, assignee }),
        (id(), enum_value()).prop_map(|(case, resolution)| Op::Close { case, resolution }),
        (id(), text()).prop_map(|(case, reason)| Op::Withdraw { case, reason }),
        (id(), text(), enum_value(), markings()).prop_map(|(case, body, visibility, markings)| {
            Op::Note {
                case,
                body,
                visibility,
                markings,
            }
        }),
        id().prop_map(Op::Notes),
        (id(), proptest::collection::vec(enum_value(), 0..5), text()).prop_map(
            |(user, roles, reason)| Op::ProposeRoles {
                user,
                roles,
                reason
            }
        ),
        (id(), any::<bool>()).prop_map(|(id, approve)| Op::DecideRoles { id, approve }),
        (
            id(),
            enum_value(),
            prop_oneof![text(), "[A-Z0-9][A-Z0-9_-]{0,33}"],
            text()
        )
            .prop_map(|(channel, kind, code, title)| Op::ProposeTerm {
                channel,
                kind,
                code,
                title
            }),
        (id(), 0..3u8, text()).prop_map(|(id, step, reason)| Op::DecideTerm { id, step, reason }),
        (
            id(),
            any::<bool>(),
            enum_value(),
            text(),
            enum_value(),
            markings()
        )
            .prop_map(
                |(case, stale, action, reason, ground, markings)| Op::ProposeMove {
                    case,
                    stale,
                    action,
                    reason,
                    ground,
                    markings
                }
            ),
        (
            id(),
            any::<bool>(),
            prop_oneof![Just(0), Just(1), Just(2), any::<i32>()],
            enum_value(),
            text(),
            enum_value()
        )
            .prop_map(
                |(case, stale, number, outcome, text, ground)| Op::AnswerItem {
                    case,
                    stale,
                    number,
                    outcome,
                    text,
                    ground
                }
            ),
        (
            id(),
            any::<bool>(),
            prop_oneof![Just(-1), Just(1), Just(48), any::<i64>()],
            enum_value(),
            text()
        )
            .prop_map(|(case, stale, hours, reason, text)| Op::ExtendDeadline {
                case,
                stale,
                hours,
                reason,
                text
            }),
        (id(), any::<bool>(), text()).prop_map(|(id, approve, reason)| Op::DecideMove {
            id,
            approve,
            reason
        }),
        (enum_value(), proptest::option::of(id()), any::<bool>()).prop_map(
            |(view, case, decided)| Op::ListMoves {
                view,
                case,
                decided
            }
        ),
        (id(), enum_value(), any::<bool>()).prop_map(|(channel, kind, all)| Op::ListTerms {
            channel,
            kind,
            all
        }),
        (id(), 0..3u8, prop_oneof![Just(-1i64), 0..200i64], text()).prop_map(
            |(case, step, days, text)| Op::Preservation {
                case,
                step,
                days,
                text
            }
        ),
        id().prop_map(Op::Events),
        (
            text(),
            text(),
            proptest::collection::vec(enum_value(), 0..6),
            text()
        )
            .prop_map(|(username, display, roles, password)| Op::CreateUser {
                username,
                display,
                roles,
                password
            }),
        (
            id(),
            proptest::collection::vec(enum_value(), 0..5),
            proptest::option::of(any::<bool>())
        )
            .prop_map(|(user, roles, disabled)| Op::UpdateUser {
                user,
                roles,
                disabled
            }),
        (id(), proptest::collection::vec(enum_value(), 0..5)).prop_map(|(partner, categories)| {
            Op::Propose {
                partner,
                categories,
            }
        }),
        (
            id(),
            prop_oneof![Just(0), Just(-1), Just(501), 1..100i32],
            prop_oneof![Just(String::new()), any::<String>()],
            enum_value()
        )
            .prop_map(|(actor, page_size, token, outcome)| Op::Audit {
                actor,
                page_size,
                token,
                outcome
            }),
        (text(), text()).prop_map(|(username, password)| Op::Login { username, password }),
    ]
}

/// What a successful call returned that scope rules apply to.
enum Seen {
    Nothing,
    Cases(Vec<pb::Case>),
    Notes(Vec<pb::Note>),
}

struct Harness {
    world: World,
    cases: Vec<pb::Case>,
    term: pb::ChannelTerm,
    case_move: pb::CaseMove,
    raw: DatabaseConnection,
}

impl Harness {
    fn client(&self, who: Who) -> Client {
        let w = &self.world;
        match who {
            Who::Anonymous => w.server.anonymous(),
            Who::OfficerIn => w.officer_in.clone(),
            Who::OfficerCa => w.officer_ca.clone(),
            Who::OfficerCa2 => w.officer_ca2.clone(),
            Who::SupIn => w.sup_in.clone(),
            Who::SupCa => w.sup_ca.clone(),
            Who::AuditorIn => w.auditor_in.clone(),
            Who::AdminCa => w.admin_ca.clone(),
            Who::SupUs => w.sup_us.clone(),
        }
    }

    fn id(&self, id: &Id) -> String {
        match id {
            Id::ExistingCase(i) => self.cases[i % self.cases.len()].id.clone(),
            Id::Channel => self.world.channel.id.clone(),
            Id::Term => self.term.id.clone(),
            Id::Move => self.case_move.id.clone(),
            Id::User(who) => self.client(*who).user_id,
            Id::Random => uuid::Uuid::new_v4().to_string(),
            Id::Raw(raw) => raw.clone(),
        }
    }

    /// The etag the case has now, or a stale one.
    async fn etag(&self, id: &str, stale: bool) -> String {
        if stale {
            return "1-000000000000".into();
        }
        self.world
            .sup_ca
            .cases()
            .get_case(pb::GetCaseRequest { id: id.into() })
            .await
            .map(|c| c.into_inner().etag)
            .unwrap_or_default()
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.world.server.sealed().await;
        let row = self
            .raw
            .query_one(sea_orm::Statement::from_string(
                self.raw.get_database_backend(),
                sql.to_string(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// A digest of everything a call could change.
    async fn state(&self) -> Vec<i64> {
        let mut digest = Vec::new();
        for sql in [
            "SELECT COUNT(*) AS n FROM cases",
            "SELECT CAST(COALESCE(SUM(version), 0) AS BIGINT) AS n FROM cases",
            "SELECT COUNT(*) AS n FROM case_notes",
            "SELECT CAST(COALESCE(SUM(handling * 100 + source_reliability * 10 + information_accuracy), 0) AS BIGINT) AS n FROM cases",
            "SELECT CAST(COALESCE(SUM(handling * 100 + source_reliability * 10 + information_accuracy), 0) AS BIGINT) AS n FROM case_notes",
            "SELECT COUNT(*) AS n FROM case_events",
            "SELECT COUNT(*) AS n FROM users",
            "SELECT CAST(COALESCE(SUM(roles), 0) AS BIGINT) AS n FROM users",
            "SELECT COUNT(*) AS n FROM users WHERE disabled",
            "SELECT COUNT(*) AS n FROM channels",
            "SELECT COUNT(*) AS n FROM channel_terms",
            "SELECT CAST(COALESCE(SUM(status), 0) AS BIGINT) AS n FROM channel_terms",
            "SELECT COUNT(*) AS n FROM case_moves",
            "SELECT CAST(COALESCE(SUM(status), 0) AS BIGINT) AS n FROM case_moves",
        ] {
            digest.push(self.scalar(sql).await);
        }
        digest
    }

    async fn run(&self, who: Who, op: &Op) -> (Code, Seen) {
        let c = self.client(who);
        let code = |r: Result<(), tonic::Status>| r.map_or_else(|s| s.code(), |()| Code::Ok);
        match op {
            Op::File {
                channel,
                category,
                priority,
                title,
                summary,
                request,
                markings,
                kind,
            } => {
                let request = pb::FileReferralRequest {
                    legal_basis_id: String::new(),
                    items: Vec::new(),
                    category_code: String::new(),
                    preservation: (*kind == pb::RequestKind::Preservation as i32).then(|| {
                        pb::PreservationOrder {
                            data: title.clone(),
                            custodian: summary.clone(),
                            offence: "offence".into(),
                            necessity: "necessity".into(),
                            formal_request: "formal request".into(),
                        }
                    }),
                    kind: *kind,
                    markings: markings.clone(),
                    request_id: request
                        .clone()
                        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                    channel_id: self.id(channel),
                    category: *category,
                    priority: *priority,
                    title: title.clone(),
                    summary: summary.clone(),
                };
                match c.cases().file_referral(request).await {
                    Ok(r) => (Code::Ok, Seen::Cases(vec![r.into_inner()])),
                    Err(s) => (s.code(), Seen::Nothing),
                }
            }
            Op::Get(id) => match c
                .cases()
                .get_case(pb::GetCaseRequest { id: self.id(id) })
                .await
            {
                Ok(r) => (Code::Ok, Seen::Cases(vec![r.into_inner()])),
                Err(s) => (s.code(), Seen::Nothing),
            },
            Op::List {
                view,
                statuses,
                page_size,
                overdue,
                token,
            } => {
                let request = pb::ListCasesRequest {
                    view: *view,
                    statuses: statuses.clone(),
                    page_size: *page_size,
                    overdue_only: *overdue,
                    page_token: token.clone(),
                    ..Default::default()
                };
                match c.cases().list_cases(request).await {
                    Ok(r) => (Code::Ok, Seen::Cases(r.into_inner().cases)),
                    Err(s) => (s.code(), Seen::Nothing),
                }
            }
            Op::Acknowledge { case, stale } => {
                let id = self.id(case);
                let etag = self.etag(&id, *stale).await;
                (
                    code(
                        c.cases()
                            .acknowledge_case(pb::AcknowledgeCaseRequest { id, etag })
                            .await
                            .map(|_| ()),
                    ),
                    Seen::Nothing,
                )
            }
            Op::Decline {
                case,
                reason,
                ground,
            } => {
                let id = self.id(case);
                let etag = self.etag(&id, false).await;
                let request = pb::DeclineCaseRequest {
                    ground: *ground,
                    id,
                    etag,
                    reason: reason.clone(),
                };
                (
                    code(c.cases().decline_case(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Assign { case, assignee } => {
                let id = self.id(case);
                let etag = self.etag(&id, false).await;
                let request = pb::AssignCaseRequest {
                    id,
                    etag,
                    assignee_id: self.id(assignee),
                };
                (
                    code(c.cases().assign_case(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Close { case, resolution } => {
                let id = self.id(case);
                let etag = self.etag(&id, false).await;
                let request = pb::CloseCaseRequest {
                    id,
                    etag,
                    resolution: *resolution,
                };
                (
                    code(c.cases().close_case(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Withdraw { case, reason } => {
                let id = self.id(case);
                let etag = self.etag(&id, false).await;
                let request = pb::WithdrawCaseRequest {
                    id,
                    etag,
                    reason: reason.clone(),
                };
                (
                    code(c.cases().withdraw_case(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Note {
                case,
                body,
                visibility,
                markings,
            } => {
                let request = pb::AddNoteRequest {
                    markings: markings.clone(),
                    case_id: self.id(case),
                    body: body.clone(),
                    visibility: *visibility,
                };
                (
                    code(c.cases().add_note(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::MarkCase {
                case,
                stale,
                markings,
                reason,
            } => {
                let id = self.id(case);
                let etag = self.etag(&id, *stale).await;
                let request = pb::UpdateCaseMarkingsRequest {
                    id,
                    etag,
                    markings: markings.clone(),
                    reason: reason.clone(),
                };
                match c.cases().update_case_markings(request).await {
                    Ok(r) => (Code::Ok, Seen::Cases(vec![r.into_inner()])),
                    Err(s) => (s.code(), Seen::Nothing),
                }
            }
            Op::MarkNote {
                case,
                note,
                markings,
                reason,
            } => {
                let request = pb::UpdateNoteMarkingsRequest {
                    case_id: self.id(case),
                    note_id: self.id(note),
                    markings: markings.clone(),
                    reason: reason.clone(),
                };
                match c.cases().update_note_markings(request).await {
                    Ok(r) => (Code::Ok, Seen::Notes(vec![r.into_inner()])),
                    Err(s) => (s.code(), Seen::Nothing),
                }
            }
            Op::Notes(case) => match c
                .cases()
                .list_notes(pb::ListNotesRequest {
                    case_id: self.id(case),
                    ..Default::default()
                })
                .await
            {
                Ok(r) => (Code::Ok, Seen::Notes(r.into_inner().notes)),
                Err(s) => (s.code(), Seen::Nothing),
            },
            Op::Events(case) => {
                let request = pb::ListCaseEventsRequest {
                    case_id: self.id(case),
                    ..Default::default()
                };
                (
                    code(c.cases().list_case_events(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::CreateUser {
                username,
                display,
                roles,
                password,
            } => {
                let request = pb::CreateUserRequest {
                    username: username.clone(),
                    display_name: display.clone(),
                    roles: roles.clone(),
                    password: password.clone(),
                };
                (
                    code(c.admin().create_user(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::UpdateUser {
                user,
                roles,
                disabled,
            } => {
                let target = self.id(user);
                // Keep the world's own users usable: only touch users the properties made.
                if self.world_user_ids().contains(&target) {
                    return (Code::Ok, Seen::Nothing);
                }
                let request = pb::UpdateUserRequest {
                    id: target,
                    set_roles: !roles.is_empty(),
                    roles: roles.clone(),
                    disabled: *disabled,
                    ..Default::default()
                };
                (
                    code(c.admin().update_user(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Propose {
                partner,
                categories,
            } => {
                let request = pb::ProposeChannelRequest {
                    partner_agency_id: self.id(partner),
                    categories: categories.clone(),
                };
                (
                    code(c.admin().propose_channel(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Audit {
                actor,
                page_size,
                token,
                outcome,
            } => {
                let request = pb::QueryAuditLogRequest {
                    actor_id: self.id(actor),
                    page_size: *page_size,
                    page_token: token.clone(),
                    outcome: *outcome,
                    ..Default::default()
                };
                (
                    code(c.audit().query_audit_log(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Preservation {
                case,
                step,
                days,
                text,
            } => {
                let id = self.id(case);
                let etag = self.etag(&id, false).await;
                let until = Some(prost_types::Timestamp {
                    seconds: chrono::Utc::now().timestamp() + days * 86_400,
                    nanos: 0,
                });
                let mut cases = c.cases();
                let result = match step {
                    0 => cases
                        .confirm_preservation(pb::ConfirmPreservationRequest {
                            id,
                            etag,
                            preserved_until: until,
                        })
                        .await
                        .map(|_| ()),
                    1 => cases
                        .extend_preservation(pb::ExtendPreservationRequest {
                            id,
                            etag,
                            preserved_until: until,
                            reason: text.clone(),
                        })
                        .await
                        .map(|_| ()),
                    _ => cases
                        .supersede_preservation(pb::SupersedePreservationRequest {
                            id,
                            etag,
                            formal_request: text.clone(),
                        })
                        .await
                        .map(|_| ()),
                };
                (code(result), Seen::Nothing)
            }
            Op::ProposeRoles {
                user,
                roles,
                reason,
            } => {
                let request = pb::ProposeRoleChangeRequest {
                    user_id: self.id(user),
                    roles: roles.clone(),
                    reason: reason.clone(),
                };
                (
                    code(c.admin().propose_role_change(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::DecideRoles { id, approve } => {
                let id = self.id(id);
                let result = if *approve {
                    c.admin()
                        .approve_role_change(pb::ApproveRoleChangeRequest {
                            id,
                            reason: String::new(),
                        })
                        .await
                        .map(|_| ())
                } else {
                    c.admin()
                        .reject_role_change(pb::RejectRoleChangeRequest {
                            id,
                            reason: String::new(),
                        })
                        .await
                        .map(|_| ())
                };
                (code(result), Seen::Nothing)
            }
            Op::ProposeTerm {
                channel,
                kind,
                code: term_code,
                title,
            } => {
                let request = pb::ProposeChannelTermRequest {
                    channel_id: self.id(channel),
                    kind: *kind,
                    code: term_code.clone(),
                    title: title.clone(),
                    reference: String::new(),
                    notes: String::new(),
                    duration: None,
                    percent: 0,
                };
                (
                    code(c.admin().propose_channel_term(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::DecideTerm { id, step, reason } => {
                let id = self.id(id);
                let reason = reason.clone();
                let mut admin = c.admin();
                let result = match step {
                    0 => admin
                        .approve_channel_term(pb::ApproveChannelTermRequest { id, reason })
                        .await
                        .map(|_| ()),
                    1 => admin
                        .reject_channel_term(pb::RejectChannelTermRequest { id, reason })
                        .await
                        .map(|_| ()),
                    _ => admin
                        .retire_channel_term(pb::RetireChannelTermRequest { id, reason })
                        .await
                        .map(|_| ()),
                };
                (code(result), Seen::Nothing)
            }
            Op::ListTerms { channel, kind, all } => {
                let request = pb::ListChannelTermsRequest {
                    channel_id: self.id(channel),
                    kind: *kind,
                    include_inactive: *all,
                };
                (
                    code(c.directory().list_channel_terms(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::ProposeMove {
                case,
                stale,
                action,
                reason,
                ground,
                markings,
            } => {
                let case_id = self.id(case);
                let etag = self.etag(&case_id, *stale).await;
                let request = pb::ProposeCaseMoveRequest {
                    case_id,
                    etag,
                    action: *action,
                    reason: reason.clone(),
                    ground: *ground,
                    markings: markings.clone(),
                    note_id: String::new(),
                };
                (
                    code(c.cases().propose_case_move(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::AnswerItem {
                case,
                stale,
                number,
                outcome,
                text,
                ground,
            } => {
                let case_id = self.id(case);
                let etag = self.etag(&case_id, *stale).await;
                let request = pb::AnswerRequestItemRequest {
                    case_id,
                    etag,
                    number: *number,
                    outcome: *outcome,
                    answer: text.clone(),
                    ground: *ground,
                };
                (
                    code(c.cases().answer_request_item(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::ExtendDeadline {
                case,
                stale,
                hours,
                reason,
                text,
            } => {
                let id = self.id(case);
                let etag = self.etag(&id, *stale).await;
                let now = chrono::Utc::now().timestamp();
                let request = pb::ExtendDeadlineRequest {
                    id,
                    etag,
                    due_at: Some(prost_types::Timestamp {
                        seconds: now.saturating_add(hours.saturating_mul(3600)),
                        nanos: 0,
                    }),
                    reason: *reason,
                    text: text.clone(),
                };
                (
                    code(c.cases().extend_deadline(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::DecideMove {
                id,
                approve,
                reason,
            } => {
                let id = self.id(id);
                let reason = reason.clone();
                let mut cases = c.cases();
                let result = if *approve {
                    cases
                        .approve_case_move(pb::ApproveCaseMoveRequest { id, reason })
                        .await
                        .map(|_| ())
                } else {
                    cases
                        .reject_case_move(pb::RejectCaseMoveRequest { id, reason })
                        .await
                        .map(|_| ())
                };
                (code(result), Seen::Nothing)
            }
            Op::ListMoves {
                view,
                case,
                decided,
            } => {
                let request = pb::ListCaseMovesRequest {
                    view: *view,
                    case_id: case.as_ref().map(|c| self.id(c)).unwrap_or_default(),
                    include_decided: *decided,
                };
                (
                    code(c.cases().list_case_moves(request).await.map(|_| ())),
                    Seen::Nothing,
                )
            }
            Op::Login { username, password } => {
                let request = pb::LoginRequest {
                    username: username.clone(),
                    password: password.clone(),
                };
                (
                    code(
                        self.world
                            .server
                            .anonymous()
                            .auth()
                            .login(request)
                            .await
                            .map(|_| ()),
                    ),
                    Seen::Nothing,
                )
            }
        }
    }

    fn world_user_ids(&self) -> Vec<String> {
        let w = &self.world;
        [
            &w.admin_in,
            &w.admin_ca,
            &w.sup_in,
            &w.sup_ca,
            &w.officer_in,
            &w.officer_ca,
            &w.officer_ca2,
            &w.auditor_in,
            &w.auditor_ca,
            &w.sup_us,
        ]
        .iter()
        .map(|c| c.user_id.clone())
        .collect()
    }

    /// Whether `who` may see `case`, by the role table.
    fn may_see(&self, who: Who, case: &pb::Case) -> bool {
        let w = &self.world;
        let agency_of = |who: Who| match who {
            Who::OfficerIn | Who::SupIn | Who::AuditorIn => w.in_ncb.id.clone(),
            Who::OfficerCa | Who::OfficerCa2 | Who::SupCa | Who::AdminCa => w.ca_rcmp.id.clone(),
            Who::SupUs => w.us_fbi.id.clone(),
            Who::Anonymous => String::new(),
        };
        let agency = agency_of(who);
        let user = self.client(who).user_id;
        match who {
            Who::SupIn | Who::SupCa | Who::SupUs => {
                case.originating_agency_id == agency || case.receiving_agency_id == agency
            }
            Who::OfficerIn | Who::OfficerCa | Who::OfficerCa2 => {
                case.filed_by == user || case.assignee_id == user
            }
            Who::Anonymous | Who::AuditorIn | Who::AdminCa => false,
        }
    }
}

const DOCUMENTED: [Code; 9] = [
    Code::Ok,
    Code::Unauthenticated,
    Code::PermissionDenied,
    Code::NotFound,
    Code::InvalidArgument,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::AlreadyExists,
    Code::ResourceExhausted,
];

fn run_properties(backend: Backend, cases: u32) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let harness = runtime.block_on(async {
        let world = World::new(backend).await;
        let mut cases = Vec::new();
        cases.push(world.case_in_progress("Property case A").await);
        // A request with numbered items, in progress.
        let mut asking = world.referral("Property case B", pb::Priority::Routine);
        asking.items = vec![
            "Subscriber of +1 604 555 0100".into(),
            "Waybill 1234".into(),
        ];
        let filed = world
            .officer_in
            .cases()
            .file_referral(asking)
            .await
            .expect("file with items")
            .into_inner();
        let acked = world
            .sup_ca
            .cases()
            .acknowledge_case(pb::AcknowledgeCaseRequest {
                id: filed.id,
                etag: filed.etag,
            })
            .await
            .expect("acknowledge")
            .into_inner();
        cases.push(
            world
                .sup_ca
                .cases()
                .assign_case(pb::AssignCaseRequest {
                    id: acked.id,
                    etag: acked.etag,
                    assignee_id: world.officer_ca.user_id.clone(),
                })
                .await
                .expect("assign")
                .into_inner(),
        );
        cases.push(
            world
                .file(&world.officer_in, "Property case C", pb::Priority::Urgent)
                .await,
        );
        cases.push(
            world
                .file(&world.sup_ca, "Property case D", pb::Priority::Routine)
                .await,
        );
        let term = world
            .admin_in
            .admin()
            .propose_channel_term(pb::ProposeChannelTermRequest {
                channel_id: world.channel.id.clone(),
                kind: pb::TermKind::LegalBasis as i32,
                code: "CA-IN-MLAT".into(),
                title: "Canada-India Mutual Legal Assistance Treaty".into(),
                reference: String::new(),
                notes: String::new(),
                duration: None,
                percent: 0,
            })
            .await
            .expect("propose a term")
            .into_inner();
        // A rule in force, and a move it put under four eyes.
        let rule = world
            .admin_in
            .admin()
            .propose_channel_term(pb::ProposeChannelTermRequest {
                channel_id: world.channel.id.clone(),
                kind: pb::TermKind::Rule as i32,
                code: "FOUR_EYES_CLOSE_NO_ACTION".into(),
                ..Default::default()
            })
            .await
            .expect("propose a rule")
            .into_inner();
        world
            .admin_ca
            .admin()
            .approve_channel_term(pb::ApproveChannelTermRequest {
                id: rule.id,
                reason: String::new(),
            })
            .await
            .expect("agree the rule");
        let case_move = world
            .officer_ca
            .cases()
            .propose_case_move(pb::ProposeCaseMoveRequest {
                case_id: cases[0].id.clone(),
                etag: cases[0].etag.clone(),
                action: pb::MoveAction::CloseNoAction as i32,
                ..Default::default()
            })
            .await
            .expect("propose a move")
            .into_inner();
        let raw = world.server.raw_db().await;
        Harness {
            world,
            cases,
            term,
            case_move,
            raw,
        }
    });
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&(who(), op()), |(who, op)| {
        runtime.block_on(async {
            let before = harness.state().await;
            let flush = || async {
                liaison_server::domain::call::flush_refusals(&harness.world.server.state).await.unwrap();
            };
            flush().await;
            let head_before = harness.scalar("SELECT COALESCE(MAX(seq), 0) AS n FROM audit_entries").await;
            let (code, seen) = harness.run(who, &op).await;
            prop_assert!(DOCUMENTED.contains(&code), "{who:?} {op:?} answered {code:?}");
            // Refusals before authentication are counted into a summary entry.
            flush().await;
            let calls_recorded = harness
                .scalar(&format!("SELECT CAST(COALESCE(SUM(COALESCE(refusals, 1)), 0) AS BIGINT) AS n FROM audit_entries WHERE seq > {head_before}"))
                .await;
            let skipped = matches!(&op, Op::UpdateUser { user, .. } if harness.world_user_ids().contains(&harness.id(user)));
            if !skipped {
                // Reads that fetch the current etag first add their own entries.
                let helper_reads = match &op {
                    Op::Acknowledge { stale: false, .. } | Op::MarkCase { stale: false, .. } | Op::ProposeMove { stale: false, .. } | Op::AnswerItem { stale: false, .. } | Op::ExtendDeadline { stale: false, .. } | Op::Preservation { .. } | Op::Decline { .. } | Op::Assign { .. } | Op::Close { .. } | Op::Withdraw { .. } => 1,
                    _ => 0,
                };
                prop_assert_eq!(calls_recorded, 1 + helper_reads, "{:?} {:?}: one entry per call, or one count in a summary", who, op);
                let last = harness
                    .scalar("SELECT CAST(status_code AS BIGINT) AS n FROM audit_entries WHERE seq = (SELECT MAX(seq) FROM audit_entries)")
                    .await;
                prop_assert_eq!(last, code as i64, "{:?} {:?}: the entry records the status", who, op);
            }
            if code != Code::Ok {
                prop_assert_eq!(harness.state().await, before, "{:?} {:?} failed but changed something", who, op);
            }
            match seen {
                Seen::Cases(cases) => {
                    for case in cases {
                        prop_assert!(harness.may_see(who, &case), "{:?} saw {} outside their scope", who, case.id);
                    }
                }
                Seen::Notes(notes) => {
                    for note in notes {
                        if note.visibility == pb::NoteVisibility::Internal as i32 {
                            let own = match who {
                                Who::OfficerIn | Who::SupIn => note.author_agency_id == harness.world.in_ncb.id,
                                Who::OfficerCa | Who::OfficerCa2 | Who::SupCa => note.author_agency_id == harness.world.ca_rcmp.id,
                                _ => false,
                            };
                            prop_assert!(own, "{:?} read another agency's internal note", who);
                        }
                    }
                }
                Seen::Nothing => {}
            }
            Ok(())
        })
    });
    runtime.block_on(async move {
        harness.raw.close().await.ok();
        harness.world.stop().await;
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn every_rpc_holds_its_properties_on_sqlite() {
    run_properties(Backend::Sqlite, 300);
}

#[test]
#[cfg_attr(
    not(liaison_test_postgres),
    ignore = "PostgreSQL: set LIAISON_TEST_POSTGRES_URL to run it"
)]
fn every_rpc_holds_its_properties_on_postgres() {
    if let Some(backend) = Backend::postgres() {
        run_properties(backend, 150);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, ..ProptestConfig::default() })]

    /// The fuzz targets' entry points, on stable: arbitrary bytes never panic.
    #[test]
    fn fuzz_entry_points_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        liaison_server::fuzzing::page_token(&data);
        liaison_server::fuzzing::request(&data);
    }
}
