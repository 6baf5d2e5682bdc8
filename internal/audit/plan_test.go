package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/audit"
)

// TestPlannedListMatchesUnplanned: with the planner's probe bound so low
// that every text search with another filter is walked window by window,
// every page of every combination returns exactly the entries the plain
// text-driven query returns.
func TestPlannedListMatchesUnplanned(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	ts.clock.Set(time.Now().UTC())
	if err := ts.Seed(ctx, audit.SeedOptions{Count: 3000, Seed: 3, Servers: 40, Span: 10 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	defer audit.SetProbeCapForTest(5, 3)()
	var srv, corr, mid string
	if err := ts.db.Read.QueryRow(`SELECT json_extract(targets, '$[0].id'), correlation_id, created_at FROM audit_entries
		WHERE kind = 'request' AND id > 1500 ORDER BY id LIMIT 1`).Scan(&srv, &corr, &mid); err != nil {
		t.Fatal(err)
	}
	since, _ := time.Parse("2006-01-02T15:04:05.000000Z", mid)
	others := []audit.Filter{
		{Actor: "kim"}, {Action: "STOP"}, {Outcome: "api_error"}, {Server: srv}, {Correlation: corr},
		{Actor: "kim", Outcome: "success"}, {Action: "REBOOT", Server: srv}, {Actor: "alice", Action: "STOP", Outcome: "success"},
		{Actor: "kim", Since: since, Until: since.Add(48 * time.Hour)}, {Outcome: "unknown", Action: "DELETE"},
	}
	for _, text := range []string{"STOP", "reboot", "ModelArts", "nomatch"} {
		for _, o := range others {
			f := o
			f.Text = text
			t.Run(fmt.Sprintf("%s/%+v", text, o), func(t *testing.T) {
				var before int64
				for page := 0; page < 100; page++ {
					got, next, err := ts.List(ctx, f, before, 20)
					if err != nil {
						t.Fatal(err)
					}
					want, err := ts.ListUnplannedForTest(ctx, f, before, 20)
					if err != nil {
						t.Fatal(err)
					}
					var gotIDs, wantIDs []int64
					for _, e := range got {
						gotIDs = append(gotIDs, e.ID)
					}
					for _, r := range want {
						wantIDs = append(wantIDs, audit.RowID(r))
					}
					if len(wantIDs) > 20 {
						wantIDs = wantIDs[:20]
					}
					if diff := gocmp.Diff(wantIDs, gotIDs); diff != "" {
						t.Fatalf("page %d below %d (-unplanned +planned):\n%s", page, before, diff)
					}
					if next == 0 {
						return
					}
					before = next
				}
			})
		}
	}
}
