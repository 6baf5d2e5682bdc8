-- 0033: why an approved request ran no batch, as a stable code beside the
-- English text (approval.Exec* constants), so pages and messages can say it
-- in the reader's language; '' for rows written before (their text is shown).
ALTER TABLE approval_requests ADD COLUMN exec_code TEXT NOT NULL DEFAULT '';
