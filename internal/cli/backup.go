package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/devserver-console/console/internal/store"
)

// backupCmd runs "console backup FILE": a consistent copy of the live
// database, then the same checks a restore makes, on the copy.
func backupCmd(ctx context.Context, args []string, env IO) error {
	fs := flagSet("backup", "FILE [--db DB]", env)
	db := dbFlag(fs, env)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("backup: want one FILE to write the copy to (see 'console backup -h')")
	}
	start := time.Now()
	if store.IsPostgresURL(*db) {
		err = backupPostgres(ctx, *db, pos[0], env)
	} else {
		err = store.Backup(ctx, *db, pos[0])
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "backed up %s to %s in %s\n", store.Redact(*db), pos[0], time.Since(start).Round(time.Millisecond))
	keyFile, err := checkDB(ctx, pos[0], *db, env)
	if err != nil {
		return fmt.Errorf("the backup %s does not check out: %w", pos[0], err)
	}
	if keyFile != "" {
		fmt.Fprintf(env.Stdout, "the audit key is not in the backup: keep a copy of %s with it, or its audit log cannot be verified\n", keyFile)
	}
	return nil
}

// backupPostgres writes the PostgreSQL database url into a new SQLite file
// dst: every table copied from one snapshot of url (store.Copy), the
// free-text index rebuilt. The file is what 'console backup' makes of a
// SQLite database, and goes back with 'console migrate-store --from FILE
// --to postgres://...' (a new database) or 'console restore' (a SQLite
// console).
func backupPostgres(ctx context.Context, url, dst string, env IO) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file name", dst)
	}
	src, err := store.Open(ctx, url)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	tmp := dst + ".partial"
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		os.Remove(p)
	}
	err = func() error {
		out, err := store.Open(ctx, tmp)
		if err != nil {
			return err
		}
		defer out.Close()
		if _, err := store.Copy(ctx, out, src, store.TextIndexTables...); err != nil {
			return err
		}
		s, _, err := openAudit(out, url, env)
		if err != nil {
			return err
		}
		_, err = s.RebuildSearch(ctx)
		return err
	}()
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	for _, p := range []string{tmp, tmp + "-wal", tmp + "-shm"} {
		os.Remove(p)
	}
	if err != nil {
		os.Remove(dst)
		return fmt.Errorf("backup %s: %w", store.Redact(url), err)
	}
	return nil
}

// checkDB checks a database file as a restore would: a console database of
// a schema this console can open, whose audit log's hash chain is intact.
// Verifying records its result in that file, as it does on the live one.
// The chain is checked under the audit key of the console database keyDB
// (see openAudit); keyFile is the file that key was read from, if any.
func checkDB(ctx context.Context, path, keyDB string, env IO) (keyFile string, err error) {
	info, err := store.Inspect(ctx, path)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(env.Stdout, "%s: console database, schema version %d (this console: %d), integrity ok\n", path, info.Version, info.Latest)
	sdb, err := store.Open(ctx, path)
	if err != nil {
		return "", err
	}
	defer sdb.Close()
	s, keyFile, err := openAudit(sdb, keyDB, env)
	if err != nil {
		return "", err
	}
	return keyFile, verify(ctx, s, "", env.Stdout)
}

// restoreCmd runs "console restore FILE": it checks FILE, then puts a copy
// of it in place of the database, keeping the database it replaces.
func restoreCmd(ctx context.Context, args []string, env IO) error {
	fs := flagSet("restore", "FILE [--db DB]", env)
	db := dbFlag(fs, env)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("restore: want the backup FILE to restore (see 'console restore -h')")
	}
	src, dst := pos[0], *db
	if store.IsPostgresURL(dst) {
		return fmt.Errorf("restore: %s is a PostgreSQL database; restore a backup into a new one with 'console migrate-store --from %s --to postgres://...' (docs/replicas.md)", store.Redact(dst), src)
	}
	if _, err := store.Inspect(ctx, src); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	inUse, err := store.InUse(ctx, dst)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if inUse {
		return fmt.Errorf("restore: %s is in use (is the console running?): stop the console first, then restore", dst)
	}

	// Work on a copy beside the target: the backup file stays untouched, the
	// copy is migrated to this console's schema, and the audit chain is
	// verified on exactly the file that will be put in place.
	staged := dst + ".restoring"
	for _, p := range []string{staged, staged + "-wal", staged + "-shm"} {
		os.Remove(p)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o750); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := store.Backup(ctx, src, staged); err != nil {
		return fmt.Errorf("restore: copy %s: %w", src, err)
	}
	if _, err := checkDB(ctx, staged, dst, env); err != nil {
		os.Remove(staged)
		return fmt.Errorf("restore: %s: %w; nothing was changed", src, err)
	}

	// Keep what is replaced, with its write-ahead log, under one name.
	kept := ""
	if _, err := os.Stat(dst); err == nil {
		kept = fmt.Sprintf("%s.before-restore-%s", dst, time.Now().UTC().Format("20060102T150405Z"))
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Rename(dst+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("restore: move %s aside: %w", dst+suffix, err)
			}
		}
	}
	if err := os.Rename(staged, dst); err != nil {
		return fmt.Errorf("restore: put the copy in place: %w (the previous database is %s)", err, kept)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(staged + suffix)
	}
	fmt.Fprintf(env.Stdout, "restored %s to %s\n", src, dst)
	if kept != "" {
		fmt.Fprintf(env.Stdout, "the database it replaced is kept as %s\n", kept)
	}
	return nil
}
