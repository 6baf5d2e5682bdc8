-- 0034: how far the audit log's search indexes (audit_entry_servers and the
-- text index) reach. Entries are indexed by their own transaction right
-- after they commit (audit.Store.indexTail), so a batch's request and
-- response commits do not write the indexes' scattered pages (issue 11 §3);
-- every entry with id <= indexed_to is indexed, none above it is. Entries
-- written before this migration were indexed with their entry.
CREATE TABLE audit_index_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_to INTEGER NOT NULL
);
-- No row means 0 (a new database holds none, so a copy can fill it).
INSERT INTO audit_index_state (id, indexed_to) SELECT 1, max(id) FROM audit_entries HAVING count(*) > 0;
