//! Every audit entry carries a MAC from here on: `mac` is the service's keyed tag over the entry's
//! hash (`<key id>:<hex>`), made with key material that lives with the signing keys, not in the
//! database, so that database credentials alone cannot write an entry that verifies. Entries
//! written before this migration have none; `audit_mac_start` records the first sequence number
//! that must carry one (the head's next), so verification knows where the rule begins.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    Mac,
}

#[derive(DeriveIden)]
enum AuditMacStart {
    Table,
    Id,
    Seq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEntries::Table)
                    .add_column(ColumnDef::new(AuditEntries::Mac).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditMacStart::Table)
                    .col(
                        ColumnDef::new(AuditMacStart::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditMacStart::Seq).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO audit_mac_start (id, seq) SELECT 1, seq + 1 FROM audit_head WHERE id = 1",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditMacStart::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEntries::Table)
                    .drop_column(AuditEntries::Mac)
                    .to_owned(),
            )
            .await
    }
}
