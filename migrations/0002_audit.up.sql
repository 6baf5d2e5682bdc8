-- 0002: the audit log (internal/audit, docs/audit.md).
--
-- audit_entries is append-only: the triggers below reject every UPDATE and
-- DELETE, so a bug in the application cannot rewrite history. Each entry also
-- carries a SHA-256 hash chain (prev_hash, hash) over its canonical content,
-- so edits made outside the application (with the triggers dropped) are found
-- by `console audit verify`.
--
-- Every column is NOT NULL with a neutral default, so the canonical encoding
-- that the hash covers has no NULL/empty ambiguity.
CREATE TABLE audit_entries (
    id               INTEGER PRIMARY KEY,
    created_at       TEXT    NOT NULL,             -- UTC, fixed width 2006-01-02T15:04:05.000000Z; never decreases with id
    kind             TEXT    NOT NULL,             -- request | response | outcome_unknown | signin.success | ...
    actor_id         INTEGER NOT NULL DEFAULT 0,
    actor_name       TEXT    NOT NULL DEFAULT '',
    actor_role       TEXT    NOT NULL DEFAULT '',
    client_ip        TEXT    NOT NULL DEFAULT '',
    user_agent       TEXT    NOT NULL DEFAULT '',
    correlation_id   TEXT    NOT NULL DEFAULT '',  -- batch id shared by every chunk of one batch action
    action           TEXT    NOT NULL DEFAULT '',  -- START, STOP, ... for calls; the event kind for security events
    targets          TEXT    NOT NULL DEFAULT '[]',-- JSON [{"id","name"}] as the console knew them
    detail           TEXT    NOT NULL DEFAULT '{}',-- JSON object of event details
    method           TEXT    NOT NULL DEFAULT '',
    url              TEXT    NOT NULL DEFAULT '',
    request_headers  TEXT    NOT NULL DEFAULT '{}',-- JSON, secrets redacted
    request_body     BLOB    NOT NULL DEFAULT x'', -- exact bytes sent, secrets redacted in place
    status           INTEGER NOT NULL DEFAULT 0,
    response_headers TEXT    NOT NULL DEFAULT '{}',
    response_body    BLOB    NOT NULL DEFAULT x'',
    request_id       TEXT    NOT NULL DEFAULT '',  -- X-Request-Id of the response
    duration_ms      INTEGER NOT NULL DEFAULT 0,
    error            TEXT    NOT NULL DEFAULT '',
    outcome          TEXT    NOT NULL DEFAULT '',  -- success | api_error | transport_error | unknown (responses only)
    ref_id           INTEGER NOT NULL DEFAULT 0,   -- for a response or outcome_unknown entry: its request's id
    prev_hash        TEXT    NOT NULL,
    hash             TEXT    NOT NULL
);

-- Keyset pagination is "WHERE <filter> AND id < ? ORDER BY id DESC LIMIT n":
-- each filter column is indexed together with id so one index range answers it.
CREATE INDEX audit_entries_created_at ON audit_entries (created_at);
CREATE INDEX audit_entries_actor ON audit_entries (actor_name COLLATE NOCASE, id);
CREATE INDEX audit_entries_action ON audit_entries (action, id);
CREATE INDEX audit_entries_outcome ON audit_entries (outcome, id);
CREATE INDEX audit_entries_kind ON audit_entries (kind, id);
CREATE INDEX audit_entries_correlation ON audit_entries (correlation_id, id);
-- At most one response (or outcome_unknown entry) per request.
CREATE UNIQUE INDEX audit_entries_ref ON audit_entries (ref_id) WHERE ref_id <> 0;

-- Server filter: one row per target of an entry under its server id and again
-- under its lower-cased name, so "server id or name" is a single index range.
CREATE TABLE audit_entry_servers (
    server_key TEXT    NOT NULL,
    entry_id   INTEGER NOT NULL,
    PRIMARY KEY (server_key, entry_id)
) WITHOUT ROWID;

-- Free text over names, ids and error messages. Contentless: it stores only
-- the index; rowid is the entry id.
CREATE VIRTUAL TABLE audit_search USING fts5 (
    body,
    content = '',
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Results of `console audit verify` and of the page's "Verify now".
CREATE TABLE audit_verifications (
    id           INTEGER PRIMARY KEY,
    verified_at  TEXT    NOT NULL,
    ok           INTEGER NOT NULL,
    entries      INTEGER NOT NULL,
    first_broken INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    head_id      INTEGER NOT NULL,  -- last entry covered, and its hash: a later
    head_hash    TEXT    NOT NULL,  -- verify proves the log was not cut back past it
    duration_ms  INTEGER NOT NULL
);

CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only');
END;
CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only');
END;
-- INSERT OR REPLACE deletes the row it conflicts with without firing delete
-- triggers (recursive_triggers is off), so refuse such inserts up front. An
-- ordinary insert leaves id to SQLite (NEW.id is -1 here) and passes.
CREATE TRIGGER audit_entries_no_replace BEFORE INSERT ON audit_entries
WHEN EXISTS (SELECT 1 FROM audit_entries WHERE id = NEW.id)
  OR (NEW.ref_id <> 0 AND EXISTS (SELECT 1 FROM audit_entries WHERE ref_id = NEW.ref_id AND ref_id <> 0))
BEGIN
    SELECT RAISE(ABORT, 'audit_entries is append-only');
END;
CREATE TRIGGER audit_entry_servers_no_update BEFORE UPDATE ON audit_entry_servers
BEGIN
    SELECT RAISE(ABORT, 'audit_entry_servers is append-only');
END;
CREATE TRIGGER audit_entry_servers_no_delete BEFORE DELETE ON audit_entry_servers
BEGIN
    SELECT RAISE(ABORT, 'audit_entry_servers is append-only');
END;
CREATE TRIGGER audit_verifications_no_update BEFORE UPDATE ON audit_verifications
BEGIN
    SELECT RAISE(ABORT, 'audit_verifications is append-only');
END;
CREATE TRIGGER audit_verifications_no_delete BEFORE DELETE ON audit_verifications
BEGIN
    SELECT RAISE(ABORT, 'audit_verifications is append-only');
END;
CREATE TRIGGER audit_verifications_no_replace BEFORE INSERT ON audit_verifications
WHEN EXISTS (SELECT 1 FROM audit_verifications WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'audit_verifications is append-only');
END;
