package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/audit"
)

// runCmd runs the command; stderr also carries the returned error's text.
func runCmd(t *testing.T, ts *testStore, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := audit.RunCommand(context.Background(), ts.Store, args, &out, &errOut)
	var ee *audit.ExitError
	switch {
	case err == nil:
		code = 0
	case errors.As(err, &ee):
		code = ee.Code
	default:
		t.Fatalf("RunCommand(%v) = %v, not an ExitError", args, err)
	}
	if err != nil {
		errOut.WriteString("\nerror: " + err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestCommandVerify(t *testing.T) {
	ts := fixtureLog(t)
	out, _, code := runCmd(t, ts, "verify")
	if code != 0 || !strings.Contains(out, "audit chain intact: 9 entries") {
		t.Fatalf("verify on an intact log: exit %d, %q", code, out)
	}
	db := rawDB(t, ts.path)
	mustExec(t, db, `DROP TRIGGER audit_entries_no_update`)
	mustExec(t, db, `UPDATE audit_entries SET error = '' WHERE id = 6`)
	out, _, code = runCmd(t, ts, "verify")
	if code != 1 || !strings.Contains(out, "BROKEN at entry 6") {
		t.Fatalf("verify after tampering: exit %d, %q; want 1 naming entry 6", code, out)
	}
	last, err := ts.LastVerification(context.Background())
	if err != nil || last == nil || last.OK || last.FirstBroken != 6 {
		t.Errorf("LastVerification = %+v, %v", last, err)
	}
}

func TestCommandExport(t *testing.T) {
	ts := fixtureLog(t)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantIDs  []string // ids in the CSV
		wantErr  string
	}{
		{name: "csv, everything", args: []string{"export", "--format", "csv"}, wantIDs: []string{"1", "2", "3", "4", "5", "6", "7", "8", "9"}},
		{name: "csv since a date", args: []string{"export", "--format", "csv", "--since", "2026-03-03"}, wantIDs: []string{"7", "8", "9"}},
		{name: "csv until a date includes that day", args: []string{"export", "--format=csv", "--until", "2026-03-02"}, wantIDs: []string{"1", "2", "3", "4", "5", "6"}},
		{name: "csv RFC 3339 range and filters", args: []string{"export", "--format", "csv", "--since", "2026-03-02T00:00:00Z",
			"--until", "2026-03-03T00:00:00Z", "--actor", "alice"}, wantIDs: []string{"5", "6"}},
		{name: "csv by server and outcome", args: []string{"export", "--format", "csv", "--server", "infer-c", "--outcome", "unknown"}, wantIDs: []string{"9"}},
		{name: "missing format", args: []string{"export"}, wantCode: 2, wantErr: "--format"},
		{name: "bad date", args: []string{"export", "--format", "csv", "--since", "last week"}, wantCode: 2, wantErr: "--since"},
		{name: "bad outcome", args: []string{"export", "--format", "jsonl", "--outcome", "meh"}, wantCode: 2, wantErr: "outcome"},
		{name: "unknown flag", args: []string{"export", "--format", "csv", "--bogus"}, wantCode: 2, wantErr: "bogus"},
		{name: "unknown command", args: []string{"shred"}, wantCode: 2, wantErr: "usage"},
		{name: "no command", args: nil, wantCode: 2, wantErr: "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCmd(t, ts, tt.args...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.wantCode, errOut)
			}
			if tt.wantErr != "" {
				if !strings.Contains(errOut, tt.wantErr) {
					t.Errorf("error output %q does not mention %q", errOut, tt.wantErr)
				}
				return
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
	t.Run("jsonl", func(t *testing.T) {
		out, _, code := runCmd(t, ts, "export", "--format", "jsonl", "--action", "REBOOT")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(lines) != 3 || !strings.Contains(lines[1], `"outcome":"api_error"`) ||
			!strings.HasPrefix(lines[2], `{"trailer":true,"entries":2,"last_id":4,"chain_head_id":9,`) {
			t.Fatalf("exit %d, lines %q", code, lines)
		}
	})
}

func TestCommandSeed(t *testing.T) {
	ts := newTestStore(t)
	fillLog(t, ts, 3) // seeding extends an existing chain
	out, _, code := runCmd(t, ts, "seed", "--count", "1201", "--seed", "7")
	if code != 0 || !strings.Contains(out, "seeded 1201 entries") {
		t.Fatalf("seed: exit %d, %q", code, out)
	}
	assertCount(t, ts, 1204)
	res := verifyOK(t, ts.Store)
	if res.Entries != 1204 {
		t.Errorf("verified %d entries, want 1204", res.Entries)
	}
	ctx := context.Background()
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
	var leaked int
	if err := ts.db.Read.Get(&leaked, `SELECT count(*) FROM audit_entries WHERE instr(request_body, 'S3cret!') > 0 OR instr(request_headers, 'Signature=') > 0`); err != nil || leaked != 0 {
		t.Errorf("%d seeded entries hold a secret (%v)", leaked, err)
	}
	if n, err := ts.RecoverUnfinished(ctx); err != nil || n != 0 {
		t.Errorf("seeded log has %d unanswered requests (%v); every seeded request is answered", n, err)
	}
	// Seeding again with the clock behind the last entry keeps time order.
	ts.clock.Set(clockStart.Add(-time.Hour))
	if _, _, code := runCmd(t, ts, "seed", "--count", "50"); code != 0 {
		t.Fatalf("second seed: exit %d", code)
	}
	all := entries(t, ts)
	for i := 1; i < len(all); i++ {
		if all[i].CreatedAt.After(all[i-1].CreatedAt) {
			t.Fatalf("entry %d (%v) is later than entry %d (%v)", all[i].ID, all[i].CreatedAt, all[i-1].ID, all[i-1].CreatedAt)
		}
	}
	verifyOK(t, ts.Store)
	if _, _, code := runCmd(t, ts, "seed"); code != 2 {
		t.Errorf("seed without --count: exit %d, want 2", code)
	}
}
