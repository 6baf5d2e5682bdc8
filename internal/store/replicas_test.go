package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

// replicas opens dsn twice, as two console replicas would (on SQLite both
// handles are one process's, so they share one database handle).
func replicas(t *testing.T, dsn string) (*store.DB, *store.DB) {
	t.Helper()
	a := open(t, dsn)
	if a.Engine != store.Postgres {
		return a, a
	}
	return a, open(t, dsn)
}

// terminate ends the PostgreSQL connections named application, as a
// crashed replica's or a network failure would end.
func terminate(t *testing.T, db *store.DB, application string) {
	t.Helper()
	var n int
	if err := db.Write.GetContext(context.Background(), &n, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, application); err != nil || n == 0 {
		t.Fatalf("terminated %d %q connections, %v", n, application, err)
	}
}

// TestLockXactSerialisesReplicas checks that a transaction holding a lock
// key makes another replica's transaction wait for it, and that counters
// incremented read-then-write under the lock lose nothing.
func TestLockXactSerialisesReplicas(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		if _, err := a.Write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('n', '0')`); err != nil {
			t.Fatal(err)
		}
		key := store.LockKeyFor("test-counter")
		increment := func(db *store.DB) error {
			tx, err := db.Write.BeginTxx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := db.LockXact(ctx, tx, key); err != nil {
				return err
			}
			var v string
			if err := tx.GetContext(ctx, &v, `SELECT value FROM settings WHERE key = 'n'`); err != nil {
				return err
			}
			var n int
			fmt.Sscan(v, &n)
			if _, err := tx.ExecContext(ctx, db.Rebind(`UPDATE settings SET value = ? WHERE key = 'n'`), []byte(fmt.Sprint(n+1))); err != nil {
				return err
			}
			return tx.Commit()
		}

		if a.Engine == store.Postgres {
			// A holds the lock; B must wait for it until A commits.
			tx, err := a.Write.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.LockXact(ctx, tx, key); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- increment(b) }()
			testutil.Eventually(t, 10*time.Second, "the second replica waits for the lock", func() error {
				var waiting int
				if err := a.Read.GetContext(ctx, &waiting, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`); err != nil {
					return err
				}
				if waiting != 1 {
					return fmt.Errorf("%d waiting", waiting)
				}
				return nil
			})
			select {
			case err := <-done:
				t.Fatalf("the second replica went ahead while the first held the lock: %v", err)
			default:
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		} else if err := increment(b); err != nil {
			t.Fatal(err)
		}

		const writers, each = 8, 10
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			db := a
			if i%2 == 1 {
				db = b
			}
			wg.Go(func() {
				for range each {
					if err := increment(db); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var v string
		if err := a.Read.GetContext(ctx, &v, `SELECT value FROM settings WHERE key = 'n'`); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprint(1 + writers*each); v != want {
			t.Errorf("counter = %s after %s increments under the lock: updates were lost", v, want)
		}
	})
}

