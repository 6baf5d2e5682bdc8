package auth_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/store/storetest"
)

func TestRateLimitIsATokenBucket(t *testing.T) {
	ctx := context.Background()
	_, clk, users := newUsers(t)
	l := users.NewRateLimit(auth.RateLimitAnonymous, 1, 3)
	allow := func(key string) bool {
		t.Helper()
		ok, err := l.Allow(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i := 0; i < 3; i++ {
		if !allow("10.0.0.1") {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	if allow("10.0.0.1") {
		t.Fatal("a fourth request at once allowed")
	}
	if !allow("10.0.0.2") {
		t.Fatal("another address shares the first one's bucket")
	}
	clk.Advance(1500 * time.Millisecond) // one token back (and a half)
	if !allow("10.0.0.1") {
		t.Fatal("no token after a second")
	}
	if allow("10.0.0.1") {
		t.Fatal("two tokens after a second and a half")
	}
	clk.Advance(time.Hour) // full again, and no more than full
	for i := 0; i < 3; i++ {
		if !allow("10.0.0.1") {
			t.Fatalf("request %d after an hour refused", i+1)
		}
	}
	if allow("10.0.0.1") {
		t.Fatal("the bucket filled past its burst")
	}
}

// TestRateLimitAcrossReplicas: two consoles on one database, each with its
// own store, share each address's bucket, and concurrent requests never
// spend one token twice.
func TestRateLimitAcrossReplicas(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clk := newClock()
		const burst = 20
		var limits []*auth.RateLimit
		for i := 0; i < 2; i++ {
			limits = append(limits, newTestStore(t, openDB(t, dsn), clk, nil).NewRateLimit(auth.RateLimitAnonymous, 1, burst))
		}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < 4*burst; i++ {
			wg.Add(1)
			go func(l *auth.RateLimit) {
				defer wg.Done()
				ok, err := l.Allow(ctx, "192.0.2.9")
				if err != nil {
					t.Error(err)
				}
				if ok {
					allowed.Add(1)
				}
			}(limits[i%2])
		}
		wg.Wait()
		if n := allowed.Load(); n != burst {
			t.Fatalf("%d of %d requests allowed over two replicas, want the burst, %d", n, 4*burst, burst)
		}
	})
}
