//! Entries join the chain off the calls' path. A call inserts its record into `audit_intake` in
//! its own transaction, under no shared lock, with the service's MAC over the record; the sealer
//! takes committed records in batches, gives them their sequence numbers, chains them into
//! `audit_entries` and signs every batch's head into `audit_checkpoints`.
//!
//! - `audit_intake`: records waiting to be sealed, numbered by the database (`id`, which only
//!   orders the intake; the entry's `seq` is the sealer's). Its columns are the entries' record
//!   columns with the same types, so any record the intake accepts fits an entry.
//! - `audit_intake_rejected`: records the sealer refused because their MAC did not check (written
//!   with database access, not by the service). Verification reports every one.
//! - `audit_seal_start`: the first sequence number the sealer assigns (today's head's next):
//!   from there on every batch is checkpointed, so an entry after the newest checkpoint is a
//!   finding; before it the older rule (every 1,000th entry) holds.
//! - `case_events.audit_intake_id`: the intake record of the call that recorded the event; the
//!   sealer stamps the event with the entry's `seq` when it seals that record, and only then does a
//!   watcher see the event.
//! - `idx_audit_checkpoints_at`: checkpoints' times rise with their sequence numbers, so a time
//!   range maps to a range of sequence numbers through this index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Audit {
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
    Event,
    Mac,
}

#[derive(DeriveIden)]
enum AuditIntake {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AuditIntakeRejected {
    Table,
    IntakeId,
    Reason,
    RejectedAt,
}

#[derive(DeriveIden)]
enum AuditSealStart {
    Table,
    Id,
    Seq,
}

#[derive(DeriveIden)]
enum CaseEvents {
    Table,
    AuditIntakeId,
}

#[derive(DeriveIden)]
enum AuditCheckpoints {
    Table,
    At,
}

const EVENTS_INDEX: &str = "idx_case_events_audit_intake";
const CHECKPOINTS_INDEX: &str = "idx_audit_checkpoints_at";

/// The record columns of an audit entry, with the entries' types and lengths, and the record's MAC.
fn record_columns(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    let text = |name: Audit, len: u32| ColumnDef::new(name).string_len(len).null().take();
    table
        .col(ColumnDef::new(Audit::At).big_integer().not_null())
        .col(text(Audit::ActorId, 36))
        .col(text(Audit::ActorUsername, 64))
        .col(text(Audit::ActorAgencyId, 36))
        .col(ColumnDef::new(Audit::ActorRoles).integer().not_null())
        .col(ColumnDef::new(Audit::Method).string_len(100).not_null())
        .col(text(Audit::TargetType, 16))
        .col(text(Audit::TargetId, 64))
        .col(text(Audit::CaseId, 36))
        .col(text(Audit::CaseOriginatingAgencyId, 36))
        .col(text(Audit::CaseReceivingAgencyId, 36))
        .col(ColumnDef::new(Audit::Outcome).small_integer().not_null())
        .col(ColumnDef::new(Audit::StatusCode).integer().not_null())
        .col(ColumnDef::new(Audit::RequestId).string_len(64).not_null())
        .col(text(Audit::Peer, 64))
        .col(text(Audit::Event, 64))
        .col(ColumnDef::new(Audit::Mac).text().not_null())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut intake = Table::create();
        intake.table(AuditIntake::Table).col(
            ColumnDef::new(AuditIntake::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        );
        manager
            .create_table(record_columns(&mut intake).to_owned())
            .await?;

        let mut rejected = Table::create();
        rejected.table(AuditIntakeRejected::Table).col(
            ColumnDef::new(AuditIntakeRejected::IntakeId)
                .big_integer()
                .not_null()
                .primary_key(),
        );
        record_columns(&mut rejected)
            .col(
                ColumnDef::new(AuditIntakeRejected::Reason)
                    .text()
                    .not_null(),
            )
            .col(
                ColumnDef::new(AuditIntakeRejected::RejectedAt)
                    .big_integer()
                    .not_null(),
            );
        manager.create_table(rejected.to_owned()).await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditSealStart::Table)
                    .col(
                        ColumnDef::new(AuditSealStart::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuditSealStart::Seq).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO audit_seal_start (id, seq) SELECT 1, seq + 1 FROM audit_head WHERE id = 1",
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .add_column(
                        ColumnDef::new(CaseEvents::AuditIntakeId)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(EVENTS_INDEX)
                    .table(CaseEvents::Table)
                    .col(CaseEvents::AuditIntakeId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(CHECKPOINTS_INDEX)
                    .table(AuditCheckpoints::Table)
                    .col(AuditCheckpoints::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(CHECKPOINTS_INDEX)
                    .table(AuditCheckpoints::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(EVENTS_INDEX)
                    .table(CaseEvents::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(CaseEvents::Table)
                    .drop_column(CaseEvents::AuditIntakeId)
                    .to_owned(),
            )
            .await?;
        for table in ["audit_seal_start", "audit_intake_rejected", "audit_intake"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}
