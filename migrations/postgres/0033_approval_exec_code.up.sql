-- 0033 (PostgreSQL): why an approved request ran no batch, as a stable code.
-- Same shape as ../0033_approval_exec_code.up.sql.
ALTER TABLE approval_requests ADD COLUMN exec_code TEXT NOT NULL DEFAULT '';
