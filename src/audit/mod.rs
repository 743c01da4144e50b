//! The audit log: what an entry holds, how it is chained, and how it is appended inside the
//! caller's transaction. Each entry's `hash` is SHA-256 over a canonical, versioned encoding of its
//! fields and the previous entry's hash, so any edit, insertion, deletion or reordering breaks the
//! chain from that entry on.

pub mod verify;

use sha2::{Digest, Sha256};

use crate::authn::jwt::TokenKeys;
use crate::domain::model::{Outcome, Roles, Timestamp};
use crate::error::AppResult;
use crate::repo::{self, Db, Tx};

/// A checkpoint is signed inside the append of every entry whose sequence number is a multiple of
/// this, and by a timer at least once a minute while entries are added.
pub const CHECKPOINT_EVERY: i64 = 1000;

/// The hash that the first entry chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a call did, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub at: Timestamp,
    pub actor_id: Option<String>,
    pub actor_username: Option<String>,
    pub actor_agency_id: Option<String>,
    pub actor_roles: Roles,
    pub method: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub case_id: Option<String>,
    pub case_originating_agency_id: Option<String>,
    pub case_receiving_agency_id: Option<String>,
    pub outcome: Outcome,
    pub status_code: i32,
    pub request_id: String,
    pub peer: Option<String>,
    /// A security event the entry records, such as `refresh-token-reuse`.
    pub event: Option<String>,
}

/// A stored entry: the record, its place in the log and its link in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// The entry as one JSON object, for NDJSON exports.
    pub fn to_json(&self) -> serde_json::Value {
        let r = &self.record;
        serde_json::json!({
            "sequence": self.seq,
            "time": r.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "actor_id": r.actor_id,
            "actor_username": r.actor_username,
            "actor_agency_id": r.actor_agency_id,
            "actor_roles": r.actor_roles.iter().map(|role| role.as_str()).collect::<Vec<_>>(),
            "method": r.method,
            "target_type": r.target_type,
            "target_id": r.target_id,
            "case_id": r.case_id,
            "case_originating_agency_id": r.case_originating_agency_id,
            "case_receiving_agency_id": r.case_receiving_agency_id,
            "outcome": r.outcome.as_str(),
            "status_code": r.status_code,
            "request_id": r.request_id,
            "peer": r.peer,
            "event": r.event,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        })
    }
}

/// Version 1 of the canonical encoding: a tag, then each field length-prefixed, absent fields
/// marked, integers big-endian. Never change it in place; add a version.
pub fn canonical_bytes(seq: i64, record: &AuditRecord, prev_hash: &str) -> Vec<u8> {
    fn text(out: &mut Vec<u8>, value: &str) {
        out.push(1);
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    fn optional(out: &mut Vec<u8>, value: Option<&str>) {
        match value {
            Some(v) => text(out, v),
            None => out.push(0),
        }
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"liaison.audit.v1\0");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&record.at.timestamp_micros().to_be_bytes());
    optional(&mut out, record.actor_id.as_deref());
    optional(&mut out, record.actor_username.as_deref());
    optional(&mut out, record.actor_agency_id.as_deref());
    out.extend_from_slice(&record.actor_roles.bits().to_be_bytes());
    text(&mut out, &record.method);
    optional(&mut out, record.target_type.as_deref());
    optional(&mut out, record.target_id.as_deref());
    optional(&mut out, record.case_id.as_deref());
    optional(&mut out, record.case_originating_agency_id.as_deref());
    optional(&mut out, record.case_receiving_agency_id.as_deref());
    out.extend_from_slice(&record.outcome.code().to_be_bytes());
    out.extend_from_slice(&record.status_code.to_be_bytes());
    text(&mut out, &record.request_id);
    optional(&mut out, record.peer.as_deref());
    // Added after the first entries were written: present only when set, behind a tag (2) that no
    // field above starts with, so entries without an event hash exactly as they always did.
    if let Some(event) = record.event.as_deref() {
        out.push(2);
        out.extend_from_slice(&(event.len() as u32).to_be_bytes());
        out.extend_from_slice(event.as_bytes());
    }
    text(&mut out, prev_hash);
    out
}

/// The chain hash of an entry, lower-case hex.
pub fn chain_hash(seq: i64, record: &AuditRecord, prev_hash: &str) -> String {
    hex::encode(Sha256::digest(canonical_bytes(seq, record, prev_hash)))
}

