//! Markings: the provider's handling code and grading on cases and notes, who may change them,
//! and the handling code every audit entry of a read records.

use liaison_server::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::common::{assert_code, Backend, Client, World};
use crate::on_both_databases;

on_both_databases!(
    a_referral_carries_its_providers_markings,
    only_the_provider_changes_a_cases_markings_and_both_sides_see_it,
    a_note_is_never_laxer_than_its_case,
    reads_record_the_handling_in_force_and_auditors_ask_by_it,
);

fn markings(
    handling: pb::Handling,
    conditions: &str,
    source: pb::SourceReliability,
    accuracy: pb::InformationAccuracy,
) -> pb::Markings {
    pb::Markings {
        handling: handling as i32,
        handling_conditions: conditions.into(),
        source_reliability: source as i32,
        information_accuracy: accuracy as i32,
    }
}

fn h2_b2() -> pb::Markings {
    markings(
        pb::Handling::H2,
        "",
        pb::SourceReliability::B,
        pb::InformationAccuracy::KnownToSource,
    )
}

/// The fields a refusal names, from its google.rpc.BadRequest.
fn bad_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
}

async fn file_marked(w: &World, title: &str, m: Option<pb::Markings>) -> pb::Case {
    let mut request = w.referral(title, pb::Priority::Routine);
    request.markings = m;
    w.officer_in
        .cases()
        .file_referral(request)
        .await
        .expect("file a marked referral")
        .into_inner()
}

async fn get(who: &Client, id: &str) -> pb::Case {
    who.cases()
        .get_case(pb::GetCaseRequest { id: id.into() })
        .await
        .expect("get case")
        .into_inner()
}

async fn events(who: &Client, case_id: &str) -> Vec<pb::CaseEvent> {
    who.cases()
        .list_case_events(pb::ListCaseEventsRequest {
            case_id: case_id.into(),
            ..Default::default()
        })
        .await
        .expect("list events")
        .into_inner()
        .events
}

async fn notes(who: &Client, case_id: &str) -> Vec<pb::Note> {
    who.cases()
        .list_notes(pb::ListNotesRequest {
            case_id: case_id.into(),
            ..Default::default()
        })
        .await
        .expect("list notes")
        .into_inner()
        .notes
}

async fn add_note(
    who: &Client,
    case_id: &str,
    visibility: pb::NoteVisibility,
    m: Option<pb::Markings>,
) -> Result<pb::Note, tonic::Status> {
    who.cases()
        .add_note(pb::AddNoteRequest {
            case_id: case_id.into(),
            body: "The consignee's phone was seen in an earlier case.".into(),
            visibility: visibility as i32,
            markings: m,
        })
        .await
        .map(|r| r.into_inner())
}

