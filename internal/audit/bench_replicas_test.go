package audit_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

// BenchmarkAppendReplicas appends audit events from 32 concurrent writers:
// on SQLite in one console, and on PostgreSQL spread over one and over two
// consoles (replicas, each its own store and pools on one database), so the
// chain's lock across replicas is measured against the single-writer
// figures (docs/performance.md, "Replicas on PostgreSQL").
//
//	go test -run '^$' -bench AppendReplicas -benchtime 4000x ./internal/audit
func BenchmarkAppendReplicas(b *testing.B) {
	const writers = 32
	for _, c := range []struct {
		name     string
		engine   store.Engine
		replicas int
	}{
		{"sqlite/1-console", store.SQLite, 1},
		{"postgres/1-replica", store.Postgres, 1},
		{"postgres/2-replicas", store.Postgres, 2},
	} {
		b.Run(c.name, func(b *testing.B) {
			dsn := storetest.DSN(b, c.engine)
			var stores []*audit.Store
			first := storetest.OpenDSN(b, dsn)
			stores = append(stores, audit.New(first, nil))
			for i := 1; i < c.replicas; i++ {
				stores = append(stores, audit.New(storetest.OpenDSN(b, dsn), nil))
			}
			ctx := context.Background()
			actor := audit.Actor{Name: "bench", Role: "admin", ClientIP: "192.0.2.1"}
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				n := b.N / writers
				if w < b.N%writers {
					n++
				}
				wg.Add(1)
				go func(s *audit.Store, n int) {
					defer wg.Done()
					for i := 0; i < n; i++ {
						if err := s.RecordEvent(ctx, audit.EventSignInFailure, actor, map[string]string{"n": "x"}); err != nil {
							b.Error(err)
							return
						}
					}
				}(stores[w%len(stores)], n)
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			if res, err := stores[0].Verify(ctx); err != nil || !res.OK || res.Entries != int64(b.N) {
				b.Fatalf("chain after the run: %+v, %v; want %d intact entries", res, err, b.N)
			}
		})
	}
}

// BenchmarkListEngines measures the audit page's query (List, first page
// of 50, and one deep page) on a log of AUDIT_BENCH_ENTRIES seeded entries
// (default 1,000,000) on SQLite and on PostgreSQL side by side, as p95 in
// milliseconds (docs/performance.md, "Replicas on PostgreSQL"). Seeding
// dominates its time:
//
//	AUDIT_BENCH_ENTRIES=200000 go test -run '^$' -bench ListEngines -benchtime 40x -timeout 60m ./internal/audit
func BenchmarkListEngines(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("AUDIT_BENCH_ENTRIES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("AUDIT_BENCH_ENTRIES=%q: want a number >= 1000", v)
		}
	}
	for _, engine := range []store.Engine{store.SQLite, store.Postgres} {
		b.Run(string(engine), func(b *testing.B) {
			ctx := context.Background()
			db := storetest.OpenEngine(b, engine)
			s := audit.New(db, nil)
			start := time.Now()
			if err := audit.Seed(ctx, s, audit.SeedOptions{Count: n, Seed: 1}); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: seeded %d entries in %s", engine, n, time.Since(start).Round(time.Second))
			// Realistic filter values from the middle of the log.
			var targets, corr string
			if err := db.Read.QueryRow(`SELECT targets, correlation_id FROM audit_entries
				WHERE kind = 'request' AND id > ? ORDER BY id LIMIT 1`, n/2).Scan(&targets, &corr); err != nil {
				b.Fatal(err)
			}
			var ts []audit.Target
			if err := json.Unmarshal([]byte(targets), &ts); err != nil || len(ts) == 0 {
				b.Fatalf("targets %q: %v", targets, err)
			}
			pages := []struct {
				name   string
				filter audit.Filter
				before int64
			}{
				{"first-page/no-filter", audit.Filter{}, 0},
				{"first-page/actor", audit.Filter{Actor: "chen.wei"}, 0},
				{"first-page/action", audit.Filter{Action: "DELETE"}, 0},
				{"first-page/server-id", audit.Filter{Server: ts[0].ID}, 0},
				{"first-page/outcome-unknown", audit.Filter{Outcome: "unknown"}, 0},
				{"first-page/text-server-name", audit.Filter{Text: ts[0].Name}, 0},
				{"first-page/text-error", audit.Filter{Text: "connection reset"}, 0},
				{"first-page/correlation", audit.Filter{Correlation: corr}, 0},
				{"deep-page/no-filter", audit.Filter{}, int64(n / 2)},
				{"deep-page/actor", audit.Filter{Actor: "chen.wei"}, int64(n / 2)},
			}
			for _, p := range pages {
				b.Run(p.name, func(b *testing.B) {
					durs := make([]time.Duration, 0, b.N)
					rows := 0
					for b.Loop() {
						t0 := time.Now()
						got, _, err := s.List(ctx, p.filter, p.before, audit.DefaultPageSize)
						durs = append(durs, time.Since(t0))
						if err != nil {
							b.Fatal(err)
						}
						rows = len(got)
					}
					if rows == 0 {
						b.Fatalf("filter %+v matched nothing: not a meaningful measurement", p.filter)
					}
					b.ReportMetric(p95ms(durs), "p95-ms")
				})
			}
		})
	}
}
