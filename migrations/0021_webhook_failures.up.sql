-- 0021: outgoing webhook messages that could not be delivered after every
-- retry (internal/notify), so admins see them on the approvals page. Only the
-- newest few hundred are kept. Nothing here is secret: messages carry no OS
-- parameters and the webhook URL (which often holds the chat tool's token)
-- is never stored. failed_at is Unix milliseconds (UTC).
CREATE TABLE webhook_failures (
    id        INTEGER PRIMARY KEY,
    failed_at INTEGER NOT NULL,
    event     TEXT    NOT NULL, -- approval.requested, ..., batch.finished
    subject   TEXT    NOT NULL DEFAULT '', -- the request or batch id
    title     TEXT    NOT NULL DEFAULT '',
    attempts  INTEGER NOT NULL,
    error     TEXT    NOT NULL
);
CREATE INDEX webhook_failures_by_time ON webhook_failures(failed_at DESC, id DESC);
