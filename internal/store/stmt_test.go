package store_test

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

// TestWriteStmt: a statement PrepareWrite prepared runs in any number of
// write transactions, on both engines; one it did not prepare runs too
// (prepared in the transaction); and closing the database with prepared
// statements works.
func TestWriteStmt(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const ins = `INSERT INTO settings (key, value) VALUES (?, ?)`
		const upd = `UPDATE settings SET value = ? WHERE key = ?`
		if err := db.PrepareWrite(ctx, ins, ins); err != nil {
			t.Fatalf("PrepareWrite: %v", err)
		}
		for i, key := range []string{"stmt-a", "stmt-b", "stmt-c"} {
			err := db.WriteTx(ctx, func(tx *sqlx.Tx) error {
				st, err := db.WriteStmt(ctx, tx, ins)
				if err != nil {
					return err
				}
				defer st.Close()
				if _, err := st.ExecContext(ctx, key, "v"); err != nil {
					return err
				}
				other, err := db.WriteStmt(ctx, tx, upd) // never prepared ahead
				if err != nil {
					return err
				}
				defer other.Close()
				_, err = other.ExecContext(ctx, "w", key)
				return err
			})
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
		var n int
		if err := db.Read.Get(&n, `SELECT count(*) FROM settings WHERE key LIKE 'stmt-%' AND value = 'w'`); err != nil || n != 3 {
			t.Fatalf("rows written = %d, %v; want 3", n, err)
		}
		// A failing function rolls its transaction back.
		err := db.WriteTx(ctx, func(tx *sqlx.Tx) error {
			st, err := db.WriteStmt(ctx, tx, ins)
			if err != nil {
				return err
			}
			defer st.Close()
			if _, err := st.ExecContext(ctx, "stmt-d", "v"); err != nil {
				return err
			}
			_, err = st.ExecContext(ctx, "stmt-d", "v") // the key exists: refused
			return err
		})
		if err == nil {
			t.Fatal("a duplicate key was accepted")
		}
		if err := db.Read.Get(&n, `SELECT count(*) FROM settings WHERE key = 'stmt-d'`); err != nil || n != 0 {
			t.Fatalf("rows of the failed transaction = %d, %v; want none", n, err)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("Close with prepared statements: %v", err)
		}
	})
}
