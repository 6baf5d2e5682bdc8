package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

func (s *Server) registerHealthRoutes(e *echo.Echo) {
	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
}

// handleHealthz answers while the process is alive.
func (s *Server) handleHealthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// handleReadyz answers 200 once the database answers queries.
func (s *Server) handleReadyz(c echo.Context) error {
	if s.db == nil {
		return c.String(http.StatusServiceUnavailable, "database not configured\n")
	}
	var one int
	if err := s.db.Read.GetContext(ctx(c), &one, `SELECT 1`); err != nil {
		s.log.WarnContext(ctx(c), "readiness check failed", "err", err)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	return c.String(http.StatusOK, "ready\n")
}