/// Appends `record` to the log in the caller's transaction: it commits or rolls back with the change
/// it describes.
pub async fn append(tx: &Tx, keys: &TokenKeys, record: AuditRecord) -> AppResult<AuditEntry> {
    let entry = repo::audit::append(tx, record, chain_hash).await?;
    if entry.seq % CHECKPOINT_EVERY == 0 {
        let checkpoint = Checkpoint::sign(keys, entry.seq, &entry.hash, entry.record.at);
        repo::audit::insert_checkpoint(tx, &checkpoint).await?;
    }
    Ok(entry)
}

/// Links records onto the chain in memory, from a head `(seq, hash)`, with a signed checkpoint on
/// every [`CHECKPOINT_EVERY`]th entry exactly as [`append`] makes it: for bulk loads that write
/// the entries themselves and move the head once.
#[derive(Debug, Clone)]
pub struct ChainLinker {
    seq: i64,
    hash: String,
}

impl ChainLinker {
    pub fn after(seq: i64, hash: String) -> Self {
        ChainLinker { seq, hash }
    }

    /// The last entry linked so far (or the starting head).
    pub fn head(&self) -> (i64, String) {
        (self.seq, self.hash.clone())
    }

    pub fn link(
        &mut self,
        keys: &TokenKeys,
        record: AuditRecord,
    ) -> (AuditEntry, Option<Checkpoint>) {
        let seq = self.seq + 1;
        let hash = chain_hash(seq, &record, &self.hash);
        let checkpoint =
            (seq % CHECKPOINT_EVERY == 0).then(|| Checkpoint::sign(keys, seq, &hash, record.at));
        let prev_hash = std::mem::replace(&mut self.hash, hash.clone());
        self.seq = seq;
        (
            AuditEntry {
                seq,
                record,
                prev_hash,
                hash,
            },
            checkpoint,
        )
    }
}

/// A signed statement that the chain's entry `seq` has hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: String,
    pub at: Timestamp,
    pub kid: String,
    /// Ed25519 over [`Checkpoint::message`], hex.
    pub signature: String,
}

impl Checkpoint {
    pub fn message(seq: i64, hash: &str, at: Timestamp) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"liaison.checkpoint.v1\0");
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(hash.as_bytes());
        out.extend_from_slice(&at.timestamp_micros().to_be_bytes());
        out
    }

    pub fn sign(keys: &TokenKeys, seq: i64, hash: &str, at: Timestamp) -> Checkpoint {
        let (kid, signature) = keys.sign(&Checkpoint::message(seq, hash, at));
        Checkpoint {
            seq,
            hash: hash.to_string(),
            at,
            kid,
            signature,
        }
    }

    pub fn signature_is_valid(&self, keys: &TokenKeys) -> bool {
        keys.verify_signature(
            &self.kid,
            &Checkpoint::message(self.seq, &self.hash, self.at),
            &self.signature,
        )
    }
}

/// Signs the chain head if it moved since the latest checkpoint; the timer's half of the
/// "every 1,000 entries or every minute" rule.
pub async fn checkpoint_head(
    db: &Db,
    keys: &TokenKeys,
    now: Timestamp,
) -> AppResult<Option<Checkpoint>> {
    let tx = db.begin().await?;
    let (seq, hash) = repo::audit::head(&tx).await?;
    let latest = repo::audit::latest_checkpoint(&tx).await?;
    if seq == 0 || latest.is_some_and(|c| c.seq >= seq) {
        return Ok(None);
    }
    let checkpoint = Checkpoint::sign(keys, seq, &hash, now);
    repo::audit::insert_checkpoint(&tx, &checkpoint).await?;
    tx.commit().await?;
    Ok(Some(checkpoint))
}

