package web_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/testutil"
	"github.com/devserver-console/console/internal/views"
)

const (
	auditSrvA = "aaaaaaaa-1111-4222-8333-444444444444"
	auditSrvB = "bbbbbbbb-1111-4222-8333-444444444444"
	// auditAdminPass is sent in a REINSTALLOS call and must never be shown.
	auditAdminPass = "Zx9!NeverShowThisPass"
	// auditHostile is markup that must be shown as text.
	auditHostile = `<script>alert("pwn")</script><img src=x onerror=alert(1)>`
)

// auditCall records one call through the audit Recorder, as the ModelArts
// client does, and returns the request entry's id.
func auditCall(t *testing.T, s *audit.Store, actor string, action modelarts.BatchType, corr string, targets []audit.Target,
	body string, res *modelarts.CallResult) int64 {
	t.Helper()
	ctx := context.Background()
	rec := s.CallRecorder(audit.CallMeta{
		Actor:         audit.Actor{UserID: 42, Name: actor, Role: "operator", ClientIP: "10.1.2.3", UserAgent: "test-agent"},
		CorrelationID: corr, Action: string(action), Targets: targets,
	})
	call := &modelarts.OutgoingCall{
		Method: http.MethodPost,
		URL:    "https://modelarts.cn-north-4.myhuaweicloud.com/v1/0123456789abcdef0123456789abcdef/dev-servers/action",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Auth-Token": {"token-never-shown"}},
		Body:   []byte(body),
	}
	ref, err := rec.BeforeSend(ctx, call)
	if err != nil {
		t.Fatalf("BeforeSend: %v", err)
	}
	if res != nil {
		if err := rec.AfterSend(ctx, ref, call, res); err != nil {
			t.Fatalf("AfterSend: %v", err)
		}
	}
	return ref
}

// auditFixture fills the console's audit log with calls of every outcome:
//
//	erin  REINSTALLOS gpu-a (admin_pass)  success     corr batch-1
//	erin  STOP        gpu-a, hostile name api_error   corr batch-2
//	frank REBOOT      gpu-b               transport   corr batch-3
//	frank DELETE      gpu-b               in flight   corr batch-4
type auditFixture struct {
	reinstall, stop, reboot, inflight int64
}

func newAuditFixture(t *testing.T, env *apptest.Env) auditFixture {
	t.Helper()
	s := env.App.Audit()
	var f auditFixture
	f.reinstall = auditCall(t, s, "erin", modelarts.BatchReinstallOS, "batch-1", []audit.Target{{ID: auditSrvA, Name: "gpu-a"}},
		`{"type":"REINSTALLOS","servers":[{"id":"`+auditSrvA+`"}],"extend_param":{"admin_pass":"`+auditAdminPass+`","image_id":"img-1"}}`,
		&modelarts.CallResult{Status: 200, Header: http.Header{"X-Request-Id": {"req-ok-1"}},
			Body:     []byte(`{"current":1,"data":[{"id":"` + auditSrvA + `","name":"gpu-a","status":"REINSTALLINGOS"}],"pages":1,"size":1,"total":1}`),
			Duration: 250 * time.Millisecond})
	f.stop = auditCall(t, s, "erin", modelarts.BatchStop, "batch-2", []audit.Target{{ID: auditSrvA, Name: "gpu-a"}, {ID: auditSrvB, Name: auditHostile}},
		`{"type":"STOP","servers":[{"id":"`+auditSrvA+`"},{"id":"`+auditSrvB+`"}]}`,
		&modelarts.CallResult{Status: 400, Header: http.Header{"X-Request-Id": {"req-err-2"}},
			Body: []byte(`{"error_code":"ModelArts.6404","error_msg":"LiteServer instance '` + auditSrvB + `' not found."}`)})
	f.reboot = auditCall(t, s, "frank", modelarts.BatchReboot, "batch-3", []audit.Target{{ID: auditSrvB, Name: "gpu-b"}},
		`{"type":"REBOOT","servers":[{"id":"`+auditSrvB+`"}]}`,
		&modelarts.CallResult{Err: errors.New("read tcp: connection reset by peer")})
	f.inflight = auditCall(t, s, "frank", modelarts.BatchDelete, "batch-4", []audit.Target{{ID: auditSrvB, Name: "gpu-b"}},
		`{"type":"DELETE","servers":[{"id":"`+auditSrvB+`"}]}`, nil)
	return f
}

// anonymousWithToken is a signed-out client holding the sign-in page's
// CSRF token, so its POSTs are refused for being signed out, not for CSRF.
func anonymousWithToken(t *testing.T, env *apptest.Env) *apptest.Client {
	t.Helper()
	c := env.Anonymous(t)
	c.Get(t, "/signin")
	return c
}

// auditRowIDs returns the entry ids of the audit table, in order.
func auditRowIDs(doc *goquery.Document) []int64 {
	out := []int64{}
	doc.Find("table.audit-log tbody tr[data-entry-id]").Each(func(_ int, s *goquery.Selection) {
		var id int64
		fmt.Sscan(s.AttrOr("data-entry-id", ""), &id)
		out = append(out, id)
	})
	return out
}

