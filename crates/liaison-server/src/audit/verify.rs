//! Verification of the audit chain: recompute every hash and link, check the sequence has no gaps,
//! check every entry's MAC, and check every signed checkpoint against the entries. Editing,
//! deleting, inserting or reordering entries directly in the database is found and located, even
//! with the triggers dropped. Nothing may stay unsigned: from the seal start on, the newest entry
//! must be covered by a checkpoint (every seal signs its batch), and a record waiting in the intake
//! longer than [`SEAL_BOUND`] is a stalled or stopped sealer, reported as such. Records the sealer
//! refused (no valid MAC) are reported too.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::authn::jwt::TokenKeys;
use crate::chain::{Checkpoint, HashChecker, Signer, CHECKPOINT_EVERY, GENESIS_HASH};
use crate::error::AppResult;
use crate::model::Timestamp;
use crate::repo::audit::{BatchTimes, StoredCheckpoint};
use crate::repo::{self, Db};

/// How long a committed record may wait in the intake before verification calls the sealer
/// stalled. A running sealer takes records within milliseconds; this leaves room for a takeover
/// and a busy database.
pub const SEAL_BOUND: chrono::TimeDelta = chrono::TimeDelta::seconds(10);

/// What verification found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub ok: bool,
    pub entries_checked: i64,
    pub checkpoints_checked: i64,
    /// The first sequence number at which something is wrong.
    pub first_bad_seq: Option<i64>,
    /// What is wrong there.
    pub problem: Option<String>,
    /// The head of the chain when verification started.
    pub head_seq: i64,
}

struct Findings {
    first: Option<(i64, String)>,
}

impl Findings {
    fn bad(&mut self, seq: i64, problem: String) {
        if self.first.as_ref().is_none_or(|(first, _)| seq < *first) {
            self.first = Some((seq, problem));
        }
    }
}

/// Entries are read, and the checkpoints over them loaded, this many sequence numbers at a time:
/// memory stays bounded however many batches were signed.
const CHUNK: i64 = 10_000;

