package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/views"
)

// Echo context keys set by the auth middleware (besides csrfContextKey).
const (
	userContextKey           = "user"            // *auth.User, nil when signed out
	sessionContextKey        = "session"         // *auth.Session, nil when signed out
	csrfBindingContextKey    = "csrf_binding"    // what the CSRF token is bound to
	sessionExpiredContextKey = "session_expired" // true when the request's session just timed out
	userDisabledContextKey   = "user_disabled"   // true when the request's session belongs to a disabled user
	pendingUserContextKey    = "pending_user"    // *auth.User whose sign-in waits for the second factor
	enrolRequiredContextKey  = "enrol_required"  // true when the user's role needs a factor they lack
)

// contentSecurityPolicy allows only the console's own scripts, styles and
// images: no inline script or style, no eval, no framing, forms post only
// to the console.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"

// useAuth installs, in order, the middleware every request passes: security
// headers, session loading and CSRF verification. Route-level checks are
// requireSignedIn and require.
//
// Unless e already has an IPExtractor, client addresses (for sign-in
// throttling and the audit log) come from the connection. Only when
// CONSOLE_TRUSTED_PROXIES names the reverse proxies is X-Forwarded-For
// believed, and then only as set by those proxies: Echo's default would
// believe any client's header and let a guesser dodge the per-address limit.
func (s *Server) useAuth(e *echo.Echo) {
	if e.IPExtractor == nil {
		e.IPExtractor = clientIPExtractor(s.trustedProxies)
	}
	s.anonLimiter = newAnonymousLimiter(s.users)
	e.Use(s.securityHeaders, s.limitBody, s.loadSession, s.localize, s.throttleAnonymous, s.verifyCSRF, s.enforceEnrolment, s.selectProject)
}

// maxBodyBytes bounds every request body: the largest form, an OS change
// with 32 KiB of user data given as a file, fits with room to spare.
const maxBodyBytes = 256 << 10

// maxFormMemory is what a multipart form may hold in memory; with bodies
// bounded by maxBodyBytes nothing spills to temporary files.
const maxFormMemory = maxBodyBytes

// errTooLarge is the answer to a request body over maxBodyBytes.
var errTooLarge = httpError(http.StatusRequestEntityTooLarge, "err.too_large")

// limitBody bounds the request body before anything reads it. It must run
// before verifyCSRF, which reads the form of a request without the CSRF
// header: a limit on a route alone comes too late, after an unbounded
// form (held in memory up to 32 MiB, its files on disk without limit)
// has already been read, even for visitors who are not signed in.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > maxBodyBytes {
			return errTooLarge
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(c.Response(), r.Body, maxBodyBytes)
		}
		return next(c)
	}
}

// parseForm reads the form of a state-changing request (url-encoded or
// multipart) once, so that handlers find it parsed. A body over the limit
// gives errTooLarge; other malformed bodies leave the form empty, which
// handlers answer like missing fields.
func parseForm(r *http.Request) error {
	var err error
	if ct := r.Header.Get(echo.HeaderContentType); strings.HasPrefix(ct, echo.MIMEMultipartForm) {
		err = r.ParseMultipartForm(maxFormMemory)
	} else {
		err = r.ParseForm()
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	return nil
}

// securityHeaders sets the headers every response carries. Cache-Control
// no-store keeps pages with user data out of caches; static assets
// override it with their own caching.
func (s *Server) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		h.Set("Cache-Control", "no-store")
		if s.sessions != nil && s.sessions.SecureRequest(c.Request()) {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		return next(c)
	}
}

// noSessionPath reports paths that never need the session: static assets
// and health checks (they are GET-only, so CSRF does not apply either).
func noSessionPath(p string) bool {
	return strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz"
}

