//! Categories become a register of each channel, agreed like its other terms. Every channel that
//! was ever approved gets its categories as AGREED terms of kind CATEGORY, decided by the admin who
//! approved it; a proposed channel gets them when it is approved. A case names its category by
//! code (`category_code`), so that categories agreed later than the first three can be filed; the
//! old numeric column keeps the first three's codes (0 for the others) for older readers.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    CategoryCode,
}

/// The founding categories: their bit in `channels.categories` (the code's), code and title.
const FOUNDING: [(i32, &str, &str); 3] = [
    (
        1,
        "DRUGS",
        "Drugs: narcotics, precursors, organised crime finance",
    ),
    (
        2,
        "FRAUD",
        "Fraud: document, identity and immigration fraud",
    ),
    (3, "CYBER", "Cyber: cybercrime, breaches, digital fraud"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(ColumnDef::new(Cases::CategoryCode).string_len(32).null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE cases SET category_code = CASE category WHEN 1 THEN 'DRUGS' \
             WHEN 2 THEN 'FRAUD' WHEN 3 THEN 'CYBER' END",
        )
        .await?;
        // A random UUID (version 4) per row, in each database's own terms (PostgreSQL 13 and
        // later have gen_random_uuid built in). The approval time was not kept: the terms are
        // dated from the channel's proposal, which is before any case filed under them.
        let uuid = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "gen_random_uuid()::text".to_string(),
            _ => "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || \
                  substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) || '-' || \
                  hex(randomblob(6)))"
                .to_string(),
        };
        for (code, name, title) in FOUNDING {
            let bit = 1 << (code - 1);
            db.execute_unprepared(&format!(
                "INSERT INTO channel_terms (id, channel_id, kind, code, title, reference, notes, \
                 status, proposing_agency_id, proposed_by, proposed_at, decided_by, decided_at, \
                 decision_reason, retired_by, retired_at, retirement_reason) \
                 SELECT {uuid}, id, 3, '{name}', '{title}', NULL, NULL, 2, proposing_agency_id, \
                 proposed_by, created_at, approved_by, created_at, 'agreed with the channel', \
                 NULL, NULL, NULL FROM channels \
                 WHERE approved_by IS NOT NULL AND (categories & {bit}) <> 0"
            ))
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DELETE FROM channel_terms WHERE kind = 3")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::CategoryCode)
                    .to_owned(),
            )
            .await
    }
}
