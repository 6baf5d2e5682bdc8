package simulator_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

// callLog is a modelarts.Recorder that keeps every state-changing call.
type callLog struct {
	mu      sync.Mutex
	before  []*modelarts.OutgoingCall
	results []*modelarts.CallResult
}

func (l *callLog) BeforeSend(_ context.Context, c *modelarts.OutgoingCall) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.before = append(l.before, c)
	return int64(len(l.before)), nil
}

func (l *callLog) AfterSend(_ context.Context, _ int64, _ *modelarts.OutgoingCall, r *modelarts.CallResult) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
	return nil
}

func (l *callLog) last() *modelarts.CallResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.results) == 0 {
		return nil
	}
	return l.results[len(l.results)-1]
}

// integration is a simulator with AK/SK behind a real HTTP server and the
// console's real client signing its requests.
type integration struct {
	sim    *simulator.Simulator
	clock  *testutil.Clock
	srv    *httptest.Server
	client *modelarts.Client
	calls  *callLog
}

func newIntegration(t *testing.T) *integration {
	t.Helper()
	// The client signs with the wall clock, so the fake clock starts at now
	// (within the 15-minute skew) and only moves forward by small steps.
	clock := testutil.NewClock(time.Now())
	sim := simulator.New(simulator.Options{
		Servers:    60,
		Seed:       11,
		Transition: transition,
		ProjectID:  project,
		AK:         testAK,
		SK:         testSK,
		Now:        clock.Now,
	})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	calls := &callLog{}
	client := newClient(t, srv.URL, project, modelarts.NewAKSK(testAK, testSK, "", project), calls)
	return &integration{sim: sim, clock: clock, srv: srv, client: client, calls: calls}
}

