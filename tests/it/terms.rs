//! The register a channel's agencies agree: legal bases proposed by one side, agreed by the other,
//! cited by requests, and retired by either.

use liaison_server::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::common::{assert_code, Backend, World};
use crate::on_both_databases;

on_both_databases!(
    a_legal_basis_binds_once_the_other_agency_agrees_it,
    a_request_cites_a_basis_its_channel_agreed,
    a_channel_agrees_categories_beyond_the_first_three,
    cases_and_channels_from_before_the_register_migrate_forward,
);

fn basis(w: &World, code: &str) -> pb::ProposeChannelTermRequest {
    pb::ProposeChannelTermRequest {
        channel_id: w.channel.id.clone(),
        kind: pb::TermKind::LegalBasis as i32,
        code: code.into(),
        title: "Treaty between Canada and India on Mutual Legal Assistance in Criminal Matters"
            .into(),
        reference: "Canada Treaty Series 1998/13".into(),
        notes: String::new(),
        duration: None,
        percent: 0,
    }
}

/// The field a refusal names, from its google.rpc.BadRequest.
fn bad_field(status: &tonic::Status) -> String {
    status
        .get_details_bad_request()
        .and_then(|b| b.field_violations.into_iter().next())
        .map(|v| v.field)
        .unwrap_or_default()
}

/// `code`, proposed by India's admin and agreed by Canada's.
async fn agreed(w: &World, code: &str) -> pb::ChannelTerm {
    w.agree_term(basis(w, code)).await
}

