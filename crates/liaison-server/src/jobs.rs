//! What the server does on its own, beside the calls: each background job, named for what it does.
//! `serve` spawns them all and aborts them at shutdown. A job that fails one round logs a warning
//! and tries again at the next.

use std::time::Duration;

use tonic_health::server::HealthReporter;
use tonic_health::ServingStatus;

use crate::authn::jwt::KEY_PICKUP_SECONDS;
use crate::repo::Db;
use crate::state::AppState;
use crate::{audit, domain};

/// The names health checks answer for: the server as a whole and each service.
const HEALTH_SERVICES: [&str; 6] = [
    "",
    "liaison.v1.AuthService",
    "liaison.v1.DirectoryService",
    "liaison.v1.AdminService",
    "liaison.v1.CaseService",
    "liaison.v1.AuditService",
];

/// Sets every health name to `status`.
pub async fn report_health(health: &HealthReporter, status: ServingStatus) {
    for service in HEALTH_SERVICES {
        health.set_service_status(service, status).await;
    }
}

/// Reports SERVING while the database answers and NOT_SERVING while it does not; every 2 s.
pub async fn report_database_health(db: Db, health: HealthReporter) {
    let mut last = None;
    loop {
        let status = if db.ping().await {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        if last != Some(status) {
            if status == ServingStatus::NotServing {
                tracing::warn!("database unreachable: reporting NOT_SERVING");
            }
            report_health(&health, status).await;
            last = Some(status);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// A timer that first fires one `period` from now, and waits out a round that overran.
fn every(period: Duration) -> tokio::time::Interval {
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

const MINUTE: Duration = Duration::from_secs(60);

/// Once a minute, signs the audit chain's head if it moved: the timer's half of "every 1,000
/// entries or every minute" (appends sign every 1,000th entry themselves).
pub async fn sign_checkpoints(state: AppState) {
    let mut timer = every(MINUTE);
    loop {
        timer.tick().await;
        if let Err(e) =
            audit::checkpoint_head(&state.db, &state.keys.current(), state.clock.now()).await
        {
            tracing::warn!(error = %e, "could not sign an audit checkpoint");
        }
    }
}

/// Once a minute, forgets the failed sign-ins that no longer count towards a throttle.
pub async fn prune_login_failures(state: AppState) {
    let mut timer = every(MINUTE);
    loop {
        timer.tick().await;
        if let Err(e) = domain::auth::prune_login_failures(&state).await {
            tracing::warn!(error = %e, "could not prune old failed sign-ins");
        }
    }
}

/// Once a minute, escalates the cases not acknowledged in time.
pub async fn escalate_overdue_cases(state: AppState) {
    let mut timer = every(MINUTE);
    loop {
        timer.tick().await;
        match domain::cases::escalate_overdue(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, "escalated cases not acknowledged in time"),
            Err(e) => tracing::warn!(error = %e, "could not escalate overdue cases"),
        }
    }
}

/// Picks up keys added by `liaisond keys rotate` (or by another replica's operator).
pub async fn reload_keys(state: AppState) {
    let mut timer = every(Duration::from_secs(KEY_PICKUP_SECONDS.unsigned_abs()));
    loop {
        timer.tick().await;
        if let Err(e) = state.keys.reload() {
            tracing::warn!(error = %e, "could not reload the signing keys");
        }
    }
}

/// Feeds the case events other servers commit (PostgreSQL NOTIFY) to this server's watchers.
pub async fn follow_other_servers_events(state: AppState) {
    let hub = state.events.clone();
    state
        .db
        .follow_event_commits(move |seq| match seq {
            Some(seq) => hub.published(seq),
            None => hub.nudge(),
        })
        .await;
}
