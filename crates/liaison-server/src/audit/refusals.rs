//! Refusals before authentication, counted instead of written one by one.
//!
//! A call refused before anyone signed in (a bad or missing token, a refused sign-in, a busy
//! server) would otherwise add a permanent entry per request: anyone could grow the log as fast as
//! they can send. Such refusals are tallied here per caller and per what was refused — the user
//! the call claimed to be (when that user exists), where it came from (the IPv4 address, or the
//! IPv6 /64 network, without the port), the method and the outcome — and each tally becomes one
//! summary entry when flushed (every [`FLUSH_EVERY`] by a server, and when it stops): how many
//! calls it counts, the first one's time and the last one's (the entry's `at`). A summary is
//! sealed, chained and signed like any entry.
//!
//! Memory and growth are bounded whoever sends: at most [`MAX_TALLIES`] tallies are kept between
//! flushes; refusals from callers not yet tallied beyond that are folded into one tally per method
//! and outcome, with no caller.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::chain::{AuditRecord, Refusals as Counted};
use crate::model::{Roles, Timestamp};
use crate::sync::lock;

/// How often a server writes its tallies.
pub const FLUSH_EVERY: Duration = Duration::from_secs(10);

/// The most tallies kept between flushes.
pub const MAX_TALLIES: usize = 1024;

/// What makes two refusals the same for a summary.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    actor_id: Option<String>,
    actor_username: Option<String>,
    actor_agency_id: Option<String>,
    actor_roles: i32,
    method: String,
    outcome: i16,
    status_code: i32,
    peer: Option<String>,
}

#[derive(Debug, Clone)]
struct Tally {
    /// The summary as it will be written: the first refusal's record, narrowed to the key.
    record: AuditRecord,
    count: i64,
    first_at: Timestamp,
    last_at: Timestamp,
}

/// Where a call came from, as a summary groups it: an IPv4 address, or an IPv6 /64 network.
pub fn source(peer: &str) -> String {
    match peer
        .parse::<SocketAddr>()
        .map(|a| a.ip())
        .or_else(|_| peer.parse::<IpAddr>())
    {
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Ok(IpAddr::V6(ip)) => match ip.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = ip.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Err(_) => peer.to_string(),
    }
}

/// The tallies of one server, between flushes.
#[derive(Debug, Default)]
pub struct RefusalTallies {
    tallies: std::sync::Mutex<HashMap<Key, Tally>>,
}

impl RefusalTallies {
    /// Counts one refused call. `claimed_user_exists` says whether the record's actor is a real
    /// user (a sign-in with a wrong password) rather than a name the caller typed: only a real
    /// user's name is kept, so made-up names cannot make a tally each.
    pub fn count(&self, record: AuditRecord, claimed_user_exists: bool) {
        let at = record.at;
        self.fold(record, claimed_user_exists, 1, at, at);
    }

    fn fold(
        &self,
        mut record: AuditRecord,
        claimed_user_exists: bool,
        count: i64,
        first_at: Timestamp,
        last_at: Timestamp,
    ) {
        if !claimed_user_exists {
            record.actor_id = None;
            record.actor_username = None;
            record.actor_agency_id = None;
            record.actor_roles = Roles::empty();
        }
        record.peer = record.peer.as_deref().map(source);
        record.target_type = None;
        record.target_id = None;
        record.case_id = None;
        record.case_originating_agency_id = None;
        record.case_receiving_agency_id = None;
        record.refusals = None;
        let mut key = Key {
            actor_id: record.actor_id.clone(),
            actor_username: record.actor_username.clone(),
            actor_agency_id: record.actor_agency_id.clone(),
            actor_roles: record.actor_roles.bits(),
            method: record.method.clone(),
            outcome: record.outcome.code(),
            status_code: record.status_code,
            peer: record.peer.clone(),
        };
        let mut tallies = lock(&self.tallies);
        if !tallies.contains_key(&key) && tallies.len() >= MAX_TALLIES {
            // Full: fold into the caller-less tally of this method and outcome.
            key.actor_id = None;
            key.actor_username = None;
            key.actor_agency_id = None;
            key.actor_roles = 0;
            key.peer = None;
            record.actor_id = None;
            record.actor_username = None;
            record.actor_agency_id = None;
            record.actor_roles = Roles::empty();
            record.peer = None;
        }
        let tally = tallies.entry(key).or_insert_with(|| Tally {
            record,
            count: 0,
            first_at,
            last_at,
        });
        tally.count += count;
        tally.first_at = tally.first_at.min(first_at);
        tally.last_at = tally.last_at.max(last_at);
    }

    /// Takes every tally as a summary record, and starts counting afresh.
    pub fn take(&self) -> Vec<AuditRecord> {
        let tallies = std::mem::take(&mut *lock(&self.tallies));
        let mut records: Vec<AuditRecord> = tallies
            .into_values()
            .map(|tally| {
                let mut record = tally.record;
                record.at = tally.last_at;
                record.request_id = uuid::Uuid::now_v7().to_string();
                record.refusals = Some(Counted {
                    count: tally.count,
                    first_at: tally.first_at,
                });
                record
            })
            .collect();
        records.sort_by_key(|r| r.refusals.map(|c| c.first_at));
        records
    }

