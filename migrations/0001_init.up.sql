-- 0001: settings shared by the console (generated session keys and the like).
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
