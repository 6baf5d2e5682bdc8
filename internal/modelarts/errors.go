package modelarts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// ErrNotRecorded is wrapped by the error a state-changing call returns when
// its Recorder refused to record it (or no Recorder is configured and
// Config.AllowUnaudited is false). Nothing was sent.
var ErrNotRecorded = errors.New("call not recorded in the audit log, so it was not sent")

// Well-known error codes.
const (
	CodeNotFound     = "ModelArts.6404" // the DevServer does not exist (HTTP 400)
	CodeAuthFailed   = "APIGW.0301"     // signature or token rejected (HTTP 401)
	CodeThrottled    = "APIGW.0308"     // API Gateway rate limit (HTTP 429)
	CodeParamInvalid = "ModelArts.0104" // parameter error
)

// APIError is a non-2xx answer from ModelArts (or IAM): the HTTP status, the
// error_code and error_msg of the body (or code/message), and the
// X-Request-Id to quote to Huawei support.
type APIError struct {
	HTTPStatus int
	Code       string
	Message    string
	RequestID  string
	// RetryAfter is the delay the server asked for (Retry-After), or 0.
	RetryAfter time.Duration
}

// Error reads like "ModelArts.6404: LiteServer instance 'x' not found.
// (HTTP 400 Bad Request, request ID abc)", with a hint for well-known codes.
func (e *APIError) Error() string {
	var b strings.Builder
	switch {
	case e.Code != "" && e.Message != "":
		b.WriteString(e.Code + ": " + e.Message)
	case e.Code != "":
		b.WriteString(e.Code)
	case e.Message != "":
		b.WriteString(e.Message)
	default:
		b.WriteString("request failed")
	}
	fmt.Fprintf(&b, " (HTTP %d %s", e.HTTPStatus, http.StatusText(e.HTTPStatus))
	if e.RequestID != "" {
		b.WriteString(", request ID " + e.RequestID)
	}
	b.WriteString(")")
	if h := e.hint(); h != "" {
		b.WriteString("; " + h)
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch {
	case e.Code == CodeNotFound:
		return "the server does not exist (it may have been deleted)"
	case e.Code == CodeAuthFailed || strings.HasSuffix(e.Code, ".0301") || e.HTTPStatus == http.StatusUnauthorized:
		return "authentication failed: check the access key, secret key or token, the project ID and this machine's clock"
	case e.Code == CodeThrottled || e.HTTPStatus == http.StatusTooManyRequests:
		return "rate limited by API Gateway; try again in a few seconds"
	case e.HTTPStatus == http.StatusForbidden:
		return "permission denied: the IAM user lacks a ModelArts DevServer permission"
	case e.HTTPStatus >= 500:
		return "ModelArts had a server-side problem; try again later"
	}
	return ""
}

// Retryable reports whether a read may be retried: 429 and 5xx.
func (e *APIError) Retryable() bool {
	return e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500
}

// IsNotFound reports whether err says the DevServer does not exist: ModelArts
// answers HTTP 400 with ModelArts.6404 (a plain 404 also counts).
func IsNotFound(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.Code == CodeNotFound || (ae.HTTPStatus == http.StatusNotFound && ae.Code == "")
}

// parseAPIError builds an APIError from a non-2xx response. It understands
// {"error_code","error_msg"}, {"code","message"} and IAM's
// {"error":{"code","message"}}; any other body becomes a short, printable
// message so the status is never lost.
func parseAPIError(status int, header http.Header, body []byte) *APIError {
	e := &APIError{HTTPStatus: status}
	if header != nil {
		e.RequestID = requestID(header)
		e.RetryAfter = parseRetryAfter(header.Get("Retry-After"), time.Now())
	}
	var generic struct {
		ErrorCode json.RawMessage `json:"error_code"`
		ErrorMsg  string          `json:"error_msg"`
		Code      json.RawMessage `json:"code"`
		Message   string          `json:"message"`
		RequestID string          `json:"request_id"`
		Error     *struct {
			Code    json.RawMessage `json:"code"`
			Message string          `json:"message"`
			Title   string          `json:"title"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &generic); err == nil {
		e.Code = firstNonEmpty(rawString(generic.ErrorCode), rawString(generic.Code))
		e.Message = firstNonEmpty(generic.ErrorMsg, generic.Message)
		if generic.Error != nil {
			e.Code = firstNonEmpty(e.Code, rawString(generic.Error.Code))
			e.Message = firstNonEmpty(e.Message, generic.Error.Message, generic.Error.Title)
		}
		if e.RequestID == "" {
			e.RequestID = generic.RequestID
		}
	}
	// Only the code and message fields are kept, scrubbed: an endpoint or a
	// proxy that echoes the request must not carry credentials into errors
	// that are logged and shown. Any other body is dropped.
	e.Code = truncate(Scrub(e.Code), 64)
	e.Message = truncate(Scrub(e.Message), 300)
	return e
}

// rawString turns a JSON string or number into text ("" for anything else).
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// credentialRE finds "key": value and key=value pairs whose key names a
// credential; the value is replaced.
var credentialRE = regexp.MustCompile(`(?i)("?[a-z_-]*(?:password|passwd|secret|token|credential|authorization|access[_-]?key|api[_-]?key|sk|ak)"?\s*[:=]\s*)("(?:[^"\\]|\\.)*"|[^\s,;&}]+)`)

// opaqueRE finds long runs of token-like characters (signatures, IAM
// tokens, keys); UUIDs are kept.
var opaqueRE = regexp.MustCompile(`[A-Za-z0-9+/_=.-]{32,}`)

// Scrub removes credential-like content from text that came from upstream
// (an error message): values of keys that name a credential and long
// opaque tokens become [REDACTED]. Control characters are dropped.
func Scrub(s string) string {
	if s == "" {
		return s
	}
	s = strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || (unicode.IsControl(r) && r != ' ') {
			return ' '
		}
		return r
	}, s)
	s = credentialRE.ReplaceAllString(s, "${1}[REDACTED]")
	s = opaqueRE.ReplaceAllStringFunc(s, func(m string) string {
		if IsUUID(m) {
			return m
		}
		return "[REDACTED]"
	})
	return strings.Join(strings.Fields(s), " ")
}

// requestID is the id an answer carries for Huawei support.
func requestID(h http.Header) string {
	if h == nil {
		return ""
	}
	if id := h.Get("X-Request-Id"); id != "" {
		return id
	}
	return h.Get("X-IAM-Trace-Id")
}

// TransportError is an exchange that ended without a complete answer: the
// connection was refused or cut, the name did not resolve, or the time ran
// out. Written says whether any of the request reached the connection; when
// it did not, ModelArts cannot have acted.
type TransportError struct {
	Err     error
	Written bool
	Timeout bool
}

func newTransportError(err error, written bool) *TransportError {
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
	return &TransportError{Err: err, Written: written, Timeout: timeout}
}

func (e *TransportError) Error() string {
	switch {
	case !e.Written:
		return fmt.Sprintf("not sent: %v", e.Err)
	case e.Timeout:
		return fmt.Sprintf("no answer in time (the request may or may not have reached ModelArts): %v", e.Err)
	}
	return fmt.Sprintf("connection failed after the request was sent (it may or may not have reached ModelArts): %v", e.Err)
}

func (e *TransportError) Unwrap() error { return e.Err }

// RedirectError is a 3xx answer. The console never follows a redirect, so
// nothing went to Location.
type RedirectError struct {
	Status    int
	Location  string
	RequestID string
}

func newRedirectError(status int, h http.Header) *RedirectError {
	return &RedirectError{Status: status, Location: truncate(h.Get("Location"), 300), RequestID: requestID(h)}
}

func (e *RedirectError) Error() string {
	loc := e.Location
	if u, err := url.Parse(loc); err == nil {
		u.RawQuery, u.Fragment, u.User = "", "", nil
		loc = u.String()
	}
	return fmt.Sprintf("HTTP %d redirect to %q not followed (the console sends requests only to the configured endpoint)", e.Status, loc)
}

// DecodeError is a 2xx answer whose body could not be read: ModelArts
// probably acted, but the console cannot tell on which servers.
type DecodeError struct {
	Status    int
	RequestID string
	Err       error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("HTTP %d (request ID %s) but the response could not be decoded: %v", e.Status, e.RequestID, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
