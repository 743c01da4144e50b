//! sea-orm entities: the rows as stored. They never leave `repo/`.

pub mod agency;
pub mod audit_checkpoint;
pub mod audit_entry;
pub mod audit_intake;
pub mod audit_intake_rejected;
pub mod case;
pub mod case_event;
pub mod case_move;
pub mod case_note;
pub mod channel;
pub mod channel_term;
pub mod login_failure;
pub mod refresh_token;
pub mod role_change;
pub mod session;
pub mod user;
