//! `liaison.v1.CaseService`.

use tonic::{Request, Response, Status};

use super::people::named;
use super::{convert, watch, Api};
use crate::authz::CaseScope;
use crate::domain::call::Call;
use crate::domain::cases::{self, CaseFilter, CaseListing, NewReferral, TimelinePage};
use crate::domain::deadlines::{self, Extension};
use crate::domain::items::Reply;
use crate::domain::lifecycle::Move;
use crate::domain::moves::{self, Decision as MoveDecision, MoveListing, Proposal};
use crate::domain::paging;
use crate::domain::preservation::PreservationMove;
use crate::domain::watch as watch_domain;
use crate::error::AppResult;
use crate::limits::{
    MAX_ID_CHARS, MAX_NAME_CHARS, MAX_REASON_CHARS, MAX_REQUEST_ITEMS, MAX_TEXT_CHARS,
};
use crate::model::{
    Case, CaseId, CaseOrder, CaseStatus, CaseView, ExtensionReason, ItemOutcome, Markings,
    MoveAction, MoveId, NoteId, NoteVisibility, Priority, RefusalGround, RequestKind, Resolution,
    TermId,
};
use crate::pb::{self, case_service_server::CaseService};
use crate::state::AppState;
use crate::validate::{self, checked, Violations};

impl TryFrom<&pb::FileReferralRequest> for NewReferral {
    type Error = crate::error::AppError;

    fn try_from(m: &pb::FileReferralRequest) -> AppResult<Self> {
        let mut v = Violations::new();
        let request_id = v.check("request_id", validate::uuid(&m.request_id));
        let channel_id = v.check("channel_id", validate::uuid(&m.channel_id));
        let category = convert::category(
            &mut v,
            "category",
            m.category,
            "category_code",
            &m.category_code,
        );
        if category.is_none() && m.category == 0 && m.category_code.is_empty() {
            v.add("category", "must be set (or category_code)");
        }
        let priority = convert::required_enum(&mut v, "priority", m.priority, Priority::from_code);
        let title = v.check("title", validate::text(&m.title, 1, MAX_NAME_CHARS, false));
        let summary = v.check(
            "summary",
            validate::text(&m.summary, 1, MAX_TEXT_CHARS, true),
        );
        let markings = convert::markings_request(&mut v, "markings", m.markings.as_ref());
        let kind = convert::optional_enum(&mut v, "kind", m.kind, RequestKind::from_code)
            .unwrap_or(RequestKind::Request);
        let preservation = match (&m.preservation, kind) {
            (Some(order), RequestKind::Preservation) => {
                Some(convert::preservation_order(&mut v, "preservation", order))
            }
            (None, RequestKind::Preservation) => {
                v.add(
                    "preservation",
                    "is required for a PRESERVATION request: what data, held by whom, for which \
                     offence, why, and the formal request to follow",
                );
                None
            }
            (Some(_), _) => {
                v.add("preservation", "is only for kind PRESERVATION");
                None
            }
            (None, _) => None,
        };
        let legal_basis_id = v.check("legal_basis_id", validate::optional_uuid(&m.legal_basis_id));
        if !m.items.is_empty() && kind != RequestKind::Request {
            v.add("items", "only a REQUEST has numbered items");
        }
        if m.items.len() > MAX_REQUEST_ITEMS {
            v.add(
                "items",
                format!("at most {MAX_REQUEST_ITEMS} items; put the rest in the summary"),
            );
        }
        let items: Vec<String> = m
            .items
            .iter()
            .enumerate()
            .map(|(i, text)| {
                v.check(
                    &format!("items[{i}]"),
                    validate::text(text, 1, MAX_REASON_CHARS, true),
                )
            })
            .collect();
        v.finish()?;
        Ok(NewReferral {
            request_id,
            channel_id: channel_id.into(),
            category: checked(category)?,
            priority: checked(priority)?,
            title,
            summary,
            markings: markings.or(&Markings::default()),
            kind,
            preservation,
            legal_basis_id: legal_basis_id.map(TermId::from),
            items,
        })
    }
}

impl TryFrom<&pb::ListCasesRequest> for CaseListing {
    type Error = crate::error::AppError;

