-- 0014: a second factor (TOTP, RFC 6238) with one-time recovery codes, and
-- sign-ins that wait for it.
-- Times are Unix milliseconds (UTC).

-- One factor per user. confirmed_at is NULL while enrolment waits for the
-- first code. secret is the base32 TOTP secret, sealed ("sealed:v1:...")
-- when the console has a secret key outside the database, else stored as
-- "plain:..." (see docs/security.md). last_step is the highest 30-second
-- time step whose code was accepted: a code is accepted once.
CREATE TABLE user_factors (
    user_id      INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    secret       TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0
);

-- Ten one-time recovery codes per confirmed factor, only their SHA-256.
CREATE TABLE recovery_codes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   INTEGER
);
CREATE INDEX recovery_codes_by_user ON recovery_codes(user_id);

-- A session whose password was right but whose second factor is still to
-- be given: it signs nobody in (see auth.ErrSecondFactorPending).
ALTER TABLE sessions ADD COLUMN factor_pending INTEGER NOT NULL DEFAULT 0 CHECK (factor_pending IN (0, 1));
