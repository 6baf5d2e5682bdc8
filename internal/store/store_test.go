package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/devserver-console/console/internal/store"
)

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sub", "console.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := db.Write.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('k', 'v')`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var mode string
	if err := db.Read.GetContext(ctx, &mode, `PRAGMA journal_mode`); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	if _, err := db.Read.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES ('x', 'y')`); err == nil {
		t.Fatal("read pool accepted a write")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = store.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	var v string
	if err := db.Read.GetContext(ctx, &v, `SELECT value FROM settings WHERE key = 'k'`); err != nil || v != "v" {
		t.Fatalf("value after reopen = %q, %v", v, err)
	}
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := store.Open(context.Background(), ""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}
