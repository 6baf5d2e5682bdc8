package modelarts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Authenticator adds credentials to a request just before it is sent. body is
// the exact request body (nil for none); signers hash it.
type Authenticator interface {
	Authorize(ctx context.Context, req *http.Request, body []byte) error
}

// tokenInvalidator is implemented by authenticators whose credential can go
// stale (IAM tokens); the client calls Invalidate after an HTTP 401.
type tokenInvalidator interface {
	Invalidate()
}

// NoAuth returns an Authenticator that adds nothing: for the simulator when
// it runs without AK/SK.
func NoAuth() Authenticator { return noAuth{} }

type noAuth struct{}

func (noAuth) Authorize(context.Context, *http.Request, []byte) error { return nil }
func (noAuth) String() string                                         { return "NoAuth" }

// NewAKSK returns an Authenticator that signs with SDK-HMAC-SHA256 as the
// official SDK does: it sets X-Project-Id (when projectID is not empty) and
// X-Security-Token (for temporary credentials, when securityToken is not
// empty), then signs them with X-Sdk-Date and every other header present.
func NewAKSK(ak, sk, securityToken, projectID string) Authenticator {
	return &akskAuth{signer: Signer{AK: ak, SK: sk}, token: securityToken, projectID: projectID}
}

type akskAuth struct {
	signer    Signer
	token     string
	projectID string
}

func (a *akskAuth) Authorize(_ context.Context, req *http.Request, body []byte) error {
	if a.signer.AK == "" || a.signer.SK == "" {
		return errors.New("aksk: access key and secret key are required")
	}
	if a.projectID != "" {
		req.Header.Set(HeaderProjectID, a.projectID)
	}
	if a.token != "" {
		req.Header.Set(HeaderSecurityToken, a.token)
	}
	if err := a.signer.Sign(req, body); err != nil {
		return fmt.Errorf("aksk: %w", err)
	}
	return nil
}

