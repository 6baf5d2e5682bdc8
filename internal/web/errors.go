package web

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/views"
)

// Context keys set by middleware and read by render.
const (
	csrfContextKey  = "csrf"
	flashContextKey = "flash"
)

// handleError is the one path by which errors reach users. Known HTTP errors
// keep their status and get a safe message; anything else is logged with its
// request id and shown as a generic 500. htmx requests get a fragment, plain
// requests a full page.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		s.log.ErrorContext(ctx(c), "error after response was committed", slog.String("error", err.Error()))
		return
	}
	status := http.StatusInternalServerError
	msg := "Something went wrong on our side. The error has been logged; please try again."
	var he *echo.HTTPError
	if errors.As(err, &he) {
		status = he.Code
		if m, ok := he.Message.(string); ok && m != "" && status < 500 {
			msg = m
		} else if status < 500 {
			msg = http.StatusText(status)
		}
		if he.Internal != nil && status >= 500 {
			s.log.ErrorContext(ctx(c), "request failed", slog.Int("status", status),
				slog.String("error", he.Internal.Error()),
				slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
		}
	} else {
		s.log.ErrorContext(ctx(c), "request failed", slog.Int("status", status),
			slog.String("error", err.Error()),
			slog.String("request_id", c.Response().Header().Get(echo.HeaderXRequestID)))
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	var rerr error
	if isHTMX(c) {
		rerr = s.render(c, status, views.ErrorFragment(msg))
	} else {
		rerr = s.render(c, status, views.ErrorPage(status, http.StatusText(status), msg))
	}
	if rerr != nil {
		s.log.ErrorContext(ctx(c), "render error page", slog.String("error", rerr.Error()))
		_ = c.String(status, msg)
	}
}
