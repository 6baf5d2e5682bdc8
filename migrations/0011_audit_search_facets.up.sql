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

-- merged is 1 once the segments the backfill wrote have been merged into
-- one (a search reads each segment, so fewer read less).
CREATE TABLE audit_search_backfill (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    below  INTEGER NOT NULL,
    merged INTEGER NOT NULL DEFAULT 0
);
INSERT INTO audit_search_backfill (id, below, merged)
SELECT 1, coalesce(max(id), 0) + 1, CASE WHEN count(*) = 0 THEN 1 ELSE 0 END FROM audit_entries;
