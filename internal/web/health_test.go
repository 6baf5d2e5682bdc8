package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/simulator"
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
		{name: "readyz", method: http.MethodGet, path: "/readyz", want: 200, body: "ready\ndatabase: writable\nmodelarts sim-north: not contacted yet\nmodelarts sim-southwest: not contacted yet\n"},
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

// TestReadyz: readiness fails when the database does not take writes, and
// reports — without failing — that ModelArts was unreachable on the fleet
// cache's last walk, project by project (the embedded simulator serves two).
func TestReadyz(t *testing.T) {
	env, sim := fleetEnv(t, apptest.OnSQLite(t)) // makes SQLite's writer read-only
	c := env.Anonymous(t)
	viewer := env.As(t, auth.RoleViewer)

	sim.SetFaults(simulator.Faults{ErrorRate: 1})
	viewer.Get(t, "/servers") // the fleet walk fails
	r := c.Get(t, "/readyz")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "modelarts sim-north: unreachable at the last fleet walk") {
		t.Fatalf("readyz with ModelArts down: %d %q; want 200 saying it is unreachable", r.Status, r.Body)
	}
	sim.SetFaults(simulator.Faults{})
	viewer.PostForm(t, "/servers/refresh", nil)
	if r := c.Get(t, "/readyz"); r.Status != http.StatusOK || !strings.Contains(r.Body, "modelarts sim-north: reachable") {
		t.Fatalf("readyz with ModelArts back: %d %q", r.Status, r.Body)
	}

	// The single writer connection refuses writes, as on a read-only or
	// broken volume.
	w := env.App.DB().Write
	if _, err := w.Exec(`PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	r = c.Get(t, "/readyz")
	if _, err := w.Exec(`PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusServiceUnavailable || !strings.Contains(r.Body, "database: not writable") {
		t.Fatalf("readyz with an unwritable database: %d %q; want 503", r.Status, r.Body)
	}
	if !strings.Contains(env.Logs.String(), "the database does not take writes") {
		t.Error("the failed readiness write was not logged")
	}
	if r := c.Get(t, "/readyz"); r.Status != http.StatusOK {
		t.Errorf("readyz once writable again: %d", r.Status)
	}
}
