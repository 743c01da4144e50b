//! Four eyes where a move carries diplomatic weight: a channel's rules make a second supervisor
//! release an outgoing referral, approve a decline, a close with NO_ACTION, or a relaxed marking.

use liaison_server::model::Role;
use liaison_server::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::common::{assert_code, Backend, Client, World};
use crate::on_both_databases;

on_both_databases!(
    a_referral_waits_for_a_second_supervisor_to_release_it,
    declines_closes_and_relaxed_markings_take_a_second_supervisor,
);

/// `rule`, proposed by India's admin and agreed by Canada's.
async fn agree_rule(w: &World, rule: &str) -> pb::ChannelTerm {
    let proposed = w
        .admin_in
        .admin()
        .propose_channel_term(pb::ProposeChannelTermRequest {
            channel_id: w.channel.id.clone(),
            kind: pb::TermKind::Rule as i32,
            code: rule.into(),
            title: String::new(),
            reference: String::new(),
            notes: String::new(),
            duration: None,
            percent: 0,
        })
        .await
        .expect("propose rule")
        .into_inner();
    assert!(
        !proposed.title.is_empty(),
        "a rule's title says what it asks"
    );
    w.admin_ca
        .admin()
        .approve_channel_term(pb::ApproveChannelTermRequest {
            id: proposed.id,
            reason: String::new(),
        })
        .await
        .expect("agree rule")
        .into_inner()
}

async fn get(client: &Client, id: &str) -> Result<pb::Case, tonic::Status> {
    client
        .cases()
        .get_case(pb::GetCaseRequest { id: id.into() })
        .await
        .map(|r| r.into_inner())
}

async fn moves(client: &Client, view: pb::CaseMoveView, case_id: &str) -> Vec<pb::CaseMove> {
    client
        .cases()
        .list_case_moves(pb::ListCaseMovesRequest {
            view: view as i32,
            case_id: case_id.into(),
            include_decided: true,
        })
        .await
        .expect("list moves")
        .into_inner()
        .moves
}

