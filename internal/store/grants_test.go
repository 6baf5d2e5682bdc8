package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/testutil/pgtest"
)

// TestPostgresGrants runs scripts/postgres-grants.sql as docs/replicas.md
// tells the operator to, then opens the store as the console's role: the
// schema is current, so it starts without schema privileges; it can add
// audit entries but not change or remove them (refused by privilege, before
// any trigger), and it can work with the other tables.
func TestPostgresGrants(t *testing.T) {
	ctx := context.Background()
	ownerURL := pgtest.NewDatabase(t)
	owner := open(t, ownerURL) // migrates, as the owner
	bin, err := pgtest.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	role := "console_app_" + hex.EncodeToString(b[:])
	if _, err := owner.Write.ExecContext(ctx, `CREATE ROLE `+role+` LOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		owner.Write.ExecContext(ctx, `DROP OWNED BY `+role)
		if _, err := owner.Write.ExecContext(ctx, `DROP ROLE `+role); err != nil {
			t.Errorf("drop role %s: %v", role, err)
		}
	})
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "psql"), "-X", "-q", ownerURL, "-v", "app="+role,
		"-f", filepath.Join("..", "..", "scripts", "postgres-grants.sql")).CombinedOutput()
	if err != nil {
		t.Fatalf("psql -f scripts/postgres-grants.sql: %v\n%s", err, out)
	}

	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(role)
	app := open(t, u.String())
	run := func(q string) error {
		_, err := app.Write.ExecContext(ctx, q)
		return err
	}
	for _, q := range []string{
		`INSERT INTO audit_entries (created_at, kind, prev_hash, hash) VALUES ('t', 'request', 'g', 'h')`,
		`INSERT INTO audit_search (rowid, body) VALUES (1, to_tsvector('console_search', 'gpu-node-07'))`,
		`INSERT INTO users (name, role, password_hash, created_at, updated_at, password_changed_at) VALUES ('a', 'admin', 'x', 0, 0, 0)`,
		`UPDATE users SET disabled = 1`,
		`INSERT INTO settings (key, value) VALUES ('k', 'v')`,
		`DELETE FROM settings`,
	} {
		if err := run(q); err != nil {
			t.Errorf("the console's role cannot %s: %v", q, err)
		}
	}
	for _, q := range []string{
		`UPDATE audit_entries SET kind = 'x'`,
		`DELETE FROM audit_entries`,
		`TRUNCATE audit_entries`,
		`DELETE FROM audit_search`,
		`DELETE FROM audit_entry_servers`,
		`DELETE FROM audit_verifications`,
		`DELETE FROM schema_migrations`,
		`DROP TRIGGER audit_entries_no_update ON audit_entries`,
		`CREATE TABLE sneaky (x int)`,
	} {
		if err := run(q); err == nil || !strings.Contains(err.Error(), "must be owner") && !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("the console's role could %s: %v", q, err)
		}
	}
}