async fn mark_case(
    who: &Client,
    case: &pb::Case,
    m: pb::Markings,
    reason: &str,
) -> Result<pb::Case, tonic::Status> {
    who.cases()
        .update_case_markings(pb::UpdateCaseMarkingsRequest {
            id: case.id.clone(),
            etag: case.etag.clone(),
            markings: Some(m),
            reason: reason.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn mark_note(
    who: &Client,
    note: &pb::Note,
    m: pb::Markings,
    reason: &str,
) -> Result<pb::Note, tonic::Status> {
    who.cases()
        .update_note_markings(pb::UpdateNoteMarkingsRequest {
            case_id: note.case_id.clone(),
            note_id: note.id.clone(),
            markings: Some(m),
            reason: reason.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn a_referral_carries_its_providers_markings(backend: Backend) {
    let w = World::new(backend).await;
    let marked = file_marked(&w, "Marked", Some(h2_b2())).await;
    assert_eq!(marked.markings, Some(h2_b2()));
    // The receiver reads the markings in force with the case, in a list as in a read.
    assert_eq!(get(&w.sup_ca, &marked.id).await.markings, Some(h2_b2()));
    let listed = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.cases[0].markings, Some(h2_b2()));

    // A client that knows nothing of markings files as before: H0, graded X4.
    let plain = file_marked(&w, "Plain", None).await;
    let default = markings(
        pb::Handling::H0,
        "",
        pb::SourceReliability::X,
        pb::InformationAccuracy::CannotBeJudged,
    );
    assert_eq!(plain.markings, Some(default.clone()));
    // Codes left unspecified take the defaults one by one.
    let partly = file_marked(
        &w,
        "Partly",
        Some(pb::Markings {
            handling: pb::Handling::H1 as i32,
            ..Default::default()
        }),
    )
    .await;
    assert_eq!(
        partly.markings,
        Some(pb::Markings {
            handling: pb::Handling::H1 as i32,
            ..default
        })
    );
    let h3 = file_marked(
        &w,
        "H3",
        Some(markings(
            pb::Handling::H3,
            "Only for the joint task force; not to the prosecution",
            pb::SourceReliability::A,
            pb::InformationAccuracy::KnownTrue,
        )),
    )
    .await;
    assert_eq!(
        get(&w.sup_ca, &h3.id)
            .await
            .markings
            .unwrap()
            .handling_conditions,
        "Only for the joint task force; not to the prosecution"
    );

    // Bad markings name their field, and file nothing.
    let before = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .cases
        .len();
    for (m, field) in [
        (
            markings(
                pb::Handling::H3,
                "",
                pb::SourceReliability::A,
                pb::InformationAccuracy::KnownTrue,
            ),
            "markings.handling_conditions",
        ),
        (
            markings(
                pb::Handling::H1,
                "stated",
                pb::SourceReliability::A,
                pb::InformationAccuracy::KnownTrue,
            ),
            "markings.handling_conditions",
        ),
        (
            pb::Markings {
                handling: 9,
                ..Default::default()
            },
            "markings.handling",
        ),
        (
            pb::Markings {
                source_reliability: 7,
                ..Default::default()
            },
            "markings.source_reliability",
        ),
        (
            pb::Markings {
                information_accuracy: 5,
                ..Default::default()
            },
            "markings.information_accuracy",
        ),
    ] {
        let mut request = w.referral("Bad markings", pb::Priority::Routine);
        request.markings = Some(m);
        let refused = w
            .officer_in
            .cases()
            .file_referral(request)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(bad_fields(&refused), [field], "{refused:?}");
    }
    let after = w
        .sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(after.cases.len(), before);

    // Retrying a filing with other markings is a different referral, not the same one again.
    let mut first = w.referral("Retried", pb::Priority::Routine);
    first.markings = Some(h2_b2());
    w.officer_in
        .cases()
        .file_referral(first.clone())
        .await
        .unwrap();
    first.markings = None;
    let refused = w.officer_in.cases().file_referral(first).await.unwrap_err();
    assert_eq!(bad_fields(&refused), ["request_id"]);
    w.stop().await;
}

async fn only_the_provider_changes_a_cases_markings_and_both_sides_see_it(backend: Backend) {
    let w = World::new(backend).await;
    let case = file_marked(&w, "To relax", Some(h2_b2())).await;
    let h1 = markings(
        pb::Handling::H1,
        "",
        pb::SourceReliability::B,
        pb::InformationAccuracy::KnownToSource,
    );

    // The receiving side may not change what the provider imposed, in either direction.
    let refused = mark_case(&w.sup_ca, &case, h1.clone(), "we would like to use it").await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied);
    // An agency outside the case does not see it at all.
    assert_code(
        w.sup_us
            .cases()
            .update_case_markings(pb::UpdateCaseMarkingsRequest {
                id: case.id.clone(),
                etag: case.etag.clone(),
                markings: Some(h1.clone()),
                reason: "x".into(),
            })
            .await,
        Code::NotFound,
    );
    // Relaxing needs a reason; a change must say every code; nothing may be left as it was.
    let refused = mark_case(&w.officer_in, &case, h1.clone(), "")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["reason"]);
    let refused = mark_case(
        &w.officer_in,
        &case,
        pb::Markings {
            handling: pb::Handling::H1 as i32,
            ..Default::default()
        },
        "cleared",
    )
    .await
    .unwrap_err();
    assert_eq!(
        bad_fields(&refused),
        [
            "markings.source_reliability",
            "markings.information_accuracy"
        ]
    );
    let same = mark_case(&w.officer_in, &case, h2_b2(), "")
        .await
        .unwrap_err();
    assert_eq!(same.code(), Code::FailedPrecondition);
    assert_eq!(get(&w.sup_ca, &case.id).await.markings, Some(h2_b2()));

    // The filer relaxes it, with the reason; both sides see the new markings and the event.
    let relaxed = mark_case(
        &w.officer_in,
        &case,
        h1.clone(),
        "the prosecutor agreed to its use as evidence",
    )
    .await
    .unwrap();
    assert_eq!(relaxed.markings, Some(h1.clone()));
    assert_ne!(relaxed.etag, case.etag);
    assert_eq!(get(&w.sup_ca, &case.id).await.markings, Some(h1.clone()));
    for who in [&w.sup_ca, &w.sup_in] {
        let timeline = events(who, &case.id).await;
        let change = timeline
            .iter()
            .find(|e| e.kind == pb::CaseEventKind::MarkingsChanged as i32)
            .expect("a MARKINGS_CHANGED event");
        assert_eq!(change.markings, Some(h1.clone()));
        assert_eq!(
            change.reason,
            "the prosecutor agreed to its use as evidence"
        );
        assert_eq!(change.actor_id, w.officer_in.user_id);
        assert!(change.note_id.is_empty());
    }
    // The old etag is stale now; an originating supervisor may tighten it, without a reason.
    assert_eq!(
        mark_case(&w.sup_in, &case, h2_b2(), "")
            .await
            .unwrap_err()
            .code(),
        Code::Aborted
    );
    let tightened = mark_case(&w.sup_in, &relaxed, h2_b2(), "").await.unwrap();
    assert_eq!(tightened.markings, Some(h2_b2()));
    w.stop().await;
}

async fn a_note_is_never_laxer_than_its_case(backend: Backend) {
    let w = World::new(backend).await;
    let mut request = w.referral("Notes under H2", pb::Priority::Routine);
    request.markings = Some(h2_b2());
    let case = w
        .officer_in
        .cases()
        .file_referral(request)
        .await
        .unwrap()
        .into_inner();

    // Laxer than the case: refused, naming the field, and no note is added.
    let h1 = pb::Markings {
        handling: pb::Handling::H1 as i32,
        ..Default::default()
    };
    let refused = add_note(&w.sup_ca, &case.id, pb::NoteVisibility::Shared, Some(h1))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&refused), ["markings.handling"]);
    assert!(refused.message().contains("laxer"), "{refused:?}");
    assert!(notes(&w.sup_ca, &case.id).await.is_empty());

    // Unspecified: the case's handling, ungraded. Stricter: kept as given.
    let inherited = add_note(&w.sup_ca, &case.id, pb::NoteVisibility::Shared, None)
        .await
        .unwrap();
    let expected = markings(
        pb::Handling::H2,
        "",
        pb::SourceReliability::X,
        pb::InformationAccuracy::CannotBeJudged,
    );
    assert_eq!(inherited.markings, Some(expected.clone()));
    let h3 = markings(
        pb::Handling::H3,
        "Not to be shared with the port authority",
        pb::SourceReliability::C,
        pb::InformationAccuracy::Corroborated,
    );
    let stricter = add_note(
        &w.officer_in,
        &case.id,
        pb::NoteVisibility::Shared,
        Some(h3.clone()),
    )
    .await
    .unwrap();
    assert_eq!(stricter.markings, Some(h3.clone()));
    let internal_ca = add_note(&w.sup_ca, &case.id, pb::NoteVisibility::Internal, None)
        .await
        .unwrap();

    // Only the note's provider changes its markings: not the other agency, and not for a note
    // it cannot read.
    let refused = mark_note(&w.sup_ca, &stricter, h2_b2(), "we need it")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let hidden = mark_note(&w.sup_in, &internal_ca, h2_b2(), "")
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // Never below the case, however it is changed.
    let below = markings(
        pb::Handling::H0,
        "",
        pb::SourceReliability::C,
        pb::InformationAccuracy::Corroborated,
    );
    let refused = mark_note(&w.officer_in, &stricter, below, "cleared")
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["markings.handling"]);
    // Its author relaxes it to the case's own code, with a reason; both sides see the event.
    let relaxed_to = markings(
        pb::Handling::H2,
        "",
        pb::SourceReliability::C,
        pb::InformationAccuracy::Corroborated,
    );
    let relaxed = mark_note(
        &w.officer_in,
        &stricter,
        relaxed_to.clone(),
        "the port authority is cleared",
    )
    .await
    .unwrap();
    assert_eq!(relaxed.markings, Some(relaxed_to.clone()));
    let change = events(&w.sup_ca, &case.id)
        .await
        .into_iter()
        .find(|e| e.kind == pb::CaseEventKind::MarkingsChanged as i32)
        .expect("the note's MARKINGS_CHANGED event");
    assert_eq!(change.note_id, stricter.id);
    assert_eq!(change.markings, Some(relaxed_to));
    // A change to an internal note is its agency's alone, like the note.
    mark_note(&w.sup_ca, &internal_ca, h3.clone(), "")
        .await
        .unwrap();
    let about_internal = |timeline: Vec<pb::CaseEvent>| {
        timeline.iter().any(|e| {
            e.note_id == internal_ca.id && e.kind == pb::CaseEventKind::MarkingsChanged as i32
        })
    };
    assert!(about_internal(events(&w.sup_ca, &case.id).await));
    assert!(!about_internal(events(&w.officer_in, &case.id).await));

    // A case tightened later holds over its laxer notes: they read with the case's code.
    let current = get(&w.officer_in, &case.id).await;
    let case_h3 = markings(
        pb::Handling::H3,
        "Only for the joint task force",
        pb::SourceReliability::B,
        pb::InformationAccuracy::KnownToSource,
    );
    mark_case(&w.officer_in, &current, case_h3, "")
        .await
        .unwrap();
    let shown = notes(&w.sup_ca, &case.id).await;
    let inherited_now = shown.iter().find(|n| n.id == inherited.id).unwrap();
    let in_force = inherited_now.markings.clone().unwrap();
    assert_eq!(in_force.handling, pb::Handling::H3 as i32);
    assert_eq!(
        in_force.handling_conditions,
        "Only for the joint task force"
    );
    // Its grading stays its own.
    assert_eq!(in_force.source_reliability, pb::SourceReliability::X as i32);
    w.stop().await;
}