    fn try_from(m: &pb::ListCasesRequest) -> AppResult<Self> {
        let mut v = Violations::new();
        let view = match pb::CaseView::try_from(m.view) {
            Ok(pb::CaseView::Unspecified | pb::CaseView::All) => CaseView::All,
            Ok(pb::CaseView::Incoming) => CaseView::Incoming,
            Ok(pb::CaseView::Outgoing) => CaseView::Outgoing,
            Ok(pb::CaseView::AssignedToMe) => CaseView::AssignedToMe,
            Err(_) => {
                v.add("view", format!("unknown value {}", m.view));
                CaseView::All
            }
        };
        let order = match pb::CaseOrder::try_from(m.order) {
            Ok(pb::CaseOrder::Unspecified | pb::CaseOrder::NewestFirst) => CaseOrder::NewestFirst,
            Ok(pb::CaseOrder::DueFirst) => CaseOrder::DueFirst,
            Err(_) => {
                v.add("order", format!("unknown value {}", m.order));
                CaseOrder::NewestFirst
            }
        };
        if m.statuses.len() > CaseStatus::ALL.len() {
            v.add("statuses", "names more statuses than there are");
        }
        let mut statuses: Vec<CaseStatus> = m
            .statuses
            .iter()
            .take(CaseStatus::ALL.len())
            .filter_map(|s| convert::required_enum(&mut v, "statuses", *s, CaseStatus::from_code))
            .collect();
        statuses.sort_by_key(|s| s.code());
        statuses.dedup();
        if m.kinds.len() > RequestKind::ALL.len() {
            v.add("kinds", "names more kinds than there are");
        }
        let mut kinds: Vec<RequestKind> = m
            .kinds
            .iter()
            .take(RequestKind::ALL.len())
            .filter_map(|k| convert::required_enum(&mut v, "kinds", *k, RequestKind::from_code))
            .collect();
        kinds.sort_by_key(|k| k.code());
        kinds.dedup();
        let listing = CaseListing {
            filter: CaseFilter {
                view,
                statuses,
                kinds,
                category: convert::category(
                    &mut v,
                    "category",
                    m.category,
                    "category_code",
                    &m.category_code,
                ),
                priority: convert::optional_enum(
                    &mut v,
                    "priority",
                    m.priority,
                    Priority::from_code,
                ),
                channel_id: v.check("channel_id", validate::optional_uuid(&m.channel_id)),
                assignee_id: v.check("assignee_id", validate::optional_uuid(&m.assignee_id)),
                overdue_only: m.overdue_only,
                due_within: convert::from_duration(
                    &mut v,
                    "due_within",
                    m.due_within,
                    chrono::Duration::minutes(1),
                    chrono::Duration::days(366),
                ),
                breached_only: m.breached_only,
            },
            order,
            page_size: paging::page_size(m.page_size).unwrap_or_else(|_| {
                v.add(
                    "page_size",
                    format!("must be between 1 and {}", paging::MAX_PAGE_SIZE),
                );
                0
            }),
            page_token: (!m.page_token.is_empty()).then(|| m.page_token.clone()),
        };
        v.finish()?;
        Ok(listing)
    }
}

/// A required date a preservation keeps the data until.
fn until(v: &mut Violations, t: Option<prost_types::Timestamp>) -> Option<crate::model::Timestamp> {
    if t.is_none() {
        v.add("preserved_until", "must be set");
    }
    convert::from_timestamp(v, "preserved_until", t)
}

/// A move on one case at the version the caller saw: of its lifecycle, or of its preservation.
trait CaseChange: Send + Sized {
    fn make<'a>(
        self,
        state: &'a AppState,
        call: &'a Call,
        scope: &'a CaseScope,
        id: &'a CaseId,
        etag: &'a str,
    ) -> impl std::future::Future<Output = AppResult<Case>> + Send + 'a;
}

impl CaseChange for Move {
    fn make<'a>(
        self,
        state: &'a AppState,
        call: &'a Call,
        scope: &'a CaseScope,
        id: &'a CaseId,
        etag: &'a str,
    ) -> impl std::future::Future<Output = AppResult<Case>> + Send + 'a {
        cases::transition(state, call, scope, id, etag, self)
    }
}