// loadSession resolves the request's session. The user (nil when signed
// out) goes into the Echo context and, with the client's address, into
// the request context (auth.WithUser, auth.WithActor), where templates and
// the audit log find it. It also computes the CSRF token for the page.
func (s *Server) loadSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if noSessionPath(r.URL.Path) {
			return next(c)
		}
		u, sess, err := s.sessions.Load(r)
		bindTo := sess
		switch {
		case err == nil:
		case errors.Is(err, auth.ErrSecondFactorPending):
			// Only the code form sees this user; CSRF tokens bind to the
			// pending session so that form can be posted.
			c.Set(pendingUserContextKey, u)
			bindTo = sess
			u, sess = nil, nil
		case errors.Is(err, auth.ErrNoSession):
			u, sess = nil, nil
			if errors.Is(err, auth.ErrSessionExpired) {
				c.Set(sessionExpiredContextKey, true)
			}
			if errors.Is(err, auth.ErrUserDisabled) {
				c.Set(userDisabledContextKey, true)
			}
		default:
			return err
		}
		actor := auth.Actor{ClientIP: c.RealIP(), UserAgent: truncateUA(r.UserAgent())}
		ctx := r.Context()
		if u != nil {
			actor.UserID, actor.Name, actor.Role = u.ID, u.Name, u.Role
			ctx = auth.WithUser(ctx, u)
		}
		ctx = auth.WithActor(ctx, actor)
		c.SetRequest(r.WithContext(ctx))
		c.Set(userContextKey, u)
		c.Set(sessionContextKey, sess)
		if u != nil && !u.HasFactor && s.factorRequired(u.Role) {
			c.Set(enrolRequiredContextKey, true)
		}
		binding := s.sessions.CSRFBinding(c.Response(), r, bindTo)
		c.Set(csrfBindingContextKey, binding)
		c.Set(csrfContextKey, s.sessions.CSRFToken(binding))
		return next(c)
	}
}

func truncateUA(ua string) string {
	if len(ua) > 512 {
		return ua[:512]
	}
	return ua
}

// errCSRF is the answer to a state-changing request without a valid token.
var errCSRF = httpError(http.StatusForbidden, "err.csrf")

// verifyCSRF refuses every state-changing request (anything but GET, HEAD,
// OPTIONS and TRACE) whose token, from the X-CSRF-Token header (htmx) or
// the _csrf field of the request body, does not match the session. A token
// in the query string is never read: URLs end up in logs, history and
// Referer headers. It runs before any handler, so a refused request
// changes nothing.
func (s *Server) verifyCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return next(c)
		}
		if reason := crossSiteReason(r); reason != "" {
			s.recordDenied(c, map[string]string{"reason": reason})
			return errCSRF
		}
		if err := parseForm(r); err != nil {
			return err
		}
		binding, _ := c.Get(csrfBindingContextKey).(string)
		token := r.Header.Get("X-CSRF-Token")
		if token == "" {
			token = bodyValue(c, "_csrf")
		}
		if s.sessions.VerifyCSRF(binding, token) {
			return next(c)
		}
		reason := "csrf_token_invalid"
		if token == "" {
			reason = "csrf_token_missing"
		}
		s.recordDenied(c, map[string]string{"reason": reason})
		return errCSRF
	}
}

// crossSiteReason is a second line of defence behind the CSRF token: a
// state-changing request that the browser itself says came from another
// site (Sec-Fetch-Site: cross-site or same-site) is refused even with a
// valid token, since a token can be planted with a cookie from a sibling
// subdomain, which would allow sign-in CSRF. The browser computes the
// header, so reverse proxies that rewrite Host do not disturb it; clients
// that do not send it (scripts, older browsers) are judged by the token
// alone. It returns "" to let the request through, else the reason
// recorded in the audit log.
func crossSiteReason(r *http.Request) string {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return ""
	}
	return "cross_site_request"
}

