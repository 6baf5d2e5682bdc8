package audit_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

// TestPlannedListMatchesUnplanned: with the planner's probe bound so low
// that every text search with another filter is walked window by window,
// every page of every combination returns exactly the entries the plain
// text-driven query returns.
//
// It runs three times over one log: as the text index is after migration
// 0011's backfill (the index intersects the filter values), as it is before
// the backfill has run (the windowed plan over the old index), and after a
// backfill in small batches.
func TestPlannedListMatchesUnplanned(t *testing.T) {
	ts := newTestStoreOn(t, store.SQLite) // json_extract
	ctx := context.Background()
	ts.clock.Set(time.Now().UTC())
	ts.KeepLegacySearchForTest()
	if err := audit.Seed(ctx, ts.Store, audit.SeedOptions{Count: 1200, Seed: 3, Servers: 40, Span: 10 * 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	defer audit.SetProbeCapForTest(5, 3)()
	t.Run("faceted", func(t *testing.T) {
		checkPlannedMatchesUnplanned(t, ts, true, "STOP", "nomatch", "kim STOP", "gpu-node")
	})
	// The same with each of listText's ways turned off in turn: never term
	// by term (the oldest-first probe, complete or not), and one query.
	for _, probe := range []int{256, 3, -1} {
		// Set around t.Run, not inside it: the checks run in parallel
		// subtests, which start only once the subtest's function returned,
		// and t.Run returns once they have all ended.
		restoreRange, restoreProbe := audit.SetTermRangeForTest(0), audit.SetSparseProbeForTest(probe)
		t.Run(fmt.Sprintf("faceted, never term by term, probe %d", probe), func(t *testing.T) {
			checkPlannedMatchesUnplanned(t, ts, true, "STOP")
		})
		restoreProbe()
		restoreRange()
	}
	if err := ts.UnindexFacetsForTest(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("before backfill", func(t *testing.T) {
		if ts.FacetsReadyForTest() {
			t.Fatal("queries read the new index before its backfill")
		}
		checkPlannedMatchesUnplanned(t, ts, false, "STOP", "reboot", "ModelArts", "nomatch")
	})
	defer audit.SetBackfillBatchForTest(7, 2)()
	if err := ts.BackfillSearch(ctx); err != nil {
		t.Fatal(err)
	}
	var merged bool
	if err := ts.db.Read.Get(&merged, `SELECT merged FROM audit_search_backfill`); err != nil || !merged {
		t.Fatalf("after the backfill, the index's segments are merged: %v, %v", merged, err)
	}
	var segments int
	if err := ts.db.Read.Get(&segments, `SELECT count(DISTINCT segid) FROM audit_search_v2_idx`); err != nil || segments != 1 {
		t.Fatalf("after the backfill, the text index has %d segments (%v); want them merged into one", segments, err)
	}
	t.Run("after backfill", func(t *testing.T) {
		if !ts.FacetsReadyForTest() {
			t.Fatal("queries do not read the new index after its backfill")
		}
		checkPlannedMatchesUnplanned(t, ts, false, "STOP", "reboot", "ModelArts", "nomatch")
	})
}

// checkPlannedMatchesUnplanned compares List with the text-driven reference
// query, page by page (at most 8 pages of 20), for a list of filters with
// each of texts; with combos, also for every combination of up to three of
// the benchmark's filters, with the first of texts.
func checkPlannedMatchesUnplanned(t *testing.T, ts *testStore, combos bool, texts ...string) {
	ctx := context.Background()
	var srv, corr, mid string
	if err := ts.db.Read.QueryRow(`SELECT json_extract(targets, '$[0].id'), correlation_id, created_at FROM audit_entries
		WHERE kind = 'request' AND id > 600 ORDER BY id LIMIT 1`).Scan(&srv, &corr, &mid); err != nil {
		t.Fatal(err)
	}
	since, _ := time.Parse("2006-01-02T15:04:05.000000Z", mid)
	others := []audit.Filter{
		{Actor: "kim"}, {Action: "STOP"}, {Outcome: "api_error"}, {Server: srv}, {Correlation: corr},
		{Actor: "kim", Outcome: "success"}, {Actor: " KIM ", Action: "STOP"}, {Action: "REBOOT", Server: srv}, {Actor: "alice", Action: "STOP", Outcome: "success"},
		{Actor: "kim", Since: since, Until: since.Add(48 * time.Hour)}, {Outcome: "unknown", Action: "DELETE"},
		{Since: since.Add(-time.Hour)}, {Until: since},
	}
	// Every combination of up to three of these, as the benchmark
	// (BenchmarkTextWithFilters) runs them.
	parts := []func(*audit.Filter){
		func(f *audit.Filter) { f.Actor = "kim" },
		func(f *audit.Filter) { f.Action = "DELETE" },
		func(f *audit.Filter) { f.Outcome = "unknown" },
		func(f *audit.Filter) { f.Server = srv },
		func(f *audit.Filter) { f.Correlation = corr },
		func(f *audit.Filter) { f.Since, f.Until = since, since.Add(24*time.Hour) },
		func(f *audit.Filter) { f.Since = since.Add(3 * 24 * time.Hour) },
	}
	var combined []audit.Filter
	for mask := 1; combos && mask < 1<<len(parts); mask++ {
		var f audit.Filter
		n := 0
		for i, apply := range parts {
			if mask&(1<<i) != 0 {
				apply(&f)
				n++
			}
		}
		if both := 1<<5 | 1<<6; n <= 3 && mask&both != both { // not two time ranges
			combined = append(combined, f)
		}
	}
	for i, text := range texts {
		list := others
		if i == 0 {
			list = append(list, combined...) // the combinations with the first text only
		}
		for _, o := range list {
			f := o
			f.Text = text
			t.Run(fmt.Sprintf("%s/%+v", text, o), func(t *testing.T) {
				t.Parallel() // reads only; the caller changes the store's state after all have ended
				var before int64
				for page := 0; page < 8; page++ {
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

// TestTextIndexFacets: the filter values the text index holds (migration
// 0011) cannot be matched by typed text, and entries appended while the
// backfill has not finished are found both before and after it.
func TestTextIndexFacets(t *testing.T) {
	ts := newTestStoreOn(t, store.SQLite) // SQLite's FTS5 index with filter tokens
	ctx := context.Background()
	ts.KeepLegacySearchForTest()
	ts.exchange(t, metaFor("STOP", "b-1", audit.Target{ID: "srv-1", Name: "gpu-1"}), stopCall("srv-1"), okResult("r-1"))
	if err := ts.UnindexFacetsForTest(ctx); err != nil {
		t.Fatal(err)
	}
	ts.exchange(t, metaFor("STOP", "b-2", audit.Target{ID: "srv-2", Name: "gpu-2"}), stopCall("srv-2"), okResult("r-2"))
	ids := func(f audit.Filter) []int64 {
		t.Helper()
		got, _, err := ts.List(ctx, f, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range got {
			out = append(out, e.ID)
		}
		return out
	}
	f := audit.Filter{Text: "STOP", Outcome: "success"}
	before := ids(f)
	if len(before) != 2 {
		t.Fatalf("before the backfill, %+v lists %v, want both responses", f, before)
	}
	if err := ts.BackfillSearch(ctx); err != nil {
		t.Fatal(err)
	}
	if got := ids(f); !slices.Equal(got, before) {
		t.Fatalf("after the backfill, %+v lists %v, want %v", f, got, before)
	}
	if got := ids(audit.Filter{Text: "STOP", Server: "GPU-1"}); len(got) != 2 {
		t.Fatalf("text with a server name lists %v, want the first exchange's two entries", got)
	}
	// The token of outcome=success, typed (with and without its mark).
	token := "\uE000o" + hex.EncodeToString([]byte("success"))
	for _, text := range []string{token, token[len("\uE000"):], "STOP " + token} {
		if got := ids(audit.Filter{Text: text}); len(got) != 0 {
			t.Errorf("text %q lists %v: typed text matched a filter token", text, got)
		}
	}
}
