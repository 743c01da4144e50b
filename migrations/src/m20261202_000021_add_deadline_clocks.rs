//! The answer's clock of a REQUEST or PRESERVATION beside the acknowledgement's: the windows
//! fixed at filing, the deadline as it stands, the pause while the case awaits information, the
//! stop at the answer, the extensions (one JSON array, read with the case), and the marks that
//! make each DUE_SOON and BREACHED happen once however many servers run. Events say which clock
//! they concern, the deadline after them, and an extension's reason.
//!
//! Cases from before keep no answer's clock (none was agreed when they were filed); those still
//! FILED get the acknowledgement's DUE_SOON time, at 75 % of their priority's window.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    AcknowledgeWithin,
    AcknowledgeWarnAt,
    AcknowledgeDueSoonAt,
    DueSoonPercent,
    ResponseWithin,
    ResponseDueAt,
    ResponseWarnAt,
    ResponsePausedSince,
    ResponsePaused,
    ResponseStoppedAt,
    ResponseExtensions,
    ResponseDueSoonAt,
    ResponseBreachedAt,
}

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    Clock,
    DueAt,
    ExtensionReason,
}

const HOUR: i64 = 3_600_000_000;

/// The timers' queries, each a partial index over the cases it can still fire on, in time order.
const INDEXES: [&str; 3] = [
    "CREATE INDEX idx_cases_acknowledge_warn ON cases (acknowledge_warn_at) \
     WHERE status = 1 AND acknowledge_due_soon_at IS NULL",
    "CREATE INDEX idx_cases_response_warn ON cases (response_warn_at) \
     WHERE response_due_soon_at IS NULL AND response_warn_at IS NOT NULL",
    "CREATE INDEX idx_cases_response_due ON cases (response_due_at) \
     WHERE response_breached_at IS NULL AND response_warn_at IS NOT NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let optional = |c: Cases| ColumnDef::new(c).big_integer().null().to_owned();
        // SQLite adds one column a statement.
        for column in [
            optional(Cases::AcknowledgeWithin),
            optional(Cases::AcknowledgeWarnAt),
            optional(Cases::AcknowledgeDueSoonAt),
            ColumnDef::new(Cases::DueSoonPercent)
                .small_integer()
                .null()
                .to_owned(),
            optional(Cases::ResponseWithin),
            optional(Cases::ResponseDueAt),
            optional(Cases::ResponseWarnAt),
            optional(Cases::ResponsePausedSince),
            ColumnDef::new(Cases::ResponsePaused)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
            optional(Cases::ResponseStoppedAt),
            ColumnDef::new(Cases::ResponseExtensions)
                .text()
                .null()
                .to_owned(),
            optional(Cases::ResponseDueSoonAt),
            optional(Cases::ResponseBreachedAt),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Cases::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            ColumnDef::new(CaseEvents::Clock)
                .small_integer()
                .null()
                .to_owned(),
            ColumnDef::new(CaseEvents::DueAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(CaseEvents::ExtensionReason)
                .small_integer()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CaseEvents::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        // A quarter of 72, 24 and 4 hours before the deadline, for ROUTINE, PRIORITY and URGENT.
        db.execute_unprepared(&format!(
            "UPDATE cases SET acknowledge_warn_at = acknowledge_due_at - CASE priority \
             WHEN 3 THEN {} WHEN 2 THEN {} ELSE {} END \
             WHERE status = 1 AND released_at IS NOT NULL",
            HOUR,
            6 * HOUR,
            18 * HOUR
        ))
        .await?;
        for index in INDEXES {
            db.execute_unprepared(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for index in [
            "idx_cases_acknowledge_warn",
            "idx_cases_response_warn",
            "idx_cases_response_due",
        ] {
            db.execute_unprepared(&format!("DROP INDEX {index}"))
                .await?;
        }
        for column in [
            CaseEvents::Clock,
            CaseEvents::DueAt,
            CaseEvents::ExtensionReason,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(CaseEvents::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            Cases::AcknowledgeWithin,
            Cases::AcknowledgeWarnAt,
            Cases::AcknowledgeDueSoonAt,
            Cases::DueSoonPercent,
            Cases::ResponseWithin,
            Cases::ResponseDueAt,
            Cases::ResponseWarnAt,
            Cases::ResponsePausedSince,
            Cases::ResponsePaused,
            Cases::ResponseStoppedAt,
            Cases::ResponseExtensions,
            Cases::ResponseDueSoonAt,
            Cases::ResponseBreachedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Cases::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
