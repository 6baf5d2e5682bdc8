-- 0020: approval requests (internal/approval, docs/approvals.md). An action
-- the approval policy covers is not sent when the operator confirms it: it
-- becomes a request that a second person (an approver or an admin) approves
-- or denies. Times are Unix milliseconds (UTC).
--
-- state moves once, from 'pending' to one of the others, by a conditional
-- UPDATE ... WHERE state = 'pending': a request is decided exactly once.
--
-- secrets holds the admin password and user data of a Change OS / Reinstall
-- OS, sealed with AES-256-GCM under a key that is not in this database
-- (CONSOLE_SECRET_KEY or the key file beside it). It is erased (NULL) when
-- the request leaves 'pending', and the CHECK below makes a decided request
-- holding secrets impossible. params holds only what may be shown: the image,
-- the key pair name, whether a password was set, the user data's size and
-- SHA-256.
CREATE TABLE approval_requests (
    id             TEXT    PRIMARY KEY, -- UUID; also the correlation key in the audit log
    requester_id   INTEGER NOT NULL,
    requester_name TEXT    NOT NULL,
    action         TEXT    NOT NULL CHECK (action IN ('START', 'STOP', 'REBOOT', 'CHANGEOS', 'REINSTALLOS', 'DELETE')),
    servers        TEXT    NOT NULL, -- JSON array: the servers it will be sent to, with their state at request time
    skipped        TEXT    NOT NULL DEFAULT '[]', -- JSON array: selected servers left out at request time, with reasons
    params         TEXT    NOT NULL DEFAULT '{}',
    secrets        BLOB,
    reason         TEXT    NOT NULL,
    state          TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'approved', 'denied', 'withdrawn', 'expired')),
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    decided_at     INTEGER,          -- when it left 'pending'
    decider_id     INTEGER NOT NULL DEFAULT 0, -- approver, denier or withdrawer (0: the console itself)
    decider_name   TEXT    NOT NULL DEFAULT '',
    comment        TEXT    NOT NULL DEFAULT '',
    batch_id       TEXT    NOT NULL DEFAULT '', -- the batch an approval ran
    exec_error     TEXT    NOT NULL DEFAULT '', -- why an approved request ran no batch
    CHECK (state = 'pending' OR secrets IS NULL),
    CHECK (state = 'pending' OR decided_at IS NOT NULL)
);
CREATE INDEX approval_requests_by_state ON approval_requests(state, expires_at);
CREATE INDEX approval_requests_by_requester ON approval_requests(requester_id, state);
CREATE INDEX approval_requests_by_time ON approval_requests(created_at DESC, id);
CREATE INDEX approval_requests_by_batch ON approval_requests(batch_id) WHERE batch_id <> '';
