//! The audit log over the repository: appending an entry inside the caller's transaction (with a
//! signed checkpoint every [`CHECKPOINT_EVERY`]th entry), the timer's checkpoint of the head, and
//! verification ([`verify`]). What an entry is and how it is chained is [`crate::chain`].

pub mod verify;

use crate::authn::jwt::TokenKeys;
use crate::chain::{AuditEntry, AuditRecord, Checkpoint, CHECKPOINT_EVERY};
use crate::error::AppResult;
use crate::model::Timestamp;
use crate::repo::{self, Db, Tx};

/// Appends `record` to the log in the caller's transaction: it commits or rolls back with the change
/// it describes.
pub async fn append(tx: &Tx, keys: &TokenKeys, record: AuditRecord) -> AppResult<AuditEntry> {
    let entry = repo::audit::append(tx, record, keys).await?;
    if entry.seq % CHECKPOINT_EVERY == 0 {
        let checkpoint = Checkpoint::sign(keys, entry.seq, &entry.hash, entry.record.at);
        repo::audit::insert_checkpoint(tx, &checkpoint).await?;
    }
    Ok(entry)
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
