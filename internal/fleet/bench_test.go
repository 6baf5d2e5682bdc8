package fleet_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// BenchmarkFleetPageDuringWalks measures what a page view of the fleet
// waits for while the shared snapshot keeps expiring: the cache read plus
// filtering, sorting and paging 2,000 servers (the page's own rendering,
// 2–8 ms, is measured by BenchmarkServersPage in internal/web). The
// simulator answers every list call after 50 ms of injected latency, over
// real HTTP with the real signed client; the TTL is 250 ms and a view
// arrives every 10 ms, so walks run all the time.
//
//   - old/page-100/get: the behaviour before issue 11 §4: 100 per list call
//     (20 calls a walk), and a view that finds the snapshot expired waits
//     for the walk (Cache.Get).
//   - old/page-1024/get: the largest page, still waiting.
//   - new/page-1024/latest: the largest page, and views served the snapshot
//     at once while the walk runs in the background (Cache.Latest).
//   - baseline/no-walks: the same views with a TTL of an hour, so no walk
//     runs: what a view costs when nothing competes with it.
//
// Each case reports p50, p95, p99 and max view latency and how many walks ran.
// Run it with:
//
//	go test -run '^$' -bench BenchmarkFleetPageDuringWalks -benchtime 300x ./internal/fleet
func BenchmarkFleetPageDuringWalks(b *testing.B) {
	sim := simulator.New(simulator.Options{Servers: 2000, Seed: 7})
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	sim.SetFaults(simulator.Faults{Latency: 50 * time.Millisecond})

	cases := []struct {
		name     string
		pageSize int
		latest   bool
		ttl      time.Duration
	}{
		{"baseline/no-walks", modelarts.MaxPageSize, true, time.Hour},
		{"old/page-100/get", 100, false, 0},
		{"old/page-1024/get", modelarts.MaxPageSize, false, 0},
		{"new/page-1024/latest", modelarts.MaxPageSize, true, 0},
	}
	q := fleet.Query{}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			client, err := modelarts.NewClient(modelarts.Config{
				Endpoint: srv.URL, ProjectID: "bench", Auth: modelarts.NoAuth(), PageSize: tc.pageSize,
			})
			if err != nil {
				b.Fatal(err)
			}
			walks := &countingWrapper{Lister: client}
			ttl := tc.ttl
			if ttl == 0 {
				ttl = 250 * time.Millisecond
			}
			cache := fleet.NewCache(walks, ttl, nil)
			ctx := context.Background()
			if _, err := cache.Get(ctx); err != nil { // the first view always waits
				b.Fatal(err)
			}
			walks.n = 0
			views := make([]time.Duration, 0, b.N)
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			b.ResetTimer()
			for b.Loop() {
				<-tick.C
				start := time.Now()
				var snap *fleet.Snapshot
				if tc.latest {
					snap, err = cache.Latest(ctx)
				} else {
					snap, err = cache.Get(ctx)
				}
				if err != nil || snap == nil {
					b.Fatalf("view: %v", err)
				}
				r := fleet.Apply(snap.Servers, q)
				if len(r.Items) == 0 {
					b.Fatal("an empty page")
				}
				views = append(views, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(views)
			pct := func(p float64) float64 {
				return float64(views[min(len(views)-1, int(p*float64(len(views))))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.95), "p95-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(views[len(views)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(walks.n), "walks")
		})
	}
}

// countingWrapper counts list walks (it is only touched by the walk, which
// singleflight runs one at a time, and read after the loop).
type countingWrapper struct {
	fleet.Lister
	n int
}

func (w *countingWrapper) ListAllServers(ctx context.Context) ([]modelarts.ServerResponse, error) {
	w.n++
	return w.Lister.ListAllServers(ctx)
}