// bodyValue returns a field of the request body (url-encoded or
// multipart), never of the query string. Secrets and one-time tokens are
// read with it.
func bodyValue(c echo.Context, name string) string {
	r := c.Request()
	if r.PostForm == nil {
		if err := parseForm(r); err != nil {
			return ""
		}
	}
	if vs := r.PostForm[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// factorRequired reports whether CONSOLE_MFA_REQUIRED names role.
func (s *Server) factorRequired(role auth.Role) bool {
	for _, r := range s.mfaRequired {
		if r == string(role) {
			return true
		}
	}
	return false
}

// enrolmentPaths are all a user may reach while their role needs a second
// factor they have not set up.
var enrolmentPaths = map[string]bool{
	"/account": true, "/account/factor": true, "/account/factor/confirm": true, "/signout": true,
}

// enforceEnrolment sends a signed-in user whose role must use a second
// factor (CONSOLE_MFA_REQUIRED), and who has none, to set one up: pages
// redirect to /account, anything else is refused (and audited).
func (s *Server) enforceEnrolment(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if c.Get(enrolRequiredContextKey) != true || enrolmentPaths[r.URL.Path] || noSessionPath(r.URL.Path) {
			return next(c)
		}
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isHTMX(c) {
			return c.Redirect(http.StatusSeeOther, "/account")
		}
		s.recordDenied(c, map[string]string{"reason": "second_factor_required"})
		if isHTMX(c) {
			c.Response().Header().Set("HX-Redirect", "/account")
		}
		return httpError(http.StatusForbidden, "err.factor_required")
	}
}

// pendingUser returns the user whose sign-in waits for a second factor.
func pendingUser(c echo.Context) *auth.User {
	u, _ := c.Get(pendingUserContextKey).(*auth.User)
	return u
}

// currentUser returns the signed-in user, or nil.
func currentUser(c echo.Context) *auth.User {
	u, _ := c.Get(userContextKey).(*auth.User)
	return u
}

// currentSession returns the signed-in session, or nil.
func currentSession(c echo.Context) *auth.Session {
	sess, _ := c.Get(sessionContextKey).(*auth.Session)
	return sess
}

// requireSignedIn lets signed-in users through. Others are sent to the
// sign-in page (a plain GET) or get 401 (htmx and state-changing
// requests; htmx is told to load the sign-in page).
func (s *Server) requireSignedIn() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if currentUser(c) == nil {
				return signInRequired(c)
			}
			return next(c)
		}
	}
}

// require lets through signed-in users whose role holds p. Anyone else
// signed in gets a 403 page and an access.denied entry in the audit log;
// the handler never runs, so nothing is sent to ModelArts.
func (s *Server) require(p auth.Permission) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			u := currentUser(c)
			if u == nil {
				return signInRequired(c)
			}
			if !u.Role.Can(p) {
				s.recordDenied(c, map[string]string{"reason": "role", "permission": string(p)})
				return httpError(http.StatusForbidden, "err.role", "Role", views.RoleName(ctx(c), u.Role))
			}
			return next(c)
		}
	}
}

// signInRequired answers a request that needs a signed-in user.
func signInRequired(c echo.Context) error {
	r := c.Request()
	target := "/signin"
	next := r.URL.RequestURI()
	if isHTMX(c) {
		// htmx asked for a fragment; return the user to the page they were on.
		next = ""
		if cu, err := url.Parse(r.Header.Get("HX-Current-URL")); err == nil {
			next = cu.RequestURI()
		}
	}
	q := url.Values{}
	if next = safeNext(next); next != "/" {
		q.Set("next", next)
	}
	switch {
	case c.Get(userDisabledContextKey) == true:
		q.Set("disabled", "1")
	case c.Get(sessionExpiredContextKey) == true:
		q.Set("expired", "1")
	}
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", target)
		return httpError(http.StatusUnauthorized, "err.session_ended")
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return c.Redirect(http.StatusSeeOther, target)
	}
	return httpError(http.StatusUnauthorized, "err.sign_in")
}

// safeNext returns next when it is a path on this console, else "/". It
// refuses absolute and scheme-relative URLs ("//host", "/\host"), so the
// sign-in page cannot be used to send users to another site.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	if u.Path == "/signin" || u.Path == "/signout" {
		return "/"
	}
	return next
}

// recordDenied records an access.denied event for the request.
func (s *Server) recordDenied(c echo.Context, detail map[string]string) {
	r := c.Request()
	d := map[string]string{"method": r.Method, "path": r.URL.Path}
	for k, v := range detail {
		d[k] = v
	}
	if err := s.recordEvent(r.Context(), auth.EventAccessDenied, auth.ActorFrom(r.Context()), d); err != nil {
		s.log.ErrorContext(r.Context(), "access denied but not recorded in the audit log", slog.Any("err", err))
	}
}

// recordEvent writes a security event to the audit log on behalf of actor.
func (s *Server) recordEvent(ctx context.Context, kind string, actor auth.Actor, detail map[string]string) error {
	return s.audit.RecordEvent(ctx, audit.EventKind(kind), audit.Actor{
		UserID: actor.UserID, Name: actor.Name, Role: string(actor.Role),
		ClientIP: actor.ClientIP, UserAgent: actor.UserAgent,
	}, detail)
}

// clientIPExtractor returns how to find a request's client address: the
// connection's, or, with trusted proxies, the nearest X-Forwarded-For hop
// that is not one of them.
func clientIPExtractor(trusted []netip.Prefix) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range trusted {
		opts = append(opts, echo.TrustIPRange(prefixToIPNet(p)))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
