//! Agencies: the register every signed-in user may read, and the operator's first setup.

use crate::authz::{AgencyAdmin, CaseScope, Operator};
use crate::domain::call::{Call, Work};
use crate::error::{AppError, AppResult};
use crate::model::{Agency, AgencyId, Role, Roles, User};
use crate::repo;
use crate::state::AppState;

pub async fn list_agencies(state: &AppState, call: &Call) -> AppResult<Vec<Agency>> {
    let work = Work::begin(state, call).await?;
    let agencies = repo::agencies::list(work.tx()).await?;
    work.commit().await?;
    Ok(agencies)
}

/// The most colleagues one ListColleagues answers with.
const MAX_COLLEAGUES: u64 = 1000;

/// The people of the caller's agency who work cases (officers, supervisors, or those with `role`),
/// enabled ones, with their case roles alone: who a supervisor can assign a case to.
pub async fn colleagues(
    state: &AppState,
    call: &Call,
    scope: &CaseScope,
    role: Option<Role>,
) -> AppResult<Vec<User>> {
    let work = Work::begin(state, call).await?;
    let agency = &scope.principal().agency_id;
    // The agency's enabled users are read (hundreds, not thousands; at most ten thousand), and
    // those without a case role left out.
    let users = repo::users::list_enabled(work.tx(), agency, 10 * MAX_COLLEAGUES).await?;
    work.commit().await?;
    let case_roles: Roles = [Role::Officer, Role::Supervisor].into_iter().collect();
    Ok(users
        .into_iter()
        .filter_map(|mut user| {
            user.roles = user
                .roles
                .iter()
                .filter(|r| case_roles.contains(*r))
                .collect();
            let wanted = match role {
                Some(role) => user.roles.contains(role),
                None => !user.roles.is_empty(),
            };
            wanted.then_some(user)
        })
        .take(MAX_COLLEAGUES as usize)
        .collect())
}

/// Registers an agency (operator command; agencies are not created over gRPC).
pub async fn add_agency(
    state: &AppState,
    call: &Call,
    _operator: &Operator,
    code: String,
    name: String,
    country: String,
) -> AppResult<Agency> {
    let agency = Agency {
        id: AgencyId::generate(),
        code,
        name,
        country,
        time_zone: "UTC".into(),
        holidays: Vec::new(),
    };
    call.concerns("agency", agency.id.as_str());
    let work = Work::begin(state, call).await?;
    repo::agencies::insert(work.tx(), &agency, state.clock.now()).await?;
    work.commit().await?;
    Ok(agency)
}

/// What an admin changes of their agency's calendar; each left out stays.
#[derive(Debug, Clone, Default)]
pub struct CalendarChange {
    pub time_zone: Option<String>,
    pub holidays: Option<Vec<chrono::NaiveDate>>,
}

/// Sets the time zone and holidays of the admin's own agency.
pub async fn update_agency(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    change: CalendarChange,
) -> AppResult<Agency> {
    call.concerns("agency", admin.agency_id().as_str());
    let work = Work::begin(state, call).await?;
    let mut agency = repo::agencies::find(work.tx(), admin.agency_id())
        .await?
        .ok_or_else(|| AppError::internal("the admin's agency is missing"))?;
    if let Some(zone) = change.time_zone {
        agency.time_zone = zone;
    }
    if let Some(holidays) = change.holidays {
        agency.holidays = holidays;
    }
    repo::agencies::update_calendar(work.tx(), &agency).await?;
    work.commit().await?;
    Ok(agency)
}
