//! Case lifecycle, queues, notes and timelines.

use std::collections::HashSet;

use liaison_server::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::common::{assert_code, Backend, World};
use crate::on_both_databases;

on_both_databases!(
    whole_lifecycle_from_filing_to_reopened_close,
    decline_and_withdraw_end_a_case,
    moves_the_lifecycle_forbids_are_refused,
    a_stale_etag_is_refused,
    filing_is_idempotent_per_user_and_request_id,
    pagination_neither_skips_nor_repeats_while_cases_are_filed,
    internal_notes_stay_inside_their_agency,
    overdue_queue_follows_the_clock,
    queues_show_incoming_outgoing_and_assigned,
    bad_input_names_each_bad_field,
    filing_needs_an_active_channel_and_a_covered_category,
    notes_and_timelines_page_without_repeats,
    overdue_cases_are_escalated_exactly_once,
    a_case_is_named_by_its_reference_wherever_a_case_is_named,
    case_workers_list_their_agencys_colleagues_and_nothing_more,
    filings_at_once_on_one_channel_take_numbers_one_by_one,
    responses_name_the_people_they_mention,
);

/// Cases, notes, timelines, queues and watch deliveries name the people they mention — display
/// name, username, agency — for either side; a rename shows on the next read.
async fn responses_name_the_people_they_mention(backend: Backend) {
    let w = World::new(backend).await;
    let case = w.case_in_progress("Named").await;
    let named = |p: &Option<pb::Person>| {
        p.as_ref()
            .map(|p| format!("{} ({}, {})", p.display_name, p.username, p.agency_code))
    };
    let seen = w
        .officer_in
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        named(&seen.filer).as_deref(),
        Some("officer.in (officer.in, IN-NCB)")
    );
    assert_eq!(
        named(&seen.assignee).as_deref(),
        Some("officer.ca (officer.ca, CA-RCMP)")
    );
    assert_eq!(seen.filer.as_ref().unwrap().id, w.officer_in.user_id);

    // A rename shows at once.
    w.admin_in
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.officer_in.user_id.clone(),
            display_name: Some("Asha Rao".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let note = w
        .officer_ca
        .cases()
        .add_note(pb::AddNoteRequest {
            markings: None,
            case_id: case.id.clone(),
            body: "Seized at the port".into(),
            visibility: pb::NoteVisibility::Shared as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        named(&note.author).as_deref(),
        Some("officer.ca (officer.ca, CA-RCMP)")
    );
    let listed = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest {
            view: pb::CaseView::Incoming as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        named(&listed.cases[0].filer).as_deref(),
        Some("Asha Rao (officer.in, IN-NCB)")
    );
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
    let assigned = events
        .iter()
        .find(|e| e.kind == pb::CaseEventKind::Assigned as i32)
        .unwrap();
    assert_eq!(
        named(&assigned.actor).as_deref(),
        Some("sup.ca (sup.ca, CA-RCMP)")
    );
    assert_eq!(
        named(&assigned.assignee).as_deref(),
        Some("officer.ca (officer.ca, CA-RCMP)")
    );
    assert_eq!(
        named(&events[0].actor).as_deref(),
        Some("Asha Rao (officer.in, IN-NCB)")
    );
    let notes = w
        .officer_in
        .cases()
        .list_notes(pb::ListNotesRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notes;
    assert_eq!(
        named(&notes[0].author).as_deref(),
        Some("officer.ca (officer.ca, CA-RCMP)")
    );
    w.stop().await;
}

/// Filings racing on one channel neither collide nor skip: one server hands out `1..=n`, however
/// its blocks of numbers grow while they race.
async fn filings_at_once_on_one_channel_take_numbers_one_by_one(backend: Backend) {
    let w = World::new(backend).await;
    let mut filings = tokio::task::JoinSet::new();
    for i in 0..40 {
        let mut client = w.officer_in.cases();
        let request = w.referral(&format!("Race {i}"), pb::Priority::Routine);
        filings.spawn(async move { client.file_referral(request).await.unwrap().into_inner() });
    }
    let filed = filings.join_all().await;
    let year = chrono::Utc::now().format("%Y");
    let mut numbers: Vec<u32> = filed
        .iter()
        .map(|case| {
            let number = case
                .reference
                .strip_prefix(&format!("IN-CA-DRUGS-{year}-"))
                .unwrap_or_else(|| panic!("{} is not the channel's form", case.reference));
            assert_eq!(number.len(), 6, "{}", case.reference);
            number.parse().unwrap()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=40).collect::<Vec<u32>>());
    // After the race, the next filing goes on from where it stopped.
    let next = w.file(&w.officer_in, "After", pb::Priority::Routine).await;
    assert_eq!(next.reference, format!("IN-CA-DRUGS-{year}-000041"));
}

async fn whole_lifecycle_from_filing_to_reopened_close(backend: Backend) {
    let w = World::new(backend).await;
    let filed = w
        .file(
            &w.officer_in,
            "Fentanyl precursor shipment",
            pb::Priority::Urgent,
        )
        .await;
    let year = chrono::Utc::now().format("%Y");
    assert_eq!(filed.reference, format!("IN-CA-DRUGS-{year}-000001"));
    assert_eq!(filed.status, pb::CaseStatus::Filed as i32);
    assert_eq!(filed.originating_agency_id, w.in_ncb.id);
    assert_eq!(filed.receiving_agency_id, w.ca_rcmp.id);
    assert_eq!(filed.filed_by, w.officer_in.user_id);
    let filed_at = filed.filed_at.unwrap().seconds;
    assert_eq!(
        filed.acknowledge_due_at.unwrap().seconds - filed_at,
        4 * 3600
    );
    assert!(uuid::Uuid::parse_str(&filed.id).unwrap().get_version_num() == 7);

    let second = w.file(&w.officer_in, "Second", pb::Priority::Routine).await;
    assert_eq!(second.reference, format!("IN-CA-DRUGS-{year}-000002"));
    assert_eq!(
        second.acknowledge_due_at.unwrap().seconds - second.filed_at.unwrap().seconds,
        72 * 3600
    );

    let sup = w.sup_ca.cases();
    let acked = sup
        .clone()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: filed.id.clone(),
            etag: filed.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.status, pb::CaseStatus::Acknowledged as i32);
    assert!(acked.acknowledged_at.is_some());
    assert_ne!(acked.etag, filed.etag);

    let assigned = sup
        .clone()
        .assign_case(pb::AssignCaseRequest {
            id: filed.id.clone(),
            assignee_id: w.officer_ca.user_id.clone(),
            etag: acked.etag,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.status, pb::CaseStatus::InProgress as i32);
    assert_eq!(assigned.assignee_id, w.officer_ca.user_id);

    // The assignee now sees the case and asks the filer for more.
    let asked = w
        .officer_ca
        .cases()
        .request_information(pb::RequestInformationRequest {
            id: filed.id.clone(),
            etag: assigned.etag,
            question: "Which courier account was used?".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(asked.status, pb::CaseStatus::AwaitingInfo as i32);

    let answered = w
        .officer_in
        .cases()
        .provide_information(pb::ProvideInformationRequest {
            id: filed.id.clone(),
            etag: asked.etag,
            answer: "Account 4471, opened in March.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answered.status, pb::CaseStatus::InProgress as i32);

    let closed = w
        .officer_ca
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: filed.id.clone(),
            resolution: pb::Resolution::Actioned as i32,
            etag: answered.etag,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(closed.status, pb::CaseStatus::Closed as i32);
    assert_eq!(closed.resolution, pb::Resolution::Actioned as i32);
    assert!(closed.closed_at.is_some());

    let reopened = sup
        .clone()
        .reopen_case(pb::ReopenCaseRequest {
            id: filed.id.clone(),
            etag: closed.etag,
            reason: "New seizure linked to the same account".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reopened.status, pb::CaseStatus::InProgress as i32);
    assert_eq!(reopened.resolution, pb::Resolution::Unspecified as i32);

    let closed_again = sup
        .clone()
        .close_case(pb::CloseCaseRequest {
            id: filed.id.clone(),
            resolution: pb::Resolution::ReferredElsewhere as i32,
            etag: reopened.etag,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        closed_again.resolution,
        pb::Resolution::ReferredElsewhere as i32
    );

    // Both sides see the same case.
    let seen_by_filer = w
        .officer_in
        .cases()
        .get_case(pb::GetCaseRequest {
            id: filed.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        seen_by_filer,
        w.sup_ca
            .cases()
            .get_case(pb::GetCaseRequest {
                id: filed.id.clone()
            })
            .await
            .unwrap()
            .into_inner()
    );

    let events = w
        .sup_in
        .cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: filed.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    let kinds: Vec<i32> = events.iter().map(|e| e.kind).collect();
    use pb::CaseEventKind as K;
    assert_eq!(
        kinds,
        [
            K::Filed,
            K::Acknowledged,
            K::Assigned,
            K::InformationRequested,
            K::InformationProvided,
            K::Closed,
            K::Reopened,
            K::Closed
        ]
        .map(|k| k as i32)
    );
    assert_eq!(events[2].assignee_id, w.officer_ca.user_id);
    assert_eq!(events[3].reason, "Which courier account was used?");
    assert_eq!(events[3].actor_id, w.officer_ca.user_id);
    assert_eq!(events[5].resolution, pb::Resolution::Actioned as i32);
    assert_eq!(events[6].from_status, pb::CaseStatus::Closed as i32);
    assert_eq!(events[6].to_status, pb::CaseStatus::InProgress as i32);
    w.stop().await;
}

async fn decline_and_withdraw_end_a_case(backend: Backend) {
    let w = World::new(backend).await;
    let a = w
        .file(&w.officer_in, "To decline", pb::Priority::Routine)
        .await;
    let missing_reason = w
        .sup_ca
        .cases()
        .decline_case(pb::DeclineCaseRequest {
            ground: 0,
            id: a.id.clone(),
            etag: a.etag.clone(),
            reason: String::new(),
        })
        .await;
    assert_code(missing_reason, Code::InvalidArgument);
    let declined = w
        .sup_ca
        .cases()
        .decline_case(pb::DeclineCaseRequest {
            ground: 0,
            id: a.id.clone(),
            etag: a.etag.clone(),
            reason: "Outside our jurisdiction".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(declined.status, pb::CaseStatus::Declined as i32);

    let b = w.case_in_progress("To withdraw").await;
    let withdrawn = w
        .sup_in
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: b.id.clone(),
            etag: b.etag.clone(),
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, pb::CaseStatus::Withdrawn as i32);
    let again = w
        .officer_in
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: b.id,
            etag: withdrawn.etag,
            reason: String::new(),
        })
        .await;
    assert_code(again, Code::FailedPrecondition);
    w.stop().await;
}

async fn moves_the_lifecycle_forbids_are_refused(backend: Backend) {
    let w = World::new(backend).await;
    let filed = w
        .file(&w.officer_in, "Forbidden moves", pb::Priority::Priority)
        .await;
    let close_filed = w
        .sup_ca
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: filed.id.clone(),
            resolution: pb::Resolution::NoAction as i32,
            etag: filed.etag.clone(),
        })
        .await;
    assert_code(close_filed, Code::FailedPrecondition);
    let assign_filed = w
        .sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: filed.id.clone(),
            assignee_id: w.officer_ca.user_id.clone(),
            etag: filed.etag.clone(),
        })
        .await;
    assert_code(assign_filed, Code::FailedPrecondition);
    let reopen_filed = w
        .sup_ca
        .cases()
        .reopen_case(pb::ReopenCaseRequest {
            id: filed.id.clone(),
            etag: filed.etag.clone(),
            reason: "x".into(),
        })
        .await;
    assert_code(reopen_filed, Code::FailedPrecondition);

    let in_progress = w.case_in_progress("Assign to a non-officer").await;
    for bad_assignee in [
        w.sup_ca.user_id.clone(),
        w.officer_in.user_id.clone(),
        uuid::Uuid::new_v4().to_string(),
    ] {
        let result = w
            .sup_ca
            .cases()
            .assign_case(pb::AssignCaseRequest {
                id: in_progress.id.clone(),
                assignee_id: bad_assignee,
                etag: in_progress.etag.clone(),
            })
            .await;
        let status = result.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["assignee_id"]);
    }
    let provide_in_progress = w
        .officer_in
        .cases()
        .provide_information(pb::ProvideInformationRequest {
            id: in_progress.id.clone(),
            etag: in_progress.etag.clone(),
            answer: "unasked".into(),
        })
        .await;
    assert_code(provide_in_progress, Code::FailedPrecondition);
    w.stop().await;
}

async fn a_stale_etag_is_refused(backend: Backend) {
    let w = World::new(backend).await;
    let filed = w.file(&w.officer_in, "Race", pb::Priority::Routine).await;
    let acked = w
        .sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: filed.id.clone(),
            etag: filed.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let stale = w
        .sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: filed.id.clone(),
            assignee_id: w.officer_ca.user_id.clone(),
            etag: filed.etag.clone(),
        })
        .await;
    assert_code(stale, Code::Aborted);
    let withdraw_stale = w
        .officer_in
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: filed.id.clone(),
            etag: filed.etag,
            reason: String::new(),
        })
        .await;
    assert_code(withdraw_stale, Code::Aborted);
    let now = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest { id: filed.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(now.status, pb::CaseStatus::Acknowledged as i32);
    assert_eq!(now.etag, acked.etag);
    w.stop().await;
}

