package audit_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

// openBenchDB opens AUDIT_BENCH_DB (default: a fresh file), seeded to
// AUDIT_BENCH_ENTRIES (default 1,000,000) entries; see BenchmarkScale.
func openBenchDB(b *testing.B) (*store.DB, *audit.Store) {
	b.Helper()
	n := 1_000_000
	if v := os.Getenv("AUDIT_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = atoiMin(v, 1000); err != nil {
			b.Fatal(err)
		}
	}
	path := os.Getenv("AUDIT_BENCH_DB")
	if path == "" {
		path = b.TempDir() + "/audit-bench.db"
	}
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	s := audit.New(db, nil)
	var have int
	if err := db.Read.Get(&have, `SELECT count(*) FROM audit_entries`); err != nil {
		b.Fatal(err)
	}
	if have < n {
		if err := audit.Seed(ctx, s, audit.SeedOptions{Count: n - have, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	// A database from before migration 0011: index its filter values first.
	t0 := time.Now()
	if err := s.BackfillSearch(ctx); err != nil {
		b.Fatal(err)
	}
	if d := time.Since(t0); d > time.Second {
		b.Logf("text index backfill and merge: %s", d.Round(time.Millisecond))
	}
	return db, s
}

// BenchmarkTextWithFilters (issue 11 §2) lists the first page of /audit for
// the text "STOP" (a word a sixth of the log matches) combined with every
// combination of one to three of: an actor, an action, a rare outcome, a
// server, a batch, and a one-day range; each as List plans it ("planned":
// the text index intersects the words with the filter values, migration
// 0011; read term by term in a short id range, or oldest first when sparse,
// see listText), as one newest-first query of the same intersection
// ("one-query", the plan before listText), as the previous planner did and as List still does until
// the backfill of 0011 has finished ("windowed": the rarest filter's ids a
// window at a time against the words-only index), and as it was before any
// planning ("unplanned": the text index drives and every other filter is
// checked per match), in the same run. p95-ms is the figure to read.
//
//	AUDIT_BENCH_DB=/tmp/audit-1m.db go test -run '^$' -bench TextWithFilters -benchtime 20x -timeout 60m ./internal/audit
func BenchmarkTextWithFilters(b *testing.B) {
	db, s := openBenchDB(b)
	ctx := context.Background()
	var maxID int64
	if err := db.Read.Get(&maxID, `SELECT max(id) FROM audit_entries`); err != nil {
		b.Fatal(err)
	}
	var srvID, corr, midAt string
	if err := db.Read.QueryRow(`SELECT json_extract(targets, '$[0].id'), correlation_id, created_at
		FROM audit_entries WHERE kind = 'request' AND action = 'STOP' AND id > ? ORDER BY id LIMIT 1`, maxID/2).Scan(&srvID, &corr, &midAt); err != nil {
		b.Fatal(err)
	}
	mid, _ := time.Parse("2006-01-02T15:04:05.000000Z", midAt)
	type part struct {
		name  string
		apply func(*audit.Filter)
	}
	parts := []part{
		{"actor", func(f *audit.Filter) { f.Actor = "kim" }},
		{"action", func(f *audit.Filter) { f.Action = "DELETE" }},
		{"outcome", func(f *audit.Filter) { f.Outcome = "unknown" }},
		{"server", func(f *audit.Filter) { f.Server = srvID }},
		{"batch", func(f *audit.Filter) { f.Correlation = corr }},
		{"day", func(f *audit.Filter) { f.Since, f.Until = mid, mid.Add(24*time.Hour) }},
	}
	type combo struct {
		name string
		f    audit.Filter
	}
	var combos []combo
	for mask := 1; mask < 1<<len(parts); mask++ {
		var names []string
		f := audit.Filter{Text: "STOP"}
		for i, p := range parts {
			if mask&(1<<i) != 0 {
				names = append(names, p.name)
				p.apply(&f)
			}
		}
		if len(names) <= 3 {
			combos = append(combos, combo{strings.Join(names, "+"), f})
		}
	}
	for _, c := range combos {
		for _, variant := range []string{"planned", "one-query", "windowed", "unplanned"} {
			b.Run("text+"+c.name+"/"+variant, func(b *testing.B) {
				switch variant {
				case "one-query":
					defer audit.SetTermRangeForTest(0)()
					defer audit.SetSparseProbeForTest(-1)()
				case "windowed":
					defer s.UseLegacySearchForTest()()
				}
				durs := make([]time.Duration, 0, b.N)
				for b.Loop() {
					t0 := time.Now()
					var err error
					if variant != "unplanned" {
						_, _, err = s.List(ctx, c.f, 0, audit.DefaultPageSize)
					} else {
						_, err = s.ListUnplannedForTest(ctx, c.f, 0, audit.DefaultPageSize)
					}
					durs = append(durs, time.Since(t0))
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(p95ms(durs), "p95-ms")
			})
		}
	}
}

func atoiMin(v string, lo int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo {
		return 0, fmt.Errorf("AUDIT_BENCH_ENTRIES=%q: want a number >= %d", v, lo)
	}
	return n, nil
}

// BenchmarkStartup (issues 10 §5, 11 §5) measures what a start costs the
// audit log at AUDIT_BENCH_ENTRIES entries, side by side in one run:
// "resume" is what the console does now before its audit page is current
// (open the store, check the key, look for unanswered requests after the
// last recovery, verify the entries after the last verified head: here one
// new entry); "rehash" is the full verification every start used to run.
func BenchmarkStartup(b *testing.B) {
	db, s := openBenchDB(b)
	ctx := context.Background()
	key := []byte("benchmark-audit-key-0123456789abcdef")
	if err := s.UseKey(ctx, key); err != nil {
		b.Fatal(err)
	}
	if _, err := s.RecoverUnfinished(ctx); err != nil {
		b.Fatal(err)
	}
	if res, err := s.VerifyTail(ctx); err != nil || !res.OK {
		b.Fatalf("first verification: %+v, %v", res, err)
	}
	b.Run("resume", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if err := s.RecordEvent(ctx, audit.EventSignOut, audit.Actor{Name: "bench"}, nil); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			st := audit.New(db, nil)
			if err := st.UseKey(ctx, key); err != nil {
				b.Fatal(err)
			}
			if _, err := st.RecoverUnfinished(ctx); err != nil {
				b.Fatal(err)
			}
			res, err := st.VerifyTail(ctx)
			if err != nil || !res.OK || res.Mode != audit.ModeTail {
				b.Fatalf("tail verification: %+v, %v", res, err)
			}
		}
	})
	b.Run("rehash", func(b *testing.B) {
		for b.Loop() {
			res, err := s.Verify(ctx)
			if err != nil || !res.OK {
				b.Fatalf("verification: %+v, %v", res, err)
			}
		}
	})
}
