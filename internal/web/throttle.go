package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
)

// Anonymous state-changing requests (sign-in attempts, and forged or stale
// posts from nobody signed in) are limited per client address, so nobody
// can flood the append-only audit log, where each of them is recorded, or
// keep the password hasher busy. Signed-in users are not limited here.
// The buckets are in the database, so replicas share them.
const (
	anonymousRate  = 1  // requests per second, sustained
	anonymousBurst = 60 // requests at once
)

// newAnonymousLimiter returns the per-address limit.
func newAnonymousLimiter(users *auth.Store) *auth.RateLimit {
	return users.NewRateLimit(auth.RateLimitAnonymous, anonymousRate, anonymousBurst)
}

// throttleAnonymous answers 429, recording nothing, when an address that
// is not signed in sends state-changing requests faster than the limit.
func (s *Server) throttleAnonymous(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return next(c)
		}
		if currentUser(c) != nil {
			return next(c)
		}
		ok, err := s.anonLimiter.Allow(c.Request().Context(), c.RealIP())
		if err != nil {
			return err
		}
		if !ok {
			c.Response().Header().Set("Retry-After", "60")
			return httpError(http.StatusTooManyRequests, "err.throttled")
		}
		return next(c)
	}
}
