//! `liaison.v1.AuthService`.

use tonic::{Request, Response, Status};

use super::{convert, Api};
use crate::domain::auth::{self, Tokens};
use crate::limits::MAX_ID_CHARS;
use crate::pb::{self, auth_service_server::AuthService};
use crate::validate::{self, Violations};

fn tokens(t: Tokens) -> pb::LoginResponse {
    pb::LoginResponse {
        access_token: t.access_token,
        expires_at: Some(convert::timestamp(t.expires_at)),
        token_type: "Bearer".into(),
        refresh_token: t.refresh_token,
        refresh_expires_at: Some(convert::timestamp(t.refresh_expires_at)),
        must_change_password: t.must_change_password,
    }
}

#[tonic::async_trait]
impl AuthService for Api {
    #[tracing::instrument(skip_all)]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let started = self.begin_public(request, "AuthService/Login");
        let result = async {
            started.admitted()?;
            let m = &started.message;
            let mut v = Violations::new();
            v.check(
                "username",
                validate::text(&m.username, 1, MAX_ID_CHARS, false),
            );
            v.check("password", validate::text(&m.password, 1, 256, false));
            v.finish()?;
            let t =
                auth::login(&self.state, &started.call, &m.username, m.password.clone()).await?;
            Ok(tokens(t))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let started = self.begin(request, "AuthService/WhoAmI").await;
        let result = async {
            let p = started.caller()?;
            let (user, agency) = auth::who_am_i(&self.state, &started.call, p).await?;
            Ok(pb::WhoAmIResponse {
                user: Some(convert::user(user)),
                agency: Some(convert::agency(agency)),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn refresh(
        &self,
        request: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let started = self.begin_public(request, "AuthService/Refresh");
        let result = async {
            started.admitted()?;
            let token = &started.message.refresh_token;
            validate::field("refresh_token", validate::text(token, 1, 128, false))?;
            Ok(tokens(
                auth::refresh(&self.state, &started.call, token).await?,
            ))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn logout(
        &self,
        request: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        let started = self.begin(request, "AuthService/Logout").await;
        let result = async {
            let p = started.caller()?;
            auth::logout(&self.state, &started.call, p).await?;
            Ok(pb::LogoutResponse {})
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_public_keys(
        &self,
        request: Request<pb::GetPublicKeysRequest>,
    ) -> Result<Response<pb::GetPublicKeysResponse>, Status> {
        let started = self.begin_public(request, "AuthService/GetPublicKeys");
        let result = async {
            started.admitted()?;
            let keys = auth::public_keys(&self.state, &started.call).await?;
            Ok(pb::GetPublicKeysResponse {
                keys: keys
                    .into_iter()
                    .map(|k| pb::Jwk {
                        kty: "OKP".into(),
                        crv: "Ed25519".into(),
                        x: k.x,
                        kid: k.kid,
                        alg: "EdDSA".into(),
                        r#use: "sig".into(),
                    })
                    .collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let started = self.begin(request, "AuthService/ChangePassword").await;
        let result = async {
            let p = started.caller_changing_password()?;
            let m = &started.message;
            let mut v = Violations::new();
            v.check(
                "current_password",
                validate::text(&m.current_password, 1, 256, false),
            );
            let new = v.check(
                "new_password",
                validate::password(&m.new_password, &[p.username.as_str()]),
            );
            v.finish()?;
            let t = auth::change_password(
                &self.state,
                &started.call,
                p,
                m.current_password.clone(),
                new,
            )
            .await?;
            Ok(tokens(t))
        }
        .await;
        self.finish(started, result).await
    }
}
