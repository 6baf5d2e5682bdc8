-- 0005 (PostgreSQL): each user's selection of servers on the fleet page.
-- Same shape as ../0005_selections.up.sql. created_at is Unix milliseconds.
CREATE TABLE selections (
    user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    server_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, server_id)
);
