package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var (
	mu            sync.Mutex
	owned         *Cluster // started by this binary; stopped by Main
	adminURLInUse string   // the maintenance URL in use
	failed        error    // why no cluster could be had (remembered: one try per binary)
)

// Main is the body of TestMain for a package whose tests use PostgreSQL:
// it runs the tests, then stops the cluster this binary started, if any.
func Main(m *testing.M) {
	code := m.Run()
	mu.Lock()
	if owned != nil {
		if err := owned.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: remove the test cluster:", err)
		}
		owned = nil
	}
	mu.Unlock()
	os.Exit(code)
}

// InCI reports whether the tests run in CI, where a test that needs
// PostgreSQL must not be skipped.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// adminURL returns the URL of the cluster's maintenance database, starting
// a cluster for this binary on first use when the environment names none.
func adminURL(ctx context.Context) (string, error) {
	mu.Lock()
	defer mu.Unlock()
	if adminURLInUse != "" || failed != nil {
		return adminURLInUse, failed
	}
	if u := os.Getenv(EnvURL); u != "" {
		adminURLInUse = u
		return u, nil
	}
	c, err := Start(ctx)
	if err != nil {
		failed = err
		return "", err
	}
	owned, adminURLInUse = c, c.URL()
	return adminURLInUse, nil
}

// unavailable skips t, or fails it under CI, with the reason PostgreSQL
// cannot be had.
func unavailable(t testing.TB, err error) {
	t.Helper()
	if InCI() {
		t.Fatalf("PostgreSQL is needed by this test and CI must run it: %v", err)
	}
	t.Skipf("PostgreSQL is not available (%v); set %s or install Debian's postgresql package", err, EnvURL)
}

// NewDatabase creates an empty database on the test cluster and returns its
// URL. The database is dropped when t ends, also when it failed.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := adminURL(ctx)
	if err != nil {
		unavailable(t, err)
	}
	name, u, err := createDatabase(ctx, admin, "")
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, admin, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}

// templates are the template databases this binary made (NewDatabaseFrom),
// by key: each is prepared once and copied for every test.
var (
	tplMu     sync.Mutex
	templates = map[string]string{}
)

// NewDatabaseFrom is NewDatabase for a database prepared like every other of
// key: the first call creates a template database and runs prepare on its
// URL (applying the schema's migrations, say; prepare must close every
// connection it opened), later calls copy the template, which is much
// faster than preparing each. The templates live as long as the cluster.
func NewDatabaseFrom(t testing.TB, key string, prepare func(ctx context.Context, url string) error) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := adminURL(ctx)
	if err != nil {
		unavailable(t, err)
	}
	tplMu.Lock()
	tpl, ok := templates[key]
	if !ok {
		var u string
		tpl, u, err = createDatabase(ctx, admin, "")
		if err == nil {
			if err = prepare(ctx, u); err != nil {
				_ = dropDatabase(ctx, admin, tpl)
				err = fmt.Errorf("prepare template %s: %w", key, err)
			}
		}
		if err != nil {
			tplMu.Unlock()
			t.Fatalf("pgtest: %v", err)
		}
		templates[key] = tpl
	}
	tplMu.Unlock()
	name, u, err := createDatabase(ctx, admin, tpl)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, admin, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return u
}

func createDatabase(ctx context.Context, admin, template string) (name, dbURL string, err error) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name = "t_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", "", fmt.Errorf("connect to the test cluster: %w", err)
	}
	defer conn.Close(ctx)
	create := "CREATE DATABASE " + name
	if template != "" {
		create += " TEMPLATE " + template
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		return "", "", fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", EnvURL, err)
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

func dropDatabase(ctx context.Context, admin, name string) error {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return fmt.Errorf("connect to the test cluster: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}
