//! The auditor's view of the audit log: entries whose actor belongs to the auditor's agency or whose
//! case has it as a party. Querying is itself audited.

use crate::audit::AuditEntry;
use crate::authn::Principal;
use crate::authz;
use crate::domain::call::{Call, Work};
use crate::domain::model::{Outcome, Role, Timestamp};
use crate::domain::paging;
use crate::error::AppResult;
use crate::repo;
use crate::repo::audit::AuditQuery;
use crate::state::AppState;

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<String>,
    pub case_id: Option<String>,
    pub method: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub page_size: u64,
    pub page_token: Option<String>,
}

impl AuditFilter {
    fn binding(&self, p: &Principal) -> String {
        let time = |t: Option<Timestamp>| {
            t.map(|t| t.timestamp_micros().to_string())
                .unwrap_or_default()
        };
        paging::binding(&[
            "QueryAuditLog",
            &p.user_id,
            self.actor_id.as_deref().unwrap_or(""),
            self.case_id.as_deref().unwrap_or(""),
            self.method.as_deref().unwrap_or(""),
            self.outcome.map(|o| o.as_str()).unwrap_or(""),
            &time(self.since),
            &time(self.until),
        ])
    }
}

pub async fn query(
    state: &AppState,
    call: &Call,
    p: &Principal,
    filter: AuditFilter,
) -> AppResult<(Vec<AuditEntry>, Option<String>)> {
    authz::require_role(p, Role::Auditor)?;
    let secret = state.keys.page_token_secret();
    let binding = filter.binding(p);
    let before_seq = filter
        .page_token
        .as_deref()
        .map(|t| paging::decode::<i64>(secret, &binding, t))
        .transpose()?;
    let query = AuditQuery {
        agency_id: p.agency_id.clone(),
        actor_id: filter.actor_id,
        case_id: filter.case_id,
        method: filter.method,
        outcome: filter.outcome,
        since: filter.since,
        until: filter.until,
        before_seq,
        limit: filter.page_size + 1,
    };
    let work = Work::begin(state, call).await?;
    let mut entries = repo::audit::query(work.tx(), &query).await?;
    work.commit().await?;
    let next = if entries.len() as u64 > filter.page_size {
        entries.truncate(filter.page_size as usize);
        match entries.last() {
            Some(last) => Some(paging::encode(secret, &binding, &last.seq)?),
            None => None,
        }
    } else {
        None
    };
    Ok((entries, next))
}
