package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

func TestVerifyNamesTheTamperedEntry(t *testing.T) {
	ts := fixtureLogOn(t, store.SQLite) // tampers with the file
	if res := verifyOK(t, ts.Store); res.Entries != 9 {
		t.Fatalf("verified %d entries, want 9", res.Entries)
	}
	db := rawDB(t, ts.path)
	mustExec(t, db, `DROP TRIGGER audit_entries_no_update`)
	mustExec(t, db, `UPDATE audit_entries SET error = '' WHERE id = 6`)
	res, err := ts.Verify(context.Background())
	if err != nil || res.OK || res.FirstBroken != 6 {
		t.Fatalf("verify after tampering = %+v, %v; want broken at entry 6", res, err)
	}
	last, err := ts.LastVerification(context.Background())
	if err != nil || last == nil || last.OK || last.FirstBroken != 6 {
		t.Errorf("LastVerification = %+v, %v", last, err)
	}
}

// export runs an export with the filter the command line builds from
// these bounds and fields.
func export(t *testing.T, ts *testStore, format, since, until string, f audit.Filter) (string, error) {
	t.Helper()
	var err error
	if f.Since, err = audit.ParseTimeBound(since, false); err != nil {
		return "", err
	}
	if f.Until, err = audit.ParseTimeBound(until, true); err != nil {
		return "", err
	}
	if err := f.Validate(); err != nil {
		return "", err
	}
	var out bytes.Buffer
	if format == "csv" {
		err = ts.ExportCSV(context.Background(), &out, f)
	} else {
		err = ts.ExportJSONL(context.Background(), &out, f)
	}
	return out.String(), err
}

func TestExportFilters(t *testing.T) {
	ts := fixtureLog(t)
	tests := []struct {
		name         string
		since, until string
		f            audit.Filter
		wantIDs      []string // ids in the CSV
		wantErr      string
	}{
		{name: "everything", wantIDs: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}},
		{name: "since a date", since: "2026-03-03", wantIDs: []string{"7", "8", "9"}},
		{name: "until a date includes that day", until: "2026-03-02", wantIDs: []string{"1", "2", "3", "4", "5", "6"}},
		{name: "RFC 3339 range and filters", since: "2026-03-02T00:00:00Z", until: "2026-03-03T00:00:00Z",
			f: audit.Filter{Actor: "alice"}, wantIDs: []string{"5", "6"}},
		{name: "by server and outcome", f: audit.Filter{Server: "infer-c", Outcome: "unknown"}, wantIDs: []string{"9"}},
		{name: "bad date", since: "last week", wantErr: "last week"},
		{name: "bad outcome", f: audit.Filter{Outcome: "meh"}, wantErr: "outcome"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := export(t, ts, "csv", tt.since, tt.until, tt.f)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v does not mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recs[1:] {
				got = append(got, r[0])
			}
			if diff := cmp.Diff(tt.wantIDs, got); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("counted", func(t *testing.T) { // as the audit page's download counts first
		var counted int64 = -1
		var out bytes.Buffer
		err := ts.ExportCSVWith(context.Background(), &out, audit.Filter{Actor: "alice"}, audit.ExportOptions{
			Count: true, Start: func(info audit.ExportInfo) error { counted = info.Entries; return nil },
		})
		rows := strings.Count(out.String(), "\n") - 1 // the header
		if err != nil || counted != int64(rows) || counted == 0 {
			t.Fatalf("counted %d, wrote %d rows, %v", counted, rows, err)
		}
	})
	t.Run("jsonl", func(t *testing.T) {
		out, err := export(t, ts, "jsonl", "", "", audit.Filter{Action: "REBOOT"})
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err != nil || len(lines) != 3 || !strings.Contains(lines[1], `"outcome":"api_error"`) ||
			!strings.HasPrefix(lines[2], `{"trailer":true,"entries":2,"last_id":4,"chain_head_id":9,`) {
			t.Fatalf("%v, lines %q", err, lines)
		}
	})
}

func TestSeed(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	fillLog(t, ts, 3) // seeding extends an existing chain
	if err := audit.Seed(ctx, ts.Store, audit.SeedOptions{Count: 1201, Seed: 7}); err != nil {
		t.Fatalf("seed: %v", err)
	}
	assertCount(t, ts, 1204)
	res := verifyOK(t, ts.Store)
	if res.Entries != 1204 {
		t.Errorf("verified %d entries, want 1204", res.Entries)
	}
	// The seeded log is realistic: every outcome, calls and events, redacted.
	for _, o := range audit.Outcomes {
		got, _, err := ts.List(ctx, audit.Filter{Outcome: string(o)}, 0, 1)
		if err != nil || len(got) == 0 {
			t.Errorf("no seeded entry with outcome %s (%v)", o, err)
		}
	}
	got, _, err := ts.List(ctx, audit.Filter{Action: string(audit.EventSignInFailure)}, 0, 1)
	if err != nil || len(got) == 0 {
		t.Errorf("no seeded sign-in failure (%v)", err)
	}
	var stored []struct {
		Body    []byte `db:"request_body"`
		Headers string `db:"request_headers"`
	}
	if err := ts.db.Read.Select(&stored, `SELECT request_body, request_headers FROM audit_entries`); err != nil {
		t.Fatal(err)
	}
	leaked := 0
	for _, r := range stored {
		if bytes.Contains(r.Body, []byte("S3cret!")) || strings.Contains(r.Headers, "Signature=") {
			leaked++
		}
	}
	if leaked != 0 {
		t.Errorf("%d seeded entries hold a secret", leaked)
	}
	if n, err := ts.RecoverUnfinished(ctx); err != nil || n != 0 {
		t.Errorf("seeded log has %d unanswered requests (%v); every seeded request is answered", n, err)
	}
	// Seeding again with the clock behind the last entry keeps time order.
	ts.clock.Set(clockStart.Add(-time.Hour))
	if err := audit.Seed(ctx, ts.Store, audit.SeedOptions{Count: 50, Seed: 1}); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	all := entries(t, ts)
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatalf("entry %d (%v) is later than entry %d (%v)", all[i].ID, all[i].CreatedAt, all[i-1].ID, all[i-1].CreatedAt)
		}
	}
	verifyOK(t, ts.Store)
	if err := audit.Seed(ctx, ts.Store, audit.SeedOptions{}); err == nil {
		t.Error("seeding no entries succeeded")
	}
}
