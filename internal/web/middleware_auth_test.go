package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// auditEvent is a security event as stored in the audit log.
type auditEvent struct {
	Kind     string
	Actor    string
	Role     string
	ClientIP string
	Detail   map[string]string
}

// auditEvents returns the stored security events of the given kinds, oldest
// first, read straight from the audit table.
func auditEvents(t *testing.T, env *apptest.Env, kinds ...string) []auditEvent {
	t.Helper()
	rows, err := env.App.DB().Read.QueryContext(context.Background(),
		`SELECT kind, actor_name, actor_role, client_ip, detail FROM audit_entries ORDER BY id`)
	if err != nil {
		t.Fatalf("read audit log: %v", err)
	}
	defer rows.Close()
	var out []auditEvent
	for rows.Next() {
		var e auditEvent
		var detail string
		if err := rows.Scan(&e.Kind, &e.Actor, &e.Role, &e.ClientIP, &detail); err != nil {
			t.Fatal(err)
		}
		if len(kinds) > 0 && !contains(kinds, e.Kind) {
			continue
		}
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			t.Fatalf("audit detail %q: %v", detail, err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// sessionCookie returns the client's session cookie.
func sessionCookie(t *testing.T, env *apptest.Env, c *apptest.Client) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(env.URL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == auth.SessionCookieName {
			return ck
		}
	}
	return nil
}

// withCookie returns a fresh client that carries only the given cookie, as
// an attacker who copied it would.
func withCookie(t *testing.T, env *apptest.Env, ck *http.Cookie) *apptest.Client {
	t.Helper()
	c := env.Anonymous(t)
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(env.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value}})
	c.HTTP.Jar = jar
	return c
}

