package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/devserver-console/console/internal/store"
)

// migrateStoreCmd runs "console migrate-store --from FILE --to postgres://...":
// it moves a console's whole database (a SQLite file, say) into another (a
// new PostgreSQL database, for replicas), with the audit chain verified on
// both sides (docs/replicas.md).
func migrateStoreCmd(ctx context.Context, args []string, env IO) error {
	fs := flagSet("migrate-store", "--from FILE --to postgres://USER@HOST/DB\n\n"+
		"Stop the console first. The target gets the schema, then every row in one transaction;\n"+
		"the audit chain is verified before and after under the source's audit key\n"+
		"($CONSOLE_AUDIT_KEY, $CONSOLE_AUDIT_KEY_FILE, or the key file beside FILE).", env)
	from := fs.String("from", "", "the database to copy from: a SQLite file (or a postgres:// URL)")
	to := fs.String("to", "", "the empty database to copy into: a postgres:// URL (or a SQLite file)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("migrate-store: unexpected argument %q", pos[0])
	}
	if *from == "" || *to == "" {
		return usagef("migrate-store: needs --from and --to (see 'console migrate-store -h')")
	}
	if strings.TrimSpace(*from) == strings.TrimSpace(*to) {
		return usagef("migrate-store: --from and --to name the same database")
	}
	return migrateStore(ctx, *from, *to, env)
}

// migrateStore copies the console database from into the empty database to:
// it verifies from's audit chain, creates to's schema, copies every table in
// one transaction (ids kept), rebuilds the free-text index, and verifies the
// chain again in to, which must end at the same head. It refuses a target
// that holds data, and leaves it empty when the copy fails.
func migrateStore(ctx context.Context, from, to string, env IO) error {
	src, err := store.Open(ctx, from)
	if err != nil {
		return fmt.Errorf("migrate-store: open the source: %w", err)
	}
	defer src.Close()
	// The key that chains the source's log (its key file sits beside a
	// SQLite file unless CONSOLE_AUDIT_KEY or CONSOLE_AUDIT_KEY_FILE names
	// it) verifies the copy too; the replicas need it as well.
	srcAudit, _, err := openAudit(src, from, env)
	if err != nil {
		return fmt.Errorf("migrate-store: %w", err)
	}
	before, err := srcAudit.Verify(ctx)
	if err != nil {
		return fmt.Errorf("migrate-store: verify the source's audit chain: %w", err)
	}
	if !before.OK {
		return fmt.Errorf("migrate-store: the source's audit chain is broken at entry %d (%s); nothing was copied", before.FirstBroken, before.Reason)
	}
	fmt.Fprintf(env.Stdout, "source %s: audit chain intact, %d entries, head %d\n", store.Redact(src.Path), before.Entries, before.HeadID)

	dst, err := store.Open(ctx, to)
	if err != nil {
		return fmt.Errorf("migrate-store: open the target: %w", err)
	}
	defer dst.Close()
	counts, err := store.Copy(ctx, dst, src, "audit_search")
	if err != nil {
		return fmt.Errorf("migrate-store: copy %s to %s: %w", store.Redact(src.Path), store.Redact(dst.Path), err)
	}
	var rows int64
	for _, n := range counts {
		rows += n
	}
	fmt.Fprintf(env.Stdout, "copied %d rows of %d tables into %s\n", rows, len(counts), store.Redact(dst.Path))

	dstAudit, _, err := openAudit(dst, from, env)
	if err != nil {
		return fmt.Errorf("migrate-store: %w", err)
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
		return fmt.Errorf("migrate-store: the copied audit chain does not verify (entry %d: %s; head %d, want %d)",
			after.FirstBroken, after.Reason, after.HeadID, before.HeadID)
	}
	fmt.Fprintf(env.Stdout, "target %s: audit chain intact, %d entries, head %d (the same); %d entries indexed for search\n",
		store.Redact(dst.Path), after.Entries, after.HeadID, indexed)
	return nil
}