async fn reads_record_the_handling_in_force_and_auditors_ask_by_it(backend: Backend) {
    let w = World::new(backend).await;
    let secret = file_marked(&w, "H2 material", Some(h2_b2())).await;
    let open = file_marked(&w, "H0 material", None).await;
    get(&w.sup_ca, &secret.id).await;
    get(&w.sup_ca, &open.id).await;
    // Someone who may not see the case is refused.
    assert_code(
        w.sup_us
            .cases()
            .get_case(pb::GetCaseRequest {
                id: secret.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    // A shared note stricter than its case makes the read of the notes record the stricter code;
    // an internal one does not (the entry is both agencies' to see).
    add_note(
        &w.officer_in,
        &open.id,
        pb::NoteVisibility::Shared,
        Some(markings(
            pb::Handling::H3,
            "Not to customs",
            pb::SourceReliability::A,
            pb::InformationAccuracy::KnownTrue,
        )),
    )
    .await
    .unwrap();
    notes(&w.sup_ca, &open.id).await;

    let query = |min_handling: pb::Handling| {
        let mut audit = w.auditor_ca.audit();
        async move {
            audit
                .query_audit_log(pb::QueryAuditLogRequest {
                    min_handling: min_handling as i32,
                    page_size: 500,
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner()
                .entries
        }
    };
    let strict = query(pb::Handling::H2).await;
    let reads_of = |entries: &[pb::AuditEntry], case: &pb::Case, method: &str| {
        entries
            .iter()
            .filter(|e| {
                e.case_id == case.id
                    && e.method == format!("liaison.v1.CaseService/{method}")
                    && e.outcome == pb::AuditOutcome::Allowed as i32
            })
            .map(|e| (e.actor_username.clone(), e.handling))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        reads_of(&strict, &secret, "GetCase"),
        [("sup.ca".to_string(), pb::Handling::H2 as i32)]
    );
    assert!(reads_of(&strict, &open, "GetCase").is_empty());
    assert_eq!(
        reads_of(&strict, &open, "ListNotes"),
        [("sup.ca".to_string(), pb::Handling::H3 as i32)]
    );
    // The filing itself and the refused attempt are there too.
    assert!(strict.iter().any(|e| e.case_id == secret.id
        && e.method.ends_with("FileReferral")
        && e.handling == pb::Handling::H2 as i32));
    // A refused attempt records no code: the prober's own agency's auditors see that entry, and
    // the code is something about a case it may not see.
    assert!(!strict.iter().any(|e| e.actor_username == "sup.us"));
    let everything = query(pb::Handling::Unspecified).await;
    assert_eq!(
        reads_of(&everything, &open, "GetCase"),
        [("sup.ca".to_string(), pb::Handling::H0 as i32)]
    );
    // Listing records the strictest code of the page it returned.
    w.sup_ca
        .cases()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap();
    let listed = query(pb::Handling::H2).await;
    assert!(listed
        .iter()
        .any(|e| e.method.ends_with("ListCases") && e.actor_username == "sup.ca"));
    let refused = w
        .auditor_ca
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            min_handling: 12,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&refused), ["min_handling"]);

    // The code is part of what the chain proves.
    let verified = w
        .auditor_ca
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(verified.ok, "{verified:?}");
    w.stop().await;
}