func TestSecurityHeaders(t *testing.T) {
	env := apptest.New(t)
	adminC := env.As(t, auth.RoleAdmin)
	anonC := env.Anonymous(t)
	tests := []struct {
		name       string
		c          *apptest.Client
		method     string
		path       string
		wantStatus int
		wantCache  string
	}{
		{"sign-in page", anonC, http.MethodGet, "/signin", 200, "no-store"},
		{"admin page", adminC, http.MethodGet, "/users", 200, "no-store"},
		{"redirect to sign in", anonC, http.MethodGet, "/users", 303, "no-store"},
		{"forbidden", env.As(t, auth.RoleViewer), http.MethodGet, "/users", 403, "no-store"},
		{"not found", adminC, http.MethodGet, "/no-such-page", 404, "no-store"},
		{"refused POST", anonC, http.MethodPost, "/signin", 403, "no-store"},
		{"static asset", anonC, http.MethodGet, "/static/css/console.css", 200, "public, max-age=3600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.c.Do(t, tt.method, tt.path, nil, nil)
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.Status, tt.wantStatus)
			}
			want := map[string]string{
				"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
					"frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "same-origin",
				"Cache-Control":          tt.wantCache,
			}
			got := map[string]string{}
			for k := range want {
				got[k] = r.Header.Get(k)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestPagesHaveNoInlineScript checks every kind of page and fragment the
// console renders works under the CSP (no inline script, no inline
// handlers, no inline styles, no htmx feature that needs eval) and can be
// used by role and name: every control is labelled, every button and link
// has a name, every table has header cells and every badge has words.
func TestPagesHaveNoInlineScript(t *testing.T) {
	env := apptest.New(t)
	adminC := env.As(t, auth.RoleAdmin)
	op := env.As(t, auth.RoleOperator)
	sim := env.App.Simulator()
	var running, stopped modelarts.ServerResponse
	for _, s := range sim.Servers() {
		switch {
		case s.Status == modelarts.StatusRunning && running.ID == "":
			running = s
		case s.Status == modelarts.StatusStopped && stopped.ID == "" && !s.IsSupernode():
			stopped = s
		}
	}
	op.Get(t, "/servers")
	for _, id := range []string{running.ID, stopped.ID} {
		if r := op.HTMX(t, http.MethodPost, "/selection", url.Values{"id": {id}, "checked": {"on"}}); r.Status != http.StatusOK {
			t.Fatalf("select %s: %d", id, r.Status)
		}
	}
	fragment := func(r *apptest.Response) string {
		if r.Status != http.StatusOK {
			t.Fatalf("fragment: status %d\n%s", r.Status, r.Body)
		}
		return r.Body
	}
	stopPreview := fragment(op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {"STOP"}}))
	reinstall := fragment(op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {"REINSTALLOS"}}))
	delPreview := fragment(op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {"DELETE"}}))
	delToken, _ := (&apptest.Response{Body: delPreview}).Doc(t).Find(`input[name="token"]`).Attr("value")
	dialog := fragment(op.HTMX(t, http.MethodPost, "/actions/review", url.Values{"token": {delToken}}))
	stopToken, _ := (&apptest.Response{Body: stopPreview}).Doc(t).Find(`input[name="token"]`).Attr("value")
	exec := op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {stopToken}})
	batchPath := exec.Header.Get("HX-Redirect")
	if !strings.HasPrefix(batchPath, "/batches/") {
		t.Fatalf("execute: %d %q", exec.Status, batchPath)
	}
	entries, _, err := env.App.Audit().List(context.Background(), audit.Filter{}, 0, 1)
	if err != nil || len(entries) == 0 {
		t.Fatalf("audit entries: %v", err)
	}

	// A user setting up a second factor, then signing in with it.
	mfaPW := env.CreateUser(t, "mfa1", auth.RoleViewer)
	mfa := env.SignIn(t, "mfa1", mfaPW)
	mfa.Get(t, "/account")
	mfa.PostForm(t, "/account/factor", nil)
	enrolling := mfa.Get(t, "/account").Body
	secret := strings.TrimSpace((&apptest.Response{Body: enrolling}).Doc(t).Find("#factor-secret").Text())
	recovery := mfa.PostForm(t, "/account/factor/confirm", url.Values{"code": {totpCode(t, secret, time.Now())}})
	if recovery.Status != http.StatusOK {
		t.Fatalf("confirm the factor: %d", recovery.Status)
	}
	codeClient, _ := signInWithPassword(t, env, "mfa1", mfaPW, "")

	pages := []struct {
		name string
		body func() string
	}{
		{"sign-in", func() string { return env.Anonymous(t).Get(t, "/signin").Body }},
		{"sign-in code", func() string { return codeClient.Get(t, "/signin/code").Body }},
		{"account", func() string { return adminC.Get(t, "/account").Body }},
		{"account, enrolling", func() string { return enrolling }},
		{"account, recovery codes", func() string { return recovery.Body }},
		{"account, factor on", func() string { return mfa.Get(t, "/account").Body }},
		{"users", func() string { return adminC.Get(t, "/users").Body }},
		{"forbidden", func() string { return env.As(t, auth.RoleViewer).Get(t, "/users").Body }},
		{"not found", func() string { return adminC.Get(t, "/no-such-page").Body }},
		{"fleet", func() string { return op.Get(t, "/servers").Body }},
		{"fleet rows", func() string { return fragment(op.HTMX(t, http.MethodGet, "/servers/rows", nil)) }},
		{"server detail", func() string { return op.Get(t, "/servers/"+running.ID).Body }},
		{"stop preview", func() string { return stopPreview }},
		{"reinstall form", func() string { return reinstall }},
		{"delete dialog", func() string { return dialog }},
		{"batch", func() string { return op.Get(t, batchPath).Body }},
		{"batch status", func() string { return fragment(op.HTMX(t, http.MethodGet, batchPath+"/status", nil)) }},
		{"batches", func() string { return adminC.Get(t, "/batches").Body }},
		{"audit log", func() string { return adminC.Get(t, "/audit").Body }},
		{"audit entry", func() string { return adminC.Get(t, "/audit/"+strconv.FormatInt(entries[0].ID, 10)).Body }},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			doc := (&apptest.Response{Body: p.body()}).Doc(t)
			if doc.Find("body *").Length() == 0 && doc.Find("*").Length() < 4 {
				t.Fatal("empty page")
			}
			if n := doc.Find("script:not([src]), style, [style]").Length(); n > 0 {
				t.Errorf("%d inline scripts or styles", n)
			}
			doc.Find("*").Each(func(_ int, sel *goquery.Selection) {
				for _, a := range sel.Nodes[0].Attr {
					key := strings.ToLower(a.Key)
					if strings.HasPrefix(key, "on") || strings.HasPrefix(key, "hx-on") {
						t.Errorf("inline event handler %s=%q on <%s>", a.Key, a.Val, goquery.NodeName(sel))
					}
					if strings.HasPrefix(key, "hx-") && strings.HasPrefix(strings.TrimSpace(a.Val), "js:") {
						t.Errorf("%s=%q needs eval, which the CSP forbids", a.Key, a.Val)
					}
				}
			})
			checkAccessible(t, doc)
		})
	}
}

