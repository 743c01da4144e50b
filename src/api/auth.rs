//! `liaison.v1.AuthService`.

use tonic::{Request, Response, Status};

use super::{convert, Api};
use crate::domain::auth;
use crate::pb::{self, auth_service_server::AuthService};
use crate::validate::{self, Violations};

#[tonic::async_trait]
impl AuthService for Api {
    #[tracing::instrument(skip_all)]
    async fn login(
        &self,
        request: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        let started = self.begin_public(request, "AuthService/Login");
        let result = async {
            let m = &started.message;
            let mut v = Violations::new();
            v.check("username", validate::text(&m.username, 1, 64, false));
            v.check("password", validate::text(&m.password, 1, 256, false));
            v.finish()?;
            let (token, expires_at) =
                auth::login(&self.state, &started.call, &m.username, m.password.clone()).await?;
            Ok(pb::LoginResponse {
                access_token: token,
                expires_at: Some(convert::timestamp(expires_at)),
                token_type: "Bearer".into(),
            })
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
}