impl CaseChange for Extension {
    fn make<'a>(
        self,
        state: &'a AppState,
        call: &'a Call,
        scope: &'a CaseScope,
        id: &'a CaseId,
        etag: &'a str,
    ) -> impl std::future::Future<Output = AppResult<Case>> + Send + 'a {
        deadlines::extend(state, call, scope, id, etag, self)
    }
}

/// An extension as the request asks it: a reason from the list, words for OTHER.
fn extension(m: &pb::ExtendDeadlineRequest, v: &mut Violations) -> Option<Extension> {
    let due_at = convert::from_timestamp(v, "due_at", m.due_at);
    if m.due_at.is_none() {
        v.add("due_at", "must be set: the new deadline");
    }
    let reason = convert::required_enum(v, "reason", m.reason, ExtensionReason::from_code);
    let text = convert::optional_reason(v, "text", &m.text);
    if reason == Some(ExtensionReason::Other) && m.text.is_empty() {
        v.add(
            "text",
            "is required for the reason OTHER: say why, in words",
        );
    }
    Some(Extension {
        due_at: due_at?,
        reason: reason?,
        text,
    })
}

impl CaseChange for PreservationMove {
    fn make<'a>(
        self,
        state: &'a AppState,
        call: &'a Call,
        scope: &'a CaseScope,
        id: &'a CaseId,
        etag: &'a str,
    ) -> impl std::future::Future<Output = AppResult<Case>> + Send + 'a {
        cases::preserve(state, call, scope, id, etag, self)
    }
}

impl Api {
    /// The shape every call that moves a case shares: a case id, the etag seen, and the move (of
    /// the lifecycle, or of a preservation).
    async fn change<M: Send, V: CaseChange>(
        &self,
        request: Request<M>,
        method: &str,
        id_and_etag: fn(&M) -> (&str, &str),
        parse_move: fn(&M, &mut Violations) -> Option<V>,
    ) -> Result<Response<pb::Case>, Status> {
        let started = self.begin(request, method).await;
        let result = async {
            let scope = &started.case_worker()?;
            let (id, etag) = id_and_etag(&started.message);
            started.call.concerns("case", id);
            let mut v = Violations::new();
            let id = v.check("id", validate::case_key(id));
            let etag = v.check("etag", validate::text(etag, 1, MAX_ID_CHARS, false));
            let mv = parse_move(&started.message, &mut v);
            v.finish()?;
            let id = CaseId::from(id.as_str());
            let case = checked(mv)?
                .make(&self.state, &started.call, scope, &id, &etag)
                .await?;
            Ok(named(&self.state, convert::case(case, self.state.clock.now())).await)
        }
        .await;
        self.finish(started, result).await
    }

    /// The shape of the reads of one case's parts.
    fn case_id(
        &self,
        call: &crate::domain::call::Call,
        id: &str,
        field: &str,
    ) -> AppResult<String> {
        call.concerns("case", id);
        validate::field(field, validate::case_key(id))
    }
}

impl TryFrom<&pb::WatchCasesRequest> for CaseFilter {
    type Error = crate::error::AppError;

    /// The view and filters of ListCases, validated exactly as ListCases validates them.
    fn try_from(m: &pb::WatchCasesRequest) -> AppResult<Self> {
        let as_listing = pb::ListCasesRequest {
            view: m.view,
            statuses: m.statuses.clone(),
            category: m.category,
            category_code: m.category_code.clone(),
            priority: m.priority,
            channel_id: m.channel_id.clone(),
            assignee_id: m.assignee_id.clone(),
            overdue_only: m.overdue_only,
            kinds: m.kinds.clone(),
            due_within: m.due_within,
            breached_only: m.breached_only,
            ..Default::default()
        };
        Ok(CaseListing::try_from(&as_listing)?.filter)
    }
}

#[tonic::async_trait]
impl CaseService for Api {
    type WatchCasesStream = watch::WatchStream;

