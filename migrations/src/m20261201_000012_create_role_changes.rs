//! Role changes that need a second admin: granting a role that reads case content (OFFICER,
//! SUPERVISOR) to an account that is an ADMIN, or ADMIN to one that holds such a role. One admin
//! proposes, another of the same agency approves or either rejects; a proposal lapses unanswered.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RoleChanges {
    Table,
    Id,
    AgencyId,
    UserId,
    RolesBefore,
    RolesAfter,
    Reason,
    RequestedBy,
    RequestedAt,
    ExpiresAt,
    Status,
    DecidedBy,
    DecidedAt,
    DecisionReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RoleChanges::Table)
                    .col(
                        ColumnDef::new(RoleChanges::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RoleChanges::AgencyId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoleChanges::UserId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoleChanges::RolesBefore)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RoleChanges::RolesAfter).integer().not_null())
                    .col(ColumnDef::new(RoleChanges::Reason).text().null())
                    .col(
                        ColumnDef::new(RoleChanges::RequestedBy)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoleChanges::RequestedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoleChanges::ExpiresAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoleChanges::Status)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RoleChanges::DecidedBy).string_len(36).null())
                    .col(ColumnDef::new(RoleChanges::DecidedAt).big_integer().null())
                    .col(ColumnDef::new(RoleChanges::DecisionReason).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_role_changes_agency")
                    .table(RoleChanges::Table)
                    .col(RoleChanges::AgencyId)
                    .col(RoleChanges::RequestedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_role_changes_user")
                    .table(RoleChanges::Table)
                    .col(RoleChanges::UserId)
                    .col(RoleChanges::Status)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RoleChanges::Table).to_owned())
            .await
    }
}
