package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/testutil"
)

// countingLister is a fake ModelArts list that counts walks. Each walk
// returns the servers set at the time (or err), after waiting for gate when
// one is set.
type countingLister struct {
	walks atomic.Int64

	mu      sync.Mutex
	servers []modelarts.ServerResponse
	err     error
	gate    chan struct{} // when non-nil, each walk waits for it to close
	entered chan struct{} // when non-nil, each walk signals on entry
	ctxErr  error         // ctx.Err() seen by the last walk after its gate
}

func (l *countingLister) ListAllServers(ctx context.Context) ([]modelarts.ServerResponse, error) {
	l.walks.Add(1)
	l.mu.Lock()
	gate, entered := l.gate, l.entered
	l.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			l.mu.Lock()
			l.ctxErr = ctx.Err()
			l.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ctxErr = ctx.Err()
	if l.err != nil {
		return nil, l.err
	}
	return append([]modelarts.ServerResponse(nil), l.servers...), nil
}

func (l *countingLister) set(servers []modelarts.ServerResponse, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.servers, l.err = servers, err
}

// newClock returns the fake clock the fleet tests start from.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2025, 3, 1, 12, 1, 0, 0, time.UTC))
}

func srv(id, name string, st modelarts.Status) modelarts.ServerResponse {
	return modelarts.ServerResponse{ID: id, Name: name, Status: st}
}

func TestCacheCoalescesConcurrentGets(t *testing.T) {
	l := &countingLister{gate: make(chan struct{})}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	c := fleet.NewCache(l, 5*time.Second, newClock().Now)

	const n = 100
	var done sync.WaitGroup
	snaps := make([]*fleet.Snapshot, n)
	errs := make([]error, n)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			snaps[i], errs[i] = c.Get(context.Background())
		}()
	}
	// The walk is held open until every caller is in it.
	testutil.Eventually(t, 10*time.Second, "every caller joins the walk", func() error {
		if got := c.Joins(); got != n {
			return fmt.Errorf("%d of %d callers in the walk", got, n)
		}
		return nil
	})
	close(l.gate)
	done.Wait()

	if got := l.walks.Load(); got != 1 {
		t.Fatalf("list walks = %d, want 1 for %d concurrent Gets", got, n)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Get %d: %v", i, errs[i])
		}
		if snaps[i] != snaps[0] {
			t.Fatalf("Get %d returned a different snapshot", i)
		}
	}
	if _, ok := snaps[0].Find("a"); !ok {
		t.Error("snapshot does not find server a")
	}
}

func TestCacheTTL(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration
		wantWalks int64
	}{
		{name: "fresh within TTL", advance: 4 * time.Second, wantWalks: 1},
		{name: "stale at TTL", advance: 5 * time.Second, wantWalks: 2},
		{name: "stale after TTL", advance: time.Minute, wantWalks: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &countingLister{}
			l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
			clk := newClock()
			c := fleet.NewCache(l, 5*time.Second, clk.Now)
			first, err := c.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			clk.Advance(tt.advance)
			second, err := c.Get(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got := l.walks.Load(); got != tt.wantWalks {
				t.Errorf("walks = %d, want %d", got, tt.wantWalks)
			}
			if fresh := tt.wantWalks == 1; fresh != (first == second) {
				t.Errorf("same snapshot = %v, want %v", first == second, fresh)
			}
			if !second.FetchedAt.Equal(clk.Now()) && tt.wantWalks == 2 {
				t.Errorf("FetchedAt = %v, want the time of the new walk %v", second.FetchedAt, clk.Now())
			}
		})
	}
}

func TestCacheRefreshForcesWalk(t *testing.T) {
	l := &countingLister{}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	c := fleet.NewCache(l, time.Hour, newClock().Now)
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusStopped)}, nil)
	s, err := c.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := l.walks.Load(); got != 2 {
		t.Fatalf("walks = %d, want 2", got)
	}
	a, _ := s.Find("a")
	if a.Status != modelarts.StatusStopped {
		t.Errorf("after Refresh status = %s, want STOPPED", a.Status)
	}
	// The refreshed snapshot is what Get now serves, without walking.
	if g, _ := c.Get(context.Background()); g != s || l.walks.Load() != 2 {
		t.Errorf("Get after Refresh did not serve the refreshed snapshot (walks %d)", l.walks.Load())
	}
}

