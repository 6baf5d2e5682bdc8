package store_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil/pgtest"
	"github.com/devserver-console/console/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, dsn string) *store.DB {
	t.Helper()
	return storetest.OpenDSN(t, dsn)
}

func TestOpenMigratesAndReopens(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		if !store.IsPostgresURL(dsn) {
			dsn = filepath.Join(filepath.Dir(dsn), "sub", "console.db") // the directory is created
		}
		db, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		want := store.SQLite
		if store.IsPostgresURL(dsn) {
			want = store.Postgres
		}
		if db.Engine != want {
			t.Errorf("Engine = %q, want %q", db.Engine, want)
		}
		if _, err := db.Write.ExecContext(ctx, db.Rebind(`INSERT INTO settings(key, value) VALUES (?, ?)`), "k", []byte("v")); err != nil {
			t.Fatalf("insert: %v", err)
		}
		if _, err := db.Read.ExecContext(ctx, db.Rebind(`INSERT INTO settings(key, value) VALUES (?, ?)`), "x", []byte("y")); err == nil {
			t.Fatal("read pool accepted a write")
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		db, err = store.Open(ctx, dsn) // migrations already applied: no change
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer db.Close()
		var v []byte
		if err := db.Read.GetContext(ctx, &v, db.Rebind(`SELECT value FROM settings WHERE key = ?`), "k"); err != nil || string(v) != "v" {
			t.Fatalf("value after reopen = %q, %v", v, err)
		}
	})
}

func TestOpenEmptyPath(t *testing.T) {
	if _, err := store.Open(context.Background(), ""); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
}

