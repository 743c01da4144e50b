//! Refusals before authentication (a bad or missing token, a refused sign-in, a busy server) are
//! recorded as counted summaries, one entry per caller, method and outcome an interval, instead of
//! an entry per call. A summary entry carries how many calls it counts (`refusals`) and the first
//! one's time (`first_refused_at`); its `at` is the last one's. Entries of one call have neither.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Audit {
    Refusals,
    FirstRefusedAt,
}

const TABLES: [&str; 3] = ["audit_entries", "audit_intake", "audit_intake_rejected"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            // SQLite adds one column a statement.
            for column in [Audit::Refusals, Audit::FirstRefusedAt] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Alias::new(table))
                            .add_column(ColumnDef::new(column).big_integer().null())
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            for column in [Audit::Refusals, Audit::FirstRefusedAt] {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Alias::new(table))
                            .drop_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }
}
