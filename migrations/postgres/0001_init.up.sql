-- 0001 (PostgreSQL): settings shared by the console, and the engine's own
-- prerequisites that later migrations use. Same shape as ../0001_init.up.sql.
--
-- nocase: a case-insensitive collation, so that SQL written for SQLite's
-- "COLLATE NOCASE" means the same here (unquoted, NOCASE names this one).
-- ICU folds case beyond ASCII, which SQLite's NOCASE does not.
CREATE COLLATION nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

-- console_search: the audit log's free-text configuration, the counterpart
-- of SQLite's "unicode61 remove_diacritics 2" tokenizer: words lower-cased,
-- accents removed, no stemming.
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE TEXT SEARCH CONFIGURATION console_search (COPY = pg_catalog.simple);
ALTER TEXT SEARCH CONFIGURATION console_search
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, simple;

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