// checkAccessible fails t for controls without a label, buttons and links
// without a name, tables without header cells, dialogs without a title and
// badges without words.
func checkAccessible(t *testing.T, doc *goquery.Document) {
	t.Helper()
	named := func(s *goquery.Selection) bool {
		if strings.TrimSpace(s.AttrOr("aria-label", "")) != "" {
			return true
		}
		if ids := s.AttrOr("aria-labelledby", ""); ids != "" {
			for _, id := range strings.Fields(ids) {
				if strings.TrimSpace(doc.Find("#"+id).Text()) != "" {
					return true
				}
			}
		}
		return false
	}
	doc.Find("input, select, textarea").Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("type", "") == "hidden" || named(s) || s.ParentsFiltered("label").Length() > 0 {
			return
		}
		id := s.AttrOr("id", "")
		if id == "" || strings.TrimSpace(doc.Find(`label[for="`+id+`"]`).Text()) == "" {
			t.Errorf("<%s name=%q> has no label", goquery.NodeName(s), s.AttrOr("name", ""))
		}
	})
	doc.Find(`button, a[href], [role="button"]`).Each(func(_ int, s *goquery.Selection) {
		if !named(s) && strings.TrimSpace(s.Text()) == "" {
			h, _ := goquery.OuterHtml(s)
			t.Errorf("%s has no accessible name", h)
		}
	})
	doc.Find("table").Each(func(_ int, s *goquery.Selection) {
		if s.Find("th").Length() == 0 {
			t.Errorf("a table has no header cells: %.200s", s.Text())
		}
	})
	doc.Find("dialog").Each(func(_ int, s *goquery.Selection) {
		if !named(s) {
			t.Error("a dialog has no title")
		}
	})
	doc.Find(".badge").Each(func(_ int, s *goquery.Selection) {
		if strings.TrimSpace(s.Text()) == "" {
			t.Errorf("a badge shows colour only: %s", s.AttrOr("class", ""))
		}
	})
}

