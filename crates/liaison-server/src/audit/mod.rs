//! The audit log over the repository: a call's record enters the intake inside the call's
//! transaction ([`append`]); the [`seal::Sealer`] chains committed records into entries and signs
//! every batch; [`verify`] checks the whole. What an entry is and how it is chained is
//! [`crate::chain`].

pub mod refusals;
pub mod seal;
pub mod verify;

use crate::authn::jwt::TokenKeys;
use crate::chain::{intake_digest, AuditRecord, Checkpoint, Signer};
use crate::error::AppResult;
use crate::model::Timestamp;
use crate::repo::{self, Db, Tx};

/// Puts `record` into the intake in the caller's transaction, with the service's MAC over it: it
/// commits or rolls back with the change it describes, and waits for no other call. Answers its
/// intake number; the sealer gives it its place in the chain after it commits.
pub async fn append(tx: &Tx, keys: &TokenKeys, record: AuditRecord) -> AppResult<i64> {
    let mac = keys.entry_mac(&intake_digest(&record));
    repo::audit::insert_intake(tx, &record, mac).await
}

/// Seals every record waiting in the intake (taking turns with other servers' sealers) and makes
/// sure the head is signed; answers the newest checkpoint. For one-shot commands, tests and a
/// server's shutdown: a running server's sealer does this all along.
pub async fn checkpoint_head(
    db: &Db,
    keys: &TokenKeys,
    now: Timestamp,
) -> AppResult<Option<Checkpoint>> {
    let sealer = seal::Sealer::default();
    let started = std::time::Instant::now();
    loop {
        match sealer.seal(db, keys, now, true).await? {
            Some(batch) if batch.entries + batch.rejected < seal::BATCH_LIMIT as usize => break,
            Some(_) => {}
            // Another server is sealing: its batch is signed too.
            None if started.elapsed() > std::time::Duration::from_secs(5) => break,
            None => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
        }
    }
    let tx = db.begin_read().await?;
    repo::audit::latest_checkpoint(&tx).await
}
