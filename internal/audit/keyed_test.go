package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
)

var (
	testKey  = bytes.Repeat([]byte{0x5a}, 32)
	otherKey = bytes.Repeat([]byte{0x33}, 32)
)

// keyedLog is a log whose first 4 entries were written before the console
// had a key (the plain chain), then continued under testKey, with a
// checkpoint at entry 10 in an anchor file outside the database's directory
// and two more entries after it.
func keyedLog(t *testing.T) (ts *testStore, anchor string) {
	t.Helper()
	ctx := context.Background()
	ts = newTestStoreOn(t, store.SQLite) // the tests tamper with the file
	fillLog(t, ts, 4)
	if err := ts.UseKey(ctx, testKey); err != nil {
		t.Fatalf("UseKey: %v", err)
	}
	anchor = filepath.Join(t.TempDir(), "anchor.jsonl")
	ts.SetAnchors(audit.FileSink{Path: anchor})
	fillLog(t, ts, 10)
	if err := ts.Anchor(ctx); err != nil {
		t.Fatalf("Anchor: %v", err)
	}
	fillLog(t, ts, 12)
	return ts, anchor
}

func TestKeyedChainContinuesAPlainLog(t *testing.T) {
	ts, anchor := keyedLog(t)
	got := entries(t, ts)
	if got[len(got)-5].Kind != audit.EventChainKeyed || got[len(got)-5].ID != 5 {
		t.Fatalf("entry 5 = %s; want the switch to the keyed chain right after the 4 plain entries", got[len(got)-5].Kind)
	}
	if k := got[len(got)-5].Detail["key_id"]; k != audit.KeyID(testKey) {
		t.Errorf("switch entry names key %q, want %q", k, audit.KeyID(testKey))
	}
	res, err := verifyAnchor(ts, anchor)
	if err != nil || !res.OK || res.Entries != 12 || res.KeyedFrom != 5 || res.Checkpoints != 1 ||
		res.Anchor.EntryID != 10 || res.Anchor.Count != 10 || ts.KeyID() != audit.KeyID(testKey) {
		t.Fatalf("verify with the anchor = %+v, %v (key %s); want 12 entries intact, keyed from 5, 1 checkpoint at entry 10 of 10", res, err, ts.KeyID())
	}
	// The same file verifies without the key up to the keyed part only.
	plain := openTestStore(t, ts.path)
	res, err = plain.Verify(context.Background())
	if err != nil || res.OK || !strings.Contains(res.Reason, "give that key") || res.Entries != 4 {
		t.Fatalf("Verify without key = %+v, %v; want a failure asking for the key after 4 entries", res, err)
	}
	// Appending without the key is refused rather than mixing plain entries in.
	if err := plain.RecordEvent(context.Background(), audit.EventSignOut, alice, nil); !errors.Is(err, audit.ErrNoKey) {
		t.Fatalf("append without key to a keyed log = %v; want ErrNoKey", err)
	}
	// Another key is refused at start.
	other := openTestStore(t, ts.path)
	if err := other.UseKey(context.Background(), otherKey); !errors.Is(err, audit.ErrWrongKey) {
		t.Fatalf("UseKey(other) = %v; want ErrWrongKey", err)
	}
}