async fn approve(client: &Client, id: &str) -> Result<pb::CaseMove, tonic::Status> {
    client
        .cases()
        .approve_case_move(pb::ApproveCaseMoveRequest {
            id: id.into(),
            reason: String::new(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn kinds(client: &Client, case_id: &str) -> Vec<i32> {
    client
        .cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: case_id.into(),
            ..Default::default()
        })
        .await
        .expect("timeline")
        .into_inner()
        .events
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// The rule a FOUR_EYES refusal names.
fn rule_named(status: &tonic::Status) -> String {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    status
        .get_details_precondition_failure()
        .and_then(|f| f.violations.into_iter().find(|v| v.r#type == "FOUR_EYES"))
        .map(|v| v.subject)
        .unwrap_or_default()
}

async fn a_referral_waits_for_a_second_supervisor_to_release_it(backend: Backend) {
    let w = World::new(backend).await;
    agree_rule(&w, "FOUR_EYES_RELEASE").await;
    let case = w
        .file(&w.officer_in, "Held for release", pb::Priority::Urgent)
        .await;
    assert_eq!(case.status, pb::CaseStatus::PendingRelease as i32);

    // Canada cannot see it, in any way, until it is released.
    assert_code(
        w.sup_ca
            .cases()
            .get_case(pb::GetCaseRequest {
                id: case.reference.clone(),
            })
            .await,
        Code::NotFound,
    );
    let incoming = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest {
            view: pb::CaseView::Incoming as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .cases;
    assert!(incoming.iter().all(|c| c.id != case.id));
    let seen_by_canada = w
        .auditor_ca
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            case_id: case.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    // Canada's auditors see nothing of an unreleased referral but their own people's refused
    // attempts at it.
    assert!(
        seen_by_canada
            .iter()
            .all(|e| e.actor_agency_id == w.ca_rcmp.id
                && e.outcome == pb::AuditOutcome::Denied as i32),
        "{seen_by_canada:?}"
    );

    // Its RELEASE is proposed with it, and awaits another supervisor of India.
    let mine = moves(&w.officer_in, pb::CaseMoveView::ProposedByMe, &case.id).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].action, pb::MoveAction::Release as i32);
    assert_eq!(mine[0].status, pb::MoveStatus::Pending as i32);
    assert_eq!(mine[0].case_reference, case.reference);
    let waiting = moves(&w.sup_in, pb::CaseMoveView::AwaitingMyApproval, "").await;
    assert_eq!(waiting.len(), 1);
    assert!(moves(&w.sup_ca, pb::CaseMoveView::All, "").await.is_empty());
    assert!(
        moves(&w.officer_in, pb::CaseMoveView::AwaitingMyApproval, "")
            .await
            .is_empty(),
        "nothing awaits an officer's approval"
    );

    // Not by its proposer, not by an officer, not by the other side.
    let denied = approve(&w.officer_in, &waiting[0].id).await.unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(
        denied
            .message()
            .contains("the approver cannot be the requester"),
        "{denied:?}"
    );
    assert_code(
        w.sup_ca
            .cases()
            .approve_case_move(pb::ApproveCaseMoveRequest {
                id: waiting[0].id.clone(),
                reason: String::new(),
            })
            .await,
        Code::NotFound,
    );

    // Released an hour later: the acknowledgement clock starts then.
    w.server.clock.advance(chrono::Duration::hours(1));
    let sup_in = w.server.fresh(&w.sup_in).await;
    let released = approve(&sup_in, &waiting[0].id).await.unwrap();
    assert_eq!(released.status, pb::MoveStatus::Approved as i32);
    assert_eq!(released.decided_by, w.sup_in.user_id);
    let sup_ca = w.server.fresh(&w.sup_ca).await;
    let received = get(&sup_ca, &case.id).await.unwrap();
    assert_eq!(received.status, pb::CaseStatus::Filed as i32);
    let filed = case.filed_at.unwrap().seconds;
    let due = received.acknowledge_due_at.unwrap().seconds;
    assert!(
        due - filed >= 4 * 3600 + 3600 - 1,
        "an urgent referral's 4 hours run from its release: {}",
        due - filed
    );
    // Canada's timeline begins with the release; India's shows the four eyes.
    assert_eq!(
        kinds(&sup_ca, &case.id).await,
        [pb::CaseEventKind::Released as i32]
    );
    let officer_in = w.server.fresh(&w.officer_in).await;
    assert_eq!(
        kinds(&officer_in, &case.id).await,
        [
            pb::CaseEventKind::Filed as i32,
            pb::CaseEventKind::MoveProposed as i32,
            pb::CaseEventKind::MoveApproved as i32,
            pb::CaseEventKind::Released as i32,
        ]
    );
    assert_eq!(
        approve(&sup_in, &waiting[0].id).await.unwrap_err().code(),
        Code::FailedPrecondition
    );

    // A supervisor's own filing waits for another; a proposal lapses after 72 hours, and may be
    // made again; a rejected release leaves the referral to be withdrawn.
    let own = w
        .file(&sup_in, "Filed by a supervisor", pb::Priority::Routine)
        .await;
    let own_move = &moves(&sup_in, pb::CaseMoveView::ProposedByMe, &own.id).await[0];
    assert_eq!(
        approve(&sup_in, &own_move.id).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    w.server.clock.advance(chrono::Duration::hours(73));
    let sup_in = w.server.fresh(&w.sup_in).await;
    let lapsed = &moves(&sup_in, pb::CaseMoveView::ProposedByMe, &own.id).await[0];
    assert_eq!(lapsed.status, pb::MoveStatus::Expired as i32);
    let sup_in2 = w
        .server
        .user("IN-NCB", "sup.in2", &[Role::Supervisor])
        .await;
    assert_eq!(
        approve(&sup_in2, &lapsed.id).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    let own = get(&sup_in, &own.id).await.unwrap();
    let again = sup_in
        .cases()
        .propose_case_move(pb::ProposeCaseMoveRequest {
            case_id: own.reference.clone(),
            etag: own.etag.clone(),
            action: pb::MoveAction::Release as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let rejected = sup_in2
        .cases()
        .reject_case_move(pb::RejectCaseMoveRequest {
            id: again.id,
            reason: "Not ready: add the consignment number.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.status, pb::MoveStatus::Rejected as i32);
    let own = get(&sup_in, &own.id).await.unwrap();
    assert_eq!(own.status, pb::CaseStatus::PendingRelease as i32);
    let withdrawn = sup_in
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: own.id,
            etag: own.etag,
            reason: "Refiled with the consignment number.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, pb::CaseStatus::Withdrawn as i32);
    // Withdrawn before its release, it is never Canada's.
    let sup_ca = w.server.fresh(&w.sup_ca).await;
    assert_code(
        sup_ca
            .cases()
            .get_case(pb::GetCaseRequest {
                id: withdrawn.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert!(withdrawn.released_at.is_none());

    // An approval is of the case as proposed: a change since (a shared note) needs a new one.
    let noted = w
        .file(&sup_in, "Changed after the proposal", pb::Priority::Routine)
        .await;
    sup_in
        .cases()
        .add_note(pb::AddNoteRequest {
            case_id: noted.id.clone(),
            body: "The consignment number is 88-1234.".into(),
            visibility: pb::NoteVisibility::Shared as i32,
            markings: None,
        })
        .await
        .unwrap();
    let proposal = &moves(&sup_in, pb::CaseMoveView::ProposedByMe, &noted.id).await[0];
    let stale = approve(&sup_in2, &proposal.id).await.unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition, "{stale:?}");
    // Rejecting someone else's proposal says why.
    let refused = sup_in2
        .cases()
        .reject_case_move(pb::RejectCaseMoveRequest {
            id: proposal.id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    w.stop().await;
}

async fn declines_closes_and_relaxed_markings_take_a_second_supervisor(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(
            &w.officer_in,
            "Declined after a second look",
            pb::Priority::Routine,
        )
        .await;
    // Without a rule, there is nothing to propose.
    let unneeded = w
        .sup_ca
        .cases()
        .propose_case_move(pb::ProposeCaseMoveRequest {
            case_id: case.id.clone(),
            etag: case.etag.clone(),
            action: pb::MoveAction::Decline as i32,
            reason: "No record.".into(),
            ground: pb::RefusalGround::NotAvailable as i32,
            markings: None,
            note_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(unneeded.code(), Code::FailedPrecondition);
    for rule in [
        "FOUR_EYES_DECLINE",
        "DECLINE_NEEDS_GROUND",
        "FOUR_EYES_CLOSE_NO_ACTION",
        "FOUR_EYES_RELAX_MARKING",
    ] {
        agree_rule(&w, rule).await;
    }
    let decline = |ground: pb::RefusalGround| pb::DeclineCaseRequest {
        id: case.id.clone(),
        etag: case.etag.clone(),
        reason: "No subscriber record for that number.".into(),
        ground: ground as i32,
    };
    let refused = w
        .sup_ca
        .cases()
        .decline_case(decline(pb::RefusalGround::NotAvailable))
        .await
        .unwrap_err();
    assert_eq!(rule_named(&refused), "FOUR_EYES_DECLINE");
    let refused = w
        .sup_ca
        .cases()
        .decline_case(decline(pb::RefusalGround::Unspecified))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        refused.get_details_bad_request().unwrap().field_violations[0].field,
        "ground"
    );

    let propose = |ground: pb::RefusalGround| pb::ProposeCaseMoveRequest {
        case_id: case.id.clone(),
        etag: case.etag.clone(),
        action: pb::MoveAction::Decline as i32,
        reason: "No subscriber record for that number.".into(),
        ground: ground as i32,
        markings: None,
        note_id: String::new(),
    };
    assert_code(
        w.sup_ca
            .cases()
            .propose_case_move(propose(pb::RefusalGround::Unspecified))
            .await,
        Code::InvalidArgument,
    );
    // Only a receiving supervisor may propose a decline.
    assert_code(
        w.sup_in
            .cases()
            .propose_case_move(propose(pb::RefusalGround::NotAvailable))
            .await,
        Code::PermissionDenied,
    );
    let proposed = w
        .sup_ca
        .cases()
        .propose_case_move(propose(pb::RefusalGround::NotAvailable))
        .await
        .unwrap()
        .into_inner();
    assert_code(
        w.sup_ca
            .cases()
            .propose_case_move(propose(pb::RefusalGround::NotAvailable))
            .await,
        Code::FailedPrecondition,
    );
    // India sees nothing of the deliberation.
    assert_eq!(
        kinds(&w.officer_in, &case.id).await,
        [pb::CaseEventKind::Filed as i32]
    );
    let denied = approve(&w.sup_ca, &proposed.id).await.unwrap_err();
    assert!(
        denied
            .message()
            .contains("the approver cannot be the requester"),
        "{denied:?}"
    );
    // An officer of the agency who may not see the case, and the other countries, find nothing.
    assert_eq!(
        approve(&w.officer_ca, &proposed.id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    assert_eq!(
        approve(&w.sup_us, &proposed.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let sup_ca2 = w
        .server
        .user("CA-RCMP", "sup.ca2", &[Role::Supervisor])
        .await;
    assert_eq!(
        moves(&sup_ca2, pb::CaseMoveView::AwaitingMyApproval, "")
            .await
            .len(),
        1
    );
    approve(&sup_ca2, &proposed.id).await.unwrap();
    let declined = get(&w.officer_in, &case.id).await.unwrap();
    assert_eq!(declined.status, pb::CaseStatus::Declined as i32);
    assert_eq!(
        declined.decline_ground,
        pb::RefusalGround::NotAvailable as i32
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
    let last = events.last().unwrap();
    assert_eq!(last.kind, pb::CaseEventKind::Declined as i32);
    assert_eq!(
        last.actor_id, sup_ca2.user_id,
        "the approver makes the move"
    );
    assert_eq!(last.reason, "No subscriber record for that number.");
    assert_eq!(
        last.move_id, "",
        "the other side learns nothing of the deliberation"
    );
    assert!(moves(&sup_ca2, pb::CaseMoveView::AwaitingMyApproval, "")
        .await
        .is_empty());

    // Closing with NO_ACTION: the assignee proposes it, a supervisor approves it; any other
    // resolution needs no one else.
    let worked = w.case_in_progress("Closed after a second look").await;
    let close = |resolution: pb::Resolution, c: &pb::Case| pb::CloseCaseRequest {
        id: c.id.clone(),
        etag: c.etag.clone(),
        resolution: resolution as i32,
    };
    let refused = w
        .officer_ca
        .cases()
        .close_case(close(pb::Resolution::NoAction, &worked))
        .await
        .unwrap_err();
    assert_eq!(rule_named(&refused), "FOUR_EYES_CLOSE_NO_ACTION");
    let proposed = w
        .officer_ca
        .cases()
        .propose_case_move(pb::ProposeCaseMoveRequest {
            case_id: worked.id.clone(),
            etag: worked.etag.clone(),
            action: pb::MoveAction::CloseNoAction as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    approve(&w.sup_ca, &proposed.id).await.unwrap();
    let closed = get(&w.officer_ca, &worked.id).await.unwrap();
    assert_eq!(closed.status, pb::CaseStatus::Closed as i32);
    assert_eq!(closed.resolution, pb::Resolution::NoAction as i32);
    let other = w.case_in_progress("Closed as actioned").await;
    w.officer_ca
        .cases()
        .close_case(close(pb::Resolution::Actioned, &other))
        .await
        .expect("a close with another resolution needs no second supervisor");

    // Relaxing a case's marking: the filer proposes, an originating supervisor approves;
    // making it stricter needs no one.
    let mut request = w.referral("Marked H2", pb::Priority::Routine);
    request.markings = Some(pb::Markings {
        handling: pb::Handling::H2 as i32,
        ..Default::default()
    });
    let marked = w
        .officer_in
        .cases()
        .file_referral(request)
        .await
        .unwrap()
        .into_inner();
    let relaxed = pb::Markings {
        handling: pb::Handling::H1 as i32,
        handling_conditions: String::new(),
        source_reliability: pb::SourceReliability::X as i32,
        information_accuracy: pb::InformationAccuracy::CannotBeJudged as i32,
    };
    let refused = w
        .officer_in
        .cases()
        .update_case_markings(pb::UpdateCaseMarkingsRequest {
            id: marked.id.clone(),
            etag: marked.etag.clone(),
            markings: Some(relaxed.clone()),
            reason: "The prosecutor may use it.".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(rule_named(&refused), "FOUR_EYES_RELAX_MARKING");
    let proposed = w
        .officer_in
        .cases()
        .propose_case_move(pb::ProposeCaseMoveRequest {
            case_id: marked.id.clone(),
            etag: marked.etag.clone(),
            action: pb::MoveAction::RelaxMarking as i32,
            reason: "The prosecutor may use it.".into(),
            ground: 0,
            markings: Some(relaxed),
            note_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let stricter = w
        .officer_in
        .cases()
        .update_case_markings(pb::UpdateCaseMarkingsRequest {
            id: marked.id.clone(),
            etag: marked.etag.clone(),
            markings: Some(pb::Markings {
                handling: pb::Handling::H3 as i32,
                handling_conditions: "Only for the customs investigation.".into(),
                source_reliability: pb::SourceReliability::X as i32,
                information_accuracy: pb::InformationAccuracy::CannotBeJudged as i32,
            }),
            reason: String::new(),
        })
        .await
        .expect("stricter needs no second supervisor")
        .into_inner();
    assert_eq!(
        stricter.markings.as_ref().unwrap().handling,
        pb::Handling::H3 as i32
    );
    // The relaxation was proposed on the H2 case: it is not approved onto the H3 one.
    assert_eq!(
        approve(&w.sup_in, &proposed.id).await.unwrap_err().code(),
        Code::FailedPrecondition
    );
    w.sup_in
        .cases()
        .reject_case_move(pb::RejectCaseMoveRequest {
            id: proposed.id.clone(),
            reason: "The markings changed since; propose it again.".into(),
        })
        .await
        .unwrap();
    let proposed = w
        .officer_in
        .cases()
        .propose_case_move(pb::ProposeCaseMoveRequest {
            case_id: marked.id.clone(),
            etag: stricter.etag.clone(),
            action: pb::MoveAction::RelaxMarking as i32,
            reason: "The prosecutor may use it.".into(),
            ground: 0,
            markings: Some(pb::Markings {
                handling: pb::Handling::H1 as i32,
                handling_conditions: String::new(),
                source_reliability: pb::SourceReliability::X as i32,
                information_accuracy: pb::InformationAccuracy::CannotBeJudged as i32,
            }),
            note_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    approve(&w.sup_in, &proposed.id).await.unwrap();
    let now = get(&w.sup_ca, &marked.id).await.unwrap();
    assert_eq!(now.markings.unwrap().handling, pb::Handling::H1 as i32);
    assert_eq!(
        *kinds(&w.sup_ca, &marked.id).await.last().unwrap(),
        pb::CaseEventKind::MarkingsChanged as i32
    );

    // A note's marking likewise: its provider proposes, a supervisor of its agency approves.
    let note = w
        .officer_in
        .cases()
        .add_note(pb::AddNoteRequest {
            case_id: marked.id.clone(),
            body: "The informant saw the consignment loaded.".into(),
            visibility: pb::NoteVisibility::Shared as i32,
            markings: Some(pb::Markings {
                handling: pb::Handling::H2 as i32,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let h1 = pb::Markings {
        handling: pb::Handling::H1 as i32,
        handling_conditions: String::new(),
        source_reliability: pb::SourceReliability::X as i32,
        information_accuracy: pb::InformationAccuracy::CannotBeJudged as i32,
    };
    let refused = w
        .officer_in
        .cases()
        .update_note_markings(pb::UpdateNoteMarkingsRequest {
            case_id: marked.id.clone(),
            note_id: note.id.clone(),
            markings: Some(h1.clone()),
            reason: "It may be used as evidence.".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(rule_named(&refused), "FOUR_EYES_RELAX_MARKING");
    let marked_now = get(&w.officer_in, &marked.id).await.unwrap();
    let proposal = |note_id: &str| pb::ProposeCaseMoveRequest {
        case_id: marked.id.clone(),
        etag: marked_now.etag.clone(),
        action: pb::MoveAction::RelaxNoteMarking as i32,
        reason: "It may be used as evidence.".into(),
        ground: 0,
        markings: Some(h1.clone()),
        note_id: note_id.into(),
    };
    let missing = w
        .officer_in
        .cases()
        .propose_case_move(proposal(""))
        .await
        .unwrap_err();
    assert_eq!(
        missing.get_details_bad_request().unwrap().field_violations[0].field,
        "note_id"
    );
    // Canada cannot propose it: the note is India's to mark.
    assert_code(
        w.sup_ca.cases().propose_case_move(proposal(&note.id)).await,
        Code::PermissionDenied,
    );
    let proposed = w
        .officer_in
        .cases()
        .propose_case_move(proposal(&note.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposed.note_id, note.id);
    approve(&w.sup_in, &proposed.id).await.unwrap();
    let notes = w
        .sup_ca
        .cases()
        .list_notes(pb::ListNotesRequest {
            case_id: marked.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .notes;
    let relaxed_note = notes.iter().find(|n| n.id == note.id).unwrap();
    assert_eq!(
        relaxed_note.markings.as_ref().unwrap().handling,
        pb::Handling::H1 as i32
    );

    // Each step is in the audit log of the agency that made it.
    for method in ["ProposeCaseMove", "ApproveCaseMove"] {
        let entries = w
            .auditor_ca
            .audit()
            .query_audit_log(pb::QueryAuditLogRequest {
                method: format!("liaison.v1.CaseService/{method}"),
                page_size: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        assert!(
            entries
                .iter()
                .any(|e| e.outcome == pb::AuditOutcome::Allowed as i32),
            "{method}"
        );
        assert!(
            entries
                .iter()
                .any(|e| e.outcome != pb::AuditOutcome::Allowed as i32),
            "{method}: refusals are audited too"
        );
    }
    w.stop().await;
}
