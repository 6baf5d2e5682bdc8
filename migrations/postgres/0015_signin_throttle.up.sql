-- 0015 (PostgreSQL): sign-in throttling by growing delays instead of
-- lock-outs. Same shape as ../0015_signin_throttle.up.sql.
CREATE TABLE signin_throttle (
    kind            TEXT   NOT NULL CHECK (kind IN ('pair', 'addr')),
    name            TEXT   NOT NULL,
    addr            TEXT   NOT NULL,
    failures        BIGINT NOT NULL,
    last_failure_at BIGINT NOT NULL,
    blocked_until   BIGINT NOT NULL,
    PRIMARY KEY (kind, name, addr)
);
CREATE INDEX signin_throttle_by_last ON signin_throttle(last_failure_at);

DROP TABLE login_failures;
DROP TABLE login_lockouts;
