//! An index for the escalation timer's query (FILED, not yet escalated, past the acknowledge
//! deadline, oldest deadline first): without it every server scans every case once a minute, about
//! a second per pass at a million cases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Status,
    EscalatedAt,
    AcknowledgeDueAt,
}

const INDEX: &str = "idx_cases_escalation";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Status and "not escalated" (IS NULL) narrow to one run of the index, in deadline order.
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Cases::Table)
                    .col(Cases::Status)
                    .col(Cases::EscalatedAt)
                    .col(Cases::AcknowledgeDueAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Cases::Table).to_owned())
            .await
    }
}