/// Verifies entries `from..=to` (default: the whole chain) and the checkpoints over them, as of
/// `now` (which the intake's waiting records are judged against).
pub async fn verify(
    db: &Db,
    keys: &TokenKeys,
    now: Timestamp,
    from: Option<i64>,
    to: Option<i64>,
) -> AppResult<Report> {
    // On a reader: the writer goes on meanwhile.
    let tx = db.begin_read().await?;
    let (head_seq, _) = repo::audit::head(&tx).await?;
    let from = from.unwrap_or(1).max(1);
    let to = to.unwrap_or(head_seq).min(head_seq);
    let mut findings = Findings { first: None };
    let seal_start = repo::audit::seal_start(&tx).await?;
    let mac_start = repo::audit::mac_start(&tx).await?;

    // A checkpoint commits with the entries it covers, so one beyond the head as read again now
    // (after the checkpoints) means entries were removed; one between the two reads is a
    // concurrent seal.
    let beyond = repo::audit::checkpoints_from(&tx, head_seq + 1).await?;
    let (head_now, _) = repo::audit::head(&tx).await?;
    if let Some(checkpoint) = beyond.iter().find(|c| c.seq > head_now) {
        findings.bad(
            head_now + 1,
            format!(
                "checkpoint {} covers entries beyond the head {head_now}: entries were deleted",
                checkpoint.seq
            ),
        );
    }
    let mut prev_hash = if from == 1 {
        GENESIS_HASH.to_string()
    } else {
        match repo::audit::entry(&tx, from - 1).await? {
            Some(entry) => entry.hash,
            None => {
                findings.bad(from - 1, format!("entry {} is missing", from - 1));
                String::new()
            }
        }
    };
    let mut expected = from;
    let mut checked = 0i64;
    let mut checkpoints_checked = 0;
    let mut hashes = HashChecker::default();
    let mut chunk_from = from;
    // The oldest time in the batch read so far, and whether its start was read (its checkpoint's
    // note can be checked only then).
    let mut batch_oldest: Option<i64> = None;
    let mut batch_whole = from == 1 && seal_start <= 1;
    while chunk_from <= to {
        let chunk_to = chunk_from.saturating_add(CHUNK - 1).min(to);
        let mut checkpoints: BTreeMap<i64, StoredCheckpoint> = BTreeMap::new();
        for stored in repo::audit::checkpoints_between(&tx, chunk_from, chunk_to).await? {
            let checkpoint = &stored.checkpoint;
            checkpoints_checked += 1;
            if !checkpoint.signature_is_valid(keys) {
                findings.bad(
                    checkpoint.seq,
                    format!(
                        "checkpoint {} has a bad signature or an unknown key",
                        checkpoint.seq
                    ),
                );
            }
            checkpoints.insert(checkpoint.seq, stored);
        }
        // Before the sealer, every 1,000th entry was checkpointed in its own transaction: a
        // missing one was deleted.
        let first_due =
            (chunk_from + CHECKPOINT_EVERY - 1).div_euclid(CHECKPOINT_EVERY) * CHECKPOINT_EVERY;
        let last_due = chunk_to.min(seal_start - 1);
        if let Some(seq) = (first_due..=last_due)
            .step_by(CHECKPOINT_EVERY as usize)
            .find(|seq| !checkpoints.contains_key(seq))
        {
            findings.bad(
                seq,
                format!("the checkpoint of entry {seq} is missing: deleted"),
            );
        }
        // From the MAC start on, every entry must carry the service's MAC: an entry written with
        // database credentials alone cannot.
        repo::audit::scan(&tx, chunk_from, chunk_to, |entry| {
            if entry.seq != expected {
                findings.bad(
                    expected,
                    format!(
                        "entries {expected} to {} are missing: deleted",
                        entry.seq - 1
                    ),
                );
            } else if entry.prev_hash != prev_hash {
                findings.bad(
                    entry.seq,
                    format!(
                        "entry {} does not link to entry {}: inserted, reordered or rewritten",
                        entry.seq,
                        entry.seq - 1
                    ),
                );
            } else if !hashes.matches(entry.seq, &entry.record, entry.prev_hash, entry.hash) {
                findings.bad(
                    entry.seq,
                    format!("entry {} does not match its hash: edited", entry.seq),
                );
            } else if entry.seq >= mac_start
                && !entry
                    .mac
                    .is_some_and(|mac| keys.entry_mac_is_valid(entry.hash, mac))
            {
                findings.bad(
                    entry.seq,
                    format!(
                        "entry {} has no valid MAC of the service's: it was not written by the \
                         service (forged with database access)",
                        entry.seq
                    ),
                );
            }
            batch_oldest = Some(batch_oldest.map_or(entry.record.at_micros, |oldest: i64| {
                oldest.min(entry.record.at_micros)
            }));
            if let Some(stored) = checkpoints.get(&entry.seq) {
                if stored.checkpoint.hash != entry.hash {
                    findings.bad(
                        entry.seq,
                        format!("entry {} differs from the signed checkpoint", entry.seq),
                    );
                }
                // What the seal noted of its batch is what finds the batch by time: it must be
                // what the entries say.
                let noted = stored.oldest_at.map(|at| at.timestamp_micros());
                let expected_late = stored
                    .oldest_at
                    .is_some_and(|at| BatchTimes::new(at, stored.checkpoint.at).late);
                if batch_whole
                    && ((noted.is_some() && noted != batch_oldest) || stored.late != expected_late)
                {
                    findings.bad(
                        entry.seq,
                        format!(
                            "checkpoint {}'s note of its batch's times does not match the \
                             entries: edited, so a time range would miss entries",
                            entry.seq
                        ),
                    );
                }
                batch_oldest = None;
                // The next batch is all the sealer's own (before the seal start, entries were
                // checkpointed by another rule).
                batch_whole = entry.seq + 1 >= seal_start;
            }
            prev_hash.clear();
            prev_hash.push_str(entry.hash);
            expected = entry.seq + 1;
            checked += 1;
            ControlFlow::Continue(())
        })
        .await?;
        // Whole chunks are checked, then the first finding is reported.
        if findings.first.is_some() {
            break;
        }
        chunk_from = chunk_to + 1;
    }
    // From the seal start on every batch's last entry is checkpointed: the newest entry must be
    // covered, or entries after the last checkpoint were written without the sealer (or the
    // checkpoints that covered them were deleted).
    // (After the entries: at the same sequence number, what the entry itself shows is the finding.)
    let newest_checkpoint = repo::audit::latest_checkpoint(&tx)
        .await?
        .map_or(0, |c| c.seq);
    if to == head_seq && head_seq >= seal_start && newest_checkpoint < head_seq {
        let first = newest_checkpoint.max(seal_start - 1) + 1;
        findings.bad(
            first,
            format!(
                "entries {first} to {head_seq} are covered by no signed checkpoint: written \
                 without the sealer, or their checkpoints were deleted"
            ),
        );
    }
    for rejected in repo::audit::rejected(&tx, 1).await? {
        findings.bad(
            head_seq + 1,
            format!(
                "intake record {} ({} at {}) was refused by the sealer: {}; it was written with \
                 database access, not by the service",
                rejected.intake_id,
                rejected.method,
                rejected.at.to_rfc3339(),
                rejected.reason
            ),
        );
    }
    if let Some((id, method, at)) = repo::audit::waiting(&tx, 1).await?.into_iter().next() {
        if now - at > SEAL_BOUND {
            findings.bad(
                head_seq + 1,
                format!(
                    "intake record {id} ({method} at {}) has waited {} s to be sealed, longer \
                     than {} s: the sealer is stalled or stopped",
                    at.to_rfc3339(),
                    (now - at).num_seconds(),
                    SEAL_BOUND.num_seconds()
                ),
            );
        }
    }

    if findings.first.is_none() && expected <= to {
        findings.bad(
            expected,
            format!("entries {expected} to {to} are missing: deleted"),
        );
    }

    let (first_bad_seq, problem) = findings.first.unzip();
    Ok(Report {
        ok: first_bad_seq.is_none(),
        entries_checked: checked,
        checkpoints_checked,
        first_bad_seq,
        problem,
        head_seq,
    })
}

/// Proves that a checkpoint an auditor kept is still part of today's chain: its signature is ours,
/// the entry it names still has its hash, and the chain from there to the head is intact.
pub async fn verify_checkpoint(
    db: &Db,
    keys: &TokenKeys,
    now: Timestamp,
    checkpoint: &Checkpoint,
) -> AppResult<Report> {
    if !checkpoint.signature_is_valid(keys) {
        return Ok(Report {
            ok: false,
            entries_checked: 0,
            checkpoints_checked: 1,
            first_bad_seq: Some(checkpoint.seq),
            problem: Some(
                "the checkpoint's signature is not valid for any of the service's keys".into(),
            ),
            head_seq: 0,
        });
    }
    let mut report = verify(db, keys, now, Some(checkpoint.seq), None).await?;
    let tx = db.begin_read().await?;
    let entry = repo::audit::entry(&tx, checkpoint.seq).await?;
    if entry.as_ref().is_none_or(|e| e.hash != checkpoint.hash) {
        report.ok = false;
        report.first_bad_seq = Some(checkpoint.seq);
        report.problem = Some(format!(
            "entry {} no longer has the hash the checkpoint signed: history was rewritten",
            checkpoint.seq
        ));
    }
    Ok(report)
}
