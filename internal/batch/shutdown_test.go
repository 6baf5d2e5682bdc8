package batch_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
)

// TestShutdownStopsBetweenChunks: a stopping console finishes no more
// chunks than the one on its way, records the rest not_sent, is bounded by
// its deadline (the chunk on its way is cancelled and recorded), and loses
// nothing from the audit log.
func TestShutdownStopsBetweenChunks(t *testing.T) {
	e := newEnv(t, envOpts{chunkSize: 1, callTimeout: time.Minute})
	servers := e.pick(t, 3, withStatus(modelarts.StatusRunning))
	e.sim.FailNextMethod(http.MethodPost, simulator.FaultTimeout, 1) // the first chunk hangs
	id := e.run(t, operator, modelarts.BatchStop, ids(servers))
	testutil.Eventually(t, 10*time.Second, "the first chunk is on its way", func() error {
		if e.mutating() != 1 {
			return fmt.Errorf("%d requests", e.mutating())
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := e.svc.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the deadline reported", err)
	}
	if n := e.mutating(); n != 1 {
		t.Errorf("%d requests were sent, want only the one on its way", n)
	}
	prog, err := e.svc.Status(context.Background(), id, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []batch.Failure{batch.FailureInterrupted, batch.FailureShutdown, batch.FailureShutdown}
	for i, c := range prog.Chunks {
		if c.Failure != want[i] {
			t.Errorf("chunk %d = %s/%s, want %s", c.N, c.Outcome, c.Failure, want[i])
		}
	}
	if prog.Chunks[0].Outcome != batch.OutcomeUnknown || prog.Chunks[1].Outcome != batch.OutcomeNotSent {
		t.Errorf("outcomes = %s, %s; want unknown (it may have acted), not_sent", prog.Chunks[0].Outcome, prog.Chunks[1].Outcome)
	}
	entries, _, err := e.audit.List(context.Background(), audit.Filter{Correlation: id}, 0, 10)
	if err != nil || len(entries) != 2 {
		t.Fatalf("audit entries = %d, %v; want the request and its response", len(entries), err)
	}
	// No new batch starts once stopping.
	p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchStop, ids(servers[1:]), e.snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := execute(e, operator, p.Token, nil, ""); !errors.Is(err, batch.ErrShuttingDown) {
		t.Errorf("execute while stopping = %v, want ErrShuttingDown", err)
	}
}

// TestStatusOnlyReads: Status (the page's read) never records final
// states; Settle (the follower's step) does.
func TestStatusOnlyReads(t *testing.T) {
	e := newEnv(t, envOpts{})
	servers := e.pick(t, 1, withStatus(modelarts.StatusRunning))
	id := e.run(t, operator, modelarts.BatchStop, ids(servers))
	e.svc.Wait()
	testutil.Eventually(t, 15*time.Second, "the batch settles", func() error {
		p, err := e.svc.Status(context.Background(), id, e.snapshot(t))
		if err != nil {
			t.Fatal(err)
		}
		if !p.Done {
			return errors.New("not settled")
		}
		if p.Recorded {
			t.Fatal("Status reports the batch recorded")
		}
		return nil
	})
	var status string
	if err := e.db.Read.Get(&status, `SELECT status FROM batches WHERE id = ?`, id); err != nil || status != batch.StatusRunning {
		t.Fatalf("after Status the batch is %q, %v; want still running (nothing written)", status, err)
	}
	p, err := e.svc.Settle(context.Background(), id, e.snapshot(t))
	if err != nil || !p.Recorded {
		t.Fatalf("Settle = %+v, %v", p, err)
	}
	if err := e.db.Read.Get(&status, `SELECT status FROM batches WHERE id = ?`, id); err != nil || status != batch.StatusDone {
		t.Fatalf("after Settle the batch is %q, %v; want done", status, err)
	}
}

// TestRedirectingEndpointGetsNothingMore: a ModelArts endpoint that answers
// a batch with a 307 gets no second request, the target of the redirect gets
// nothing (no body, no token), the chunk's outcome is unknown and the audit
// shows the 3xx with its Location.
func TestRedirectingEndpointGetsNothingMore(t *testing.T) {
	ctx := context.Background()
	var elsewhere, endpoint atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	sim := simulator.New(simulator.Options{Servers: 10, Seed: 3})
	defer sim.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			endpoint.Add(1)
			http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
			return
		}
		sim.ServeHTTP(w, r)
	}))
	defer redirector.Close()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "console.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	au := audit.New(db, nil)
	client, err := modelarts.NewClient(modelarts.Config{Endpoint: redirector.URL, ProjectID: project,
		Auth: modelarts.StaticToken("SECRET-TOKEN"), HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	cache := fleet.NewCache(client, time.Hour, nil)
	svc, err := batch.NewService(batch.Config{Cloud: client, Audit: au, Fleet: cache, DB: db, FollowInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := cache.Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var target string
	for _, s := range snap.Servers {
		if ok, _ := modelarts.Eligible(modelarts.BatchDelete, &s); ok {
			target = s.ID
			break
		}
	}
	p, err := svc.Prepare(ctx, operator, modelarts.BatchDelete, []string{target}, snap)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := svc.Execute(ctx, batch.ExecuteRequest{User: operator, Token: p.Token, TypedWord: "DELETE", Meta: meta})
	if err != nil {
		t.Fatal(err)
	}
	svc.Wait()
	if endpoint.Load() != 1 || elsewhere.Load() != 0 {
		t.Fatalf("endpoint saw %d POSTs, redirect target %d requests; want 1 and 0", endpoint.Load(), elsewhere.Load())
	}
	prog, err := svc.Status(ctx, ex.BatchID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := prog.Chunks[0]; c.Outcome != batch.OutcomeUnknown || c.Failure != batch.FailureRedirect || c.HTTPStatus != 307 {
		t.Errorf("chunk = %+v; want unknown after a 307", c)
	}
	entries, _, err := au.List(ctx, audit.Filter{Correlation: ex.BatchID}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var resp *audit.Entry
	for i := range entries {
		if entries[i].Kind == audit.KindResponse {
			resp = &entries[i]
		}
	}
	if resp == nil || resp.Status != 307 || resp.ResponseHeaders.Get("Location") != other.URL+"/v1/"+project+"/dev-servers/action" {
		t.Fatalf("audit response = %+v; want the 307 with its Location", resp)
	}
}
