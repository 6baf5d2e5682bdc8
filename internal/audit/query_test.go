package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

var (
	day1 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	day2 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	day3 = time.Date(2026, 3, 3, 10, 0, 0, 0, time.UTC)
)

// fixtureLog writes a small log with one entry of each interesting kind:
//
//	1,2  day1 alice STOP   gpu-node-01            success          corr c1
//	3,4  day2 bob   REBOOT train-b                api_error 6404   corr c2
//	5,6  day2 alice DELETE gpu-node-01 + infer-c  transport_error  corr c3
//	7    day3 carol signin.failure
//	8,9  day3 dave  STOP   infer-c                unknown          corr c4
func fixtureLog(t testing.TB) *testStore {
	t.Helper()
	return fixtureLogOn(t, storetest.DefaultEngine())
}

func fixtureLogOn(t testing.TB, engine store.Engine) *testStore {
	t.Helper()
	ts := newTestStoreOn(t, engine)
	ctx := context.Background()
	bob := audit.Actor{UserID: 8, Name: "bob", Role: "admin"}
	dave := audit.Actor{UserID: 9, Name: "dave", Role: "operator"}

	ts.clock.Set(day1)
	ts.exchange(t, metaFor("STOP", "c1", audit.Target{ID: srvA, Name: "gpu-node-01"}), stopCall(srvA), okResult("rid-1"))

	ts.clock.Set(day2)
	m := metaFor("REBOOT", "c2", audit.Target{ID: srvB, Name: "train-b"})
	m.Actor = bob
	ts.exchange(t, m, stopCall(srvB), &modelarts.CallResult{Status: 400, Header: http.Header{"X-Request-Id": {"rid-2"}},
		Body: []byte(`{"error_code":"ModelArts.6404","error_msg":"LiteServer instance '` + srvB + `' not found."}`)})
	ts.exchange(t, metaFor("DELETE", "c3", audit.Target{ID: srvA, Name: "gpu-node-01"}, audit.Target{ID: srvC, Name: "infer-c"}),
		stopCall(srvA, srvC), &modelarts.CallResult{Err: errors.New(`Post "https://x": context deadline exceeded`)})

	ts.clock.Set(day3)
	if err := ts.RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: "carol", ClientIP: "10.9.9.9"},
		map[string]string{"reason": "invalid username or password"}); err != nil {
		t.Fatal(err)
	}
	m = metaFor("STOP", "c4", audit.Target{ID: srvC, Name: "infer-c"})
	m.Actor = dave
	if _, err := ts.CallRecorder(m).BeforeSend(ctx, stopCall(srvC)); err != nil {
		t.Fatal(err)
	}
	if n, err := ts.RecoverUnfinished(ctx); err != nil || n != 1 {
		t.Fatalf("RecoverUnfinished = %d, %v", n, err)
	}
	assertCount(t, ts, 9)
	return ts
}

