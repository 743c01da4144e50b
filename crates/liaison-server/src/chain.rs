//! The audit chain, pure: what an entry holds, its canonical encoding, how entries are hashed and
//! linked, and the signed checkpoints over them. Each entry's `hash` is SHA-256 over a canonical,
//! versioned encoding of its fields and the previous entry's hash, so any edit, insertion, deletion
//! or reordering breaks the chain from that entry on. No I/O: the repository stores these values,
//! and `audit` appends and verifies them.

use sha2::{Digest, Sha256};

use crate::model::{Handling, Outcome, Roles, Timestamp};

/// What signs checkpoints and tags entries, and checks both: the service's keys, known by id. Its
/// key material lives beside the service (the key directory), never in the database.
pub trait Signer {
    /// Signs `message` with the current key: its key id and the signature, hex.
    fn sign(&self, message: &[u8]) -> (String, String);
    /// Whether `signature` (hex) is the key `kid`'s over `message`.
    fn verify_signature(&self, kid: &str, message: &[u8], signature: &str) -> bool;
    /// The entry MAC of `hash` with the current key: `<key id>:<hex>`.
    fn entry_mac(&self, hash: &str) -> String;
    /// Whether `mac` is a MAC of `hash` by one of the service's keys.
    fn entry_mac_is_valid(&self, hash: &str, mac: &str) -> bool;
}

impl<S: Signer + ?Sized> Signer for std::sync::Arc<S> {
    fn sign(&self, message: &[u8]) -> (String, String) {
        S::sign(self, message)
    }

    fn verify_signature(&self, kid: &str, message: &[u8], signature: &str) -> bool {
        S::verify_signature(self, kid, message, signature)
    }

    fn entry_mac(&self, hash: &str) -> String {
        S::entry_mac(self, hash)
    }

    fn entry_mac_is_valid(&self, hash: &str, mac: &str) -> bool {
        S::entry_mac_is_valid(self, hash, mac)
    }
}

/// Before the sealer, a checkpoint was signed with every entry whose sequence number is a multiple
/// of this (and by a timer once a minute); verification holds entries before the seal start to
/// that rule. Bulk loads still sign at this stride, and at their last entry.
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
    /// For a summary of refusals before authentication: how many calls it counts, since when
    /// (`at` is the last one's time). `None` for an entry of one call.
    pub refusals: Option<Refusals>,
    /// The handling code in force on what the call read or changed (the strictest, when it read
    /// several things): so an auditor can ask who read H2 material. `None` when the call touched
    /// no marked content, and on entries written before markings existed.
    pub handling: Option<Handling>,
}

/// How many refused calls a summary entry counts, and the first one's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusals {
    pub count: i64,
    pub first_at: Timestamp,
}

/// A stored entry: the record, its place in the log and its link in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub record: AuditRecord,
    pub prev_hash: String,
    pub hash: String,
    /// The service's MAC over `hash` (see [`Signer::entry_mac`]); none on entries written before
    /// entries carried one.
    pub mac: Option<String>,
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
            "refusals": r.refusals.map(|c| c.count),
            "first_refused_time": r.refusals.map(|c| c.first_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
            "handling": r.handling.map(Handling::as_str),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
            "mac": self.mac,
        })
    }
}

/// An audit record's fields as the canonical encoding takes them, borrowed: from an
/// [`AuditRecord`], or straight from a stored row while verifying.
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    pub at_micros: i64,
    pub actor_id: Option<&'a str>,
    pub actor_username: Option<&'a str>,
    pub actor_agency_id: Option<&'a str>,
    pub actor_roles: i32,
    pub method: &'a str,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub case_id: Option<&'a str>,
    pub case_originating_agency_id: Option<&'a str>,
    pub case_receiving_agency_id: Option<&'a str>,
    pub outcome: i16,
    pub status_code: i32,
    pub request_id: &'a str,
    pub peer: Option<&'a str>,
    pub event: Option<&'a str>,
    /// A summary's count and first time (microseconds).
    pub refusals: Option<(i64, i64)>,
    /// The handling code's number.
    pub handling: Option<i16>,
}

impl AuditRecord {
    pub fn view(&self) -> RecordView<'_> {
        RecordView {
            at_micros: self.at.timestamp_micros(),
            actor_id: self.actor_id.as_deref(),
            actor_username: self.actor_username.as_deref(),
            actor_agency_id: self.actor_agency_id.as_deref(),
            actor_roles: self.actor_roles.bits(),
            method: &self.method,
            target_type: self.target_type.as_deref(),
            target_id: self.target_id.as_deref(),
            case_id: self.case_id.as_deref(),
            case_originating_agency_id: self.case_originating_agency_id.as_deref(),
            case_receiving_agency_id: self.case_receiving_agency_id.as_deref(),
            outcome: self.outcome.code(),
            status_code: self.status_code,
            request_id: &self.request_id,
            peer: self.peer.as_deref(),
            event: self.event.as_deref(),
            refusals: self
                .refusals
                .map(|r| (r.count, r.first_at.timestamp_micros())),
            handling: self.handling.map(Handling::code),
        }
    }
}

/// Version 1 of the canonical encoding: a tag, then each field length-prefixed, absent fields
/// marked, integers big-endian. Never change it in place; add a version.
pub fn canonical_bytes(seq: i64, record: &AuditRecord, prev_hash: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    encode_canonical(&mut out, seq, &record.view(), prev_hash);
    out
}

