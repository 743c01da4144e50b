//! Time ranges of the audit log found through the checkpoints: each checkpoint the sealer signs
//! also records the oldest time among the entries of its batch (`oldest_at`), and whether that
//! entry waited longer than the sealer's normal lag to be sealed (`late`, after an outage). A
//! checkpoint's time rises with its sequence number, so the index on `at` turns "recorded between
//! t1 and t2" into a span of sequence numbers; the few late batches (their own partial index) are
//! the only entries whose time lies far before their checkpoint's. Checkpoints signed before this
//! have neither (`NULL`, not late).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    OldestAt,
    Late,
}

const LATE_INDEX: &str = "idx_audit_checkpoints_late";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditCheckpoints::Table)
                    .add_column(
                        ColumnDef::new(AuditCheckpoints::OldestAt)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditCheckpoints::Table)
                    .add_column(
                        ColumnDef::new(AuditCheckpoints::Late)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE INDEX {LATE_INDEX} ON audit_checkpoints (seq) WHERE late"
            ))
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(&format!("DROP INDEX {LATE_INDEX}"))
            .await?;
        for column in [AuditCheckpoints::Late, AuditCheckpoints::OldestAt] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditCheckpoints::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
