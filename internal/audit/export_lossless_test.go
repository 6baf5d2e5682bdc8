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
)

// TestExportJSONLIsLosslessForInvalidUTF8: a user name that is not valid
// UTF-8 (anyone can try to sign in with one) comes back byte for byte from
// raw_base64, and the line itself stays valid UTF-8 JSON.
func TestExportJSONLIsLosslessForInvalidUTF8(t *testing.T) {
	ts := newTestStore(t)
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
