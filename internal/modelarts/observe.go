package modelarts

import (
	"errors"
	"net/http"
	"strings"
	"time"
)

// Observer is told about every HTTP exchange the client makes, with
// ModelArts or with IAM: what it was, how it ended and how long it took. It
// is how the console counts calls (its metrics) without this package
// knowing about them. ObserveCall must be quick and safe for concurrent
// use; it is called on the caller's goroutine after each attempt (a read
// retried three times is three observations).
type Observer interface {
	ObserveCall(o CallObservation)
}

// CallObservation describes one exchange. It never carries a URL, a header
// or a body, so nothing secret can reach an Observer.
type CallObservation struct {
	// Service is ServiceModelArts or ServiceIAM.
	Service string
	// Operation names the API operation: list_servers, show_server,
	// list_images, batch_action, start_server, stop_server, reboot_server,
	// delete_server, change_os, reinstall_os, or get_token (IAM); "other"
	// for a path the client does not know.
	Operation string
	// Outcome is one of the Outcome* constants.
	Outcome  string
	Duration time.Duration
}

// Services an exchange can be with.
const (
	ServiceModelArts = "modelarts"
	ServiceIAM       = "iam"
)

// Outcomes of one exchange, from the client's side of the wire.
const (
	OutcomeOK           = "ok"            // HTTP 2xx
	OutcomeClientError  = "client_error"  // HTTP 4xx other than 429: the request was refused
	OutcomeThrottled    = "throttled"     // HTTP 429
	OutcomeServerError  = "server_error"  // HTTP 5xx
	OutcomeNetworkError = "network_error" // no HTTP answer: refused connection, reset, timeout
	OutcomeCanceled     = "canceled"      // the caller gave up (its context ended) before an answer
)

// callOutcome classifies one exchange from its status (0 without one) and
// transport error.
func callOutcome(status int, err error, ctxErr error) string {
	switch {
	case status == 0 && ctxErr != nil && errors.Is(err, ctxErr):
		return OutcomeCanceled
	case status == 0:
		return OutcomeNetworkError
	case status >= 200 && status <= 299:
		return OutcomeOK
	case status == http.StatusTooManyRequests:
		return OutcomeThrottled
	case status >= 400 && status <= 499:
		return OutcomeClientError
	default:
		return OutcomeServerError
	}
}

// operationOf names the DevServer API operation of method and URL path
// (…/v1/{project}/dev-servers[/…]).
func operationOf(method, path string) string {
	i := strings.Index(path, "/dev-servers")
	if i < 0 {
		return "other"
	}
	rest := strings.Trim(path[i+len("/dev-servers"):], "/")
	parts := strings.Split(rest, "/")
	switch {
	case rest == "" && method == http.MethodGet:
		return "list_servers"
	case rest == "images" && method == http.MethodGet:
		return "list_images"
	case rest == "action" && method == http.MethodPost:
		return "batch_action"
	case len(parts) == 1 && method == http.MethodGet:
		return "show_server"
	case len(parts) == 1 && method == http.MethodDelete:
		return "delete_server"
	case len(parts) == 2:
		switch parts[1] {
		case "start":
			return "start_server"
		case "stop":
			return "stop_server"
		case "reboot":
			return "reboot_server"
		case "changeos":
			return "change_os"
		case "reinstallos":
			return "reinstall_os"
		}
	}
	return "other"
}

// observe reports one exchange with ModelArts to the client's Observer.
func (c *Client) observe(req *http.Request, status int, err error, took time.Duration) {
	if c.obs == nil {
		return
	}
	c.obs.ObserveCall(CallObservation{
		Service:   ServiceModelArts,
		Operation: operationOf(req.Method, req.URL.Path),
		Outcome:   callOutcome(status, err, req.Context().Err()),
		Duration:  took,
	})
}
