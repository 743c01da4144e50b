//! What every request handler shares: the database, the clock, the keys and the password hasher.

use std::sync::Arc;

use crate::authn::jwt::Keyring;
use crate::authn::password::Passwords;
use crate::clock::Clock;
use crate::hub::EventHub;
use crate::metrics::Metrics;
use crate::rate::RateLimit;
use crate::repo::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<Keyring>,
    pub passwords: Passwords,
    /// How many sign-ins this server starts a second, whoever sends them.
    pub sign_ins: Arc<RateLimit>,
    pub sessions: SessionPolicy,
    pub metrics: Arc<Metrics>,
    /// Tells this server's watchers that case events were sealed.
    pub events: Arc<EventHub>,
    /// Chains committed audit records into the log (see [`crate::audit::seal`]).
    pub sealer: Arc<crate::audit::seal::Sealer>,
    /// Names of people this server read in the last minute.
    pub people: Arc<crate::repo::people::PeopleCache>,
    /// This server's blocks of case reference numbers.
    pub references: Arc<crate::repo::references::ReferenceNumbers>,
    /// Refusals before authentication, counted until the next flush writes their summaries.
    pub refusals: Arc<crate::audit::refusals::RefusalTallies>,
    /// The most audit entries one VerifyAuditChain call checks.
    pub max_verified_per_call: i64,
    /// The most entries one QueryAuditLog page looks through unless an actor, case or time range
    /// narrows it.
    pub max_audit_scan: i64,
}

/// How long sessions live.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A refresh token unused this long dies.
    pub idle: chrono::Duration,
    /// A session ends this long after sign-in.
    pub lifetime: chrono::Duration,
}
