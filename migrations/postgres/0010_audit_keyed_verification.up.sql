-- 0010 (PostgreSQL): verification of the keyed audit chain. Same shape as
-- ../0010_audit_keyed_verification.up.sql.
ALTER TABLE audit_verifications ADD COLUMN mode       TEXT   NOT NULL DEFAULT 'full';
ALTER TABLE audit_verifications ADD COLUMN from_id    BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_verifications ADD COLUMN keyed_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_verifications ADD COLUMN mac        TEXT   NOT NULL DEFAULT '';
