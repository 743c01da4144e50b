//! The audit sequence number of the call that recorded each case event: commit-ordered and dense
//! across every server, so a watcher can resume after the last event it saw and miss nothing.
//! Events recorded before this migration have none and are never streamed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    Seq,
    Id,
}

const INDEX: &str = "idx_case_events_seq";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .add_column(ColumnDef::new(CaseEvents::Seq).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(CaseEvents::Table)
                    .col(CaseEvents::Seq)
                    .col(CaseEvents::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(INDEX)
                    .table(CaseEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .drop_column(CaseEvents::Seq)
                    .to_owned(),
            )
            .await
    }
}
