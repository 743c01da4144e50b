//! Agencies, users, channels, cases with their notes and events, and the audit log.
//!
//! Ids are UUID strings; times are microseconds since the Unix epoch (BIGINT), which compare and
//! index the same way on both databases.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agencies {
    Table,
    Id,
    Code,
    Name,
    Country,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Username,
    DisplayName,
    AgencyId,
    Roles,
    Disabled,
    PasswordHash,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Channels {
    Table,
    Id,
    ProposingAgencyId,
    PartnerAgencyId,
    LowAgencyId,
    HighAgencyId,
    Categories,
    Status,
    ProposedBy,
    ApprovedBy,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Cases {
    Table,
    Id,
    Reference,
    ChannelId,
    Category,
    Priority,
    Title,
    Summary,
    OriginatingAgencyId,
    ReceivingAgencyId,
    FiledBy,
    AssigneeId,
    Status,
    Resolution,
    FiledAt,
    UpdatedAt,
    AcknowledgedAt,
    ClosedAt,
    AcknowledgeDueAt,
    Version,
    RequestId,
}

#[derive(DeriveIden)]
enum CaseCounters {
    Table,
    ChannelId,
    Year,
    LastSeq,
}

#[derive(DeriveIden)]
enum CaseNotes {
    Table,
    Id,
    CaseId,
    AuthorId,
    AuthorAgencyId,
    Visibility,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    Id,
    CaseId,
    Kind,
    ActorId,
    ActorAgencyId,
    At,
    FromStatus,
    ToStatus,
    Reason,
    AssigneeId,
    Resolution,
    NoteId,
    VisibleToAgencyId,
}

#[derive(DeriveIden)]
enum AuditEntries {
    Table,
    Seq,
    At,
    ActorId,
    ActorUsername,
    ActorAgencyId,
    ActorRoles,
    Method,
    TargetType,
    TargetId,
    CaseId,
    CaseOriginatingAgencyId,
    CaseReceivingAgencyId,
    Outcome,
    StatusCode,
    RequestId,
    Peer,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    Seq,
    Hash,
}

fn id_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .string_len(36)
        .not_null()
        .primary_key()
        .take()
}

fn ref_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string_len(36).not_null().take()
}

fn opt_ref_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).string_len(36).null().take()
}

fn time_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().take()
}

