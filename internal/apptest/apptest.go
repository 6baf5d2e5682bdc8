// Package apptest starts the whole console — real store, audit log, users,
// sessions, embedded simulator, client, fleet, batches and web server — for
// handler tests, and gives them browser-like clients that sign in through
// the real sign-in form.
package apptest

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/alexedwards/argon2id"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/logging"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

// AdminPassword is the bootstrap admin's password in every test console.
const AdminPassword = "admin-test-password-1"

// Env is one running console.
type Env struct {
	App    *app.App
	URL    string
	Config config.Config
	Logs   *LogBuffer
}

// CheapHashParams are the argon2id parameters of test consoles' password
// hashes (1 MiB, one pass).
var CheapHashParams = argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// New starts a console on a temp database and a fresh embedded simulator
// with fast transitions. opts adjust the configuration.
func New(t testing.TB, opts ...func(*config.Config)) *Env {
	t.Helper()
	return start(t, nil, opts)
}

// NewWithClock is New with sessions and sign-in delays reading time from
// clock, so a test can expire them by moving the clock instead of waiting.
func NewWithClock(t testing.TB, clock *testutil.Clock, opts ...func(*config.Config)) *Env {
	t.Helper()
	return start(t, []app.Option{app.WithClock(clock.Now)}, opts)
}

func start(t testing.TB, appOpts []app.Option, opts []func(*config.Config)) *Env {
	t.Helper()
	cfg := config.Default()
	cfg.DBPath = storetest.DSN(t, storetest.DefaultEngine())
	if store.IsPostgresURL(cfg.DBPath) {
		cfg.AuditKey = TestAuditKey // replicas share a key; no key file beside a URL
		cfg.SecretsKey = TestSecretKey
	}
	cfg.AdminPassword = AdminPassword
	cfg.SimTransition = 100 * time.Millisecond
	cfg.FleetTTL = 0
	cfg.RequestTimeout = 5 * time.Second
	// Tests of direct destructive actions run without the two-person rule;
	// tests of approvals turn it on (withApprovals). The product default
	// (config.Default) keeps DELETE, REINSTALLOS and CHANGEOS under approval.
	cfg.ApprovalActions = nil
	for _, o := range opts {
		o(&cfg)
	}
	logs := &LogBuffer{}
	log := logging.New(logs, "debug", logging.FormatText)
	// Test consoles hash passwords cheaply: they hash many (every user a
	// test creates, every sign-in), and under -race a hash with the
	// console's own parameters takes seconds. What the parameters must be
	// is auth's to test.
	appOpts = append([]app.Option{app.WithHashParams(CheapHashParams)}, appOpts...)
	a, err := app.New(context.Background(), cfg, log, io.Discard, appOpts...)
	if err != nil {
		t.Fatalf("apptest: start console: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := a.Close(); err != nil {
			t.Errorf("apptest: close console: %v", err)
		}
	})
	return &Env{App: a, URL: srv.URL, Config: cfg, Logs: logs}
}

// CreateUser adds a user with the given role and returns their password.
func (e *Env) CreateUser(t testing.TB, name string, role auth.Role) string {
	t.Helper()
	pass := "pw-" + name + "-Secret-123"
	if _, err := e.App.Users().CreateUser(context.Background(), name, role, pass); err != nil {
		t.Fatalf("apptest: create user %s: %v", name, err)
	}
	return pass
}

// As creates a user named after role (once) and returns a client signed
// in as them. RoleAdmin signs in as the bootstrap admin.
func (e *Env) As(t testing.TB, role auth.Role) *Client {
	t.Helper()
	if role == auth.RoleAdmin {
		return e.SignIn(t, "admin", AdminPassword)
	}
	name := string(role) + "1"
	pass := "pw-" + name + "-Secret-123"
	if _, err := e.App.Users().GetByName(context.Background(), name); err != nil {
		pass = e.CreateUser(t, name, role)
	}
	return e.SignIn(t, name, pass)
}