func ids(es []audit.Entry) []int64 {
	out := []int64{}
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestListFilters(t *testing.T) {
	ts := fixtureLog(t)
	tests := []struct {
		name   string
		filter audit.Filter
		want   []int64
	}{
		{"no filter, newest first", audit.Filter{}, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"actor, any case", audit.Filter{Actor: "ALICE"}, []int64{6, 5, 2, 1}},
		{"actor of a failed sign-in", audit.Filter{Actor: "carol"}, []int64{7}},
		{"actor unknown", audit.Filter{Actor: "mallory"}, []int64{}},
		{"action type", audit.Filter{Action: "REBOOT"}, []int64{4, 3}},
		{"security event type", audit.Filter{Action: "signin.failure"}, []int64{7}},
		{"server by id", audit.Filter{Server: srvA}, []int64{6, 5, 2, 1}},
		{"server by id in upper case", audit.Filter{Server: strings.ToUpper(srvC)}, []int64{9, 8, 6, 5}},
		{"server by name", audit.Filter{Server: "GPU-NODE-01"}, []int64{6, 5, 2, 1}},
		{"server by name only in a later batch", audit.Filter{Server: "infer-c"}, []int64{9, 8, 6, 5}},
		{"outcome success", audit.Filter{Outcome: "success"}, []int64{2}},
		{"outcome api_error", audit.Filter{Outcome: "api_error"}, []int64{4}},
		{"outcome transport_error", audit.Filter{Outcome: "transport_error"}, []int64{6}},
		{"outcome unknown", audit.Filter{Outcome: "unknown"}, []int64{9}},
		{"text: transport error message", audit.Filter{Text: "deadline exceeded"}, []int64{6}},
		{"text: API error code", audit.Filter{Text: "6404"}, []int64{4}},
		{"text: API error message", audit.Filter{Text: "NOT FOUND"}, []int64{4}},
		{"text: server name", audit.Filter{Text: "train-b"}, []int64{4, 3}},
		{"text: actor name", audit.Filter{Text: "carol"}, []int64{7}},
		{"text: sign-in failure reason", audit.Filter{Text: "invalid password"}, []int64{7}},
		{"text: X-Request-Id", audit.Filter{Text: "rid-1"}, []int64{2}},
		{"text: FTS syntax is taken literally", audit.Filter{Text: `train" OR NEAR(x`}, []int64{}},
		{"text: a NUL byte separates words instead of breaking the query", audit.Filter{Text: "train\x00b"}, []int64{4, 3}},
		{"text: control characters only do not filter", audit.Filter{Text: "\x00\x01\x7f"}, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"text: only punctuation does not filter", audit.Filter{Text: `" * -`}, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"correlation id", audit.Filter{Correlation: "c3"}, []int64{6, 5}},
		{"since a day", audit.Filter{Since: day2.Truncate(24 * time.Hour)}, []int64{9, 8, 7, 6, 5, 4, 3}},
		{"until a day (exclusive)", audit.Filter{Until: day2.Truncate(24 * time.Hour)}, []int64{2, 1}},
		{"one day", audit.Filter{Since: day2.Truncate(24 * time.Hour), Until: day3.Truncate(24 * time.Hour)}, []int64{6, 5, 4, 3}},
		{"since after the last entry", audit.Filter{Since: day3.Add(24 * time.Hour)}, []int64{}},
		{"until after the last entry", audit.Filter{Until: day3.Add(24 * time.Hour)}, []int64{9, 8, 7, 6, 5, 4, 3, 2, 1}},
		{"actor and outcome", audit.Filter{Actor: "alice", Outcome: "transport_error"}, []int64{6}},
		{"server and text", audit.Filter{Server: "gpu-node-01", Text: "deadline"}, []int64{6}},
		{"server and action and time", audit.Filter{Server: srvA, Action: "STOP", Since: day1, Until: day2}, []int64{2, 1}},
		{"text and actor", audit.Filter{Text: "infer-c", Actor: "dave"}, []int64{9, 8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := ts.List(context.Background(), tt.filter, 0, 50)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
			if next != 0 {
				t.Errorf("next = %d, want 0 (one page)", next)
			}
		})
	}
}

func TestListRejectsInvalidFilters(t *testing.T) {
	ts := newTestStore(t)
	tests := []struct {
		name   string
		filter audit.Filter
	}{
		{"unknown outcome", audit.Filter{Outcome: "maybe"}},
		{"empty time range", audit.Filter{Since: day2, Until: day1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ts.List(context.Background(), tt.filter, 0, 10); !errors.Is(err, audit.ErrInvalidFilter) {
				t.Fatalf("List error = %v, want ErrInvalidFilter", err)
			}
		})
	}
}

func TestListKeysetPagination(t *testing.T) {
	ts := newTestStore(t)
	for i := range 25 {
		if err := ts.RecordEvent(context.Background(), audit.EventSignInSuccess, alice, map[string]string{"n": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		filter   audit.Filter
		before   int64
		wantIDs  []int64
		wantNext int64
	}{
		{"first page", audit.Filter{}, 0, []int64{25, 24, 23, 22, 21, 20, 19, 18, 17, 16}, 16},
		{"second page", audit.Filter{}, 16, []int64{15, 14, 13, 12, 11, 10, 9, 8, 7, 6}, 6},
		{"last page", audit.Filter{}, 6, []int64{5, 4, 3, 2, 1}, 0},
		{"page through a filter", audit.Filter{Actor: "alice"}, 11, []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0},
		{"page through the text index", audit.Filter{Text: "alice"}, 20, []int64{19, 18, 17, 16, 15, 14, 13, 12, 11, 10}, 10},
		{"exactly one page left", audit.Filter{}, 11, []int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next, err := ts.List(context.Background(), tt.filter, tt.before, 10)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantIDs, ids(got)); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
			if next != tt.wantNext {
				t.Errorf("next = %d, want %d", next, tt.wantNext)
			}
		})
	}
}

// TestListQueryPlans checks that every single filter, and a deep page, is
// answered from an index range in id order: no full scan of the entries and
// no sort, which is what keeps pages fast at a million entries.
func TestListQueryPlans(t *testing.T) {
	ts := fixtureLogOn(t, store.SQLite) // SQLite's EXPLAIN QUERY PLAN
	tests := []struct {
		name      string
		filter    audit.Filter
		before    int64
		wantIndex string
	}{
		{"deep page", audit.Filter{}, 5, "SEARCH e USING INTEGER PRIMARY KEY"},
		{"actor", audit.Filter{Actor: "alice"}, 0, "USING INDEX audit_entries_actor"},
		{"action", audit.Filter{Action: "STOP"}, 0, "USING INDEX audit_entries_action"},
		{"outcome", audit.Filter{Outcome: "success"}, 0, "USING INDEX audit_entries_outcome"},
		{"correlation", audit.Filter{Correlation: "c1"}, 0, "USING INDEX audit_entries_correlation"},
		{"server", audit.Filter{Server: srvA}, 5, "SEARCH s USING PRIMARY KEY"},
		{"text", audit.Filter{Text: "alice"}, 5, "VIRTUAL TABLE INDEX"},
		{"text with filters", audit.Filter{Text: "alice", Outcome: "success", Server: srvA}, 0, "SCAN audit_search_v2 VIRTUAL TABLE INDEX"},
		{"time range", audit.Filter{Since: day2, Until: day3}, 0, "SEARCH e USING INTEGER PRIMARY KEY"},
		{"actor on a deep page", audit.Filter{Actor: "alice"}, 5, "USING INDEX audit_entries_actor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, args, err := ts.ListSQLForTest(context.Background(), tt.filter, tt.before)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := ts.db.Read.Query("EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			p := strings.Join(plan, "\n")
			if !strings.Contains(p, tt.wantIndex) {
				t.Errorf("plan does not use %q:\n%s", tt.wantIndex, p)
			}
			for _, bad := range []string{"TEMP B-TREE", "SCAN e\n", "SCAN s"} {
				if strings.Contains(p+"\n", bad) {
					t.Errorf("plan has %q:\n%s", strings.TrimSpace(bad), p)
				}
			}
		})
	}
}