    #[tracing::instrument(skip_all)]
    async fn watch_cases(
        &self,
        request: Request<pb::WatchCasesRequest>,
    ) -> Result<Response<Self::WatchCasesStream>, Status> {
        let started = self.begin(request, "CaseService/WatchCases").await;
        let call = started.call.clone();
        let result = async {
            let scope = &started.case_worker()?;
            let bearer = started.bearer()?.to_string();
            let m = &started.message;
            let filter = CaseFilter::try_from(m)?;
            let slot = self.watch.admit(scope.user_id())?;
            let token = (!m.resume_token.is_empty()).then_some(m.resume_token.as_str());
            let cursor =
                watch_domain::open(&self.state, &started.call, scope, &filter, token).await?;
            Ok(watch::Opened {
                bearer,
                filter,
                cursor,
                slot,
            })
        }
        .await;
        // The stream starts once the opening is audited; the response keeps its metadata.
        let (metadata, opened, extensions) = self.finish(started, result).await?.into_parts();
        Ok(Response::from_parts(
            metadata,
            self.stream(call, opened),
            extensions,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn file_referral(
        &self,
        request: Request<pb::FileReferralRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let started = self.begin(request, "CaseService/FileReferral").await;
        let result = async {
            let scope = &started.case_worker()?;
            started
                .call
                .concerns("channel", &started.message.channel_id);
            let new = NewReferral::try_from(&started.message)?;
            let case = cases::file(&self.state, &started.call, scope, new).await?;
            Ok(named(&self.state, convert::case(case, self.state.clock.now())).await)
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let started = self.begin(request, "CaseService/GetCase").await;
        let result = async {
            let scope = &started.case_worker()?;
            let id = self.case_id(&started.call, &started.message.id, "id")?;
            let case = cases::get(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(id.as_str()),
            )
            .await?;
            Ok(named(&self.state, convert::case(case, self.state.clock.now())).await)
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let started = self.begin(request, "CaseService/ListCases").await;
        let result = async {
            let scope = &started.case_worker()?;
            let listing = CaseListing::try_from(&started.message)?;
            let (page, next) = cases::list(&self.state, &started.call, scope, listing).await?;
            let now = self.state.clock.now();
            Ok(pb::ListCasesResponse {
                cases: named(
                    &self.state,
                    page.into_iter().map(|c| convert::case(c, now)).collect(),
                )
                .await,
                next_page_token: next.unwrap_or_default(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn acknowledge_case(
        &self,
        request: Request<pb::AcknowledgeCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/AcknowledgeCase",
            |m| (&m.id, &m.etag),
            |_, _| Some(Move::Acknowledge),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn decline_case(
        &self,
        request: Request<pb::DeclineCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/DeclineCase",
            |m| (&m.id, &m.etag),
            |m, v| {
                Some(Move::Decline {
                    reason: convert::reason(v, "reason", &m.reason),
                    ground: convert::optional_enum(v, "ground", m.ground, RefusalGround::from_code),
                })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn assign_case(
        &self,
        request: Request<pb::AssignCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/AssignCase",
            |m| (&m.id, &m.etag),
            |m, v| {
                Some(Move::Assign {
                    assignee_id: v
                        .check("assignee_id", validate::user_key(&m.assignee_id))
                        .into(),
                })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn request_information(
        &self,
        request: Request<pb::RequestInformationRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/RequestInformation",
            |m| (&m.id, &m.etag),
            |m, v| {
                Some(Move::RequestInformation {
                    question: convert::reason(v, "question", &m.question),
                })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn provide_information(
        &self,
        request: Request<pb::ProvideInformationRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/ProvideInformation",
            |m| (&m.id, &m.etag),
            |m, v| {
                Some(Move::ProvideInformation {
                    answer: convert::reason(v, "answer", &m.answer),
                })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn close_case(
        &self,
        request: Request<pb::CloseCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/CloseCase",
            |m| (&m.id, &m.etag),
            |m, v| {
                convert::required_enum(v, "resolution", m.resolution, Resolution::from_code)
                    .map(|resolution| Move::Close { resolution })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn reopen_case(
        &self,
        request: Request<pb::ReopenCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/ReopenCase",
            |m| (&m.id, &m.etag),
            |m, v| {
                Some(Move::Reopen {
                    reason: convert::reason(v, "reason", &m.reason),
                })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn withdraw_case(
        &self,
        request: Request<pb::WithdrawCaseRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/WithdrawCase",
            |m| (&m.id, &m.etag),
            |m, v| {
                let reason = convert::optional_reason(v, "reason", &m.reason);
                Some(Move::Withdraw { reason })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn add_note(
        &self,
        request: Request<pb::AddNoteRequest>,
    ) -> Result<Response<pb::Note>, Status> {
        let started = self.begin(request, "CaseService/AddNote").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            started.call.concerns("case", &m.case_id);
            let mut v = Violations::new();
            let case_id = v.check("case_id", validate::case_key(&m.case_id));
            let body = v.check("body", validate::text(&m.body, 1, MAX_TEXT_CHARS, true));
            let visibility = convert::required_enum(
                &mut v,
                "visibility",
                m.visibility,
                NoteVisibility::from_code,
            );
            let markings = convert::markings_request(&mut v, "markings", m.markings.as_ref());
            v.finish()?;
            let note = cases::add_note(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(case_id.as_str()),
                body,
                checked(visibility)?,
                markings,
            )
            .await?;
            Ok(named(&self.state, convert::note(note)).await)
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn confirm_preservation(
        &self,
        request: Request<pb::ConfirmPreservationRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/ConfirmPreservation",
            |m| (&m.id, &m.etag),
            |m, v| until(v, m.preserved_until).map(|until| PreservationMove::Confirm { until }),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn extend_preservation(
        &self,
        request: Request<pb::ExtendPreservationRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/ExtendPreservation",
            |m| (&m.id, &m.etag),
            |m, v| {
                let reason = convert::optional_reason(v, "reason", &m.reason);
                until(v, m.preserved_until).map(|until| PreservationMove::Extend { until, reason })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn extend_deadline(
        &self,
        request: Request<pb::ExtendDeadlineRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/ExtendDeadline",
            |m| (&m.id, &m.etag),
            extension,
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn supersede_preservation(
        &self,
        request: Request<pb::SupersedePreservationRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        self.change(
            request,
            "CaseService/SupersedePreservation",
            |m| (&m.id, &m.etag),
            |m, v| {
                Some(PreservationMove::Supersede {
                    formal_request: convert::reason(v, "formal_request", &m.formal_request),
                })
            },
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_case_markings(
        &self,
        request: Request<pb::UpdateCaseMarkingsRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let started = self.begin(request, "CaseService/UpdateCaseMarkings").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            started.call.concerns("case", &m.id);
            let mut v = Violations::new();
            let id = v.check("id", validate::case_key(&m.id));
            let etag = v.check("etag", validate::text(&m.etag, 1, MAX_ID_CHARS, false));
            let markings = convert::markings_change(&mut v, "markings", m.markings.as_ref());
            let why = convert::optional_reason(&mut v, "reason", &m.reason);
            v.finish()?;
            let case = cases::mark_case(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(id.as_str()),
                &etag,
                checked(markings)?,
                why,
            )
            .await?;
            Ok(named(&self.state, convert::case(case, self.state.clock.now())).await)
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn answer_request_item(
        &self,
        request: Request<pb::AnswerRequestItemRequest>,
    ) -> Result<Response<pb::Case>, Status> {
        let started = self.begin(request, "CaseService/AnswerRequestItem").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            started.call.concerns("case", &m.case_id);
            let mut v = Violations::new();
            let case_id = v.check("case_id", validate::case_key(&m.case_id));
            let etag = v.check("etag", validate::text(&m.etag, 1, MAX_ID_CHARS, false));
            if m.number < 1 {
                v.add("number", "must be an item's number, from 1");
            }
            let outcome =
                convert::required_enum(&mut v, "outcome", m.outcome, ItemOutcome::from_code);
            let answer = v.check("answer", validate::text(&m.answer, 1, MAX_TEXT_CHARS, true));
            let ground =
                convert::optional_enum(&mut v, "ground", m.ground, RefusalGround::from_code);
            match (outcome, ground) {
                (Some(ItemOutcome::Refused), None) if m.ground == 0 => v.add(
                    "ground",
                    "is required to refuse an item: one of the closed list (EU Directive \
                     2023/977 Art. 6)",
                ),
                (Some(ItemOutcome::Answered | ItemOutcome::PartlyAnswered), Some(_)) => {
                    v.add("ground", "is only for a REFUSED item")
                }
                _ => {}
            }
            v.finish()?;
            let reply = Reply {
                number: m.number,
                outcome: checked(outcome)?,
                text: answer,
                ground,
            };
            let case = cases::answer_item(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(case_id.as_str()),
                &etag,
                reply,
            )
            .await?;
            Ok(named(&self.state, convert::case(case, self.state.clock.now())).await)
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn propose_case_move(
        &self,
        request: Request<pb::ProposeCaseMoveRequest>,
    ) -> Result<Response<pb::CaseMove>, Status> {
        let started = self.begin(request, "CaseService/ProposeCaseMove").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            started.call.concerns("case", &m.case_id);
            let mut v = Violations::new();
            let case_id = v.check("case_id", validate::case_key(&m.case_id));
            let etag = v.check("etag", validate::text(&m.etag, 1, MAX_ID_CHARS, false));
            let action = convert::required_enum(&mut v, "action", m.action, MoveAction::from_code);
            let mut proposal = Proposal {
                action: action.unwrap_or(MoveAction::Release),
                reason: None,
                ground: None,
                markings: None,
                note_id: None,
            };
            // Each action takes exactly what its move needs.
            let refuse = |v: &mut Violations, field: &str, given: bool| {
                if given {
                    v.add(field, format!("is not taken by {}", proposal.action));
                }
            };
            match action {
                Some(MoveAction::Decline) => {
                    proposal.reason = Some(convert::reason(&mut v, "reason", &m.reason));
                    proposal.ground = convert::optional_enum(
                        &mut v,
                        "ground",
                        m.ground,
                        RefusalGround::from_code,
                    );
                    refuse(&mut v, "markings", m.markings.is_some());
                }
                Some(MoveAction::RelaxMarking | MoveAction::RelaxNoteMarking) => {
                    proposal.reason = Some(convert::reason(&mut v, "reason", &m.reason));
                    proposal.markings =
                        convert::markings_change(&mut v, "markings", m.markings.as_ref());
                    refuse(&mut v, "ground", m.ground != 0);
                }
                Some(MoveAction::Release | MoveAction::CloseNoAction) => {
                    refuse(&mut v, "reason", !m.reason.is_empty());
                    refuse(&mut v, "ground", m.ground != 0);
                    refuse(&mut v, "markings", m.markings.is_some());
                }
                None => {}
            }
            if action == Some(MoveAction::RelaxNoteMarking) {
                proposal.note_id = Some(NoteId::from(
                    v.check("note_id", validate::uuid(&m.note_id)).as_str(),
                ));
            } else if !m.note_id.is_empty() {
                v.add("note_id", "is only for RELAX_NOTE_MARKING");
            }
            v.finish()?;
            let view = moves::propose(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(case_id.as_str()),
                &etag,
                proposal,
            )
            .await?;
            Ok(convert::case_move(view, self.state.clock.now()))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_case_moves(
        &self,
        request: Request<pb::ListCaseMovesRequest>,
    ) -> Result<Response<pb::ListCaseMovesResponse>, Status> {
        let started = self.begin(request, "CaseService/ListCaseMoves").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            let mut v = Violations::new();
            let listing = match pb::CaseMoveView::try_from(m.view) {
                Ok(pb::CaseMoveView::Unspecified | pb::CaseMoveView::AwaitingMyApproval) => {
                    MoveListing::AwaitingMe
                }
                Ok(pb::CaseMoveView::ProposedByMe) => MoveListing::ProposedByMe,
                Ok(pb::CaseMoveView::All) => MoveListing::All,
                Err(_) => {
                    v.add("view", "is not a known view");
                    MoveListing::AwaitingMe
                }
            };
            let case_id = (!m.case_id.is_empty())
                .then(|| v.check("case_id", validate::case_key(&m.case_id)))
                .map(|id| CaseId::from(id.as_str()));
            v.finish()?;
            let found = moves::list(
                &self.state,
                &started.call,
                scope,
                listing,
                case_id.as_ref(),
                m.include_decided,
            )
            .await?;
            let now = self.state.clock.now();
            Ok(pb::ListCaseMovesResponse {
                moves: found
                    .into_iter()
                    .map(|view| convert::case_move(view, now))
                    .collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn approve_case_move(
        &self,
        request: Request<pb::ApproveCaseMoveRequest>,
    ) -> Result<Response<pb::CaseMove>, Status> {
        self.decide_move(
            request,
            "CaseService/ApproveCaseMove",
            MoveDecision::Approve,
            |m| (&m.id, &m.reason),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn reject_case_move(
        &self,
        request: Request<pb::RejectCaseMoveRequest>,
    ) -> Result<Response<pb::CaseMove>, Status> {
        self.decide_move(
            request,
            "CaseService/RejectCaseMove",
            MoveDecision::Reject,
            |m| (&m.id, &m.reason),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn update_note_markings(
        &self,
        request: Request<pb::UpdateNoteMarkingsRequest>,
    ) -> Result<Response<pb::Note>, Status> {
        let started = self.begin(request, "CaseService/UpdateNoteMarkings").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            started.call.concerns("case", &m.case_id);
            let mut v = Violations::new();
            let case_id = v.check("case_id", validate::case_key(&m.case_id));
            let note_id = v.check("note_id", validate::uuid(&m.note_id));
            let markings = convert::markings_change(&mut v, "markings", m.markings.as_ref());
            let why = convert::optional_reason(&mut v, "reason", &m.reason);
            v.finish()?;
            let note = cases::mark_note(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(case_id.as_str()),
                &NoteId::from(note_id.as_str()),
                checked(markings)?,
                why,
            )
            .await?;
            Ok(named(&self.state, convert::note(note)).await)
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_notes(
        &self,
        request: Request<pb::ListNotesRequest>,
    ) -> Result<Response<pb::ListNotesResponse>, Status> {
        let started = self.begin(request, "CaseService/ListNotes").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            let id = self.case_id(&started.call, &m.case_id, "case_id")?;
            let page = TimelinePage {
                page_size: paging::page_size(m.page_size)?,
                page_token: (!m.page_token.is_empty()).then(|| m.page_token.clone()),
            };
            let (notes, next) = cases::notes(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(id.as_str()),
                page,
            )
            .await?;
            Ok(pb::ListNotesResponse {
                notes: named(&self.state, notes.into_iter().map(convert::note).collect()).await,
                next_page_token: next.unwrap_or_default(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_case_events(
        &self,
        request: Request<pb::ListCaseEventsRequest>,
    ) -> Result<Response<pb::ListCaseEventsResponse>, Status> {
        let started = self.begin(request, "CaseService/ListCaseEvents").await;
        let result = async {
            let scope = &started.case_worker()?;
            let m = &started.message;
            let id = self.case_id(&started.call, &m.case_id, "case_id")?;
            let page = TimelinePage {
                page_size: paging::page_size(m.page_size)?,
                page_token: (!m.page_token.is_empty()).then(|| m.page_token.clone()),
            };
            let (events, next) = cases::events(
                &self.state,
                &started.call,
                scope,
                &CaseId::from(id.as_str()),
                page,
            )
            .await?;
            Ok(pb::ListCaseEventsResponse {
                events: named(
                    &self.state,
                    events.into_iter().map(convert::event).collect(),
                )
                .await,
                next_page_token: next.unwrap_or_default(),
            })
        }
        .await;
        self.finish(started, result).await
    }
}

impl Api {
    /// The shape of both decisions on a proposed move: its id, an optional reason, the decision.
    async fn decide_move<M: Send>(
        &self,
        request: Request<M>,
        method: &str,
        decision: MoveDecision,
        id_and_reason: fn(&M) -> (&String, &String),
    ) -> Result<Response<pb::CaseMove>, Status> {
        let started = self.begin(request, method).await;
        let result = async {
            let scope = &started.case_worker()?;
            let (id, reason) = id_and_reason(&started.message);
            started.call.concerns("case-move", id);
            let mut v = Violations::new();
            let id = v.check("id", validate::uuid(id));
            let reason = convert::optional_reason(&mut v, "reason", reason);
            v.finish()?;
            let view = moves::decide(
                &self.state,
                &started.call,
                scope,
                &MoveId::from(id.as_str()),
                decision,
                reason,
            )
            .await?;
            Ok(convert::case_move(view, self.state.clock.now()))
        }
        .await;
        self.finish(started, result).await
    }
}
