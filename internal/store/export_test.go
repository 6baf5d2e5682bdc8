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
