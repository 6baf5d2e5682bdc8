-- 0032: request rate limits counted in the database, so every replica of a
-- console sharing it counts the same requests (docs/replicas.md).
-- One row per limited key (kind 'anon': a client address not signed in).
-- tat is the bucket's "theoretical arrival time" in Unix milliseconds
-- (GCRA, a token bucket kept as one time): a request is allowed when the
-- bucket, refilled at the limit's rate since, holds a token. ok says
-- whether the last request was allowed (read back by the same upsert).
-- A row whose tat is past is a full bucket and may be removed.
CREATE TABLE rate_limits (
    kind TEXT    NOT NULL,
    key  TEXT    NOT NULL,
    tat  INTEGER NOT NULL,
    ok   INTEGER NOT NULL CHECK (ok IN (0, 1)),
    PRIMARY KEY (kind, key)
);
CREATE INDEX rate_limits_by_tat ON rate_limits(tat);