async fn a_legal_basis_binds_once_the_other_agency_agrees_it(backend: Backend) {
    let w = World::new(backend).await;
    let proposed = w
        .admin_in
        .admin()
        .propose_channel_term(basis(&w, "CA-IN-MLAT"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposed.status, pb::TermStatus::Proposed as i32);
    assert_eq!(proposed.proposing_agency_id, w.in_ncb.id);
    assert_eq!(proposed.proposed_by, w.admin_in.user_id);

    // Only a live code is unique: a second proposal of it is refused.
    assert_code(
        w.admin_ca
            .admin()
            .propose_channel_term(basis(&w, "CA-IN-MLAT"))
            .await,
        Code::AlreadyExists,
    );
    // Bad input names its field.
    let mut bad = basis(&w, "ca-in mlat");
    bad.title = String::new();
    let refused = w
        .admin_in
        .admin()
        .propose_channel_term(bad)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = refused
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect();
    assert_eq!(fields, ["code", "title"]);
    let mut unknown = basis(&w, "X1");
    unknown.kind = 0;
    let refused = w
        .admin_in
        .admin()
        .propose_channel_term(unknown)
        .await
        .unwrap_err();
    assert_eq!(bad_field(&refused), "kind");

    // Who decides: never the proposing agency, never a case worker, never an outsider.
    let approve = |id: &str| pb::ApproveChannelTermRequest {
        id: id.into(),
        reason: String::new(),
    };
    assert_code(
        w.admin_in
            .admin()
            .approve_channel_term(approve(&proposed.id))
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        w.sup_ca
            .admin()
            .approve_channel_term(approve(&proposed.id))
            .await,
        Code::PermissionDenied,
    );
    let outsider = w
        .server
        .user("US-FBI", "admin.us", &[liaison_server::model::Role::Admin])
        .await;
    assert_code(
        outsider
            .admin()
            .approve_channel_term(approve(&proposed.id))
            .await,
        Code::NotFound,
    );
    assert_code(
        outsider
            .directory()
            .list_channel_terms(pb::ListChannelTermsRequest {
                channel_id: w.channel.id.clone(),
                ..Default::default()
            })
            .await,
        Code::NotFound,
    );

    // Nothing is in force until the other side agrees; everybody of both agencies reads it then.
    let in_force = |client: &crate::common::Client| {
        let mut directory = client.directory();
        let channel_id = w.channel.id.clone();
        async move {
            directory
                .list_channel_terms(pb::ListChannelTermsRequest {
                    channel_id,
                    kind: pb::TermKind::LegalBasis as i32,
                    include_inactive: false,
                })
                .await
                .expect("list terms")
                .into_inner()
                .terms
        }
    };
    assert!(in_force(&w.officer_in).await.is_empty());
    let agreed = w
        .admin_ca
        .admin()
        .approve_channel_term(pb::ApproveChannelTermRequest {
            id: proposed.id.clone(),
            reason: "As signed in 1994.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(agreed.status, pb::TermStatus::Agreed as i32);
    assert_eq!(agreed.decided_by, w.admin_ca.user_id);
    assert_eq!(agreed.decision_reason, "As signed in 1994.");
    for client in [&w.officer_in, &w.officer_ca, &w.admin_in] {
        let terms = in_force(client).await;
        assert_eq!(terms.len(), 1);
        assert_eq!(terms[0].code, "CA-IN-MLAT");
    }
    // A decided term cannot be decided again.
    assert_code(
        w.admin_ca
            .admin()
            .reject_channel_term(pb::RejectChannelTermRequest {
                id: proposed.id.clone(),
                reason: String::new(),
            })
            .await,
        Code::FailedPrecondition,
    );

    // The proposer withdraws a proposal of its own; the other side's refusal is a rejection.
    let withdrawn = w
        .admin_in
        .admin()
        .propose_channel_term(basis(&w, "POLICE-MOU"))
        .await
        .unwrap()
        .into_inner();
    let withdrawn = w
        .admin_in
        .admin()
        .reject_channel_term(pb::RejectChannelTermRequest {
            id: withdrawn.id,
            reason: "Wrong title.".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(withdrawn.status, pb::TermStatus::Withdrawn as i32);
    let rejected = w
        .admin_ca
        .admin()
        .propose_channel_term(basis(&w, "POLICE-MOU"))
        .await
        .expect("a withdrawn code may be proposed again")
        .into_inner();
    let rejected = w
        .admin_in
        .admin()
        .reject_channel_term(pb::RejectChannelTermRequest {
            id: rejected.id,
            reason: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.status, pb::TermStatus::Rejected as i32);

    // Either side retires an agreed term, with a reason the other side reads.
    let retire = |reason: &str| pb::RetireChannelTermRequest {
        id: proposed.id.clone(),
        reason: reason.into(),
    };
    let refused = w
        .admin_in
        .admin()
        .retire_channel_term(retire(""))
        .await
        .unwrap_err();
    assert_eq!(bad_field(&refused), "reason");
    let retired = w
        .admin_in
        .admin()
        .retire_channel_term(retire("Superseded by the 2026 protocol."))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retired.status, pb::TermStatus::Retired as i32);
    assert_eq!(retired.retired_by, w.admin_in.user_id);
    assert_eq!(
        retired.retirement_reason,
        "Superseded by the 2026 protocol."
    );
    assert!(in_force(&w.officer_ca).await.is_empty());
    let all = w
        .officer_ca
        .directory()
        .list_channel_terms(pb::ListChannelTermsRequest {
            channel_id: w.channel.id.clone(),
            kind: pb::TermKind::LegalBasis as i32,
            include_inactive: true,
        })
        .await
        .unwrap()
        .into_inner()
        .terms;
    let statuses: Vec<i32> = all.iter().map(|t| t.status).collect();
    assert_eq!(
        statuses,
        [
            pb::TermStatus::Retired as i32,
            pb::TermStatus::Withdrawn as i32,
            pb::TermStatus::Rejected as i32
        ]
    );

    // Every decision is in the audit log, refusals too, each in its own agency's view.
    for (auditor, method, outcome) in [
        (
            &w.auditor_in,
            "ProposeChannelTerm",
            pb::AuditOutcome::Failed,
        ),
        (
            &w.auditor_in,
            "ApproveChannelTerm",
            pb::AuditOutcome::Denied,
        ),
        (
            &w.auditor_in,
            "RejectChannelTerm",
            pb::AuditOutcome::Allowed,
        ),
        (
            &w.auditor_in,
            "RetireChannelTerm",
            pb::AuditOutcome::Allowed,
        ),
        (
            &w.auditor_ca,
            "ApproveChannelTerm",
            pb::AuditOutcome::Allowed,
        ),
        (
            &w.auditor_ca,
            "ApproveChannelTerm",
            pb::AuditOutcome::Denied,
        ),
    ] {
        let entries = auditor
            .audit()
            .query_audit_log(pb::QueryAuditLogRequest {
                method: format!("liaison.v1.AdminService/{method}"),
                page_size: 500,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries;
        assert!(
            entries.iter().any(|e| e.outcome == outcome as i32),
            "no {method} entry {outcome:?}"
        );
    }
    w.stop().await;
}

async fn a_request_cites_a_basis_its_channel_agreed(backend: Backend) {
    let w = World::new(backend).await;
    // A channel that agreed no basis yet takes requests as before.
    let before = w
        .file(
            &w.officer_in,
            "Filed before any basis",
            pb::Priority::Routine,
        )
        .await;
    assert_eq!(before.legal_basis_id, "");

    let mlat = agreed(&w, "CA-IN-MLAT").await;
    let proposed = w
        .admin_ca
        .admin()
        .propose_channel_term(basis(&w, "POLICE-MOU"))
        .await
        .unwrap()
        .into_inner();

    let file = |basis: &str, kind: pb::RequestKind| {
        let mut request = w.referral("Subscriber of +1 604 555 0100", pb::Priority::Routine);
        request.legal_basis_id = basis.into();
        request.kind = kind as i32;
        if kind == pb::RequestKind::Preservation {
            request.preservation = Some(pb::PreservationOrder {
                data: "Subscriber and traffic data".into(),
                custodian: "Telus".into(),
                offence: "Importation of fentanyl precursors".into(),
                necessity: "The records are kept 90 days".into(),
                formal_request: "An MLAT request follows".into(),
            });
        }
        let mut cases = w.officer_in.cases();
        async move { cases.file_referral(request).await }
    };
    // Once one is agreed, a request without one is refused, naming the bases that would do.
    for kind in [pb::RequestKind::Request, pb::RequestKind::Preservation] {
        let refused = file("", kind).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(bad_field(&refused), "legal_basis_id");
        assert!(refused.message().contains("CA-IN-MLAT"), "{refused:?}");
    }
    // So is a basis only proposed, and an id that is no basis at all.
    for id in [proposed.id.as_str(), w.channel.id.as_str()] {
        let refused = file(id, pb::RequestKind::Request).await.unwrap_err();
        assert_eq!(bad_field(&refused), "legal_basis_id", "{refused:?}");
    }
    assert_eq!(
        bad_field(&file("MLAT", pb::RequestKind::Request).await.unwrap_err()),
        "legal_basis_id"
    );
    // Information given on one's own initiative needs none.
    let told = file("", pb::RequestKind::Spontaneous)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(told.legal_basis_id, "");

    let cited = file(&mlat.id, pb::RequestKind::Request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cited.legal_basis_id, mlat.id);
    let read = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: cited.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.legal_basis_id, mlat.id);

    // A retired basis can no longer be cited; the cases that cited it keep it.
    w.admin_ca
        .admin()
        .retire_channel_term(pb::RetireChannelTermRequest {
            id: mlat.id.clone(),
            reason: "Replaced by the new treaty.".into(),
        })
        .await
        .unwrap();
    let refused = file(&mlat.id, pb::RequestKind::Request).await.unwrap_err();
    assert_eq!(bad_field(&refused), "legal_basis_id");
    assert!(refused.message().contains("agreed none"), "{refused:?}");
    let read = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest { id: cited.id })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.legal_basis_id, mlat.id);
    w.stop().await;
}

async fn a_channel_agrees_categories_beyond_the_first_three(backend: Backend) {
    let w = World::new(backend).await;
    // The founding categories are the channel's first CATEGORY terms, agreed with it.
    let categories = |client: &crate::common::Client| {
        let mut directory = client.directory();
        let channel_id = w.channel.id.clone();
        async move {
            directory
                .list_channel_terms(pb::ListChannelTermsRequest {
                    channel_id,
                    kind: pb::TermKind::Category as i32,
                    include_inactive: false,
                })
                .await
                .expect("list categories")
                .into_inner()
                .terms
                .into_iter()
                .map(|t| t.code)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(categories(&w.officer_in).await, ["DRUGS", "FRAUD"]);
    assert_eq!(w.channel.category_codes, ["DRUGS", "FRAUD"]);

    let file = |code: &str, category: pb::Category| {
        let mut request = w.referral(
            "Proceeds moved through a money service business",
            pb::Priority::Routine,
        );
        request.category = category as i32;
        request.category_code = code.into();
        let mut cases = w.officer_in.cases();
        async move { cases.file_referral(request).await }
    };
    let not_covered = file("ORGANISED_CRIME", pb::Category::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(not_covered.code(), Code::FailedPrecondition);
    assert!(
        not_covered.message().contains("covers DRUGS, FRAUD"),
        "{not_covered:?}"
    );
    for (code, category) in [
        ("organised crime", pb::Category::Unspecified),
        ("FRAUD", pb::Category::Drugs),
    ] {
        let refused = file(code, category).await.unwrap_err();
        assert_eq!(bad_field(&refused), "category_code", "{refused:?}");
    }
    let mut dashed = basis(&w, "ORGANISED-CRIME");
    dashed.kind = pb::TermKind::Category as i32;
    let refused = w
        .admin_in
        .admin()
        .propose_channel_term(dashed)
        .await
        .unwrap_err();
    assert_eq!(bad_field(&refused), "code");

    let mut proposal = basis(&w, "ORGANISED_CRIME");
    proposal.kind = pb::TermKind::Category as i32;
    proposal.title = "Organised crime: groups, their finance and their logistics".into();
    proposal.reference = String::new();
    let proposed = w
        .admin_in
        .admin()
        .propose_channel_term(proposal)
        .await
        .unwrap()
        .into_inner();
    w.admin_ca
        .admin()
        .approve_channel_term(pb::ApproveChannelTermRequest {
            id: proposed.id,
            reason: String::new(),
        })
        .await
        .unwrap();
    let case = file("ORGANISED_CRIME", pb::Category::Unspecified)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.category, pb::Category::Unspecified as i32);
    assert_eq!(case.category_code, "ORGANISED_CRIME");
    assert!(
        case.reference.contains("-ORGANISED_CRIME-"),
        "{}",
        case.reference
    );
    // Named by its reference like any case; found by its category's code.
    let read = w
        .sup_ca
        .cases()
        .get_case(pb::GetCaseRequest {
            id: case.reference.to_lowercase(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.id, case.id);
    let listed = |category: pb::Category, code: &str| {
        let mut cases = w.sup_ca.cases();
        let request = pb::ListCasesRequest {
            category: category as i32,
            category_code: code.into(),
            ..Default::default()
        };
        async move {
            cases
                .list_cases(request)
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
        listed(pb::Category::Unspecified, "ORGANISED_CRIME").await,
        std::slice::from_ref(&case.id)
    );
    assert!(!listed(pb::Category::Drugs, "").await.contains(&case.id));
    // The first three keep working by their enum, as before.
    let drugs = file("", pb::Category::Drugs).await.unwrap().into_inner();
    assert_eq!(drugs.category_code, "DRUGS");
    assert_eq!(
        listed(pb::Category::Drugs, "").await,
        std::slice::from_ref(&drugs.id)
    );

    // A founding category is retired like any term: no more filings in it.
    let fraud = w
        .admin_in
        .directory()
        .list_channel_terms(pb::ListChannelTermsRequest {
            channel_id: w.channel.id.clone(),
            kind: pb::TermKind::Category as i32,
            include_inactive: false,
        })
        .await
        .unwrap()
        .into_inner()
        .terms
        .into_iter()
        .find(|t| t.code == "FRAUD")
        .unwrap();
    w.admin_ca
        .admin()
        .retire_channel_term(pb::RetireChannelTermRequest {
            id: fraud.id,
            reason: "Fraud referrals go through the new FIU channel.".into(),
        })
        .await
        .unwrap();
    assert_code(
        file("", pb::Category::Fraud).await,
        Code::FailedPrecondition,
    );
    let channel = w
        .officer_in
        .directory()
        .get_channel(pb::GetChannelRequest {
            id: w.channel.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(channel.category_codes, ["DRUGS", "ORGANISED_CRIME"]);
    assert_eq!(channel.categories, [pb::Category::Drugs as i32]);

    // A live queue refuses a category no channel of the agency has, as the listing does.
    let refused = w
        .sup_ca
        .cases()
        .watch_cases(pb::WatchCasesRequest {
            category_code: "WEAPONS".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_field(&refused), "category_code");
    // A channel only proposed keeps the categories it was proposed with until it is approved.
    let proposed = w
        .admin_in
        .admin()
        .propose_channel(pb::ProposeChannelRequest {
            partner_agency_id: w.us_fbi.id.clone(),
            categories: vec![pb::Category::Cyber as i32],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposed.category_codes, ["CYBER"]);
    let mut early = basis(&w, "DRUGS");
    early.channel_id = proposed.id;
    early.kind = pb::TermKind::Category as i32;
    assert_code(
        w.admin_in.admin().propose_channel_term(early).await,
        Code::FailedPrecondition,
    );
    w.stop().await;
}

/// The last three migrations undone and done again on what the service wrote: categories become
/// terms, every case gets its category's code, and each case's release time is found from its
/// timeline (a held referral withdrawn unreleased stays unreleased).
async fn cases_and_channels_from_before_the_register_migrate_forward(backend: Backend) {
    use migration::MigratorTrait;
    let w = World::new(backend).await;
    let plain = w
        .file(&w.officer_in, "Filed as always", pb::Priority::Routine)
        .await;
    let rule = w
        .admin_in
        .admin()
        .propose_channel_term(pb::ProposeChannelTermRequest {
            channel_id: w.channel.id.clone(),
            kind: pb::TermKind::Rule as i32,
            code: "FOUR_EYES_RELEASE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    w.admin_ca
        .admin()
        .approve_channel_term(pb::ApproveChannelTermRequest {
            id: rule.id,
            reason: String::new(),
        })
        .await
        .unwrap();
    let held = w
        .file(&w.officer_in, "Released later", pb::Priority::Routine)
        .await;
    let kept = w
        .file(&w.officer_in, "Withdrawn unreleased", pb::Priority::Routine)
        .await;
    w.server.clock.advance(chrono::Duration::minutes(30));
    let sup_in = w.server.fresh(&w.sup_in).await;
    let officer_in = w.server.fresh(&w.officer_in).await;
    let waiting = sup_in
        .cases()
        .list_case_moves(pb::ListCaseMovesRequest {
            case_id: held.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .moves;
    let released = sup_in
        .cases()
        .approve_case_move(pb::ApproveCaseMoveRequest {
            id: waiting[0].id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    drop(released);
    officer_in
        .cases()
        .withdraw_case(pb::WithdrawCaseRequest {
            id: kept.id.clone(),
            etag: kept.etag.clone(),
            reason: String::new(),
        })
        .await
        .unwrap();
    let before = |id: &str| {
        let mut cases = officer_in.cases();
        let id = id.to_string();
        async move {
            cases
                .get_case(pb::GetCaseRequest { id })
                .await
                .unwrap()
                .into_inner()
        }
    };
    let released_at = before(&held.id).await.released_at;
    assert!(released_at.is_some());

    let raw = w.server.raw_db().await;
    migration::Migrator::down(&raw, Some(3)).await.unwrap();
    migration::Migrator::up(&raw, None).await.unwrap();
    raw.close().await.ok();

    let after = before(&plain.id).await;
    assert_eq!(after.category_code, "DRUGS");
    assert_eq!(after.released_at, after.filed_at);
    assert_eq!(before(&held.id).await.released_at, released_at);
    assert!(before(&kept.id).await.released_at.is_none());
    let sup_ca = w.server.fresh(&w.sup_ca).await;
    assert_code(
        sup_ca
            .cases()
            .get_case(pb::GetCaseRequest {
                id: kept.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    let channel = officer_in
        .directory()
        .get_channel(pb::GetChannelRequest {
            id: w.channel.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(channel.category_codes, ["DRUGS", "FRAUD"]);
    w.stop().await;
}
