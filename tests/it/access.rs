//! The role table, both sides of each row, and NOT_FOUND that reveals nothing.

use liaison_server::pb;
use tonic::Code;

use crate::common::{assert_code, code, Backend, World};
use crate::on_both_databases;

on_both_databases!(
    officers_work_only_their_own_cases,
    supervisors_work_their_agency_queues,
    auditors_and_admins_never_see_case_content,
    unseen_cases_answer_exactly_like_missing_ones,
);

async fn officers_work_only_their_own_cases(backend: Backend) {
    let w = World::new(backend).await;
    let case = w.case_in_progress("Officer rules").await;
    let get = |who: &crate::common::Client| {
        let mut cases = who.cases();
        let id = case.id.clone();
        async move { code(&cases.get_case(pb::GetCaseRequest { id }).await) }
    };
    // The filer and the assignee see it; another officer of either agency does not.
    assert_eq!(get(&w.officer_in).await, Code::Ok);
    assert_eq!(get(&w.officer_ca).await, Code::Ok);
    assert_eq!(get(&w.officer_ca2).await, Code::NotFound);

    // Officers cannot acknowledge, assign or reopen, even on a case they see.
    let assign = w
        .officer_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: case.id.clone(),
            assignee_id: w.officer_ca2.user_id.clone(),
            etag: case.etag.clone(),
        })
        .await;
    assert_code(assign, Code::PermissionDenied);
    // The filer cannot close; the assignee cannot withdraw.
    let close = w
        .officer_in
        .cases()
        .close_case(pb::CloseCaseRequest {
            id: case.id.clone(),
            resolution: pb::Resolution::Actioned as i32,
            etag: case.etag.clone(),
        })
        .await;
    assert_code(close, Code::PermissionDenied);
    let withdraw = w
        .officer_ca
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
            reason: String::new(),
        })
        .await;
    assert_code(withdraw, Code::PermissionDenied);
    // Only the assignee (or a receiving supervisor) requests information.
    let ask = w
        .officer_in
        .cases()
        .request_information(pb::RequestInformationRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
            question: "?".into(),
        })
        .await;
    assert_code(ask, Code::PermissionDenied);
    // Notes: on their cases yes, elsewhere not found.
    let note = |who: &crate::common::Client| {
        let mut cases = who.cases();
        let request = pb::AddNoteRequest {
            markings: None,
            case_id: case.id.clone(),
            body: "note".into(),
            visibility: pb::NoteVisibility::Shared as i32,
        };
        async move { code(&cases.add_note(request).await) }
    };
    assert_eq!(note(&w.officer_in).await, Code::Ok);
    assert_eq!(note(&w.officer_ca).await, Code::Ok);
    assert_eq!(note(&w.officer_ca2).await, Code::NotFound);

    // Reassignment moves visibility with it (the shared notes moved the etag: read it again).
    let case = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    w.sup_ca
        .cases()
        .assign_case(pb::AssignCaseRequest {
            id: case.id.clone(),
            assignee_id: w.officer_ca2.user_id.clone(),
            etag: case.etag.clone(),
        })
        .await
        .unwrap();
    assert_eq!(get(&w.officer_ca).await, Code::NotFound);
    assert_eq!(get(&w.officer_ca2).await, Code::Ok);

    // The filer withdraws their own case.
    let current = w
        .officer_in
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    w.officer_in
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: case.id.clone(),
            etag: current.etag,
            reason: "Resolved locally".into(),
        })
        .await
        .unwrap();
    w.stop().await;
}

