package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Kinds of failure reading from ModelArts, as a page names them.
const (
	cloudUnreachable = "unreachable" // no connection (refused, DNS, reset before an answer)
	cloudTimeout     = "timeout"     // no answer in time
	cloudCredentials = "credentials" // 401/403: keys, token or IAM permission refused
	cloudThrottled   = "throttled"   // 429: the API gateway's rate limit
	cloudFault       = "cloud"       // ModelArts answered 5xx or an unreadable body
	consoleFault     = "console"     // anything else: the console's own fault
)

// cloudFailureKind classifies an error of a ModelArts read (a fleet walk).
// It is the one place that decides which failure a page names; it looks
// only at the typed errors of modelarts, net and context, never at text.
func cloudFailureKind(err error) (kind string, retryAfter time.Duration) {
	var ae *modelarts.APIError
	if errors.As(err, &ae) {
		switch {
		case ae.HTTPStatus == http.StatusUnauthorized || ae.HTTPStatus == http.StatusForbidden || ae.Code == modelarts.CodeAuthFailed:
			return cloudCredentials, 0
		case ae.HTTPStatus == http.StatusTooManyRequests || ae.Code == modelarts.CodeThrottled:
			return cloudThrottled, ae.RetryAfter
		case ae.HTTPStatus >= 500:
			return cloudFault, 0
		}
		return consoleFault, 0 // a 4xx to a list call is a request the console got wrong
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return cloudTimeout, 0
	}
	var (
		op  *net.OpError
		dns *net.DNSError
	)
	if errors.As(err, &dns) || errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) {
		return cloudUnreachable, 0
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	if errors.As(err, &syn) || errors.As(err, &typ) {
		return cloudFault, 0
	}
	// A connection closed before any answer ("EOF") reads as unreachable.
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return cloudUnreachable, 0
	}
	return consoleFault, 0
}

// cloudProblem says in words which failure err is and what to do, for the
// signed-in user's role: viewers, who can do nothing about it, get a plain
// "ModelArts is unavailable". The error itself and the request id go to the
// log (the page shows the request id as a reference only).
func (s *Server) cloudProblem(c echo.Context, err error, what string) *views.CloudProblem {
	kind, wait := cloudFailureKind(err)
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	s.log.WarnContext(ctx(c), "ModelArts read failed", slog.String("what", what), slog.String("kind", kind),
		slog.String("request_id", reqID), slog.String("err", err.Error()))
	p := &views.CloudProblem{Kind: kind, Reference: reqID}
	u := currentUser(c)
	if u == nil || u.Role == auth.RoleViewer {
		p.Title = "ModelArts is unavailable."
		p.Advice = "Try again later."
		return p
	}
	switch kind {
	case cloudUnreachable:
		p.Title = "ModelArts could not be reached."
		p.Advice = "The console could not connect to the ModelArts endpoint. Check the network between the console and the cloud (and the endpoint setting), then press Refresh."
	case cloudTimeout:
		p.Title = "ModelArts is slow: it did not answer in time."
		p.Advice = "Wait a minute and press Refresh. If it keeps happening, ModelArts may be overloaded; check Huawei Cloud's service status."
	case cloudCredentials:
		p.Title = "ModelArts refused the console's credentials."
		p.Advice = "An administrator must check the access key and secret key (or token), the project ID, the IAM user's ModelArts permissions and this machine's clock."
	case cloudThrottled:
		p.Title = "ModelArts is throttling the console's requests."
		if wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			unit := "seconds"
			if secs == 1 {
				unit = "second"
			}
			p.Advice = fmt.Sprintf("Wait %d %s, then press Refresh.", secs, unit)
		} else {
			p.Advice = "Wait a few seconds, then press Refresh."
		}
	case cloudFault:
		p.Title = "ModelArts answered with an error on its side."
		p.Advice = "Wait a minute and press Refresh. If it keeps happening, check Huawei Cloud's service status."
	default:
		p.Title = "The console failed to read the fleet (a fault of the console itself)."
		p.Advice = "Press Refresh. If it keeps happening, tell an administrator and quote the reference below; the details are in the console's log."
	}
	return p
}