func TestCacheErrorKeepsOldSnapshot(t *testing.T) {
	l := &countingLister{}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	clk := newClock()
	c := fleet.NewCache(l, 5*time.Second, clk.Now)
	old, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	apiErr := errors.New("APIGW.0308 throttled")
	l.set(nil, apiErr)
	clk.Advance(10 * time.Second)

	s, err := c.Get(context.Background())
	if !errors.Is(err, apiErr) || !errors.Is(err, fleet.ErrWalk) {
		t.Fatalf("err = %v, want the list error wrapped in ErrWalk", err)
	}
	if s != old {
		t.Fatalf("snapshot = %p, want the old one %p", s, old)
	}

	// Within a TTL of the failure, Gets report the same error without
	// hammering the API.
	clk.Advance(time.Second)
	if s2, err2 := c.Get(context.Background()); s2 != old || !errors.Is(err2, apiErr) {
		t.Errorf("second Get = %v, %v; want old snapshot and the error", s2, err2)
	}
	if got := l.walks.Load(); got != 2 {
		t.Errorf("walks = %d, want 2 (no retry within the TTL)", got)
	}

	// Refresh retries at once; once the API is back the error clears.
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusStopped)}, nil)
	s3, err := c.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s3 == old || l.walks.Load() != 3 {
		t.Errorf("Refresh did not walk again (walks %d)", l.walks.Load())
	}
	if g, err := c.Get(context.Background()); err != nil || g != s3 {
		t.Errorf("Get after recovery = %v, %v; want the new snapshot", g, err)
	}
}

func TestCacheErrorWithoutSnapshot(t *testing.T) {
	l := &countingLister{}
	l.set(nil, errors.New("connection refused"))
	c := fleet.NewCache(l, 5*time.Second, newClock().Now)
	s, err := c.Get(context.Background())
	if err == nil || s != nil {
		t.Fatalf("Get = %v, %v; want nil snapshot and an error", s, err)
	}
	if s.Len() != 0 {
		t.Errorf("nil snapshot Len = %d", s.Len())
	}
	if _, ok := s.Find("x"); ok {
		t.Error("nil snapshot found a server")
	}
}

func TestCacheInvalidate(t *testing.T) {
	l := &countingLister{}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	c := fleet.NewCache(l, time.Hour, newClock().Now)
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.Invalidate()
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := l.walks.Load(); got != 2 {
		t.Errorf("walks = %d, want 2 (one walk after Invalidate, then cached)", got)
	}
}

func TestCacheWalkSurvivesCancelledCaller(t *testing.T) {
	l := &countingLister{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	c := fleet.NewCache(l, time.Hour, newClock().Now)

	ctx1, cancel := context.WithCancel(context.Background())
	err1 := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx1)
		err1 <- err
	}()
	<-l.entered
	second := make(chan *fleet.Snapshot, 1)
	go func() {
		s, _ := c.Get(context.Background())
		second <- s
	}()
	// The second caller must have joined the walk in flight before it ends;
	// otherwise it could arrive after it and prove nothing.
	testutil.Eventually(t, 10*time.Second, "the second caller joins the walk", func() error {
		if got := c.Joins(); got != 2 {
			return fmt.Errorf("%d callers joined", got)
		}
		return nil
	})
	cancel()
	if err := <-err1; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller got %v, want context.Canceled", err)
	}
	close(l.gate)
	s := <-second
	if s == nil || s.Len() != 1 {
		t.Fatalf("second caller got %v, want the walked snapshot", s)
	}
	if l.ctxErr != nil {
		t.Errorf("walk context was cancelled with the first caller: %v", l.ctxErr)
	}
	if got := l.walks.Load(); got != 1 {
		t.Errorf("walks = %d, want 1", got)
	}
}

func TestCacheWalkTimeout(t *testing.T) {
	l := &countingLister{gate: make(chan struct{})} // never released
	c := fleet.NewCache(l, time.Hour, newClock().Now)
	c.WalkTimeout = 20 * time.Millisecond
	_, err := c.Get(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline error", err)
	}
}

// A walk that started before Invalidate and finishes after a newer walk must
// not replace the newer data.
func TestCacheOlderWalkDoesNotOverwrite(t *testing.T) {
	slow := &countingLister{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	slow.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	sw := &switchLister{cur: slow}
	c := fleet.NewCache(sw, time.Hour, newClock().Now)

	oldDone := make(chan struct{})
	go func() {
		defer close(oldDone)
		_, _ = c.Get(context.Background())
	}()
	<-slow.entered

	c.Invalidate()
	fast := &countingLister{}
	fast.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusStopping)}, nil)
	sw.swap(fast)
	newer, err := c.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	close(slow.gate)
	<-oldDone
	if cur := c.Current(); cur != newer {
		t.Fatalf("current snapshot replaced by an older walk")
	}
	a, _ := c.Current().Find("a")
	if a.Status != modelarts.StatusStopping {
		t.Errorf("status = %s, want STOPPING from the newer walk", a.Status)
	}
}

