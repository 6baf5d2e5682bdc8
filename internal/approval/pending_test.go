package approval_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/modelarts"
)

// TestPendingByProject: the metrics gauge counts the requests waiting for
// a decision per project, with 0 for a configured project that has none,
// a project no longer configured while its requests wait, and nothing
// for expired requests.
func TestPendingByProject(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	create := func(project string) *approval.Request {
		t.Helper()
		r, err := e.svc.Create(ctx, approval.NewRequest{
			Project: project, Requester: e.ann, Action: modelarts.BatchDelete, Servers: servers, Reason: "decommission",
		})
		if err != nil {
			t.Fatalf("Create in %q: %v", project, err)
		}
		return r
	}
	check := func(want map[string]int) {
		t.Helper()
		got, err := e.svc.PendingByProject(ctx, []string{"north", "south"})
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("PendingByProject = %v, %v; want %v", got, err, want)
		}
	}
	check(map[string]int{"north": 0, "south": 0})
	create("north")
	create("north")
	create("gone") // its project was removed from the configuration
	check(map[string]int{"north": 2, "south": 0, "gone": 1})

	e.clock.Advance(23 * time.Hour)
	create("south")
	e.clock.Advance(2 * time.Hour)                // the first three expired (24 h)
	check(map[string]int{"north": 0, "south": 1}) // a removed project with nothing waiting is not listed
}