async fn supervisors_work_their_agency_queues(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "Supervisor rules", pb::Priority::Routine)
        .await;
    // The originating supervisor sees it but may not acknowledge; a stranger does not see it.
    assert_code(
        w.sup_in
            .cases()
            .acknowledge_case(pb::AcknowledgeCaseRequest {
                id: case.id.clone(),
                etag: case.etag.clone(),
            })
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        w.sup_us
            .cases()
            .acknowledge_case(pb::AcknowledgeCaseRequest {
                id: case.id.clone(),
                etag: case.etag.clone(),
            })
            .await,
        Code::NotFound,
    );
    // The receiving supervisor may not withdraw.
    assert_code(
        w.sup_ca
            .cases()
            .withdraw_case(pb::WithdrawCaseRequest {
                id: case.id.clone(),
                etag: case.etag.clone(),
                reason: String::new(),
            })
            .await,
        Code::PermissionDenied,
    );
    // Both supervisors see and annotate it.
    for sup in [&w.sup_in, &w.sup_ca] {
        sup.cases()
            .add_note(pb::AddNoteRequest {
                markings: None,
                case_id: case.id.clone(),
                body: "seen".into(),
                visibility: pb::NoteVisibility::Shared as i32,
            })
            .await
            .unwrap();
    }
    // Supervisors file referrals too.
    let by_sup = w
        .file(&w.sup_ca, "Filed by a supervisor", pb::Priority::Routine)
        .await;
    assert_eq!(
        by_sup.reference.split('-').take(2).collect::<Vec<_>>(),
        ["CA", "IN"]
    );
    assert_eq!(by_sup.receiving_agency_id, w.in_ncb.id);
    // The receiving supervisor acknowledges (the shared notes moved the etag: read it again).
    let case = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
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
    // The originating supervisor withdraws an outgoing case.
    w.sup_in
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: case.id.clone(),
            etag: acked.etag,
            reason: String::new(),
        })
        .await
        .unwrap();
    w.stop().await;
}

async fn auditors_and_admins_never_see_case_content(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "Confidential", pb::Priority::Routine)
        .await;
    for who in [&w.auditor_in, &w.auditor_ca, &w.admin_in, &w.admin_ca] {
        assert_code(
            who.cases()
                .get_case(pb::GetCaseRequest {
                    id: case.id.clone(),
                })
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            who.cases()
                .list_cases(pb::ListCasesRequest::default())
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            who.cases()
                .list_notes(pb::ListNotesRequest {
                    case_id: case.id.clone(),
                    ..Default::default()
                })
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            who.cases()
                .file_referral(w.referral("no", pb::Priority::Routine))
                .await,
            Code::PermissionDenied,
        );
    }
    // The role is checked before the input: a bad request from the wrong role is still refused.
    let mut bad = w.referral("", pb::Priority::Unspecified);
    bad.request_id = "nope".into();
    assert_code(
        w.admin_in.cases().file_referral(bad).await,
        Code::PermissionDenied,
    );
    assert_code(
        w.officer_in
            .admin()
            .create_user(pb::CreateUserRequest::default())
            .await,
        Code::PermissionDenied,
    );
    // Officers and supervisors are not auditors or admins.
    for who in [&w.officer_in, &w.sup_ca] {
        assert_code(
            who.audit()
                .query_audit_log(pb::QueryAuditLogRequest::default())
                .await,
            Code::PermissionDenied,
        );
        assert_code(
            who.admin()
                .list_users(pb::ListUsersRequest::default())
                .await,
            Code::PermissionDenied,
        );
    }
    w.stop().await;
}

async fn unseen_cases_answer_exactly_like_missing_ones(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "Probe me", pb::Priority::Routine)
        .await;
    let missing = uuid::Uuid::now_v7().to_string();
    for who in [&w.officer_ca2, &w.sup_us] {
        let unseen = who
            .cases()
            .get_case(pb::GetCaseRequest {
                id: case.id.clone(),
            })
            .await
            .unwrap_err();
        let absent = who
            .cases()
            .get_case(pb::GetCaseRequest {
                id: missing.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(unseen.code(), Code::NotFound);
        assert_eq!(
            (unseen.code(), unseen.message()),
            (absent.code(), absent.message())
        );
        let unseen = who
            .cases()
            .acknowledge_case(pb::AcknowledgeCaseRequest {
                id: case.id.clone(),
                etag: case.etag.clone(),
            })
            .await
            .unwrap_err();
        let absent = who
            .cases()
            .acknowledge_case(pb::AcknowledgeCaseRequest {
                id: missing.clone(),
                etag: case.etag.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            (unseen.code(), unseen.message()),
            (absent.code(), absent.message())
        );
        let unseen = who
            .cases()
            .list_case_events(pb::ListCaseEventsRequest {
                case_id: case.id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        let absent = who
            .cases()
            .list_case_events(pb::ListCaseEventsRequest {
                case_id: missing.clone(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (unseen.code(), unseen.message()),
            (absent.code(), absent.message())
        );
    }
    w.stop().await;
}
