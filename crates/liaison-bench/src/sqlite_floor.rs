//! SQLite's floor for a call here: transactions of `statements` trivial statements (`SELECT 1`)
//! through the same driver and settings `liaisond` uses (sqlx, one connection, WAL, synchronous
//! NORMAL), from `concurrency` tasks. Every statement crosses to the connection's worker thread and
//! back; this measures what that alone costs, with no work in the statements.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::sqlx::{Executor, SqlitePool};

use crate::BenchResult;

/// Calls per second at most, if each call were `statements` statements and nothing else.
pub async fn measure(statements: usize, concurrency: usize, seconds: f64) -> BenchResult<f64> {
    let dir = std::env::temp_dir().join(format!("liaison-bench-floor-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let url = format!("sqlite://{}?mode=rwc", dir.join("floor.db").display());
    let options = SqliteConnectOptions::from_str(&url)
        .map_err(|e| e.to_string())?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let pool = pool.clone();
        tasks.spawn(async move { calls_until(&pool, statements, deadline).await });
    }
    let mut calls = 0u64;
    while let Some(done) = tasks.join_next().await {
        calls += done.map_err(|e| e.to_string())??;
    }
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(calls as f64 / seconds)
}

async fn calls_until(pool: &SqlitePool, statements: usize, deadline: Instant) -> BenchResult<u64> {
    let mut calls = 0;
    while Instant::now() < deadline {
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        // BEGIN and COMMIT are two of the statements.
        for _ in 0..statements.saturating_sub(2) {
            tx.execute("SELECT 1").await.map_err(|e| e.to_string())?;
        }
        tx.commit().await.map_err(|e| e.to_string())?;
        calls += 1;
    }
    Ok(calls)
}