func newClient(t *testing.T, endpoint, projectID string, auth modelarts.Authenticator, rec modelarts.Recorder) *modelarts.Client {
	t.Helper()
	c, err := modelarts.NewClient(modelarts.Config{
		Endpoint:       endpoint,
		ProjectID:      projectID,
		Auth:           auth,
		HTTPClient:     &http.Client{Timeout: 20 * time.Second},
		AllowUnaudited: rec == nil,
		Retry:          modelarts.RetryPolicy{MaxAttempts: 3, BaseDelay: 10 * time.Millisecond, MaxDelay: 2 * time.Second},
		PageSize:       25,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func apiError(t *testing.T, err error) *modelarts.APIError {
	t.Helper()
	var ae *modelarts.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want a *modelarts.APIError", err, err)
	}
	return ae
}

// lastRequestID is the X-Request-Id the simulator gave its latest request.
func lastRequestID(sim *simulator.Simulator) string {
	reqs := sim.Requests()
	return reqs[len(reqs)-1].RequestID
}

func TestClientBatchCycle(t *testing.T) {
	it := newIntegration(t)
	ctx := context.Background()

	all, err := it.client.ListAllServers(ctx)
	if err != nil {
		t.Fatalf("ListAllServers: %v", err)
	}
	if diff := cmp.Diff(it.sim.Servers(), all); diff != "" {
		t.Fatalf("ListAllServers (3 pages of 25) differs from the fleet (-want +got):\n%s", diff)
	}

	var targets []string
	for _, s := range all {
		if ok, _ := modelarts.Eligible(modelarts.BatchStop, &s); ok && s.Status == modelarts.StatusRunning && len(targets) < 3 {
			targets = append(targets, s.ID)
		}
	}
	req := &modelarts.BatchRequest{Type: modelarts.BatchStop}
	for _, id := range targets {
		req.Servers = append(req.Servers, modelarts.BatchServerID{ID: id})
	}
	page, err := it.client.BatchAction(ctx, req, it.calls)
	if err != nil {
		t.Fatalf("BatchAction STOP: %v", err)
	}
	if page.Total != 3 || len(page.Data) != 3 {
		t.Fatalf("batch answered total %d with %d servers, want 3", page.Total, len(page.Data))
	}
	for _, s := range page.Data {
		if s.Status != modelarts.StatusStopping {
			t.Errorf("batch answered %s as %s, want STOPPING", s.ID, s.Status)
		}
	}
	if r := it.calls.last(); r == nil || r.Status != http.StatusOK || r.Err != nil {
		t.Errorf("recorded outcome = %+v, want 200 without error", r)
	}

	statusOf := func(id string) modelarts.Status {
		t.Helper()
		all, err := it.client.ListAllServers(ctx)
		if err != nil {
			t.Fatalf("ListAllServers: %v", err)
		}
		for _, s := range all {
			if s.ID == id {
				return s.Status
			}
		}
		return modelarts.StatusDeleted
	}
	for _, id := range targets {
		if st := statusOf(id); st != modelarts.StatusStopping {
			t.Errorf("%s is %s right after the batch, want STOPPING", id, st)
		}
	}
	it.clock.Advance(transition)
	for _, id := range targets {
		if st := statusOf(id); st != modelarts.StatusStopped {
			t.Errorf("%s is %s after the transition, want STOPPED", id, st)
		}
	}
	after, err := it.client.ListAllServers(ctx)
	if err != nil {
		t.Fatalf("ListAllServers after: %v", err)
	}
	if len(after) != len(all) {
		t.Fatalf("ListAllServers after = %d servers, before %d; want the same fleet", len(after), len(all))
	}
	stopped := 0
	for i, s := range after {
		if s.ID != all[i].ID {
			t.Fatalf("server order changed at %d", i)
		}
		switch {
		case strings.Contains(strings.Join(targets, ","), s.ID):
			if s.Status == modelarts.StatusStopped {
				stopped++
			}
		case s.Status != all[i].Status:
			t.Errorf("untouched server %s went from %s to %s", s.ID, all[i].Status, s.Status)
		}
	}
	if stopped != 3 {
		t.Errorf("%d of the 3 targets are STOPPED in the list", stopped)
	}

	// Refusals come back as typed errors and change nothing.
	_, err = it.client.BatchAction(ctx, req, it.calls)
	ae := apiError(t, err)
	if ae.HTTPStatus != http.StatusBadRequest || ae.Code != simulator.CodeNotAllowed || ae.RequestID != lastRequestID(it.sim) {
		t.Errorf("stopping stopped servers: %+v", ae)
	}

	// Delete one stopped target and watch it disappear.
	if _, err := it.client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchDelete,
		Servers: []modelarts.BatchServerID{{ID: targets[0]}}}, it.calls); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if st := statusOf(targets[0]); st != modelarts.StatusDeleting {
		t.Errorf("deleted server is %s, want DELETING", st)
	}
	it.clock.Advance(transition)
	if _, err := it.client.ShowServer(ctx, targets[0]); !modelarts.IsNotFound(err) {
		t.Errorf("ShowServer after delete: %v, want IsNotFound", err)
	}

	// Images for an OS change.
	var flavor string
	for _, s := range after {
		if s.Type() == modelarts.ServerTypeECS {
			flavor = s.Flavor
			break
		}
	}
	imgs, err := it.client.ListImages(ctx, modelarts.ImageQuery{ServerType: modelarts.ServerTypeECS, FlavorName: flavor})
	if err != nil || len(imgs) == 0 {
		t.Fatalf("ListImages(ECS, %s) = %d images, %v", flavor, len(imgs), err)
	}
	for _, img := range imgs {
		if img.ServerType != modelarts.ServerTypeECS {
			t.Errorf("ListImages(ECS) returned %+v", img)
		}
	}
}

