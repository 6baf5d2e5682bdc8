package cli_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/cli"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const migrateKeyHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// keyedSQLite makes a SQLite console database whose audit log is chained
// under migrateKeyHex and holds one entry per name.
func keyedSQLite(t *testing.T, names ...string) string {
	t.Helper()
	ctx := context.Background()
	key, err := config.ParseAuditKey(migrateKeyHex)
	if err != nil {
		t.Fatal(err)
	}
	from := filepath.Join(t.TempDir(), "console.db")
	src, err := store.Open(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	au := audit.New(src, nil)
	if err := au.UseKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if err := au.RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: name, ClientIP: "192.0.2.1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return from
}

// TestMigrateStore moves a SQLite console database whose audit log is
// keyed into a new PostgreSQL database: the chain verifies there under the
// same key, ends at the same head, free text finds what it found, and a
// second run refuses the now non-empty target.
func TestMigrateStore(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"CONSOLE_AUDIT_KEY": migrateKeyHex}
	from := keyedSQLite(t, "alice", "gpu-node-07", "bob")
	to := pgtest.NewDatabase(t)

	r := run(t, env, "", "migrate-store", "--from", from, "--to", to)
	if r.code != cli.ExitOK {
		t.Fatalf("migrate-store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "source "+from+": audit chain intact, 4 entries") || !strings.Contains(r.stdout, "(the same)") {
		t.Errorf("output:\n%s", r.stdout)
	}

	dst := storetest.OpenDSN(t, to)
	if dst.Engine != store.Postgres {
		t.Fatalf("target engine %s", dst.Engine)
	}
	key, _ := config.ParseAuditKey(migrateKeyHex)
	da := audit.New(dst, nil)
	da.SetKey(key)
	if res, err := da.Verify(ctx); err != nil || !res.OK || res.KeyedFrom == 0 || res.Entries != 4 {
		t.Fatalf("verify the copy: %+v, %v; want an intact keyed chain of 4 entries (the key event and 3)", res, err)
	}
	got, _, err := da.List(ctx, audit.Filter{Text: "node-07"}, 0, 10)
	if err != nil || len(got) != 1 || got[0].Actor.Name != "gpu-node-07" {
		t.Errorf("free text 'node-07' on the copy = %+v, %v; want the gpu-node-07 entry", got, err)
	}

	// The target now holds data: a second run refuses it and adds nothing.
	r = run(t, env, "", "migrate-store", "--from", from, "--to", to)
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, store.ErrTargetNotEmpty.Error()) {
		t.Errorf("second run into the same target: exit %d, %q; want 1 and %q", r.code, r.stderr, store.ErrTargetNotEmpty)
	}
	if res, err := da.Verify(ctx); err != nil || res.Entries != 4 {
		t.Errorf("after the refused run: %+v, %v; want the same 4 entries", res, err)
	}
}

// TestMigrateStoreRefusesABrokenSource copies nothing from a log whose
// chain does not verify under the key given.
func TestMigrateStoreRefusesABrokenSource(t *testing.T) {
	from := keyedSQLite(t, "alice")
	to := pgtest.NewDatabase(t)
	wrong := strings.Repeat("ab", 32)
	r := run(t, map[string]string{"CONSOLE_AUDIT_KEY": wrong}, "", "migrate-store", "--from", from, "--to", to)
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "nothing was copied") {
		t.Fatalf("wrong key: exit %d, %q; want 1 and 'nothing was copied'", r.code, r.stderr)
	}
	// Opening the target gives it the schema; it holds no entry.
	dst := storetest.OpenDSN(t, to)
	var n int
	if err := dst.Read.Get(&n, `SELECT count(*) FROM audit_entries`); err != nil || n != 0 {
		t.Errorf("%d audit entries in the target after a refused copy (%v)", n, err)
	}
}

// TestMigrateStoreUsage: a command line missing a side, naming one
// database twice, or with a stray argument is a usage error (exit 2); -h
// prints the usage (exit 0).
func TestMigrateStoreUsage(t *testing.T) {
	for _, args := range [][]string{
		{"migrate-store"},
		{"migrate-store", "--from", "a.db"},
		{"migrate-store", "--to", "postgres://x@127.0.0.1/db"},
		{"migrate-store", "--from", "a.db", "--to", "a.db"},
		{"migrate-store", "--from", "a.db", "--to", "b.db", "extra"},
		{"migrate-store", "--nope"},
	} {
		if r := run(t, nil, "", args...); r.code != cli.ExitUsage {
			t.Errorf("%v: exit %d (%q), want %d", args, r.code, r.stderr, cli.ExitUsage)
		}
	}
	r := run(t, nil, "", "migrate-store", "-h")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "usage: console migrate-store --from FILE --to postgres://") {
		t.Errorf("-h: exit %d, %q", r.code, r.stdout)
	}
	if r := run(t, nil, "", "help"); !strings.Contains(r.stdout, "console migrate-store") {
		t.Errorf("the command's usage does not list migrate-store:\n%s", r.stdout)
	}
}

// TestBackupOfPostgres: 'console backup' of a PostgreSQL database writes a
// SQLite file whose audit chain verifies; migrate-store puts it into a new
// PostgreSQL database, where 'console audit verify' finds the same chain;
// 'console restore' refuses a PostgreSQL target and says what to do.
func TestBackupOfPostgres(t *testing.T) {
	env := engineEnv(t, store.Postgres)
	if r := run(t, env, "a long enough password\n", "user", "add", "root", "--role", "admin"); r.code != 0 {
		t.Fatalf("user add: exit %d, %s", r.code, r.stderr)
	}
	file := filepath.Join(t.TempDir(), "backup.db")
	r := run(t, env, "", "backup", file)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "audit chain intact") {
		t.Fatalf("backup of PostgreSQL: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, env["CONSOLE_DB"]) && strings.Contains(env["CONSOLE_DB"], ":@") {
		t.Error("the URL was printed with its password")
	}
	if r := run(t, env, "", "backup", file); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "exists") {
		t.Errorf("backup over an existing file: exit %d, %q", r.code, r.stderr)
	}

	to := pgtest.NewDatabase(t)
	if r := run(t, env, "", "migrate-store", "--from", file, "--to", to); r.code != cli.ExitOK {
		t.Fatalf("migrate-store of the backup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	env2 := map[string]string{"CONSOLE_DB": to, "CONSOLE_AUDIT_KEY": migrateKeyHex}
	if r := run(t, env2, "", "audit", "verify"); r.code != cli.ExitOK || !strings.Contains(r.stdout, "audit chain intact") {
		t.Errorf("audit verify of the restored copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env2, "", "user", "list"); r.code != cli.ExitOK || !strings.Contains(r.stdout, "root") {
		t.Errorf("user list of the restored copy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, map[string]string{"CONSOLE_DB": to}, "", "audit", "verify"); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "CONSOLE_AUDIT_KEY") {
		t.Errorf("audit verify of PostgreSQL without the key: exit %d, %q; want 1 asking for the key", r.code, r.stderr)
	}
	if r := run(t, env2, "", "restore", file); r.code != cli.ExitFailure || !strings.Contains(r.stderr, "migrate-store") {
		t.Errorf("restore onto PostgreSQL: exit %d, %q; want 1 naming migrate-store", r.code, r.stderr)
	}
}