func TestAuditRoles(t *testing.T) {
	env := apptest.New(t)
	fx := newAuditFixture(t, env)
	clients := map[string]*apptest.Client{
		"signed-out": anonymousWithToken(t, env),
		"viewer":     env.As(t, auth.RoleViewer),
		"operator":   env.As(t, auth.RoleOperator),
		"approver":   env.As(t, auth.RoleApprover),
		"admin":      env.As(t, auth.RoleAdmin),
	}
	paths := []string{"/audit", fmt.Sprintf("/audit/%d", fx.reinstall), "/audit/export.csv", "/audit/export.jsonl"}
	tests := []struct {
		caller string
		want   int
	}{
		{"signed-out", http.StatusSeeOther},
		{"viewer", http.StatusForbidden},
		{"operator", http.StatusForbidden},
		{"approver", http.StatusOK},
		{"admin", http.StatusOK},
	}
	for _, tt := range tests {
		for _, p := range paths {
			t.Run(tt.caller+" GET "+p, func(t *testing.T) {
				r := clients[tt.caller].Get(t, p)
				if r.Status != tt.want {
					t.Fatalf("status %d, want %d", r.Status, tt.want)
				}
				if tt.want == http.StatusForbidden && strings.Contains(r.Body, auditAdminPass) {
					t.Fatal("a refused page still showed audit content")
				}
			})
		}
		t.Run(tt.caller+" POST /audit/verify", func(t *testing.T) {
			want := tt.want
			switch want {
			case http.StatusOK:
				want = http.StatusSeeOther
			case http.StatusSeeOther:
				want = http.StatusUnauthorized
			}
			if r := clients[tt.caller].PostForm(t, "/audit/verify", nil); r.Status != want {
				t.Fatalf("status %d, want %d", r.Status, want)
			}
		})
	}
	// Each refusal of a signed-in user was recorded.
	denied, _, err := env.App.Audit().List(context.Background(), audit.Filter{Action: string(audit.EventAccessDenied)}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range denied {
		if strings.HasPrefix(e.Detail["path"], "/audit") && e.Detail["permission"] == string(auth.PermViewAudit) {
			n++
		}
	}
	if want := 2 * (len(paths) + 1); n != want {
		t.Errorf("%d access.denied entries for /audit, want %d (viewer and operator, every route)", n, want)
	}
}

func TestAuditListFilters(t *testing.T) {
	env := apptest.New(t)
	fx := newAuditFixture(t, env)
	c := env.As(t, auth.RoleApprover)
	resp := func(req int64) int64 { return req + 1 } // responses follow their requests here
	tests := []struct {
		name  string
		query url.Values
		want  []int64
	}{
		{"actor", url.Values{"actor": {"frank"}}, []int64{fx.inflight, resp(fx.reboot), fx.reboot}},
		{"action type", url.Values{"action": {"REINSTALLOS"}}, []int64{resp(fx.reinstall), fx.reinstall}},
		{"server id", url.Values{"server": {auditSrvA}}, []int64{resp(fx.stop), fx.stop, resp(fx.reinstall), fx.reinstall}},
		{"server name", url.Values{"server": {"gpu-b"}}, []int64{fx.inflight, resp(fx.reboot), fx.reboot}},
		{"outcome success", url.Values{"outcome": {"success"}, "actor": {"erin"}}, []int64{resp(fx.reinstall)}},
		{"outcome API error", url.Values{"outcome": {"api_error"}}, []int64{resp(fx.stop)}},
		{"outcome transport error", url.Values{"outcome": {"transport_error"}}, []int64{resp(fx.reboot)}},
		{"free text in an error message", url.Values{"text": {"connection reset"}}, []int64{resp(fx.reboot)}},
		{"free text error code", url.Values{"text": {"ModelArts.6404"}}, []int64{resp(fx.stop)}},
		{"correlation id", url.Values{"correlation": {"batch-2"}}, []int64{resp(fx.stop), fx.stop}},
		{"time range in the future", url.Values{"since": {time.Now().UTC().Add(48 * time.Hour).Format("2006-01-02T15:04")}}, []int64{}},
		{"time range around now", url.Values{"since": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")},
			"until": {time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")}, "actor": {"erin"}},
			[]int64{resp(fx.stop), fx.stop, resp(fx.reinstall), fx.reinstall}},
		{"several filters", url.Values{"actor": {"erin"}, "server": {"gpu-a"}, "action": {"STOP"}}, []int64{resp(fx.stop), fx.stop}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Get(t, "/audit?"+tt.query.Encode())
			mustStatus(t, r, http.StatusOK)
			doc := r.Doc(t)
			if diff := gocmp.Diff(tt.want, auditRowIDs(doc)); diff != "" {
				t.Errorf("rows mismatch (-want +got):\n%s", diff)
			}
			// The form shows the filter that produced the page.
			for k, v := range tt.query {
				sel := doc.Find(fmt.Sprintf(`form[role=search] [name=%q]`, k))
				got := sel.AttrOr("value", "")
				if goquery.NodeName(sel) == "select" {
					got = sel.Find("option[selected]").AttrOr("value", "")
				}
				if got != v[0] {
					t.Errorf("field %s shows %q, want %q", k, got, v[0])
				}
			}
			// Export links carry the same filter.
			href := doc.Find(`a[href^="/audit/export.csv"]`).AttrOr("href", "")
			u, _ := url.Parse(href)
			if gocmp.Diff(tt.query, u.Query()) != "" {
				t.Errorf("CSV export link %q does not carry the filter %v", href, tt.query)
			}
		})
	}
}

func TestAuditListInvalidFilter(t *testing.T) {
	env := apptest.New(t)
	c := env.As(t, auth.RoleApprover)
	tests := []struct {
		name    string
		query   string
		field   string
		message string
	}{
		{"bad date", "since=last+tuesday", "since", "Enter a date"},
		{"bad outcome", "outcome=maybe", "outcome", "Choose one"},
		{"empty range", "since=2026-03-02&until=2026-03-01", "until", "after its start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Get(t, "/audit?"+tt.query)
			mustStatus(t, r, http.StatusUnprocessableEntity)
			doc := r.Doc(t)
			field := doc.Find(fmt.Sprintf(`[name=%q]`, tt.field))
			if field.AttrOr("aria-invalid", "") != "true" {
				t.Errorf("field %s not marked invalid", tt.field)
			}
			msg := doc.Find("#" + field.AttrOr("aria-describedby", "none")).Text()
			if !strings.Contains(msg, tt.message) {
				t.Errorf("message next to %s = %q, want it to contain %q", tt.field, msg, tt.message)
			}
			if n := len(auditRowIDs(doc)); n != 0 {
				t.Errorf("%d rows shown for an unusable filter", n)
			}
		})
	}
	t.Run("bad page cursor", func(t *testing.T) {
		mustStatus(t, c.Get(t, "/audit?before=abc"), http.StatusBadRequest)
	})
	t.Run("bad export filter", func(t *testing.T) {
		mustStatus(t, c.Get(t, "/audit/export.csv?outcome=maybe"), http.StatusBadRequest)
	})
}

// TestAuditHostileFreeText: free text that FTS5 cannot parse as given (a
// NUL byte ends its quoted phrases) is searched as words, in the list and
// in both exports, never answered with a 500 or an empty download.
func TestAuditHostileFreeText(t *testing.T) {
	env := apptest.New(t)
	fx := newAuditFixture(t, env)
	c := env.As(t, auth.RoleApprover)
	const text = "connection\x00reset"
	want := fmt.Sprint(fx.reboot + 1) // the transport error's response entry
	tests := []struct {
		name string
		path string
		ids  func(t *testing.T, r *apptest.Response) []string
	}{
		{"list", "/audit", func(t *testing.T, r *apptest.Response) []string {
			var out []string
			for _, id := range auditRowIDs(r.Doc(t)) {
				out = append(out, fmt.Sprint(id))
			}
			return out
		}},
		{"csv export", "/audit/export.csv", func(t *testing.T, r *apptest.Response) []string {
			recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
			if err != nil || len(recs) == 0 {
				t.Fatalf("CSV: %v (%d records)", err, len(recs))
			}
			var out []string
			for _, rec := range recs[1:] {
				out = append(out, rec[0])
			}
			return out
		}},
		{"jsonl export", "/audit/export.jsonl", func(t *testing.T, r *apptest.Response) []string {
			var out []string
			for _, line := range strings.Split(strings.TrimSpace(r.Body), "\n") {
				var m struct {
					ID      int64
					Trailer bool
				}
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("line %q: %v", line, err)
				}
				if !m.Trailer {
					out = append(out, fmt.Sprint(m.ID))
				}
			}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Get(t, tt.path+"?"+url.Values{"text": {text}}.Encode())
			mustStatus(t, r, http.StatusOK)
			if diff := gocmp.Diff([]string{want}, tt.ids(t, r)); diff != "" {
				t.Errorf("entries mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if logs := env.Logs.String(); strings.Contains(logs, "level=ERROR") {
		t.Errorf("hostile free text logged an error:\n%s", logs)
	}
}

func TestAuditPagination(t *testing.T) {
	env := apptest.New(t)
	s := env.App.Audit()
	for i := range 120 {
		if err := s.RecordEvent(context.Background(), audit.EventSignInFailure, audit.Actor{Name: "guesser"},
			map[string]string{"attempt": fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	c := env.As(t, auth.RoleApprover)
	var seen []int64
	path := "/audit?actor=guesser"
	for page := 0; path != ""; page++ {
		if page > 5 {
			t.Fatal("pagination does not end")
		}
		r := c.Get(t, path)
		mustStatus(t, r, http.StatusOK)
		doc := r.Doc(t)
		seen = append(seen, auditRowIDs(doc)...)
		path = doc.Find(`nav.pagination a[rel=next]`).AttrOr("href", "")
		if path != "" {
			u, _ := url.Parse(path)
			if u.Query().Get("actor") != "guesser" || u.Query().Get("before") == "" {
				t.Fatalf("Older link %q loses the filter or the cursor", path)
			}
		}
	}
	if len(seen) != 120 {
		t.Fatalf("paged through %d entries, want 120", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("entries not strictly newest first at %d: %d then %d", i, seen[i-1], seen[i])
		}
	}
}

func TestAuditEntryPage(t *testing.T) {
	env := apptest.New(t)
	fx := newAuditFixture(t, env)
	c := env.As(t, auth.RoleApprover)

	t.Run("request and response side by side", func(t *testing.T) {
		for _, id := range []int64{fx.reinstall, fx.reinstall + 1} { // from either entry
			r := c.Get(t, fmt.Sprintf("/audit/%d", id))
			mustStatus(t, r, http.StatusOK)
			doc := r.Doc(t)
			req := doc.Find(`[data-testid=audit-request]`)
			res := doc.Find(`[data-testid=audit-response]`)
			if req.Length() != 1 || res.Length() != 1 || req.Parent().Get(0) != res.Parent().Get(0) {
				t.Fatal("request and response are not side by side in one container")
			}
			body := req.Find("pre code").Last().Text()
			if !strings.Contains(body, "\n  \"type\": \"REINSTALLOS\",\n") || !strings.Contains(body, `"admin_pass": "[REDACTED]"`) {
				t.Errorf("request body not pretty-printed with admin_pass redacted:\n%s", body)
			}
			if !strings.Contains(res.Text(), "req-ok-1") || !strings.Contains(res.Find("pre code").Last().Text(), "\"status\": \"REINSTALLINGOS\"") {
				t.Errorf("response side lacks the request id or pretty body:\n%s", res.Text())
			}
			if strings.Contains(r.Body, auditAdminPass) || strings.Contains(r.Body, "token-never-shown") {
				t.Fatal("a secret reached the page")
			}
			if doc.Find(`a[href="/audit?correlation=batch-1"]`).Length() != 1 {
				t.Error("no link to the batch's entries (correlation id)")
			}
			if doc.Find(`a[href="/audit?server=`+auditSrvA+`"]`).Length() != 1 {
				t.Error("no link to the server's history")
			}
		}
	})
	t.Run("API error", func(t *testing.T) {
		r := c.Get(t, fmt.Sprintf("/audit/%d", fx.stop))
		mustStatus(t, r, http.StatusOK)
		res := r.Doc(t).Find(`[data-testid=audit-response]`).Text()
		for _, want := range []string{"API error", "400 Bad Request", "ModelArts.6404", "req-err-2"} {
			if !strings.Contains(res, want) {
				t.Errorf("response side lacks %q", want)
			}
		}
	})
	t.Run("in flight, then outcome unknown after a restart", func(t *testing.T) {
		r := c.Get(t, fmt.Sprintf("/audit/%d", fx.inflight))
		mustStatus(t, r, http.StatusOK)
		if !strings.Contains(r.Doc(t).Find(`[data-testid=audit-response]`).Text(), "still in flight") {
			t.Error("an unanswered request is not shown as in flight")
		}
		if n, err := env.App.Audit().RecoverUnfinished(context.Background()); err != nil || n != 1 {
			t.Fatalf("RecoverUnfinished = %d, %v", n, err)
		}
		r = c.Get(t, fmt.Sprintf("/audit/%d", fx.inflight))
		if !strings.Contains(r.Doc(t).Find(`[data-testid=audit-response]`).Text(), "Outcome unknown") {
			t.Error("the recovered request is not shown as outcome unknown")
		}
		ids := auditRowIDs(c.Get(t, "/audit?outcome=unknown").Doc(t))
		if len(ids) != 1 {
			t.Fatalf("outcome=unknown lists %v, want exactly the recovery entry", ids)
		}
		if e, err := env.App.Audit().Get(context.Background(), ids[0]); err != nil || e.RefID != fx.inflight {
			t.Errorf("outcome=unknown row is %+v, %v; want the answer to %d", e, err, fx.inflight)
		}
	})
	t.Run("security event", func(t *testing.T) {
		if err := env.App.Audit().RecordEvent(context.Background(), audit.EventAccessDenied,
			audit.Actor{Name: "viewer9", Role: "viewer"}, map[string]string{"path": "/batches", "method": "POST"}); err != nil {
			t.Fatal(err)
		}
		doc := c.Get(t, "/audit?actor=viewer9").Doc(t)
		ids := auditRowIDs(doc)
		if len(ids) != 1 {
			t.Fatalf("rows %v", ids)
		}
		r := c.Get(t, fmt.Sprintf("/audit/%d", ids[0]))
		mustStatus(t, r, http.StatusOK)
		d := r.Doc(t)
		if !strings.Contains(d.Find("h1").Text(), "Access denied") || !strings.Contains(d.Find("dl").Text(), "/batches") {
			t.Errorf("event page: %q / %q", d.Find("h1").Text(), d.Find("dl").Text())
		}
	})
	t.Run("not found", func(t *testing.T) {
		mustStatus(t, c.Get(t, "/audit/99999"), http.StatusNotFound)
		mustStatus(t, c.Get(t, "/audit/abc"), http.StatusNotFound)
	})
}

func TestAuditExport(t *testing.T) {
	env := apptest.New(t)
	fx := newAuditFixture(t, env)
	c := env.As(t, auth.RoleApprover)
	t.Run("csv of the current filter", func(t *testing.T) {
		r := c.Get(t, "/audit/export.csv?actor=erin")
		mustStatus(t, r, http.StatusOK)
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := r.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="audit-`) || !strings.HasSuffix(cd, `-4-entries.csv"`) {
			t.Errorf("Content-Disposition %q; want the file named with its 4 entries", cd)
		}
		if n := r.Header.Get("X-Audit-Entries"); n != "4" {
			t.Errorf("X-Audit-Entries = %q, want 4", n)
		}
		recs, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rec := range recs[1:] {
			got = append(got, rec[0])
		}
		want := []string{fmt.Sprint(fx.reinstall), fmt.Sprint(fx.reinstall + 1), fmt.Sprint(fx.stop), fmt.Sprint(fx.stop + 1)}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("exported ids mismatch (-want +got):\n%s", diff)
		}
		if strings.Contains(r.Body, auditAdminPass) || !strings.Contains(r.Body, "[REDACTED]") {
			t.Error("the export holds the admin password, or no redaction marker")
		}
	})
	t.Run("jsonl of the current filter", func(t *testing.T) {
		r := c.Get(t, "/audit/export.jsonl?outcome=api_error")
		mustStatus(t, r, http.StatusOK)
		if cd := r.Header.Get("Content-Disposition"); !strings.HasSuffix(cd, `.jsonl"`) {
			t.Errorf("Content-Disposition %q", cd)
		}
		lines := strings.Split(strings.TrimSpace(r.Body), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[1], `{"trailer":true,"entries":1,`) {
			t.Fatalf("lines %q; want one entry and the trailer", lines)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
			t.Fatal(err)
		}
		if m["request_id"] != "req-err-2" || m["outcome"] != "api_error" {
			t.Errorf("line = %v", m)
		}
	})
}

func TestAuditVerify(t *testing.T) {
	env := apptest.New(t, apptest.OnSQLite(t)) // tampers with the file
	fx := newAuditFixture(t, env)
	c := env.As(t, auth.RoleApprover)
	status := func() *goquery.Selection {
		return c.Get(t, "/audit").Doc(t).Find(`[data-testid=chain-status]`)
	}
	// The console verifies the chain once at start, in the background.
	testutil.Eventually(t, 10*time.Second, "the start-up verification finishes", func() error {
		if running, _ := env.App.Audit().Verifying(); running {
			return errors.New("still verifying")
		}
		return nil
	})
	before, err := env.App.Audit().LastVerification(context.Background())
	if err != nil || before == nil || !before.OK {
		t.Fatalf("start-up verification = %+v, %v; want an intact chain", before, err)
	}
	t.Run("without a CSRF token nothing runs", func(t *testing.T) {
		mustStatus(t, c.PostForm(t, "/audit/verify", url.Values{"_csrf": {""}}), http.StatusForbidden)
		if last, _ := env.App.Audit().LastVerification(context.Background()); last == nil || !last.At.Equal(before.At) {
			t.Fatalf("a verification ran: %+v (before: %+v)", last, before)
		}
	})
	t.Run("intact", func(t *testing.T) {
		r := c.PostForm(t, "/audit/verify?actor=erin", nil)
		mustStatus(t, r, http.StatusSeeOther)
		if loc := r.Header.Get("Location"); loc != "/audit?actor=erin" {
			t.Errorf("redirect to %q, want back to the filtered page", loc)
		}
		if got := strings.Join(strings.Fields(status().Text()), " "); !strings.Contains(got, "Chain verified") {
			t.Errorf("chain status %q", got)
		}
	})
	t.Run("tampered", func(t *testing.T) {
		db, err := sql.Open("sqlite", "file:"+env.Config.DBPath+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range []string{`DROP TRIGGER audit_entries_no_update`,
			fmt.Sprintf(`UPDATE audit_entries SET actor_name = 'someone-else' WHERE id = %d`, fx.stop)} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		mustStatus(t, c.PostForm(t, "/audit/verify", nil), http.StatusSeeOther)
		st := status()
		if st.AttrOr("role", "") != "alert" || !strings.Contains(st.Text(), "Chain broken") {
			t.Errorf("chain status %q (role %q)", st.Text(), st.AttrOr("role", ""))
		}
		if st.Find(fmt.Sprintf(`a[href="/audit/%d"]`, fx.stop)).Length() != 1 {
			t.Error("the broken entry is not linked")
		}
	})
}

func TestAuditPageAccessibleAndEscaped(t *testing.T) {
	env := apptest.New(t)
	newAuditFixture(t, env)
	if err := env.App.Audit().RecordEvent(context.Background(), audit.EventSignInFailure, audit.Actor{Name: auditHostile}, nil); err != nil {
		t.Fatal(err)
	}
	c := env.As(t, auth.RoleAdmin)
	for _, path := range []string{"/audit", "/audit/2", "/audit?server=" + url.QueryEscape(auditHostile), "/audit?text=" + url.QueryEscape(auditHostile)} {
		t.Run(path, func(t *testing.T) {
			r := c.Get(t, path)
			mustStatus(t, r, http.StatusOK)
			if strings.Contains(r.Body, auditHostile) || strings.Contains(r.Body, "<img src=x") {
				t.Fatal("auditHostile text reached the page unescaped")
			}
			doc := r.Doc(t)
			doc.Find("script").Each(func(_ int, s *goquery.Selection) {
				if _, ok := s.Attr("src"); !ok {
					t.Errorf("inline script on the page: %q", s.Text())
				}
			})
			if doc.Find("[onerror], [onclick], [onload]").Length() > 0 {
				t.Error("inline event handler on the page")
			}
			if strings.Contains(r.Body, auditAdminPass) {
				t.Error("admin_pass value on the page")
			}
		})
	}
	doc := c.Get(t, "/audit").Doc(t)
	t.Run("auditHostile names shown as text", func(t *testing.T) {
		if !strings.Contains(doc.Find("table.audit-log").Text(), auditHostile) {
			t.Error("the auditHostile name is not shown as text")
		}
	})
	t.Run("every control is labelled", func(t *testing.T) {
		doc.Find("form[role=search] input, form[role=search] select").Each(func(_ int, s *goquery.Selection) {
			id := s.AttrOr("id", "")
			if id == "" || doc.Find(fmt.Sprintf(`label[for=%q]`, id)).Length() != 1 {
				t.Errorf("control %s has no label", s.AttrOr("name", "?"))
			}
		})
		for _, label := range []string{"Actor", "Action type", "Server id or name", "Outcome", "From (UTC)", "Until (UTC)", "Text"} {
			found := false
			doc.Find("form[role=search] label").Each(func(_ int, s *goquery.Selection) {
				if strings.HasPrefix(strings.TrimSpace(s.Text()), label) {
					found = true
				}
			})
			if !found {
				t.Errorf("no field labelled %q", label)
			}
		}
		if m := doc.Find("form[role=search]").AttrOr("method", ""); m != "get" {
			t.Errorf("filter form method %q, want get", m)
		}
	})
	t.Run("table headers", func(t *testing.T) {
		var heads []string
		doc.Find("table.audit-log thead th").Each(func(_ int, s *goquery.Selection) {
			if s.AttrOr("scope", "") != "col" {
				t.Errorf("header %q lacks scope=col", s.Text())
			}
			heads = append(heads, s.Text())
		})
		want := []string{"Entry", "Time (UTC)", "Kind", "Actor", "Action", "Servers", "Outcome", "Details"}
		if diff := gocmp.Diff(want, heads); diff != "" {
			t.Errorf("headers mismatch (-want +got):\n%s", diff)
		}
		if doc.Find("table.audit-log caption").Length() != 1 {
			t.Error("table has no caption")
		}
	})
}

// TestAuditComponents renders the views directly.
func TestAuditComponents(t *testing.T) {
	entry := audit.Entry{ID: 7, Kind: audit.KindResponse, Action: "STOP", Outcome: audit.OutcomeAPIError, Status: 400,
		Actor: audit.Actor{Name: "<b>eve</b>", Role: "operator"}, CreatedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC),
		Targets:      []audit.Target{{ID: auditSrvA, Name: `"><svg onload=alert(1)>`}},
		ResponseBody: []byte(`{"error_code":"ModelArts.7000","error_msg":"<i>nope</i>"}`), RequestID: "rid-7"}
	tests := []struct {
		name      string
		view      views.AuditListView
		wantRows  int
		wantText  []string
		wantNext  bool
		wantClear bool
	}{
		{name: "one row", view: views.AuditListView{Entries: []audit.Entry{entry}}, wantRows: 1,
			wantText: []string{"<b>eve</b>", `"><svg onload=alert(1)>`, "API error", "ModelArts.7000 <i>nope</i>", "2026-03-01 09:00:00.000 UTC"}},
		{name: "older link", view: views.AuditListView{Entries: []audit.Entry{entry}, Next: 7, Form: views.AuditFilterForm{Actor: "eve"}},
			wantRows: 1, wantNext: true, wantClear: true},
		{name: "empty", view: views.AuditListView{}, wantRows: 0, wantText: []string{"No entries match these filters."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := views.AuditLogPage(tt.view).Render(context.Background(), &buf); err != nil {
				t.Fatal(err)
			}
			doc, err := goquery.NewDocumentFromReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(auditRowIDs(doc)); n != tt.wantRows {
				t.Errorf("%d rows, want %d", n, tt.wantRows)
			}
			text := doc.Find("table.audit-log").Text()
			for _, w := range tt.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("table text lacks %q", w)
				}
			}
			if doc.Find("svg, b, i").Length() > 0 {
				t.Error("markup from data was rendered as elements")
			}
			older := doc.Find(`a[rel=next]`)
			if (older.Length() == 1) != tt.wantNext {
				t.Errorf("older link present = %v, want %v", older.Length() == 1, tt.wantNext)
			}
			if tt.wantNext && older.AttrOr("href", "") != "/audit?actor=eve&before=7" {
				t.Errorf("older link %q", older.AttrOr("href", ""))
			}
			if clear := doc.Find(`a[href="/audit"]`).FilterFunction(func(_ int, s *goquery.Selection) bool {
				return strings.Contains(s.Text(), "Clear")
			}); (clear.Length() == 1) != tt.wantClear {
				t.Errorf("clear link present = %v, want %v", clear.Length() == 1, tt.wantClear)
			}
		})
	}
}

// BenchmarkAuditPage measures GET /audit through the whole console (HTTP,
// session, role check, query, rendering) on a large log. It needs a database
// seeded with `go run ./tools/auditseed --db FILE --count 1000000` (or by the audit
// package's BenchmarkScale) named by AUDIT_BENCH_DB; the console adds its
// own tables and a few entries to it, so use a copy you can spare:
//
//	AUDIT_BENCH_DB=/tmp/audit-1m.db go test -run '^$' -bench AuditPage ./internal/web
func BenchmarkAuditPage(b *testing.B) {
	path := os.Getenv("AUDIT_BENCH_DB")
	if path == "" {
		b.Skip("set AUDIT_BENCH_DB to a seeded database (docs/audit.md)")
	}
	env := apptest.New(b, func(c *config.Config) { c.DBPath = path })
	c := env.As(b, auth.RoleApprover)
	var maxID int64
	var srvID, srvName string
	db := env.App.DB().Read
	if err := db.QueryRow(`SELECT max(id) FROM audit_entries`).Scan(&maxID); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(`SELECT json_extract(targets, '$[0].id'), json_extract(targets, '$[0].name')
		FROM audit_entries WHERE kind = 'request' AND id > ? ORDER BY id LIMIT 1`, maxID/2).Scan(&srvID, &srvName); err != nil {
		b.Fatal(err)
	}
	pages := []struct{ name, query string }{
		{"first-page/no-filter", ""},
		{"first-page/actor", "actor=chen.wei"},
		{"first-page/action", "action=DELETE"},
		{"first-page/server-id", "server=" + srvID},
		{"first-page/server-name", "server=" + srvName},
		{"first-page/outcome-unknown", "outcome=unknown"},
		{"first-page/text", "text=" + url.QueryEscape("connection reset")},
		{"first-page/time-range", "since=2026-06-01&until=2026-06-02"},
		{"deep-page/no-filter", fmt.Sprintf("before=%d", maxID/2)},
		{"deep-page/actor", fmt.Sprintf("actor=chen.wei&before=%d", maxID/2)},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var durs []time.Duration
			rows := 0
			for b.Loop() {
				t0 := time.Now()
				r := c.Get(b, "/audit?"+p.query)
				durs = append(durs, time.Since(t0))
				if r.Status != http.StatusOK {
					b.Fatalf("status %d", r.Status)
				}
				rows = strings.Count(r.Body, "data-entry-id=")
			}
			if rows == 0 {
				b.Fatalf("%s matched nothing", p.query)
			}
			slices.Sort(durs)
			b.ReportMetric(float64(durs[(len(durs)*95+99)/100-1])/float64(time.Millisecond), "p95-ms")
		})
	}
}

// TestAuditExportOutlastsTheWriteTimeout serves the console with a write
// timeout of 300 ms and reads a large export slowly through small socket
// buffers: every entry arrives, with the trailer (JSON lines) or the count
// in the file name (CSV), although the download takes far longer than the
// timeout. A page on the same server still gets the fixed timeout.
func TestAuditExportOutlastsTheWriteTimeout(t *testing.T) {
	env := apptest.New(t)
	const n = 3000
	if err := audit.Seed(context.Background(), env.App.Audit(), audit.SeedOptions{Count: n, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	c := env.As(t, auth.RoleApprover)
	srv := httptest.NewUnstartedServer(env.App.Handler())
	srv.Config.WriteTimeout = 300 * time.Millisecond
	srv.Config.ConnContext = func(ctx context.Context, conn net.Conn) context.Context {
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetWriteBuffer(16 << 10)
		}
		return ctx
	}
	srv.Start()
	t.Cleanup(srv.Close)
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
		})
	}}
	client := &http.Client{Jar: c.HTTP.Jar, Transport: &http.Transport{DialContext: dialer.DialContext}}

	slowGet := func(t *testing.T, path string) (*http.Response, []byte, time.Duration) {
		t.Helper()
		start := time.Now()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body bytes.Buffer
		buf := make([]byte, 32<<10)
		for {
			// A slow link: about 32 KiB every 10 ms (3 MB/s).
			k, err := resp.Body.Read(buf)
			body.Write(buf[:k])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reading %s after %d bytes and %s: %v", path, body.Len(), time.Since(start), err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		return resp, body.Bytes(), time.Since(start)
	}

	var total int64
	if err := env.App.DB().Read.Get(&total, `SELECT count(*) FROM audit_entries`); err != nil {
		t.Fatal(err)
	}
	t.Run("jsonl", func(t *testing.T) {
		resp, body, took := slowGet(t, "/audit/export.jsonl")
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		var tr audit.ExportTrailer
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &tr); err != nil || !tr.Trailer {
			t.Fatalf("status %d, %d lines in %s; the last is not the trailer: %.200s", resp.StatusCode, len(lines), took, lines[len(lines)-1])
		}
		if tr.Entries != total || int64(len(lines)-1) != total {
			t.Fatalf("%d lines and a trailer counting %d; want %d entries", len(lines)-1, tr.Entries, total)
		}
		if took < 3*srv.Config.WriteTimeout {
			t.Fatalf("the download took %s: not slow enough to prove anything against a %s write timeout", took, srv.Config.WriteTimeout)
		}
	})
	t.Run("csv", func(t *testing.T) {
		resp, body, took := slowGet(t, "/audit/export.csv")
		recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("CSV after %s: %v", took, err)
		}
		want := fmt.Sprintf("-%d-entries.csv", total)
		if cd := resp.Header.Get("Content-Disposition"); !strings.Contains(cd, want) || int64(len(recs)-1) != total {
			t.Fatalf("%d rows, Content-Disposition %q; want %d rows and a name with %q", len(recs)-1, cd, total, want)
		}
	})
}

