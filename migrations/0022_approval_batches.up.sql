-- 0022: links between approval requests and batches (docs/approvals.md).
-- A preview confirmed under the approval policy becomes a request instead of
-- a batch: prepared_actions.approval_id records which, so a repeated submit
-- lands on the same request and makes no second one. batches.approval_id
-- names the request an approved batch ran for (approval_requests.batch_id
-- is the other direction).
ALTER TABLE prepared_actions ADD COLUMN approval_id TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN approval_id TEXT NOT NULL DEFAULT '';
CREATE INDEX batches_by_approval ON batches(approval_id);
