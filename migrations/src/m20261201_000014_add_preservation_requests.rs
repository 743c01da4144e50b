//! Expedited preservation requests (Budapest Convention Art. 29): what data, held by whom, for
//! which offence and why, and the formal request that will follow; and where the preservation
//! stands (REQUESTED, PRESERVED until a date at least 60 days out, EXTENDED, SUPERSEDED by the
//! formal request, or LAPSED). Only cases of kind PRESERVATION have them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    PreservationData,
    PreservationCustodian,
    PreservationOffence,
    PreservationNecessity,
    PreservationFormalRequest,
    PreservationStatus,
    PreservedUntil,
    PreservationSupersededBy,
}

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    PreservedUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column a statement.
        for column in [
            ColumnDef::new(Cases::PreservationData)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Cases::PreservationCustodian)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Cases::PreservationOffence)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Cases::PreservationNecessity)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Cases::PreservationFormalRequest)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Cases::PreservationStatus)
                .small_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Cases::PreservedUntil)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Cases::PreservationSupersededBy)
                .text()
                .null()
                .to_owned(),
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
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .add_column(
                        ColumnDef::new(CaseEvents::PreservedUntil)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The timer that marks lapsed preservations looks them up by status and date.
        manager
            .create_index(
                Index::create()
                    .name("idx_cases_preservation_due")
                    .table(Cases::Table)
                    .col(Cases::PreservationStatus)
                    .col(Cases::PreservedUntil)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_cases_preservation_due")
                    .table(Cases::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .drop_column(CaseEvents::PreservedUntil)
                    .to_owned(),
            )
            .await?;
        for column in [
            Cases::PreservationData,
            Cases::PreservationCustodian,
            Cases::PreservationOffence,
            Cases::PreservationNecessity,
            Cases::PreservationFormalRequest,
            Cases::PreservationStatus,
            Cases::PreservedUntil,
            Cases::PreservationSupersededBy,
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