type switchLister struct {
	mu  sync.Mutex
	cur fleet.Lister
}

func (s *switchLister) swap(l fleet.Lister) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = l
}

func (s *switchLister) ListAllServers(ctx context.Context) ([]modelarts.ServerResponse, error) {
	s.mu.Lock()
	l := s.cur
	s.mu.Unlock()
	return l.ListAllServers(ctx)
}

// TestCacheLatestServesStaleWhileRevalidating: once a snapshot exists, an
// expired one is answered at once while one walk runs in the background;
// only the very first call waits.
func TestCacheLatestServesStaleWhileRevalidating(t *testing.T) {
	l := &countingLister{}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	clock := newClock()
	c := fleet.NewCache(l, 5*time.Second, clock.Now)
	ctx := context.Background()

	// No snapshot at all: Latest waits for the walk.
	first, err := c.Latest(ctx)
	if err != nil || first.Len() != 1 || l.walks.Load() != 1 {
		t.Fatalf("first Latest: %d servers, err %v, %d walks", first.Len(), err, l.walks.Load())
	}
	// Fresh: no walk.
	if s, err := c.Latest(ctx); s != first || err != nil || l.walks.Load() != 1 {
		t.Fatalf("fresh Latest walked or changed: %v, %d walks", err, l.walks.Load())
	}

	// Expired, with a walk that blocks: every Latest answers with the old
	// snapshot at once, and they share one background walk.
	clock.Advance(6 * time.Second)
	gate, entered := make(chan struct{}), make(chan struct{}, 10)
	l.mu.Lock()
	l.gate, l.entered = gate, entered
	l.mu.Unlock()
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning), srv("b", "beta", modelarts.StatusStopped)}, nil)
	for range 20 {
		s, err := c.Latest(ctx)
		if s != first || err != nil {
			t.Fatalf("stale Latest = %d servers, err %v; want the old snapshot at once", s.Len(), err)
		}
	}
	if !c.Stale(first) {
		t.Error("an expired snapshot is not Stale")
	}
	if got := c.Age(first); got != 6*time.Second {
		t.Errorf("Age = %s, want 6s", got)
	}
	<-entered // the background walk started...
	close(gate)
	testutil.Eventually(t, 5*time.Second, "the background walk to land", func() error {
		if c.Current().Len() != 2 {
			return errors.New("still the old snapshot")
		}
		return nil
	})
	if n := l.walks.Load(); n != 2 {
		t.Errorf("%d walks, want 2 (one background walk for 20 stale reads)", n)
	}
	if s, err := c.Latest(ctx); s.Len() != 2 || err != nil {
		t.Errorf("after the walk: %d servers, err %v", s.Len(), err)
	}
	if cur := c.Current(); c.Stale(cur) || !c.Stale(first) {
		t.Error("Stale: the new snapshot is stale or the replaced one is not")
	}
	c.Invalidate()
	if !c.Stale(c.Current()) {
		t.Error("an invalidated snapshot is not Stale")
	}
}

// TestCacheLatestKeepsRememberedFailure: a failed walk is remembered for a
// TTL (no walk per page view); after it, the stale snapshot is served with
// the error while a new walk runs in the background.
func TestCacheLatestKeepsRememberedFailure(t *testing.T) {
	l := &countingLister{}
	l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
	clock := newClock()
	c := fleet.NewCache(l, 5*time.Second, clock.Now)
	ctx := context.Background()
	old, _ := c.Latest(ctx)

	boom := errors.New("connection refused")
	l.set(nil, boom)
	if _, err := c.Refresh(ctx); !errors.Is(err, boom) {
		t.Fatalf("Refresh err = %v", err)
	}
	for range 5 {
		s, err := c.Latest(ctx)
		if s != old || !errors.Is(err, boom) {
			t.Fatalf("Latest after a failure = %v, %v; want the old snapshot and the error", s, err)
		}
	}
	if n := l.walks.Load(); n != 2 {
		t.Fatalf("%d walks; a remembered failure must not walk again", n)
	}
	clock.Advance(6 * time.Second)
	l.set([]modelarts.ServerResponse{srv("b", "beta", modelarts.StatusRunning)}, nil)
	s, err := c.Latest(ctx)
	if s != old || !errors.Is(err, boom) {
		t.Fatalf("Latest after the TTL = %v, %v; want the old snapshot and the last error at once", s, err)
	}
	testutil.Eventually(t, 5*time.Second, "the background walk to succeed", func() error {
		if s, err := c.Latest(ctx); err != nil || s.Len() != 1 || s.Servers[0].ID != "b" {
			return errors.New("not yet")
		}
		return nil
	})
}
