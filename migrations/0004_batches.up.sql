-- 0004: batch actions. A preview creates a prepared action with a one-time
-- token; executing it creates a batch, sent to ModelArts in chunks, and the
-- console follows each server until it settles. Times are Unix milliseconds
-- (UTC). Secrets (admin passwords, user data) are never stored here: they
-- travel only in the confirming POST and, redacted, in the audit log.

-- A previewed action waiting for its confirmation. Only the SHA-256 (hex) of
-- the token is stored. used_at/batch_id are set once, atomically, by the
-- first execution; a repeated submit finds them and sends nothing.
CREATE TABLE prepared_actions (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL,
    user_name  TEXT    NOT NULL,
    action     TEXT    NOT NULL CHECK (action IN ('START', 'STOP', 'REBOOT', 'CHANGEOS', 'REINSTALLOS', 'DELETE')),
    targets    TEXT    NOT NULL, -- JSON array of the servers that will be sent
    skipped    TEXT    NOT NULL, -- JSON array of the servers left out, with reasons
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    batch_id   TEXT
);
CREATE INDEX prepared_actions_by_expiry ON prepared_actions(expires_at);

-- One executed action. id is a UUID, also the correlation id of every audit
-- entry the batch caused. params holds the OS parameters with secrets
-- replaced by what an operator may see (whether a password was set, the
-- size and SHA-256 of the user data).
CREATE TABLE batches (
    id          TEXT    PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    user_name   TEXT    NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('START', 'STOP', 'REBOOT', 'CHANGEOS', 'REINSTALLOS', 'DELETE')),
    params      TEXT    NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL,
    chunk_size  INTEGER NOT NULL CHECK (chunk_size > 0),
    total       INTEGER NOT NULL,
    skipped     TEXT    NOT NULL DEFAULT '[]',
    status      TEXT    NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    finished_at INTEGER
);
CREATE INDEX batches_by_time ON batches(created_at DESC, id);
CREATE INDEX batches_by_user ON batches(user_id, created_at DESC, id);

-- One request of a batch (at most chunk_size servers). outcome:
--   pending   not sent yet
--   sending   the request is on its way
--   ok        ModelArts accepted it (HTTP 2xx)
--   api_error ModelArts refused it (http_status, error_code, error_msg, request_id)
--   unknown   timeout or transport failure after sending: it may or may not have acted
--   not_sent  the console did not send it (audit refused, invalid, console stopped)
CREATE TABLE batch_chunks (
    batch_id        TEXT    NOT NULL REFERENCES batches(id),
    n               INTEGER NOT NULL,
    server_ids      TEXT    NOT NULL, -- JSON array
    outcome         TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (outcome IN ('pending', 'sending', 'ok', 'api_error', 'unknown', 'not_sent')),
    started_at      INTEGER,
    finished_at     INTEGER,
    http_status     INTEGER NOT NULL DEFAULT 0,
    error_code      TEXT    NOT NULL DEFAULT '',
    error_msg       TEXT    NOT NULL DEFAULT '',
    request_id      TEXT    NOT NULL DEFAULT '',
    transport_error TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, n)
);

-- Each server of a batch: its status when the batch was prepared, the status
-- and update_at ModelArts' answer gave it (ack_status '' and ack_update_at 0
-- if none: a later list entry older than ack_update_at predates the action),
-- and, once the batch is done, the state it settled in.
CREATE TABLE batch_servers (
    batch_id       TEXT    NOT NULL REFERENCES batches(id),
    server_id      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    chunk          INTEGER NOT NULL,
    initial_status TEXT    NOT NULL,
    ack_status     TEXT    NOT NULL DEFAULT '',
    ack_update_at  INTEGER NOT NULL DEFAULT 0,
    final_status   TEXT    NOT NULL DEFAULT '',
    finished_at    INTEGER,
    PRIMARY KEY (batch_id, server_id)
);