/// Appends the [`canonical_bytes`] of a record to `out`, which callers hashing many entries reuse.
pub fn encode_canonical(out: &mut Vec<u8>, seq: i64, record: &RecordView<'_>, prev_hash: &str) {
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
    out.extend_from_slice(b"liaison.audit.v1\0");
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&record.at_micros.to_be_bytes());
    optional(out, record.actor_id);
    optional(out, record.actor_username);
    optional(out, record.actor_agency_id);
    out.extend_from_slice(&record.actor_roles.to_be_bytes());
    text(out, record.method);
    optional(out, record.target_type);
    optional(out, record.target_id);
    optional(out, record.case_id);
    optional(out, record.case_originating_agency_id);
    optional(out, record.case_receiving_agency_id);
    out.extend_from_slice(&record.outcome.to_be_bytes());
    out.extend_from_slice(&record.status_code.to_be_bytes());
    text(out, record.request_id);
    optional(out, record.peer);
    // Added after the first entries were written: present only when set, behind a tag (2) that no
    // field above starts with, so entries without an event hash exactly as they always did.
    if let Some(event) = record.event {
        out.push(2);
        out.extend_from_slice(&(event.len() as u32).to_be_bytes());
        out.extend_from_slice(event.as_bytes());
    }
    // Added with refusal summaries, the same way: only when set, behind a tag (3) of its own.
    if let Some((count, first_at)) = record.refusals {
        out.push(3);
        out.extend_from_slice(&count.to_be_bytes());
        out.extend_from_slice(&first_at.to_be_bytes());
    }
    // Added with markings, the same way: only when set, behind a tag (4) of its own.
    if let Some(handling) = record.handling {
        out.push(4);
        out.extend_from_slice(&handling.to_be_bytes());
    }
    text(out, prev_hash);
}

/// What the service MACs when a call puts its record into the intake (see [`Signer::entry_mac`]):
/// SHA-256 over the record's canonical encoding behind a tag of its own, so that an intake MAC
/// never passes for an entry's, hex. The sealer refuses a record whose MAC does not check.
pub fn intake_digest(record: &AuditRecord) -> String {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"liaison.intake.v1\0");
    encode_canonical(&mut out, 0, &record.view(), "");
    hex::encode(Sha256::digest(out))
}

/// The chain hash of an entry, lower-case hex.
pub fn chain_hash(seq: i64, record: &AuditRecord, prev_hash: &str) -> String {
    hex::encode(Sha256::digest(canonical_bytes(seq, record, prev_hash)))
}

/// Checks many entries' hashes without allocating for each: the encoding buffer is reused and the
/// digest compared to the stored hex in place.
#[derive(Debug, Default)]
pub struct HashChecker {
    buffer: Vec<u8>,
}

impl HashChecker {
    /// Whether `hash` (lower-case hex) is the chain hash of the entry.
    pub fn matches(
        &mut self,
        seq: i64,
        record: &RecordView<'_>,
        prev_hash: &str,
        hash: &str,
    ) -> bool {
        self.buffer.clear();
        encode_canonical(&mut self.buffer, seq, record, prev_hash);
        let digest = Sha256::digest(&self.buffer);
        let mut hex_digest = [0u8; 64];
        hex::encode_to_slice(digest, &mut hex_digest).is_ok() && hex_digest == hash.as_bytes()
    }
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
        keys: &impl Signer,
        record: AuditRecord,
    ) -> (AuditEntry, Option<Checkpoint>) {
        let seq = self.seq + 1;
        let hash = chain_hash(seq, &record, &self.hash);
        let checkpoint =
            (seq % CHECKPOINT_EVERY == 0).then(|| Checkpoint::sign(keys, seq, &hash, record.at));
        let prev_hash = std::mem::replace(&mut self.hash, hash.clone());
        self.seq = seq;
        let mac = Some(keys.entry_mac(&hash));
        (
            AuditEntry {
                seq,
                record,
                prev_hash,
                hash,
                mac,
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

    pub fn sign(keys: &impl Signer, seq: i64, hash: &str, at: Timestamp) -> Checkpoint {
        let (kid, signature) = keys.sign(&Checkpoint::message(seq, hash, at));
        Checkpoint {
            seq,
            hash: hash.to_string(),
            at,
            kid,
            signature,
        }
    }

    pub fn signature_is_valid(&self, keys: &impl Signer) -> bool {
        keys.verify_signature(
            &self.kid,
            &Checkpoint::message(self.seq, &self.hash, self.at),
            &self.signature,
        )
    }
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
    use crate::authn::jwt::TokenKeys;

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
            refusals: None,
            handling: None,
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
                mac: None,
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

    #[test]
    fn the_checker_agrees_with_chain_hash() {
        let mut checker = HashChecker::default();
        let mut with_event = record("liaison.v1.AuthService/Refresh");
        with_event.event = Some("refresh-token-reuse".into());
        for r in [record("liaison.v1.CaseService/GetCase"), with_event] {
            let hash = chain_hash(7, &r, GENESIS_HASH);
            assert!(checker.matches(7, &r.view(), GENESIS_HASH, &hash));
            assert!(!checker.matches(8, &r.view(), GENESIS_HASH, &hash));
            assert!(!checker.matches(7, &r.view(), GENESIS_HASH, &hash.to_uppercase()));
            assert!(!checker.matches(7, &r.view(), GENESIS_HASH, &hash[..63]));
        }
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
    fn a_summary_hashes_its_count_and_first_time() {
        let one = record("liaison.v1.CaseService/GetCase");
        let mut summary = one.clone();
        summary.refusals = Some(Refusals {
            count: 7,
            first_at: one.at,
        });
        let mut more = summary.clone();
        more.refusals = Some(Refusals {
            count: 8,
            first_at: one.at,
        });
        let hashes = [&one, &summary, &more].map(|r| chain_hash(1, r, GENESIS_HASH));
        assert_ne!(hashes[0], hashes[1]);
        assert_ne!(hashes[1], hashes[2]);
        assert_eq!(hashes[0], FROZEN_V1_HASH);
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
