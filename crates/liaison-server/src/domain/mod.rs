//! The rules of the service. Each function opens the call's transaction, checks authorization,
//! applies the rules through `repo`, and commits together with the call's audit entry.

pub mod audit_log;
pub mod auth;
pub mod call;
pub mod cases;
pub mod channels;
pub mod deadlines;
pub mod directory;
pub mod items;
pub mod lifecycle;
pub mod markings;
pub mod moves;
pub mod paging;
pub mod people;
pub mod preservation;
pub mod stats;
pub mod terms;
pub mod users;
pub mod watch;
