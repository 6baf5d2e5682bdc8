package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	// The time zone database is embedded, so a time zone setting is
	// checked (and applied) the same on a machine without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/i18n"
)

// Theme is a user's colour scheme choice.
type Theme string

// The themes a user may choose.
const (
	ThemeSystem Theme = "system" // follow the device (prefers-color-scheme)
	ThemeLight  Theme = "light"
	ThemeDark   Theme = "dark"
)

// Themes lists the themes, the default first.
var Themes = []Theme{ThemeSystem, ThemeLight, ThemeDark}

// Valid reports whether t is a known theme.
func (t Theme) Valid() bool { return t == ThemeSystem || t == ThemeLight || t == ThemeDark }

// Preferences are a user's display settings. The zero value (with Theme
// empty, read as system) follows the device and the browser.
type Preferences struct {
	Theme    Theme  `db:"theme"`
	Language string `db:"language"`  // "" (the browser's) or one of i18n.Languages
	TimeZone string `db:"time_zone"` // "" (the browser's) or an IANA name
}

// Field names of a PreferencesError, as the settings form names them.
const (
	PrefTheme    = "theme"
	PrefLanguage = "language"
	PrefTimeZone = "time_zone"
)

// PreferencesError says which preference is not acceptable.
type PreferencesError struct {
	Field string // PrefTheme, PrefLanguage or PrefTimeZone
	Value string
}

func (e *PreferencesError) Error() string {
	return fmt.Sprintf("auth: unacceptable %s %q", e.Field, e.Value)
}

// Normalize fills defaults and checks every field, returning the first
// unacceptable one as a *PreferencesError.
func (p Preferences) Normalize() (Preferences, error) {
	p.TimeZone = strings.TrimSpace(p.TimeZone)
	if p.Theme == "" {
		p.Theme = ThemeSystem
	}
	if !p.Theme.Valid() {
		return p, &PreferencesError{Field: PrefTheme, Value: string(p.Theme)}
	}
	if p.Language != "" && !i18n.Supported(p.Language) {
		return p, &PreferencesError{Field: PrefLanguage, Value: p.Language}
	}
	if p.TimeZone != "" {
		if _, err := LoadTimeZone(p.TimeZone); err != nil {
			return p, &PreferencesError{Field: PrefTimeZone, Value: p.TimeZone}
		}
	}
	return p, nil
}

// LoadTimeZone resolves an IANA time zone name. Unlike time.LoadLocation
// it refuses "" and "Local" (which mean the server's zone, not a person's)
// and anything that looks like a path.
func LoadTimeZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || len(name) > 64 || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return nil, fmt.Errorf("auth: time zone %q: not an IANA name", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("auth: time zone %q: %w", name, err)
	}
	return loc, nil
}

// Preferences returns the display preferences of user id (the defaults
// when they never saved any).
func (s *Store) Preferences(ctx context.Context, id int64) (Preferences, error) {
	var p Preferences
	err := s.db.Read.GetContext(ctx, &p, `SELECT theme, language, time_zone FROM user_preferences WHERE user_id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return Preferences{Theme: ThemeSystem}, nil
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("auth: load preferences of user %d: %w", id, err)
	}
	return p, nil
}

// SetPreferences saves user id's display preferences after checking them
// (a *PreferencesError names the unacceptable one; nothing is saved then).
func (s *Store) SetPreferences(ctx context.Context, id int64, p Preferences) error {
	p, err := p.Normalize()
	if err != nil {
		return err
	}
	err = s.tx(ctx, func(tx *sqlx.Tx) error {
		if _, err := s.row(ctx, tx, `WHERE id = ?`, id); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO user_preferences (user_id, theme, language, time_zone, updated_at)
			VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (user_id) DO UPDATE SET theme = excluded.theme, language = excluded.language,
				time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
			id, string(p.Theme), p.Language, p.TimeZone, millis(s.now()))
		return err
	})
	if err != nil {
		return wrapUserErr("save preferences of", id, err)
	}
	return nil
}
