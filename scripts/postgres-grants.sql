-- postgres-grants.sql: the privileges a console replica's role needs on PostgreSQL, and
-- no more (docs/replicas.md). Run it as the role that owns the console's tables (the one
-- that ran the migrations), after every upgrade that added tables, with psql:
--
--     psql "postgres://console_owner@db.example/console" -v app=console_app -f scripts/postgres-grants.sql
--
-- The audit log is append-only for the console's role: it may read and add entries but
-- never change or remove them (the tables' triggers refuse that too, even for the owner).
-- The role cannot change the schema either: upgrades run as the owner.
\set ON_ERROR_STOP on
BEGIN;
GRANT USAGE ON SCHEMA public TO :"app";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"app";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO :"app";
-- Append-only: the audit log, its indexes and its verification records.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries, audit_entry_servers, audit_search, audit_verifications FROM :"app";
-- The schema's version: read (to know the schema is current), never written.
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM :"app";
COMMIT;
