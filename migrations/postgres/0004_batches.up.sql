-- 0004 (PostgreSQL): batch actions. Same shape as ../0004_batches.up.sql;
-- read that file for what each table and column means. Times are Unix
-- milliseconds (UTC).
CREATE TABLE prepared_actions (
    token_hash TEXT   PRIMARY KEY,
    user_id    BIGINT NOT NULL,
    user_name  TEXT   NOT NULL,
    action     TEXT   NOT NULL CHECK (action IN ('START', 'STOP', 'REBOOT', 'CHANGEOS', 'REINSTALLOS', 'DELETE')),
    targets    TEXT   NOT NULL,
    skipped    TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    batch_id   TEXT
);
CREATE INDEX prepared_actions_by_expiry ON prepared_actions(expires_at);

CREATE TABLE batches (
    id          TEXT   PRIMARY KEY,
    user_id     BIGINT NOT NULL,
    user_name   TEXT   NOT NULL,
    action      TEXT   NOT NULL CHECK (action IN ('START', 'STOP', 'REBOOT', 'CHANGEOS', 'REINSTALLOS', 'DELETE')),
    params      TEXT   NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    chunk_size  BIGINT NOT NULL CHECK (chunk_size > 0),
    total       BIGINT NOT NULL,
    skipped     TEXT   NOT NULL DEFAULT '[]',
    status      TEXT   NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    finished_at BIGINT
);
CREATE INDEX batches_by_time ON batches(created_at DESC, id);
CREATE INDEX batches_by_user ON batches(user_id, created_at DESC, id);

CREATE TABLE batch_chunks (
    batch_id        TEXT   NOT NULL REFERENCES batches(id),
    n               BIGINT NOT NULL,
    server_ids      TEXT   NOT NULL,
    outcome         TEXT   NOT NULL DEFAULT 'pending'
                    CHECK (outcome IN ('pending', 'sending', 'ok', 'api_error', 'unknown', 'not_sent')),
    started_at      BIGINT,
    finished_at     BIGINT,
    http_status     BIGINT NOT NULL DEFAULT 0,
    error_code      TEXT   NOT NULL DEFAULT '',
    error_msg       TEXT   NOT NULL DEFAULT '',
    request_id      TEXT   NOT NULL DEFAULT '',
    transport_error TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (batch_id, n)
);

CREATE TABLE batch_servers (
    batch_id       TEXT   NOT NULL REFERENCES batches(id),
    server_id      TEXT   NOT NULL,
    name           TEXT   NOT NULL,
    chunk          BIGINT NOT NULL,
    initial_status TEXT   NOT NULL,
    ack_status     TEXT   NOT NULL DEFAULT '',
    ack_update_at  BIGINT NOT NULL DEFAULT 0,
    final_status   TEXT   NOT NULL DEFAULT '',
    finished_at    BIGINT,
    PRIMARY KEY (batch_id, server_id)
);
