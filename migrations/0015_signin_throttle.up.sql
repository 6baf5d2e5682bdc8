-- 0015: sign-in throttling by growing delays instead of lock-outs.
-- Failures are counted per (user name, client address) and per client
-- address; a user name alone is never locked for everyone.
-- kind 'pair': name is the lower-cased tried name, addr the client address.
-- kind 'addr': name is '', addr the client address.
-- blocked_until: no attempt is judged for the subject before this time.
CREATE TABLE signin_throttle (
    kind            TEXT    NOT NULL CHECK (kind IN ('pair', 'addr')),
    name            TEXT    NOT NULL,
    addr            TEXT    NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER NOT NULL,
    PRIMARY KEY (kind, name, addr)
);
CREATE INDEX signin_throttle_by_last ON signin_throttle(last_failure_at);

DROP TABLE login_failures;
DROP TABLE login_lockouts;
