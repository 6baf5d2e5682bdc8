package store_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
)

func openTemp(t *testing.T) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "console.db")
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// TestPragmas checks the durability settings on both pools, as every pooled
// connection sees them: WAL, synchronous=FULL (2), a 10 s busy timeout,
// foreign keys, and a read pool that cannot write.
func TestPragmas(t *testing.T) {
	db, _ := openTemp(t)
	ctx := context.Background()
	tests := []struct {
		pool   string
		pragma string
		want   string
	}{
		{"write", "journal_mode", "wal"},
		{"write", "synchronous", "2"},
		{"write", "busy_timeout", "10000"},
		{"write", "foreign_keys", "1"},
		{"write", "query_only", "0"},
		{"write", "wal_autocheckpoint", "20000"}, // checkpoints run in the background
		{"read", "journal_mode", "wal"},
		{"read", "synchronous", "2"},
		{"read", "busy_timeout", "10000"},
		{"read", "query_only", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.pool+"/"+tt.pragma, func(t *testing.T) {
			pool := db.Write
			if tt.pool == "read" {
				pool = db.Read
			}
			var got string
			if err := pool.GetContext(ctx, &got, "PRAGMA "+tt.pragma); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("PRAGMA %s = %q, want %q", tt.pragma, got, tt.want)
			}
		})
	}
	if n := db.Write.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("the write pool allows %d connections, want exactly 1", n)
	}
}

// TestWriteTransactionsBeginImmediate checks that a write transaction holds
// the database's write lock from BEGIN, so it can never fail half-way with
// SQLITE_BUSY when it upgrades from reading to writing.
func TestWriteTransactionsBeginImmediate(t *testing.T) {
	db, path := openTemp(t)
	ctx := context.Background()
	tx, err := db.Write.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	// Another connection that will not wait: it must find the lock taken.
	other, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('other', 'x')`)
	if err == nil || !strings.Contains(err.Error(), "locked") && !strings.Contains(err.Error(), "BUSY") {
		t.Fatalf("a write beside an open write transaction = %v, want SQLITE_BUSY: BEGIN did not take the write lock", err)
	}
}

// TestSecondWriterWaits checks that a writer on another connection to the
// same file (the 'console audit' and 'console user' commands beside a
// running server) waits for the lock instead of failing with SQLITE_BUSY.
func TestSecondWriterWaits(t *testing.T) {
	db, path := openTemp(t)
	ctx := context.Background()
	second, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()

	tx, err := db.Write.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('first', 'x')`); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := second.Write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES ('second', 'y')`)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the second writer did not wait for the first: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the second writer failed instead of waiting: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the second writer is still waiting after the first committed")
	}
	var n int
	if err := db.Read.GetContext(ctx, &n, `SELECT count(*) FROM settings WHERE key IN ('first', 'second')`); err != nil || n != 2 {
		t.Errorf("rows = %d, %v; want both", n, err)
	}
}

// TestCheckpointCopiesTheLog: Checkpoint, which the console runs in the
// background instead of letting a commit do it, copies every committed
// page of the write-ahead log into the database file.
func TestCheckpointCopiesTheLog(t *testing.T) {
	db, _ := openTemp(t)
	ctx := context.Background()
	if _, err := db.Write.ExecContext(ctx, `CREATE TABLE ckpt_test (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		if _, err := db.Write.ExecContext(ctx, `INSERT INTO ckpt_test VALUES (randomblob(8000))`); err != nil {
			t.Fatal(err)
		}
	}
	// The background checkpoint may hold the checkpoint lock at the same
	// moment (the answer is then "busy"): ask again until it is free.
	var busy, logPages, copied int
	for attempt := 0; ; attempt++ {
		if err := db.Checkpoint(ctx); err != nil {
			t.Fatalf("Checkpoint: %v", err)
		}
		if err := db.Read.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &copied); err != nil {
			t.Fatal(err)
		}
		if busy == 0 || attempt == 1000 {
			break
		}
	}
	if busy != 0 || logPages < 100 || copied != logPages {
		t.Fatalf("after Checkpoint: busy %d, %d pages in the log, %d copied; want all of at least 100 copied", busy, logPages, copied)
	}
}
