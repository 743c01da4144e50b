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
const HEALTH_SERVICES: [&str; 7] = [
    "",
    "liaison.v1.AuthService",
    "liaison.v1.DirectoryService",
    "liaison.v1.AdminService",
    "liaison.v1.CaseService",
    "liaison.v1.AuditService",
    "liaison.v1.StatsService",
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

/// How often the sealer looks for records other servers (or processes) committed, and looks at the
/// head, when nothing woke it.
const SEAL_POLL: Duration = Duration::from_millis(20);
const HEAD_CHECK: Duration = Duration::from_secs(1);

/// Seals committed audit records into the chain, batch after batch, as soon as this server's calls
/// commit them (they wake it) or every [`SEAL_POLL`] for other servers'. Tells this server's
/// watchers of sealed events, and counts seal lag for the metrics.
pub async fn seal_audit_records(state: AppState) {
    let mut head_checked = tokio::time::Instant::now();
    let mut woken = false;
    loop {
        let check_head = head_checked.elapsed() >= HEAD_CHECK;
        match state
            .sealer
            .seal_known(
                &state.db,
                &state.keys.current(),
                state.clock.now(),
                check_head,
                woken,
            )
            .await
        {
            Ok(Some(batch)) => {
                if check_head {
                    head_checked = tokio::time::Instant::now();
                }
                state.metrics.observe_seal(&batch);
                if batch.events > 0 {
                    state.events.published(batch.head);
                }
                if batch.entries + batch.rejected >= audit::seal::BATCH_LIMIT as usize {
                    woken = true;
                    continue;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not seal audit records"),
        }
        // Woken by this server's calls, the sealer knows records wait and need not look first.
        woken = state.sealer.woken(SEAL_POLL).await;
    }
}

/// Writes the summaries of refusals before authentication, every
/// [`audit::refusals::FLUSH_EVERY`].
pub async fn write_refusal_summaries(state: AppState) {
    let mut timer = every(audit::refusals::FLUSH_EVERY);
    loop {
        timer.tick().await;
        if let Err(e) = domain::call::flush_refusals(&state).await {
            tracing::warn!(error = %e, "could not write the refusal summaries");
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

/// Once a minute, escalates the cases not acknowledged in time, records the deadlines due soon
/// and the answers breached, and marks lapsed the preservations kept past their date.
pub async fn escalate_overdue_cases(state: AppState) {
    let mut timer = every(MINUTE);
    loop {
        timer.tick().await;
        match domain::cases::escalate_overdue(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, "escalated cases not acknowledged in time"),
            Err(e) => tracing::warn!(error = %e, "could not escalate overdue cases"),
        }
        match domain::deadlines::raise_alarms(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "recorded deadlines due soon or breached"),
            Err(e) => tracing::warn!(error = %e, "could not record deadlines due soon or breached"),
        }
        match domain::cases::lapse_preservations(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(cases = n, "preservations lapsed"),
            Err(e) => tracing::warn!(error = %e, "could not mark lapsed preservations"),
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
