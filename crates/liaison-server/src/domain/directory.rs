//! Agencies: the register every signed-in user may read, and the operator's first setup.

use crate::authz::Operator;
use crate::domain::call::{Call, Work};
use crate::error::AppResult;
use crate::model::{Agency, AgencyId};
use crate::repo;
use crate::state::AppState;

pub async fn list_agencies(state: &AppState, call: &Call) -> AppResult<Vec<Agency>> {
    let work = Work::begin(state, call).await?;
    let agencies = repo::agencies::list(work.tx()).await?;
    work.commit().await?;
    Ok(agencies)
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
    };
    call.concerns("agency", agency.id.as_str());
    let work = Work::begin(state, call).await?;
    repo::agencies::insert(work.tx(), &agency, state.clock.now()).await?;
    work.commit().await?;
    Ok(agency)
}