// Anonymous returns a client that is not signed in.
func (e *Env) Anonymous(t testing.TB) *Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &Client{
		base: e.URL,
		HTTP: &http.Client{
			Jar:           jar,
			Timeout:       30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// SignIn signs in through the real form and fails the test if it does
// not succeed.
func (e *Env) SignIn(t testing.TB, name, password string) *Client {
	t.Helper()
	c := e.Anonymous(t)
	c.Get(t, "/signin")
	r := c.PostForm(t, "/signin", url.Values{"username": {name}, "password": {password}})
	if r.Status != http.StatusSeeOther && r.Status != http.StatusFound {
		t.Fatalf("apptest: sign in as %s: status %d, body:\n%s", name, r.Status, r.Body)
	}
	c.Get(t, "/servers") // pick up the signed-in CSRF token
	return c
}

// Client is a browser-like client: it keeps cookies, does not follow
// redirects, and sends the page's CSRF token with every POST.
type Client struct {
	HTTP *http.Client
	base string
	// CSRF is the token from the last page that carried one.
	CSRF string
}

// Response is a completed request.
type Response struct {
	Status int
	Header http.Header
	Body   string
}

// Doc parses the body as HTML.
func (r *Response) Doc(t testing.TB) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.Body))
	if err != nil {
		t.Fatalf("apptest: parse HTML: %v", err)
	}
	return d
}

// Get requests path.
func (c *Client) Get(t testing.TB, path string) *Response {
	t.Helper()
	return c.Do(t, http.MethodGet, path, nil, nil)
}

// PostForm posts form values with the current CSRF token, unless values
// already holds a "_csrf" entry (set it to "" to send none).
func (c *Client) PostForm(t testing.TB, path string, values url.Values) *Response {
	t.Helper()
	if values == nil {
		values = url.Values{}
	}
	if _, ok := values["_csrf"]; !ok {
		values.Set("_csrf", c.CSRF)
	} else if values.Get("_csrf") == "" {
		values.Del("_csrf")
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return c.Do(t, http.MethodPost, path, strings.NewReader(values.Encode()), h)
}

// HTMX posts form values as htmx does: with HX-Request and the CSRF token
// in the X-CSRF-Token header.
func (c *Client) HTMX(t testing.TB, method, path string, values url.Values) *Response {
	t.Helper()
	h := http.Header{"HX-Request": {"true"}, "X-CSRF-Token": {c.CSRF}}
	var body io.Reader
	if method == http.MethodGet {
		if len(values) > 0 {
			path += "?" + values.Encode()
		}
	} else {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
		body = strings.NewReader(values.Encode())
	}
	return c.Do(t, method, path, body, h)
}

// Do sends a request and records the CSRF token of any page it returns.
func (c *Client) Do(t testing.TB, method, path string, body io.Reader, h http.Header) *Response {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		t.Fatalf("apptest: %s %s: %v", method, path, err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("apptest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("apptest: read %s %s: %v", method, path, err)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}
	if strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		if d, err := goquery.NewDocumentFromReader(strings.NewReader(r.Body)); err == nil {
			if tok, ok := d.Find(`meta[name="csrf-token"]`).Attr("content"); ok && tok != "" {
				c.CSRF = tok
			} else if tok, ok := d.Find(`input[name="_csrf"]`).Attr("value"); ok && tok != "" {
				c.CSRF = tok
			}
		}
	}
	return r
}

// LogBuffer collects log output for assertions (e.g. that no secret was
// logged). It is safe for concurrent use.
type LogBuffer = testutil.LogBuffer

// WithApprovals restores the product's approval policy (config.Default's:
// DELETE, REINSTALLOS and CHANGEOS need an approver), which New turns off.
func WithApprovals(c *config.Config) {
	c.ApprovalActions = append([]modelarts.BatchType(nil), config.DefaultApprovalActions...)
}

// OnSQLite is an option of New for tests that reach into the SQLite file
// itself (to tamper with it): the console runs on SQLite whatever
// CONSOLE_TEST_ENGINE says.
func OnSQLite(t testing.TB) func(*config.Config) {
	path := storetest.DSN(t, store.SQLite)
	return func(c *config.Config) { c.DBPath = path }
}

// TestAuditKey is the audit key of consoles on PostgreSQL in tests.
const TestAuditKey = "7e57a0d17e57a0d17e57a0d17e57a0d17e57a0d17e57a0d17e57a0d17e57a0d1"

// TestSecretKey is the key sealing approval secrets of consoles on
// PostgreSQL in tests.
const TestSecretKey = "5ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2e75ec2"
