-- 0034 (PostgreSQL): how far the audit log's search indexes reach.
-- Same shape as ../0034_audit_index_state.up.sql.
CREATE TABLE audit_index_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_to BIGINT NOT NULL
);
-- No row means 0 (a new database holds none, so a copy can fill it).
INSERT INTO audit_index_state (id, indexed_to) SELECT 1, max(id) FROM audit_entries HAVING count(*) > 0;
