//! Numbered items of a request ("subscriber of +1 604 555 0100", "waybill 1234"), each answered,
//! partly answered or refused on a listed ground. They live with the case, as one JSON array, so
//! that every read of a case carries them and every answer moves the case's etag; cases from
//! before have none. An ITEM_ANSWERED event names its item.
//!
//! And when a referral reached the receiving agency (`released_at`): at filing, or at its release
//! under a four-eyes rule. The receiving side sees a case only once it has one, so a referral
//! withdrawn before its release stays its originator's. A proposed move remembers the version of
//! the case it was proposed on, and only one of each kind waits per case.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    RequestItems,
    ReleasedAt,
}

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    ItemNumber,
}

#[derive(DeriveIden)]
enum CaseMoves {
    Table,
    CaseVersion,
}

/// A filing's FILED event (kind 1) kept from the receiving side marks a held referral; its
/// RELEASED event (kind 17) says when it was released.
const BACKFILL: [&str; 2] = [
    "UPDATE cases SET released_at = filed_at WHERE id NOT IN \
     (SELECT case_id FROM case_events WHERE kind = 1 AND visible_to_agency_id IS NOT NULL)",
    "UPDATE cases SET released_at = \
     (SELECT MIN(e.at) FROM case_events e WHERE e.case_id = cases.id AND e.kind = 17) \
     WHERE released_at IS NULL",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column a statement.
        for column in [
            ColumnDef::new(Cases::RequestItems).text().null().to_owned(),
            ColumnDef::new(Cases::ReleasedAt)
                .big_integer()
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
        for statement in BACKFILL {
            manager
                .get_connection()
                .execute_unprepared(statement)
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .add_column(ColumnDef::new(CaseEvents::ItemNumber).integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseMoves::Table)
                    .add_column(ColumnDef::new(CaseMoves::CaseVersion).big_integer().null())
                    .to_owned(),
            )
            .await?;
        // One PENDING move of each action per case, however many supervisors propose at once
        // (a lapsed one is marked EXPIRED before another is stored). Before this, a lapsed move
        // stayed PENDING beside a newer proposal of the same move: expire the lapsed ones, and of
        // any two still waiting keep the newer.
        let now_micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        for statement in [
            format!(
                "UPDATE case_moves SET status = 4 WHERE status = 1 AND expires_at <= {now_micros}"
            ),
            "UPDATE case_moves SET status = 4 WHERE status = 1 AND EXISTS (SELECT 1 FROM \
             case_moves newer WHERE newer.case_id = case_moves.case_id AND newer.action = \
             case_moves.action AND newer.status = 1 AND (newer.requested_at > \
             case_moves.requested_at OR (newer.requested_at = case_moves.requested_at AND \
             newer.id > case_moves.id)))"
                .to_string(),
        ] {
            manager
                .get_connection()
                .execute_unprepared(&statement)
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX idx_case_moves_one_pending ON case_moves (case_id, action) \
                 WHERE status = 1",
            )
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_case_moves_one_pending")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseMoves::Table)
                    .drop_column(CaseMoves::CaseVersion)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .drop_column(CaseEvents::ItemNumber)
                    .to_owned(),
            )
            .await?;
        for column in [Cases::ReleasedAt, Cases::RequestItems] {
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
