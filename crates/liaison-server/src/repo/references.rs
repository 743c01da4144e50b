//! Case reference numbers: per channel and year, `1, 2, 3, …`, unique across every server, and
//! taken without a row that every filing of the channel holds until it commits.
//!
//! The channel's counter row (`case_counters`) is moved in a statement of its own, committed at
//! once, that reserves a *block* of numbers for this server; filings then take numbers from the
//! block in memory. A filing waits at most for that one short statement, never for another
//! filing's commit. The block is one number while filings are far apart (so a quiet channel's
//! references stay dense) and doubles, up to [`MAX_BLOCK`], while they come faster than a block
//! a second, so a busy channel touches the row seldom.
//!
//! What this gives up: a number taken by a filing that then fails, or left in a block when its
//! server stops, is never used (references are unique, not gap-free), and two servers' filings
//! interleave their blocks (references follow filing order only roughly). SQLite has one writer,
//! so there the counter is moved in the filing's own transaction as before and stays gap-free.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DbBackend};

use super::{Db, Tx};
use crate::error::{AppError, AppResult};
use crate::model::ChannelId;

/// The most numbers one reservation takes.
pub const MAX_BLOCK: i64 = 64;

/// A block used up faster than this was too small: the next is twice as large.
const BUSY: Duration = Duration::from_secs(1);

/// The numbers this server holds for one channel and year: `next..=last`.
#[derive(Debug)]
struct Block {
    next: i64,
    last: i64,
    size: i64,
    reserved: Instant,
}

impl Block {
    /// The size of the block to reserve after this one.
    fn next_size(&self) -> i64 {
        if self.reserved.elapsed() < BUSY {
            (self.size * 2).min(MAX_BLOCK)
        } else {
            1
        }
    }
}

type Key = (ChannelId, i32);

/// This server's blocks of reference numbers, one per channel and year it filed on.
#[derive(Debug, Default)]
pub struct ReferenceNumbers {
    blocks: Mutex<HashMap<Key, Arc<tokio::sync::Mutex<Option<Block>>>>>,
}

impl ReferenceNumbers {
    /// The next reference number of `channel_id` in `year`, for a filing in `tx`.
    pub async fn next(
        &self,
        db: &Db,
        tx: &Tx,
        channel_id: &ChannelId,
        year: i32,
    ) -> AppResult<i64> {
        if tx.backend() != DbBackend::Postgres {
            return reserve(&tx.txn, channel_id, year, 1).await;
        }
        let slot = {
            let mut blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(blocks.entry((channel_id.clone(), year)).or_default())
        };
        // Filings of this server on this channel wait here only while one of them reserves.
        let mut slot = slot.lock().await;
        if let Some(block) = slot.as_mut().filter(|b| b.next <= b.last) {
            block.next += 1;
            return Ok(block.next - 1);
        }
        let size = slot.as_ref().map_or(1, Block::next_size);
        let last = reserve(&db.beside, channel_id, year, size).await?;
        *slot = Some(Block {
            next: last - size + 2,
            last,
            size,
            reserved: Instant::now(),
        });
        Ok(last - size + 1)
    }
}

/// Moves the channel's counter on by `size` on `conn` and answers the last number reserved:
/// the block is `last - size + 1 ..= last`.
async fn reserve(
    conn: &impl ConnectionTrait,
    channel_id: &ChannelId,
    year: i32,
    size: i64,
) -> AppResult<i64> {
    let table = Alias::new("case_counters");
    let last_seq = Alias::new("last_seq");
    let insert = Query::insert()
        .into_table(table.clone())
        .columns([
            Alias::new("channel_id"),
            Alias::new("year"),
            last_seq.clone(),
        ])
        .values([channel_id.as_str().into(), year.into(), size.into()])
        .map_err(AppError::internal)?
        .on_conflict(
            OnConflict::columns([Alias::new("channel_id"), Alias::new("year")])
                .value(
                    last_seq.clone(),
                    Expr::col((table, last_seq.clone())).add(size),
                )
                .to_owned(),
        )
        .returning_col(last_seq)
        .to_owned();
    let row = conn
        .query_one(conn.get_database_backend().build(&insert))
        .await?
        .ok_or_else(|| AppError::internal("reference counter returned no row"))?;
    Ok(row.try_get::<i64>("", "last_seq")?)
}
