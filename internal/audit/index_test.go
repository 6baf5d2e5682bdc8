package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

// indexedTo reads how far the search indexes reach.
func indexedTo(t testing.TB, db *store.DB) int64 {
	t.Helper()
	var to int64
	if err := db.Read.Get(&to, `SELECT coalesce((SELECT indexed_to FROM audit_index_state WHERE id = 1), 0)`); err != nil {
		t.Fatal(err)
	}
	return to
}

func lastEntry(t testing.TB, db *store.DB) int64 {
	t.Helper()
	var id int64
	if err := db.Read.Get(&id, `SELECT coalesce(max(id), 0) FROM audit_entries`); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestSearchesFindEntriesNotYetIndexed: entries are indexed after they
// commit, but a search never misses one: with nothing running the indexer
// (a console that stopped right after appending, or another process's
// entries), the server and text filters index the tail first and find
// both entries of the call, and verification checks the index they wrote.
func TestSearchesFindEntriesNotYetIndexed(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ts := openTestStore(t, dsn)
		ctx := context.Background()
		ts.exchange(t, metaFor("STOP", "corr-idx", audit.Target{ID: srvA, Name: "gpu-node-07"}), stopCall(srvA), okResult("req-idx-1"))
		last := lastEntry(t, ts.db)
		if to := indexedTo(t, ts.db); to >= last {
			t.Fatalf("indexed_to = %d right after appending entry %d: appends should leave indexing to the indexer", to, last)
		}
		for _, tt := range []struct {
			f    audit.Filter
			want int
		}{
			{audit.Filter{Server: srvA}, 2}, // the request and its response
			{audit.Filter{Server: " GPU-Node-07 "}, 2},
			{audit.Filter{Text: "gpu-node-07"}, 2},
			{audit.Filter{Text: "corr-idx"}, 2},
			{audit.Filter{Text: "STOP", Server: srvA}, 2},
			{audit.Filter{Text: "req-idx-1"}, 1}, // the request id comes with the answer
		} {
			got, _, err := ts.List(ctx, tt.f, 0, 10)
			if err != nil || len(got) != tt.want {
				t.Fatalf("List(%+v) = %d entries, %v; want %d", tt.f, len(got), err, tt.want)
			}
		}
		if to := indexedTo(t, ts.db); to != last {
			t.Fatalf("indexed_to = %d after a search; want %d", to, last)
		}
		verifyOK(t, ts.Store)
	})
}

// TestIndexersIndexEachEntryOnce: two stores on one database (two
// processes, or two replicas) catching up at the same time index every
// entry exactly once: the server index holds each key once, the text index
// finds each entry once, and the log verifies.
func TestIndexersIndexEachEntryOnce(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		a := openTestStore(t, dsn)
		b := openTestStore(t, dsn)
		ctx := context.Background()
		const calls = 30
		for i := range calls {
			id := fmt.Sprintf("44444444-5555-4666-8777-%012d", i)
			a.exchange(t, metaFor("STOP", fmt.Sprintf("corr-%d", i), audit.Target{ID: id, Name: fmt.Sprintf("node-%02d", i)}), stopCall(id), okResult(fmt.Sprintf("req-%d", i)))
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 4 {
			for _, s := range []*testStore{a, b} {
				wg.Go(func() { errs <- s.IndexNow(ctx) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("IndexNow: %v", err)
			}
		}
		if to, last := indexedTo(t, a.db), lastEntry(t, a.db); to != last {
			t.Fatalf("indexed_to = %d; want the last entry, %d", to, last)
		}
		var rows int
		if err := a.db.Read.Get(&rows, `SELECT count(*) FROM audit_entry_servers`); err != nil {
			t.Fatal(err)
		}
		if want := calls * 2 * 2; rows != want { // request and response, each under the id and the name
			t.Fatalf("server index rows = %d; want %d", rows, want)
		}
		for i := range calls {
			got, _, err := b.List(ctx, audit.Filter{Text: fmt.Sprintf("node-%02d", i)}, 0, 10)
			if err != nil || len(got) != 2 {
				t.Fatalf("text search for node-%02d = %d entries, %v; want 2", i, len(got), err)
			}
		}
		verifyOK(t, b.Store)
	})
}

// TestRunIndexerIndexesAppends: the background indexer indexes appended
// entries by itself, without a search asking for it.
func TestRunIndexerIndexesAppends(t *testing.T) {
	ts := newTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ts.RunIndexer(ctx) }()
	defer func() { cancel(); <-done }()
	ts.exchange(t, metaFor("STOP", "corr-run", audit.Target{ID: srvB, Name: "gpu-node-08"}), stopCall(srvB), okResult("req-run"))
	last := lastEntry(t, ts.db)
	deadline := time.Now().Add(20 * time.Second)
	for indexedTo(t, ts.db) < last {
		if time.Now().After(deadline) {
			t.Fatalf("indexed_to = %d 20 s after appending entry %d: the indexer did not index it", indexedTo(t, ts.db), last)
		}
		time.Sleep(10 * time.Millisecond) // polling the database for the indexer's commit
	}
}

// TestIndexingAgainChangesNothing: if indexed_to is set back (by hand, or
// a restore of that one row), the entries are indexed again without an
// error on either engine, searches find each entry once, and the log
// verifies: indexing is idempotent.
func TestIndexingAgainChangesNothing(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ts := openTestStore(t, dsn)
		ctx := context.Background()
		ts.exchange(t, metaFor("STOP", "corr-again", audit.Target{ID: srvC, Name: "gpu-node-09"}), stopCall(srvC), okResult("req-again"))
		if err := ts.IndexNow(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ts.db.Write.ExecContext(ctx, `UPDATE audit_index_state SET indexed_to = 0`); err != nil {
			t.Fatal(err)
		}
		if err := ts.IndexNow(ctx); err != nil {
			t.Fatalf("indexing again: %v", err)
		}
		for _, f := range []audit.Filter{{Text: "gpu-node-09"}, {Server: srvC}} {
			if got, _, err := ts.List(ctx, f, 0, 10); err != nil || len(got) != 2 {
				t.Fatalf("List(%+v) = %d entries, %v; want the request and its response", f, len(got), err)
			}
		}
		verifyOK(t, ts.Store)
	})
}
