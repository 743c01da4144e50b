//! `liaison.v1.AuditService`.

use tonic::{Request, Response, Status};

use super::{convert, Api};
use crate::domain::audit_log::{self, AuditFilter};
use crate::domain::model::Outcome;
use crate::domain::paging;
use crate::error::AppResult;
use crate::pb::{self, audit_service_server::AuditService};
use crate::validate::{self, Violations};

impl TryFrom<&pb::QueryAuditLogRequest> for AuditFilter {
    type Error = crate::error::AppError;

    fn try_from(m: &pb::QueryAuditLogRequest) -> AppResult<Self> {
        let mut v = Violations::new();
        let filter = AuditFilter {
            actor_id: v.check("actor_id", validate::optional_uuid(&m.actor_id)),
            case_id: v.check("case_id", validate::optional_uuid(&m.case_id)),
            method: (!m.method.is_empty())
                .then(|| v.check("method", validate::text(&m.method, 1, 100, false))),
            outcome: convert::optional_enum(&mut v, "outcome", m.outcome, Outcome::from_code),
            since: convert::from_timestamp(&mut v, "since", m.since),
            until: convert::from_timestamp(&mut v, "until", m.until),
            page_size: paging::page_size(m.page_size).unwrap_or_else(|_| {
                v.add(
                    "page_size",
                    format!("must be between 1 and {}", paging::MAX_PAGE_SIZE),
                );
                0
            }),
            page_token: (!m.page_token.is_empty()).then(|| m.page_token.clone()),
        };
        if let (Some(since), Some(until)) = (filter.since, filter.until) {
            if since >= until {
                v.add("until", "must be after since");
            }
        }
        v.finish()?;
        Ok(filter)
    }
}

#[tonic::async_trait]
impl AuditService for Api {
    #[tracing::instrument(skip_all)]
    async fn query_audit_log(
        &self,
        request: Request<pb::QueryAuditLogRequest>,
    ) -> Result<Response<pb::QueryAuditLogResponse>, Status> {
        let started = self.begin(request, "AuditService/QueryAuditLog").await;
        let result = async {
            let p = started.principal.as_ref().map_err(Clone::clone)?;
            let filter = AuditFilter::try_from(&started.message)?;
            let (entries, next) = audit_log::query(&self.state, &started.call, p, filter).await?;
            Ok(pb::QueryAuditLogResponse {
                entries: entries.into_iter().map(convert::audit_entry).collect(),
                next_page_token: next.unwrap_or_default(),
            })
        }
        .await;
        self.finish(started, result).await
    }
}
