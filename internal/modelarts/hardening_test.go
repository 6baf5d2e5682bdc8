package modelarts_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
)

// TestNoRedirectsFollowed: a 3xx from ModelArts or IAM is an error carrying
// its Location; the host it points to receives nothing, so neither the body
// nor the credentials leave the configured endpoint.
func TestNoRedirectsFollowed(t *testing.T) {
	elsewhere := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, modelarts.ServerPage{}) })
	for _, status := range []int{301, 302, 307, 308} {
		redirector := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Location", elsewhere.URL+r.URL.Path)
			w.WriteHeader(status)
		})
		rec := &fakeRecorder{}
		c, _ := newTestClient(t, redirector.URL, func(cfg *modelarts.Config) {
			cfg.AllowUnaudited = false
			cfg.Auth = modelarts.StaticToken("SECRET-IAM-TOKEN")
			cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second} // the default follows redirects
		})
		_, err := c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchDelete, Servers: servers(id1)}, rec)
		var re *modelarts.RedirectError
		if !errors.As(err, &re) || re.Status != status || !strings.HasPrefix(re.Location, elsewhere.URL) {
			t.Fatalf("%d: error = %v, want a RedirectError with the Location", status, err)
		}
		if len(rec.after) != 1 || rec.after[0].Status != status || rec.after[0].Header.Get("Location") == "" || rec.after[0].Err == nil {
			t.Errorf("%d: recorded result = %+v, want the 3xx with its Location", status, rec.after)
		}
		if _, err := c.ListServersPage(context.Background(), 10, 0); !errors.As(err, &re) {
			t.Errorf("%d: read error = %v, want a RedirectError", status, err)
		}
		if got := len(redirector.requests()); got != 2 {
			t.Errorf("%d: endpoint saw %d requests, want 2 (no retry of a redirect)", status, got)
		}
	}
	if got := len(elsewhere.requests()); got != 0 {
		t.Fatalf("the redirect target received %d requests, want none", got)
	}

	t.Run("IAM", func(t *testing.T) {
		iam := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Location", elsewhere.URL+"/v3/auth/tokens")
			w.WriteHeader(http.StatusTemporaryRedirect)
		})
		a := modelarts.NewIAMToken(modelarts.IAMConfig{Endpoint: iam.URL, Username: "ops", Password: iamPassword,
			Domain: "acme", ProjectName: "cn-north-4", HTTPClient: &http.Client{}})
		req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
		err := a.Authorize(context.Background(), req, nil)
		var re *modelarts.RedirectError
		if !errors.As(err, &re) {
			t.Fatalf("error = %v, want a RedirectError", err)
		}
		if got := len(elsewhere.requests()); got != 0 {
			t.Errorf("the redirect target received %d requests (the IAM password), want none", got)
		}
	})
}

// TestTransportErrorSaysWhetherWritten: a refused connection sends nothing;
// a connection cut after the request was written may have acted.
func TestTransportErrorSaysWhetherWritten(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	c, _ := newTestClient(t, closed)
	_, err = c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1)}, nil)
	var te *modelarts.TransportError
	if !errors.As(err, &te) || te.Written || te.Timeout {
		t.Fatalf("refused connection: error = %#v, want a TransportError not written", err)
	}

	fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
		hj, _ := w.(http.Hijacker)
		conn, _, _ := hj.Hijack()
		conn.Close()
	})
	c, _ = newTestClient(t, fc.URL)
	_, err = c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1)}, nil)
	if !errors.As(err, &te) || !te.Written || te.Timeout {
		t.Fatalf("cut connection: error = %v, want a TransportError written", err)
	}

	release := make(chan struct{})
	slow := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c, _ = newTestClient(t, slow.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = c.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1)}, nil)
	if !errors.As(err, &te) || !te.Written || !te.Timeout {
		t.Fatalf("timeout: error = %v, want a TransportError written and timed out", err)
	}
}

// TestUpstreamErrorsAreScrubbed: an error body that echoes credentials
// keeps only its code and message, with the credentials removed.
func TestUpstreamErrorsAreScrubbed(t *testing.T) {
	token := strings.Repeat("MIIaBcDeF0123456789", 4)
	fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(400)
		io.WriteString(w, `{"error_code":"IAM.0001","error_msg":"bad request {\"password\":\"`+iamPassword+`\",\"token\":\"x\"} X-Auth-Token: `+token+` server `+id1+`","echo":"`+iamPassword+`"}`)
	})
	c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.Retry.MaxAttempts = 1 })
	_, err := c.ListServersPage(context.Background(), 10, 0)
	var ae *modelarts.APIError
	if !errors.As(err, &ae) || ae.Code != "IAM.0001" {
		t.Fatalf("error = %v", err)
	}
	for _, secret := range []string{iamPassword, token} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error carries a credential: %v", err)
		}
	}
	if !strings.Contains(ae.Message, id1) || !strings.Contains(ae.Message, "bad request") {
		t.Errorf("message lost its harmless words: %q", ae.Message)
	}

	html := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.WriteHeader(502)
		io.WriteString(w, "<html>password="+iamPassword+"</html>")
	})
	c, _ = newTestClient(t, html.URL, func(cfg *modelarts.Config) { cfg.Retry.MaxAttempts = 1 })
	_, err = c.ListServersPage(context.Background(), 10, 0)
	if err == nil || strings.Contains(err.Error(), iamPassword) || strings.Contains(err.Error(), "html") {
		t.Errorf("a body that is not an error object reached the error: %v", err)
	}
}