func TestCSRF(t *testing.T) {
	env := apptest.New(t)
	adminC := env.As(t, auth.RoleAdmin)
	otherAdmin := env.SignIn(t, "admin", apptest.AdminPassword) // a second session of the same user
	anonC := env.Anonymous(t)
	anonC.Get(t, "/signin")
	otherAnon := env.Anonymous(t)
	otherAnon.Get(t, "/signin")

	createForm := func(name string) url.Values {
		return url.Values{"name": {name}, "role": {"viewer"}, "password": {"csrf-test-password"}}
	}
	formPost := func(c *apptest.Client, path string, v url.Values) *apptest.Response {
		return c.Do(t, http.MethodPost, path, strings.NewReader(v.Encode()),
			http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	}
	tests := []struct {
		name       string
		do         func() *apptest.Response
		wantStatus int
		created    string // user that must exist afterwards ("" when refused)
		refused    string // user that must not exist afterwards
	}{
		{
			name: "form without token",
			do: func() *apptest.Response {
				return formPost(adminC, "/users", createForm("nocsrf"))
			},
			wantStatus: 403, refused: "nocsrf",
		},
		{
			name: "form with a wrong token",
			do: func() *apptest.Response {
				v := createForm("wrongcsrf")
				v.Set("_csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
				return formPost(adminC, "/users", v)
			},
			wantStatus: 403, refused: "wrongcsrf",
		},
		{
			name: "token of another session of the same user",
			do: func() *apptest.Response {
				v := createForm("othersession")
				v.Set("_csrf", otherAdmin.CSRF)
				return formPost(adminC, "/users", v)
			},
			wantStatus: 403, refused: "othersession",
		},
		{
			name: "htmx request without the header",
			do: func() *apptest.Response {
				return adminC.Do(t, http.MethodPost, "/users", strings.NewReader(createForm("htmxnocsrf").Encode()),
					http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "HX-Request": {"true"}})
			},
			wantStatus: 403, refused: "htmxnocsrf",
		},
		{
			name: "form with the page's token",
			do: func() *apptest.Response {
				v := createForm("formok")
				v.Set("_csrf", adminC.CSRF)
				return formPost(adminC, "/users", v)
			},
			wantStatus: 303, created: "formok",
		},
		{
			name:       "htmx request with the header token",
			do:         func() *apptest.Response { return adminC.HTMX(t, http.MethodPost, "/users", createForm("htmxok")) },
			wantStatus: 204, created: "htmxok",
		},
		{
			name: "valid token, but the browser says the form came from another site",
			do: func() *apptest.Response {
				v := createForm("crosssite")
				v.Set("_csrf", adminC.CSRF)
				return adminC.Do(t, http.MethodPost, "/users", strings.NewReader(v.Encode()),
					http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-site"}})
			},
			wantStatus: 403, refused: "crosssite",
		},
		{
			name: "valid token from the console's own page, as a browser sends it",
			do: func() *apptest.Response {
				v := createForm("sameorigin")
				v.Set("_csrf", adminC.CSRF)
				return adminC.Do(t, http.MethodPost, "/users", strings.NewReader(v.Encode()),
					http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Sec-Fetch-Site": {"same-origin"}, "Origin": {env.URL}})
			},
			wantStatus: 303, created: "sameorigin",
		},
		{
			name: "sign-in without token",
			do: func() *apptest.Response {
				return formPost(anonC, "/signin", url.Values{"username": {"admin"}, "password": {apptest.AdminPassword}})
			},
			wantStatus: 403,
		},
		{
			name: "sign-in with another browser's token (login CSRF)",
			do: func() *apptest.Response {
				return formPost(anonC, "/signin", url.Values{"username": {"admin"}, "password": {apptest.AdminPassword}, "_csrf": {otherAnon.CSRF}})
			},
			wantStatus: 403,
		},
		{
			name: "sign-out without token",
			do: func() *apptest.Response {
				return formPost(adminC, "/signout", url.Values{})
			},
			wantStatus: 403,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(auditEvents(t, env, auth.EventAccessDenied))
			r := tt.do()
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", r.Status, tt.wantStatus, r.Body)
			}
			if tt.refused != "" {
				if _, err := env.App.Users().GetByName(context.Background(), tt.refused); err == nil {
					t.Fatalf("user %q was created despite the refusal", tt.refused)
				}
			}
			if tt.created != "" {
				if _, err := env.App.Users().GetByName(context.Background(), tt.created); err != nil {
					t.Fatalf("user %q was not created: %v", tt.created, err)
				}
			}
			denied := auditEvents(t, env, auth.EventAccessDenied)
			if tt.wantStatus == 403 {
				reasons := map[string]bool{"csrf_token_missing": true, "csrf_token_invalid": true, "cross_site_request": true}
				if len(denied) != before+1 || !reasons[denied[len(denied)-1].Detail["reason"]] {
					t.Fatalf("access.denied events %+v, want one more with a csrf reason", denied)
				}
			} else if len(denied) != before {
				t.Fatalf("an accepted request was recorded as denied: %+v", denied[before:])
			}
		})
	}
	// The refused sign-out left the session working, and the refused
	// sign-ins started none.
	if r := adminC.Get(t, "/users"); r.Status != 200 {
		t.Fatalf("admin session after a refused sign-out: status %d", r.Status)
	}
	if ck := sessionCookie(t, env, anonC); ck != nil {
		t.Fatal("a refused sign-in set a session cookie")
	}
}

func TestAccessDeniedIsRecorded(t *testing.T) {
	env := apptest.New(t)
	viewerC := env.As(t, auth.RoleViewer)
	tests := []struct {
		name   string
		method string
		path   string
		want   map[string]string
	}{
		{"page", http.MethodGet, "/users", map[string]string{"method": "GET", "path": "/users", "reason": "role", "permission": string(auth.PermManageUsers)}},
		{"forged POST", http.MethodPost, "/users", map[string]string{"method": "POST", "path": "/users", "reason": "role", "permission": string(auth.PermManageUsers)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r *apptest.Response
			if tt.method == http.MethodGet {
				r = viewerC.Get(t, tt.path)
			} else {
				r = viewerC.PostForm(t, tt.path, url.Values{"name": {"sneaky"}, "role": {"admin"}, "password": {"sneaky-password-123"}})
			}
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Status)
			}
			if !strings.Contains(r.Body, "does not allow this") {
				t.Fatalf("the 403 page does not explain itself:\n%s", r.Body)
			}
			ev := auditEvents(t, env, auth.EventAccessDenied)
			if len(ev) == 0 {
				t.Fatal("no access.denied event")
			}
			last := ev[len(ev)-1]
			if last.Actor != "viewer1" || last.Role != "viewer" {
				t.Fatalf("actor %q (%s), want viewer1 (viewer)", last.Actor, last.Role)
			}
			if diff := cmp.Diff(tt.want, last.Detail); diff != "" {
				t.Fatalf("detail mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := env.App.Users().GetByName(context.Background(), "sneaky"); err == nil {
		t.Fatal("a viewer created a user")
	}
}

func TestSignInRequired(t *testing.T) {
	env := apptest.New(t)
	tests := []struct {
		name         string
		do           func(c *apptest.Client) *apptest.Response
		wantStatus   int
		wantLocation string
		wantHXRedir  string
	}{
		{
			name:         "page",
			do:           func(c *apptest.Client) *apptest.Response { return c.Get(t, "/users?sort=name") },
			wantStatus:   303,
			wantLocation: "/signin?next=%2Fusers%3Fsort%3Dname",
		},
		{
			name: "htmx request",
			do: func(c *apptest.Client) *apptest.Response {
				return c.Do(t, http.MethodGet, "/users", nil, http.Header{"HX-Request": {"true"}, "HX-Current-URL": {env.URL + "/users?page=2"}})
			},
			wantStatus:  401,
			wantHXRedir: "/signin?next=%2Fusers%3Fpage%3D2",
		},
		{
			name: "form post",
			do: func(c *apptest.Client) *apptest.Response {
				return c.PostForm(t, "/users", url.Values{"name": {"x"}})
			},
			wantStatus: 401,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := env.Anonymous(t)
			c.Get(t, "/signin")
			r := tt.do(c)
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.Status, tt.wantStatus)
			}
			if got := r.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			if got := r.Header.Get("HX-Redirect"); got != tt.wantHXRedir {
				t.Errorf("HX-Redirect %q, want %q", got, tt.wantHXRedir)
			}
		})
	}
}