// TestAuditBadgeIsNeverStale: the badge says which entries were verified
// and when, and how many are newer; opening the page verifies the new tail;
// an entry edited in the database (triggers dropped, another connection) is
// marked in the list and turns the badge red on the next view, without
// anyone pressing "Verify now".
func TestAuditBadgeIsNeverStale(t *testing.T) {
	env := apptest.New(t, apptest.OnSQLite(t)) // tampers with the SQLite file
	c := env.As(t, auth.RoleApprover)
	ctx := context.Background()
	au := env.App.Audit()
	testutil.Eventually(t, 10*time.Second, "the start-up verification finishes", func() error {
		if last, _ := au.LastVerification(ctx); last == nil {
			return errors.New("not verified yet")
		}
		return nil
	})
	for _, name := range []string{"eve", "frank", "grace"} {
		if err := au.RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: name, ClientIP: "192.0.2.7"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	var head int64
	if err := env.App.DB().Read.Get(&head, `SELECT max(id) FROM audit_entries`); err != nil {
		t.Fatal(err)
	}
	status := func() *goquery.Selection {
		return c.Get(t, "/audit").Doc(t).Find(`[data-testid=chain-status]`)
	}
	got := strings.Join(strings.Fields(status().Text()), " ")
	// The page itself verified the three new entries (and the sign-ins
	// before them): the badge names the head it covers.
	if want := fmt.Sprintf("Entries #1–#%d verified at", head); !strings.Contains(got, want) || !strings.Contains(got, "No newer entries.") {
		t.Fatalf("badge %q; want %q and no newer entries", got, want)
	}

	db, err := sql.Open("sqlite", "file:"+env.Config.DBPath+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var frank int64
	if err := db.QueryRow(`SELECT id FROM audit_entries WHERE actor_name = 'frank'`).Scan(&frank); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_entries_no_update`,
		fmt.Sprintf(`UPDATE audit_entries SET actor_name = 'mallory' WHERE id = %d`, frank)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	doc := c.Get(t, "/audit").Doc(t)
	st := doc.Find(`[data-testid=chain-status]`)
	if st.AttrOr("role", "") != "alert" || !strings.Contains(st.Text(), "Chain broken") ||
		st.Find(fmt.Sprintf(`a[href="/audit/%d"]`, frank)).Length() != 1 {
		t.Fatalf("badge after the edit: %q; want red naming entry %d", strings.Join(strings.Fields(st.Text()), " "), frank)
	}
	row := doc.Find(fmt.Sprintf(`tr[data-entry-id="%d"]`, frank))
	if !row.HasClass("audit-broken") || !strings.Contains(row.Text(), "Broken") || !strings.Contains(row.Text(), "Integrity check failed") {
		t.Errorf("the edited entry's row is not marked: %q", strings.Join(strings.Fields(row.Text()), " "))
	}
	if n := doc.Find(`tr.audit-broken`).Length(); n != 1 {
		t.Errorf("%d rows marked broken, want 1", n)
	}
}
