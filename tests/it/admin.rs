//! Users, sign-in and channels: what admins manage, and what takes effect at once.

use liaison_server::model::Role;
use liaison_server::pb;
use tonic::Code;

use crate::common::{assert_code, Backend, World, PASSWORD};
use crate::on_both_databases;

on_both_databases!(
    admins_manage_the_users_of_their_own_agency,
    role_changes_and_disabling_take_effect_at_once,
    login_gives_one_answer_for_every_bad_credential,
    channels_need_both_sides_to_agree,
    an_admin_gains_case_roles_only_with_a_second_admin,
);

async fn admins_manage_the_users_of_their_own_agency(backend: Backend) {
    let w = World::new(backend).await;
    let created = w
        .admin_in
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "priya.sharma".into(),
            display_name: "Priya Sharma".into(),
            roles: vec![pb::Role::Officer as i32, pb::Role::Supervisor as i32],
            password: "a long enough password".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.agency_id, w.in_ncb.id);
    assert_eq!(
        created.roles,
        [pb::Role::Officer as i32, pb::Role::Supervisor as i32]
    );

    let duplicate = w
        .admin_ca
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "priya.sharma".into(),
            display_name: "Someone else".into(),
            roles: vec![],
            password: "a long enough password".into(),
        })
        .await;
    assert_code(duplicate, Code::AlreadyExists);
    let weak = w
        .admin_in
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "Bad Name".into(),
            display_name: String::new(),
            roles: vec![0],
            password: "short".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(weak.code(), Code::InvalidArgument);
    for field in ["username", "display_name", "roles", "password"] {
        assert!(
            weak.message().contains(field),
            "{field} missing from: {}",
            weak.message()
        );
    }

    let listed: Vec<String> = w
        .admin_in
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .users
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(
        listed,
        [
            "admin.in",
            "auditor.in",
            "officer.in",
            "priya.sharma",
            "sup.in"
        ]
    );

    // Another agency's admin cannot touch this user; it is not there for them.
    let foreign = w
        .admin_ca
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: created.id.clone(),
            disabled: Some(true),
            ..Default::default()
        })
        .await;
    assert_code(foreign, Code::NotFound);
    // Admins cannot lock themselves out.
    let self_disable = w
        .admin_in
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.admin_in.user_id.clone(),
            disabled: Some(true),
            ..Default::default()
        })
        .await;
    assert_code(self_disable, Code::FailedPrecondition);

    // A reset password replaces the old one.
    w.admin_in
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            id: created.id.clone(),
            new_password: "brand new secret words".into(),
        })
        .await
        .unwrap();
    let login = |password: &str| {
        let mut auth = w.server.anonymous().auth();
        let request = pb::LoginRequest {
            username: "priya.sharma".into(),
            password: password.into(),
        };
        async move { auth.login(request).await }
    };
    assert_code(login("a long enough password").await, Code::Unauthenticated);
    assert!(login("brand new secret words").await.is_ok());
    w.stop().await;
}

