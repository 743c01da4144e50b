//! Sessions: refresh-token rotation and theft detection, expiry, logout, revocation, password
//! changes and resets, sign-in throttling, and forged or stale access tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::Duration;
use liaison_server::authn::jwt::{load_keys, TokenKeys};
use liaison_server::pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::common::{assert_code, Backend, Client, World, PASSWORD};
use crate::on_both_databases;

on_both_databases!(
    refresh_rotates_and_a_replayed_token_ends_the_session,
    sessions_expire_when_idle_and_at_their_age_limit,
    logout_and_admin_revocation_end_sessions_at_once,
    password_changes_and_resets_end_sessions,
    failed_sign_ins_are_throttled_per_user_and_per_peer,
    forged_and_stale_access_tokens_are_refused_and_audited,
    rotated_keys_sign_new_tokens_and_old_ones_keep_working,
    a_sign_in_flood_leaves_signed_in_calls_their_capacity,
);

async fn refresh(w: &World, token: &str) -> Result<pb::LoginResponse, tonic::Status> {
    w.server
        .anonymous()
        .auth()
        .refresh(pb::RefreshRequest {
            refresh_token: token.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn works(client: &Client) -> bool {
    client.auth().who_am_i(pb::WhoAmIRequest {}).await.is_ok()
}

async fn refresh_rotates_and_a_replayed_token_ends_the_session(backend: Backend) {
    let w = World::new(backend).await;
    let first = w.officer_in.refresh_token.clone();
    let second = refresh(&w, &first).await.unwrap();
    assert_ne!(second.refresh_token, first);
    assert!(works(&w.server.with_token(&second.access_token)).await);
    let third = refresh(&w, &second.refresh_token).await.unwrap();

    // The first token was rotated away: presenting it again looks like theft.
    assert_eq!(
        refresh(&w, &first).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // The whole session is gone: its newest refresh token and its access tokens too.
    assert_eq!(
        refresh(&w, &third.refresh_token).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert!(!works(&w.server.with_token(&third.access_token)).await);
    assert!(!works(&w.officer_in).await);
    // Other users' sessions are untouched.
    assert!(works(&w.officer_ca).await);

    w.server.sealed().await;
    let tx = w.server.state.db.begin().await.unwrap();
    let entries = liaison_server::repo::audit::range(&tx, 1, 1_000_000)
        .await
        .unwrap();
    drop(tx);
    let theft: Vec<_> = entries
        .iter()
        .filter(|e| e.record.event.as_deref() == Some("refresh-token-reuse"))
        .collect();
    assert_eq!(theft.len(), 1, "one entry says the token was replayed");
    assert_eq!(theft[0].record.status_code, Code::Unauthenticated as i32);
    assert_eq!(
        theft[0].record.actor_id.as_deref(),
        Some(w.officer_in.user_id.as_str())
    );

    assert_eq!(
        refresh(&w, "not-a-token").await.unwrap_err().code(),
        Code::Unauthenticated
    );
    assert_eq!(
        refresh(&w, "").await.unwrap_err().code(),
        Code::InvalidArgument
    );
    w.stop().await;
}

async fn sessions_expire_when_idle_and_at_their_age_limit(backend: Backend) {
    let w = World::new(backend).await;
    // Idle for longer than 12 hours: the refresh token is dead.
    w.server.clock.advance(Duration::hours(13));
    assert_eq!(
        refresh(&w, &w.officer_in.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Used every 11 hours, a session still ends 7 days after sign-in.
    let client = w.server.fresh(&w.officer_ca).await;
    let mut token = client.refresh_token.clone();
    let mut refreshed = 0;
    loop {
        w.server.clock.advance(Duration::hours(11));
        match refresh(&w, &token).await {
            Ok(next) => {
                token = next.refresh_token;
                refreshed += 1;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::Unauthenticated);
                break;
            }
        }
    }
    assert_eq!(refreshed, 15, "7 days = 15 refreshes 11 hours apart");
    w.stop().await;
}

async fn logout_and_admin_revocation_end_sessions_at_once(backend: Backend) {
    let w = World::new(backend).await;
    let second_device = w.server.fresh(&w.officer_in).await;
    w.officer_in
        .auth()
        .logout(pb::LogoutRequest {})
        .await
        .unwrap();
    assert!(!works(&w.officer_in).await);
    assert_eq!(
        refresh(&w, &w.officer_in.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    assert!(
        works(&second_device).await,
        "logout ends only its own session"
    );

    assert_code(
        w.admin_ca
            .admin()
            .revoke_sessions(pb::RevokeSessionsRequest {
                user_id: w.officer_in.user_id.clone(),
            })
            .await,
        Code::NotFound,
    );
    let revoked = w
        .admin_in
        .admin()
        .revoke_sessions(pb::RevokeSessionsRequest {
            user_id: w.officer_in.user_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(revoked.revoked, 1);
    assert!(!works(&second_device).await);
    assert_eq!(
        refresh(&w, &second_device.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Disabling a user ends their sessions too.
    w.admin_ca
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.officer_ca.user_id.clone(),
            disabled: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    w.admin_ca
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.officer_ca.user_id.clone(),
            disabled: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        !works(&w.officer_ca).await,
        "re-enabling does not revive old sessions"
    );
    assert_eq!(
        refresh(&w, &w.officer_ca.refresh_token)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    w.stop().await;
}

async fn password_changes_and_resets_end_sessions(backend: Backend) {
    let w = World::new(backend).await;
    let wrong = w
        .officer_in
        .auth()
        .change_password(pb::ChangePasswordRequest {
            current_password: "not my password".into(),
            new_password: "a brand new passphrase".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);
    let changed = w
        .officer_in
        .auth()
        .change_password(pb::ChangePasswordRequest {
            current_password: PASSWORD.into(),
            new_password: "a brand new passphrase".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!works(&w.officer_in).await, "the old session ended");
    assert!(
        works(&w.server.with_token(&changed.access_token)).await,
        "a new one began"
    );
    w.server
        .sign_in("officer.in", "a brand new passphrase")
        .await;

    // An admin's reset: the temporary password works only to choose a new one.
    w.admin_ca
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            id: w.officer_ca.user_id.clone(),
            new_password: "temporary passphrase".into(),
        })
        .await
        .unwrap();
    assert!(!works(&w.officer_ca).await);
    let login = w
        .server
        .anonymous()
        .auth()
        .login(pb::LoginRequest {
            username: "officer.ca".into(),
            password: "temporary passphrase".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(login.must_change_password);
    let temporary = w.server.with_token(&login.access_token);
    assert_code(
        temporary.auth().who_am_i(pb::WhoAmIRequest {}).await,
        Code::FailedPrecondition,
    );
    assert_code(
        temporary
            .cases()
            .list_cases(pb::ListCasesRequest::default())
            .await,
        Code::FailedPrecondition,
    );
    let chosen = temporary
        .auth()
        .change_password(pb::ChangePasswordRequest {
            current_password: "temporary passphrase".into(),
            new_password: "my own passphrase now".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!chosen.must_change_password);
    assert!(works(&w.server.with_token(&chosen.access_token)).await);
    w.stop().await;
}

async fn failed_sign_ins_are_throttled_per_user_and_per_peer(backend: Backend) {
    let w = World::new(backend).await;
    let login = |username: &str, password: &str| {
        let mut auth = w.server.anonymous().auth();
        let request = pb::LoginRequest {
            username: username.into(),
            password: password.into(),
        };
        async move { auth.login(request).await }
    };
    for _ in 0..5 {
        assert_code(
            login("officer.in", "wrong guess!").await,
            Code::Unauthenticated,
        );
    }
    // The sixth attempt is refused before the password is even checked, right or wrong.
    let throttled = login("officer.in", PASSWORD).await.unwrap_err();
    assert_eq!(throttled.code(), Code::ResourceExhausted);
    let retry = throttled
        .get_error_details()
        .retry_info()
        .and_then(|r| r.retry_delay)
        .unwrap();
    assert!(retry.as_secs() >= 1 && retry.as_secs() <= 900, "{retry:?}");
    // Other users are not affected.
    login("officer.ca", PASSWORD).await.unwrap();

    // After the wait, a right password gets in and clears the count.
    w.server
        .clock
        .advance(Duration::seconds(retry.as_secs() as i64 + 1));
    login("officer.in", PASSWORD).await.unwrap();
    assert_code(
        login("officer.in", "wrong guess!").await,
        Code::Unauthenticated,
    );
    login("officer.in", PASSWORD).await.unwrap();

    // The delay grows with each further failure, and old failures stop counting.
    for _ in 0..5 {
        assert_code(login("sup.in", "wrong guess!").await, Code::Unauthenticated);
    }
    let first_wait = login("sup.in", "x")
        .await
        .unwrap_err()
        .get_error_details()
        .retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    w.server
        .clock
        .advance(Duration::seconds(first_wait.as_secs() as i64 + 1));
    assert_code(login("sup.in", "wrong guess!").await, Code::Unauthenticated);
    let second_wait = login("sup.in", "x")
        .await
        .unwrap_err()
        .get_error_details()
        .retry_info()
        .unwrap()
        .retry_delay
        .unwrap();
    assert!(
        second_wait > first_wait,
        "{second_wait:?} after {first_wait:?}"
    );
    w.server.clock.advance(Duration::minutes(16));
    login("sup.in", PASSWORD).await.unwrap();

    // Twenty failures from one address, spread over usernames, throttle that address.
    for i in 0..20 {
        assert_code(
            login(&format!("nobody.{i}"), "wrong guess!").await,
            Code::Unauthenticated,
        );
    }
    assert_code(login("admin.in", PASSWORD).await, Code::ResourceExhausted);

    // Guesses sent all at once see each other: at most five get their password checked.
    w.server.clock.advance(Duration::minutes(16));
    let mut guesses = Vec::new();
    for i in 0..12 {
        let mut auth = w.server.anonymous().auth();
        guesses.push(tokio::spawn(async move {
            auth.login(pb::LoginRequest {
                username: "auditor.ca".into(),
                password: format!("guess number {i}"),
            })
            .await
            .map(|_| ())
            .unwrap_err()
            .code()
        }));
    }
    let mut checked = 0;
    for guess in guesses {
        match guess.await.unwrap() {
            Code::Unauthenticated => checked += 1,
            Code::ResourceExhausted => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        (1..=5).contains(&checked),
        "{checked} concurrent guesses were checked"
    );
    // Failures older than the window are forgotten, keeping the table small.
    w.server.clock.advance(Duration::minutes(16));
    let pruned = liaison_server::domain::auth::prune_login_failures(&w.server.state)
        .await
        .unwrap();
    assert!(pruned >= 7, "{pruned} old failures pruned");
    assert_eq!(
        liaison_server::domain::auth::prune_login_failures(&w.server.state)
            .await
            .unwrap(),
        0
    );
    w.stop().await;
}

async fn forged_and_stale_access_tokens_are_refused_and_audited(backend: Backend) {
    let w = World::new(backend).await;
    let state = &w.server.state;
    let (_, key) = load_keys(&w.server.data_dir().join("keys"))
        .unwrap()
        .pop()
        .unwrap();
    let claims = state
        .keys
        .verify(&w.officer_in_token(), state.clock.now())
        .unwrap();
    let now = state.clock.now();
    let ttl = std::time::Duration::from_secs(900);

    let mut attacks: Vec<(&str, String)> = Vec::new();
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let body = serde_json::json!({
        "iss": "liaison", "aud": "liaison", "sub": claims.sub, "sid": claims.sid,
        "exp": now.timestamp() + 600, "nbf": now.timestamp() - 1, "iat": now.timestamp(), "jti": "x"
    });
    attacks.push((
        "alg none",
        format!(
            "{}.{}.",
            b64(serde_json::json!({"alg": "none", "typ": "at+jwt"})),
            b64(body.clone())
        ),
    ));
    let public = key.verifying_key().to_bytes();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some(state.keys.current_kid());
    attacks.push((
        "HS256 signed with the public key",
        jsonwebtoken::encode(&hs, &body, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap(),
    ));
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let stranger = TokenKeys::new(&other, "liaison".into(), "liaison".into(), ttl).unwrap();
    attacks.push((
        "unknown kid",
        stranger.issue(&claims.sub, &claims.sid, now).unwrap().0,
    ));
    let genuine = state.keys.issue(&claims.sub, &claims.sid, now).unwrap().0;
    let mut parts: Vec<String> = genuine.split('.').map(str::to_string).collect();
    parts[2] = URL_SAFE_NO_PAD.encode([0u8; 64]);
    attacks.push(("bad signature", parts.join(".")));
    attacks.push((
        "expired",
        state
            .keys
            .issue(&claims.sub, &claims.sid, now - Duration::hours(1))
            .unwrap()
            .0,
    ));
    attacks.push((
        "nbf in the future",
        state
            .keys
            .issue(&claims.sub, &claims.sid, now + Duration::minutes(10))
            .unwrap()
            .0,
    ));
    let wrong_iss = TokenKeys::new(&key, "someone-else".into(), "liaison".into(), ttl).unwrap();
    attacks.push((
        "wrong iss",
        wrong_iss.issue(&claims.sub, &claims.sid, now).unwrap().0,
    ));
    let wrong_aud = TokenKeys::new(&key, "liaison".into(), "another-service".into(), ttl).unwrap();
    attacks.push((
        "wrong aud",
        wrong_aud.issue(&claims.sub, &claims.sid, now).unwrap().0,
    ));
    attacks.push((
        "refresh token as access token",
        w.officer_in.refresh_token.clone(),
    ));
    attacks.push((
        "no such session",
        state
            .keys
            .issue(&claims.sub, &uuid::Uuid::new_v4().to_string(), now)
            .unwrap()
            .0,
    ));

    w.server.sealed().await;
    let tx = state.db.begin().await.unwrap();
    let (before, _) = liaison_server::repo::audit::head(&tx).await.unwrap();
    drop(tx);
    for (name, token) in &attacks {
        let result = w
            .server
            .with_token(token)
            .cases()
            .list_cases(pb::ListCasesRequest::default())
            .await;
        assert_eq!(
            result.map(|_| ()).unwrap_err().code(),
            Code::Unauthenticated,
            "{name}"
        );
    }
    // Each attempt is counted, into one summary for this source: a flood of them cannot grow the
    // log by an entry each.
    liaison_server::domain::call::flush_refusals(state)
        .await
        .unwrap();
    w.server.sealed().await;
    let tx = state.db.begin().await.unwrap();
    let entries = liaison_server::repo::audit::range(&tx, before + 1, 1000)
        .await
        .unwrap();
    drop(tx);
    let counted: i64 = entries
        .iter()
        .map(|e| e.record.refusals.map_or(1, |r| r.count))
        .sum();
    assert_eq!(counted, attacks.len() as i64, "each attempt is audited");
    assert!(entries.len() <= 2, "{entries:?}");
    assert!(entries.iter().all(
        |e| e.record.status_code == Code::Unauthenticated as i32 && e.record.actor_id.is_none()
    ));

    // A disabled user's genuine token.
    w.admin_in
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: w.officer_in.user_id.clone(),
            disabled: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!works(&w.officer_in).await);
    w.stop().await;
}

async fn rotated_keys_sign_new_tokens_and_old_ones_keep_working(backend: Backend) {
    let w = World::new(backend).await;
    let state = &w.server.state;
    let jwks = |w: &World| {
        let mut auth = w.server.anonymous().auth();
        async move {
            auth.get_public_keys(pb::GetPublicKeysRequest {})
                .await
                .unwrap()
                .into_inner()
                .keys
        }
    };
    let before = jwks(&w).await;
    assert_eq!(before.len(), 1);
    assert_eq!(
        (
            before[0].kty.as_str(),
            before[0].crv.as_str(),
            before[0].alg.as_str()
        ),
        ("OKP", "Ed25519", "EdDSA")
    );
    liaison_server::audit::checkpoint_head(&state.db, &state.keys.current(), state.clock.now())
        .await
        .unwrap();

    // The operator rotates; the server picks the new key up on its next reload.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_liaisond"))
        .args(["keys", "rotate"])
        .env("LIAISON_KEY_DIR", w.server.data_dir().join("keys"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    state.keys.reload().unwrap();
    let after = jwks(&w).await;
    assert_eq!(after.len(), 2);
    let new_kid = state.keys.current_kid();
    assert_ne!(new_kid, before[0].kid);
    assert!(String::from_utf8_lossy(&output.stdout).contains(&new_kid));

    // Tokens signed before the rotation still work; new ones carry the new key.
    assert!(works(&w.officer_in).await);
    let fresh = w.server.fresh(&w.officer_ca).await;
    assert_eq!(
        TokenKeys::kid_of_token(&fresh.bearer_token()).unwrap(),
        new_kid
    );
    assert!(works(&fresh).await);

    // Once every old token has expired, the old key leaves JWKS but still proves old checkpoints.
    w.server.clock.advance(Duration::minutes(16));
    let retired = jwks(&w).await;
    assert_eq!(
        retired.iter().map(|k| k.kid.clone()).collect::<Vec<_>>(),
        [new_kid]
    );
    let fresh = w.server.fresh(&w.auditor_in).await;
    let report = fresh
        .audit()
        .verify_audit_chain(pb::VerifyAuditChainRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(report.ok, "{}", report.problem);
    assert!(report.checkpoints_checked >= 1);
    w.stop().await;
}

async fn a_sign_in_flood_leaves_signed_in_calls_their_capacity(backend: Backend) {
    // The world signs its ten people in first, within the first second's burst.
    const RATE: u64 = 12;
    let w = World::with_config(backend, |config| {
        config.max_concurrent_public_calls = 2;
        config.max_sign_ins_per_second = RATE as u32;
        // The signed-in calls' bound is what the flood must not touch.
        config.max_concurrent_calls = 24;
    })
    .await;
    let started = std::time::Instant::now();
    let mut flood = Vec::new();
    for i in 0..80 {
        let mut auth = w.server.anonymous().auth();
        flood.push(tokio::spawn(async move {
            auth.login(pb::LoginRequest {
                username: format!("nobody.{i}"),
                password: "wrong guess!".into(),
            })
            .await
            .map(|_| ())
            .unwrap_err()
        }));
    }
    let mut reads = Vec::new();
    for _ in 0..20 {
        let mut directory = w.sup_ca.directory();
        reads.push(tokio::spawn(async move {
            directory.list_agencies(pb::ListAgenciesRequest {}).await
        }));
    }
    for read in reads {
        read.await
            .unwrap()
            .expect("a signed-in call beside the flood");
    }
    let (mut checked, mut refused) = (0u64, 0u64);
    for attempt in flood {
        let status = attempt.await.unwrap();
        match status.code() {
            Code::Unauthenticated => checked += 1,
            Code::ResourceExhausted => refused += 1,
            other => panic!("unexpected {other:?}: {}", status.message()),
        }
    }
    // A burst of RATE, then RATE a second: the hasher never sees more than that.
    let seconds = started.elapsed().as_secs() + 1;
    assert!(
        checked <= RATE * (seconds + 1),
        "{checked} passwords checked in {seconds} s"
    );
    assert_eq!(checked + refused, 80);
}
