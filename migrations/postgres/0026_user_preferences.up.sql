-- 0026 (PostgreSQL): each user's display preferences. Same shape as
-- ../0026_user_preferences.up.sql.
CREATE TABLE user_preferences (
    user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    theme      TEXT   NOT NULL DEFAULT 'system' CHECK (theme IN ('system', 'light', 'dark')),
    language   TEXT   NOT NULL DEFAULT '' CHECK (language IN ('', 'en', 'zh-Hans')),
    time_zone  TEXT   NOT NULL DEFAULT '' CHECK (length(time_zone) <= 64),
    updated_at BIGINT NOT NULL
);
