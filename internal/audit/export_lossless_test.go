package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

// TestExportJSONLIsLosslessForInvalidUTF8: a user name that is not valid
// UTF-8 (anyone can try to sign in with one) comes back byte for byte from
// raw_base64, and the line itself stays valid UTF-8 JSON.
//
// On SQLite only: PostgreSQL's text holds UTF-8 alone, so there the bytes
// that are not become U+FFFD before the entry is hashed
// (TestInvalidUTF8IsRecordedOnPostgres).
func TestExportJSONLIsLosslessForInvalidUTF8(t *testing.T) {
	ts := newTestStoreOn(t, store.SQLite)
	ctx := context.Background()
	name := "adm\xffin\xc3"
	agent := "curl/8\x80"
	if err := ts.RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: name, UserAgent: agent, ClientIP: "192.0.2.9"}, nil); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := ts.ExportJSONL(ctx, &buf, audit.Filter{}); err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(buf.Bytes()) {
		t.Fatalf("export is not valid UTF-8: %q", buf.String())
	}
	var rec struct {
		ActorName string            `json:"actor_name"`
		ClientIP  string            `json:"client_ip"`
		RawBase64 map[string]string `json:"raw_base64"`
	}
	line, _, _ := bytes.Cut(buf.Bytes(), []byte("\n"))
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("line is not JSON: %v: %s", err, buf.String())
	}
	for field, want := range map[string]string{"actor_name": name, "user_agent": agent} {
		got, err := base64.StdEncoding.DecodeString(rec.RawBase64[field])
		if err != nil || string(got) != want {
			t.Errorf("raw_base64[%s] = %q (%v); want the exact bytes %q", field, got, err, want)
		}
	}
	if _, ok := rec.RawBase64["client_ip"]; ok || rec.ClientIP != "192.0.2.9" {
		t.Errorf("a valid field was moved to raw_base64: %+v", rec)
	}
	if rec.ActorName != "adm\uFFFDin\uFFFD" {
		t.Errorf("actor_name = %q; want the readable form with U+FFFD", rec.ActorName)
	}
}

// TestExportCSVNeutralisesFormulasAfterSemicolons: in locales where ';'
// separates cells, text after it must not start a formula either.
func TestExportCSVNeutralisesFormulasAfterSemicolons(t *testing.T) {
	ts := newTestStore(t)
	ctx := context.Background()
	for _, name := range []string{"=1+1", "kim;=HYPERLINK(\"http://x\")", "a; +cmd|' /C calc'!A0", "plain;text", "x;-2;@SUM(A1)"} {
		if err := ts.RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: name}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := ts.ExportCSV(ctx, &buf, audit.Filter{}); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs[1:] {
		got = append(got, r[4])
	}
	want := []string{"'=1+1", "kim;'=HYPERLINK(\"http://x\")", "a;' +cmd|' /C calc'!A0", "plain;text", "x;'-2;'@SUM(A1)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("actor_name cells = %q; want %q", got, want)
	}
}

// TestInvalidUTF8IsRecordedOnPostgres: on PostgreSQL a sign-in failure with
// a name that is not UTF-8 is still recorded (its bad bytes as U+FFFD), and
// the chain verifies.
func TestInvalidUTF8IsRecordedOnPostgres(t *testing.T) {
	ts := newTestStoreOn(t, store.Postgres)
	ctx := context.Background()
	if err := ts.RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: "adm\xffin", UserAgent: "curl/8\x80", ClientIP: "192.0.2.9"}, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := ts.List(ctx, audit.Filter{Actor: "adm\uFFFDin"}, 0, 10)
	if err != nil || len(got) != 1 || got[0].Actor.UserAgent != "curl/8\uFFFD" {
		t.Fatalf("entries = %+v, %v; want the failure with U+FFFD for the bad bytes", got, err)
	}
	verifyOK(t, ts.Store)
}
