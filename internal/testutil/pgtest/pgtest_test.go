package pgtest_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/devserver-console/console/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestNewDatabase checks that each test gets its own empty database, that it
// takes writes, and that it is dropped when the test ends.
func TestNewDatabase(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("first", func(t *testing.T) {
		first = pgtest.NewDatabase(t)
		conn, err := pgx.Connect(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `CREATE TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("tables = %d, %v; want only the one created here", n, err)
		}
	})
	if t.Failed() || first == "" {
		return
	}
	second := pgtest.NewDatabase(t)
	if second == first {
		t.Fatalf("two tests got the same database %s", first)
	}
	conn, err := pgx.Connect(ctx, first)
	if err == nil {
		conn.Close(ctx)
		t.Fatalf("the first test's database %s still exists after it ended", first)
	}
}

// TestStartStop checks a cluster of its own: it accepts connections, and
// Stop ends the server and removes every file.
func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a second cluster (initdb takes seconds)")
	}
	if _, err := pgtest.BinDir(); err != nil && !pgtest.InCI() {
		t.Skip(err)
	}
	ctx := context.Background()
	c, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		t.Fatal(err)
	}
	var fsync string
	err = conn.QueryRow(ctx, `SHOW fsync`).Scan(&fsync)
	conn.Close(ctx)
	if err != nil || fsync != "off" {
		t.Errorf("fsync = %q, %v; want off for a throw-away cluster", fsync, err)
	}
	dir := pgtest.Dir(c)
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the cluster directory %s is still there after Stop: %v", dir, err)
	}
	if conn, err := pgx.Connect(ctx, c.URL()); err == nil {
		conn.Close(ctx)
		t.Error("the server still accepts connections after Stop")
	}
}
