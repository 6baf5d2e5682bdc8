-- 0005: each user's selection of servers on the fleet page, kept server-side
-- so it survives paging, filtering, refreshes and reloads.
--
-- The selection is keyed by user id, not by session: a user's tabs and
-- devices share one selection (session ids are private to the auth package,
-- and a selection following the person is what an operator expects). It is
-- removed with the user. Server ids that no longer exist in the fleet are
-- dropped when the selection is resolved against a fleet snapshot.
-- created_at is Unix milliseconds (UTC).
CREATE TABLE selections (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    server_id  TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, server_id)
) WITHOUT ROWID;
