//! Four eyes on the moves that carry diplomatic weight. A channel's agencies may agree rules
//! (terms of kind RULE) that make a second supervisor approve releasing an outgoing referral,
//! declining, closing with NO_ACTION, or relaxing a marking. Such a move is proposed, then
//! approved (and made) or rejected; until approved, an outgoing referral waits as PENDING_RELEASE.
//! Timeline events of a proposal and its decision name it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaseMoves {
    Table,
    Id,
    CaseId,
    Action,
    AgencyId,
    RequestedBy,
    RequestedAt,
    ExpiresAt,
    Status,
    Reason,
    RefusalGround,
    Handling,
    HandlingConditions,
    SourceReliability,
    InformationAccuracy,
    DecidedBy,
    DecidedAt,
    DecisionReason,
}

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    MoveId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let id = |column: CaseMoves| ColumnDef::new(column).string_len(36).not_null().to_owned();
        let code = |column: CaseMoves| ColumnDef::new(column).small_integer().null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(CaseMoves::Table)
                    .col(id(CaseMoves::Id).primary_key())
                    .col(id(CaseMoves::CaseId))
                    .col(ColumnDef::new(CaseMoves::Action).small_integer().not_null())
                    .col(id(CaseMoves::AgencyId))
                    .col(id(CaseMoves::RequestedBy))
                    .col(
                        ColumnDef::new(CaseMoves::RequestedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(CaseMoves::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CaseMoves::Status).small_integer().not_null())
                    .col(ColumnDef::new(CaseMoves::Reason).text().null())
                    .col(code(CaseMoves::RefusalGround))
                    // The markings a relaxation proposes, all four or none.
                    .col(code(CaseMoves::Handling))
                    .col(ColumnDef::new(CaseMoves::HandlingConditions).text().null())
                    .col(code(CaseMoves::SourceReliability))
                    .col(code(CaseMoves::InformationAccuracy))
                    .col(ColumnDef::new(CaseMoves::DecidedBy).string_len(36).null())
                    .col(ColumnDef::new(CaseMoves::DecidedAt).big_integer().null())
                    .col(ColumnDef::new(CaseMoves::DecisionReason).text().null())
                    .to_owned(),
            )
            .await?;
        // What awaits an agency's supervisors, newest first; and a case's moves.
        for (name, columns) in [
            (
                "idx_case_moves_agency",
                [
                    CaseMoves::AgencyId,
                    CaseMoves::Status,
                    CaseMoves::RequestedAt,
                ],
            ),
            (
                "idx_case_moves_case",
                [CaseMoves::CaseId, CaseMoves::Status, CaseMoves::RequestedAt],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(CaseMoves::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .add_column(ColumnDef::new(CaseEvents::MoveId).string_len(36).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .drop_column(CaseEvents::MoveId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(CaseMoves::Table).to_owned())
            .await
    }
}
