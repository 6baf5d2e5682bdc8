package fleet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

// TestSharedCachesInvalidateEachOther: two consoles' caches on one
// database (on PostgreSQL, each with its own connections): invalidating one
// makes the other's snapshot stale too, both ways.
func TestSharedCachesInvalidateEachOther(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		db1 := storetest.OpenDSN(t, dsn)
		db2 := db1 // SQLite: one process serves the database
		if db1.Engine == store.Postgres {
			db2 = storetest.OpenDSN(t, dsn)
		}
		l := &countingLister{}
		l.set([]modelarts.ServerResponse{srv("a", "alpha", modelarts.StatusRunning)}, nil)
		clk := newClock()
		var caches [2]*fleet.Cache
		var snaps [2]*fleet.Snapshot
		for i, db := range []*store.DB{db1, db2} {
			caches[i] = fleet.NewCache(l, time.Hour, clk.Now)
			if err := caches[i].Share(ctx, db, nil); err != nil {
				t.Fatal(err)
			}
			s, err := caches[i].Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			snaps[i] = s
		}
		caches[0].Invalidate()
		testutil.Eventually(t, 10*time.Second, "the other console's cache is stale", func() error {
			if !caches[1].Stale(snaps[1]) {
				return errors.New("still fresh")
			}
			return nil
		})
		if !caches[0].Stale(snaps[0]) {
			t.Error("the invalidated cache itself is fresh")
		}
		// And the other way round, on the first console's new snapshot.
		fresh, err := caches[0].Get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if caches[0].Stale(fresh) {
			t.Fatal("a new snapshot is stale at once")
		}
		caches[1].Invalidate()
		testutil.Eventually(t, 10*time.Second, "the first console's new snapshot is stale", func() error {
			if !caches[0].Stale(fresh) {
				return errors.New("still fresh")
			}
			return nil
		})
	})
}
