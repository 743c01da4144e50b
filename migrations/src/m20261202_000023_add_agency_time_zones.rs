//! Each agency's IANA time zone (UTC until its admin sets it) and its public holidays (a JSON
//! array of dates), which clients use to show due times in both sides' hours and working days;
//! no deadline moves for them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agencies {
    Table,
    TimeZone,
    Holidays,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(Agencies::TimeZone)
                .string_len(64)
                .not_null()
                .default("UTC")
                .to_owned(),
            ColumnDef::new(Agencies::Holidays).text().null().to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Agencies::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Agencies::TimeZone, Agencies::Holidays] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Agencies::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