// TestOpenPostgresKeepsPasswordOut checks that a PostgreSQL URL that cannot
// be opened gives an error naming the database but not its password.
func TestOpenPostgresKeepsPasswordOut(t *testing.T) {
	ctx := context.Background()
	// Port 1 on loopback refuses at once.
	_, err := store.Open(ctx, "postgres://console:s3cr3t-pw@127.0.0.1:1/console?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cr3t-pw") {
		t.Fatalf("the error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("the error does not say which server: %v", err)
	}
}

// TestOpenMistypedURL checks that a mistyped PostgreSQL URL is refused
// with a message, instead of creating a SQLite file named like it.
func TestOpenMistypedURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{"postgres:/db.example/console", "postgresql:console"} {
		db, err := store.Open(context.Background(), dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("a mistyped URL left files behind: %v", entries)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"./data/console.db": "./data/console.db",
		"postgres://console:pw@db.example:5432/console?sslmode=require": "postgres://console:xxxxx@db.example:5432/console?sslmode=require",
		"postgresql://console@db.example/console":                       "postgresql://console@db.example/console",
		"postgres://db.example/console?password=pw&user=console":        "postgres://db.example/console?password=xxxxx&user=console",
		"POSTGRES://console:pw@db.example/console":                      "postgres://console:xxxxx@db.example/console",
	} {
		if got := store.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMigrationSetsMatch checks that every migration exists for both
// engines under the same number and name.
func TestMigrationSetsMatch(t *testing.T) {
	names := func(fsys fs.FS) []string {
		m, err := fs.Glob(fsys, "*.sql")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	sqlite, pg := names(migrations.FS), names(migrations.Postgres)
	if len(sqlite) == 0 {
		t.Fatal("no SQLite migrations embedded")
	}
	if diff := cmp.Diff(sqlite, pg); diff != "" {
		t.Errorf("the SQLite (-) and PostgreSQL (+) migration sets differ; write every migration for both engines:\n%s", diff)
	}
}

// column is a column as both engines can describe it.
type column struct {
	Name    string
	Type    string // int, text, bytes, search
	NotNull bool
	PK      bool
}

// TestSchemaShapesMatch opens both engines and checks that their
// migrations built the same tables with the same columns, types (by kind),
// nullability and primary keys.
func TestSchemaShapesMatch(t *testing.T) {
	ctx := context.Background()
	lite := open(t, filepath.Join(t.TempDir(), "console.db"))
	pg := open(t, pgtest.NewDatabase(t))

	liteTables := map[string][]column{}
	var tables []string
	if err := lite.Read.SelectContext(ctx, &tables, `SELECT name FROM sqlite_schema WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'
		AND (name NOT LIKE 'audit_search_%' OR name = 'audit_search_backfill') -- FTS5's second index and shadow tables: SQLite's own
		ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		var cols []struct {
			Name    string `db:"name"`
			Type    string `db:"type"`
			NotNull bool   `db:"notnull"`
			PK      int    `db:"pk"`
		}
		if err := lite.Read.SelectContext(ctx, &cols, `SELECT name, type, "notnull", pk FROM pragma_table_info(?) ORDER BY cid`, tb); err != nil {
			t.Fatal(err)
		}
		if tb == "audit_search" { // FTS5: the entry id is the rowid
			liteTables[tb] = append(liteTables[tb], column{Name: "rowid", Type: "int", NotNull: true, PK: true})
		}
		for _, c := range cols {
			typ := map[string]string{"INTEGER": "int", "TEXT": "text", "BLOB": "bytes", "": "search"}[strings.ToUpper(c.Type)]
			if typ == "" {
				t.Errorf("SQLite %s.%s has type %q, which this test does not know", tb, c.Name, c.Type)
			}
			pk := c.PK > 0
			liteTables[tb] = append(liteTables[tb], column{Name: c.Name, Type: typ, NotNull: c.NotNull || pk || typ == "search", PK: pk})
		}
	}

	pgTables := map[string][]column{}
	var pgCols []struct {
		Table   string `db:"table_name"`
		Name    string `db:"column_name"`
		Type    string `db:"data_type"`
		NotNull bool   `db:"not_null"`
		PK      bool   `db:"pk"`
	}
	if err := pg.Read.SelectContext(ctx, &pgCols, `
		SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO' AS not_null,
		       EXISTS (SELECT 1 FROM information_schema.table_constraints tc
		               JOIN information_schema.key_column_usage k USING (constraint_schema, constraint_name)
		               WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = c.table_schema
		                 AND tc.table_name = c.table_name AND k.column_name = c.column_name) AS pk
		FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' AND c.table_name <> 'schema_migrations'
		ORDER BY c.table_name, c.ordinal_position`); err != nil {
		t.Fatal(err)
	}
	for _, c := range pgCols {
		typ := map[string]string{"bigint": "int", "integer": "int", "smallint": "int", "text": "text", "bytea": "bytes", "tsvector": "search"}[c.Type]
		if typ == "" {
			t.Errorf("PostgreSQL %s.%s has type %q, which this test does not know", c.Table, c.Name, c.Type)
		}
		pgTables[c.Table] = append(pgTables[c.Table], column{Name: c.Name, Type: typ, NotNull: c.NotNull, PK: c.PK})
	}
	if diff := cmp.Diff(liteTables, pgTables); diff != "" {
		t.Errorf("the schemas differ between SQLite (-) and PostgreSQL (+):\n%s", diff)
	}
}

// TestAuditTablesAppendOnly checks on both engines that the audit log's
// rows cannot be changed or removed, not even by the console's own SQL.
func TestAuditTablesAppendOnly(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		exec := func(q string, args ...any) error {
			_, err := db.Write.ExecContext(ctx, db.Rebind(q), args...)
			return err
		}
		if err := exec(`INSERT INTO audit_entries (id, created_at, kind, prev_hash, hash) VALUES (1, '2026-01-01T00:00:00.000000Z', 'request', 'g', 'h')`); err != nil {
			t.Fatal(err)
		}
		if err := exec(`INSERT INTO audit_entry_servers (server_key, entry_id) VALUES ('gpu-1', 1)`); err != nil {
			t.Fatal(err)
		}
		if err := exec(`INSERT INTO audit_verifications (verified_at, ok, entries, first_broken, reason, head_id, head_hash, duration_ms)
			VALUES ('2026-01-01T00:00:00Z', 1, 1, 0, '', 1, 'h', 1)`); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`UPDATE audit_entries SET kind = 'response'`,
			`DELETE FROM audit_entries`,
			`UPDATE audit_entry_servers SET server_key = 'x'`,
			`DELETE FROM audit_entry_servers`,
			`UPDATE audit_verifications SET ok = 0`,
			`DELETE FROM audit_verifications`,
			`INSERT INTO audit_entries (id, created_at, kind, prev_hash, hash) VALUES (1, 'x', 'x', 'x', 'x')
			 ON CONFLICT (id) DO UPDATE SET kind = excluded.kind`,
		} {
			if err := exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("%s: err = %v, want refused as append-only", q, err)
			}
		}
		if db.Engine == store.Postgres {
			for _, tb := range []string{"audit_entries", "audit_entry_servers", "audit_search", "audit_verifications"} {
				if err := exec(`TRUNCATE ` + tb); err == nil || !strings.Contains(err.Error(), "append-only") {
					t.Errorf("TRUNCATE %s: err = %v, want refused as append-only", tb, err)
				}
			}
		}
		var kind string
		if err := db.Read.GetContext(ctx, &kind, `SELECT kind FROM audit_entries WHERE id = 1`); err != nil || kind != "request" {
			t.Errorf("the entry after the refused changes: kind %q, %v", kind, err)
		}
	})
}

// TestCaseInsensitiveNames checks that user names are unique regardless of
// case, and that "COLLATE NOCASE" in a query means the same, on both engines.
func TestCaseInsensitiveNames(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		ins := db.Rebind(`INSERT INTO users (name, role, password_hash, created_at, updated_at, password_changed_at) VALUES (?, 'viewer', 'x', 0, 0, 0)`)
		if _, err := db.Write.ExecContext(ctx, ins, "Alice"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Write.ExecContext(ctx, ins, "aLICE"); err == nil {
			t.Error("a second user named aLICE was accepted beside Alice")
		}
		var n int
		if err := db.Read.GetContext(ctx, &n, db.Rebind(`SELECT count(*) FROM users WHERE name = ?`), "ALICE"); err != nil || n != 1 {
			t.Errorf("users named ALICE = %d, %v; want 1", n, err)
		}
		if _, err := db.Write.ExecContext(ctx, `INSERT INTO audit_entries (created_at, kind, actor_name, prev_hash, hash) VALUES ('t', 'request', 'Alice', 'g', 'h')`); err != nil {
			t.Fatal(err)
		}
		if err := db.Read.GetContext(ctx, &n, db.Rebind(`SELECT count(*) FROM audit_entries WHERE actor_name = ? COLLATE NOCASE`), "aLiCe"); err != nil || n != 1 {
			t.Errorf("entries by aLiCe = %d, %v; want 1", n, err)
		}
	})
}

// TestRebind checks the placeholders each engine gets.
func TestRebind(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		db := open(t, dsn)
		got := db.Rebind(`SELECT ? WHERE 1 = ?`)
		want := `SELECT ? WHERE 1 = ?`
		if db.Engine == store.Postgres {
			want = `SELECT $1 WHERE 1 = $2`
		}
		if got != want {
			t.Errorf("Rebind = %q, want %q", got, want)
		}
	})
}

// TestSnapshot checks that a snapshot transaction keeps seeing the state it
// started with while writes commit beside it, and cannot write.
func TestSnapshot(t *testing.T) {
	storetest.ForEachDSN(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		db := open(t, dsn)
		ins := db.Rebind(`INSERT INTO settings (key, value) VALUES (?, ?)`)
		if _, err := db.Write.ExecContext(ctx, ins, "a", []byte("1")); err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginSnapshot(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		count := func() int {
			var n int
			if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM settings`); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(); n != 1 {
			t.Fatalf("rows = %d, want 1", n)
		}
		if _, err := db.Write.ExecContext(ctx, ins, "b", []byte("2")); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Errorf("the snapshot sees %d rows after a write beside it, want still 1", n)
		}
		if _, err := tx.ExecContext(ctx, ins, "c", []byte("3")); err == nil {
			t.Error("a snapshot transaction wrote")
		}
	})
}

// TestValuesBothDriversTake checks the Go values the packages pass and scan
// work the same on both engines: a bool into an integer flag (1 or 0) and
// back, bytes and strings into either text or bytes columns.
func TestValuesBothDriversTake(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := db.Rebind(`INSERT INTO users (name, role, password_hash, disabled, created_at, updated_at, password_changed_at) VALUES (?, 'viewer', 'x', ?, 0, 0, 0)`)
		for _, u := range []struct {
			name     string
			disabled bool
		}{{"on", true}, {"off", false}} {
			if _, err := db.Write.ExecContext(ctx, ins, u.name, u.disabled); err != nil {
				t.Fatalf("insert a bool flag: %v", err)
			}
			var n int64
			var b bool
			if err := db.Read.QueryRowContext(ctx, db.Rebind(`SELECT disabled, disabled FROM users WHERE name = ?`), u.name).Scan(&n, &b); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int64{true: 1, false: 0}[u.disabled]; n != want || b != u.disabled {
				t.Errorf("disabled %v stored as %d, read back as %v", u.disabled, n, b)
			}
		}
		if _, err := db.Write.ExecContext(ctx, db.Rebind(`UPDATE users SET disabled = ? WHERE name = 'on'`), "x"); err == nil {
			t.Error("a string went into the integer flag")
		}
		if _, err := db.Write.ExecContext(ctx, db.Rebind(`INSERT INTO settings (key, value) VALUES (?, ?)`), "s", "as string"); err != nil {
			t.Fatalf("a string into a bytes column: %v", err)
		}
		var s string
		if err := db.Read.GetContext(ctx, &s, `SELECT value FROM settings WHERE key = 's'`); err != nil || s != "as string" {
			t.Errorf("bytes read as a string = %q, %v", s, err)
		}
	})
}

// TestQuestionPlaceholders checks that the packages' "?" placeholders work
// on both engines without Rebind, and that a "?" in a string is data.
func TestQuestionPlaceholders(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Write.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?), ('why?', ?)`, "k", []byte("v"), []byte("w")); err != nil {
			t.Fatal(err)
		}
		tx, err := db.Write.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		st, err := tx.PreparexContext(ctx, `SELECT value FROM settings WHERE key = ? AND 'a?b' <> ?`)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		for key, want := range map[string]string{"k": "v", "why?": "w"} {
			var got []byte
			if err := st.GetContext(ctx, &got, key, "x"); err != nil || string(got) != want {
				t.Errorf("value of %q = %q, %v; want %q", key, got, err, want)
			}
		}
		var n int
		if err := db.Read.GetContext(ctx, &n, `SELECT count(*) FROM settings WHERE key IN (?, ?) -- and not '?'`, "k", "why?"); err != nil || n != 2 {
			t.Errorf("count = %d, %v; want 2", n, err)
		}
	})
}
