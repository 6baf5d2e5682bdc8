-- 0011 (PostgreSQL): the state table of SQLite's second text index. Same
-- shape as ../0011_audit_search_facets.up.sql for what both engines have:
-- PostgreSQL keeps one text index (audit_search, a tsvector of the words,
-- written with every entry), so it has no audit_search_v2 and never
-- backfills; the table is here so that a database copied from SQLite
-- (console migrate-store) keeps every row. It starts empty, so a new
-- database can be the target of a copy.
CREATE TABLE audit_search_backfill (
    id     BIGINT PRIMARY KEY CHECK (id = 1),
    below  BIGINT NOT NULL,
    merged BIGINT NOT NULL DEFAULT 0
);
