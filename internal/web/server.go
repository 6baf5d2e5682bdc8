// Package web is the console's HTTP layer: an Echo v4 server rendering templ
// pages with htmx, sessions, CSRF protection and role checks. Nothing imports
// web; it imports the domain packages (audit, auth, modelarts, fleet, batch)
// and views.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/logging"
	"github.com/devserver-console/console/internal/notify"
	"github.com/devserver-console/console/internal/store"
)

// Deps are the services the web layer is built on.
type Deps struct {
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (config.Config.TrustedProxies); empty: the connection's
	// address is the client's.
	TrustedProxies []netip.Prefix
	// MFARequired are the roles that must use a second factor
	// (config.Config.MFARequired, CONSOLE_MFA_REQUIRED).
	MFARequired []string
	Log         *slog.Logger
	DB          *store.DB
	Simulated   bool

	// Audit is the audit log: security events, denied access, review.
	Audit *audit.Store
	// Users are the console's accounts.
	Users *auth.Store
	// Sessions issues and checks sign-in sessions and CSRF tokens.
	Sessions *auth.SessionManager
	// Projects are the ModelArts targets, the default first; each has its
	// own fleet cache and batch service.
	Projects []Project
	// Selections keeps each user's selected servers; when nil, New builds
	// it over DB.
	Selections *fleet.Selections
	// Catalog holds the message catalogs; when nil, New loads the
	// embedded ones.
	Catalog *i18n.Catalog
	// Approvals keeps approval requests and enforces the two-person rule.
	Approvals *approval.Service
	// Notifier sends webhook messages (may be nil: none).
	Notifier *notify.Notifier
	// Requests, when set, is told about every request once it is answered
	// (metrics).
	Requests RequestObserver
}

// RequestObserver is told about every answered request: its method, the
// route pattern that served it (e.g. /batches/:id, never the raw path, so
// ids do not multiply the series; "" when no route matched), the status
// and how long it took. It must be quick and safe for concurrent use.
type RequestObserver interface {
	ObserveRequest(method, route string, status int, took time.Duration)
}

// Server is the console's HTTP server. Handlers are its methods; its fields
// are their dependencies.
type Server struct {
	trustedProxies []netip.Prefix
	mfaRequired    []string
	log            *slog.Logger
	db             *store.DB
	simulated      bool

	audit    *audit.Store
	users    *auth.Store
	sessions *auth.SessionManager
	// anonLimiter limits state-changing requests from people not signed in.
	anonLimiter *auth.RateLimit

	projects   []Project
	selections *fleet.Selections
	approvals  *approval.Service
	notifier   *notify.Notifier
	requests   RequestObserver

	catalog *i18n.Catalog

	e *echo.Echo
}

// New builds the server and its routes.
func New(d Deps) (*Server, error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	s := &Server{
		trustedProxies: d.TrustedProxies,
		mfaRequired:    d.MFARequired,
		log:            d.Log,
		db:             d.DB,
		simulated:      d.Simulated,

		audit:    d.Audit,
		users:    d.Users,
		sessions: d.Sessions,

		projects:   d.Projects,
		selections: d.Selections,
		approvals:  d.Approvals,
		notifier:   d.Notifier,
		requests:   d.Requests,

		catalog: d.Catalog,
	}
	if s.catalog == nil {
		c, err := i18n.Load()
		if err != nil {
			return nil, err
		}
		s.catalog = c
	}
	if s.selections == nil && d.DB != nil {
		s.selections = fleet.NewSelections(d.DB, nil)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Pre(headAsGet)
	e.Pre(middleware.RemoveTrailingSlashWithConfig(middleware.TrailingSlashConfig{RedirectCode: http.StatusMovedPermanently}))
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		// Every log line written while serving the request carries its id
		// (logging.RequestIDHandler reads it from the context).
		RequestIDHandler: func(c echo.Context, id string) {
			c.SetRequest(c.Request().WithContext(logging.WithRequestID(c.Request().Context(), id)))
		},
	}))
	e.Use(s.recoverPanics)
	e.Use(s.logRequests)
	s.useAuth(e)
	s.e = e
	s.routes()
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.e.ServeHTTP(w, r) }

// Echo returns the underlying router (for tests that walk its routes).
func (s *Server) Echo() *echo.Echo { return s.e }

// logRequests logs one line per request with slog. It never logs bodies,
// query strings or headers, so secrets cannot leak through it.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		req := c.Request()
		if s.requests != nil {
			s.requests.ObserveRequest(req.Method, c.Path(), c.Response().Status, time.Since(start))
		}
		level := slog.LevelInfo
		if c.Response().Status >= 500 {
			level = slog.LevelError
		}
		s.log.LogAttrs(req.Context(), level, "request",
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", c.Response().Status),
		)
		return nil
	}
}

// recoverPanics turns a panic in a handler into a logged 500.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				s.log.ErrorContext(c.Request().Context(), "panic in handler", slog.Any("panic", r), slog.String("path", c.Request().URL.Path))
				err = echo.NewHTTPError(http.StatusInternalServerError)
			}
		}()
		return next(c)
	}
}

// headAsGet answers HEAD like GET (health checks and link checkers use
// it). Echo routes the request it was given, so the method is switched in
// place for the handlers, the body they write is dropped, and the method is
// put back before net/http finishes the response.
func headAsGet(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method != http.MethodHead {
			return next(c)
		}
		r.Method = http.MethodGet
		defer func() { r.Method = http.MethodHead }()
		c.Response().Writer = noBodyWriter{c.Response().Writer}
		return next(c)
	}
}

// noBodyWriter drops the body of a response to HEAD.
type noBodyWriter struct{ http.ResponseWriter }

func (w noBodyWriter) Write(p []byte) (int, error) { return len(p), nil }

// Unwrap lets http.ResponseController reach the real writer.
func (w noBodyWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ctx returns the request's context.
func ctx(c echo.Context) context.Context { return c.Request().Context() }