async fn filing_is_idempotent_per_user_and_request_id(backend: Backend) {
    let w = World::new(backend).await;
    let request = w.referral("Retried filing", pb::Priority::Routine);
    let first = w
        .officer_in
        .cases()
        .file_referral(request.clone())
        .await
        .unwrap()
        .into_inner();
    let again = w
        .officer_in
        .cases()
        .file_referral(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.id, again.id);
    assert_eq!(first.reference, again.reference);

    // Concurrent retries still make one case.
    let mut retries = Vec::new();
    let concurrent = w.referral("Concurrent retries", pb::Priority::Routine);
    for _ in 0..6 {
        let mut cases = w.officer_in.cases();
        let request = concurrent.clone();
        retries.push(tokio::spawn(async move {
            cases
                .file_referral(request)
                .await
                .map(|r| r.into_inner().id)
        }));
    }
    let mut ids = HashSet::new();
    for retry in retries {
        ids.insert(retry.await.unwrap().unwrap());
    }
    assert_eq!(ids.len(), 1);

    // The same request id for a different referral is a client bug, not a retry.
    let mut changed = request.clone();
    changed.title = "Something else".into();
    let reused = w
        .officer_in
        .cases()
        .file_referral(changed)
        .await
        .unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert!(
        reused.message().contains("request_id"),
        "{}",
        reused.message()
    );

    // Another user's request id is their own.
    let other = w
        .sup_in
        .cases()
        .file_referral(request)
        .await
        .unwrap()
        .into_inner();
    assert_ne!(other.id, first.id);

    let listed = w
        .sup_in
        .cases()
        .list_cases(pb::ListCasesRequest {
            view: pb::CaseView::Outgoing as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.cases.len(), 3);
    w.stop().await;
}

async fn pagination_neither_skips_nor_repeats_while_cases_are_filed(backend: Backend) {
    let w = World::new(backend).await;
    let mut filed = HashSet::new();
    for i in 0..23 {
        filed.insert(
            w.file(&w.officer_in, &format!("Case {i}"), pb::Priority::Routine)
                .await
                .id,
        );
    }
    for order in [pb::CaseOrder::NewestFirst, pb::CaseOrder::DueFirst] {
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = w
                .sup_ca
                .cases()
                .list_cases(pb::ListCasesRequest {
                    view: pb::CaseView::Incoming as i32,
                    order: order as i32,
                    page_size: 5,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            seen.extend(page.cases.iter().map(|c| c.id.clone()));
            pages += 1;
            // New filings between pages must not disturb the walk.
            w.file(
                &w.officer_in,
                &format!("Filed during page {pages}"),
                pb::Priority::Routine,
            )
            .await;
            w.server.clock.advance(chrono::Duration::milliseconds(3));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let unique: HashSet<_> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "{order:?}: a case was repeated");
        assert!(filed.is_subset(&unique), "{order:?}: a case was skipped");
        if order == pb::CaseOrder::NewestFirst {
            assert_eq!(
                seen.len(),
                filed.len(),
                "newer filings appear before the cursor, not after"
            );
            assert_eq!(pages, 5);
        }
        filed = unique;
    }
    w.stop().await;
}

async fn internal_notes_stay_inside_their_agency(backend: Backend) {
    let w = World::new(backend).await;
    let case = w.case_in_progress("Notes").await;
    let note = |who: &crate::common::Client, body: &str, visibility: pb::NoteVisibility| {
        let mut cases = who.cases();
        let request = pb::AddNoteRequest {
            markings: None,
            case_id: case.id.clone(),
            body: body.into(),
            visibility: visibility as i32,
        };
        async move { cases.add_note(request).await.unwrap().into_inner() }
    };
    note(
        &w.officer_in,
        "Shared from India",
        pb::NoteVisibility::Shared,
    )
    .await;
    let internal_in = note(
        &w.sup_in,
        "Internal to NCB: source is sensitive",
        pb::NoteVisibility::Internal,
    )
    .await;
    note(
        &w.officer_ca,
        "Shared from Canada",
        pb::NoteVisibility::Shared,
    )
    .await;
    let internal_ca = note(
        &w.officer_ca,
        "Internal to RCMP",
        pb::NoteVisibility::Internal,
    )
    .await;

    let bodies = |who: &crate::common::Client| {
        let mut cases = who.cases();
        let id = case.id.clone();
        async move {
            cases
                .list_notes(pb::ListNotesRequest {
                    case_id: id,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .notes
                .into_iter()
                .map(|n| n.body)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        bodies(&w.officer_in).await,
        [
            "Shared from India",
            "Internal to NCB: source is sensitive",
            "Shared from Canada"
        ]
    );
    assert_eq!(
        bodies(&w.sup_ca).await,
        [
            "Shared from India",
            "Shared from Canada",
            "Internal to RCMP"
        ]
    );

    let note_ids = |who: &crate::common::Client| {
        let mut cases = who.cases();
        let id = case.id.clone();
        async move {
            cases
                .list_case_events(pb::ListCaseEventsRequest {
                    case_id: id,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .events
                .into_iter()
                .filter(|e| e.kind == pb::CaseEventKind::NoteAdded as i32)
                .map(|e| e.note_id)
                .collect::<Vec<_>>()
        }
    };
    let ca_sees = note_ids(&w.sup_ca).await;
    assert_eq!(ca_sees.len(), 3);
    assert!(!ca_sees.contains(&internal_in.id));
    assert!(ca_sees.contains(&internal_ca.id));
    assert!(!note_ids(&w.sup_in).await.contains(&internal_ca.id));

    // A shared note moves the case's etag; an internal one does not (it would tell the other side).
    let get = |who: &crate::common::Client| {
        let mut cases = who.cases();
        let id = case.id.clone();
        async move {
            cases
                .get_case(pb::GetCaseRequest { id })
                .await
                .unwrap()
                .into_inner()
                .etag
        }
    };
    let before = get(&w.sup_ca).await;
    note(&w.sup_in, "Internal again", pb::NoteVisibility::Internal).await;
    assert_eq!(get(&w.sup_ca).await, before);
    note(&w.sup_in, "Shared again", pb::NoteVisibility::Shared).await;
    assert_ne!(get(&w.sup_ca).await, before);
    // ... and the other agency's auditor does not see that an internal note was written.
    let ca_audit = w
        .auditor_ca
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            case_id: case.id.clone(),
            method: "liaison.v1.CaseService/AddNote".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let in_authors = ca_audit
        .entries
        .iter()
        .filter(|e| e.actor_agency_id == w.in_ncb.id)
        .count();
    assert_eq!(
        in_authors, 2,
        "only India's two shared notes are in Canada's audit view"
    );

    let unspecified = w
        .officer_in
        .cases()
        .add_note(pb::AddNoteRequest {
            markings: None,
            case_id: case.id.clone(),
            body: "x".into(),
            visibility: 0,
        })
        .await;
    assert_code(unspecified, Code::InvalidArgument);
    w.stop().await;
}

async fn overdue_queue_follows_the_clock(backend: Backend) {
    let w = World::new(backend).await;
    let urgent = w.file(&w.officer_in, "Urgent", pb::Priority::Urgent).await;
    let routine = w
        .file(&w.officer_in, "Routine", pb::Priority::Routine)
        .await;
    let acked_urgent = w
        .file(
            &w.officer_in,
            "Urgent but acknowledged",
            pb::Priority::Urgent,
        )
        .await;
    w.sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: acked_urgent.id.clone(),
            etag: acked_urgent.etag,
        })
        .await
        .unwrap();
    async fn overdue(w: &World) -> Vec<pb::Case> {
        // Signed in afresh: the clock moves past the access token's lifetime.
        let mut cases = w.server.fresh(&w.sup_ca).await.cases();
        cases
            .list_cases(pb::ListCasesRequest {
                view: pb::CaseView::Incoming as i32,
                overdue_only: true,
                order: pb::CaseOrder::DueFirst as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .cases
    }
    assert!(overdue(&w).await.is_empty());
    w.server.clock.advance(chrono::Duration::hours(5));
    let late = overdue(&w).await;
    assert_eq!(
        late.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [urgent.id.as_str()]
    );
    assert!(late[0].overdue);
    w.server.clock.advance(chrono::Duration::hours(70));
    let later: Vec<String> = overdue(&w).await.into_iter().map(|c| c.id).collect();
    assert_eq!(later, [urgent.id, routine.id]);
    w.stop().await;
}

async fn queues_show_incoming_outgoing_and_assigned(backend: Backend) {
    let w = World::new(backend).await;
    let mine = w.case_in_progress("Assigned to officer.ca").await;
    let other = w
        .file(&w.officer_in, "Not yet assigned", pb::Priority::Routine)
        .await;
    let list = |who: &crate::common::Client, view: pb::CaseView| {
        let mut cases = who.cases();
        async move {
            cases
                .list_cases(pb::ListCasesRequest {
                    view: view as i32,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .cases
                .into_iter()
                .map(|c| c.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(&w.sup_ca, pb::CaseView::Incoming).await,
        [other.id.clone(), mine.id.clone()]
    );
    assert!(list(&w.sup_ca, pb::CaseView::Outgoing).await.is_empty());
    assert_eq!(
        list(&w.sup_in, pb::CaseView::Outgoing).await,
        [other.id.clone(), mine.id.clone()]
    );
    assert_eq!(
        list(&w.officer_ca, pb::CaseView::AssignedToMe).await,
        std::slice::from_ref(&mine.id)
    );
    assert_eq!(
        list(&w.officer_ca, pb::CaseView::All).await,
        std::slice::from_ref(&mine.id)
    );
    assert!(list(&w.officer_ca2, pb::CaseView::All).await.is_empty());
    assert!(list(&w.sup_us, pb::CaseView::All).await.is_empty());

    let filtered = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest {
            statuses: vec![pb::CaseStatus::InProgress as i32],
            assignee_id: w.officer_ca.user_id.clone(),
            channel_id: w.channel.id.clone(),
            category: pb::Category::Drugs as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filtered.cases.len(), 1);
    assert_eq!(filtered.cases[0].id, mine.id);
    w.stop().await;
}

async fn bad_input_names_each_bad_field(backend: Backend) {
    let w = World::new(backend).await;
    let status = w
        .officer_in
        .cases()
        .file_referral(pb::FileReferralRequest {
            legal_basis_id: String::new(),
            items: Vec::new(),
            category_code: String::new(),
            preservation: None,
            kind: 0,
            markings: None,
            request_id: "not-a-uuid".into(),
            channel_id: w.channel.id.clone(),
            category: 0,
            priority: 99,
            title: String::new(),
            summary: "x".repeat(20_001),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut fields: Vec<String> = status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default();
    fields.sort();
    assert_eq!(
        fields,
        ["category", "priority", "request_id", "summary", "title"]
    );
    assert!(status.message().contains("title"), "{}", status.message());

    let page = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest {
            page_size: 501,
            ..Default::default()
        })
        .await;
    assert_code(page, Code::InvalidArgument);
    let forged = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest {
            page_token: "eyJxIjoiIn0.AAAA".into(),
            ..Default::default()
        })
        .await;
    assert_code(forged, Code::InvalidArgument);
    let bad_id = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest { id: "42".into() })
        .await;
    assert_code(bad_id, Code::InvalidArgument);
    w.stop().await;
}

async fn filing_needs_an_active_channel_and_a_covered_category(backend: Backend) {
    let w = World::new(backend).await;
    let mut cyber = w.referral("Ransomware", pb::Priority::Priority);
    cyber.category = pb::Category::Cyber as i32;
    assert_code(
        w.officer_in.cases().file_referral(cyber).await,
        Code::FailedPrecondition,
    );

    let mut elsewhere = w.referral("Unknown channel", pb::Priority::Priority);
    elsewhere.channel_id = uuid::Uuid::new_v4().to_string();
    assert_code(
        w.officer_in.cases().file_referral(elsewhere).await,
        Code::NotFound,
    );

    // A channel the caller's agency is not party to answers like one that does not exist.
    let us_ca = w
        .server
        .user("US-FBI", "admin.us", &[liaison_server::model::Role::Admin])
        .await
        .admin()
        .propose_channel(pb::ProposeChannelRequest {
            partner_agency_id: w.ca_rcmp.id.clone(),
            categories: vec![pb::Category::Cyber as i32],
        })
        .await
        .unwrap()
        .into_inner();
    let mut not_ours = w.referral("Not our channel", pb::Priority::Priority);
    not_ours.channel_id = us_ca.id;
    assert_code(
        w.officer_in.cases().file_referral(not_ours).await,
        Code::NotFound,
    );

    let case = w.case_in_progress("Before suspension").await;
    w.admin_ca
        .admin()
        .suspend_channel(pb::SuspendChannelRequest {
            id: w.channel.id.clone(),
            etag: w.channel.etag.clone(),
        })
        .await
        .unwrap();
    let after = w
        .officer_in
        .cases()
        .file_referral(w.referral("After suspension", pb::Priority::Routine))
        .await;
    assert_code(after, Code::FailedPrecondition);
    // Existing cases stay workable.
    w.officer_ca
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: case.id,
            resolution: pb::Resolution::NoAction as i32,
            etag: case.etag,
        })
        .await
        .unwrap();
    w.stop().await;
}

async fn notes_and_timelines_page_without_repeats(backend: Backend) {
    let w = World::new(backend).await;
    let case = w.case_in_progress("Long history").await;
    let other = w.case_in_progress("Another case").await;
    for i in 0..7 {
        w.officer_in
            .cases()
            .add_note(pb::AddNoteRequest {
                markings: None,
                case_id: case.id.clone(),
                body: format!("Note {i}"),
                visibility: pb::NoteVisibility::Shared as i32,
            })
            .await
            .unwrap();
    }
    let mut bodies = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = w
            .sup_ca
            .cases()
            .list_notes(pb::ListNotesRequest {
                case_id: case.id.clone(),
                page_size: 3,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        bodies.extend(page.notes.into_iter().map(|n| n.body));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
        // A token belongs to its case (and caller): it does not page through another.
        let elsewhere = w
            .sup_ca
            .cases()
            .list_notes(pb::ListNotesRequest {
                case_id: other.id.clone(),
                page_size: 3,
                page_token: token.clone(),
            })
            .await;
        assert_code(elsewhere, Code::InvalidArgument);
    }
    assert_eq!(pages, 3);
    assert_eq!(
        bodies,
        (0..7).map(|i| format!("Note {i}")).collect::<Vec<_>>()
    );

    let mut kinds = Vec::new();
    let mut token = String::new();
    loop {
        let page = w
            .sup_in
            .cases()
            .list_case_events(pb::ListCaseEventsRequest {
                case_id: case.id.clone(),
                page_size: 4,
                page_token: token.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        kinds.extend(page.events.into_iter().map(|e| e.kind));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    // Filed, acknowledged, assigned, then seven notes.
    assert_eq!(kinds.len(), 10);
    assert_eq!(kinds[0], pb::CaseEventKind::Filed as i32);
    w.stop().await;
}

async fn overdue_cases_are_escalated_exactly_once(backend: Backend) {
    let w = World::new(backend).await;
    let urgent = w.file(&w.officer_in, "Urgent", pb::Priority::Urgent).await;
    let routine = w
        .file(&w.officer_in, "Routine", pb::Priority::Routine)
        .await;
    let acked = w
        .file(&w.officer_in, "Acknowledged in time", pb::Priority::Urgent)
        .await;
    w.sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: acked.id.clone(),
            etag: acked.etag,
        })
        .await
        .unwrap();
    let state = &w.server.state;
    assert_eq!(
        liaison_server::domain::cases::escalate_overdue(state)
            .await
            .unwrap(),
        0
    );

    // Five hours on, only the unacknowledged urgent case is overdue. Several servers escalating at
    // once record it once.
    w.server.clock.advance(chrono::Duration::hours(5));
    let (a, b, c) = tokio::join!(
        liaison_server::domain::cases::escalate_overdue(state),
        liaison_server::domain::cases::escalate_overdue(state),
        liaison_server::domain::cases::escalate_overdue(state),
    );
    assert_eq!(a.unwrap() + b.unwrap() + c.unwrap(), 1);
    assert_eq!(
        liaison_server::domain::cases::escalate_overdue(state)
            .await
            .unwrap(),
        0
    );

    let escalations = |id: String| {
        let server = &w.server;
        let who = w.sup_in.clone();
        async move {
            server
                .fresh(&who)
                .await
                .cases()
                .list_case_events(pb::ListCaseEventsRequest {
                    case_id: id,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .events
                .into_iter()
                .filter(|e| e.kind == pb::CaseEventKind::Escalated as i32)
                .collect::<Vec<_>>()
        }
    };
    let events = escalations(urgent.id.clone()).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].actor_id.is_empty());
    assert!(events[0].reason.contains("4 hours"), "{}", events[0].reason);
    assert!(escalations(routine.id.clone()).await.is_empty());
    assert!(escalations(acked.id.clone()).await.is_empty());

    // Past three days the routine case follows, and the audit log shows the service did it.
    w.server.clock.advance(chrono::Duration::hours(70));
    assert_eq!(
        liaison_server::domain::cases::escalate_overdue(state)
            .await
            .unwrap(),
        1
    );
    assert_eq!(escalations(routine.id.clone()).await.len(), 1);
    let auditor = w.server.fresh(&w.auditor_ca).await;
    let entries = auditor
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            method: "liaisond/escalate".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|e| e.actor_id.is_empty()));
    w.stop().await;
}

/// The reference officers read to each other works wherever a request names a case, in any letter
/// case, and a reference the caller may not see is as NOT_FOUND as an id.
async fn a_case_is_named_by_its_reference_wherever_a_case_is_named(backend: Backend) {
    let w = World::new(backend).await;
    let filed = w
        .file(&w.officer_in, "Named by reference", pb::Priority::Routine)
        .await;
    let reference = filed.reference.clone();
    let got = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: reference.to_lowercase(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.id, filed.id);
    let acked = w
        .sup_ca
        .cases()
        .acknowledge_case(pb::AcknowledgeCaseRequest {
            id: reference.clone(),
            etag: got.etag,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(acked.status, pb::CaseStatus::Acknowledged as i32);
    // A supervisor assigns by username, as people name each other.
    let assigned = w
        .sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: reference.clone(),
            assignee_id: w.officer_ca.username.to_uppercase(),
            etag: acked.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(assigned.assignee_id, w.officer_ca.user_id);
    let not_an_officer = w
        .sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: reference.clone(),
            assignee_id: w.auditor_ca.username.clone(),
            etag: assigned.etag.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(not_an_officer.code(), Code::InvalidArgument);
    assert!(not_an_officer.message().contains("assignee_id"));
    w.sup_ca
        .cases()
        .add_note(pb::AddNoteRequest {
            markings: None,
            case_id: reference.clone(),
            body: "Noted by reference.".into(),
            visibility: pb::NoteVisibility::Shared as i32,
        })
        .await
        .unwrap();
    let events = w
        .officer_in
        .cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: reference.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(events.events.len() >= 3, "{events:?}");

    // Someone who may not see the case learns nothing from its reference; a reference of no case
    // is the same NOT_FOUND, and a malformed one says what a case may be named by.
    let unseen = w
        .officer_ca2
        .cases()
        .get_case(pb::GetCaseRequest {
            id: reference.clone(),
        })
        .await
        .unwrap_err();
    let missing = w
        .officer_ca2
        .cases()
        .get_case(pb::GetCaseRequest {
            id: "IN-CA-DRUGS-1999-000001".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unseen.code(), Code::NotFound);
    assert_eq!(
        (missing.code(), missing.message()),
        (unseen.code(), unseen.message())
    );
    let malformed = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: "IN-CA-DRUGS".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed.message().contains("reference"),
        "{}",
        malformed.message()
    );
    w.stop().await;
}

/// A supervisor finds whom to assign a case to: the officers and supervisors of their own agency,
/// with their case roles, and no one else.
async fn case_workers_list_their_agencys_colleagues_and_nothing_more(backend: Backend) {
    let w = World::new(backend).await;
    let listed = |client: &crate::common::Client, role: pb::Role| {
        let mut directory = client.directory();
        async move {
            directory
                .list_colleagues(pb::ListColleaguesRequest { role: role as i32 })
                .await
                .map(|r| r.into_inner().colleagues)
        }
    };
    let everyone = listed(&w.sup_ca, pb::Role::Unspecified).await.unwrap();
    let names: Vec<&str> = everyone.iter().map(|c| c.username.as_str()).collect();
    for name in [
        &w.sup_ca.username,
        &w.officer_ca.username,
        &w.officer_ca2.username,
    ] {
        assert!(
            names.contains(&name.as_str()),
            "{name} missing from {names:?}"
        );
    }
    for name in [
        &w.admin_ca.username,
        &w.auditor_ca.username,
        &w.officer_in.username,
    ] {
        assert!(
            !names.contains(&name.as_str()),
            "{name} listed in {names:?}"
        );
    }
    let case_roles = [pb::Role::Officer as i32, pb::Role::Supervisor as i32];
    assert!(everyone
        .iter()
        .all(|c| !c.roles.is_empty() && c.roles.iter().all(|r| case_roles.contains(r))));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "by username");

    let officers = listed(&w.officer_ca, pb::Role::Officer).await.unwrap();
    assert!(officers
        .iter()
        .all(|c| c.roles.contains(&(pb::Role::Officer as i32))));
    assert!(officers.iter().any(|c| c.id == w.officer_ca2.user_id));
    assert!(!officers.iter().any(|c| c.id == w.sup_ca.user_id));

    let refused = |result: Result<Vec<pb::Colleague>, tonic::Status>| result.unwrap_err().code();
    assert_eq!(
        refused(listed(&w.auditor_ca, pb::Role::Unspecified).await),
        Code::PermissionDenied
    );
    assert_eq!(
        refused(listed(&w.sup_ca, pb::Role::Admin).await),
        Code::InvalidArgument
    );
    w.stop().await;
}
