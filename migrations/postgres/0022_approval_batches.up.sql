-- 0022 (PostgreSQL): links between approval requests and batches. Same shape
-- as ../0022_approval_batches.up.sql.
ALTER TABLE prepared_actions ADD COLUMN approval_id TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN approval_id TEXT NOT NULL DEFAULT '';
CREATE INDEX batches_by_approval ON batches(approval_id);
