package audit_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/audit"
)

// TestCallCommitsWithCallersRecords: a Call's request entry commits with the
// caller's before statements and its response entry with the after ones, so
// both are stored or neither is; the response is kept even when the caller's
// after statements fail.
func TestCallCommitsWithCallersRecords(t *testing.T) {
	ctx := context.Background()
	ts := newTestStore(t)
	if _, err := ts.db.Write.ExecContext(ctx, `CREATE TABLE test_marks (step TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	mark := func(step string) audit.TxFunc {
		return func(ctx context.Context, tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO test_marks (step) VALUES (?)`, step)
			return err
		}
	}
	refuse := errors.New("caller refuses")
	failing := func(ctx context.Context, tx *sqlx.Tx) error {
		if err := mark("half")(ctx, tx); err != nil {
			return err
		}
		return refuse
	}
	marks := func() []string {
		var got []string
		if err := ts.db.Read.SelectContext(ctx, &got, `SELECT step FROM test_marks ORDER BY rowid`); err != nil {
			t.Fatal(err)
		}
		return got
	}
	count := func(kind audit.EventKind) int {
		var n int
		if err := ts.db.Read.GetContext(ctx, &n, `SELECT count(*) FROM audit_entries WHERE kind = ?`, string(kind)); err != nil {
			t.Fatal(err)
		}
		return n
	}
	meta := metaFor("STOP", "batch-1", audit.Target{ID: srvA})

	t.Run("before fails: nothing stored", func(t *testing.T) {
		c := ts.BeginCall(meta, failing)
		if _, err := c.BeforeSend(ctx, stopCall(srvA)); !errors.Is(err, refuse) {
			t.Fatalf("BeforeSend = %v, want the caller's error", err)
		}
		if c.Sent() || count(audit.KindRequest) != 0 || len(marks()) != 0 {
			t.Errorf("after a refused before: sent %v, %d requests, marks %v; want nothing", c.Sent(), count(audit.KindRequest), marks())
		}
		if err := c.Finish(ctx, mark("result")); err != nil {
			t.Fatal(err)
		}
		if got := marks(); len(got) != 1 || got[0] != "result" || count(audit.KindResponse) != 0 {
			t.Errorf("Finish of an unsent call: marks %v, %d responses; want the result alone", got, count(audit.KindResponse))
		}
	})
	t.Run("both commit together", func(t *testing.T) {
		c := ts.BeginCall(meta, mark("sending"))
		ref, err := c.BeforeSend(ctx, stopCall(srvA))
		if err != nil {
			t.Fatal(err)
		}
		if got := marks(); got[len(got)-1] != "sending" || count(audit.KindRequest) != 1 {
			t.Fatalf("after BeforeSend: marks %v, %d requests", got, count(audit.KindRequest))
		}
		if err := c.AfterSend(ctx, ref, stopCall(srvA), okResult("r1")); err != nil {
			t.Fatal(err)
		}
		if count(audit.KindResponse) != 0 {
			t.Error("AfterSend committed the response; Finish should")
		}
		if err := c.Finish(ctx, mark("done")); err != nil {
			t.Fatal(err)
		}
		_, ans, err := ts.Exchange(ctx, ref)
		if err != nil || ans == nil || ans.Outcome != audit.OutcomeSuccess || marks()[len(marks())-1] != "done" {
			t.Errorf("after Finish: answer %+v, %v, marks %v", ans, err, marks())
		}
	})
	t.Run("after fails: the response is kept", func(t *testing.T) {
		c := ts.BeginCall(meta, nil)
		ref, err := c.BeforeSend(ctx, stopCall(srvA))
		if err != nil {
			t.Fatal(err)
		}
		before := len(marks())
		// No AfterSend: the client never reported a result.
		if err := c.Finish(ctx, failing); !errors.Is(err, refuse) {
			t.Fatalf("Finish = %v, want the caller's error", err)
		}
		_, ans, err := ts.Exchange(ctx, ref)
		if err != nil || ans == nil || ans.Outcome != audit.OutcomeTransportError || len(marks()) != before {
			t.Errorf("after a failed Finish: answer %+v, %v, marks %v; want the response alone", ans, err, marks())
		}
	})
	verifyOK(t, ts.Store)
}
