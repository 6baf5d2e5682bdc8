package store

import (
	"context"
	"testing"
)

// Tables lists db's tables as Copy sees them.
func Tables(ctx context.Context, t testing.TB, db *DB) []string {
	t.Helper()
	ts, err := db.tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// ClaimsBackendPID returns the PostgreSQL backend holding c's claims (0 if
// none).
func ClaimsBackendPID(c *Claims) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return 0
	}
	return c.conn.PgConn().PID()
}
