//! `liaison.v1.AdminService`.

use tonic::{Request, Response, Status};

use super::{convert, Api};
use crate::authz::TermMove;
use crate::domain::directory::{self, CalendarChange};
use crate::domain::terms::{self, NewTerm};
use crate::domain::users::{Decision, NewUser, UserChanges};
use crate::domain::{channels, users};
use crate::error::AppResult;
use crate::limits::{MAX_ID_CHARS, MAX_NAME_CHARS};
use crate::model::{
    AgencyId, Categories, Category, ChannelId, ChannelStatus, DeadlineTerm, Role, Roles, Rule,
    TermId, TermKind, UserId,
};
use crate::pb::{self, admin_service_server::AdminService};
use crate::validate::{self, Violations};

fn roles(v: &mut Violations, field: &str, values: &[i32]) -> Roles {
    values
        .iter()
        .filter_map(|r| convert::required_enum(v, field, *r, Role::from_code))
        .collect()
}

fn categories(v: &mut Violations, values: &[i32]) -> Categories {
    let set: Categories = values
        .iter()
        .filter_map(|c| convert::required_enum(v, "categories", *c, Category::from_code))
        .collect();
    if values.is_empty() {
        v.add(
            "categories",
            "must name at least one of DRUGS, FRAUD, CYBER",
        );
    }
    set
}

impl TryFrom<&pb::CreateUserRequest> for NewUser {
    type Error = crate::error::AppError;

    fn try_from(m: &pb::CreateUserRequest) -> AppResult<Self> {
        let mut v = Violations::new();
        let new = NewUser {
            username: v.check("username", validate::username(&m.username)),
            display_name: v.check(
                "display_name",
                validate::text(&m.display_name, 1, MAX_NAME_CHARS, false),
            ),
            roles: roles(&mut v, "roles", &m.roles),
            password: v.check(
                "password",
                validate::password(&m.password, &[&m.username, &m.display_name]),
            ),
        };
        v.finish()?;
        Ok(new)
    }
}

impl TryFrom<&pb::UpdateUserRequest> for UserChanges {
    type Error = crate::error::AppError;

    fn try_from(m: &pb::UpdateUserRequest) -> AppResult<Self> {
        let mut v = Violations::new();
        let display_name = m.display_name.as_deref().map(|name| {
            v.check(
                "display_name",
                validate::text(name, 1, MAX_NAME_CHARS, false),
            )
        });
        let new_roles = roles(&mut v, "roles", &m.roles);
        if !m.set_roles && !m.roles.is_empty() {
            v.add("set_roles", "must be true when roles are given");
        }
        v.finish()?;
        Ok(UserChanges {
            display_name,
            roles: m.set_roles.then_some(new_roles),
            disabled: m.disabled,
        })
    }
}

impl Api {
    /// The shape of approving and rejecting a role change: its id, an optional reason, the decision.
    async fn decide_role_change<M: Send>(
        &self,
        request: Request<M>,
        method: &str,
        decision: Decision,
        id_and_reason: fn(&M) -> (&String, &String),
    ) -> Result<Response<pb::RoleChange>, Status> {
        let started = self.begin(request, method).await;
        let result = async {
            let admin = &started.admin()?;
            let (id, reason) = id_and_reason(&started.message);
            started.call.concerns("role-change", id);
            let mut v = Violations::new();
            let id = v.check("id", validate::uuid(id));
            let reason = convert::optional_reason(&mut v, "reason", reason);
            v.finish()?;
            let change =
                users::decide_role_change(&self.state, &started.call, admin, &id, decision, reason)
                    .await?;
            Ok(convert::role_change(change, self.state.clock.now()))
        }
        .await;
        self.finish(started, result).await
    }
}

