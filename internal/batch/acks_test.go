package batch

import (
	"context"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

// TestRecordAcksInOneStatement: the servers' rows of a chunk are inserted
// and their acknowledgements recorded one statement each (issue 11 §3), on
// both engines, with the rules of the row-by-row statements: a server the
// answer does not name keeps no acknowledgement, one it names twice keeps
// the last, one without id or status is skipped, and a server of another
// batch is untouched.
func TestRecordAcksInOneStatement(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tx := func(fn func(tx *sqlx.Tx) error) {
			t.Helper()
			if err := db.WriteTx(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		tx(func(tx *sqlx.Tx) error {
			for _, id := range []string{"b1", "b2"} {
				if _, err := tx.ExecContext(ctx, `INSERT INTO batches (id, user_id, user_name, action, params, created_at, chunk_size, total, skipped)
					VALUES (?, 1, 'kim', 'STOP', '{}', 1, 50, 3, '[]')`, id); err != nil {
					return err
				}
				args := []any{}
				for _, s := range []string{"s1", "s2", "s3"} {
					args = append(args, id, s, "gpu-"+s, 1, "RUNNING")
				}
				if _, err := execStmt(ctx, db, tx, insertServersSQL(3), args...); err != nil {
					return err
				}
			}
			return recordAcks(ctx, db, tx, "b1", []modelarts.ServerResponse{
				{ID: "s1", Status: modelarts.StatusStopping, UpdateAt: 10},
				{ID: "s2", Status: modelarts.StatusRunning, UpdateAt: 11},
				{ID: "s2", Status: modelarts.StatusStopping, UpdateAt: 12},
				{ID: "", Status: modelarts.StatusStopping, UpdateAt: 13},
				{ID: "s3", UpdateAt: 14},
				{ID: "unknown", Status: modelarts.StatusStopping, UpdateAt: 15},
			})
		})
		type ack struct {
			Batch  string `db:"batch_id"`
			Server string `db:"server_id"`
			Name   string `db:"name"`
			Status string `db:"ack_status"`
			At     int64  `db:"ack_update_at"`
		}
		var got []ack
		if err := db.Read.SelectContext(ctx, &got, `SELECT batch_id, server_id, name, ack_status, ack_update_at
			FROM batch_servers ORDER BY batch_id, server_id`); err != nil {
			t.Fatal(err)
		}
		want := []ack{
			{"b1", "s1", "gpu-s1", "STOPPING", 10}, {"b1", "s2", "gpu-s2", "STOPPING", 12}, {"b1", "s3", "gpu-s3", "", 0},
			{"b2", "s1", "gpu-s1", "", 0}, {"b2", "s2", "gpu-s2", "", 0}, {"b2", "s3", "gpu-s3", "", 0},
		}
		if len(got) != len(want) {
			t.Fatalf("rows = %+v; want %+v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("row %d = %+v; want %+v", i, got[i], want[i])
			}
		}
	})
}
