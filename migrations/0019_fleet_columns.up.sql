-- 0019: which optional columns of the fleet table each user chose to see
-- (issue 15). columns is a comma-separated list of column keys, in no
-- particular order; no row means the default (every column). It is removed
-- with the user. updated_at is Unix milliseconds (UTC).
CREATE TABLE fleet_columns (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    columns    TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);
