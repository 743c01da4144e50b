//! Channels: proposed by one agency's admin, approved by the other's, suspended by either.

use std::collections::HashMap;

use crate::authz::{self, AgencyAdmin, CHANNEL_NOT_FOUND};
use crate::domain::call::{Call, Work};
use crate::domain::terms;
use crate::error::{AppError, AppResult};
use crate::model::Principal;
use crate::model::{
    etag, Agency, AgencyId, Categories, CategoryCode, Channel, ChannelId, ChannelStatus,
};
use crate::repo::{self, Tx};
use crate::state::AppState;

/// A channel with both its agencies, and the categories it covers: those agreed in its register
/// (the founding ones, while it is only proposed).
#[derive(Debug, Clone)]
pub struct ChannelView {
    pub channel: Channel,
    pub proposing: Agency,
    pub partner: Agency,
    pub categories: Vec<CategoryCode>,
}

impl ChannelView {
    pub fn etag(&self) -> String {
        etag(self.channel.id.as_str(), self.channel.version)
    }
}

async fn view(
    tx: &Tx,
    channel: Channel,
    cache: &mut HashMap<String, Agency>,
) -> AppResult<ChannelView> {
    let agency = |id: String| {
        let cached = cache.get(&id).cloned();
        async move {
            match cached {
                Some(a) => Ok(a),
                None => repo::agencies::find(tx, &AgencyId::from(id.as_str()))
                    .await?
                    .ok_or_else(|| AppError::internal("channel names a missing agency")),
            }
        }
    };
    let proposing = agency(channel.proposing_agency_id.to_string()).await?;
    let partner = agency(channel.partner_agency_id.to_string()).await?;
    cache.insert(proposing.id.to_string(), proposing.clone());
    cache.insert(partner.id.to_string(), partner.clone());
    let categories = if channel.approved_by.is_some() {
        terms::categories_in_force(tx, &channel.id).await?
    } else {
        channel.categories.iter().map(CategoryCode::from).collect()
    };
    Ok(ChannelView {
        channel,
        proposing,
        partner,
        categories,
    })
}

/// The channel, if the caller's agency is a party to it.
async fn load(tx: &Tx, call: &Call, p: &Principal, id: &ChannelId) -> AppResult<Channel> {
    call.concerns("channel", id);
    repo::channels::find(tx, id)
        .await?
        .filter(|c| authz::channel_visible(c, p.agency_id.as_str()))
        .ok_or(CHANNEL_NOT_FOUND)
}

pub async fn get(
    state: &AppState,
    call: &Call,
    p: &Principal,
    id: &ChannelId,
) -> AppResult<ChannelView> {
    let work = Work::begin(state, call).await?;
    let channel = load(work.tx(), call, p, id).await?;
    let view = view(work.tx(), channel, &mut HashMap::new()).await?;
    work.commit().await?;
    Ok(view)
}

pub async fn list(
    state: &AppState,
    call: &Call,
    p: &Principal,
    status: Option<ChannelStatus>,
) -> AppResult<Vec<ChannelView>> {
    let work = Work::begin(state, call).await?;
    let mut cache = HashMap::new();
    let mut views = Vec::new();
    for channel in repo::channels::list_for_agency(work.tx(), &p.agency_id, status).await? {
        views.push(view(work.tx(), channel, &mut cache).await?);
    }
    work.commit().await?;
    Ok(views)
}

pub async fn propose(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    partner_agency_id: &AgencyId,
    categories: Categories,
) -> AppResult<ChannelView> {
    let work = Work::begin(state, call).await?;
    let tx = work.tx();
    let own = repo::agencies::find(tx, admin.agency_id())
        .await?
        .ok_or_else(|| AppError::internal("admin's agency is missing"))?;
    let partner = repo::agencies::find(tx, partner_agency_id)
        .await?
        .ok_or_else(|| AppError::invalid("partner_agency_id", "names no agency"))?;
    if partner.country == own.country {
        return Err(AppError::invalid(
            "partner_agency_id",
            "must be an agency of another country than the proposer's",
        ));
    }
    let now = state.clock.now();
    let channel = Channel {
        id: ChannelId::generate(),
        proposing_agency_id: own.id.clone(),
        partner_agency_id: partner.id.clone(),
        categories,
        status: ChannelStatus::Proposed,
        proposed_by: admin.principal().user_id.clone(),
        approved_by: None,
        suspended_by_agency_id: None,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    call.concerns("channel", channel.id.as_str());
    repo::channels::insert(tx, &channel).await?;
    work.commit().await?;
    Ok(ChannelView {
        categories: channel.categories.iter().map(CategoryCode::from).collect(),
        channel,
        proposing: own,
        partner,
    })
}

/// Moves a channel to `to`: approval by the partner's admin, suspension by either side's.
pub async fn change_status(
    state: &AppState,
    call: &Call,
    admin: &AgencyAdmin,
    id: &ChannelId,
    etag_seen: &str,
    to: ChannelStatus,
) -> AppResult<ChannelView> {
    let work = Work::begin(state, call).await?;
    let tx = work.tx();
    let current = load(tx, call, admin.principal(), id).await?;
    // Who may make the move is decided before the etag and the lifecycle are looked at.
    let permit = authz::channel_move(admin, &current, to)?;
    if etag(current.id.as_str(), current.version) != etag_seen {
        return Err(AppError::Aborted(
            "the channel changed since it was read (stale etag); read it again".into(),
        ));
    }
    let mut next = current.clone();
    let to = permit.to();
    match (current.status, to) {
        (ChannelStatus::Proposed, ChannelStatus::Active) => {
            next.approved_by = Some(admin.principal().user_id.clone());
            // Its categories become the first terms of its register.
            let approver = &admin.principal().user_id;
            for term in current.founding_categories(approver, state.clock.now()) {
                repo::terms::insert(tx, &term).await?;
            }
        }
        (ChannelStatus::Suspended, ChannelStatus::Active) => {
            next.suspended_by_agency_id = None;
        }
        (ChannelStatus::Active, ChannelStatus::Suspended) => {
            next.suspended_by_agency_id = Some(admin.agency_id().to_string().into());
        }
        (from, to) => {
            return Err(AppError::FailedPrecondition(format!(
                "a {from} channel cannot become {to}"
            )))
        }
    }
    next.status = to;
    next.updated_at = state.clock.now();
    next.version = current.version + 1;
    if !repo::channels::update(tx, &next, current.version).await? {
        return Err(AppError::Aborted(
            "the channel changed concurrently; read it again".into(),
        ));
    }
    let view = view(tx, next, &mut HashMap::new()).await?;
    work.commit().await?;
    Ok(view)
}
