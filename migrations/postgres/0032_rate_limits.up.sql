-- 0032 (PostgreSQL): request rate limits counted in the database. Same
-- shape as ../0032_rate_limits.up.sql.
CREATE TABLE rate_limits (
    kind TEXT   NOT NULL,
    key  TEXT   NOT NULL,
    tat  BIGINT NOT NULL,
    ok   BIGINT NOT NULL CHECK (ok IN (0, 1)),
    PRIMARY KEY (kind, key)
);
CREATE INDEX rate_limits_by_tat ON rate_limits(tat);
