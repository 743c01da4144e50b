//! Request kinds and structured refusals: what a referral asks for, and why a request was declined.

use liaison_server::clock::Clock;
use liaison_server::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::common::{assert_code, Backend, Client, World};
use crate::on_both_databases;

on_both_databases!(
    spontaneous_information_is_acknowledged_never_declined,
    a_request_is_declined_on_a_ground_from_the_closed_list,
    a_preservation_request_lives_its_whole_life,
    an_unanswered_preservation_lapses_exactly_once,
    a_request_is_answered_item_by_item,
);

async fn file_kind(w: &World, title: &str, kind: pb::RequestKind) -> pb::Case {
    let mut request = w.referral(title, pb::Priority::Routine);
    request.kind = kind as i32;
    w.officer_in
        .cases()
        .file_referral(request)
        .await
        .expect("file")
        .into_inner()
}

fn decline(case: &pb::Case, ground: i32) -> pb::DeclineCaseRequest {
    pb::DeclineCaseRequest {
        id: case.id.clone(),
        etag: case.etag.clone(),
        reason: "No subscriber record for that number in the period.".into(),
        ground,
    }
}

async fn spontaneous_information_is_acknowledged_never_declined(backend: Backend) {
    let w = World::new(backend).await;
    let told = file_kind(&w, "For your information", pb::RequestKind::Spontaneous).await;
    assert_eq!(told.kind, pb::RequestKind::Spontaneous as i32);
    // A client that says nothing files a request, as before.
    let asked = w
        .file(
            &w.officer_in,
            "Who is the subscriber?",
            pb::Priority::Routine,
        )
        .await;
    assert_eq!(asked.kind, pb::RequestKind::Request as i32);

    let refused = w
        .sup_ca
        .cases()
        .decline_case(decline(&told, pb::RefusalGround::NotAvailable as i32))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("own initiative"), "{refused:?}");
    w.sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: told.id.clone(),
            etag: told.etag.clone(),
        })
        .await
        .unwrap();

    // The queues filter by kind, and refuse a kind that does not exist.
    let only = |kinds: Vec<i32>| {
        let mut cases = w.sup_ca.cases();
        async move {
            cases
                .list_cases(pb::ListCasesRequest {
                    kinds,
                    ..Default::default()
                })
                .await
        }
    };
    let spontaneous = only(vec![pb::RequestKind::Spontaneous as i32])
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert_eq!(
        spontaneous.iter().map(|c| &c.id).collect::<Vec<_>>(),
        [&told.id]
    );
    let both = only(vec![
        pb::RequestKind::Request as i32,
        pb::RequestKind::Spontaneous as i32,
    ])
    .await
    .unwrap()
    .into_inner()
    .cases;
    assert_eq!(both.len(), 2);
    let bad = only(vec![9]).await.unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert_eq!(
        bad.get_details_bad_request().unwrap().field_violations[0].field,
        "kinds"
    );

    // Filing again with the same request id but another kind is another referral.
    let mut again = w.referral("Same words", pb::Priority::Routine);
    w.officer_in
        .cases()
        .file_referral(again.clone())
        .await
        .unwrap();
    again.kind = pb::RequestKind::Spontaneous as i32;
    assert_code(
        w.officer_in.cases().file_referral(again).await,
        Code::InvalidArgument,
    );
    w.stop().await;
}

async fn a_request_is_declined_on_a_ground_from_the_closed_list(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(
            &w.officer_in,
            "Subscriber of +1 604 555 0100",
            pb::Priority::Routine,
        )
        .await;

    // A ground outside the list is refused, naming the field, and changes nothing.
    let refused = w
        .sup_ca
        .cases()
        .decline_case(decline(&case, 42))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        refused.get_details_bad_request().unwrap().field_violations[0].field,
        "ground"
    );
    let declined = w
        .sup_ca
        .cases()
        .decline_case(decline(&case, pb::RefusalGround::NotAvailable as i32))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(declined.status, pb::CaseStatus::Declined as i32);
    assert_eq!(
        declined.decline_ground,
        pb::RefusalGround::NotAvailable as i32
    );

    // The requester sees the ground, on the case and in the timeline.
    let seen = w
        .officer_in
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.decline_ground, pb::RefusalGround::NotAvailable as i32);
    let events = w
        .officer_in
        .cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let event = events
        .iter()
        .find(|e| e.kind == pb::CaseEventKind::Declined as i32)
        .unwrap();
    assert_eq!(event.ground, pb::RefusalGround::NotAvailable as i32);
    assert!(event.reason.starts_with("No subscriber record"));

    // A client from before grounds existed still declines with words alone.
    let older = w
        .file(&w.officer_in, "Older client", pb::Priority::Routine)
        .await;
    let declined = w
        .sup_ca
        .cases()
        .decline_case(decline(&older, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(declined.status, pb::CaseStatus::Declined as i32);
    assert_eq!(declined.decline_ground, 0);
    w.stop().await;
}

fn order() -> pb::PreservationOrder {
    pb::PreservationOrder {
        data: "Subscriber and traffic data of +1 604 555 0100, 1 to 30 November 2026".into(),
        custodian: "Telus Communications, Vancouver".into(),
        offence: "Import of fentanyl precursors (NDPS Act s. 25A); the number ordered the shipment"
            .into(),
        necessity: "Traffic data is kept for 90 days only".into(),
        formal_request: "A request under the Canada-India MLAT will follow within 30 days".into(),
    }
}

async fn file_preservation(w: &World, title: &str) -> pb::Case {
    let mut request = w.referral(title, pb::Priority::Urgent);
    request.kind = pb::RequestKind::Preservation as i32;
    request.preservation = Some(order());
    w.officer_in
        .cases()
        .file_referral(request)
        .await
        .expect("file a preservation request")
        .into_inner()
}

/// Acknowledged and assigned to officer.ca.
async fn worked(w: &World, case: &pb::Case) -> pb::Case {
    let acked = w
        .sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    w.sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: acked.id,
            assignee_id: w.officer_ca.user_id.clone(),
            etag: acked.etag,
        })
        .await
        .unwrap()
        .into_inner()
}

