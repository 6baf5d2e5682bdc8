package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

// fillLog writes n entries: calls and events alternately.
func fillLog(t testing.TB, ts *testStore, n int) {
	t.Helper()
	for i := 0; len(entries(t, ts)) < n; i++ {
		if i%3 == 2 || n-len(entries(t, ts)) == 1 {
			if err := ts.RecordEvent(context.Background(), audit.EventSignInSuccess, alice, nil); err != nil {
				t.Fatal(err)
			}
			continue
		}
		ts.exchange(t, metaFor("STOP", fmt.Sprint("c", i), audit.Target{ID: srvA, Name: "gpu-node-01"}), stopCall(srvA), okResult(fmt.Sprint("r", i)))
	}
}

func entries(t testing.TB, ts *testStore) []audit.Entry {
	t.Helper()
	got, _, err := ts.List(context.Background(), audit.Filter{}, 0, audit.MaxPageSize)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestTriggersRejectUpdateAndDelete(t *testing.T) {
	ts := newTestStore(t)
	fillLog(t, ts, 3)
	if _, err := ts.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		sql  string
	}{
		{"update an entry", `UPDATE audit_entries SET actor_name = 'mallory' WHERE id = 1`},
		{"update every entry", `UPDATE audit_entries SET error = ''`},
		{"delete an entry", `DELETE FROM audit_entries WHERE id = 2`},
		{"delete all entries", `DELETE FROM audit_entries`},
		{"replace an entry", `REPLACE INTO audit_entries (id, created_at, kind, prev_hash, hash) VALUES (1, 'x', 'request', 'x', 'x')`},
		{"replace an answer", `INSERT OR REPLACE INTO audit_entries (created_at, kind, ref_id, prev_hash, hash) VALUES ('x', 'response', 1, 'x', 'x')`},
		{"replace a verification", `REPLACE INTO audit_verifications SELECT * FROM audit_verifications`},
		{"update the server index", `UPDATE audit_entry_servers SET server_key = 'other'`},
		{"delete from the server index", `DELETE FROM audit_entry_servers`},
		{"update a verification", `UPDATE audit_verifications SET ok = 1`},
		{"delete a verification", `DELETE FROM audit_verifications`},
		{"delete from the contentless search index", `DELETE FROM audit_search WHERE rowid = 1`},
		{"delete from the contentless search index with filter values", `DELETE FROM audit_search_v2 WHERE rowid = 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ts.db.Write.Exec(tt.sql)
			if err == nil {
				t.Fatalf("%s succeeded through the application's writer", tt.sql)
			}
		})
	}
	t.Run("the message names the rule", func(t *testing.T) {
		_, err := ts.db.Write.Exec(`DELETE FROM audit_entries WHERE id = 1`)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("error = %v, want it to say append-only", err)
		}
	})
	assertCount(t, ts, 3)
	verifyOK(t, ts.Store)
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name       string
		tamper     func(t *testing.T, db *sql.DB)
		wantBroken int64
		wantReason string
	}{
		{
			name: "edited field",
			tamper: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `UPDATE audit_entries SET actor_name = 'mallory' WHERE id = 4`)
			},
			wantBroken: 4, wantReason: "edited",
		},
		{
			name: "edited body",
			tamper: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `UPDATE audit_entries SET request_body = CAST('{"type":"START"}' AS BLOB) WHERE id = 1`)
			},
			wantBroken: 1, wantReason: "edited",
		},
		{
			name: "edited field with the hash recomputed by a naive tamperer",
			tamper: func(t *testing.T, db *sql.DB) {
				// Changing a field and its own hash still breaks the link to the next entry.
				mustExec(t, db, `UPDATE audit_entries SET status = 500, hash = 'ab' || substr(hash, 3) WHERE id = 5`)
			},
			wantBroken: 5, wantReason: "edited",
		},
		{
			name: "deleted entry",
			tamper: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `DELETE FROM audit_entries WHERE id = 3`)
			},
			wantBroken: 4, wantReason: "removed, inserted or reordered",
		},
		{
			name: "deleted first entry",
			tamper: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `DELETE FROM audit_entries WHERE id = 1`)
			},
			wantBroken: 2, wantReason: "earlier entries were removed",
		},
		{
			name: "reordered entries (swap content, hashes travel with it)",
			tamper: func(t *testing.T, db *sql.DB) {
				swapRows(t, db, 2, 3, true)
			},
			wantBroken: 2, wantReason: "removed, inserted or reordered",
		},
		{
			name: "reordered entries (swap content, hashes stay in place)",
			tamper: func(t *testing.T, db *sql.DB) {
				swapRows(t, db, 4, 5, false)
			},
			wantBroken: 4, wantReason: "edited",
		},
		{
			name: "entries cut from the end after a verification",
			tamper: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `DELETE FROM audit_entries WHERE id >= 5`)
			},
			wantBroken: 5, wantReason: "removed from the end",
		},
		{
			name: "server index entry removed to hide an entry from the server filter",
			tamper: func(t *testing.T, db *sql.DB) {
				mustExec(t, db, `DELETE FROM audit_entry_servers WHERE entry_id = 2`)
			},
			wantBroken: 0, wantReason: "server index",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestStoreOn(t, store.SQLite) // tampers with the file
			fillLog(t, ts, 6)
			verifyOK(t, ts.Store) // records the head: entry 6

			db := rawDB(t, ts.path)
			for _, tr := range []string{"audit_entries_no_update", "audit_entries_no_delete", "audit_entry_servers_no_delete"} {
				mustExec(t, db, `DROP TRIGGER `+tr)
			}
			tt.tamper(t, db)

			res, err := ts.Verify(context.Background())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.OK || res.FirstBroken != tt.wantBroken || !strings.Contains(res.Reason, tt.wantReason) {
				t.Fatalf("Verify = OK %v, first broken %d, reason %q; want broken at %d with %q",
					res.OK, res.FirstBroken, res.Reason, tt.wantBroken, tt.wantReason)
			}
			last, err := ts.LastVerification(context.Background())
			if err != nil || last == nil || last.OK || last.FirstBroken != tt.wantBroken || last.Reason != res.Reason {
				t.Fatalf("LastVerification = %+v, %v; want the failed result recorded", last, err)
			}
		})
	}
}

// swapRows exchanges the content of two entries, keeping their ids.
func swapRows(t *testing.T, db *sql.DB, a, b int64, withHashes bool) {
	t.Helper()
	cols := []string{"created_at", "kind", "actor_id", "actor_name", "action", "targets", "detail",
		"method", "url", "request_headers", "request_body", "status", "response_headers", "response_body",
		"request_id", "duration_ms", "error", "outcome", "ref_id", "correlation_id"}
	if withHashes {
		cols = append(cols, "prev_hash", "hash")
	}
	mustExec(t, db, `CREATE TEMP TABLE swap AS SELECT * FROM audit_entries WHERE id IN (?, ?)`, a, b)
	for _, c := range cols {
		mustExec(t, db, fmt.Sprintf(`UPDATE audit_entries SET %[1]s = (SELECT %[1]s FROM swap WHERE id = CASE audit_entries.id WHEN ? THEN ? ELSE ? END) WHERE id IN (?, ?)`, c), a, b, a, a, b)
	}
	mustExec(t, db, `DROP TABLE swap`)
}

func TestVerifyIntactAndRecorded(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	if last, err := ts.LastVerification(ctx); err != nil || last != nil {
		t.Fatalf("LastVerification before any = %+v, %v; want nil", last, err)
	}
	res := verifyOK(t, ts.Store) // empty log verifies
	if res.Entries != 0 || res.HeadID != 0 {
		t.Errorf("empty log: %+v", res)
	}
	fillLog(t, ts, 9)
	res = verifyOK(t, ts.Store)
	all := entries(t, ts)
	if res.Entries != 9 || res.HeadID != all[0].ID || res.HeadHash != all[0].Hash {
		t.Errorf("Verify = %+v; want 9 entries, head %d %s", res, all[0].ID, all[0].Hash)
	}
	last, err := ts.LastVerification(ctx)
	if err != nil || last == nil || !last.OK || last.Entries != 9 || !last.At.Equal(res.At) {
		t.Errorf("LastVerification = %+v, %v; want %+v", last, err, res)
	}
	// Entries link: each prev_hash is the hash of the entry before.
	for i := 0; i+1 < len(all); i++ {
		if all[i].PrevHash != all[i+1].Hash {
			t.Errorf("entry %d prev_hash %s != entry %d hash %s", all[i].ID, all[i].PrevHash, all[i+1].ID, all[i+1].Hash)
		}
	}
	if all[len(all)-1].PrevHash != audit.GenesisHash {
		t.Errorf("first entry prev_hash = %s, want genesis", all[len(all)-1].PrevHash)
	}
}

func TestStartVerify(t *testing.T) {
	ts := newTestStore(t)
	fillLog(t, ts, 20)
	ctx := context.Background()
	first := ts.StartVerify(ctx)
	second := ts.StartVerify(ctx) // while the first runs, the same run is shared
	if running, since := ts.Verifying(); running && since.IsZero() {
		t.Error("a running verification has no start time")
	}
	for _, done := range []<-chan struct{}{first, second} {
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("background verification did not finish")
		}
	}
	if running, _ := ts.Verifying(); running {
		t.Error("Verifying still true after the run ended")
	}
	last, err := ts.LastVerification(ctx)
	if err != nil || last == nil || !last.OK || last.Entries != 20 {
		t.Fatalf("LastVerification = %+v, %v; want an intact result for 20 entries", last, err)
	}
	var runs int
	if err := ts.db.Read.Get(&runs, `SELECT count(*) FROM audit_verifications`); err != nil || runs < 1 || runs > 2 {
		t.Errorf("%d verifications recorded (%v), want 1 (or 2 if the first ended before the second call)", runs, err)
	}
}