/// Recomputes the chain over entries in sequence order; the first sequence number that does not
/// fit, or `None` when every entry does.
pub fn first_break(
    entries: &[AuditEntry],
    mut prev_hash: String,
    mut expected_seq: i64,
) -> Option<i64> {
    for entry in entries {
        if entry.seq != expected_seq
            || entry.prev_hash != prev_hash
            || chain_hash(entry.seq, &entry.record, &entry.prev_hash) != entry.hash
        {
            return Some(expected_seq);
        }
        prev_hash = entry.hash.clone();
        expected_seq += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(method: &str) -> AuditRecord {
        AuditRecord {
            at: crate::clock::from_micros(1_700_000_000_000_000),
            actor_id: Some("u1".into()),
            actor_username: Some("alice".into()),
            actor_agency_id: Some("a1".into()),
            actor_roles: Roles::from_bits(1),
            method: method.into(),
            target_type: Some("case".into()),
            target_id: Some("c1".into()),
            case_id: Some("c1".into()),
            case_originating_agency_id: Some("a1".into()),
            case_receiving_agency_id: Some("a2".into()),
            outcome: Outcome::Allowed,
            status_code: 0,
            request_id: "r1".into(),
            peer: None,
            event: None,
        }
    }

    fn chain(methods: &[&str]) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        let mut out = Vec::new();
        for (i, m) in methods.iter().enumerate() {
            let seq = i as i64 + 1;
            let r = record(m);
            let hash = chain_hash(seq, &r, &prev);
            out.push(AuditEntry {
                seq,
                record: r,
                prev_hash: prev.clone(),
                hash: hash.clone(),
            });
            prev = hash;
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(
            first_break(&chain(&["a", "b", "c"]), GENESIS_HASH.into(), 1),
            None
        );
    }

    #[test]
    fn an_edited_entry_is_located() {
        let mut entries = chain(&["a", "b", "c"]);
        entries[1].record.outcome = Outcome::Denied;
        assert_eq!(first_break(&entries, GENESIS_HASH.into(), 1), Some(2));
    }

    #[test]
    fn a_deleted_entry_is_located() {
        let mut entries = chain(&["a", "b", "c"]);
        entries.remove(1);
        assert_eq!(first_break(&entries, GENESIS_HASH.into(), 1), Some(2));
    }

    #[test]
    fn linked_entries_chain_and_checkpoint_like_appends() {
        let keys = TokenKeys::new(
            &ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
            "liaison".into(),
            "liaison".into(),
            std::time::Duration::from_secs(60),
        )
        .unwrap();
        let start = chain(&["a", "b"]);
        let head = start.last().unwrap();
        let mut linker = ChainLinker::after(head.seq, head.hash.clone());
        let mut entries = start.clone();
        let mut checkpoints = Vec::new();
        for _ in 0..CHECKPOINT_EVERY {
            let (entry, checkpoint) = linker.link(&keys, record("m"));
            entries.push(entry);
            checkpoints.extend(checkpoint);
        }
        assert_eq!(first_break(&entries, GENESIS_HASH.into(), 1), None);
        assert_eq!(linker.head().0, CHECKPOINT_EVERY + 2);
        assert_eq!(checkpoints.len(), 1);
        let checkpoint = &checkpoints[0];
        let covered = &entries[CHECKPOINT_EVERY as usize - 1];
        assert_eq!(
            (checkpoint.seq, &checkpoint.hash, checkpoint.at),
            (covered.seq, &covered.hash, covered.record.at)
        );
        assert!(checkpoint.signature_is_valid(&keys));
    }

    const FROZEN_V1_HASH: &str = "98f9366d43c11c8908d517d282d80c68cae601b69cdeeb254c7859852e522775";

    /// The encoding is frozen: this hash was computed when v1 was written. If it changes, every stored
    /// chain stops verifying.
    #[test]
    fn the_v1_encoding_does_not_change() {
        assert_eq!(
            chain_hash(1, &record("liaison.v1.CaseService/GetCase"), GENESIS_HASH),
            FROZEN_V1_HASH
        );
        let mut with_event = record("liaison.v1.AuthService/Refresh");
        with_event.event = Some("refresh-token-reuse".into());
        let without = record("liaison.v1.AuthService/Refresh");
        assert_ne!(
            chain_hash(1, &with_event, GENESIS_HASH),
            chain_hash(1, &without, GENESIS_HASH)
        );
    }

    #[test]
    fn absent_and_empty_fields_encode_differently() {
        let mut a = record("m");
        let mut b = record("m");
        a.peer = None;
        b.peer = Some(String::new());
        assert_ne!(
            chain_hash(1, &a, GENESIS_HASH),
            chain_hash(1, &b, GENESIS_HASH)
        );
    }
}
