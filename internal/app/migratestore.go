package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

// migrateStore runs 'console migrate-store --from FILE --to postgres://...':
// it moves a console's whole database (a SQLite file, say) into another (a
// new PostgreSQL database, for replicas), with the audit chain verified on
// both sides (docs/replicas.md).
func migrateStore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the database to copy from: a SQLite file (or a postgres:// URL)")
	to := fs.String("to", "", "the empty database to copy into: a postgres:// URL (or a SQLite file)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: console migrate-store --from FILE --to postgres://USER@HOST/DB")
		fmt.Fprintln(stderr, "Stop the console first. The target gets the schema, then every row in one transaction;")
		fmt.Fprintln(stderr, "the audit chain is verified before and after (CONSOLE_AUDIT_KEY or the key file as for 'console audit').")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return usageError(err)
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError(errors.New("migrate-store needs --from and --to, and nothing else"))
	}
	if strings.TrimSpace(*from) == strings.TrimSpace(*to) {
		return usageError(errors.New("--from and --to name the same database"))
	}
	return MigrateStore(ctx, *from, *to, getenv, stdout)
}

// usageError makes err a usage error (exit status 2).
func usageError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	return &exitError{code: ExitUsage, err: err}
}

// MigrateStore copies the console database from into the empty database to:
// it verifies from's audit chain, creates to's schema, copies every table in
// one transaction (ids kept), rebuilds the free-text index, and verifies the
// chain again in to, which must end at the same head. It refuses a target
// that holds data, and leaves it empty when the copy fails.
func MigrateStore(ctx context.Context, from, to string, getenv func(string) string, out io.Writer) error {
	log := NewLogger(io.Discard, "error")
	src, err := store.Open(ctx, from)
	if err != nil {
		return fmt.Errorf("migrate-store: open the source: %w", err)
	}
	defer src.Close()
	// The key that chains the source's log (its key file sits beside a
	// SQLite file unless CONSOLE_AUDIT_KEY or CONSOLE_AUDIT_KEY_FILE names
	// it) verifies the copy too; the replicas need it as well.
	key, err := audit.LoadKey(audit.KeySource{Text: getenv("CONSOLE_AUDIT_KEY"), File: getenv("CONSOLE_AUDIT_KEY_FILE"), DBPath: src.Path}, false)
	if err != nil {
		return fmt.Errorf("migrate-store: %w", err)
	}
	srcAudit := audit.New(src, log)
	if key.Key != nil {
		srcAudit.SetKey(key.Key)
	}
	before, err := srcAudit.Verify(ctx)
	if err != nil {
		return fmt.Errorf("migrate-store: verify the source's audit chain: %w", err)
	}
	if !before.OK {
		return &exitError{code: 1, err: fmt.Errorf("migrate-store: the source's audit chain is broken at entry %d (%s); nothing was copied", before.FirstBroken, before.Reason)}
	}
	fmt.Fprintf(out, "source %s: audit chain intact, %d entries, head %d\n", src.Path, before.Entries, before.HeadID)

	dst, err := store.Open(ctx, to)
	if err != nil {
		return fmt.Errorf("migrate-store: open the target: %w", err)
	}
	defer dst.Close()
	counts, err := store.Copy(ctx, dst, src, store.TextIndexTables...)
	if err != nil {
		return fmt.Errorf("migrate-store: copy %s to %s: %w", src.Path, dst.Path, err)
	}
	var rows int64
	for _, n := range counts {
		rows += n
	}
	fmt.Fprintf(out, "copied %d rows of %d tables into %s\n", rows, len(counts), dst.Path)

	dstAudit := audit.New(dst, log)
	if key.Key != nil {
		dstAudit.SetKey(key.Key)
	}
	indexed, err := dstAudit.RebuildSearch(ctx)
	if err != nil {
		return fmt.Errorf("migrate-store: %w", err)
	}
	after, err := dstAudit.Verify(ctx)
	if err != nil {
		return fmt.Errorf("migrate-store: verify the target's audit chain: %w", err)
	}
	if !after.OK || after.HeadID != before.HeadID || after.HeadHash != before.HeadHash {
		return &exitError{code: 1, err: fmt.Errorf("migrate-store: the copied audit chain does not verify (entry %d: %s; head %d, want %d)",
			after.FirstBroken, after.Reason, after.HeadID, before.HeadID)}
	}
	fmt.Fprintf(out, "target %s: audit chain intact, %d entries, head %d (the same); %d entries indexed for search\n",
		dst.Path, after.Entries, after.HeadID, indexed)
	return nil
}
