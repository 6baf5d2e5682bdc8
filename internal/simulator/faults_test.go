package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

// faultServer runs a simulator behind a real HTTP server.
func faultServer(t *testing.T, opts simulator.Options) (*simulator.Simulator, *testutil.Clock, *httptest.Server) {
	t.Helper()
	sim, clock := newSim(t, opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close) // runs before srv.Close: releases held requests
	return sim, clock, srv
}

type wireResult struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// call sends one request with a fresh connection (no keep-alive, so Go's
// transport never silently retries on a reused connection).
func call(t *testing.T, srv *httptest.Server, ctx context.Context, method, p string, body any) wireResult {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+p, rd)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.Do(req)
	if err != nil {
		return wireResult{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return wireResult{status: res.StatusCode, header: res.Header, body: b, err: err}
}

func TestFaultsOneShot(t *testing.T) {
	tests := []struct {
		name    string
		kind    simulator.FaultKind
		timeout time.Duration
		check   func(t *testing.T, r wireResult)
		applied bool // whether the STOP took effect
	}{
		{
			name: "error", kind: simulator.FaultError,
			check: func(t *testing.T, r wireResult) {
				if r.err != nil || r.status != http.StatusInternalServerError {
					t.Fatalf("got status %d err %v, want 500", r.status, r.err)
				}
				var m map[string]string
				_ = json.Unmarshal(r.body, &m)
				if m["error_code"] != simulator.CodeInternal || m["error_msg"] == "" {
					t.Errorf("body %s, want error_code %s", r.body, simulator.CodeInternal)
				}
				if !requestIDRE.MatchString(r.header.Get("X-Request-Id")) {
					t.Errorf("no X-Request-Id on the 500")
				}
			},
		},
		{
			name: "throttle", kind: simulator.FaultThrottle,
			check: func(t *testing.T, r wireResult) {
				if r.err != nil || r.status != http.StatusTooManyRequests {
					t.Fatalf("got status %d err %v, want 429", r.status, r.err)
				}
				if got := r.header.Get("Retry-After"); got != "1" {
					t.Errorf("Retry-After = %q, want 1", got)
				}
				var m map[string]string
				_ = json.Unmarshal(r.body, &m)
				if m["error_code"] != "APIGW.0308" || m["request_id"] != r.header.Get("X-Request-Id") {
					t.Errorf("body %s, want APIGW.0308 with request_id", r.body)
				}
			},
		},
		{
			name: "timeout", kind: simulator.FaultTimeout, timeout: 300 * time.Millisecond, applied: true,
			check: func(t *testing.T, r wireResult) {
				if !errors.Is(r.err, context.DeadlineExceeded) {
					t.Fatalf("got status %d err %v, want the client's deadline", r.status, r.err)
				}
			},
		},
		{
			name: "drop", kind: simulator.FaultDrop,
			check: func(t *testing.T, r wireResult) {
				if r.err == nil {
					t.Fatalf("got status %d, want a connection error", r.status)
				}
				if errors.Is(r.err, context.DeadlineExceeded) {
					t.Fatalf("got a timeout, want the connection closed at once: %v", r.err)
				}
			},
		},
		{
			name: "malformed", kind: simulator.FaultMalformed, applied: true,
			check: func(t *testing.T, r wireResult) {
				if r.err != nil || r.status != http.StatusOK {
					t.Fatalf("got status %d err %v, want 200", r.status, r.err)
				}
				var page modelarts.ServerPage
				if err := json.Unmarshal(r.body, &page); err == nil {
					t.Fatalf("body %s decoded; want truncated JSON", r.body)
				}
				if !bytes.HasPrefix(r.body, []byte(`{"current":1,`)) {
					t.Errorf("body %s is not the start of the real answer", r.body)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim, _, srv := faultServer(t, simulator.Options{Transition: transition})
			run := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
			// The one-shot fault is for POSTs; this read must pass untouched.
			sim.FailNextMethod(http.MethodPost, tt.kind, 1)
			if r := call(t, srv, context.Background(), http.MethodGet, path("/"+run.ID), nil); r.status != http.StatusOK {
				t.Fatalf("read before the POST: status %d err %v", r.status, r.err)
			}
			// start is read before the deadline is set, so an answer that
			// only comes at the deadline is never "early" by the gap.
			start := time.Now()
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			r := call(t, srv, ctx, http.MethodPost, path("/action"), batch(modelarts.BatchStop, nil, run.ID))
			tt.check(t, r)
			if tt.timeout > 0 && time.Since(start) < tt.timeout {
				t.Errorf("answered after %s, before the client's %s deadline", time.Since(start), tt.timeout)
			}
			got, _ := sim.Server(run.ID)
			if want := map[bool]modelarts.Status{true: modelarts.StatusStopping, false: modelarts.StatusRunning}[tt.applied]; got.Status != want {
				t.Errorf("server is %s after a %s fault, want %s", got.Status, tt.name, want)
			}
			reqs := sim.Requests()
			if last := reqs[len(reqs)-1]; last.Fault != tt.kind || last.Method != http.MethodPost {
				t.Errorf("last recorded request: %s with fault %s, want POST with %s", last.Method, last.Fault, tt.kind)
			}
			if sim.MutatingRequests() != 1 {
				t.Errorf("MutatingRequests = %d, want 1", sim.MutatingRequests())
			}
			// The fault was one-shot: the next request is normal.
			if r := call(t, srv, context.Background(), http.MethodGet, path("/"+run.ID), nil); r.status != http.StatusOK {
				t.Fatalf("request after the fault: status %d err %v", r.status, r.err)
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	const latency = 150 * time.Millisecond
	sim, _, srv := faultServer(t, simulator.Options{Faults: simulator.Faults{Latency: latency}})
	start := time.Now()
	if r := call(t, srv, context.Background(), http.MethodGet, path("?limit=1"), nil); r.status != http.StatusOK {
		t.Fatalf("status %d err %v", r.status, r.err)
	}
	if d := time.Since(start); d < latency {
		t.Errorf("answered in %s, want at least %s", d, latency)
	}
	sim.SetFaults(simulator.Faults{})
	start = time.Now()
	call(t, srv, context.Background(), http.MethodGet, path("?limit=1"), nil)
	if d := time.Since(start); d >= latency {
		t.Errorf("answered in %s after clearing latency", d)
	}
}

func TestFaultRates(t *testing.T) {
	t.Run("rate-one-always", func(t *testing.T) {
		sim, _ := newSim(t, simulator.Options{Faults: simulator.Faults{ThrottleRate: 1}})
		for range 5 {
			wantError(t, do(t, sim, http.MethodGet, path(""), nil), http.StatusTooManyRequests, "APIGW.0308")
		}
		sim.SetFaults(simulator.Faults{})
		decode(t, do(t, sim, http.MethodGet, path(""), nil), new(modelarts.ServerPage))
	})

	t.Run("seeded-and-reproducible", func(t *testing.T) {
		outcomes := func(seed int64) []int {
			sim, _ := newSim(t, simulator.Options{Seed: seed, Faults: simulator.Faults{ErrorRate: 0.3, ThrottleRate: 0.2}})
			var got []int
			for range 200 {
				got = append(got, do(t, sim, http.MethodGet, path("?limit=1"), nil).status)
			}
			return got
		}
		a, b := outcomes(5), outcomes(5)
		if diff := cmp.Diff(a, b); diff != "" {
			t.Fatalf("same seed gave different fault sequences (-first +second):\n%s", diff)
		}
		count := map[int]int{}
		for _, s := range a {
			count[s]++
		}
		if count[500] < 35 || count[500] > 85 || count[429] < 20 || count[429] > 60 || count[200] < 70 {
			t.Errorf("200 requests at 30%% errors and 20%% throttling gave %v", count)
		}
		if cmp.Equal(a, outcomes(6)) {
			t.Error("different seeds gave the same fault sequence")
		}
	})

	t.Run("one-shot-before-rates-in-order", func(t *testing.T) {
		sim, _ := newSim(t, simulator.Options{})
		sim.FailNext(simulator.FaultError, 2)
		sim.FailNext(simulator.FaultThrottle, 1)
		var got []int
		for range 4 {
			got = append(got, do(t, sim, http.MethodGet, path(""), nil).status)
		}
		if diff := cmp.Diff([]int{500, 500, 429, 200}, got); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestFaultsConfig(t *testing.T) {
	in := simulator.Faults{Latency: time.Second, ErrorRate: 0.1, FailServers: []string{"a", "b"}}
	sim, _ := newSim(t, simulator.Options{Faults: in})
	got := sim.Faults()
	if diff := cmp.Diff(in, got); diff != "" {
		t.Fatalf("Faults() mismatch (-want +got):\n%s", diff)
	}
	got.FailServers[0] = "changed"
	in.FailServers[1] = "changed"
	if again := sim.Faults(); again.FailServers[0] != "a" || again.FailServers[1] != "b" {
		t.Errorf("fault config aliases a caller's slice: %v", again.FailServers)
	}
	if s := simulator.FaultTimeout.String(); s != "timeout" {
		t.Errorf("FaultTimeout.String() = %q", s)
	}
}

// TestCloseReleasesHeldRequests checks a request held by the timeout fault
// ends when the simulator closes.
func TestCloseReleasesHeldRequests(t *testing.T) {
	sim, _, srv := faultServer(t, simulator.Options{})
	sim.FailNext(simulator.FaultTimeout, 1)
	done := make(chan wireResult, 1)
	go func() { done <- call(t, srv, context.Background(), http.MethodGet, path(""), nil) }()
	// Once the simulator has the request, it holds it; an answer before
	// Close would also fail the check after Close (a status, not an error).
	testutil.Eventually(t, 5*time.Second, "the simulator receives the request", func() error {
		if sim.RequestCount() == 0 {
			return errors.New("no request yet")
		}
		return nil
	})
	select {
	case r := <-done:
		t.Fatalf("held request answered before Close: %d %v", r.status, r.err)
	default:
	}
	sim.Close()
	select {
	case r := <-done:
		if r.err == nil {
			t.Errorf("held request got status %d after Close, want a closed connection", r.status)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held request still pending 5s after Close")
	}
}
