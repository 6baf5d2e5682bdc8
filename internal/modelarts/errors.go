package modelarts

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
		e.RequestID = header.Get("X-Request-Id")
		if e.RequestID == "" {
			e.RequestID = header.Get("X-IAM-Trace-Id")
		}
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
	if e.Code == "" && e.Message == "" {
		e.Message = bodySnippet(body)
	}
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

// bodySnippet returns up to 200 printable characters of a non-JSON body,
// with whitespace collapsed, or "" when the body is empty or binary.
func bodySnippet(body []byte) string {
	s := strings.Join(strings.Fields(string(body)), " ")
	if s == "" {
		return ""
	}
	for _, r := range s {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return ""
		}
	}
	return truncate(s, 200)
}

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
