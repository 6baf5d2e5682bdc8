package web_test

import (
	"net/http"
	"testing"

	"github.com/devserver-console/console/internal/apptest"
)

func TestHealthEndpoints(t *testing.T) {
	env := apptest.New(t)
	c := env.Anonymous(t)
	tests := []struct {
		name   string
		method string
		path   string
		want   int
		body   string
	}{
		{name: "healthz", method: http.MethodGet, path: "/healthz", want: 200, body: "ok\n"},
		{name: "readyz", method: http.MethodGet, path: "/readyz", want: 200, body: "ready\n"},
		{name: "HEAD is answered like GET", method: http.MethodHead, path: "/healthz", want: 200},
		{name: "HEAD on a page needs sign-in like GET", method: http.MethodHead, path: "/servers", want: http.StatusSeeOther},
		{name: "unknown path", method: http.MethodGet, path: "/no-such-page", want: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Do(t, tt.method, tt.path, nil, nil)
			if r.Status != tt.want {
				t.Fatalf("%s %s = %d, want %d", tt.method, tt.path, r.Status, tt.want)
			}
			if tt.body != "" && r.Body != tt.body {
				t.Errorf("body = %q, want %q", r.Body, tt.body)
			}
			if tt.method == http.MethodHead && r.Body != "" {
				t.Errorf("HEAD response has a body: %q", r.Body)
			}
		})
	}
}