fn in_days(w: &World, days: i64) -> Option<prost_types::Timestamp> {
    let t = w.server.clock.now() + chrono::Duration::days(days);
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_micros() as i32 * 1000,
    })
}

async fn confirm(
    who: &Client,
    case: &pb::Case,
    until: Option<prost_types::Timestamp>,
) -> Result<pb::Case, tonic::Status> {
    who.cases()
        .confirm_preservation(pb::ConfirmPreservationRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
            preserved_until: until,
        })
        .await
        .map(|r| r.into_inner())
}

fn status_of(case: &pb::Case) -> i32 {
    case.preservation.as_ref().map_or(0, |p| p.status)
}

fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

async fn a_preservation_request_lives_its_whole_life(backend: Backend) {
    let w = World::new(backend).await;
    // What to preserve is required, field by field, and only for this kind.
    let mut bare = w.referral("Bare", pb::Priority::Urgent);
    bare.kind = pb::RequestKind::Preservation as i32;
    let refused = w
        .officer_in
        .cases()
        .file_referral(bare.clone())
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["preservation"]);
    bare.preservation = Some(pb::PreservationOrder {
        custodian: String::new(),
        necessity: String::new(),
        ..order()
    });
    let refused = w.officer_in.cases().file_referral(bare).await.unwrap_err();
    assert_eq!(
        fields(&refused),
        ["preservation.custodian", "preservation.necessity"]
    );
    let mut not_one = w.referral("Not a preservation", pb::Priority::Urgent);
    not_one.preservation = Some(order());
    let refused = w
        .officer_in
        .cases()
        .file_referral(not_one)
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["preservation"]);

    let filed = file_preservation(&w, "Preserve the phone records").await;
    assert_eq!(filed.kind, pb::RequestKind::Preservation as i32);
    assert_eq!(status_of(&filed), pb::PreservationStatus::Requested as i32);
    assert_eq!(filed.preservation.as_ref().unwrap().order, Some(order()));
    // Not before the request is acknowledged.
    assert_code(
        w.sup_ca
            .cases()
            .confirm_preservation(pb::ConfirmPreservationRequest {
                id: filed.id.clone(),
                etag: filed.etag.clone(),
                preserved_until: in_days(&w, 90),
            })
            .await,
        Code::FailedPrecondition,
    );
    let case = worked(&w, &filed).await;
    // The requesting side does not confirm; nor is less than 60 days enough.
    assert_eq!(
        confirm(&w.officer_in, &case, in_days(&w, 90))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    let short = confirm(&w.officer_ca, &case, in_days(&w, 30))
        .await
        .unwrap_err();
    assert_eq!(fields(&short), ["preserved_until"]);
    assert!(short.message().contains("60 days"), "{short:?}");
    assert_eq!(
        fields(&confirm(&w.officer_ca, &case, None).await.unwrap_err()),
        ["preserved_until"]
    );
    let kept = confirm(&w.officer_ca, &case, in_days(&w, 61))
        .await
        .unwrap();
    assert_eq!(status_of(&kept), pb::PreservationStatus::Preserved as i32);
    assert_eq!(
        kept.preservation.as_ref().unwrap().preserved_until,
        in_days(&w, 61)
    );
    assert_code(
        w.officer_ca
            .cases()
            .confirm_preservation(pb::ConfirmPreservationRequest {
                id: kept.id.clone(),
                etag: kept.etag.clone(),
                preserved_until: in_days(&w, 61),
            })
            .await,
        Code::FailedPrecondition,
    );

    // Extended to a later date only, then superseded by the requesting side's formal request.
    let extend = |until| {
        let mut cases = w.sup_ca.cases();
        let request = pb::ExtendPreservationRequest {
            id: kept.id.clone(),
            etag: kept.etag.clone(),
            preserved_until: until,
            reason: "the formal request is delayed".into(),
        };
        async move { cases.extend_preservation(request).await }
    };
    let earlier = extend(in_days(&w, 50)).await.unwrap_err();
    assert_eq!(fields(&earlier), ["preserved_until"]);
    let extended = extend(in_days(&w, 120)).await.unwrap().into_inner();
    assert_eq!(
        status_of(&extended),
        pb::PreservationStatus::Extended as i32
    );
    let supersede = |who: &Client, case: &pb::Case| {
        let mut cases = who.cases();
        let request = pb::SupersedePreservationRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
            formal_request: "MLAT request IN-CA/2026/17".into(),
        };
        async move { cases.supersede_preservation(request).await }
    };
    assert_code(
        supersede(&w.sup_ca, &extended).await,
        Code::PermissionDenied,
    );
    let superseded = supersede(&w.officer_in, &extended)
        .await
        .unwrap()
        .into_inner();
    let p = superseded.preservation.clone().unwrap();
    assert_eq!(p.status, pb::PreservationStatus::Superseded as i32);
    assert_eq!(p.superseded_by, "MLAT request IN-CA/2026/17");
    assert_code(
        supersede(&w.officer_in, &superseded).await,
        Code::FailedPrecondition,
    );

    // Each step is in the timeline both sides read.
    for who in [&w.officer_in, &w.officer_ca] {
        let events = who
            .cases()
            .list_case_events(pb::ListCaseEventsRequest {
                case_id: case.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .events;
        let steps: Vec<(i32, Option<prost_types::Timestamp>)> = events
            .iter()
            .filter(|e| e.kind >= pb::CaseEventKind::PreservationConfirmed as i32)
            .map(|e| (e.kind, e.preserved_until))
            .collect();
        assert_eq!(
            steps,
            [
                (
                    pb::CaseEventKind::PreservationConfirmed as i32,
                    in_days(&w, 61)
                ),
                (
                    pb::CaseEventKind::PreservationExtended as i32,
                    in_days(&w, 120)
                ),
                (pb::CaseEventKind::PreservationSuperseded as i32, None),
            ]
        );
    }
    w.stop().await;
}

async fn an_unanswered_preservation_lapses_exactly_once(backend: Backend) {
    let w = World::new(backend).await;
    let case = worked(&w, &file_preservation(&w, "Left to lapse").await).await;
    let kept = confirm(&w.officer_ca, &case, in_days(&w, 60))
        .await
        .unwrap();
    let state = &w.server.state;
    assert_eq!(
        liaison_server::domain::cases::lapse_preservations(state)
            .await
            .unwrap(),
        0
    );
    w.server.clock.advance(chrono::Duration::days(61));
    // However many servers run the timer, the preservation lapses once.
    let (a, b) = tokio::join!(
        liaison_server::domain::cases::lapse_preservations(state),
        liaison_server::domain::cases::lapse_preservations(state)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(
        liaison_server::domain::cases::lapse_preservations(state)
            .await
            .unwrap(),
        0
    );
    let officer_in = w.server.fresh(&w.officer_in).await;
    let lapsed = officer_in
        .cases()
        .get_case(pb::GetCaseRequest {
            id: kept.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status_of(&lapsed), pb::PreservationStatus::Lapsed as i32);
    assert_ne!(lapsed.etag, kept.etag);
    let events = officer_in
        .cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: kept.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let lapses: Vec<&pb::CaseEvent> = events
        .iter()
        .filter(|e| e.kind == pb::CaseEventKind::PreservationLapsed as i32)
        .collect();
    assert_eq!(lapses.len(), 1);
    assert!(lapses[0].actor_id.is_empty(), "recorded by the service");
    assert_code(
        officer_in
            .cases()
            .supersede_preservation(pb::SupersedePreservationRequest {
                id: lapsed.id.clone(),
                etag: lapsed.etag.clone(),
                formal_request: "too late".into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    w.stop().await;
}

async fn a_request_is_answered_item_by_item(backend: Backend) {
    let w = World::new(backend).await;
    let asking = |items: Vec<String>, kind: pb::RequestKind| {
        let mut request = w.referral("Two things, please", pb::Priority::Priority);
        request.items = items;
        request.kind = kind as i32;
        let mut cases = w.officer_in.cases();
        async move { cases.file_referral(request).await }
    };
    let field = |status: tonic::Status| {
        status.get_details_bad_request().unwrap().field_violations[0]
            .field
            .clone()
    };
    let two = || {
        vec![
            "Subscriber of +1 604 555 0100 in November 2026".to_string(),
            "The consignee named on waybill 1234".to_string(),
        ]
    };
    assert_eq!(
        field(
            asking(two(), pb::RequestKind::Spontaneous)
                .await
                .unwrap_err()
        ),
        "items"
    );
    assert_eq!(
        field(
            asking(vec!["x".into(); 51], pb::RequestKind::Request)
                .await
                .unwrap_err()
        ),
        "items"
    );
    assert_eq!(
        field(
            asking(vec![String::new()], pb::RequestKind::Request)
                .await
                .unwrap_err()
        ),
        "items[0]"
    );
    let case = asking(two(), pb::RequestKind::Request)
        .await
        .unwrap()
        .into_inner();
    let numbers: Vec<i32> = case.items.iter().map(|i| i.number).collect();
    assert_eq!(numbers, [1, 2]);
    assert!(case.items.iter().all(|i| i.outcome == 0));

    let case = w
        .sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: case.id,
            etag: case.etag,
        })
        .await
        .unwrap()
        .into_inner();
    let case = w
        .sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: case.id,
            etag: case.etag,
            assignee_id: "officer.ca".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let close = |c: &pb::Case| pb::CloseCaseRequest {
        id: c.id.clone(),
        etag: c.etag.clone(),
        resolution: pb::Resolution::Actioned as i32,
    };
    let refused = w
        .officer_ca
        .cases()
        .close_case(close(&case))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("items 1, 2"), "{refused:?}");

    let answer =
        |c: &pb::Case, number: i32, outcome: pb::ItemOutcome, ground: pb::RefusalGround| {
            pb::AnswerRequestItemRequest {
                case_id: c.reference.clone(),
                etag: c.etag.clone(),
                number,
                outcome: outcome as i32,
                answer: "Registered to a shell company in Surrey, BC.".into(),
                ground: ground as i32,
            }
        };
    use pb::ItemOutcome::{Answered, Refused};
    use pb::RefusalGround::{NotAvailable, Unspecified};
    for (request, bad) in [
        (answer(&case, 3, Answered, Unspecified), "number"),
        (answer(&case, 2, Refused, Unspecified), "ground"),
        (answer(&case, 1, Answered, NotAvailable), "ground"),
    ] {
        let status = w
            .officer_ca
            .cases()
            .answer_request_item(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(field(status), bad);
    }
    // The requesting side does not answer its own request.
    assert_code(
        w.officer_in
            .cases()
            .answer_request_item(answer(&case, 1, Answered, Unspecified))
            .await,
        Code::PermissionDenied,
    );
    let case = w
        .officer_ca
        .cases()
        .answer_request_item(answer(&case, 1, Answered, Unspecified))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.items[0].outcome, Answered as i32);
    assert_eq!(case.items[0].answered_by, w.officer_ca.user_id);
    let refused = w
        .officer_ca
        .cases()
        .close_case(close(&case))
        .await
        .unwrap_err();
    assert!(refused.message().contains("item 2 "), "{refused:?}");
    let case = w
        .sup_ca
        .cases()
        .answer_request_item(answer(&case, 2, Refused, NotAvailable))
        .await
        .unwrap()
        .into_inner();
    let closed = w
        .officer_ca
        .cases()
        .close_case(close(&case))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, pb::CaseStatus::Closed as i32);

    // The requester reads each outcome, and the resolution sums them up.
    let seen = w
        .officer_in
        .cases()
        .get_case(pb::GetCaseRequest {
            id: closed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.items[1].outcome, Refused as i32);
    assert_eq!(seen.items[1].ground, NotAvailable as i32);
    let events = w
        .officer_in
        .cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: closed.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let answered: Vec<i32> = events
        .iter()
        .filter(|e| e.kind == pb::CaseEventKind::ItemAnswered as i32)
        .map(|e| e.item_number)
        .collect();
    assert_eq!(answered, [1, 2]);
    // Each answer is in the timeline with its words, so answering again loses nothing.
    let refusal = events
        .iter()
        .find(|e| e.kind == pb::CaseEventKind::ItemAnswered as i32 && e.item_number == 2)
        .unwrap();
    assert_eq!(
        refusal.reason,
        "REFUSED: Registered to a shell company in Surrey, BC."
    );
    assert_eq!(refusal.ground, NotAvailable as i32);
    let last = events.last().unwrap();
    assert_eq!(last.kind, pb::CaseEventKind::Closed as i32);
    assert_eq!(last.reason, "items: 1 answered, 2 refused (NOT_AVAILABLE)");
    // Once closed, answers stop.
    assert_code(
        w.sup_ca
            .cases()
            .answer_request_item(answer(
                &closed,
                1,
                pb::ItemOutcome::PartlyAnswered,
                Unspecified,
            ))
            .await,
        Code::FailedPrecondition,
    );
    w.stop().await;
}
