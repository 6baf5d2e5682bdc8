package modelarts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/testutil"
)

const iamPassword = "IAM-pa55word!"

// fakeIAM answers POST /v3/auth/tokens like Huawei IAM.
type fakeIAM struct {
	*httptest.Server
	fetches  atomic.Int32
	expires  time.Time
	delay    time.Duration
	status   int
	noHeader bool
	bodies   []string
	mu       sync.Mutex
}

func newFakeIAM(t *testing.T, expires time.Time) *fakeIAM {
	t.Helper()
	f := &fakeIAM{expires: expires, status: http.StatusCreated}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := f.fetches.Add(1)
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.bodies = append(f.bodies, string(body))
		status, noHeader := f.status, f.noHeader
		f.mu.Unlock()
		if r.Method != http.MethodPost || r.URL.Path != "/v3/auth/tokens" || r.URL.RawQuery != "nocatalog=true" {
			http.Error(w, "wrong endpoint "+r.Method+" "+r.URL.String(), 404)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json;charset=utf8" {
			http.Error(w, "wrong content type "+ct, 400)
			return
		}
		time.Sleep(f.delay)
		if status != http.StatusCreated {
			w.Header().Set("X-IAM-Trace-Id", "trace-1")
			w.WriteHeader(status)
			io.WriteString(w, `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`)
			return
		}
		if !noHeader {
			w.Header().Set("X-Subject-Token", fmt.Sprintf("token-%d", n))
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"token":{"expires_at":%q,"issued_at":"2024-01-01T00:00:00.000000Z","methods":["password"],"project":{"name":"cn-north-4","id":"p"}}}`,
			f.expires.UTC().Format("2006-01-02T15:04:05.000000Z"))
	}))
	t.Cleanup(f.Close)
	return f
}

func authorize(t *testing.T, a modelarts.Authenticator) (http.Header, error) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "https://modelarts.example/v1/p/dev-servers", nil)
	err := a.Authorize(context.Background(), req, nil)
	return req.Header, err
}

func TestIAMToken(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	expires := start.Add(24 * time.Hour)

	t.Run("fetches once, caches, refreshes 5 minutes before expiry", func(t *testing.T) {
		iam := newFakeIAM(t, expires)
		clk := testutil.NewClock(start)
		a := modelarts.NewIAMToken(modelarts.IAMConfig{Endpoint: iam.URL + "/", Username: "ops", Password: iamPassword,
			Domain: "acme", ProjectName: "cn-north-4", Now: clk.Now})
		for i := range 3 {
			h, err := authorize(t, a)
			if err != nil {
				t.Fatalf("Authorize %d: %v", i, err)
			}
			if got := h.Get("X-Auth-Token"); got != "token-1" {
				t.Errorf("X-Auth-Token = %q, want token-1", got)
			}
		}
		if got := iam.fetches.Load(); got != 1 {
			t.Errorf("IAM saw %d requests, want 1", got)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(iam.bodies[0]), &body); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"auth": map[string]any{
			"identity": map[string]any{"methods": []any{"password"}, "password": map[string]any{"user": map[string]any{
				"name": "ops", "password": iamPassword, "domain": map[string]any{"name": "acme"}}}},
			"scope": map[string]any{"project": map[string]any{"name": "cn-north-4"}},
		}}
		if diff := cmp.Diff(want, body); diff != "" {
			t.Errorf("IAM request body mismatch (-want +got):\n%s", diff)
		}

		clk.Set(expires.Add(-5*time.Minute - time.Second))
		if h, _ := authorize(t, a); h.Get("X-Auth-Token") != "token-1" {
			t.Errorf("token replaced too early: %q", h.Get("X-Auth-Token"))
		}
		clk.Set(expires.Add(-5 * time.Minute))
		if h, _ := authorize(t, a); h.Get("X-Auth-Token") != "token-2" {
			t.Errorf("token not refreshed 5 minutes before expiry: %q", h.Get("X-Auth-Token"))
		}
		if got := iam.fetches.Load(); got != 2 {
			t.Errorf("IAM saw %d requests, want 2", got)
		}
	})

	t.Run("concurrent callers share one fetch", func(t *testing.T) {
		iam := newFakeIAM(t, expires)
		iam.delay = 100 * time.Millisecond
		a := modelarts.NewIAMToken(modelarts.IAMConfig{Endpoint: iam.URL, Username: "ops", Password: iamPassword,
			Domain: "acme", ProjectName: "cn-north-4", Now: func() time.Time { return start }})
		var wg sync.WaitGroup
		tokens := make([]string, 20)
		for i := range tokens {
			wg.Go(func() {
				h, err := authorize(t, a)
				if err != nil {
					t.Errorf("Authorize: %v", err)
				}
				tokens[i] = h.Get("X-Auth-Token")
			})
		}
		wg.Wait()
		if got := iam.fetches.Load(); got != 1 {
			t.Errorf("IAM saw %d requests, want 1", got)
		}
		for _, tok := range tokens {
			if tok != "token-1" {
				t.Errorf("a caller got %q", tok)
			}
		}
	})

	t.Run("waiting caller honours its context", func(t *testing.T) {
		iam := newFakeIAM(t, expires)
		iam.delay = 300 * time.Millisecond
		a := modelarts.NewIAMToken(modelarts.IAMConfig{Endpoint: iam.URL, Username: "ops", Password: iamPassword,
			Domain: "acme", ProjectName: "cn-north-4", Now: func() time.Time { return start }})
		go authorize(t, a)
		// The first caller's token request is at IAM; the next one waits.
		testutil.Eventually(t, 5*time.Second, "the first token request reaches IAM", func() error {
			if iam.fetches.Load() == 0 {
				return errors.New("not yet")
			}
			return nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		req := httptest.NewRequest(http.MethodGet, "https://x.example/", nil)
		if err := a.Authorize(ctx, req, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Authorize = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("401 from ModelArts drops the token", func(t *testing.T) {
		iam := newFakeIAM(t, expires)
		var calls atomic.Int32
		cloud := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if calls.Add(1) == 1 {
				writeJSON(w, 401, map[string]string{"error_code": "APIGW.0301", "error_msg": "token expires"})
				return
			}
			if got := r.Header.Get("X-Auth-Token"); got != "token-2" {
				writeJSON(w, 401, map[string]string{"error_code": "APIGW.0301", "error_msg": "stale " + got})
				return
			}
			writeJSON(w, 200, modelarts.ServerPage{})
		}))
		defer cloud.Close()
		a := modelarts.NewIAMToken(modelarts.IAMConfig{Endpoint: iam.URL, Username: "ops", Password: iamPassword,
			Domain: "acme", ProjectName: "cn-north-4", Now: func() time.Time { return start }})
		c, _ := newTestClient(t, cloud.URL, func(cfg *modelarts.Config) { cfg.Auth = a })
		if _, err := c.ListServersPage(context.Background(), 10, 0); err == nil {
			t.Fatal("first call succeeded, want the 401")
		}
		if _, err := c.ListServersPage(context.Background(), 10, 0); err != nil {
			t.Fatalf("second call: %v (the token was not refetched)", err)
		}
	})

	failures := []struct {
		name    string
		cfg     func(iamURL string) modelarts.IAMConfig
		setup   func(f *fakeIAM)
		wantErr string
	}{
		{
			name: "wrong password",
			cfg: func(u string) modelarts.IAMConfig {
				return modelarts.IAMConfig{Endpoint: u, Username: "ops", Password: iamPassword, Domain: "acme", ProjectName: "cn-north-4"}
			},
			setup:   func(f *fakeIAM) { f.status = 401 },
			wantErr: "The username or password is wrong. (HTTP 401 Unauthorized, request ID trace-1)",
		},
		{
			name: "no X-Subject-Token",
			cfg: func(u string) modelarts.IAMConfig {
				return modelarts.IAMConfig{Endpoint: u, Username: "ops", Password: iamPassword, Domain: "acme", ProjectName: "cn-north-4"}
			},
			setup:   func(f *fakeIAM) { f.noHeader = true },
			wantErr: "no X-Subject-Token",
		},
		{
			name: "missing settings",
			cfg: func(u string) modelarts.IAMConfig {
				return modelarts.IAMConfig{Endpoint: u, Password: iamPassword}
			},
			wantErr: "are all required",
		},
		{
			name: "unreachable IAM",
			cfg: func(string) modelarts.IAMConfig {
				return modelarts.IAMConfig{Endpoint: "http://127.0.0.1:1", Username: "ops", Password: iamPassword, Domain: "acme", ProjectName: "cn-north-4"}
			},
			wantErr: "iam: get token",
		},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			iam := newFakeIAM(t, expires)
			if tt.setup != nil {
				tt.setup(iam)
			}
			a := modelarts.NewIAMToken(tt.cfg(iam.URL))
			h, err := authorize(t, a)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Authorize error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), iamPassword) {
				t.Errorf("error reveals the password: %v", err)
			}
			if h.Get("X-Auth-Token") != "" {
				t.Errorf("X-Auth-Token set despite the failure")
			}
		})
	}
}

func TestSimpleAuthenticators(t *testing.T) {
	t.Run("StaticToken", func(t *testing.T) {
		h, err := authorize(t, modelarts.StaticToken("tok-123"))
		if err != nil || h.Get("X-Auth-Token") != "tok-123" {
			t.Errorf("header %v, err %v", h, err)
		}
		if _, err := authorize(t, modelarts.StaticToken("")); err == nil {
			t.Error("empty token accepted")
		}
	})
	t.Run("NoAuth adds nothing", func(t *testing.T) {
		h, err := authorize(t, modelarts.NoAuth())
		if err != nil || len(h) != 0 {
			t.Errorf("header %v, err %v", h, err)
		}
	})
	t.Run("AK/SK sets project and security token and signs them", func(t *testing.T) {
		h, err := authorize(t, modelarts.NewAKSK("AK1", "SK1", "sts-token", "proj"))
		if err != nil {
			t.Fatal(err)
		}
		if h.Get("X-Project-Id") != "proj" || h.Get("X-Security-Token") != "sts-token" || h.Get("X-Sdk-Date") == "" {
			t.Errorf("headers = %v", h)
		}
		_, signed, _, err := modelarts.ParseAuthorization(h.Get("Authorization"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"x-project-id", "x-sdk-date", "x-security-token"}, signed); diff != "" {
			t.Errorf("signed headers mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("AK/SK without security token or project", func(t *testing.T) {
		h, err := authorize(t, modelarts.NewAKSK("AK1", "SK1", "", ""))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := h["X-Security-Token"]; ok {
			t.Error("empty X-Security-Token sent")
		}
		if _, ok := h["X-Project-Id"]; ok {
			t.Error("empty X-Project-Id sent")
		}
	})
	t.Run("AK/SK without keys", func(t *testing.T) {
		if _, err := authorize(t, modelarts.NewAKSK("AK1", "", "", "p")); err == nil {
			t.Error("missing SK accepted")
		}
	})
}

func TestAuthenticatorsNeverPrintSecrets(t *testing.T) {
	secrets := []string{"SK_SECRET_123", "STS_TOKEN_456", "STATIC_TOKEN_789", iamPassword}
	values := []any{
		modelarts.NewAKSK("AKID", "SK_SECRET_123", "STS_TOKEN_456", "p"),
		modelarts.StaticToken("STATIC_TOKEN_789"),
		modelarts.NewIAMToken(modelarts.IAMConfig{Endpoint: "https://iam.example", Username: "u", Password: iamPassword}),
		modelarts.IAMConfig{Password: iamPassword},
		modelarts.Config{Auth: modelarts.NewAKSK("AKID", "SK_SECRET_123", "STS_TOKEN_456", "p")},
	}
	for i, v := range values {
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(format, v)
			for _, s := range secrets {
				if strings.Contains(out, s) {
					t.Errorf("value %d printed with %s reveals %q: %s", i, format, s, out)
				}
			}
		}
	}
}