fn fk(
    from_table: impl IntoTableRef,
    from_col: impl IntoIden + 'static,
    to_table: impl IntoTableRef,
    to_col: impl IntoIden + 'static,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from_table, from_col)
        .to(to_table, to_col)
        .on_delete(ForeignKeyAction::Restrict)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agencies::Table)
                    .col(id_col(Agencies::Id))
                    .col(
                        ColumnDef::new(Agencies::Code)
                            .string_len(32)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Agencies::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Agencies::Country).string_len(2).not_null())
                    .col(time_col(Agencies::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id_col(Users::Id))
                    .col(
                        ColumnDef::new(Users::Username)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Users::DisplayName)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ref_col(Users::AgencyId))
                    .col(ColumnDef::new(Users::Roles).integer().not_null())
                    .col(ColumnDef::new(Users::Disabled).boolean().not_null())
                    .col(
                        ColumnDef::new(Users::PasswordHash)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(time_col(Users::CreatedAt))
                    .col(time_col(Users::UpdatedAt))
                    .foreign_key(&mut fk(
                        Users::Table,
                        Users::AgencyId,
                        Agencies::Table,
                        Agencies::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_agency")
                    .table(Users::Table)
                    .col(Users::AgencyId)
                    .col(Users::Username)
                    .to_owned(),
            )
            .await?;

        // A channel links two agencies once: (low, high) is the pair in a canonical order.
        manager
            .create_table(
                Table::create()
                    .table(Channels::Table)
                    .col(id_col(Channels::Id))
                    .col(ref_col(Channels::ProposingAgencyId))
                    .col(ref_col(Channels::PartnerAgencyId))
                    .col(ref_col(Channels::LowAgencyId))
                    .col(ref_col(Channels::HighAgencyId))
                    .col(ColumnDef::new(Channels::Categories).integer().not_null())
                    .col(ColumnDef::new(Channels::Status).small_integer().not_null())
                    .col(ref_col(Channels::ProposedBy))
                    .col(opt_ref_col(Channels::ApprovedBy))
                    .col(time_col(Channels::CreatedAt))
                    .col(time_col(Channels::UpdatedAt))
                    .col(ColumnDef::new(Channels::Version).big_integer().not_null())
                    .foreign_key(&mut fk(
                        Channels::Table,
                        Channels::ProposingAgencyId,
                        Agencies::Table,
                        Agencies::Id,
                    ))
                    .foreign_key(&mut fk(
                        Channels::Table,
                        Channels::PartnerAgencyId,
                        Agencies::Table,
                        Agencies::Id,
                    ))
                    .foreign_key(&mut fk(
                        Channels::Table,
                        Channels::ProposedBy,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_channels_pair")
                    .table(Channels::Table)
                    .col(Channels::LowAgencyId)
                    .col(Channels::HighAgencyId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Cases::Table)
                    .col(id_col(Cases::Id))
                    .col(ColumnDef::new(Cases::Reference).string_len(64).not_null())
                    .col(ref_col(Cases::ChannelId))
                    .col(ColumnDef::new(Cases::Category).small_integer().not_null())
                    .col(ColumnDef::new(Cases::Priority).small_integer().not_null())
                    .col(ColumnDef::new(Cases::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Cases::Summary).text().not_null())
                    .col(ref_col(Cases::OriginatingAgencyId))
                    .col(ref_col(Cases::ReceivingAgencyId))
                    .col(ref_col(Cases::FiledBy))
                    .col(opt_ref_col(Cases::AssigneeId))
                    .col(ColumnDef::new(Cases::Status).small_integer().not_null())
                    .col(ColumnDef::new(Cases::Resolution).small_integer().null())
                    .col(time_col(Cases::FiledAt))
                    .col(time_col(Cases::UpdatedAt))
                    .col(ColumnDef::new(Cases::AcknowledgedAt).big_integer().null())
                    .col(ColumnDef::new(Cases::ClosedAt).big_integer().null())
                    .col(time_col(Cases::AcknowledgeDueAt))
                    .col(ColumnDef::new(Cases::Version).big_integer().not_null())
                    .col(ref_col(Cases::RequestId))
                    .foreign_key(&mut fk(
                        Cases::Table,
                        Cases::ChannelId,
                        Channels::Table,
                        Channels::Id,
                    ))
                    .foreign_key(&mut fk(
                        Cases::Table,
                        Cases::OriginatingAgencyId,
                        Agencies::Table,
                        Agencies::Id,
                    ))
                    .foreign_key(&mut fk(
                        Cases::Table,
                        Cases::ReceivingAgencyId,
                        Agencies::Table,
                        Agencies::Id,
                    ))
                    .foreign_key(&mut fk(
                        Cases::Table,
                        Cases::FiledBy,
                        Users::Table,
                        Users::Id,
                    ))
                    .foreign_key(&mut fk(
                        Cases::Table,
                        Cases::AssigneeId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        let case_indexes: [(&str, Vec<Cases>, bool); 7] = [
            (
                "uq_cases_reference",
                vec![Cases::ChannelId, Cases::Reference],
                true,
            ),
            (
                "uq_cases_request",
                vec![Cases::FiledBy, Cases::RequestId],
                true,
            ),
            (
                "idx_cases_incoming",
                vec![Cases::ReceivingAgencyId, Cases::FiledAt, Cases::Id],
                false,
            ),
            (
                "idx_cases_outgoing",
                vec![Cases::OriginatingAgencyId, Cases::FiledAt, Cases::Id],
                false,
            ),
            (
                "idx_cases_assignee",
                vec![Cases::AssigneeId, Cases::FiledAt, Cases::Id],
                false,
            ),
            (
                "idx_cases_filed_by",
                vec![Cases::FiledBy, Cases::FiledAt, Cases::Id],
                false,
            ),
            (
                "idx_cases_due",
                vec![
                    Cases::ReceivingAgencyId,
                    Cases::Status,
                    Cases::AcknowledgeDueAt,
                    Cases::Id,
                ],
                false,
            ),
        ];
        for (name, cols, unique) in case_indexes {
            let mut index = Index::create().name(name).table(Cases::Table).to_owned();
            for col in cols {
                index.col(col);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(CaseCounters::Table)
                    .col(ref_col(CaseCounters::ChannelId))
                    .col(ColumnDef::new(CaseCounters::Year).integer().not_null())
                    .col(
                        ColumnDef::new(CaseCounters::LastSeq)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(CaseCounters::ChannelId)
                            .col(CaseCounters::Year),
                    )
                    .foreign_key(&mut fk(
                        CaseCounters::Table,
                        CaseCounters::ChannelId,
                        Channels::Table,
                        Channels::Id,
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseNotes::Table)
                    .col(id_col(CaseNotes::Id))
                    .col(ref_col(CaseNotes::CaseId))
                    .col(ref_col(CaseNotes::AuthorId))
                    .col(ref_col(CaseNotes::AuthorAgencyId))
                    .col(
                        ColumnDef::new(CaseNotes::Visibility)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(CaseNotes::Body).text().not_null())
                    .col(time_col(CaseNotes::CreatedAt))
                    .foreign_key(&mut fk(
                        CaseNotes::Table,
                        CaseNotes::CaseId,
                        Cases::Table,
                        Cases::Id,
                    ))
                    .foreign_key(&mut fk(
                        CaseNotes::Table,
                        CaseNotes::AuthorId,
                        Users::Table,
                        Users::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_notes_case")
                    .table(CaseNotes::Table)
                    .col(CaseNotes::CaseId)
                    .col(CaseNotes::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseEvents::Table)
                    .col(id_col(CaseEvents::Id))
                    .col(ref_col(CaseEvents::CaseId))
                    .col(ColumnDef::new(CaseEvents::Kind).small_integer().not_null())
                    .col(ref_col(CaseEvents::ActorId))
                    .col(ref_col(CaseEvents::ActorAgencyId))
                    .col(time_col(CaseEvents::At))
                    .col(
                        ColumnDef::new(CaseEvents::FromStatus)
                            .small_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(CaseEvents::ToStatus).small_integer().null())
                    .col(ColumnDef::new(CaseEvents::Reason).text().null())
                    .col(opt_ref_col(CaseEvents::AssigneeId))
                    .col(
                        ColumnDef::new(CaseEvents::Resolution)
                            .small_integer()
                            .null(),
                    )
                    .col(opt_ref_col(CaseEvents::NoteId))
                    .col(opt_ref_col(CaseEvents::VisibleToAgencyId))
                    .foreign_key(&mut fk(
                        CaseEvents::Table,
                        CaseEvents::CaseId,
                        Cases::Table,
                        Cases::Id,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_case_events_case")
                    .table(CaseEvents::Table)
                    .col(CaseEvents::CaseId)
                    .col(CaseEvents::At)
                    .col(CaseEvents::Id)
                    .to_owned(),
            )
            .await?;

        // The audit log. `seq` is assigned by the appender under the head row's lock, so it is dense
        // and in commit order; it is not a database sequence.
        manager
            .create_table(
                Table::create()
                    .table(AuditEntries::Table)
                    .col(
                        ColumnDef::new(AuditEntries::Seq)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(time_col(AuditEntries::At))
                    .col(opt_ref_col(AuditEntries::ActorId))
                    .col(
                        ColumnDef::new(AuditEntries::ActorUsername)
                            .string_len(64)
                            .null(),
                    )
                    .col(opt_ref_col(AuditEntries::ActorAgencyId))
                    .col(
                        ColumnDef::new(AuditEntries::ActorRoles)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEntries::Method)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEntries::TargetType)
                            .string_len(16)
                            .null(),
                    )
                    .col(ColumnDef::new(AuditEntries::TargetId).string_len(64).null())
                    .col(opt_ref_col(AuditEntries::CaseId))
                    .col(opt_ref_col(AuditEntries::CaseOriginatingAgencyId))
                    .col(opt_ref_col(AuditEntries::CaseReceivingAgencyId))
                    .col(
                        ColumnDef::new(AuditEntries::Outcome)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEntries::StatusCode)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuditEntries::RequestId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEntries::Peer).string_len(64).null())
                    .col(
                        ColumnDef::new(AuditEntries::PrevHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuditEntries::Hash).string_len(64).not_null())
                    .to_owned(),
            )
            .await?;
        let audit_indexes: [(&str, Vec<AuditEntries>); 6] = [
            ("idx_audit_at", vec![AuditEntries::At, AuditEntries::Seq]),
            (
                "idx_audit_actor",
                vec![AuditEntries::ActorId, AuditEntries::Seq],
            ),
            (
                "idx_audit_case",
                vec![AuditEntries::CaseId, AuditEntries::Seq],
            ),
            (
                "idx_audit_actor_agency",
                vec![AuditEntries::ActorAgencyId, AuditEntries::Seq],
            ),
            (
                "idx_audit_case_orig",
                vec![AuditEntries::CaseOriginatingAgencyId, AuditEntries::Seq],
            ),
            (
                "idx_audit_case_recv",
                vec![AuditEntries::CaseReceivingAgencyId, AuditEntries::Seq],
            ),
        ];
        for (name, cols) in audit_indexes {
            let mut index = Index::create()
                .name(name)
                .table(AuditEntries::Table)
                .to_owned();
            for col in cols {
                index.col(col);
            }
            manager.create_index(index).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(
                        ColumnDef::new(AuditHead::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditHead::Seq).big_integer().not_null())
                    .col(ColumnDef::new(AuditHead::Hash).string_len(64).not_null())
                    .to_owned(),
            )
            .await?;
        let genesis = Query::insert()
            .into_table(AuditHead::Table)
            .columns([AuditHead::Id, AuditHead::Seq, AuditHead::Hash])
            .values_panic([1.into(), 0i64.into(), "0".repeat(64).into()])
            .to_owned();
        manager.exec_stmt(genesis).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditHead::Table.into_iden(),
            AuditEntries::Table.into_iden(),
            CaseEvents::Table.into_iden(),
            CaseNotes::Table.into_iden(),
            CaseCounters::Table.into_iden(),
            Cases::Table.into_iden(),
            Channels::Table.into_iden(),
            Users::Table.into_iden(),
            Agencies::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
