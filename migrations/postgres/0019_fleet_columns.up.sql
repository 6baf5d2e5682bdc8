-- 0019 (PostgreSQL): the optional fleet-table columns each user chose to
-- see. Same shape as ../0019_fleet_columns.up.sql.
CREATE TABLE fleet_columns (
    user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    columns    TEXT   NOT NULL,
    updated_at BIGINT NOT NULL
);
