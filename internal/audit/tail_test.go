package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/audit"
)

// TestVerifyTailResumesFromTheVerifiedHead: a tail verification checks only
// the entries after the last verified head, says exactly which, catches an
// edit among them, and stays red until a full verification.
func TestVerifyTailResumesFromTheVerifiedHead(t *testing.T) {
	ts, _ := keyedLog(t) // 12 entries
	ctx := context.Background()
	full := verifyOK(t, ts.Store)
	if full.Mode != audit.ModeFull || full.HeadID != 12 {
		t.Fatalf("full verification = %+v", full)
	}
	fillLog(t, ts, 15)
	st, err := ts.Status(ctx)
	if err != nil || st.Verified == nil || st.Verified.HeadID != 12 || st.Pending != 3 {
		t.Fatalf("Status before the tail run = %+v, %v; want entries to 12 verified and 3 pending", st, err)
	}
	tail, err := ts.VerifyTail(ctx)
	if err != nil || !tail.OK || tail.Mode != audit.ModeTail || tail.FromID != 13 || tail.HeadID != 15 || tail.Entries != 15 {
		t.Fatalf("VerifyTail = %+v, %v; want entries 13-15 checked, 15 verified in all", tail, err)
	}
	if again, err := ts.VerifyTail(ctx); err != nil || again.HeadID != 15 || !again.At.Equal(tail.At) {
		t.Fatalf("VerifyTail with nothing new = %+v, %v; want the previous result, nothing recorded", again, err)
	}

	// An edit among new entries is caught by the next tail run.
	fillLog(t, ts, 18)
	db := rawDB(t, ts.path)
	mustExec(t, db, `DROP TRIGGER audit_entries_no_update`)
	mustExec(t, db, `UPDATE audit_entries SET actor_name = 'mallory' WHERE id = 17`)
	bad, err := ts.VerifyTail(ctx)
	if err != nil || bad.OK || bad.FirstBroken != 17 || !strings.Contains(bad.Reason, "keyed hash") {
		t.Fatalf("VerifyTail after an edit = %+v, %v; want entry 17 broken", bad, err)
	}
	// A rewritten verified head is caught without re-reading the log.
	mustExec(t, db, `UPDATE audit_entries SET actor_name = 'alice' WHERE id = 17`)
	if still, err := ts.VerifyTail(ctx); err != nil || still.OK {
		t.Fatalf("VerifyTail after a failure = %+v, %v; want it to stay failed until a full verification", still, err)
	}
	if res := verifyOK(t, ts.Store); res.HeadID != 18 {
		t.Fatalf("full verification after the repair = %+v", res)
	}
	mustExec(t, db, `UPDATE audit_entries SET hash = 'ab' || substr(hash, 3) WHERE id = 18`)
	if res, err := ts.VerifyTail(ctx); err != nil || res.OK || !strings.Contains(res.Reason, "entry 18's hash differs from the one recorded") {
		t.Fatalf("VerifyTail after the verified head changed = %+v, %v", res, err)
	}
}

// TestListMarksBrokenEntries: an entry edited in the database is marked
// when listed, and the status turns red at once, before any verification.
func TestListMarksBrokenEntries(t *testing.T) {
	ts, _ := keyedLog(t)
	ctx := context.Background()
	verifyOK(t, ts.Store)
	db := rawDB(t, ts.path)
	mustExec(t, db, `DROP TRIGGER audit_entries_no_update`)
	mustExec(t, db, `UPDATE audit_entries SET actor_name = 'mallory' WHERE id = 9`)
	mustExec(t, db, `UPDATE audit_entries SET error = 'x' WHERE id = 3`)
	got, _, err := ts.List(ctx, audit.Filter{}, 0, audit.DefaultPageSize)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		want := e.ID == 9 || e.ID == 3
		if (e.Broken != "") != want {
			t.Errorf("entry %d: Broken = %q; want marked %v", e.ID, e.Broken, want)
		}
	}
	st, err := ts.Status(ctx)
	if err != nil || st.Last == nil || st.Last.OK || st.Last.FirstBroken != 3 || st.Last.Mode != audit.ModePage {
		t.Fatalf("Status after listing = %+v, %v; want red, naming entry 3, found by the page", st.Last, err)
	}
}