// TestVerifyWithKeyAndAnchorDetectsTampering is the list: each
// tampering makes `console audit verify --anchor FILE`, with the key, fail.
func TestVerifyWithKeyAndAnchorDetectsTampering(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		tamper func(t *testing.T, ts *testStore, db *sql.DB, anchor string)
		want   string
	}{
		{
			name: "forged entry appended with a correct plain hash",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				if err := audit.ForgePlainForTest(ctx, db, 8, "mallory"); err != nil {
					t.Fatal(err)
				}
			},
			want: "BROKEN at entry 13: entry 13 carries a plain SHA-256 hash inside the keyed part",
		},
		{
			name: "whole chain rewritten consistently without the key",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				mustExec(t, db, `UPDATE audit_entries SET actor_name = 'mallory' WHERE id = 7`)
				if err := audit.RechainForTest(ctx, db, nil); err != nil {
					t.Fatal(err)
				}
			},
			want: "BROKEN at entry 5: entry 5 carries a plain SHA-256 hash",
		},
		{
			name: "keyed part removed and the rest rewritten as a plain chain",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				mustExec(t, db, `DELETE FROM audit_entries WHERE id = 5`)
				mustExec(t, db, `UPDATE audit_entries SET id = id - 1 WHERE id > 5`)
				if err := audit.RechainForTest(ctx, db, nil); err != nil {
					t.Fatal(err)
				}
			},
			want: "the log was rewritten",
		},
		{
			name: "whole chain rewritten under another key",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				mustExec(t, db, `UPDATE audit_entries SET detail = replace(detail, ?, ?) WHERE id = 5`, audit.KeyID(testKey), audit.KeyID(otherKey))
				if err := audit.RechainForTest(ctx, db, otherKey); err != nil {
					t.Fatal(err)
				}
			},
			want: "entries from 5 on are chained under audit key " + audit.KeyID(otherKey) + ", not under the key given",
		},
		{
			name: "newest entries deleted",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				mustExec(t, db, `DELETE FROM audit_entries WHERE id > 8`)
			},
			want: "the log ends at entry 8 but the checkpoint signed at",
		},
		{
			name: "log cut back and the verification rows deleted",
			tamper: func(t *testing.T, ts *testStore, db *sql.DB, _ string) {
				verifyOK(t, ts.Store) // records head 12 in audit_verifications
				mustExec(t, db, `DROP TRIGGER audit_verifications_no_delete`)
				mustExec(t, db, `DROP TRIGGER audit_entry_servers_no_delete`)
				mustExec(t, db, `DELETE FROM audit_entries WHERE id > 9`)
				mustExec(t, db, `DELETE FROM audit_entry_servers WHERE entry_id > 9`)
				mustExec(t, db, `DELETE FROM audit_verifications`)
				// Without the anchor, nothing in the database remembers the cut.
				if res := verifyOK(t, ts.Store); res.Entries != 9 {
					t.Fatalf("verify without anchor: %+v; the test premise (an undetected cut of 9 entries) does not hold", res)
				}
				mustExec(t, db, `DELETE FROM audit_verifications`)
			},
			want: "the log ends at entry 9 but the checkpoint signed at",
		},
		{
			name: "keyed entry edited",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				mustExec(t, db, `UPDATE audit_entries SET actor_name = 'mallory' WHERE id = 9`)
			},
			want: "BROKEN at entry 9: entry 9's content does not match its keyed hash",
		},
		{
			name: "plain entry edited",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				mustExec(t, db, `UPDATE audit_entries SET actor_name = 'mallory' WHERE id = 2`)
			},
			want: "BROKEN at entry 2: entry 2's content does not match its hash",
		},
		{
			name: "entries reordered",
			tamper: func(t *testing.T, _ *testStore, db *sql.DB, _ string) {
				swapRows(t, db, 7, 8, true)
			},
			want: "BROKEN at entry 7: entry 7 does not follow entry 6",
		},
		{
			name: "checkpoint forged in the anchor file",
			tamper: func(t *testing.T, _ *testStore, _ *sql.DB, anchor string) {
				b, err := os.ReadFile(anchor)
				if err != nil {
					t.Fatal(err)
				}
				forged := strings.Replace(string(b), `"entry_id":10`, `"entry_id":6`, 1)
				if err := os.WriteFile(anchor, []byte(forged), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "anchor REJECTED: audit: anchor line 1 (entry 6): the signature does not match",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts, anchor := keyedLog(t)
			db := rawDB(t, ts.path)
			for _, tr := range []string{"audit_entries_no_update", "audit_entries_no_delete"} {
				mustExec(t, db, `DROP TRIGGER `+tr)
			}
			tt.tamper(t, ts, db, anchor)
			var got string
			res, err := verifyAnchor(ts, anchor)
			switch {
			case err != nil:
				got = "anchor REJECTED: " + err.Error()
			case !res.OK:
				got = fmt.Sprintf("BROKEN at entry %d: %s", res.FirstBroken, res.Reason)
			default:
				t.Fatalf("verify with the anchor = %+v; want a failure with %q", res, tt.want)
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("verify with the anchor: %q; want %q", got, tt.want)
			}
		})
	}
}

