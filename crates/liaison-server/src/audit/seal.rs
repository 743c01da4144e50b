//! The sealer: where records become entries of the chain.
//!
//! Calls put their records into the intake in their own transactions and wait for nobody. A seal
//! takes what has committed there, in intake order, in one transaction of its own:
//!
//! 1. its turn: one seal at a time across every server (PostgreSQL: a transaction-scoped advisory
//!    lock, so a sealer that dies mid-batch hands over the moment its connection goes; SQLite: the
//!    one writer);
//! 2. the records, removed from the intake; one whose MAC is not the service's was not written by
//!    the service and is set aside as rejected, never chained;
//! 3. the head (the newest entry), and the dense sequence numbers after it, the chain hashes and
//!    the entries' MACs;
//! 4. the case events those calls recorded, stamped with their entries' sequence numbers (a
//!    watcher sees an event only then, so WatchCases stays in one order across servers);
//! 5. a signed checkpoint of the batch's last entry: nothing sealed is ever unsigned.
//!
//! A server also remembers the newest head it has seen. A head found lower than that (the newest
//! entries deleted, their checkpoints with them) is not chained onto: the seal signs a checkpoint
//! of the head it remembers and goes on from there, so the deletion stays visible to
//! verification however well the remaining rows agree.

use std::time::Duration;

use chrono::TimeDelta;

use crate::authn::jwt::TokenKeys;
use crate::chain::{chain_hash, intake_digest, AuditEntry, Checkpoint, Signer};
use crate::clock::Clock;
use crate::error::AppResult;
use crate::model::Timestamp;
use crate::repo::audit::BatchTimes;
use crate::repo::{self, Db};
use crate::sync::lock;

/// The most records one seal takes.
pub const BATCH_LIMIT: u64 = 1000;

/// How long [`Sealer::settle`] waits for other servers' seals before it answers anyway.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// What one seal did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// Entries appended.
    pub entries: usize,
    /// Records refused because their MAC did not check.
    pub rejected: usize,
    /// The head after the seal.
    pub head: i64,
    /// Case events stamped: watchers have something new.
    pub events: u64,
    /// How long each sealed record waited, from its call's time to its seal.
    pub lags: Vec<Duration>,
    /// The head this server remembered, when the stored head was found below it.
    pub witnessed_truncation: Option<i64>,
    /// The head this server sealed, when the checkpoint over it was found gone.
    pub missing_checkpoint: Option<i64>,
}

/// Seals for this server: the newest head it has seen and a wake-up for new records.
#[derive(Debug, Default)]
pub struct Sealer {
    seen: std::sync::Mutex<Option<(i64, String)>>,
    /// The head whose missing checkpoint was last reported, so the log says it once.
    reported_missing: std::sync::atomic::AtomicI64,
    wake: tokio::sync::Notify,
}