func TestExportCSV(t *testing.T) {
	ts := fixtureLog(t)
	// Hostile text in a field that reaches the export.
	if err := ts.RecordEvent(context.Background(), audit.EventSignInFailure, audit.Actor{Name: "=HYPERLINK(\"x\")"}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		filter  audit.Filter
		wantIDs []string
	}{
		{"everything, oldest first", audit.Filter{}, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
		{"the current filter", audit.Filter{Actor: "alice"}, []string{"1", "2", "5", "6"}},
		{"server filter", audit.Filter{Server: "infer-c"}, []string{"5", "6", "8", "9"}},
		{"text filter", audit.Filter{Text: "6404"}, []string{"4"}},
		{"nothing matches", audit.Filter{Since: day3.Add(48 * time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := ts.ExportCSV(context.Background(), &buf, tt.filter); err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(&buf).ReadAll()
			if err != nil {
				t.Fatalf("export is not valid CSV: %v", err)
			}
			header := recs[0]
			if header[0] != "id" || header[len(header)-1] != "hash" || len(header) != 27 {
				t.Fatalf("header = %v", header)
			}
			var got []string
			for _, r := range recs[1:] {
				if len(r) != len(header) {
					t.Fatalf("row has %d cells, header %d", len(r), len(header))
				}
				got = append(got, r[0])
			}
			if diff := cmp.Diff(tt.wantIDs, got); diff != "" {
				t.Errorf("exported ids mismatch (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("columns of a response row", func(t *testing.T) {
		var buf bytes.Buffer
		if err := ts.ExportCSV(context.Background(), &buf, audit.Filter{Outcome: "api_error"}); err != nil {
			t.Fatal(err)
		}
		recs, _ := csv.NewReader(&buf).ReadAll()
		row := map[string]string{}
		for i, h := range recs[0] {
			row[h] = recs[1][i]
		}
		want := map[string]string{"id": "4", "kind": "response", "actor_name": "bob", "action": "REBOOT",
			"status": "400", "outcome": "api_error", "request_id": "rid-2", "ref_id": "3",
			"response_body": `{"error_code":"ModelArts.6404","error_msg":"LiteServer instance '` + srvB + `' not found."}`}
		for k, v := range want {
			if row[k] != v {
				t.Errorf("%s = %q, want %q", k, row[k], v)
			}
		}
	})
	t.Run("formula text is neutralised", func(t *testing.T) {
		var buf bytes.Buffer
		if err := ts.ExportCSV(context.Background(), &buf, audit.Filter{Action: "signin.failure"}); err != nil {
			t.Fatal(err)
		}
		recs, _ := csv.NewReader(&buf).ReadAll()
		if got := recs[2][4]; got != `'=HYPERLINK("x")` {
			t.Errorf("actor cell = %q, want it prefixed with an apostrophe", got)
		}
	})
}

func TestExportJSONL(t *testing.T) {
	ts := fixtureLog(t)
	var buf bytes.Buffer
	if err := ts.ExportJSONL(context.Background(), &buf, audit.Filter{Server: srvA}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	var got []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, m)
	}
	// The last line is the trailer: the count and the chain head covered.
	if len(got) == 0 || got[len(got)-1]["trailer"] != true || got[len(got)-1]["entries"] != float64(len(got)-1) {
		t.Fatalf("last line = %v; want the trailer counting %d entries", got[len(got)-1], len(got)-1)
	}
	got = got[:len(got)-1]
	var gotIDs []float64
	for _, m := range got {
		gotIDs = append(gotIDs, m["id"].(float64))
	}
	if diff := cmp.Diff([]float64{1, 2, 5, 6}, gotIDs); diff != "" {
		t.Fatalf("ids mismatch (-want +got):\n%s", diff)
	}
	// Full entry round trip against Get for the first line.
	e, err := ts.Get(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	first := got[0]
	if first["request_body"] != string(e.RequestBody) || first["hash"] != e.Hash || first["prev_hash"] != e.PrevHash ||
		first["actor_name"] != "alice" || first["kind"] != "request" {
		t.Errorf("first line = %v; want entry %+v", first, e)
	}
	targets := first["targets"].([]any)
	if len(targets) != 1 || targets[0].(map[string]any)["name"] != "gpu-node-01" {
		t.Errorf("targets = %v", targets)
	}
	if h := first["request_headers"].(map[string]any)["Authorization"].([]any)[0]; h != audit.Redacted {
		t.Errorf("Authorization exported as %v", h)
	}
}

func TestExportStopsWhenContextEnds(t *testing.T) {
	ts := fixtureLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ts.ExportJSONL(ctx, &bytes.Buffer{}, audit.Filter{}); err == nil {
		t.Error("export with a cancelled context succeeded")
	}
}

func TestParseTimeBound(t *testing.T) {
	tests := []struct {
		in      string
		end     bool
		want    time.Time
		wantErr bool
	}{
		{in: "", want: time.Time{}},
		{in: "2026-03-02", want: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)},
		{in: "2026-03-02", end: true, want: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)},
		{in: "2026-03-02T15:04", want: time.Date(2026, 3, 2, 15, 4, 0, 0, time.UTC)},
		{in: "2026-03-02T15:04:05", end: true, want: time.Date(2026, 3, 2, 15, 4, 5, 0, time.UTC)},
		{in: "2026-03-02T15:04:05+02:00", want: time.Date(2026, 3, 2, 13, 4, 5, 0, time.UTC)},
		{in: "yesterday", wantErr: true},
		{in: "2026-13-40", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q end=%v", tt.in, tt.end), func(t *testing.T) {
			got, err := audit.ParseTimeBound(tt.in, tt.end)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if !got.Equal(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEntryHelpers(t *testing.T) {
	e := audit.Entry{
		RequestBody:    []byte(`{"type":"STOP","servers":[{"id":"a"}]}`),
		ResponseBody:   []byte(`not json <b>`),
		Targets:        []audit.Target{{ID: "a", Name: "n"}, {ID: "b"}},
		RequestHeaders: http.Header{"B": {"2"}, "A": {"1", "3"}},
	}
	want := "{\n  \"type\": \"STOP\",\n  \"servers\": [\n    {\n      \"id\": \"a\"\n    }\n  ]\n}"
	if got := e.PrettyRequestBody(); got != want {
		t.Errorf("PrettyRequestBody = %q, want %q", got, want)
	}
	if got := e.PrettyResponseBody(); got != "not json <b>" {
		t.Errorf("PrettyResponseBody = %q", got)
	}
	if diff := cmp.Diff([]string{"a", "b"}, e.TargetIDs()); diff != "" {
		t.Errorf("TargetIDs mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"A: 1", "A: 3", "B: 2"}, audit.HeaderLines(e.RequestHeaders)); diff != "" {
		t.Errorf("HeaderLines mismatch (-want +got):\n%s", diff)
	}
}
