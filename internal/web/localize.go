package web

import (
	"log/slog"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/i18n"
)

// prefsContextKey holds the signed-in user's auth.Preferences (the
// defaults when signed out).
const prefsContextKey = "prefs"

// localize picks the request's language (the user's setting, else the
// browser's Accept-Language, else English) and puts its localizer into
// the request context, where templates and handlers find it
// (i18n.From). For a signed-in user it also loads their display
// preferences (theme, time zone) for the layout. It runs right after
// loadSession, so even errors of later middleware (CSRF, throttling) are
// shown in the person's language.
func (s *Server) localize(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if noSessionPath(r.URL.Path) {
			return next(c)
		}
		prefs := auth.Preferences{Theme: auth.ThemeSystem}
		if u := auth.UserFrom(r.Context()); u != nil && s.users != nil {
			p, err := s.users.Preferences(r.Context(), u.ID)
			if err != nil {
				// Display settings are not worth failing a page for: show
				// the defaults and say so in the log.
				s.log.WarnContext(r.Context(), "load display preferences", slog.Int64("user_id", u.ID), slog.Any("err", err))
			} else {
				prefs = p
			}
		}
		c.Set(prefsContextKey, prefs)
		lang := s.catalog.Match(prefs.Language, r.Header.Get("Accept-Language"))
		c.SetRequest(r.WithContext(i18n.With(r.Context(), s.catalog.Localizer(lang))))
		// Pages differ by language; caches (there are none for pages, which
		// are no-store) and tests can tell why.
		c.Response().Header().Add("Vary", "Accept-Language")
		return next(c)
	}
}

// loc returns the request's localizer (English when localize did not run).
func (s *Server) loc(c echo.Context) *i18n.Localizer {
	if l := i18n.From(c.Request().Context()); l != nil {
		return l
	}
	return s.catalog.Localizer(i18n.Default)
}

// prefs returns the request's display preferences.
func prefs(c echo.Context) auth.Preferences {
	if p, ok := c.Get(prefsContextKey).(auth.Preferences); ok {
		return p
	}
	return auth.Preferences{Theme: auth.ThemeSystem}
}
