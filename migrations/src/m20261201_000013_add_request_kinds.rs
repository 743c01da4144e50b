//! What a referral is (a request that is owed an answer, or information given on the provider's own
//! initiative), and why a request was declined, from the closed list of grounds of EU Directive
//! 2023/977 Art. 6. Cases from before are requests; their declines state no ground.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Cases {
    Table,
    Kind,
    DeclineGround,
}

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    RefusalGround,
}

/// REQUEST's code (see `RequestKind` in the server).
const REQUEST: i32 = 1;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column a statement.
        for column in [
            ColumnDef::new(Cases::Kind)
                .small_integer()
                .not_null()
                .default(REQUEST)
                .to_owned(),
            ColumnDef::new(Cases::DeclineGround)
                .small_integer()
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
                        ColumnDef::new(CaseEvents::RefusalGround)
                            .small_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .drop_column(CaseEvents::RefusalGround)
                    .to_owned(),
            )
            .await?;
        for column in [Cases::DeclineGround, Cases::Kind] {
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