#[tonic::async_trait]
impl AdminService for Api {
    #[tracing::instrument(skip_all)]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let started = self.begin(request, "AdminService/CreateUser").await;
        let result = async {
            let admin = &started.admin()?;
            let new = NewUser::try_from(&started.message)?;
            let user = users::create(&self.state, &started.call, admin, new).await?;
            Ok(convert::user(user))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let started = self.begin(request, "AdminService/UpdateUser").await;
        let result = async {
            let admin = &started.admin()?;
            started.call.concerns("user", &started.message.id);
            let id = validate::field("id", validate::uuid(&started.message.id))?;
            let changes = UserChanges::try_from(&started.message)?;
            let user = users::update(
                &self.state,
                &started.call,
                admin,
                &UserId::from(id.as_str()),
                changes,
            )
            .await?;
            Ok(convert::user(user))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn propose_role_change(
        &self,
        request: Request<pb::ProposeRoleChangeRequest>,
    ) -> Result<Response<pb::RoleChange>, Status> {
        let started = self.begin(request, "AdminService/ProposeRoleChange").await;
        let result = async {
            let admin = &started.admin()?;
            let m = &started.message;
            started.call.concerns("user", &m.user_id);
            let mut v = Violations::new();
            let id = v.check("user_id", validate::uuid(&m.user_id));
            let new_roles = roles(&mut v, "roles", &m.roles);
            let reason = convert::optional_reason(&mut v, "reason", &m.reason);
            v.finish()?;
            let change = users::propose_role_change(
                &self.state,
                &started.call,
                admin,
                &UserId::from(id.as_str()),
                new_roles,
                reason,
            )
            .await?;
            Ok(convert::role_change(change, self.state.clock.now()))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn list_role_changes(
        &self,
        request: Request<pb::ListRoleChangesRequest>,
    ) -> Result<Response<pb::ListRoleChangesResponse>, Status> {
        let started = self.begin(request, "AdminService/ListRoleChanges").await;
        let result = async {
            let admin = &started.admin()?;
            let changes = users::role_changes(
                &self.state,
                &started.call,
                admin,
                started.message.include_decided,
            )
            .await?;
            let now = self.state.clock.now();
            Ok(pb::ListRoleChangesResponse {
                role_changes: changes
                    .into_iter()
                    .map(|c| convert::role_change(c, now))
                    .collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn approve_role_change(
        &self,
        request: Request<pb::ApproveRoleChangeRequest>,
    ) -> Result<Response<pb::RoleChange>, Status> {
        self.decide_role_change(
            request,
            "AdminService/ApproveRoleChange",
            Decision::Approve,
            |m| (&m.id, &m.reason),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn reject_role_change(
        &self,
        request: Request<pb::RejectRoleChangeRequest>,
    ) -> Result<Response<pb::RoleChange>, Status> {
        self.decide_role_change(
            request,
            "AdminService/RejectRoleChange",
            Decision::Reject,
            |m| (&m.id, &m.reason),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let started = self.begin(request, "AdminService/ListUsers").await;
        let result = async {
            let admin = &started.admin()?;
            let list = users::list(
                &self.state,
                &started.call,
                admin,
                started.message.include_disabled,
            )
            .await?;
            Ok(pb::ListUsersResponse {
                users: list.into_iter().map(convert::user).collect(),
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let started = self.begin(request, "AdminService/ResetPassword").await;
        let result = async {
            let admin = &started.admin()?;
            let m = &started.message;
            started.call.concerns("user", &m.id);
            let mut v = Violations::new();
            let id = v.check("id", validate::uuid(&m.id));
            let password = v.check("new_password", validate::password(&m.new_password, &[]));
            v.finish()?;
            users::reset_password(
                &self.state,
                &started.call,
                admin,
                &UserId::from(id.as_str()),
                password,
            )
            .await?;
            Ok(pb::ResetPasswordResponse {})
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn revoke_sessions(
        &self,
        request: Request<pb::RevokeSessionsRequest>,
    ) -> Result<Response<pb::RevokeSessionsResponse>, Status> {
        let started = self.begin(request, "AdminService/RevokeSessions").await;
        let result = async {
            let admin = &started.admin()?;
            started.call.concerns("user", &started.message.user_id);
            let id = validate::field("user_id", validate::uuid(&started.message.user_id))?;
            let revoked = users::revoke_sessions(
                &self.state,
                &started.call,
                admin,
                &UserId::from(id.as_str()),
            )
            .await?;
            Ok(pb::RevokeSessionsResponse {
                revoked: revoked as i64,
            })
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn update_agency(
        &self,
        request: Request<pb::UpdateAgencyRequest>,
    ) -> Result<Response<pb::Agency>, Status> {
        let started = self.begin(request, "AdminService/UpdateAgency").await;
        let result = async {
            let admin = &started.admin()?;
            let m = &started.message;
            let mut v = Violations::new();
            let change = CalendarChange {
                time_zone: m
                    .time_zone
                    .as_deref()
                    .map(|z| v.check("time_zone", validate::time_zone(z))),
                holidays: m
                    .set_holidays
                    .then(|| v.check("holidays", validate::holidays(&m.holidays))),
            };
            if !m.set_holidays && !m.holidays.is_empty() {
                v.add("set_holidays", "must be true to replace the holidays");
            }
            v.finish()?;
            let agency =
                directory::update_agency(&self.state, &started.call, admin, change).await?;
            Ok(convert::agency(agency))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn propose_channel(
        &self,
        request: Request<pb::ProposeChannelRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        let started = self.begin(request, "AdminService/ProposeChannel").await;
        let result = async {
            let admin = &started.admin()?;
            let m = &started.message;
            let mut v = Violations::new();
            let partner = v.check("partner_agency_id", validate::uuid(&m.partner_agency_id));
            let categories = categories(&mut v, &m.categories);
            v.finish()?;
            let view = channels::propose(
                &self.state,
                &started.call,
                admin,
                &AgencyId::from(partner.as_str()),
                categories,
            )
            .await?;
            Ok(convert::channel(view))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn approve_channel(
        &self,
        request: Request<pb::ApproveChannelRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        self.change_channel(
            request,
            "AdminService/ApproveChannel",
            ChannelStatus::Active,
            |m| (&m.id, &m.etag),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn suspend_channel(
        &self,
        request: Request<pb::SuspendChannelRequest>,
    ) -> Result<Response<pb::Channel>, Status> {
        self.change_channel(
            request,
            "AdminService/SuspendChannel",
            ChannelStatus::Suspended,
            |m| (&m.id, &m.etag),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn propose_channel_term(
        &self,
        request: Request<pb::ProposeChannelTermRequest>,
    ) -> Result<Response<pb::ChannelTerm>, Status> {
        let started = self.begin(request, "AdminService/ProposeChannelTerm").await;
        let result = async {
            let admin = &started.admin()?;
            let m = &started.message;
            started.call.concerns("channel", &m.channel_id);
            let mut v = Violations::new();
            let channel_id = v.check("channel_id", validate::uuid(&m.channel_id));
            let kind = convert::required_enum(&mut v, "kind", m.kind, TermKind::from_code);
            let span = convert::from_duration(
                &mut v,
                "duration",
                m.duration,
                chrono::Duration::minutes(1),
                chrono::Duration::days(366),
            );
            let percent = match m.percent {
                0 => None,
                p => match i16::try_from(p) {
                    Ok(p) => Some(p),
                    Err(_) => {
                        v.add("percent", "must be from 50 to 95");
                        None
                    }
                },
            };
            let new = NewTerm {
                kind: kind.unwrap_or(TermKind::LegalBasis),
                code: v.check("code", validate::term_code(&m.code)),
                // A rule's or a deadline's title may be left to the service: what it sets.
                title: match (kind, Rule::from_name(&m.code), DeadlineTerm::parse(&m.code)) {
                    (Some(TermKind::Rule), Some(rule), _) if m.title.is_empty() => {
                        rule.description().to_string()
                    }
                    // An unknown deadline is refused on its code, below.
                    (Some(TermKind::Deadline), _, deadline) if m.title.is_empty() => deadline
                        .map(|d| d.describe(span, percent))
                        .unwrap_or_default(),
                    _ => v.check("title", validate::text(&m.title, 1, MAX_NAME_CHARS, false)),
                },
                span,
                percent,
                reference: (!m.reference.is_empty()).then(|| {
                    v.check(
                        "reference",
                        validate::text(&m.reference, 1, MAX_NAME_CHARS, false),
                    )
                }),
                notes: convert::optional_reason(&mut v, "notes", &m.notes),
            };
            v.finish()?;
            let term = terms::propose(
                &self.state,
                &started.call,
                admin,
                &ChannelId::from(channel_id.as_str()),
                new,
            )
            .await?;
            Ok(convert::channel_term(term))
        }
        .await;
        self.finish(started, result).await
    }

    #[tracing::instrument(skip_all)]
    async fn approve_channel_term(
        &self,
        request: Request<pb::ApproveChannelTermRequest>,
    ) -> Result<Response<pb::ChannelTerm>, Status> {
        self.decide_term(
            request,
            "AdminService/ApproveChannelTerm",
            TermMove::Approve,
            |m| (&m.id, &m.reason),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn reject_channel_term(
        &self,
        request: Request<pb::RejectChannelTermRequest>,
    ) -> Result<Response<pb::ChannelTerm>, Status> {
        self.decide_term(
            request,
            "AdminService/RejectChannelTerm",
            TermMove::Reject,
            |m| (&m.id, &m.reason),
        )
        .await
    }

    #[tracing::instrument(skip_all)]
    async fn retire_channel_term(
        &self,
        request: Request<pb::RetireChannelTermRequest>,
    ) -> Result<Response<pb::ChannelTerm>, Status> {
        self.decide_term(
            request,
            "AdminService/RetireChannelTerm",
            TermMove::Retire,
            |m| (&m.id, &m.reason),
        )
        .await
    }
}

impl Api {
    /// The shape of the decisions on a term: its id, a reason (required to retire), the move.
    async fn decide_term<M: Send>(
        &self,
        request: Request<M>,
        method: &str,
        mv: TermMove,
        id_and_reason: fn(&M) -> (&String, &String),
    ) -> Result<Response<pb::ChannelTerm>, Status> {
        let started = self.begin(request, method).await;
        let result = async {
            let admin = &started.admin()?;
            let (id, reason) = id_and_reason(&started.message);
            started.call.concerns("channel-term", id);
            let mut v = Violations::new();
            let id = v.check("id", validate::uuid(id));
            let reason = match mv {
                // The other agency reads why a term it relies on stopped binding.
                TermMove::Retire => Some(convert::reason(&mut v, "reason", reason)),
                TermMove::Approve | TermMove::Reject => {
                    convert::optional_reason(&mut v, "reason", reason)
                }
            };
            v.finish()?;
            let term = terms::decide(
                &self.state,
                &started.call,
                admin,
                &TermId::from(id.as_str()),
                mv,
                reason,
            )
            .await?;
            Ok(convert::channel_term(term))
        }
        .await;
        self.finish(started, result).await
    }
}

impl Api {
    /// The shape both channel moves share: an id, the etag seen, and the status to move to.
    #[tracing::instrument(skip_all)]
    async fn change_channel<M: Send>(
        &self,
        request: Request<M>,
        method: &str,
        to: ChannelStatus,
        id_and_etag: fn(&M) -> (&str, &str),
    ) -> Result<Response<pb::Channel>, Status> {
        let started = self.begin(request, method).await;
        let result = async {
            let admin = &started.admin()?;
            let (id, etag) = id_and_etag(&started.message);
            let (id, etag) = channel_ref(&started.call, id, etag)?;
            let view = channels::change_status(
                &self.state,
                &started.call,
                admin,
                &ChannelId::from(id.as_str()),
                &etag,
                to,
            )
            .await?;
            Ok(convert::channel(view))
        }
        .await;
        self.finish(started, result).await
    }
}

/// The id and etag of a channel change.
fn channel_ref(
    call: &crate::domain::call::Call,
    id: &str,
    etag: &str,
) -> AppResult<(String, String)> {
    call.concerns("channel", id);
    let mut v = Violations::new();
    let id = v.check("id", validate::uuid(id));
    let etag = v.check("etag", validate::text(etag, 1, MAX_ID_CHARS, false));
    v.finish()?;
    Ok((id, etag))
}