// TestClaims checks that a name is claimed by one replica at a time, that a
// released claim can be taken by another, and (PostgreSQL) that a replica
// whose connection dies loses its claims, which another then takes over.
func TestClaims(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		a, b := replicas(t, dsn)
		ca, cb := a.NewClaims(time.Hour), b.NewClaims(time.Hour)
		defer ca.Close()
		defer cb.Close()

		c1, err := ca.TryClaim(ctx, "batch:1")
		if err != nil || c1 == nil {
			t.Fatalf("first claim = %v, %v", c1, err)
		}
		if again, err := ca.TryClaim(ctx, "batch:1"); err != nil || again != nil {
			t.Errorf("the holder claimed batch:1 twice: %v, %v", again, err)
		}
		if other, err := cb.TryClaim(ctx, "batch:1"); err != nil || other != nil {
			t.Errorf("a second replica claimed batch:1 while the first held it: %v, %v", other, err)
		}
		c2, err := cb.TryClaim(ctx, "batch:2")
		if err != nil || c2 == nil {
			t.Fatalf("a second replica could not claim an unheld name: %v, %v", c2, err)
		}
		if err := c1.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c1.Lost():
			t.Error("a released claim reports itself lost")
		default:
		}
		c1b, err := cb.TryClaim(ctx, "batch:1")
		if err != nil || c1b == nil {
			t.Fatalf("batch:1 could not be claimed after its release: %v, %v", c1b, err)
		}

		if a.Engine != store.Postgres {
			return
		}
		// The second replica's claims connection ends (as when the replica
		// is killed): it learns that it lost both claims, the first replica
		// keeps its own, and takes the second's over.
		c3, err := ca.TryClaim(ctx, "batch:3")
		if err != nil || c3 == nil {
			t.Fatalf("claim batch:3 = %v, %v", c3, err)
		}
		var ok bool
		if err := a.Write.GetContext(ctx, &ok, `SELECT pg_terminate_backend($1)`, int64(store.ClaimsBackendPID(cb))); err != nil || !ok {
			t.Fatalf("terminate the second replica's claims connection: %v, %v", ok, err)
		}
		testutil.Eventually(t, 10*time.Second, "the second replica's Check finds its connection gone", func() error {
			if err := cb.Check(ctx); err == nil && store.ClaimsBackendPID(cb) != 0 {
				return errors.New("Check still finds the connection healthy")
			}
			return nil
		})
		for _, cl := range []*store.Claim{c1b, c2} {
			select {
			case <-cl.Lost():
			default:
				t.Errorf("claim %s is not reported lost after its connection died", cl.Name())
			}
		}
		if err := ca.Check(ctx); err != nil {
			t.Fatalf("the first replica's connection broke too: %v", err)
		}
		select {
		case <-c3.Lost():
			t.Error("the first replica lost its own claim when the second's connection ended")
		default:
		}
		for _, name := range []string{"batch:1", "batch:2"} {
			testutil.Eventually(t, 10*time.Second, "the other replica takes "+name+" over", func() error {
				cl, err := ca.TryClaim(ctx, name)
				if err != nil {
					return err
				}
				if cl == nil {
					return fmt.Errorf("%s still held", name)
				}
				return nil
			})
		}
	})
}

// TestNotify checks that a notification reaches the subscribers of every
// replica, this one's included, in order; and (PostgreSQL) that a
// subscription whose connection breaks comes back and says it may have
// missed some.
func TestNotify(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a, b := replicas(t, dsn)
		subA, err := a.Subscribe(ctx, "fleet")
		if err != nil {
			t.Fatal(err)
		}
		subB, err := b.Subscribe(ctx, "fleet")
		if err != nil {
			t.Fatal(err)
		}
		other, err := b.Subscribe(ctx, "other")
		if err != nil {
			t.Fatal(err)
		}
		receive := func(sub <-chan store.Notification) store.Notification {
			t.Helper()
			select {
			case n := <-sub:
				return n
			case <-time.After(10 * time.Second):
				t.Fatal("no notification within 10 s")
			}
			return store.Notification{}
		}
		for _, p := range []string{"batch-1", "batch-2"} {
			if err := a.Notify(ctx, "fleet", p); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Notify(ctx, "other", "x"); err != nil {
			t.Fatal(err)
		}
		for _, sub := range []<-chan store.Notification{subA, subB} {
			for _, want := range []string{"batch-1", "batch-2"} {
				if n := receive(sub); n.Payload != want || n.Channel != "fleet" || n.Missed {
					t.Errorf("got %+v, want %q on fleet", n, want)
				}
			}
		}
		if n := receive(other); n.Payload != "x" {
			t.Errorf("other got %+v", n)
		}

		if a.Engine == store.Postgres {
			terminate(t, a, "devserver-console listen")
			for _, sub := range []<-chan store.Notification{subA, subB} {
				if n := receive(sub); !n.Missed {
					t.Errorf("after its connection broke, a subscriber got %+v, want Missed", n)
				}
			}
			if err := b.Notify(ctx, "fleet", "batch-3"); err != nil {
				t.Fatal(err)
			}
			for _, sub := range []<-chan store.Notification{subA, subB} {
				if n := receive(sub); n.Payload != "batch-3" {
					t.Errorf("after reconnecting, got %+v, want batch-3", n)
				}
			}
		}
		cancel()
		for _, sub := range []<-chan store.Notification{subA, subB, other} {
			for range sub { // closed when ctx ends
			}
		}
	})
}
