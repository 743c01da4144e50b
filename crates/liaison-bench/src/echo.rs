//! The gRPC stack's limit here: a bare tonic server answering `CaseService` with messages shaped
//! like the real ones, from memory, with no database, no authentication and no audit. The load
//! generator drives it exactly as it drives `liaisond`.

use std::net::SocketAddr;
use std::pin::Pin;

use liaison_proto as pb;
use pb::case_service_server::{CaseService, CaseServiceServer};
use tonic::{Request, Response, Status};

#[derive(Clone, Default)]
struct Echo;

fn now() -> prost_types::Timestamp {
    let t = chrono::Utc::now();
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

fn case(id: String, channel_id: String, title: String, summary: String) -> pb::Case {
    pb::Case {
        reference: "IN-CA-DRUGS-2026-000001".into(),
        channel_id,
        category: pb::Category::Drugs as i32,
        priority: pb::Priority::Routine as i32,
        title,
        summary,
        originating_agency_id: uuid::Uuid::nil().to_string(),
        receiving_agency_id: uuid::Uuid::nil().to_string(),
        filed_by: uuid::Uuid::nil().to_string(),
        status: pb::CaseStatus::Filed as i32,
        filed_at: Some(now()),
        updated_at: Some(now()),
        acknowledge_due_at: Some(now()),
        etag: "v1".into(),
        id,
        ..Default::default()
    }
}

fn stored(id: &str) -> pb::Case {
    case(
        id.to_string(),
        uuid::Uuid::nil().to_string(),
        "Courier consignment".into(),
        "Parcel routed through a freight forwarder with a declared value far below its weight."
            .into(),
    )
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

type Answer<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl CaseService for Echo {
    type WatchCasesStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::WatchCasesResponse, Status>> + Send>>;

    async fn file_referral(&self, r: Request<pb::FileReferralRequest>) -> Answer<pb::Case> {
        let m = r.into_inner();
        Ok(Response::new(case(
            new_id(),
            m.channel_id,
            m.title,
            m.summary,
        )))
    }
    async fn get_case(&self, r: Request<pb::GetCaseRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn list_cases(&self, r: Request<pb::ListCasesRequest>) -> Answer<pb::ListCasesResponse> {
        let size = r.into_inner().page_size.clamp(1, 500);
        Ok(Response::new(pb::ListCasesResponse {
            cases: (0..size).map(|_| stored(&new_id())).collect(),
            next_page_token: "next".into(),
        }))
    }
    async fn acknowledge_case(&self, r: Request<pb::AcknowledgeCaseRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn decline_case(&self, r: Request<pb::DeclineCaseRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn assign_case(&self, r: Request<pb::AssignCaseRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn request_information(
        &self,
        r: Request<pb::RequestInformationRequest>,
    ) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn provide_information(
        &self,
        r: Request<pb::ProvideInformationRequest>,
    ) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn close_case(&self, r: Request<pb::CloseCaseRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn reopen_case(&self, r: Request<pb::ReopenCaseRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn withdraw_case(&self, r: Request<pb::WithdrawCaseRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn add_note(&self, r: Request<pb::AddNoteRequest>) -> Answer<pb::Note> {
        let m = r.into_inner();
        Ok(Response::new(pb::Note {
            id: new_id(),
            case_id: m.case_id,
            visibility: m.visibility,
            body: m.body,
            created_at: Some(now()),
            ..Default::default()
        }))
    }
    async fn confirm_preservation(
        &self,
        r: Request<pb::ConfirmPreservationRequest>,
    ) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn extend_preservation(
        &self,
        r: Request<pb::ExtendPreservationRequest>,
    ) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn supersede_preservation(
        &self,
        r: Request<pb::SupersedePreservationRequest>,
    ) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn answer_request_item(
        &self,
        r: Request<pb::AnswerRequestItemRequest>,
    ) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().case_id)))
    }
    async fn extend_deadline(&self, r: Request<pb::ExtendDeadlineRequest>) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn propose_case_move(
        &self,
        r: Request<pb::ProposeCaseMoveRequest>,
    ) -> Answer<pb::CaseMove> {
        let m = r.into_inner();
        Ok(Response::new(pb::CaseMove {
            id: new_id(),
            case_id: m.case_id,
            action: m.action,
            reason: m.reason,
            status: pb::MoveStatus::Pending as i32,
            ..Default::default()
        }))
    }
    async fn list_case_moves(
        &self,
        _r: Request<pb::ListCaseMovesRequest>,
    ) -> Answer<pb::ListCaseMovesResponse> {
        Ok(Response::new(pb::ListCaseMovesResponse::default()))
    }
    async fn approve_case_move(
        &self,
        r: Request<pb::ApproveCaseMoveRequest>,
    ) -> Answer<pb::CaseMove> {
        Ok(Response::new(pb::CaseMove {
            id: r.into_inner().id,
            status: pb::MoveStatus::Approved as i32,
            ..Default::default()
        }))
    }
    async fn reject_case_move(
        &self,
        r: Request<pb::RejectCaseMoveRequest>,
    ) -> Answer<pb::CaseMove> {
        Ok(Response::new(pb::CaseMove {
            id: r.into_inner().id,
            status: pb::MoveStatus::Rejected as i32,
            ..Default::default()
        }))
    }
    async fn update_case_markings(
        &self,
        r: Request<pb::UpdateCaseMarkingsRequest>,
    ) -> Answer<pb::Case> {
        Ok(Response::new(stored(&r.into_inner().id)))
    }
    async fn update_note_markings(
        &self,
        r: Request<pb::UpdateNoteMarkingsRequest>,
    ) -> Answer<pb::Note> {
        let m = r.into_inner();
        Ok(Response::new(pb::Note {
            id: m.note_id,
            case_id: m.case_id,
            markings: m.markings,
            created_at: Some(now()),
            ..Default::default()
        }))
    }
    async fn list_notes(&self, _: Request<pb::ListNotesRequest>) -> Answer<pb::ListNotesResponse> {
        Ok(Response::new(pb::ListNotesResponse::default()))
    }
    async fn list_case_events(
        &self,
        _: Request<pb::ListCaseEventsRequest>,
    ) -> Answer<pb::ListCaseEventsResponse> {
        Ok(Response::new(pb::ListCaseEventsResponse::default()))
    }
    async fn watch_cases(
        &self,
        _: Request<pb::WatchCasesRequest>,
    ) -> Answer<Self::WatchCasesStream> {
        // Nothing ever happens here: the stream ends at once.
        Ok(Response::new(Box::pin(tokio_stream::empty())))
    }
}

/// Serves the echo on `listen` until the process ends; prints the address it bound.
pub async fn serve(listen: SocketAddr) -> crate::BenchResult<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("echo serving on {addr}");
    tonic::transport::Server::builder()
        .add_service(CaseServiceServer::new(Echo))
        .serve_with_incoming(liaison_server::without_nagle(listener))
        .await
        .map_err(|e| format!("echo server: {e}"))
}
