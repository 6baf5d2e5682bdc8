-- 0011: filter values in the audit log's text index (internal/audit, docs/audit.md).
--
-- audit_search_v2 replaces audit_search: the same words, plus one token per
-- filter value of the entry (actor, action, outcome, batch, each server key),
-- spelled so that no typed word can produce them (a private-use character,
-- a letter naming the filter, the value in hex). A text search with filters
-- then lets FTS5 intersect the words with the filter values itself.
--
-- Existing entries are indexed by a background backfill after start-up
-- (internal/audit/search.go), newest first; audit_search_backfill.below is
-- the lowest entry id already indexed (every id >= below is in
-- audit_search_v2). The backfill is finished when below <= 1. Until then the
-- console keeps writing and reading audit_search as before.
CREATE VIRTUAL TABLE audit_search_v2 USING fts5 (
    body,
    content = '',
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE audit_search_backfill (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    below INTEGER NOT NULL
);
INSERT INTO audit_search_backfill (id, below) SELECT 1, coalesce(max(id), 0) + 1 FROM audit_entries;
