//! Markings: the handling code (H0–H3, with the stated conditions of an H3) and the grading of
//! source and information (A/B/C/X, 1–4) on cases and notes, as their provider set them; the
//! markings a MARKINGS_CHANGED event set; and, on every audit record, the handling code in force
//! on what the call read or changed. Cases and notes from before read as H0, graded X4 ("cannot
//! be judged"); audit records from before carry no handling code.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Marking {
    Handling,
    HandlingConditions,
    SourceReliability,
    InformationAccuracy,
}

/// H0, and X / 4: the codes of the defaults (see `Markings::default` in the server).
const H0: i32 = 1;
const CANNOT_BE_JUDGED: i32 = 4;

const MARKED: [&str; 2] = ["cases", "case_notes"];
const AUDITED: [&str; 3] = ["audit_entries", "audit_intake", "audit_intake_rejected"];

fn add(table: &str, column: ColumnDef) -> TableAlterStatement {
    Table::alter()
        .table(Alias::new(table))
        .add_column(column)
        .to_owned()
}

fn drop(table: &str, column: Marking) -> TableAlterStatement {
    Table::alter()
        .table(Alias::new(table))
        .drop_column(column)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column a statement.
        for table in MARKED {
            for column in [
                ColumnDef::new(Marking::Handling)
                    .small_integer()
                    .not_null()
                    .default(H0)
                    .to_owned(),
                ColumnDef::new(Marking::HandlingConditions)
                    .text()
                    .null()
                    .to_owned(),
                ColumnDef::new(Marking::SourceReliability)
                    .small_integer()
                    .not_null()
                    .default(CANNOT_BE_JUDGED)
                    .to_owned(),
                ColumnDef::new(Marking::InformationAccuracy)
                    .small_integer()
                    .not_null()
                    .default(CANNOT_BE_JUDGED)
                    .to_owned(),
            ] {
                manager.alter_table(add(table, column)).await?;
            }
        }
        for column in [
            ColumnDef::new(Marking::Handling)
                .small_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Marking::HandlingConditions)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Marking::SourceReliability)
                .small_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Marking::InformationAccuracy)
                .small_integer()
                .null()
                .to_owned(),
        ] {
            manager.alter_table(add("case_events", column)).await?;
        }
        for table in AUDITED {
            manager
                .alter_table(add(
                    table,
                    ColumnDef::new(Marking::Handling)
                        .small_integer()
                        .null()
                        .to_owned(),
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in AUDITED {
            manager.alter_table(drop(table, Marking::Handling)).await?;
        }
        for table in MARKED.into_iter().chain(["case_events"]) {
            for column in [
                Marking::Handling,
                Marking::HandlingConditions,
                Marking::SourceReliability,
                Marking::InformationAccuracy,
            ] {
                manager.alter_table(drop(table, column)).await?;
            }
        }
        Ok(())
    }
}