impl Sealer {
    /// Tells the sealer records committed.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Waits for [`Sealer::wake`], at most `timeout`: whether it was woken.
    pub async fn woken(&self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.wake.notified())
            .await
            .is_ok()
    }

    /// Seals one batch: `None` when another server's seal holds the turn, or when there was
    /// nothing to seal and `check_head` is false.
    pub async fn seal(
        &self,
        db: &Db,
        keys: &TokenKeys,
        now: Timestamp,
        check_head: bool,
    ) -> AppResult<Option<Batch>> {
        self.seal_known(db, keys, now, check_head, false).await
    }

    /// [`Sealer::seal`], told whether records are known to be waiting (this server's calls woke
    /// it), so that it need not look first.
    pub async fn seal_known(
        &self,
        db: &Db,
        keys: &TokenKeys,
        now: Timestamp,
        check_head: bool,
        waiting: bool,
    ) -> AppResult<Option<Batch>> {
        // A look on a reader first: an idle poll takes no writer (SQLite's one, which another
        // process may want) and no lock.
        if !check_head && !waiting {
            let tx = db.begin_read().await?;
            if repo::audit::newest_intake(&tx).await? == 0 {
                return Ok(None);
            }
        }
        let tx = db.begin().await?;
        if !repo::audit::take_seal_turn(&tx).await? {
            return Ok(None);
        }
        let records = repo::audit::take_intake(&tx, BATCH_LIMIT).await?;
        if records.is_empty() && !check_head {
            return Ok(None);
        }
        let (mut seq, mut hash) = repo::audit::head(&tx).await?;
        let latest = repo::audit::latest_checkpoint(&tx).await?;
        let remembered = lock(&self.seen).clone();
        let mut batch = Batch::default();
        if let Some((seen_seq, seen_hash)) = remembered.clone() {
            if seen_seq > seq {
                tracing::error!(
                    stored_head = seq,
                    remembered_head = seen_seq,
                    "the audit chain is shorter than this server saw it: its newest entries were \
                     deleted; sealing goes on from the remembered head"
                );
                batch.witnessed_truncation = Some(seen_seq);
                (seq, hash) = (seen_seq, seen_hash);
            }
        }
        // Checkpoint times rise with their sequence numbers, whatever the servers' clocks say,
        // and are never before an entry they cover (a record may have committed after `now` was
        // read, or on a server whose clock is ahead): a time range relies on both.
        let newest_record = records.iter().map(|r| r.record.at).max();
        let sealed_at = [latest.as_ref().map(|c| c.at), newest_record]
            .into_iter()
            .flatten()
            .fold(now, Timestamp::max);

        let mut entries = Vec::with_capacity(records.len());
        let mut sealed = Vec::with_capacity(records.len());
        for intake in records {
            if !keys.entry_mac_is_valid(&intake_digest(&intake.record), &intake.mac) {
                tracing::error!(
                    intake_id = intake.id,
                    method = %intake.record.method,
                    "refused an audit record without a valid MAC of the service's: written with \
                     database access, not by the service"
                );
                repo::audit::reject_intake(&tx, &intake, "no valid MAC of the service's", now)
                    .await?;
                batch.rejected += 1;
                continue;
            }
            seq += 1;
            let entry_hash = chain_hash(seq, &intake.record, &hash);
            let mac = Some(keys.entry_mac(&entry_hash));
            let prev_hash = std::mem::replace(&mut hash, entry_hash.clone());
            batch.lags.push(
                (now - intake.record.at)
                    .max(TimeDelta::zero())
                    .to_std()
                    .unwrap_or_default(),
            );
            sealed.push((intake.id, seq));
            entries.push(AuditEntry {
                seq,
                record: intake.record,
                prev_hash,
                hash: entry_hash,
                mac,
            });
        }
        repo::audit::insert_entries(&tx, &entries).await?;
        batch.events = repo::audit::stamp_events(&tx, &sealed).await?;
        if batch.events > 0 {
            repo::cases::announce_events(&tx, seq).await?;
        }
        let covered = latest.as_ref().is_some_and(|c| c.seq >= seq);
        // A head this server sealed last, with nothing new, had its checkpoint: if none covers it
        // now, it was deleted with database access. Signing it again would hide that; verification
        // reports the head as unsigned instead. (A head this server never saw, left by a bulk load
        // or an older version, is signed.)
        let signed_before = entries.is_empty() && remembered.as_ref() == Some(&(seq, hash.clone()));
        if seq > 0 && !covered {
            if signed_before {
                let reported = self
                    .reported_missing
                    .swap(seq, std::sync::atomic::Ordering::SeqCst);
                if reported != seq {
                    tracing::error!(
                        head = seq,
                        "the checkpoint over the chain's head is gone: deleted with database \
                         access; it is not signed again, so verification reports it"
                    );
                }
                batch.missing_checkpoint = Some(seq);
            } else {
                let checkpoint = Checkpoint::sign(keys, seq, &hash, sealed_at);
                let oldest = entries.iter().map(|e| e.record.at).min();
                let times = oldest.map(|at| BatchTimes::new(at, sealed_at));
                repo::audit::insert_checkpoint(&tx, &checkpoint, times).await?;
            }
        }
        tx.commit().await?;
        batch.entries = entries.len();
        batch.head = seq;
        *lock(&self.seen) = Some((seq, hash));
        Ok(Some(batch))
    }

    /// Seals until every record committed before this call is sealed, by this server or another;
    /// what auditors read after it includes their own and everyone's earlier calls. Gives up after
    /// a few seconds (a stopped sealer elsewhere is verification's to report) and answers whether
    /// everything was sealed.
    pub async fn settle(&self, db: &Db, keys: &TokenKeys, clock: &dyn Clock) -> AppResult<bool> {
        let started = std::time::Instant::now();
        let upto = {
            let tx = db.begin_read().await?;
            repo::audit::newest_intake(&tx).await?
        };
        // An empty intake has nothing committed earlier to wait for.
        if upto == 0 {
            return Ok(true);
        }
        loop {
            self.seal(db, keys, clock.now(), false).await?;
            let waiting = {
                let tx = db.begin_read().await?;
                repo::audit::waiting_upto(&tx, upto).await?
            };
            if !waiting {
                return Ok(true);
            }
            if started.elapsed() > SETTLE_LIMIT {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
