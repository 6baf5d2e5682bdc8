package web

import (
	"bytes"
	"net/http"
	"sync"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/views"
)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render writes cmp as the response with the given status. It renders into a
// buffer first, so a half-rendered page never ships, and it is the one place
// that sets the HTML content type and Vary: HX-Request.
func (s *Server) render(c echo.Context, status int, cmp templ.Component) error {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	rctx := views.WithPage(c.Request().Context(), s.pageContext(c))
	if err := cmp.Render(rctx, buf); err != nil {
		return err
	}
	h := c.Response().Header()
	h.Add("Vary", "HX-Request")
	return c.HTMLBlob(status, buf.Bytes())
}

// pageContext gathers what every page shows about the request.
func (s *Server) pageContext(c echo.Context) views.PageContext {
	p := prefs(c)
	pc := views.PageContext{
		User:      auth.UserFrom(c.Request().Context()),
		Simulated: s.simulated,
		Path:      c.Request().URL.Path,
		Theme:     p.Theme,
		TimeZone:  p.TimeZone,
	}
	if tok, ok := c.Get(csrfContextKey).(string); ok {
		pc.CSRFToken = tok
	}
	if u := pc.User; u != nil && s.approvals != nil && (u.Role.Can(auth.PermRunActions) || approval.CanDecide(u)) {
		n, err := s.approvals.PendingCount(c.Request().Context(), u, s.limitedTo(c)...)
		if err != nil {
			s.log.WarnContext(c.Request().Context(), "count pending approvals", "err", err)
		}
		pc.PendingApprovals = n
	}
	pc.Project, pc.Projects = projectViews(c)
	return pc
}

// isHTMX reports whether the request came from htmx.
func isHTMX(c echo.Context) bool { return c.Request().Header.Get("HX-Request") == "true" }

// redirect sends the browser to url after a successful form post: 303 for
// ordinary requests, HX-Redirect for htmx requests.
func redirect(c echo.Context, url string) error {
	url = withProject(c, url)
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", url)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, url)
}
