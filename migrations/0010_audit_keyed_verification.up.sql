-- 0010: verification of the keyed audit chain (internal/audit, docs/audit.md).
--
-- A verification is now either a full walk from the first entry ('full'),
-- an incremental one that resumes from the head of the last good
-- verification and checks only newer entries ('tail'), or a broken entry
-- found while showing a page of the log ('page'). from_id is the first entry
-- the run checked; keyed_from the id of the entry that switched the chain to
-- HMAC-SHA256 under the audit key (0: not keyed yet at head_id). mac is an
-- HMAC under the audit key over the row, so an incremental verification
-- resumes only from a head that the console itself recorded.
ALTER TABLE audit_verifications ADD COLUMN mode       TEXT    NOT NULL DEFAULT 'full';
ALTER TABLE audit_verifications ADD COLUMN from_id    INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_verifications ADD COLUMN keyed_from INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_verifications ADD COLUMN mac        TEXT    NOT NULL DEFAULT '';
