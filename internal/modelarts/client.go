package modelarts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Client defaults and limits.
const (
	DefaultPageSize    = 100
	MaxPageSize        = 1024 // the list API's largest limit
	DefaultMaxAttempts = 4
	DefaultBaseDelay   = 200 * time.Millisecond
	DefaultMaxDelay    = 5 * time.Second
	// maxResponseBytes bounds how much of a response body is read.
	maxResponseBytes = 64 << 20
	// afterSendTimeout bounds Recorder.AfterSend, which runs even when the
	// caller's context has been cancelled.
	afterSendTimeout = 10 * time.Second
	userAgent        = "devserver-console"
	jsonContentType  = "application/json;charset=UTF-8"
)

var projectIDRE = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// RetryPolicy bounds the automatic retries of reads (GET). Reads are retried
// on HTTP 429, 5xx and network errors, with exponential backoff and full
// jitter: before attempt n+1 the client waits a random time in
// [0, min(MaxDelay, BaseDelay·2^(n-1))), or exactly the Retry-After the
// server sent (seconds or an HTTP date). A Retry-After longer than MaxDelay
// ends the retries and returns the error. State-changing calls are never
// retried: they are not idempotent.
type RetryPolicy struct {
	// MaxAttempts is the total number of tries of a read (default 4; 1 turns retries off).
	MaxAttempts int
	// BaseDelay is the backoff of the first retry (default 200ms).
	BaseDelay time.Duration
	// MaxDelay caps every wait (default 5s).
	MaxDelay time.Duration
	// Sleep waits for d or until ctx ends; nil uses a timer. Tests inject a fake.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a number in [0, 1); nil uses math/rand/v2.
	Jitter func() float64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = DefaultBaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = DefaultMaxDelay
	}
	if p.Sleep == nil {
		p.Sleep = sleepCtx
	}
	if p.Jitter == nil {
		p.Jitter = rand.Float64
	}
	return p
}

