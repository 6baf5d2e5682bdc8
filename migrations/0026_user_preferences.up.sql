-- 0026: each user's display preferences: theme, language and time zone.
-- A missing row means the defaults (follow the device's theme, the
-- browser's language and the browser's time zone). Times are Unix
-- milliseconds (UTC).
CREATE TABLE user_preferences (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    theme      TEXT    NOT NULL DEFAULT 'system' CHECK (theme IN ('system', 'light', 'dark')),
    language   TEXT    NOT NULL DEFAULT '' CHECK (language IN ('', 'en', 'zh-Hans')),
    time_zone  TEXT    NOT NULL DEFAULT '' CHECK (length(time_zone) <= 64),
    updated_at INTEGER NOT NULL
);