async fn role_changes_and_disabling_take_effect_at_once(backend: Backend) {
    let w = World::new(backend).await;
    let case = w
        .file(&w.officer_in, "Before the change", pb::Priority::Routine)
        .await;
    w.admin_in
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.officer_in.user_id.clone(),
            set_roles: true,
            roles: vec![pb::Role::Auditor as i32],
            ..Default::default()
        })
        .await
        .unwrap();
    // The same token, now without the OFFICER role.
    assert_code(
        w.officer_in
            .cases()
            .get_case(pb::GetCaseRequest {
                id: case.id.clone(),
            })
            .await,
        Code::PermissionDenied,
    );
    let me = w
        .officer_in
        .auth()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user.unwrap().roles, [pb::Role::Auditor as i32]);
    assert_eq!(me.agency.unwrap().code, "IN-NCB");

    w.admin_ca
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.sup_ca.user_id.clone(),
            disabled: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_code(
        w.sup_ca
            .cases()
            .get_case(pb::GetCaseRequest {
                id: case.id.clone(),
            })
            .await,
        Code::Unauthenticated,
    );
    let login = w
        .server
        .anonymous()
        .auth()
        .login(pb::LoginRequest {
            username: "sup.ca".into(),
            password: PASSWORD.into(),
        })
        .await;
    assert_code(login, Code::Unauthenticated);
    let listed = w
        .admin_ca
        .admin()
        .list_users(pb::ListUsersRequest {
            include_disabled: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(listed.users.iter().all(|u| u.username != "sup.ca"));
    w.stop().await;
}

async fn login_gives_one_answer_for_every_bad_credential(backend: Backend) {
    let w = World::new(backend).await;
    let mut auth = w.server.anonymous().auth();
    let ok = auth
        .login(pb::LoginRequest {
            username: "officer.in".into(),
            password: PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.token_type, "Bearer");
    assert!(ok.expires_at.is_some());
    let me = w
        .server
        .with_token(&ok.access_token)
        .auth()
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.user.unwrap().username, "officer.in");

    // An unknown username costs the same argon2 verification as a wrong password.
    let before = w.server.state.passwords.verifications();
    let wrong = auth
        .login(pb::LoginRequest {
            username: "officer.in".into(),
            password: "not the password".into(),
        })
        .await
        .unwrap_err();
    let unknown = auth
        .login(pb::LoginRequest {
            username: "nobody.at.all".into(),
            password: "not the password".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(w.server.state.passwords.verifications() - before, 2);
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        (wrong.code(), wrong.message()),
        (unknown.code(), unknown.message())
    );

    // Tokens that are missing, malformed, forged or expired are all refused.
    let anonymous = w
        .server
        .anonymous()
        .cases()
        .list_cases(pb::ListCasesRequest::default())
        .await;
    assert_code(anonymous, Code::Unauthenticated);
    for token in ["garbage", "a.b.c", &format!("{}x", ok.access_token)] {
        let result = w
            .server
            .with_token(token)
            .auth()
            .who_am_i(pb::WhoAmIRequest {})
            .await;
        assert_code(result, Code::Unauthenticated);
    }
    w.server.clock.advance(chrono::Duration::minutes(16));
    let expired = w
        .server
        .with_token(&ok.access_token)
        .auth()
        .who_am_i(pb::WhoAmIRequest {})
        .await;
    assert_code(expired, Code::Unauthenticated);
    w.stop().await;
}

async fn channels_need_both_sides_to_agree(backend: Backend) {
    let w = World::new(backend).await;
    let admin_us = w.server.user("US-FBI", "admin.us", &[Role::Admin]).await;
    let proposed = admin_us
        .admin()
        .propose_channel(pb::ProposeChannelRequest {
            partner_agency_id: w.in_ncb.id.clone(),
            categories: vec![pb::Category::Cyber as i32, pb::Category::Fraud as i32],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposed.status, pb::ChannelStatus::Proposed as i32);
    assert_eq!(
        proposed.categories,
        [pb::Category::Fraud as i32, pb::Category::Cyber as i32]
    );

    // The proposer cannot approve their own proposal; a third agency cannot see it.
    assert_code(
        admin_us
            .admin()
            .approve_channel(pb::ApproveChannelRequest {
                id: proposed.id.clone(),
                etag: proposed.etag.clone(),
            })
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        w.admin_ca
            .admin()
            .approve_channel(pb::ApproveChannelRequest {
                id: proposed.id.clone(),
                etag: proposed.etag.clone(),
            })
            .await,
        Code::NotFound,
    );
    assert_code(
        w.sup_ca
            .directory()
            .get_channel(pb::GetChannelRequest {
                id: proposed.id.clone(),
            })
            .await,
        Code::NotFound,
    );
    // Filing on a PROPOSED channel is refused.
    let mut early = w.referral("Too early", pb::Priority::Routine);
    early.channel_id = proposed.id.clone();
    early.category = pb::Category::Fraud as i32;
    assert_code(
        w.sup_us.cases().file_referral(early.clone()).await,
        Code::FailedPrecondition,
    );

    // Officers cannot manage channels; duplicates and same-country partners are refused.
    assert_code(
        w.officer_in
            .admin()
            .propose_channel(pb::ProposeChannelRequest {
                partner_agency_id: w.us_fbi.id.clone(),
                categories: vec![pb::Category::Drugs as i32],
            })
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        w.admin_in
            .admin()
            .propose_channel(pb::ProposeChannelRequest {
                partner_agency_id: w.us_fbi.id.clone(),
                categories: vec![pb::Category::Drugs as i32],
            })
            .await,
        Code::AlreadyExists,
    );
    let in_cbi = liaison_server::ops::add_agency(
        &w.server.state,
        "IN-CBI",
        "Central Bureau of Investigation",
        "IN",
    )
    .await
    .unwrap();
    let same_country = w
        .admin_in
        .admin()
        .propose_channel(pb::ProposeChannelRequest {
            partner_agency_id: in_cbi.id.into(),
            categories: vec![1],
        })
        .await;
    assert_code(same_country, Code::InvalidArgument);
    let no_categories = w
        .admin_in
        .admin()
        .propose_channel(pb::ProposeChannelRequest {
            partner_agency_id: w.us_fbi.id.clone(),
            categories: vec![],
        })
        .await;
    assert_code(no_categories, Code::InvalidArgument);

    // The partner approves; a stale etag is refused.
    let approved = w
        .admin_in
        .admin()
        .approve_channel(pb::ApproveChannelRequest {
            id: proposed.id.clone(),
            etag: proposed.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(approved.status, pb::ChannelStatus::Active as i32);
    assert_eq!(approved.approved_by, w.admin_in.user_id);
    assert_code(
        admin_us
            .admin()
            .suspend_channel(pb::SuspendChannelRequest {
                id: proposed.id.clone(),
                etag: proposed.etag.clone(),
            })
            .await,
        Code::Aborted,
    );
    w.sup_us.cases().file_referral(early.clone()).await.unwrap();

    // A suspension is lifted only by the agency that suspended the channel.
    let suspended = w
        .admin_in
        .admin()
        .suspend_channel(pb::SuspendChannelRequest {
            id: approved.id.clone(),
            etag: approved.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(suspended.suspended_by_agency_id, w.in_ncb.id);
    assert_code(
        admin_us
            .admin()
            .approve_channel(pb::ApproveChannelRequest {
                id: suspended.id.clone(),
                etag: suspended.etag.clone(),
            })
            .await,
        Code::PermissionDenied,
    );
    let mut during = early.clone();
    during.request_id = uuid::Uuid::new_v4().to_string();
    assert_code(
        w.sup_us.cases().file_referral(during.clone()).await,
        Code::FailedPrecondition,
    );
    let resumed = w
        .admin_in
        .admin()
        .approve_channel(pb::ApproveChannelRequest {
            id: suspended.id.clone(),
            etag: suspended.etag.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resumed.status, pb::ChannelStatus::Active as i32);
    assert!(resumed.suspended_by_agency_id.is_empty());
    w.sup_us.cases().file_referral(during).await.unwrap();

    let visible: Vec<String> = w
        .officer_in
        .directory()
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .channels
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(visible, [w.channel.id.clone(), proposed.id.clone()]);
    let ca_visible = w
        .officer_ca
        .directory()
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ca_visible.channels.len(), 1);
    let agencies = w
        .officer_ca
        .directory()
        .list_agencies(pb::ListAgenciesRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        agencies
            .agencies
            .iter()
            .map(|a| a.code.as_str())
            .collect::<Vec<_>>(),
        ["CA-RCMP", "IN-CBI", "IN-NCB", "US-FBI"]
    );
    w.stop().await;
}

fn roles(r: &[pb::Role]) -> Vec<i32> {
    r.iter().map(|r| *r as i32).collect()
}

async fn an_admin_gains_case_roles_only_with_a_second_admin(backend: Backend) {
    let w = World::new(backend).await;
    let set_roles = |who: &crate::common::Client, id: &str, r: &[pb::Role]| {
        let mut admin = who.admin();
        let request = pb::UpdateUserRequest {
            id: id.into(),
            set_roles: true,
            roles: roles(r),
            ..Default::default()
        };
        async move { admin.update_user(request).await }
    };
    let propose = |who: &crate::common::Client, id: &str, r: &[pb::Role]| {
        let mut admin = who.admin();
        let request = pb::ProposeRoleChangeRequest {
            user_id: id.into(),
            roles: roles(r),
            reason: "covers the night desk".into(),
        };
        async move { admin.propose_role_change(request).await }
    };
    let approve = |who: &crate::common::Client, id: &str| {
        let mut admin = who.admin();
        let request = pb::ApproveRoleChangeRequest {
            id: id.into(),
            reason: String::new(),
        };
        async move { admin.approve_role_change(request).await }
    };
    let me = w.admin_in.user_id.clone();

    // Alone, an admin can neither grant itself a case role nor create an admin who reads cases.
    let refused = set_roles(&w.admin_in, &me, &[pb::Role::Admin, pb::Role::Supervisor])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("second admin"), "{refused:?}");
    assert_code(
        w.admin_in
            .cases()
            .list_cases(pb::ListCasesRequest::default())
            .await,
        Code::PermissionDenied,
    );
    assert_code(
        w.admin_in
            .admin()
            .create_user(pb::CreateUserRequest {
                username: "both.hats".into(),
                display_name: "Both Hats".into(),
                roles: roles(&[pb::Role::Admin, pb::Role::Officer]),
                password: PASSWORD.into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    // Granting ADMIN to a supervisor is the same combination.
    assert_code(
        set_roles(
            &w.admin_in,
            &w.sup_in.user_id,
            &[pb::Role::Supervisor, pb::Role::Admin],
        )
        .await,
        Code::FailedPrecondition,
    );
    // Nor may one admin make another admin alone, or reset another admin's password: either would
    // give one person two admin accounts, and with them both halves of every approval.
    assert_code(
        w.admin_in
            .admin()
            .create_user(pb::CreateUserRequest {
                username: "puppet.in".into(),
                display_name: "Puppet".into(),
                roles: roles(&[pb::Role::Admin]),
                password: PASSWORD.into(),
            })
            .await,
        Code::FailedPrecondition,
    );
    assert_code(
        set_roles(
            &w.admin_in,
            &w.auditor_in.user_id,
            &[pb::Role::Auditor, pb::Role::Admin],
        )
        .await,
        Code::FailedPrecondition,
    );
    // A change that gives no admin case content needs no second admin.
    set_roles(
        &w.admin_in,
        &w.sup_in.user_id,
        &[pb::Role::Supervisor, pb::Role::Auditor],
    )
    .await
    .unwrap();

    // Proposed, it waits; its proposer cannot approve it, nor can another agency's admin see it.
    let proposed = propose(&w.admin_in, &me, &[pb::Role::Admin, pb::Role::Supervisor])
        .await
        .unwrap()
        .into_inner();
    assert_eq!(proposed.status, pb::RoleChangeStatus::Pending as i32);
    assert_eq!(proposed.roles_before, roles(&[pb::Role::Admin]));
    assert_code(
        propose(&w.admin_in, &me, &[pb::Role::Admin, pb::Role::Officer]).await,
        Code::FailedPrecondition,
    );
    let own = approve(&w.admin_in, &proposed.id).await.unwrap_err();
    assert_eq!(own.code(), Code::PermissionDenied);
    assert_eq!(
        own.message(),
        "the approver cannot be the requester: another admin of the agency must approve"
    );
    assert_code(approve(&w.admin_ca, &proposed.id).await, Code::NotFound);
    assert_code(
        w.admin_in
            .cases()
            .list_cases(pb::ListCasesRequest::default())
            .await,
        Code::PermissionDenied,
    );

    // A second admin of the agency approves it: the role holds from the next call on.
    let admin2 = w.server.user("IN-NCB", "admin2.in", &[Role::Admin]).await;
    let reset = w
        .admin_in
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            id: admin2.user_id.clone(),
            new_password: "a temporary password 1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(reset.code(), Code::FailedPrecondition);
    assert!(reset.message().contains("operator"), "{reset:?}");
    let waiting = admin2
        .admin()
        .list_role_changes(pb::ListRoleChangesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .role_changes;
    assert_eq!(
        waiting.iter().map(|c| &c.id).collect::<Vec<_>>(),
        [&proposed.id]
    );
    let approved = approve(&admin2, &proposed.id).await.unwrap().into_inner();
    assert_eq!(approved.status, pb::RoleChangeStatus::Approved as i32);
    assert_eq!(approved.decided_by, admin2.user_id);
    w.admin_in
        .cases()
        .list_cases(pb::ListCasesRequest::default())
        .await
        .unwrap();
    assert_code(
        approve(&admin2, &proposed.id).await,
        Code::FailedPrecondition,
    );

    // The user a change is for cannot approve it either; any admin may reject it.
    let for_admin2 = propose(
        &w.admin_in,
        &admin2.user_id,
        &[pb::Role::Admin, pb::Role::Officer],
    )
    .await
    .unwrap()
    .into_inner();
    let subject = approve(&admin2, &for_admin2.id).await.unwrap_err();
    assert_eq!(subject.code(), Code::PermissionDenied);
    assert!(subject.message().contains("whose roles change"));
    let rejected = admin2
        .admin()
        .reject_role_change(pb::RejectRoleChangeRequest {
            id: for_admin2.id.clone(),
            reason: "not needed".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rejected.status, pb::RoleChangeStatus::Rejected as i32);

    // A change applies only to the roles it was proposed against, and only before it lapses.
    let officer = w.officer_in.user_id.clone();
    let stale = propose(&w.admin_in, &officer, &[pb::Role::Officer, pb::Role::Admin])
        .await
        .unwrap()
        .into_inner();
    set_roles(&admin2, &officer, &[pb::Role::Officer, pb::Role::Auditor])
        .await
        .unwrap();
    let moved = approve(&admin2, &stale.id).await.unwrap_err();
    assert_eq!(moved.code(), Code::FailedPrecondition);
    assert!(moved.message().contains("changed since"), "{moved:?}");
    admin2
        .admin()
        .reject_role_change(pb::RejectRoleChangeRequest {
            id: stale.id,
            reason: String::new(),
        })
        .await
        .unwrap();
    let lapsing = propose(
        &w.admin_in,
        &w.sup_in.user_id,
        &[pb::Role::Supervisor, pb::Role::Admin],
    )
    .await
    .unwrap()
    .into_inner();
    w.server.clock.advance(chrono::Duration::hours(73));
    // Access tokens lapse too: sign in again.
    let admin2 = w.server.fresh(&admin2).await;
    let auditor_in = w.server.fresh(&w.auditor_in).await;
    let lapsed = approve(&admin2, &lapsing.id).await.unwrap_err();
    assert_eq!(lapsed.code(), Code::FailedPrecondition);
    assert!(lapsed.message().contains("EXPIRED"), "{lapsed:?}");
    let all = admin2
        .admin()
        .list_role_changes(pb::ListRoleChangesRequest {
            include_decided: true,
        })
        .await
        .unwrap()
        .into_inner()
        .role_changes;
    let status_of = |id: &str| all.iter().find(|c| c.id == id).map(|c| c.status);
    assert_eq!(
        status_of(&lapsing.id),
        Some(pb::RoleChangeStatus::Expired as i32)
    );
    assert_eq!(
        status_of(&proposed.id),
        Some(pb::RoleChangeStatus::Approved as i32)
    );
    assert!(admin2
        .admin()
        .list_role_changes(pb::ListRoleChangesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .role_changes
        .is_empty());

    // Both steps are in the audit log, about the user whose roles changed.
    let entries = auditor_in
        .audit()
        .query_audit_log(pb::QueryAuditLogRequest {
            case_id: String::new(),
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    for method in ["ProposeRoleChange", "ApproveRoleChange"] {
        assert!(
            entries.iter().any(|e| e.method.ends_with(method)
                && e.target_id == me
                && e.outcome == pb::AuditOutcome::Allowed as i32),
            "no {method} entry"
        );
    }

    // The operator resets an admin's password: the temporary one must be changed, and the
    // admin's sessions end.
    liaison_server::ops::reset_password(&w.server.state, "admin2.in", "an operator's temporary 1")
        .await
        .unwrap();
    assert_code(
        admin2
            .admin()
            .list_role_changes(pb::ListRoleChangesRequest::default())
            .await,
        Code::Unauthenticated,
    );
    w.stop().await;
}
