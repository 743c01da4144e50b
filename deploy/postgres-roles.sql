-- Least-privilege roles for Liaison on PostgreSQL.
--
-- The owner role runs `liaisond migrate` and owns the schema. The service role runs `liaisond serve`
-- with --skip-migrations: it may append to the audit log but never update, delete or truncate it,
-- and it cannot drop the triggers that guard it (only the owner can).
--
--   psql -v owner=liaison_owner -v app=liaison_app -v db=liaison -f deploy/postgres-roles.sql
--
-- Run it as a superuser after `liaisond migrate` (as the owner) created the tables; set the app
-- role's password with \password afterwards.

-- Nobody but the owner creates objects (the default on PostgreSQL 15 and later).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

GRANT CONNECT ON DATABASE :"db" TO :"app";
GRANT USAGE ON SCHEMA public TO :"app";

GRANT SELECT ON seaql_migrations TO :"app";
GRANT SELECT, INSERT ON agencies TO :"app";
GRANT SELECT, INSERT, UPDATE ON users, channels, cases, case_counters, sessions, refresh_tokens TO :"app";
GRANT SELECT, INSERT ON case_notes, case_events TO :"app";
-- A note's provider may change its markings, and nothing else of it.
GRANT UPDATE (handling, handling_conditions, source_reliability, information_accuracy) ON case_notes TO :"app";
-- Role changes a second admin must approve: proposed, then decided.
GRANT SELECT, INSERT, UPDATE ON role_changes TO :"app";
-- The terms a channel's agencies agree (legal bases): proposed, then decided, then perhaps retired.
GRANT SELECT, INSERT, UPDATE ON channel_terms TO :"app";
-- Moves under four eyes: proposed, then decided by a second supervisor.
GRANT SELECT, INSERT, UPDATE ON case_moves TO :"app";
-- The sealer stamps an event with its audit entry's sequence number once it seals the call's record.
GRANT UPDATE (seq, audit_intake_id) ON case_events TO :"app";
GRANT SELECT, INSERT, DELETE ON login_failures TO :"app";

-- The audit log: append and read only. Nothing the chain depends on is ever updated: the head is
-- the newest entry, and the row that kept it before the sealer (audit_head) is read only.
GRANT SELECT, INSERT ON audit_entries, audit_checkpoints TO :"app";
GRANT SELECT ON audit_head TO :"app";
-- Calls put their records into the intake; the sealer takes them out as it chains them, and keeps
-- the records it refuses (no valid MAC) for verification to report.
GRANT SELECT, INSERT, DELETE ON audit_intake TO :"app";
GRANT USAGE ON SEQUENCE audit_intake_id_seq TO :"app";
GRANT SELECT, INSERT ON audit_intake_rejected TO :"app";
-- Where the entries' MACs and the sealer's checkpoints begin: read only, so the service cannot
-- move the rules.
GRANT SELECT ON audit_mac_start, audit_seal_start TO :"app";

-- Tables added by later migrations need their own grants: this file is updated with each one.