// backoff is the full-jitter delay before retry number n (1-based).
func (p RetryPolicy) backoff(n int) time.Duration {
	ceiling := p.MaxDelay
	if n-1 < 30 {
		if d := p.BaseDelay << (n - 1); d > 0 && d < ceiling {
			ceiling = d
		}
	}
	return time.Duration(p.Jitter() * float64(ceiling))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Config configures a Client.
type Config struct {
	// Endpoint is the ModelArts base URL, e.g. EndpointForRegion("cn-north-4")
	// or the simulator's URL.
	Endpoint string
	// ProjectID is the project the console manages (1–64 letters, digits, '-').
	ProjectID string
	// Auth adds credentials to every request; use NoAuth() explicitly for a
	// simulator without keys.
	Auth Authenticator
	// HTTPClient defaults to a client with a 60-second timeout. The client
	// uses a copy that never follows redirects, whatever CheckRedirect says:
	// credentials and bodies go only to the configured endpoint.
	HTTPClient *http.Client
	// AllowUnaudited permits state-changing calls without a Recorder (tests,
	// scripts); otherwise such a call fails with ErrNotRecorded and nothing
	// is sent. Reads never need a Recorder.
	AllowUnaudited bool
	// Retry bounds the retries of reads.
	Retry RetryPolicy
	// Logger receives retries and audit failures (never secrets); nil means slog.Default().
	Logger *slog.Logger
	// PageSize is the limit ListAllServers asks for (1–1024, default 100).
	PageSize int
	// Observer, when set, is told about every exchange with ModelArts
	// (metrics). Give the IAM authenticator its own (IAMConfig.Observer).
	Observer Observer
}

// Client calls the ModelArts DevServer API. It is safe for concurrent use.
type Client struct {
	base           string // endpoint without trailing slash
	projectID      string
	auth           Authenticator
	http           *http.Client
	allowUnaudited bool
	retry          RetryPolicy
	log            *slog.Logger
	pageSize       int
	obs            Observer
}

// NewClient checks cfg and returns a Client.
func NewClient(cfg Config) (*Client, error) {
	var problems []string
	u, err := url.Parse(cfg.Endpoint)
	switch {
	case cfg.Endpoint == "":
		problems = append(problems, "Endpoint is required (a region's endpoint or the simulator's URL)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		problems = append(problems, fmt.Sprintf("Endpoint %q is not an http(s) URL", truncate(cfg.Endpoint, 100)))
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		problems = append(problems, "Endpoint must not carry a query, fragment or user info")
	}
	if !projectIDRE.MatchString(cfg.ProjectID) {
		problems = append(problems, "ProjectID must be 1 to 64 letters, digits or '-'")
	}
	if cfg.Auth == nil {
		problems = append(problems, "Auth is required (NewAKSK, StaticToken, NewIAMToken, or NoAuth for a simulator)")
	}
	pageSize := cfg.PageSize
	if pageSize == 0 {
		pageSize = DefaultPageSize
	}
	if pageSize < 1 || pageSize > MaxPageSize {
		problems = append(problems, fmt.Sprintf("PageSize must be 1 to %d", MaxPageSize))
	}
	if len(problems) > 0 {
		return nil, errors.New("modelarts: invalid config: " + strings.Join(problems, "; "))
	}
	hc := noRedirects(cfg.HTTPClient, 60*time.Second)
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Client{
		base:           strings.TrimRight(cfg.Endpoint, "/"),
		projectID:      cfg.ProjectID,
		auth:           cfg.Auth,
		http:           hc,
		allowUnaudited: cfg.AllowUnaudited,
		retry:          cfg.Retry.withDefaults(),
		log:            log,
		pageSize:       pageSize,
		obs:            cfg.Observer,
	}, nil
}

// Endpoint returns the base URL the client calls.
func (c *Client) Endpoint() string { return c.base }

// ProjectID returns the project the client acts on.
func (c *Client) ProjectID() string { return c.projectID }

// url builds {base}/v1/{project}/dev-servers{suffix}?{query}. Query values
// are encoded as the SDK does (space as %20).
func (c *Client) url(suffix string, query url.Values) string {
	u := c.base + "/v1/" + url.PathEscape(c.projectID) + "/dev-servers" + suffix
	if len(query) > 0 {
		u += "?" + strings.ReplaceAll(query.Encode(), "+", "%20")
	}
	return u
}

// ListServersPage returns one page of the project's servers
// (GET /v1/{project_id}/dev-servers?limit=&offset=). limit is 1–1024.
func (c *Client) ListServersPage(ctx context.Context, limit, offset int) (*ServerPage, error) {
	if limit < 1 || limit > MaxPageSize {
		return nil, fmt.Errorf("modelarts: list servers: limit %d is outside 1–%d", limit, MaxPageSize)
	}
	if offset < 0 {
		return nil, fmt.Errorf("modelarts: list servers: offset %d is negative", offset)
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}, "offset": {strconv.Itoa(offset)}}
	var page ServerPage
	if err := c.get(ctx, "list servers", c.url("", q), &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// ListAllServers walks the list pages (limit = PageSize, growing offset)
// until it has collected total servers or gets a short or empty page. A
// server that shows up on two pages (the list shifted while paging) is kept
// once. The list API has no name or status filter; filter the result.
func (c *Client) ListAllServers(ctx context.Context) ([]ServerResponse, error) {
	var all []ServerResponse
	seen := make(map[string]bool)
	offset := 0
	for {
		page, err := c.ListServersPage(ctx, c.pageSize, offset)
		if err != nil {
			return nil, fmt.Errorf("modelarts: list all servers (offset %d): %w", offset, err)
		}
		added := 0
		for _, s := range page.Data {
			if seen[s.ID] {
				continue
			}
			seen[s.ID] = true
			all = append(all, s)
			added++
		}
		offset += len(page.Data)
		switch {
		case len(page.Data) < c.pageSize:
			return all, nil
		case page.Total > 0 && int64(len(all)) >= page.Total:
			return all, nil
		case added == 0:
			return nil, fmt.Errorf("modelarts: list all servers: a full page at offset %d brought no new servers (%d of %d collected); the API is not paging",
				offset-len(page.Data), len(all), page.Total)
		}
	}
}

// ShowServer returns one server (GET /v1/{project_id}/dev-servers/{id}).
// A server that does not exist gives an APIError for which IsNotFound is true.
func (c *Client) ShowServer(ctx context.Context, id string) (*ServerResponse, error) {
	if !IsUUID(id) {
		return nil, fmt.Errorf("modelarts: show server: %q is not a DevServer id", truncate(id, 64))
	}
	var s ServerResponse
	if err := c.get(ctx, "show server "+id, c.url("/"+id, nil), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// ImageQuery filters ListImages; empty fields are left out.
type ImageQuery struct {
	ServerType ServerType
	FlavorName string
}

// ListImages returns the images a server can change to
// (GET /v1/{project_id}/dev-servers/images?server_type=&flavor_name=).
// Huawei does not document the response shape, so a bare JSON array and an
// object holding the array under "data" or "images" are all accepted.
func (c *Client) ListImages(ctx context.Context, q ImageQuery) ([]ServerImageResponse, error) {
	query := url.Values{}
	if q.ServerType != "" {
		query.Set("server_type", string(q.ServerType))
	}
	if q.FlavorName != "" {
		query.Set("flavor_name", q.FlavorName)
	}
	var raw json.RawMessage
	if err := c.get(ctx, "list images", c.url("/images", query), &raw); err != nil {
		return nil, err
	}
	images, err := decodeImages(raw)
	if err != nil {
		return nil, fmt.Errorf("modelarts: list images: %w", err)
	}
	return images, nil
}

func decodeImages(raw json.RawMessage) ([]ServerImageResponse, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return nil, errors.New("empty response body")
	}
	switch trimmed[0] {
	case '[':
		var list []ServerImageResponse
		if err := json.Unmarshal(trimmed, &list); err != nil {
			return nil, fmt.Errorf("decode image list: %w", err)
		}
		return list, nil
	case '{':
		var obj struct {
			Data   *[]ServerImageResponse `json:"data"`
			Images *[]ServerImageResponse `json:"images"`
		}
		if err := json.Unmarshal(trimmed, &obj); err != nil {
			return nil, fmt.Errorf("decode image list: %w", err)
		}
		switch {
		case obj.Data != nil:
			return *obj.Data, nil
		case obj.Images != nil:
			return *obj.Images, nil
		}
		return nil, errors.New(`image list object has neither "data" nor "images"`)
	}
	return nil, errors.New("image list is neither a JSON array nor an object")
}

// BatchAction validates req and, only if it is valid, sends it
// (POST /v1/{project_id}/dev-servers/action). An empty extend_param is left
// out of the body. The call is recorded by rec — before it is sent (fail
// closed) and after — and never retried. rec carries who asked and why; the
// client tells it the method, URL, signed headers, body and the target ids.
// A nil rec is allowed only with Config.AllowUnaudited.
func (c *Client) BatchAction(ctx context.Context, req *BatchRequest, rec Recorder) (*ServerPage, error) {
	if req == nil {
		return nil, errors.New("modelarts: batch action: no request")
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("modelarts: batch %s: %w", truncate(string(req.Type), 40), err)
	}
	send := *req
	if send.ExtendParam != nil && *send.ExtendParam == (ServerOSRequest{}) {
		send.ExtendParam = nil
	}
	op := fmt.Sprintf("batch %s on %d server(s)", req.Type, len(req.Servers))
	targets := make([]string, len(req.Servers))
	for i, s := range req.Servers {
		targets[i] = s.ID
	}
	var page ServerPage
	if err := c.change(ctx, rec, op, http.MethodPost, c.url("/action", nil), targets, &send, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// newRequest builds a request and lets the Authenticator sign it.
func (c *Client) newRequest(ctx context.Context, method, u string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", jsonContentType)
	}
	if err := c.auth.Authorize(ctx, req, body); err != nil {
		return nil, fmt.Errorf("authorize request: %w", err)
	}
	return req, nil
}

// response is what came back from one exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// send performs the exchange and reads the whole body (bounded). A failure
// without a complete answer is a *TransportError that says whether any of
// the request was written to the connection (httptrace), so a refused
// connection or a failed DNS lookup is known to have sent nothing.
func (c *Client) send(req *http.Request) (*response, error) {
	var written atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { written.Store(true) },
		WroteHeaders:     func() { written.Store(true) },
		WroteRequest:     func(httptrace.WroteRequestInfo) { written.Store(true) },
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.observe(req, 0, err, time.Since(start))
		return nil, newTransportError(err, written.Load())
	}
	defer func() { c.observe(req, resp.StatusCode, nil, time.Since(start)) }()
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if err != nil {
		return r, newTransportError(fmt.Errorf("read response body: %w", err), true)
	}
	if len(body) > maxResponseBytes {
		return r, &DecodeError{Status: r.status, RequestID: requestID(r.header),
			Err: fmt.Errorf("response body is larger than %d bytes", maxResponseBytes)}
	}
	return r, nil
}

// noRedirects returns a copy of hc (or of a new client with timeout) that
// never follows a redirect: the 3xx itself is returned.
func noRedirects(hc *http.Client, timeout time.Duration) *http.Client {
	var cp http.Client
	if hc != nil {
		cp = *hc
	} else {
		cp.Timeout = timeout
	}
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cp
}

func (c *Client) noteStatus(status int) {
	if status == http.StatusUnauthorized {
		if inv, ok := c.auth.(tokenInvalidator); ok {
			inv.Invalidate()
		}
	}
}

// get performs a read with retries and decodes a 2xx JSON body into out.
func (c *Client) get(ctx context.Context, op, u string, out any) error {
	p := c.retry
	for attempt := 1; ; attempt++ {
		req, err := c.newRequest(ctx, http.MethodGet, u, nil)
		if err != nil {
			return fmt.Errorf("modelarts: %s: %w", op, err)
		}
		resp, err := c.send(req)
		var (
			lastErr    error
			retryAfter time.Duration
		)
		switch {
		case err != nil:
			if ctxErr := ctx.Err(); ctxErr != nil {
				return fmt.Errorf("modelarts: %s: %w", op, ctxErr)
			}
			lastErr = err
		case resp.status >= 300 && resp.status <= 399:
			return fmt.Errorf("modelarts: %s: %w", op, newRedirectError(resp.status, resp.header))
		case resp.status < 200 || resp.status > 299:
			c.noteStatus(resp.status)
			apiErr := parseAPIError(resp.status, resp.header, resp.body)
			if !apiErr.Retryable() {
				return fmt.Errorf("modelarts: %s: %w", op, apiErr)
			}
			lastErr, retryAfter = apiErr, apiErr.RetryAfter
		default:
			if err := json.Unmarshal(resp.body, out); err != nil {
				return fmt.Errorf("modelarts: %s: %w", op,
					&DecodeError{Status: resp.status, RequestID: requestID(resp.header), Err: err})
			}
			return nil
		}
		if attempt >= p.MaxAttempts {
			return fmt.Errorf("modelarts: %s: giving up after %d attempts: %w", op, attempt, lastErr)
		}
		delay := p.backoff(attempt)
		if retryAfter > 0 {
			if retryAfter > p.MaxDelay {
				return fmt.Errorf("modelarts: %s: server asked to retry after %s, longer than the %s the retry policy allows: %w",
					op, retryAfter, p.MaxDelay, lastErr)
			}
			delay = retryAfter
		}
		c.log.LogAttrs(ctx, slog.LevelWarn, "modelarts: retrying read",
			slog.String("op", op), slog.Int("attempt", attempt), slog.Duration("delay", delay), slog.Any("err", lastErr))
		if err := p.Sleep(ctx, delay); err != nil {
			return fmt.Errorf("modelarts: %s: %w (while waiting to retry after: %v)", op, err, lastErr)
		}
	}
}

// change performs a state-changing call exactly once: build and sign the
// request, record it with rec (fail closed), send it, decode the reply and
// record the outcome.
//
// The error says what is known of the outcome through its type: a
// *TransportError (Written false: nothing reached ModelArts), an *APIError
// (an answer other than 2xx or 3xx), a *RedirectError (a 3xx, not followed)
// or a *DecodeError (a 2xx that could not be read). ErrNotRecorded means
// nothing was sent.
//
// If Recorder.AfterSend fails, the failure is logged at error level and the
// API result is returned unchanged: the call has already taken effect in the
// cloud, BeforeSend's record of the attempt exists, and reporting the action
// as failed would invite the operator to repeat a non-idempotent action.
func (c *Client) change(ctx context.Context, rec Recorder, op, method, u string, targets []string, reqBody, out any) error {
	var body []byte
	if reqBody != nil {
		var err error
		if body, err = json.Marshal(reqBody); err != nil {
			return fmt.Errorf("modelarts: %s: encode request: %w", op, err)
		}
	}
	req, err := c.newRequest(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("modelarts: %s: %w", op, err)
	}
	call := &OutgoingCall{Method: method, URL: u, Header: req.Header.Clone(), Body: bytes.Clone(body), Targets: targets}
	var ref int64
	if rec == nil {
		if !c.allowUnaudited {
			return fmt.Errorf("modelarts: %s: %w: no Recorder was given", op, ErrNotRecorded)
		}
	} else {
		ref, err = rec.BeforeSend(ctx, call)
		if err != nil {
			return fmt.Errorf("modelarts: %s: %w: %w", op, ErrNotRecorded, err)
		}
	}

	start := time.Now()
	resp, sendErr := c.send(req)
	result := &CallResult{Err: sendErr, Duration: time.Since(start)}
	if resp != nil {
		result.Status, result.Header, result.Body = resp.status, resp.header, resp.body
	}
	var outErr error
	switch {
	case sendErr != nil:
		outErr = fmt.Errorf("modelarts: %s: %w", op, sendErr)
	case resp.status >= 300 && resp.status <= 399:
		rerr := newRedirectError(resp.status, resp.header)
		result.Err = rerr
		outErr = fmt.Errorf("modelarts: %s: %w", op, rerr)
	case resp.status < 200 || resp.status > 299:
		c.noteStatus(resp.status)
		outErr = fmt.Errorf("modelarts: %s: %w", op, parseAPIError(resp.status, resp.header, resp.body))
	case out != nil && len(bytes.TrimSpace(resp.body)) > 0:
		if err := json.Unmarshal(resp.body, out); err != nil {
			derr := &DecodeError{Status: resp.status, RequestID: requestID(resp.header), Err: err}
			result.Err = derr
			outErr = fmt.Errorf("modelarts: %s: %w", op, derr)
		}
	}

	if rec != nil {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), afterSendTimeout)
		err := rec.AfterSend(actx, ref, call, result)
		cancel()
		if err != nil {
			c.log.LogAttrs(ctx, slog.LevelError, "modelarts: recording the outcome of a call failed; the audit entry stays incomplete",
				slog.String("op", op), slog.Int64("ref", ref), slog.Int("status", result.Status),
				slog.String("modelarts_request_id", result.Header.Get("X-Request-Id")), slog.Any("err", err))
		}
	}
	return outErr
}
