// Package fleet is the console's view of the DevServer fleet: one shared,
// short-lived cache of the full server list (so any number of users cause at
// most one list walk per interval), the filter/sort/page query behind the
// fleet page, and each user's server-side selection.
package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/devserver-console/console/internal/modelarts"
)

// Lister walks the whole server list. (*modelarts.Client) satisfies it.
type Lister interface {
	ListAllServers(ctx context.Context) ([]modelarts.ServerResponse, error)
}

// DefaultWalkTimeout bounds one list walk when Cache.WalkTimeout is zero.
const DefaultWalkTimeout = 60 * time.Second

// Snapshot is the fleet as one list walk saw it. It is shared by every
// request that reads the cache and must be treated as read-only.
type Snapshot struct {
	// Servers in the order the API returned them.
	Servers []modelarts.ServerResponse
	// FetchedAt is when the walk completed.
	FetchedAt time.Time

	byID map[string]int
}

// NewSnapshot builds a snapshot of servers fetched at t. The cache builds
// its own; this is for tests and for callers holding a list of their own.
func NewSnapshot(servers []modelarts.ServerResponse, t time.Time) *Snapshot {
	s := &Snapshot{Servers: servers, FetchedAt: t, byID: make(map[string]int, len(servers))}
	for i := range servers {
		s.byID[servers[i].ID] = i
	}
	return s
}

// Find returns the server with the given id. The pointer refers into the
// snapshot: do not modify it. A nil snapshot finds nothing.
func (s *Snapshot) Find(id string) (*modelarts.ServerResponse, bool) {
	i, ok := s.index(id)
	if !ok {
		return nil, false
	}
	return &s.Servers[i], true
}

// index returns the position of server id in s.Servers.
func (s *Snapshot) index(id string) (int, bool) {
	if s == nil {
		return 0, false
	}
	if s.byID == nil { // built as a literal rather than by NewSnapshot
		for i := range s.Servers {
			if s.Servers[i].ID == id {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := s.byID[id]
	return i, ok
}

// Len is the number of servers in the snapshot (0 for nil).
func (s *Snapshot) Len() int {
	if s == nil {
		return 0
	}
	return len(s.Servers)
}

// Cache holds the latest snapshot of the fleet and refreshes it at most once
// per TTL, however many callers ask. Concurrent walks are coalesced with
// singleflight, and a walk runs on a context detached from the caller that
// started it (bounded by WalkTimeout), so one cancelled request cannot fail
// the walk for everyone else waiting on it.
//
// Page views read it with Latest, which serves an expired snapshot at once
// and refreshes it in the background; Get waits for a current one.
//
// A failed walk keeps the previous snapshot: Get and Refresh return it
// together with the error, so a page can show older data and say why it is
// not fresh. A failure is remembered for one TTL too, so an unreachable API
// is not hammered by every poll; Refresh always tries again.
type Cache struct {
	// WalkTimeout bounds one list walk; zero means DefaultWalkTimeout.
	WalkTimeout time.Duration

	lister Lister
	ttl    time.Duration
	now    func() time.Time
	group  singleflight.Group
	joins  atomic.Int64 // callers that started or joined a walk (tests wait on it)

	mu          sync.Mutex
	snap        *Snapshot
	gen         uint64    // bumped by Invalidate
	attemptGen  uint64    // generation of the last finished walk
	lastErr     error     // error of the last walk, nil after a success
	lastAttempt time.Time // when the last walk finished
	shared      *sharing  // set by Share: the other consoles on the database
}

// NewCache returns a cache over l whose snapshots stay fresh for ttl. now is
// the clock (time.Now when nil).
func NewCache(l Lister, ttl time.Duration, now func() time.Time) *Cache {
	if now == nil {
		now = time.Now
	}
	return &Cache{lister: l, ttl: ttl, now: now}
}

// TTL is how long a snapshot stays fresh.
func (c *Cache) TTL() time.Duration { return c.ttl }

// Current returns the latest snapshot without walking (nil before the first
// successful walk).
func (c *Cache) Current() *Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snap
}

// Get returns the cached snapshot while it is younger than the TTL;
// otherwise it walks the list once (joining any walk already in flight).
// When the walk fails it returns the previous snapshot (nil if there is
// none) together with the error.
func (c *Cache) Get(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	now := c.now()
	if c.snap != nil && c.attemptGen == c.gen && c.lastErr == nil && now.Sub(c.snap.FetchedAt) < c.ttl {
		s := c.snap
		c.mu.Unlock()
		return s, nil
	}
	if c.lastErr != nil && c.attemptGen == c.gen && now.Sub(c.lastAttempt) < c.ttl {
		s, err := c.snap, c.lastErr
		c.mu.Unlock()
		return s, err
	}
	gen := c.gen
	c.mu.Unlock()
	return c.walk(ctx, gen)
}

// Latest is Get for page views (stale-while-revalidate): it answers at
// once with the snapshot it has, and when that is older than the TTL it
// starts a walk in the background (joining one already in flight) instead
// of waiting for it. It waits only when there is no snapshot at all. A
// failure remembered for one TTL is returned as Get returns it, without
// walking; after that the last error is returned with the snapshot while
// a new walk runs. Callers that must judge on current data (previews,
// batches) use Get. With a TTL of zero (no sharing: every view is current,
// as in tests) Latest is Get.
func (c *Cache) Latest(ctx context.Context) (*Snapshot, error) {
	if c.ttl <= 0 {
		return c.Get(ctx)
	}
	c.mu.Lock()
	now := c.now()
	s, lastErr, gen := c.snap, c.lastErr, c.gen
	current := c.attemptGen == c.gen
	fresh := s != nil && current && lastErr == nil && now.Sub(s.FetchedAt) < c.ttl
	remembered := lastErr != nil && current && now.Sub(c.lastAttempt) < c.ttl
	c.mu.Unlock()
	switch {
	case fresh:
		return s, nil
	case remembered:
		return s, lastErr
	case s == nil:
		return c.walk(ctx, gen)
	}
	c.start(ctx, gen) // revalidate in the background; its result is kept
	return s, lastErr
}

// Stale reports whether s is no longer current: older than the TTL, or
// taken before an Invalidate, or replaced by a newer snapshot. A page that
// shows a stale snapshot says so and looks again shortly.
func (c *Cache) Stale(s *Snapshot) bool {
	if s == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return s != c.snap || c.attemptGen != c.gen || c.now().Sub(s.FetchedAt) >= c.ttl
}

// Age is how old snapshot s is by the cache's clock (0 for nil).
func (c *Cache) Age(s *Snapshot) time.Duration {
	if s == nil {
		return 0
	}
	return max(0, c.now().Sub(s.FetchedAt))
}

// Refresh walks the list now (joining a walk already in flight for the
// current generation) and returns the new snapshot; on failure it returns
// the previous snapshot with the error.
func (c *Cache) Refresh(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	return c.walk(ctx, gen)
}

// WalkStatus is the outcome of the cache's last list walk.
type WalkStatus struct {
	At  time.Time // when it finished; zero before the first walk
	Err error     // nil when it succeeded
}

// LastWalk reports how the last list walk went (for readiness reports),
// without walking.
func (c *Cache) LastWalk() WalkStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return WalkStatus{At: c.lastAttempt, Err: c.lastErr}
}

// Invalidate marks the cached snapshot stale, so the next Get walks the list
// again (used after a batch action changes server states). A walk already in
// flight is not joined by later callers: its result is kept but stays stale.
// A shared cache (Share) tells the other consoles' caches too.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.gen++
	sh := c.shared
	c.mu.Unlock()
	if sh != nil {
		sh.publish()
	}
}

