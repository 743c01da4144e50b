//! The schema, as code: one portable set of migrations for SQLite and PostgreSQL, run at start.
//! A migration is never edited once applied; change the schema with a new one.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_schema;
mod m20261125_000002_protect_audit_history;
mod m20261125_000003_add_channel_suspender;
mod m20261125_000004_create_sessions;
mod m20261125_000005_add_case_escalation;
mod m20261127_000006_add_case_event_sequence;
mod m20261127_000007_add_case_escalation_index;
mod m20261201_000008_add_audit_entry_mac;
mod m20261201_000009_create_audit_intake;
mod m20261201_000010_add_audit_refusal_summaries;
mod m20261201_000011_add_markings;
mod m20261201_000012_create_role_changes;
mod m20261201_000013_add_request_kinds;
mod m20261201_000014_add_preservation_requests;
mod m20261201_000015_create_channel_terms;
mod m20261201_000016_create_case_moves;
mod m20261201_000017_add_request_items_and_releases;
mod m20261201_000018_add_category_register;
mod m20261201_000019_add_note_moves;
mod m20261201_000020_add_checkpoint_batch_times;
mod m20261202_000021_add_deadline_clocks;
mod m20261202_000022_add_deadline_terms;
mod m20261202_000023_add_agency_time_zones;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_schema::Migration),
            Box::new(m20261125_000002_protect_audit_history::Migration),
            Box::new(m20261125_000003_add_channel_suspender::Migration),
            Box::new(m20261125_000004_create_sessions::Migration),
            Box::new(m20261125_000005_add_case_escalation::Migration),
            Box::new(m20261127_000006_add_case_event_sequence::Migration),
            Box::new(m20261127_000007_add_case_escalation_index::Migration),
            Box::new(m20261201_000008_add_audit_entry_mac::Migration),
            Box::new(m20261201_000009_create_audit_intake::Migration),
            Box::new(m20261201_000010_add_audit_refusal_summaries::Migration),
            Box::new(m20261201_000011_add_markings::Migration),
            Box::new(m20261201_000012_create_role_changes::Migration),
            Box::new(m20261201_000013_add_request_kinds::Migration),
            Box::new(m20261201_000014_add_preservation_requests::Migration),
            Box::new(m20261201_000015_create_channel_terms::Migration),
            Box::new(m20261201_000016_create_case_moves::Migration),
            Box::new(m20261201_000017_add_request_items_and_releases::Migration),
            Box::new(m20261201_000018_add_category_register::Migration),
            Box::new(m20261201_000019_add_note_moves::Migration),
            Box::new(m20261201_000020_add_checkpoint_batch_times::Migration),
            Box::new(m20261202_000021_add_deadline_clocks::Migration),
            Box::new(m20261202_000022_add_deadline_terms::Migration),
            Box::new(m20261202_000023_add_agency_time_zones::Migration),
        ]
    }
}
