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
