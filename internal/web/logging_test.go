package web_test

import (
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/simulator"
)

// TestLogLinesCarryTheRequestID: every line logged while serving a request
// — the handler's warning, the ModelArts client's, the request line — names
// the request id the response carries, and errors are logged under "err".
func TestLogLinesCarryTheRequestID(t *testing.T) {
	env, sim := fleetEnv(t)
	c := env.As(t, auth.RoleViewer)
	sim.SetFaults(simulator.Faults{ErrorRate: 1})

	r := c.Get(t, "/servers")
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("the response has no X-Request-Id")
	}
	var mine []string
	for _, l := range strings.Split(env.Logs.String(), "\n") {
		if strings.Contains(l, "request_id="+id) {
			mine = append(mine, l)
		}
	}
	for _, want := range []string{`msg="ModelArts read failed"`, `msg=request`} {
		found := false
		for _, l := range mine {
			if strings.Contains(l, want) {
				found = true
				if want != "msg=request" && !strings.Contains(l, " err=") {
					t.Errorf("the error is not under err: %s", l)
				}
			}
		}
		if !found {
			t.Errorf("no line %s with request_id=%s; the request's lines:\n%s\nall:\n%s", want, id, strings.Join(mine, "\n"), env.Logs.String())
		}
	}
	if strings.Contains(env.Logs.String(), " error=") {
		t.Errorf("a line logs an error under \"error\", not \"err\":\n%s", env.Logs.String())
	}
}
