// Package storetest opens console databases for tests, on either engine, so
// a package's store tests can run against SQLite and PostgreSQL alike:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) } // once per package using PostgreSQL
//
//	func TestSomething(t *testing.T) {
//		storetest.ForEach(t, func(t *testing.T, db *store.DB) { ... })
//	}
//
// PostgreSQL databases come from internal/testutil/pgtest (one cluster per
// run, a new database per call, dropped when the test ends).
package storetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

// EnvEngine names the environment variable choosing the engine Open uses:
// "sqlite" (the default) or "postgres".
const EnvEngine = "CONSOLE_TEST_ENGINE"

// Engines are the engines ForEach runs on.
var Engines = []store.Engine{store.SQLite, store.Postgres}

// DSN returns the DSN of a new, empty database of the engine: a file in a
// temporary directory, or a database on the test cluster.
func DSN(t testing.TB, engine store.Engine) string {
	t.Helper()
	if engine == store.Postgres {
		// Migrated once per test binary, then copied: a copy takes a
		// fraction of the time the migrations take.
		return pgtest.NewDatabaseFrom(t, "console-schema", func(ctx context.Context, url string) error {
			db, err := store.Open(ctx, url)
			if err != nil {
				return err
			}
			return db.Close()
		})
	}
	return filepath.Join(t.TempDir(), "console.db")
}

// OpenEngine opens (migrating) a new, empty database of the engine, closed
// when t ends.
func OpenEngine(t testing.TB, engine store.Engine) *store.DB {
	t.Helper()
	return OpenDSN(t, DSN(t, engine))
}

// OpenDSN opens dsn with store.Open, closed when t ends.
func OpenDSN(t testing.TB, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("store.Open(%s): %v", store.Redact(dsn), err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Open opens a new, empty database of the engine CONSOLE_TEST_ENGINE names
// (SQLite by default).
func Open(t testing.TB) *store.DB {
	t.Helper()
	return OpenEngine(t, DefaultEngine())
}

// DefaultEngine returns the engine CONSOLE_TEST_ENGINE names, SQLite when
// it is unset.
func DefaultEngine() store.Engine {
	if os.Getenv(EnvEngine) == string(store.Postgres) {
		return store.Postgres
	}
	return store.SQLite
}

// ForEach runs fn as a subtest per engine ("sqlite", "postgres"), each with
// a new, empty database.
func ForEach(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, OpenEngine(t, e)) })
	}
}

// ForEachDSN is ForEach for tests that open the database themselves (or
// more than once, as replicas do).
func ForEachDSN(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	for _, e := range Engines {
		t.Run(string(e), func(t *testing.T) { fn(t, DSN(t, e)) })
	}
}
