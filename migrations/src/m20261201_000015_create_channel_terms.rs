//! The register each channel's two agencies agree: the legal bases a request cites. One agency's
//! admin proposes a term, the other's agrees or rejects it (the proposer may withdraw it), and
//! either may retire an agreed one. A case records the basis it cited; cases from before cite none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ChannelTerms {
    Table,
    Id,
    ChannelId,
    Kind,
    Code,
    Title,
    Reference,
    Notes,
    Status,
    ProposingAgencyId,
    ProposedBy,
    ProposedAt,
    DecidedBy,
    DecidedAt,
    DecisionReason,
    RetiredBy,
    RetiredAt,
    RetirementReason,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    LegalBasisId,
}

/// PROPOSED and AGREED (see `TermStatus` in the server): a code is live in one of them.
const LIVE_STATUSES: &str = "(1, 2)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let id = |column: ChannelTerms| ColumnDef::new(column).string_len(36).not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(ChannelTerms::Table)
                    .col(id(ChannelTerms::Id).primary_key())
                    .col(id(ChannelTerms::ChannelId))
                    .col(
                        ColumnDef::new(ChannelTerms::Kind)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ChannelTerms::Code).string_len(32).not_null())
                    .col(ColumnDef::new(ChannelTerms::Title).text().not_null())
                    .col(ColumnDef::new(ChannelTerms::Reference).text().null())
                    .col(ColumnDef::new(ChannelTerms::Notes).text().null())
                    .col(
                        ColumnDef::new(ChannelTerms::Status)
                            .small_integer()
                            .not_null(),
                    )
                    .col(id(ChannelTerms::ProposingAgencyId))
                    .col(id(ChannelTerms::ProposedBy))
                    .col(
                        ColumnDef::new(ChannelTerms::ProposedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ChannelTerms::DecidedBy)
                            .string_len(36)
                            .null(),
                    )
                    .col(ColumnDef::new(ChannelTerms::DecidedAt).big_integer().null())
                    .col(ColumnDef::new(ChannelTerms::DecisionReason).text().null())
                    .col(
                        ColumnDef::new(ChannelTerms::RetiredBy)
                            .string_len(36)
                            .null(),
                    )
                    .col(ColumnDef::new(ChannelTerms::RetiredAt).big_integer().null())
                    .col(ColumnDef::new(ChannelTerms::RetirementReason).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_channel_terms_channel")
                    .table(ChannelTerms::Table)
                    .col(ChannelTerms::ChannelId)
                    .col(ChannelTerms::Kind)
                    .col(ChannelTerms::Status)
                    .to_owned(),
            )
            .await?;
        // One live term per code and kind on a channel, whatever two admins do at once; a
        // rejected, withdrawn or retired code may be proposed again. Both databases take a
        // partial unique index in this form.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "CREATE UNIQUE INDEX idx_channel_terms_live_code ON channel_terms \
                 (channel_id, kind, code) WHERE status IN {LIVE_STATUSES}"
            ))
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(ColumnDef::new(Cases::LegalBasisId).string_len(36).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .drop_column(Cases::LegalBasisId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ChannelTerms::Table).to_owned())
            .await
    }
}
