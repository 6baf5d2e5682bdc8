-- 0003: console users, server-side sessions and sign-in throttling.
-- Times are Unix milliseconds (UTC).

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    name                TEXT    NOT NULL COLLATE NOCASE UNIQUE,
    role                TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'approver', 'admin')),
    password_hash       TEXT    NOT NULL,
    disabled            INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    password_changed_at INTEGER NOT NULL
);

-- A session row per sign-in. The cookie carries a random 32-byte id; only
-- its SHA-256 (hex) is stored, so a copy of the database cannot be replayed
-- as cookies. revoked_at is set by sign-out, expiry, disabling the user or
-- changing their password; a revoked row never becomes valid again.
CREATE TABLE sessions (
    id_hash        TEXT    PRIMARY KEY,
    user_id        INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER,
    revoked_reason TEXT    NOT NULL DEFAULT '',
    client_ip      TEXT    NOT NULL DEFAULT '',
    user_agent     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions(user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_by_expiry ON sessions(expires_at);

-- Failed sign-in attempts within the throttling window, per subject:
-- kind 'user' (lower-cased user name, known or not) or 'addr' (client IP).
CREATE TABLE login_failures (
    id      INTEGER PRIMARY KEY,
    kind    TEXT    NOT NULL CHECK (kind IN ('user', 'addr')),
    subject TEXT    NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX login_failures_by_subject ON login_failures(kind, subject, at);

-- Active lock-outs: no sign-in for the subject until locked_until.
CREATE TABLE login_lockouts (
    kind         TEXT    NOT NULL CHECK (kind IN ('user', 'addr')),
    subject      TEXT    NOT NULL,
    locked_until INTEGER NOT NULL,
    PRIMARY KEY (kind, subject)
);
