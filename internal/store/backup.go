package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/migrations"
)

// Backup writes a consistent copy of the database at src to dst with
// SQLite's VACUUM INTO: one read transaction, so the copy is the database as
// of one moment even while a running console keeps writing (WAL lets it go
// on beside the reader). The copy is written under a temporary name beside
// dst, synced, and renamed into place, so dst is either absent or whole.
// dst must not exist.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("store: backup: %s exists; choose a new file name", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: backup: %w", err)
	}
	db, err := sqlx.Open("sqlite", "file:"+src+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("store: backup: open %s: %w", src, err)
	}
	defer db.Close()
	tmp := dst + ".partial"
	os.Remove(tmp)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: backup %s: %w", src, err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: backup: %w", err)
	}
	return syncFile(filepath.Dir(dst))
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// FileInfo is what Inspect found in a database file.
type FileInfo struct {
	// Version is the schema version (the last migration applied).
	Version uint
	// Latest is the newest schema version this console knows.
	Latest uint
}

// Inspect checks, without changing it, that the file at path is a console
// database this console can open: SQLite's integrity check passes, its
// migrations are clean, and its schema is not newer than this console's.
func Inspect(ctx context.Context, path string) (FileInfo, error) {
	var info FileInfo
	latest, err := latestMigration()
	if err != nil {
		return info, err
	}
	info.Latest = latest
	if _, err := os.Stat(path); err != nil {
		return info, fmt.Errorf("store: %w", err)
	}
	db, err := sqlx.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return info, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer db.Close()
	var check string
	if err := db.GetContext(ctx, &check, `PRAGMA integrity_check(1)`); err != nil {
		return info, fmt.Errorf("store: %s is not a readable SQLite database: %w", path, err)
	}
	if check != "ok" {
		return info, fmt.Errorf("store: %s is damaged: %s", path, check)
	}
	var v struct {
		Version int64 `db:"version"`
		Dirty   bool  `db:"dirty"`
	}
	if err := db.GetContext(ctx, &v, `SELECT version, dirty FROM schema_migrations LIMIT 1`); err != nil {
		return info, fmt.Errorf("store: %s is not a console database (no schema version): %w", path, err)
	}
	if v.Dirty {
		return info, fmt.Errorf("store: %s: migration %d was interrupted; the file is not usable as it is", path, v.Version)
	}
	info.Version = uint(v.Version)
	if info.Version > latest {
		return info, fmt.Errorf("store: %s has schema version %d, newer than this console's %d: use the console version that wrote it", path, info.Version, latest)
	}
	var tables int
	if err := db.GetContext(ctx, &tables, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('users', 'audit_entries', 'settings')`); err != nil || tables != 3 {
		return info, fmt.Errorf("store: %s is not a console database (users, audit log or settings missing)", path)
	}
	return info, nil
}

// latestMigration is the newest schema version in migrations/.
func latestMigration() (uint, error) {
	entries, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		return 0, fmt.Errorf("store: read migrations: %w", err)
	}
	var latest uint
	for _, e := range entries {
		var n uint
		if _, err := fmt.Sscanf(e.Name(), "%d_", &n); err == nil && strings.HasSuffix(e.Name(), ".up.sql") && n > latest {
			latest = n
		}
	}
	return latest, nil
}

// InUse reports whether another connection — a running console — has the
// database at path open for writing or reading right now, by trying to take
// SQLite's exclusive lock without waiting.
func InUse(ctx context.Context, path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	db, err := sqlx.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)&_pragma=locking_mode(EXCLUSIVE)")
	if err != nil {
		return false, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := db.ExecContext(tctx, `BEGIN EXCLUSIVE`); err != nil {
		if strings.Contains(err.Error(), "locked") || strings.Contains(err.Error(), "busy") {
			return true, nil
		}
		return false, fmt.Errorf("store: lock %s: %w", path, err)
	}
	_, err = db.ExecContext(tctx, `ROLLBACK`)
	return false, err
}
