//! Verification of the audit chain: recompute every hash and link, check the sequence has no gaps,
//! check the head, and check every signed checkpoint against the entries. Editing, deleting,
//! inserting or reordering entries directly in the database is found and located, even with the
//! triggers dropped; deleting the newest entries and rewriting the head is found by the checkpoints
//! that covered them.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use crate::authn::jwt::TokenKeys;
use crate::chain::{Checkpoint, HashChecker, Signer, CHECKPOINT_EVERY, GENESIS_HASH};
use crate::error::AppResult;
use crate::repo::{self, Db};

/// Entries are checked in batches of this many; a batch with a finding is the last.
const BATCH: i64 = 10_000;

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

/// Verifies entries `from..=to` (default: the whole chain) and the checkpoints over them.
pub async fn verify(
    db: &Db,
    keys: &TokenKeys,
    from: Option<i64>,
    to: Option<i64>,
) -> AppResult<Report> {
    // One snapshot for the whole check, on a reader: the writer goes on meanwhile.
    let tx = db.begin_read().await?;
    let (head_seq, head_hash) = repo::audit::head(&tx).await?;
    let from = from.unwrap_or(1).max(1);
    let to = to.unwrap_or(head_seq).min(head_seq);
    let mut findings = Findings { first: None };

    let mut checkpoints: BTreeMap<i64, Checkpoint> = BTreeMap::new();
    let mut checkpoints_checked = 0;
    let stored = repo::audit::checkpoints_from(&tx, from).await?;
    // A checkpoint commits with the entries it covers, so one beyond the head as read again now
    // (after the checkpoints) means entries were removed; one between the two reads is a
    // concurrent append.
    let (head_now, _) = repo::audit::head(&tx).await?;
    for checkpoint in stored {
        if checkpoint.seq > head_now {
            findings.bad(
                head_now + 1,
                format!(
                    "checkpoint {} covers entries beyond the head {head_now}: entries were deleted",
                    checkpoint.seq
                ),
            );
        } else if checkpoint.seq <= to {
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
            checkpoints.insert(checkpoint.seq, checkpoint);
        }
    }

    // Every 1,000th entry is checkpointed in its own transaction: a missing one was deleted.
    let first_due = from.div_euclid(CHECKPOINT_EVERY).max(1) * CHECKPOINT_EVERY;
    for seq in (first_due..=to).step_by(CHECKPOINT_EVERY as usize) {
        if seq >= from && !checkpoints.contains_key(&seq) {
            findings.bad(
                seq,
                format!("the checkpoint of entry {seq} is missing: deleted"),
            );
            break;
        }
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
    // From here on every entry must carry the service's MAC: an entry written with database
    // credentials alone cannot.
    let mac_start = repo::audit::mac_start(&tx).await?;
    let mut expected = from;
    let mut checked = 0i64;
    let mut hashes = HashChecker::default();
    repo::audit::scan(&tx, from, to, |entry| {
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
        if let Some(checkpoint) = checkpoints.get(&entry.seq) {
            if checkpoint.hash != entry.hash {
                findings.bad(
                    entry.seq,
                    format!("entry {} differs from the signed checkpoint", entry.seq),
                );
            }
        }
        prev_hash.clear();
        prev_hash.push_str(entry.hash);
        expected = entry.seq + 1;
        checked += 1;
        // Whole batches are checked, then the first finding is reported.
        if checked % BATCH == 0 && findings.first.is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await?;
    if findings.first.is_none() && expected <= to {
        findings.bad(
            expected,
            format!("entries {expected} to {to} are missing: deleted"),
        );
    }
    if findings.first.is_none() && to == head_seq {
        if head_seq > 0 && prev_hash != head_hash {
            findings.bad(
                head_seq,
                "the head does not match the last entry".to_string(),
            );
        }
        // An entry commits together with the head that counts it, so reading the last entry
        // before the head again cannot mistake a concurrent append for an insertion.
        let last = repo::audit::last_seq(&tx).await?;
        let (head_now, _) = repo::audit::head(&tx).await?;
        if last > head_now {
            findings.bad(
                last,
                format!("entry {last} lies beyond the head {head_now}: inserted"),
            );
        }
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
    let mut report = verify(db, keys, Some(checkpoint.seq), None).await?;
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
