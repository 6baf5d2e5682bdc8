package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/views"
)

// Kinds of failure of a call to ModelArts.
const (
	cloudUnreachable = "unreachable" // no connection (refused, DNS, reset before an answer)
	cloudTimeout     = "timeout"     // no answer in time
	cloudCredentials = "credentials" // 401/403: keys, token or IAM permission refused
	cloudThrottled   = "throttled"   // 429: the API gateway's rate limit
	cloudFault       = "cloud"       // ModelArts answered 5xx
	cloudUnreadable  = "unreadable"  // a 2xx whose body could not be read
	cloudRedirect    = "redirect"    // a 3xx, which the console does not follow
	cloudRefused     = "refused"     // another 4xx: ModelArts refused the request as made
	consoleFault     = "console"     // anything else: the console's own fault
)

// cloudFailure is what went wrong with a call to ModelArts.
type cloudFailure struct {
	Kind       string        // one of the kinds above
	RetryAfter time.Duration // how long ModelArts asked to wait (throttled)
	Code       string        // the API's error code, when it answered with one
}

// classifyCloud is the one place that decides which failure err is, for
// every page and message that names one (the fleet page's problem panel,
// the error table's cloud messages). It looks only at the typed errors of
// modelarts, net, json and context, never at text.
func classifyCloud(err error) cloudFailure {
	var (
		ae *modelarts.APIError
		re *modelarts.RedirectError
		de *modelarts.DecodeError
		te *modelarts.TransportError
	)
	switch {
	case errors.As(err, &ae):
		f := cloudFailure{Code: ae.Code}
		switch {
		case ae.HTTPStatus == http.StatusUnauthorized || ae.HTTPStatus == http.StatusForbidden || ae.Code == modelarts.CodeAuthFailed:
			f.Kind = cloudCredentials
		case ae.HTTPStatus == http.StatusTooManyRequests || ae.Code == modelarts.CodeThrottled:
			f.Kind, f.RetryAfter = cloudThrottled, ae.RetryAfter
		case ae.HTTPStatus >= 500:
			f.Kind = cloudFault
		default:
			f.Kind = cloudRefused
		}
		return f
	case errors.As(err, &re):
		return cloudFailure{Kind: cloudRedirect}
	case errors.As(err, &de):
		return cloudFailure{Kind: cloudUnreadable}
	case errors.As(err, &te) && te.Timeout:
		return cloudFailure{Kind: cloudTimeout}
	case errors.As(err, &te):
		return cloudFailure{Kind: cloudUnreachable}
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return cloudFailure{Kind: cloudTimeout}
	}
	var (
		op  *net.OpError
		dns *net.DNSError
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &dns) || errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET):
		return cloudFailure{Kind: cloudUnreachable}
	case errors.As(err, &syn) || errors.As(err, &typ):
		return cloudFailure{Kind: cloudUnreadable}
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		// A connection closed before any answer ("EOF") reads as unreachable.
		return cloudFailure{Kind: cloudUnreachable}
	}
	return cloudFailure{Kind: consoleFault}
}

// cloudFailureKind is the kind a page's problem panel shows for a failed
// ModelArts read (a fleet walk), from classifyCloud: an unreadable answer is
// a fault of ModelArts, and a redirect or a 4xx to a list call is a request
// the console got wrong.
func cloudFailureKind(err error) (kind string, retryAfter time.Duration) {
	f := classifyCloud(err)
	switch f.Kind {
	case cloudUnreadable:
		return cloudFault, 0
	case cloudRedirect, cloudRefused:
		return consoleFault, 0
	}
	return f.Kind, f.RetryAfter
}

// cloudProblem says in words which failure err is and what to do, for the
// signed-in user's role: viewers, who can do nothing about it, get a plain
// "ModelArts is unavailable". The error itself and the request id go to the
// log (the page shows the request id as a reference only).
func (s *Server) cloudProblem(c echo.Context, err error, what string) *views.CloudProblem {
	kind, wait := cloudFailureKind(err)
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	// The request id is added to the line by the log handler (logging).
	s.log.WarnContext(ctx(c), "ModelArts read failed", slog.String("what", what), slog.String("kind", kind),
		slog.Any("err", err))
	p := &views.CloudProblem{Kind: kind, Reference: reqID}
	l := s.loc(c)
	u := currentUser(c)
	if u == nil || u.Role == auth.RoleViewer {
		p.Title = l.T("err.problem.viewer.title")
		p.Advice = l.T("err.problem.viewer.advice")
		return p
	}
	switch kind {
	case cloudUnreachable, cloudTimeout, cloudCredentials, cloudFault:
		p.Title = l.T("err.problem." + kind + ".title")
		p.Advice = l.T("err.problem." + kind + ".advice")
	case cloudThrottled:
		p.Title = l.T("err.problem.throttled.title")
		if wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			p.Advice = l.N("err.problem.throttled.wait", secs)
		} else {
			p.Advice = l.T("err.problem.throttled.advice")
		}
	default:
		p.Title = l.T("err.problem.console.title")
		p.Advice = l.T("err.problem.console.advice")
	}
	return p
}