    /// Puts back summaries that could not be written, to be written with the next flush.
    pub fn put_back(&self, summaries: Vec<AuditRecord>) {
        for summary in summaries {
            let Some(counted) = summary.refusals else {
                continue;
            };
            let (last_at, named) = (summary.at, summary.actor_id.is_some());
            self.fold(summary, named, counted.count, counted.first_at, last_at);
        }
    }

    /// Refusals counted since the last flush.
    pub fn pending(&self) -> i64 {
        lock(&self.tallies).values().map(|t| t.count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;

    fn refused(method: &str, peer: &str, username: Option<&str>, at_s: i64) -> AuditRecord {
        AuditRecord {
            at: crate::clock::from_micros(at_s * 1_000_000),
            actor_id: username.map(|u| format!("id-{u}")),
            actor_username: username.map(str::to_string),
            actor_agency_id: username.map(|_| "agency".to_string()),
            actor_roles: Roles::empty(),
            method: method.into(),
            target_type: Some("case".into()),
            target_id: Some("c1".into()),
            case_id: None,
            case_originating_agency_id: None,
            case_receiving_agency_id: None,
            outcome: Outcome::Denied,
            status_code: 16,
            request_id: format!("r{at_s}"),
            peer: Some(peer.into()),
            event: None,
            refusals: None,
            handling: None,
        }
    }

    #[test]
    fn refusals_from_one_source_make_one_summary_with_count_and_times() {
        let tallies = RefusalTallies::default();
        for (i, port) in [4000, 4001, 4002].iter().enumerate() {
            tallies.count(
                refused(
                    "m/GetCase",
                    &format!("10.0.0.7:{port}"),
                    None,
                    100 + i as i64,
                ),
                false,
            );
        }
        tallies.count(refused("m/GetCase", "10.0.0.8:4000", None, 50), false);
        let summaries = tallies.take();
        assert_eq!(summaries.len(), 2);
        let seven = summaries
            .iter()
            .find(|s| s.peer.as_deref() == Some("10.0.0.7"))
            .unwrap();
        let counted = seven.refusals.unwrap();
        assert_eq!(counted.count, 3);
        assert_eq!(counted.first_at.timestamp(), 100);
        assert_eq!(seven.at.timestamp(), 102);
        assert_eq!(seven.target_id, None);
        assert!(tallies.take().is_empty());
    }

    #[test]
    fn made_up_names_share_a_tally_and_real_users_get_their_own() {
        let tallies = RefusalTallies::default();
        for name in ["a", "b", "c"] {
            tallies.count(refused("m/Login", "10.0.0.7:1", Some(name), 1), false);
        }
        tallies.count(refused("m/Login", "10.0.0.7:1", Some("real"), 1), true);
        let summaries = tallies.take();
        assert_eq!(summaries.len(), 2);
        assert!(summaries
            .iter()
            .any(|s| s.actor_username.as_deref() == Some("real")));
    }

    #[test]
    fn tallies_are_bounded_whoever_sends() {
        let tallies = RefusalTallies::default();
        for i in 0..(MAX_TALLIES + 500) {
            let peer = format!("2001:db8:{:x}:{:x}::1", i / 65536, i % 65536);
            tallies.count(
                refused("m/GetCase", &format!("[{peer}]:443"), None, 1),
                false,
            );
        }
        assert_eq!(tallies.pending(), (MAX_TALLIES + 500) as i64);
        let summaries = tallies.take();
        assert_eq!(summaries.len(), MAX_TALLIES + 1);
        let overflow = summaries.iter().find(|s| s.peer.is_none()).unwrap();
        assert_eq!(overflow.refusals.unwrap().count, 500);
    }

    #[test]
    fn ipv6_sources_are_their_64_networks() {
        assert_eq!(source("[2001:db8:1:2:3:4:5:6]:443"), "2001:db8:1:2::/64");
        assert_eq!(source("192.0.2.9:5000"), "192.0.2.9");
        assert_eq!(source("[::ffff:192.0.2.9]:5000"), "192.0.2.9");
    }

    #[test]
    fn summaries_put_back_are_written_next_time_with_their_counts() {
        let tallies = RefusalTallies::default();
        tallies.count(refused("m/GetCase", "10.0.0.7:1", None, 5), false);
        tallies.count(refused("m/GetCase", "10.0.0.7:1", None, 6), false);
        let failed = tallies.take();
        tallies.count(refused("m/GetCase", "10.0.0.7:1", None, 9), false);
        tallies.put_back(failed);
        let summaries = tallies.take();
        assert_eq!(summaries.len(), 1);
        let counted = summaries[0].refusals.unwrap();
        assert_eq!((counted.count, counted.first_at.timestamp()), (3, 5));
        assert_eq!(summaries[0].at.timestamp(), 9);
    }
}
