package simulator_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// TestScale checks a 5,000-server fleet: the client can walk it, a
// 1,000-server batch goes through, and deep and sorted pages answer. It logs
// how long each step took but asserts no time (the race detector and a
// shared machine make any limit flaky); BenchmarkListPage measures pages.
func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	start := time.Now()
	sim, clock := newSim(t, simulator.Options{Servers: 5000, Seed: 3, Transition: transition})
	built := time.Since(start)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	client, err := modelarts.NewClient(modelarts.Config{
		Endpoint: srv.URL, ProjectID: project, Auth: modelarts.NoAuth(), AllowUnaudited: true,
		PageSize: 1024, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	start = time.Now()
	all, err := client.ListAllServers(ctx)
	walked := time.Since(start)
	if err != nil || len(all) != 5000 {
		t.Fatalf("ListAllServers = %d servers, %v", len(all), err)
	}

	req := &modelarts.BatchRequest{Type: modelarts.BatchStop}
	for _, s := range all {
		if ok, _ := modelarts.Eligible(modelarts.BatchStop, &s); ok && len(req.Servers) < 1000 {
			req.Servers = append(req.Servers, modelarts.BatchServerID{ID: s.ID})
		}
	}
	start = time.Now()
	page, err := client.BatchAction(ctx, req, &callLog{})
	batched := time.Since(start)
	if err != nil || len(req.Servers) != 1000 || len(page.Data) != len(req.Servers) {
		t.Fatalf("BatchAction on %d servers: %v", len(req.Servers), err)
	}
	clock.Advance(transition)

	start = time.Now()
	const pages = 50
	for i := range pages {
		r := do(t, sim, http.MethodGet, path(fmt.Sprintf("?limit=10&offset=%d", 4900-i)), nil)
		if r.status != http.StatusOK {
			t.Fatalf("page %d: %d", i, r.status)
		}
	}
	perPage := time.Since(start) / pages

	start = time.Now()
	var byUpdatePage modelarts.ServerPage
	decode(t, do(t, sim, http.MethodGet, path("?limit=10&sort_key=updateTime&sort_dir=DESC"), nil), &byUpdatePage)
	byUpdate := time.Since(start)
	if len(byUpdatePage.Data) != 10 {
		t.Errorf("updateTime page has %d servers, want 10", len(byUpdatePage.Data))
	}

	t.Logf("5000 servers: build %s, ListAllServers (5 pages of 1024) %s, batch STOP of %d %s, 10-item page at offset ~4900 %s, updateTime page %s",
		built, walked, len(req.Servers), batched, perPage, byUpdate)
}

func BenchmarkListPage(b *testing.B) {
	sim := simulator.New(simulator.Options{Servers: 5000})
	defer sim.Close()
	req := httptest.NewRequest(http.MethodGet, path("?limit=10&offset=4000"), nil)
	for b.Loop() {
		rec := httptest.NewRecorder()
		sim.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