// verifyAnchor verifies ts against the checkpoints in the anchor file, read
// with ts's key, as 'console audit verify --anchor' does; an anchor that
// cannot be read or holds no checkpoint is an error.
func verifyAnchor(ts *testStore, anchor string) (audit.VerifyResult, error) {
	cps, err := ts.ReadCheckpointFile(anchor)
	if err != nil {
		return audit.VerifyResult{}, err
	}
	if len(cps) == 0 {
		return audit.VerifyResult{}, fmt.Errorf("%s holds no checkpoint", anchor)
	}
	return ts.VerifyWith(context.Background(), audit.VerifyOptions{Checkpoints: cps})
}

func TestAnchorSkipsUnchangedHeadAndCountsIncrementally(t *testing.T) {
	ts, anchor := keyedLog(t)
	ctx := context.Background()
	if err := ts.Anchor(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ts.Anchor(ctx); err != nil { // head unchanged: nothing written
		t.Fatal(err)
	}
	cps, err := audit.ReadCheckpointFile(anchor, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 2 || cps[1].EntryID != 12 || cps[1].Count != 12 || cps[0].Count != 10 {
		t.Fatalf("checkpoints = %+v; want entries 10 and 12 with counts 10 and 12", cps)
	}
	if _, err := audit.ReadCheckpointFile(anchor, otherKey); err == nil || !strings.Contains(err.Error(), "signed with key") {
		t.Fatalf("reading with another key = %v; want a refusal naming the key", err)
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "console.db")
	if k, err := audit.LoadKey(audit.KeySource{DBPath: db}, false); err != nil || k.Key != nil {
		t.Fatalf("LoadKey without create on a fresh directory = %+v, %v; want no key", k, err)
	}
	k, err := audit.LoadKey(audit.KeySource{DBPath: db}, true)
	if err != nil || !k.Created || len(k.Key) != 32 || k.Path != config.DefaultAuditKeyFile(db) {
		t.Fatalf("LoadKey(create) = %+v, %v", k, err)
	}
	fi, err := os.Stat(k.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	again, err := audit.LoadKey(audit.KeySource{DBPath: db}, true)
	if err != nil || again.Created || !bytes.Equal(again.Key, k.Key) {
		t.Fatalf("second LoadKey = %+v, %v; want the same key, not a new one", again, err)
	}
	if _, err := audit.LoadKey(audit.KeySource{Text: "abcd"}, false); err == nil {
		t.Fatal("a 2-byte key was accepted")
	}
	bad := filepath.Join(dir, "bad.key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	if _, err := audit.LoadKey(audit.KeySource{File: bad}, false); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad key file = %v; want an error naming it", err)
	}
}

// TestRecordedResponseTriggersACheckpoint: a batch's answered call reaches
// the anchor without waiting for the interval.
func TestRecordedResponseTriggersACheckpoint(t *testing.T) {
	ts, anchor := keyedLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ts.RunAnchors(ctx, time.Hour) }()
	defer func() { cancel(); <-done }()
	testutil.Eventually(t, 5*time.Second, "the checkpoint at start", func() error { return lastCheckpointIs(anchor, 12) })
	ref := ts.exchange(t, metaFor("STOP", "c-anchor", audit.Target{ID: srvA}), stopCall(srvA), okResult("r-anchor"))
	testutil.Eventually(t, 5*time.Second, "a checkpoint after the response", func() error { return lastCheckpointIs(anchor, ref+1) })
}

func lastCheckpointIs(path string, id int64) error {
	cps, err := audit.ReadCheckpointFile(path, testKey)
	if err != nil {
		return err
	}
	if len(cps) == 0 || cps[len(cps)-1].EntryID != id {
		return fmt.Errorf("checkpoints %+v; want the last at entry %d", cps, id)
	}
	return nil
}
