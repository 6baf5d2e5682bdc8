-- 0020 (PostgreSQL): approval requests (internal/approval, docs/approvals.md).
-- Same shape as ../0020_approvals.up.sql; read that file for what each column
-- means. Times are Unix milliseconds (UTC). A request leaves 'pending' once,
-- by a conditional UPDATE ... WHERE state = 'pending', which PostgreSQL's row
-- locks make hold across replicas too (the second UPDATE re-checks the row
-- after the first commits and matches nothing).
CREATE TABLE approval_requests (
    id             TEXT   PRIMARY KEY,
    requester_id   BIGINT NOT NULL,
    requester_name TEXT   NOT NULL,
    action         TEXT   NOT NULL CHECK (action IN ('START', 'STOP', 'REBOOT', 'CHANGEOS', 'REINSTALLOS', 'DELETE')),
    servers        TEXT   NOT NULL,
    skipped        TEXT   NOT NULL DEFAULT '[]',
    params         TEXT   NOT NULL DEFAULT '{}',
    secrets        BYTEA,
    reason         TEXT   NOT NULL,
    state          TEXT   NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'approved', 'denied', 'withdrawn', 'expired')),
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    decided_at     BIGINT,
    decider_id     BIGINT NOT NULL DEFAULT 0,
    decider_name   TEXT   NOT NULL DEFAULT '',
    comment        TEXT   NOT NULL DEFAULT '',
    batch_id       TEXT   NOT NULL DEFAULT '',
    exec_error     TEXT   NOT NULL DEFAULT '',
    CHECK (state = 'pending' OR secrets IS NULL),
    CHECK (state = 'pending' OR decided_at IS NOT NULL)
);
CREATE INDEX approval_requests_by_state ON approval_requests(state, expires_at);
CREATE INDEX approval_requests_by_requester ON approval_requests(requester_id, state);
CREATE INDEX approval_requests_by_time ON approval_requests(created_at DESC, id);
CREATE INDEX approval_requests_by_batch ON approval_requests(batch_id) WHERE batch_id <> '';
