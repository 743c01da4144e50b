//! DEADLINE terms in a channel's register: a window (`span_micros`) or, for DUE_SOON, a share of
//! one (`percent`), agreed by both agencies like any term. A new window for a deadline is proposed
//! while the old one is in force and replaces it when agreed, so a channel is never without one:
//! the live-code index now allows one proposed and one agreed term of a code (the service keeps
//! the other kinds to one live term, as before).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChannelTerms {
    Table,
    SpanMicros,
    Percent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            ColumnDef::new(ChannelTerms::SpanMicros)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(ChannelTerms::Percent)
                .small_integer()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ChannelTerms::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_channel_terms_live_code")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_channel_terms_live_code ON channel_terms \
             (channel_id, kind, code, status) WHERE status IN (1, 2)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_channel_terms_live_code")
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX idx_channel_terms_live_code ON channel_terms \
             (channel_id, kind, code) WHERE status IN (1, 2)",
        )
        .await?;
        for column in [ChannelTerms::SpanMicros, ChannelTerms::Percent] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ChannelTerms::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
