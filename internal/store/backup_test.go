package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/store"
)

// TestInUseSeesAnIdleOpenDatabase: a console that holds the database open
// but is writing nothing still counts as using it.
func TestInUseSeesAnIdleOpenDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "console.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Read.Get(&n, `SELECT count(*) FROM settings`); err != nil { // both pools touched
		t.Fatal(err)
	}
	if inUse, err := store.InUse(ctx, path); err != nil || !inUse {
		t.Fatalf("InUse with the database open = %v, %v; want true", inUse, err)
	}
	db.Close()
	if inUse, err := store.InUse(ctx, path); err != nil || inUse {
		t.Fatalf("InUse after Close = %v, %v; want false", inUse, err)
	}
	if inUse, err := store.InUse(ctx, path+".none"); err != nil || inUse {
		t.Fatalf("InUse of a missing file = %v, %v", inUse, err)
	}
}

func TestBackupAndInspect(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "console.db")
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write.Exec(`INSERT INTO settings (key, value) VALUES ('k', 'v')`); err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := store.Backup(ctx, path, copyPath); err != nil {
		t.Fatal(err)
	}
	db.Close()
	info, err := store.Inspect(ctx, copyPath)
	if err != nil || info.Version == 0 || info.Version != info.Latest {
		t.Fatalf("Inspect(copy) = %+v, %v", info, err)
	}
	if _, err := os.Stat(copyPath + ".partial"); !os.IsNotExist(err) {
		t.Error("the temporary file was left behind")
	}
	if err := store.Backup(ctx, path, copyPath); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("backup over an existing file: %v", err)
	}
	if err := store.Backup(ctx, filepath.Join(dir, "missing.db"), filepath.Join(dir, "x.db")); err == nil {
		t.Error("backup of a missing database succeeded")
	}
	// A newer schema than this console knows is refused.
	db2, err := store.Open(ctx, copyPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db2.Write.Exec(`UPDATE schema_migrations SET version = 9999`); err != nil {
		t.Fatal(err)
	}
	db2.Close()
	if _, err := store.Inspect(ctx, copyPath); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Inspect of a newer schema: %v", err)
	}
}
