//! Behaviour tests: a real server on a free port, spoken to over gRPC, on SQLite and on the real
//! PostgreSQL (when `LIAISON_TEST_POSTGRES_URL` is set).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

mod access;
mod admin;
mod audit;
mod binary;
mod cases;
mod chain;
mod cli;
mod deadlines;
mod deploy;
mod markings;
mod moves;
mod outage;
mod properties;
mod readme;
mod replicas;
mod requests;
mod roles;
mod seed;
mod service;
mod sessions;
mod stats;
mod telemetry;
mod terms;
mod transport;
mod watch;
