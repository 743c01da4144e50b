//! Persistence: sea-orm lives here and nowhere else. Rows are converted to `model` types on
//! the way out, and database-specific errors (constraint names, driver wording) become `AppError`s.

pub mod agencies;
pub mod audit;
pub mod cases;
pub mod channels;
mod entities;
pub mod moves;
pub mod people;
pub mod references;
pub mod role_changes;
#[cfg(feature = "seed")]
pub mod seed;
pub mod sessions;
pub mod stats;
pub mod terms;
pub mod users;

use std::str::FromStr;
use std::time::Duration;

use migration::MigratorTrait;
use sea_orm::sqlx::postgres::PgPoolOptions;
use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqlxPostgresConnector, SqlxSqliteConnector, TransactionTrait,
};

use crate::config::Config;
use crate::error::{AppError, AppResult};

/// The database: a pool of connections to SQLite or PostgreSQL.
#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    /// Where long reads run (verification, audit queries and exports). On PostgreSQL the same
    /// pool; on an SQLite file, connections of their own beside the one writer, so that in WAL mode
    /// an auditor's scan never holds the connection every call needs.
    readers: DatabaseConnection,
    /// Where statements that commit at once beside a call's transaction run (case reference
    /// blocks): on PostgreSQL a connection of its own, so that calls holding every connection of
    /// the pool never wait for one; on SQLite unused (the one writer does it in the call's
    /// transaction).
    beside: DatabaseConnection,
}

/// Sets `path`'s permission bits (Unix; elsewhere the platform's defaults stand).
fn private(path: &std::path::Path, mode: u32) -> AppResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
            AppError::internal(format!(
                "cannot restrict {} to mode {mode:o}: {e}",
                path.display()
            ))
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// The SQLite database holds case content: its file, and the WAL and shared-memory files SQLite
/// makes beside it with the same mode, are its owner's alone (0600). A new database file is
/// created so before SQLite opens it; an existing one is restricted at every start where the
/// service owns it.
fn private_database_files(database: &std::path::Path) -> AppResult<()> {
    if !database.exists() {
        let mut create = std::fs::OpenOptions::new();
        create.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            create.mode(0o600);
        }
        if let Err(e) = create.open(database) {
            if e.kind() != std::io::ErrorKind::AlreadyExists {
                return Err(AppError::internal(format!(
                    "cannot create the database {}: {e}",
                    database.display()
                )));
            }
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", database.display()));
        if file.exists() {
            // Someone else's file (a shared volume) cannot be restricted: say so and go on.
            if let Err(e) = private(&file, 0o600) {
                tracing::warn!(error = %e, "the database file stays as readable as it was");
            }
        }
    }
    Ok(())
}

/// Connections for long reads beside SQLite's one writer.
const SQLITE_READERS: u32 = 4;