func (a *akskAuth) String() string {
	return fmt.Sprintf("AK/SK{AK: %s, SK: [REDACTED], security token: %t}", maskAK(a.signer.AK), a.token != "")
}
func (a *akskAuth) GoString() string     { return a.String() }
func (a *akskAuth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// StaticToken returns an Authenticator that sends a project-scoped IAM token
// the operator obtained elsewhere, in X-Auth-Token.
func StaticToken(token string) Authenticator { return staticToken(token) }

type staticToken string

func (t staticToken) Authorize(_ context.Context, req *http.Request, _ []byte) error {
	if t == "" {
		return errors.New("token: the IAM token is empty")
	}
	req.Header.Set("X-Auth-Token", string(t))
	return nil
}

func (t staticToken) String() string       { return "StaticToken{[REDACTED]}" }
func (t staticToken) GoString() string     { return t.String() }
func (t staticToken) LogValue() slog.Value { return slog.StringValue(t.String()) }

// IAMConfig says how to obtain a project-scoped token from IAM with a user
// name and password.
type IAMConfig struct {
	// Endpoint is the IAM base URL, e.g. https://iam.cn-north-4.myhuaweicloud.com.
	Endpoint string
	// Username is the IAM user, Domain the account (domain) name it belongs to.
	Username string
	Password string
	Domain   string
	// ProjectName scopes the token, usually the region id (e.g. cn-north-4).
	ProjectName string
	// HTTPClient defaults to a client with a 30-second timeout.
	HTTPClient *http.Client
	// Now defaults to time.Now.
	Now func() time.Time
	// Observer, when set, is told about every token request (metrics).
	Observer Observer
}

// String hides the password.
func (c IAMConfig) String() string {
	return fmt.Sprintf("IAMConfig{Endpoint: %s, Username: %s, Domain: %s, ProjectName: %s, Password: [REDACTED]}",
		c.Endpoint, c.Username, c.Domain, c.ProjectName)
}

// GoString hides the password from %#v.
func (c IAMConfig) GoString() string { return c.String() }

// LogValue hides the password from slog.
func (c IAMConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// IAMTokenRefreshMargin is how long before expires_at a cached token is
// replaced.
const IAMTokenRefreshMargin = 5 * time.Minute

// NewIAMToken returns an Authenticator that fetches a project-scoped token
// from IAM (POST {Endpoint}/v3/auth/tokens?nocatalog=true, password method),
// sends it in X-Auth-Token, and caches it until IAMTokenRefreshMargin before
// its expires_at. Only one fetch runs at a time; concurrent callers wait for
// it (or for their context). After the client sees HTTP 401 the token is
// dropped and the next call fetches a new one.
func NewIAMToken(cfg IAMConfig) Authenticator {
	cfg.HTTPClient = noRedirects(cfg.HTTPClient, 30*time.Second)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Endpoint = strings.TrimRight(cfg.Endpoint, "/")
	return &iamToken{cfg: cfg, fetching: make(chan struct{}, 1)}
}

type iamToken struct {
	cfg      IAMConfig
	fetching chan struct{} // one slot: held while a fetch runs

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

func (a *iamToken) String() string       { return "IAMToken{" + a.cfg.String() + "}" }
func (a *iamToken) GoString() string     { return a.String() }
func (a *iamToken) LogValue() slog.Value { return slog.StringValue(a.String()) }

func (a *iamToken) Authorize(ctx context.Context, req *http.Request, _ []byte) error {
	tok, err := a.get(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", tok)
	return nil
}

// Invalidate drops the cached token.
func (a *iamToken) Invalidate() {
	a.mu.Lock()
	a.token, a.refreshAt = "", time.Time{}
	a.mu.Unlock()
}

func (a *iamToken) cached() (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && a.cfg.Now().Before(a.refreshAt) {
		return a.token, true
	}
	return "", false
}

func (a *iamToken) get(ctx context.Context) (string, error) {
	if tok, ok := a.cached(); ok {
		return tok, nil
	}
	select {
	case a.fetching <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("iam: waiting for a token: %w", ctx.Err())
	}
	defer func() { <-a.fetching }()
	// Another caller may have fetched while we waited.
	if tok, ok := a.cached(); ok {
		return tok, nil
	}
	tok, expires, err := a.fetch(ctx)
	if err != nil {
		return "", err
	}
	a.mu.Lock()
	a.token, a.refreshAt = tok, expires.Add(-IAMTokenRefreshMargin)
	a.mu.Unlock()
	return tok, nil
}

type iamAuthBody struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string `json:"name"`
					Password string `json:"password"`
					Domain   struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope struct {
			Project struct {
				Name string `json:"name"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

func (a *iamToken) fetch(ctx context.Context) (string, time.Time, error) {
	c := a.cfg
	if c.Endpoint == "" || c.Username == "" || c.Password == "" || c.Domain == "" || c.ProjectName == "" {
		return "", time.Time{}, errors.New("iam: endpoint, user name, password, domain and project name are all required")
	}
	var body iamAuthBody
	body.Auth.Identity.Methods = []string{"password"}
	body.Auth.Identity.Password.User.Name = c.Username
	body.Auth.Identity.Password.User.Password = c.Password
	body.Auth.Identity.Password.User.Domain.Name = c.Domain
	body.Auth.Scope.Project.Name = c.ProjectName
	raw, err := json.Marshal(body)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("iam: encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint+"/v3/auth/tokens?nocatalog=true", bytes.NewReader(raw))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("iam: build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json;charset=utf8")
	start := time.Now()
	resp, err := c.HTTPClient.Do(req)
	if c.Observer != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		c.Observer.ObserveCall(CallObservation{
			Service: ServiceIAM, Operation: "get_token",
			Outcome: callOutcome(status, err, ctx.Err()), Duration: time.Since(start),
		})
	}
	if err != nil {
		// url.Error names the URL only; the password is in the body, never in it.
		return "", time.Time{}, fmt.Errorf("iam: get token for user %s: %w", c.Username, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("iam: read response: %w", err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return "", time.Time{}, fmt.Errorf("iam: get token for user %s in domain %s: %w", c.Username, c.Domain, newRedirectError(resp.StatusCode, resp.Header))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", time.Time{}, fmt.Errorf("iam: get token for user %s in domain %s: %w", c.Username, c.Domain, parseAPIError(resp.StatusCode, resp.Header, respBody))
	}
	tok := resp.Header.Get("X-Subject-Token")
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("iam: HTTP %d response has no X-Subject-Token header", resp.StatusCode)
	}
	var out struct {
		Token struct {
			ExpiresAt string `json:"expires_at"`
		} `json:"token"`
	}
	if err := json.Unmarshal(respBody, &out); err != nil {
		return "", time.Time{}, fmt.Errorf("iam: decode token response: %w", err)
	}
	expires, err := time.Parse(time.RFC3339Nano, out.Token.ExpiresAt)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("iam: token response has no valid token.expires_at (%q)", truncate(out.Token.ExpiresAt, 40))
	}
	return tok, expires, nil
}