// TestClientWallClock runs one transition on the real clock, polling as the
// console does.
func TestClientWallClock(t *testing.T) {
	sim := simulator.New(simulator.Options{Transition: 100 * time.Millisecond})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	client := newClient(t, srv.URL, project, modelarts.NoAuth(), &callLog{})
	ctx := context.Background()
	s := pick(t, sim, "stopped", postPaidWith(modelarts.StatusStopped))
	page, err := client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStart,
		Servers: []modelarts.BatchServerID{{ID: s.ID}}}, &callLog{})
	if err != nil || len(page.Data) != 1 || page.Data[0].Status != modelarts.StatusStarting {
		t.Fatalf("START = %v, %v; want STARTING", page, err)
	}
	testutil.Eventually(t, 5*time.Second, "the server reaches RUNNING", func() error {
		cur, err := client.ShowServer(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status != modelarts.StatusRunning && cur.Status != modelarts.StatusStarting {
			t.Fatalf("status %s while waiting for RUNNING", cur.Status)
		}
		if cur.Status != modelarts.StatusRunning {
			return fmt.Errorf("status %s", cur.Status)
		}
		return nil
	})
}

func TestClientFaults(t *testing.T) {
	ctx := context.Background()

	t.Run("500-on-batch-is-typed-and-not-retried", func(t *testing.T) {
		it := newIntegration(t)
		s := pick(t, it.sim, "running", postPaidWith(modelarts.StatusRunning))
		it.sim.FailNextMethod(http.MethodPost, simulator.FaultError, 1)
		_, err := it.client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: []modelarts.BatchServerID{{ID: s.ID}}}, it.calls)
		ae := apiError(t, err)
		if ae.HTTPStatus != http.StatusInternalServerError || ae.Code != simulator.CodeInternal || ae.Message == "" {
			t.Errorf("APIError = %+v, want 500 %s", ae, simulator.CodeInternal)
		}
		if ae.RequestID == "" || ae.RequestID != lastRequestID(it.sim) {
			t.Errorf("APIError request id %q, want the simulator's %q", ae.RequestID, lastRequestID(it.sim))
		}
		if n := it.sim.MutatingRequests(); n != 1 {
			t.Errorf("the batch reached the simulator %d times, want exactly 1 (never retried)", n)
		}
		if got, _ := it.sim.Server(s.ID); got.Status != modelarts.StatusRunning {
			t.Errorf("server is %s after a 500, want RUNNING", got.Status)
		}
		if r := it.calls.last(); r == nil || r.Status != http.StatusInternalServerError {
			t.Errorf("recorded outcome = %+v, want status 500", r)
		}
	})

	t.Run("500-on-read-is-retried", func(t *testing.T) {
		it := newIntegration(t)
		s := it.sim.Servers()[0]
		it.sim.FailNext(simulator.FaultError, 1)
		if _, err := it.client.ShowServer(ctx, s.ID); err != nil {
			t.Fatalf("ShowServer after one 500: %v", err)
		}
		if n := it.sim.RequestCount(); n != 2 {
			t.Errorf("simulator saw %d requests, want 2 (one retry)", n)
		}
	})

	t.Run("429-on-read-honours-retry-after-and-succeeds", func(t *testing.T) {
		it := newIntegration(t)
		it.sim.FailNext(simulator.FaultThrottle, 1)
		start := time.Now()
		all, err := it.client.ListAllServers(ctx)
		if err != nil {
			t.Fatalf("ListAllServers after a 429: %v", err)
		}
		if len(all) != 60 {
			t.Errorf("got %d servers, want 60", len(all))
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("retried after %s, before the 1s Retry-After", d)
		}
		if n := it.sim.RequestCount(); n != 4 {
			t.Errorf("simulator saw %d requests, want 4 (3 pages + 1 retry)", n)
		}
	})

	t.Run("429-on-batch-is-not-retried", func(t *testing.T) {
		it := newIntegration(t)
		s := pick(t, it.sim, "running", postPaidWith(modelarts.StatusRunning))
		it.sim.FailNextMethod(http.MethodPost, simulator.FaultThrottle, 1)
		_, err := it.client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: []modelarts.BatchServerID{{ID: s.ID}}}, it.calls)
		ae := apiError(t, err)
		if ae.HTTPStatus != http.StatusTooManyRequests || ae.Code != modelarts.CodeThrottled || ae.RetryAfter != time.Second {
			t.Errorf("APIError = %+v, want 429 APIGW.0308 retry after 1s", ae)
		}
		if n := it.sim.MutatingRequests(); n != 1 {
			t.Errorf("the batch reached the simulator %d times, want 1", n)
		}
	})

	t.Run("timeout-leaves-outcome-unknown", func(t *testing.T) {
		it := newIntegration(t)
		s := pick(t, it.sim, "running", postPaidWith(modelarts.StatusRunning))
		it.sim.FailNextMethod(http.MethodPost, simulator.FaultTimeout, 1)
		tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		_, err := it.client.BatchAction(tctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: []modelarts.BatchServerID{{ID: s.ID}}}, it.calls)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
		if r := it.calls.last(); r == nil || r.Err == nil || r.Status != 0 {
			t.Errorf("recorded outcome = %+v, want a transport error and no status", r)
		}
		// The simulator did apply it: only a fresh read tells.
		got, err := it.client.ShowServer(ctx, s.ID)
		if err != nil || got.Status != modelarts.StatusStopping {
			t.Errorf("after the timeout the server is %v (%v), want STOPPING", got, err)
		}
	})

	t.Run("timeout-on-read", func(t *testing.T) {
		it := newIntegration(t)
		it.sim.FailNext(simulator.FaultTimeout, 5)
		tctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, err := it.client.ListServersPage(tctx, 10, 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("latency-slows-reads-and-batches", func(t *testing.T) {
		it := newIntegration(t)
		const latency = 150 * time.Millisecond
		it.sim.SetFaults(simulator.Faults{Latency: latency})
		s := pick(t, it.sim, "running", postPaidWith(modelarts.StatusRunning))
		start := time.Now()
		if _, err := it.client.ShowServer(ctx, s.ID); err != nil {
			t.Fatalf("ShowServer with latency: %v", err)
		}
		if d := time.Since(start); d < latency {
			t.Errorf("ShowServer answered in %s, before the %s latency", d, latency)
		}
		start = time.Now()
		page, err := it.client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: []modelarts.BatchServerID{{ID: s.ID}}}, it.calls)
		if err != nil || len(page.Data) != 1 || page.Data[0].Status != modelarts.StatusStopping {
			t.Fatalf("BatchAction with latency = %+v, %v; want the server STOPPING", page, err)
		}
		if d := time.Since(start); d < latency {
			t.Errorf("BatchAction answered in %s, before the %s latency", d, latency)
		}
		// A caller with less patience than the latency gets its deadline.
		tctx, cancel := context.WithTimeout(ctx, latency/3)
		defer cancel()
		if _, err := it.client.ShowServer(tctx, s.ID); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("ShowServer with a deadline shorter than the latency: %v, want context.DeadlineExceeded", err)
		}
	})

	t.Run("dropped-connection-on-batch", func(t *testing.T) {
		it := newIntegration(t)
		s := pick(t, it.sim, "running", postPaidWith(modelarts.StatusRunning))
		it.sim.FailNextMethod(http.MethodPost, simulator.FaultDrop, 1)
		_, err := it.client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: []modelarts.BatchServerID{{ID: s.ID}}}, it.calls)
		if err == nil {
			t.Fatal("BatchAction over a dropped connection succeeded")
		}
		var ae *modelarts.APIError
		if errors.As(err, &ae) {
			t.Fatalf("err = %v, want a transport error, not an APIError", err)
		}
		if !strings.Contains(err.Error(), "may or may not have reached ModelArts") {
			t.Errorf("err = %v, want it to say the outcome is unknown", err)
		}
		if n := it.sim.MutatingRequests(); n != 1 {
			t.Errorf("the batch reached the simulator %d times, want 1", n)
		}
		if got, _ := it.sim.Server(s.ID); got.Status != modelarts.StatusRunning {
			t.Errorf("server is %s after a dropped request, want RUNNING", got.Status)
		}
	})

	t.Run("dropped-connection-on-read-is-retried", func(t *testing.T) {
		it := newIntegration(t)
		it.sim.FailNext(simulator.FaultDrop, 1)
		page, err := it.client.ListServersPage(ctx, 10, 0)
		if err != nil || len(page.Data) != 10 {
			t.Fatalf("ListServersPage after a drop = %v, %v", page, err)
		}
		if n := it.sim.RequestCount(); n != 2 {
			t.Errorf("simulator saw %d requests, want 2", n)
		}
	})

	t.Run("malformed-read-is-a-decode-error", func(t *testing.T) {
		it := newIntegration(t)
		s := it.sim.Servers()[0]
		it.sim.FailNext(simulator.FaultMalformed, 1)
		_, err := it.client.ShowServer(ctx, s.ID)
		if err == nil || !strings.Contains(err.Error(), "decode") {
			t.Fatalf("err = %v, want a decode error", err)
		}
		var ae *modelarts.APIError
		if errors.As(err, &ae) {
			t.Errorf("err = %v, want a decode error, not an APIError", err)
		}
	})

	t.Run("malformed-batch-answer-was-applied", func(t *testing.T) {
		it := newIntegration(t)
		s := pick(t, it.sim, "running", postPaidWith(modelarts.StatusRunning))
		it.sim.FailNextMethod(http.MethodPost, simulator.FaultMalformed, 1)
		_, err := it.client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: []modelarts.BatchServerID{{ID: s.ID}}}, it.calls)
		if err == nil || !strings.Contains(err.Error(), "could not be decoded") {
			t.Fatalf("err = %v, want a decode error", err)
		}
		if got, _ := it.sim.Server(s.ID); got.Status != modelarts.StatusStopping {
			t.Errorf("server is %s, want STOPPING (the action was applied)", got.Status)
		}
	})

	t.Run("forced-failure-ends-failed", func(t *testing.T) {
		it := newIntegration(t)
		s := pick(t, it.sim, "running", postPaidWith(modelarts.StatusRunning))
		it.sim.SetFaults(simulator.Faults{FailServers: []string{s.Name}})
		if _, err := it.client.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop,
			Servers: []modelarts.BatchServerID{{ID: s.ID}}}, it.calls); err != nil {
			t.Fatalf("STOP: %v", err)
		}
		it.clock.Advance(transition)
		got, err := it.client.ShowServer(ctx, s.ID)
		if err != nil || got.Status != modelarts.StatusStopFailed {
			t.Errorf("server = %v (%v), want STOP_FAILED", got, err)
		}
	})

	t.Run("wrong-secret-key-is-401", func(t *testing.T) {
		it := newIntegration(t)
		bad := newClient(t, it.srv.URL, project, modelarts.NewAKSK(testAK, "wrong", "", project), &callLog{})
		_, err := bad.ListServersPage(ctx, 10, 0)
		ae := apiError(t, err)
		if ae.HTTPStatus != http.StatusUnauthorized || ae.Code != modelarts.CodeAuthFailed || ae.RequestID == "" {
			t.Errorf("APIError = %+v, want 401 APIGW.0301 with a request id", ae)
		}
	})

	t.Run("other-project-is-403", func(t *testing.T) {
		it := newIntegration(t)
		const other = "ffffffffffffffffffffffffffffffff"
		c := newClient(t, it.srv.URL, other, modelarts.NewAKSK(testAK, testSK, "", other), &callLog{})
		_, err := c.ListServersPage(ctx, 10, 0)
		ae := apiError(t, err)
		if ae.HTTPStatus != http.StatusForbidden || ae.Code != simulator.CodeForbidden {
			t.Errorf("APIError = %+v, want 403 %s", ae, simulator.CodeForbidden)
		}
	})
}