// invalidateLocal is Invalidate for this console's cache alone (another
// console published the change).
func (c *Cache) invalidateLocal() {
	c.mu.Lock()
	c.gen++
	c.mu.Unlock()
}

// ErrWalk wraps every list-walk failure the cache returns.
var ErrWalk = errors.New("fleet: list servers")

// walk starts (or joins) the walk of generation gen and waits for it, or
// for ctx to end.
func (c *Cache) walk(ctx context.Context, gen uint64) (*Snapshot, error) {
	ch := c.start(ctx, gen)
	select {
	case r := <-ch:
		s, _ := r.Val.(*Snapshot)
		return s, r.Err
	case <-ctx.Done():
		return c.Current(), fmt.Errorf("fleet: waiting for the server list: %w", ctx.Err())
	}
}

// start starts (or joins) the walk of generation gen, on a context detached
// from ctx and bounded by WalkTimeout, and returns the channel its result
// arrives on. The channel is buffered, so nobody has to read it.
func (c *Cache) start(ctx context.Context, gen uint64) <-chan singleflight.Result {
	defer c.joins.Add(1)
	return c.group.DoChan(strconv.FormatUint(gen, 10), func() (any, error) {
		timeout := c.WalkTimeout
		if timeout <= 0 {
			timeout = DefaultWalkTimeout
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		defer cancel()
		servers, err := c.lister.ListAllServers(wctx)

		c.mu.Lock()
		defer c.mu.Unlock()
		now := c.now()
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrWalk, err)
			if gen >= c.attemptGen {
				c.lastErr, c.lastAttempt, c.attemptGen = err, now, gen
			}
			return c.snap, err
		}
		s := NewSnapshot(servers, now)
		// A walk that started before an Invalidate may finish after a newer
		// walk: never let its older data replace the newer snapshot.
		if gen >= c.attemptGen {
			c.snap, c.lastErr, c.lastAttempt, c.attemptGen = s, nil, now, gen
		}
		return s, nil
	})
}
