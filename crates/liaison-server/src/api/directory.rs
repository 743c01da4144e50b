//! `liaison.v1.DirectoryService`.

use tonic::{Request, Response, Status};

use super::{convert, Api};
use crate::domain::{channels, directory, terms};
use crate::error::AppError;
use crate::model::{ChannelId, ChannelStatus, Role, TermKind};
use crate::pb::{self, directory_service_server::DirectoryService};
use crate::validate::{self, Violations};

#[tonic::async_trait]
impl DirectoryService for Api {
    #[tracing::instrument(skip_all)]
    async fn list_colleagues(
        &self,
        request: Request<pb::ListColleaguesRequest>,
    ) -> Result<Response<pb::ListColleaguesResponse>, Status> {
        let started = self.begin(request, "DirectoryService/ListColleagues").await;
        let result = async {
            let scope = started.case_worker()?;
            let mut v = Violations::new();
            let role =
                convert::optional_enum(&mut v, "role", started.message.role, Role::from_code);
            v.finish()?;
            if role.is_some_and(|r| !matches!(r, Role::Officer | Role::Supervisor)) {
                return Err(AppError::invalid(
                    "role",
                    "must be ROLE_OFFICER or ROLE_SUPERVISOR (or unspecified for both)",
                ));
            }
            let people = directory::colleagues(&self.state, &started.call, &scope, role).await?;
            Ok(pb::ListColleaguesResponse {
                colleagues: people.into_iter().map(convert::colleague).collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_agencies(
        &self,
        request: Request<pb::ListAgenciesRequest>,
    ) -> Result<Response<pb::ListAgenciesResponse>, Status> {
        let started = self.begin(request, "DirectoryService/ListAgencies").await;
        let result = async {
            started.caller()?;
            let agencies = directory::list_agencies(&self.state, &started.call).await?;
            Ok(pb::ListAgenciesResponse {
                agencies: agencies.into_iter().map(convert::agency).collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_channels(
        &self,
        request: Request<pb::ListChannelsRequest>,
    ) -> Result<Response<pb::ListChannelsResponse>, Status> {
        let started = self.begin(request, "DirectoryService/ListChannels").await;
        let result = async {
            let p = started.caller()?;
            let mut v = Violations::new();
            let status = convert::optional_enum(
                &mut v,
                "status",
                started.message.status,
                ChannelStatus::from_code,
            );
            v.finish()?;
            let views = channels::list(&self.state, &started.call, p, status).await?;
            Ok(pb::ListChannelsResponse {
                channels: views.into_iter().map(convert::channel).collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn get_channel(
        &self,
        request: Request<pb::GetChannelRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let started = self.begin(request, "DirectoryService/GetChannel").await;
        let result = async {
            let p = started.caller()?;
            started.call.concerns("channel", &started.message.id);
            let id = validate::field("id", validate::uuid(&started.message.id))?;
            let view =
                channels::get(&self.state, &started.call, p, &ChannelId::from(id.as_str())).await?;
            Ok(convert::channel(view))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_channel_terms(
        &self,
        request: Request<pb::ListChannelTermsRequest>,
    ) -> Result<Response<pb::ListChannelTermsResponse>, Status> {
        let started = self
            .begin(request, "DirectoryService/ListChannelTerms")
            .await;
        let result = async {
            let p = started.caller()?;
            let m = &started.message;
            started.call.concerns("channel", &m.channel_id);
            let mut v = Violations::new();
            let channel_id = v.check("channel_id", validate::uuid(&m.channel_id));
            let kind = convert::optional_enum(&mut v, "kind", m.kind, TermKind::from_code);
            v.finish()?;
            let terms = terms::list(
                &self.state,
                &started.call,
                p,
                &ChannelId::from(channel_id.as_str()),
                kind,
                m.include_inactive,
            )
            .await?;
            Ok(pb::ListChannelTermsResponse {
                terms: terms.into_iter().map(convert::channel_term).collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }
}
