package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// readyzTimeout bounds the readiness write, which queues behind the
// console's other writes on the single writer connection.
const readyzTimeout = 3 * time.Second

// handleReadyz answers 200 when the database takes a write, else 503. It
// also reports, without failing, whether ModelArts answered the fleet
// cache's last walk: the console still serves its pages and the audit log
// when the cloud is down, and a restart would not bring the cloud back.
func (s *Server) handleReadyz(c echo.Context) error {
	if s.db == nil {
		return c.String(http.StatusServiceUnavailable, "database: not configured\n")
	}
	wctx, cancel := context.WithTimeout(ctx(c), readyzTimeout)
	defer cancel()
	if _, err := s.db.Write.ExecContext(wctx, `INSERT INTO settings (key, value) VALUES ('readyz_at', ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		s.log.WarnContext(ctx(c), "readiness check: the database does not take writes", "err", err)
		return c.String(http.StatusServiceUnavailable, "database: not writable\n")
	}
	var b strings.Builder
	b.WriteString("ready\ndatabase: writable\n")
	for _, p := range s.projects {
		if p.Fleet == nil {
			continue
		}
		// One project keeps the plain "modelarts:" line; several name theirs.
		label := "modelarts"
		if len(s.projects) > 1 {
			label = "modelarts " + p.Name
		}
		switch w := p.Fleet.LastWalk(); {
		case w.At.IsZero():
			fmt.Fprintf(&b, "%s: not contacted yet\n", label)
		case w.Err != nil:
			fmt.Fprintf(&b, "%s: unreachable at the last fleet walk (%s): %s\n", label, w.At.UTC().Format(time.RFC3339), w.Err)
		default:
			fmt.Fprintf(&b, "%s: reachable at the last fleet walk (%s)\n", label, w.At.UTC().Format(time.RFC3339))
		}
	}
	return c.String(http.StatusOK, b.String())
}