impl Db {
    /// Connects to the configured database; for SQLite, creates the data directory and the file.
    pub async fn connect(config: &Config) -> AppResult<Db> {
        let url = config.database_url();
        let (conn, beside) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = |size: u32| {
                PgPoolOptions::new()
                    .max_connections(size)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect(&url)
            };
            let calls = pool(config.database_max_connections.max(1))
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
            let beside = pool(1)
                .await
                .map_err(|e| AppError::Unavailable(e.to_string()))?;
            (
                SqlxPostgresConnector::from_sqlx_postgres_pool(calls),
                SqlxPostgresConnector::from_sqlx_postgres_pool(beside),
            )
        } else if url.starts_with("sqlite:") {
            if config.database_url.is_none() {
                let new = !config.data_dir.exists();
                std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                    AppError::internal(format!(
                        "cannot create data directory {}: {e}",
                        config.data_dir.display()
                    ))
                })?;
                // A directory the operator made (a volume, a unit's StateDirectory) keeps its mode.
                if new {
                    private(&config.data_dir, 0o700)?;
                }
            }
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            let options = SqliteConnectOptions::from_str(&url)
                .map_err(|e| AppError::internal(format!("bad SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            // SQLite has one writer; one connection serialises transactions instead of failing
            // them with SQLITE_BUSY when a reader upgrades to a writer.
            if !in_memory {
                private_database_files(options.get_filename())?;
            }
            // SQLite says "unable to open database file" and no more: name the file and the usual
            // causes.
            let file = options.get_filename().display().to_string();
            let cannot_open = |e: sea_orm::sqlx::Error| {
                AppError::Unavailable(format!(
                    "cannot open the SQLite database {file}: {e}; check that its directory exists \
                     and that this user may create and write files in it (SQLite writes {file}-wal \
                     and {file}-shm beside it)"
                ))
            };
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                // Well inside the server's 30 s call timeout, so a queued call fails visibly.
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options.clone())
                .await
                .map_err(cannot_open)?;
            let writer = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
            // An in-memory database exists on its one connection only.
            if in_memory {
                return Ok(Db {
                    readers: writer.clone(),
                    beside: writer.clone(),
                    conn: writer,
                });
            }
            let readers = SqlitePoolOptions::new()
                .max_connections(SQLITE_READERS)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(cannot_open)?;
            return Ok(Db {
                beside: writer.clone(),
                conn: writer,
                readers: SqlxSqliteConnector::from_sqlx_sqlite_pool(readers),
            });
        } else {
            return Err(AppError::internal(
                "database URL must start with sqlite: or postgres://".to_string(),
            ));
        };
        Ok(Db {
            readers: conn.clone(),
            conn,
            beside,
        })
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> AppResult<()> {
        migration::Migrator::up(&self.conn, None).await?;
        Ok(())
    }

    /// Refuses a schema with migrations not yet applied (when the service may not apply them).
    pub async fn check_migrated(&self) -> AppResult<()> {
        // Read the migration table directly: the migrator's own status check first tries to create
        // it, which a role without DDL rights may not do.
        let applied: std::collections::HashSet<String> = self
            .conn
            .query_all(sea_orm::Statement::from_string(
                self.conn.get_database_backend(),
                "SELECT version FROM seaql_migrations",
            ))
            .await?
            .into_iter()
            .map(|row| row.try_get::<String>("", "version"))
            .collect::<Result<_, _>>()?;
        let pending: Vec<String> = migration::Migrator::migrations()
            .iter()
            .map(|m| m.name().to_string())
            .filter(|name| !applied.contains(name))
            .collect();
        if pending.is_empty() {
            Ok(())
        } else {
            Err(AppError::Unavailable(format!(
                "the database schema is {} migration(s) behind: run `liaisond migrate` as the schema owner",
                pending.len()
            )))
        }
    }

    pub async fn begin(&self) -> AppResult<Tx> {
        Ok(Tx {
            txn: self.conn.begin().await?,
        })
    }

    /// A transaction for a long read that writes nothing: on SQLite it runs on a reader
    /// connection, beside the writer, on a snapshot of what had committed when it began.
    pub async fn begin_read(&self) -> AppResult<Tx> {
        Ok(Tx {
            txn: self.readers.begin().await?,
        })
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.conn.ping().await.is_ok()
    }

    /// Connections open in the pool, and how many of them are idle.
    pub fn pool_stats(&self) -> (u32, usize) {
        match self.conn.get_database_backend() {
            DbBackend::Postgres => {
                let pool = self.conn.get_postgres_connection_pool();
                (pool.size(), pool.num_idle())
            }
            _ => {
                let pool = self.conn.get_sqlite_connection_pool();
                (pool.size(), pool.num_idle())
            }
        }
    }

    /// Follows the commits that recorded case events, on every server sharing this PostgreSQL:
    /// calls `on_commit(Some(seq))` for each, and `on_commit(None)` whenever notifications may
    /// have been missed (the listening connection was lost and is being re-made). Runs until its
    /// task is dropped. On SQLite there is one process and nothing to follow: returns at once.
    pub async fn follow_event_commits(&self, on_commit: impl Fn(Option<i64>) + Send) {
        if self.conn.get_database_backend() != DbBackend::Postgres {
            return;
        }
        let pool = self.conn.get_postgres_connection_pool();
        loop {
            let listening = async {
                let mut listener = sea_orm::sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(cases::EVENTS_CHANNEL).await?;
                on_commit(None);
                loop {
                    match listener.try_recv().await? {
                        Some(n) => on_commit(n.payload().parse().ok()),
                        // The connection was lost; the next receive reconnects.
                        None => on_commit(None),
                    }
                }
            };
            let result: Result<(), sea_orm::sqlx::Error> = listening.await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "lost the case-event notifications; listening again in 1 s");
            }
            on_commit(None);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    pub async fn close(self) {
        let _ = self.readers.close().await;
        let _ = self.beside.close().await;
        let _ = self.conn.close().await;
    }
}

/// One database transaction. Dropping it without `commit` rolls it back.
pub struct Tx {
    txn: DatabaseTransaction,
}

impl Tx {
    pub async fn commit(self) -> AppResult<()> {
        self.txn.commit().await?;
        Ok(())
    }

    fn backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }
}

/// Turns a unique-constraint violation into the client error `on_unique` builds.
trait UniqueExt<T> {
    fn on_unique(self, on_unique: impl FnOnce() -> AppError) -> AppResult<T>;
}

impl<T> UniqueExt<T> for Result<T, DbErr> {
    fn on_unique(self, on_unique: impl FnOnce() -> AppError) -> AppResult<T> {
        match self {
            Ok(value) => Ok(value),
            Err(err) => match err.sql_err() {
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => Err(on_unique()),
                _ => Err(err.into()),
            },
        }
    }
}

/// A text value from the database that must name one of a coded enum's values.
fn decode<T>(value: i64, from_code: impl Fn(i64) -> Option<T>, what: &'static str) -> AppResult<T> {
    from_code(value)
        .ok_or_else(|| AppError::internal(format!("unknown {what} code {value} in database")))
}

/// Database errors as the service answers them: unreachable or busy is UNAVAILABLE, anything else
/// INTERNAL. (Unique violations are mapped where they are expected, by `UniqueExt::on_unique`.)
impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        use sea_orm::sqlx;
        let unreachable = |e: &sqlx::Error| match e {
            sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Tls(_) => true,
            // SQLITE_BUSY and SQLITE_LOCKED: another process held the database past busy_timeout.
            sqlx::Error::Database(db) => {
                matches!(db.code().as_deref(), Some("5") | Some("6") | Some("517"))
            }
            _ => false,
        };
        match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => AppError::Unavailable(err.to_string()),
            DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
            | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e))
                if unreachable(e) =>
            {
                AppError::Unavailable(err.to_string())
            }
            _ => AppError::Internal(err.to_string()),
        }
    }
}
