package web_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/testutil"
)

// control returns the form control labelled text (by <label for>), as a
// browser or screen reader would find it.
func control(t *testing.T, doc *goquery.Document, text string) *goquery.Selection {
	t.Helper()
	var found *goquery.Selection
	doc.Find("label").Each(func(_ int, l *goquery.Selection) {
		if strings.TrimSpace(l.Text()) != text {
			return
		}
		if id, ok := l.Attr("for"); ok {
			found = doc.Find("#" + id)
		}
	})
	if found == nil || found.Length() != 1 {
		t.Fatalf("no control labelled %q", text)
	}
	return found
}

// button returns the button whose accessible name is name (aria-label, or
// its text).
func button(doc *goquery.Document, name string) *goquery.Selection {
	return doc.Find("button").FilterFunction(func(_ int, b *goquery.Selection) bool {
		if l, ok := b.Attr("aria-label"); ok {
			return l == name
		}
		return strings.TrimSpace(b.Text()) == name
	})
}

func TestSignInPage(t *testing.T) {
	env := apptest.New(t)
	doc := env.Anonymous(t).Get(t, "/signin?next=/users").Doc(t)
	user := control(t, doc, "Username")
	pass := control(t, doc, "Password")
	if n, _ := user.Attr("name"); n != "username" {
		t.Errorf("Username field name %q", n)
	}
	if typ, _ := pass.Attr("type"); typ != "password" {
		t.Errorf("Password field type %q, want password", typ)
	}
	if ac, _ := pass.Attr("autocomplete"); ac != "current-password" {
		t.Errorf("Password autocomplete %q", ac)
	}
	if button(doc, "Sign in").Length() != 1 {
		t.Error("no Sign in button")
	}
	form := doc.Find(`form[action="/signin"][method="post"]`)
	if tok, _ := form.Find(`input[name="_csrf"]`).Attr("value"); tok == "" {
		t.Error("the form has no CSRF token")
	}
	if next, _ := form.Find(`input[name="next"]`).Attr("value"); next != "/users" {
		t.Errorf("next = %q, want /users", next)
	}
}

func TestSignIn(t *testing.T) {
	env := apptest.New(t)
	ctx := context.Background()
	viewerPW := env.CreateUser(t, "vera", auth.RoleViewer)
	disabledPW := env.CreateUser(t, "dora", auth.RoleViewer)
	dora, _ := env.App.Users().GetByName(ctx, "dora")
	if err := env.App.Users().Disable(ctx, dora.ID); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		form         url.Values
		wantStatus   int
		wantLocation string
		wantError    string
		wantReason   string // of the signin.failure event
	}{
		{"right password", url.Values{"username": {"vera"}, "password": {viewerPW}}, 303, "/", "", ""},
		{"name in other case, next page", url.Values{"username": {"VERA"}, "password": {viewerPW}, "next": {"/users?x=1"}}, 303, "/users?x=1", "", ""},
		{"next on another site", url.Values{"username": {"vera"}, "password": {viewerPW}, "next": {"https://evil.example/"}}, 303, "/", "", ""},
		{"scheme-relative next", url.Values{"username": {"vera"}, "password": {viewerPW}, "next": {"//evil.example/x"}}, 303, "/", "", ""},
		{"backslash next", url.Values{"username": {"vera"}, "password": {viewerPW}, "next": {"/\\evil.example"}}, 303, "/", "", ""},
		{"https next", url.Values{"username": {"vera"}, "password": {viewerPW}, "next": {"https://evil.example/servers"}}, 303, "/", "", ""},
		{"wrong password", url.Values{"username": {"vera"}, "password": {"not the password"}}, 401, "", "Incorrect username or password.", auth.ReasonWrongPassword},
		{"unknown user", url.Values{"username": {"nobody"}, "password": {viewerPW}}, 401, "", "Incorrect username or password.", auth.ReasonUnknownUser},
		{"disabled user", url.Values{"username": {"dora"}, "password": {disabledPW}}, 401, "", "Incorrect username or password.", auth.ReasonDisabled},
		{"empty password", url.Values{"username": {"vera"}, "password": {""}}, 422, "", "Enter your username and password.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := env.Anonymous(t)
			c.Get(t, "/signin")
			failuresBefore := len(auditEvents(t, env, auth.EventSigninFailure))
			r := c.PostForm(t, "/signin", tt.form)
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", r.Status, tt.wantStatus, r.Body)
			}
			if got := r.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			if tt.wantError == "" {
				if sessionCookie(t, env, c) == nil {
					t.Fatal("no session cookie after signing in")
				}
				ev := auditEvents(t, env, auth.EventSigninSuccess)
				if last := ev[len(ev)-1]; last.Actor != "vera" || last.Role != "viewer" {
					t.Fatalf("signin.success actor %q (%s), want vera (viewer)", last.Actor, last.Role)
				}
				return
			}
			doc := r.Doc(t)
			if got := strings.TrimSpace(doc.Find(`[role="alert"]`).Text()); got != tt.wantError {
				t.Fatalf("error %q, want %q", got, tt.wantError)
			}
			if v, _ := control(t, doc, "Password").Attr("value"); v != "" {
				t.Fatal("the password was sent back to the page")
			}
			if sessionCookie(t, env, c) != nil {
				t.Fatal("a failed sign-in set a session cookie")
			}
			failures := auditEvents(t, env, auth.EventSigninFailure)
			if tt.wantReason == "" {
				if len(failures) != failuresBefore {
					t.Fatalf("an incomplete form was recorded as a sign-in failure")
				}
				return
			}
			if len(failures) != failuresBefore+1 {
				t.Fatalf("signin.failure events: %d, want %d", len(failures), failuresBefore+1)
			}
			last := failures[len(failures)-1]
			if last.Actor != tt.form.Get("username") || last.Detail["reason"] != tt.wantReason {
				t.Fatalf("signin.failure = %+v, want actor %q reason %q", last, tt.form.Get("username"), tt.wantReason)
			}
		})
	}
}

// TestSignInNextIsLocal: the "next" of the sign-in page only ever leads to
// a path on this console, whether it arrives in the page's URL (and is
// carried in the form) or is followed by a visitor already signed in.
func TestSignInNextIsLocal(t *testing.T) {
	env := apptest.New(t)
	signedIn := env.As(t, auth.RoleViewer)
	tests := []struct {
		name      string
		next      string
		wantField string // the form's hidden next ("" when absent)
		wantTo    string // where a signed-in visitor is sent
	}{
		{name: "local path", next: "/servers?status=RUNNING", wantField: "/servers?status=RUNNING", wantTo: "/servers?status=RUNNING"},
		{name: "scheme-relative", next: "//evil.example", wantTo: "/"},
		{name: "backslash", next: "/\\evil.example", wantTo: "/"},
		{name: "https URL", next: "https://evil.example/servers", wantTo: "/"},
		{name: "encoded slashes stay a path", next: "/%2F%2Fevil.example", wantField: "/%2F%2Fevil.example", wantTo: "/%2F%2Fevil.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/signin?" + url.Values{"next": {tt.next}}.Encode()
			doc := env.Anonymous(t).Get(t, target).Doc(t)
			got, ok := doc.Find(`form[action="/signin"] input[name="next"]`).Attr("value")
			if !ok {
				got = ""
			}
			if got != tt.wantField {
				t.Errorf("hidden next = %q, want %q", got, tt.wantField)
			}
			r := signedIn.Get(t, target)
			if loc := r.Header.Get("Location"); r.Status != http.StatusSeeOther || loc != tt.wantTo {
				t.Errorf("signed in: %d to %q, want 303 to %q", r.Status, loc, tt.wantTo)
			}
			if u, err := url.Parse(r.Header.Get("Location")); err != nil || u.Host != "" || u.Scheme != "" {
				t.Errorf("redirect %q leaves the console", r.Header.Get("Location"))
			}
		})
	}
}

func TestSessionRotationOnSignIn(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "rita", auth.RoleOperator)
	c := env.SignIn(t, "rita", pw)
	first := sessionCookie(t, env, c)

	// Signing in again from the same browser replaces the session.
	c.Get(t, "/signin") // signed in: redirected, CSRF token stays the session's
	r := c.PostForm(t, "/signin", url.Values{"username": {"admin"}, "password": {apptest.AdminPassword}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("second sign-in: status %d", r.Status)
	}
	second := sessionCookie(t, env, c)
	if second == nil || second.Value == first.Value {
		t.Fatal("the session cookie did not change on sign-in")
	}
	if r := withCookie(t, env, first).Get(t, "/signin"); r.Status != http.StatusOK {
		t.Fatalf("the pre-sign-in session still works (GET /signin: %d, want the form)", r.Status)
	}
	if r := c.Get(t, "/users"); r.Status != http.StatusOK {
		t.Fatalf("the new session (admin) cannot open /users: %d", r.Status)
	}
}

func TestSignOut(t *testing.T) {
	env := apptest.New(t)
	c := env.As(t, auth.RoleAdmin)
	stolen := sessionCookie(t, env, c)
	if r := withCookie(t, env, stolen).Get(t, "/users"); r.Status != http.StatusOK {
		t.Fatalf("a copy of the cookie works before sign-out? status %d, want 200", r.Status)
	}
	r := c.PostForm(t, "/signout", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/signin?signedout=1" {
		t.Fatalf("sign-out: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if sessionCookie(t, env, c) != nil {
		t.Error("the session cookie was not cleared")
	}
	// The cookie is dead server-side: a copy kept elsewhere does not work.
	if r := withCookie(t, env, stolen).Get(t, "/users"); r.Status != http.StatusSeeOther {
		t.Fatalf("the old cookie after sign-out: status %d, want 303 to sign in", r.Status)
	}
	if got := strings.TrimSpace(c.Get(t, "/signin?signedout=1").Doc(t).Find(`[role="status"]`).Text()); got != "You have been signed out." {
		t.Errorf("notice %q", got)
	}
	ev := auditEvents(t, env, auth.EventSignout)
	if len(ev) != 1 || ev[0].Actor != "admin" {
		t.Fatalf("signout events %+v, want one by admin", ev)
	}
}

func TestSessionExpiry(t *testing.T) {
	clock := testutil.NewClock(time.Now())
	env := apptest.NewWithClock(t, clock, func(c *config.Config) { c.SessionIdle = 30 * time.Minute })
	c := env.As(t, auth.RoleAdmin)
	clock.Advance(29 * time.Minute)
	if r := c.Get(t, "/users"); r.Status != http.StatusOK {
		t.Fatalf("a session used within its idle timeout: %d", r.Status)
	}
	clock.Advance(31 * time.Minute)
	r := c.Get(t, "/users")
	if r.Status != http.StatusSeeOther {
		t.Fatalf("after the idle timeout: status %d, want 303", r.Status)
	}
	loc := r.Header.Get("Location")
	if loc != "/signin?expired=1&next=%2Fusers" {
		t.Fatalf("redirect to %q", loc)
	}
	if got := strings.TrimSpace(c.Get(t, loc).Doc(t).Find(`[role="status"]`).Text()); got != "Your session has expired. Sign in again." {
		t.Errorf("notice %q", got)
	}
}

// fromAddr is a client whose requests come through a trusted proxy that
// says the browser is at addr.
func fromAddr(t *testing.T, env *apptest.Env, addr string) (*apptest.Client, func(path string, form url.Values) *apptest.Response) {
	t.Helper()
	c := env.Anonymous(t)
	h := http.Header{"X-Forwarded-For": {addr}}
	c.Do(t, http.MethodGet, "/signin", nil, h)
	post := func(path string, form url.Values) *apptest.Response {
		f := url.Values{"_csrf": {c.CSRF}}
		for k, v := range form {
			f[k] = v
		}
		return c.Do(t, http.MethodPost, path, strings.NewReader(f.Encode()),
			http.Header{"X-Forwarded-For": {addr}, "Content-Type": {"application/x-www-form-urlencoded"}})
	}
	return c, post
}

func trustLoopbackProxy(c *config.Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// TestSignInDelays: wrong passwords for one name from one address slow
// that address down with growing delays (audited); the same name from
// another address signs in at once, so guessing is no denial of service.
func TestSignInDelays(t *testing.T) {
	// The clock stands still: the one-second delay holds however slowly
	// this test runs, and passes only when the test moves the clock.
	clock := testutil.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	env := apptest.NewWithClock(t, clock, trustLoopbackProxy)
	pw := env.CreateUser(t, "lena", auth.RoleViewer)
	attacker, post := fromAddr(t, env, "203.0.113.7")
	for i := range 3 {
		if r := post("/signin", url.Values{"username": {"lena"}, "password": {"guess number " + string(rune('a'+i))}}); r.Status != 401 {
			t.Fatalf("failure %d: status %d, want 401", i+1, r.Status)
		}
	}
	r := post("/signin", url.Values{"username": {"lena"}, "password": {"the fourth guess"}})
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("fourth failure: status %d, want 429", r.Status)
	}
	// Even the right password waits now, with a message saying how long.
	r = post("/signin", url.Values{"username": {"lena"}, "password": {pw}})
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("right password during the delay: status %d, want 429", r.Status)
	}
	if got := strings.TrimSpace(r.Doc(t).Find(`[role="alert"]`).Text()); got != "Too many failed sign-in attempts. Try again in 1 second." {
		t.Fatalf("message %q", got)
	}
	if r.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", r.Header.Get("Retry-After"))
	}
	if sessionCookie(t, env, attacker) != nil {
		t.Fatal("signed in during the delay")
	}
	failures := auditEvents(t, env, auth.EventSigninFailure)
	if len(failures) != 4 || failures[3].ClientIP != "203.0.113.7" {
		t.Errorf("signin.failure events: %+v, want 4 from the attacker's address", failures)
	}
	locked := auditEvents(t, env, auth.EventSigninLocked)
	if len(locked) != 2 || locked[0].Detail["started_by_this_attempt"] != "true" || locked[1].Detail["locked"] != "username from this address" {
		t.Fatalf("signin.locked events %+v, want the start and the refused attempt", locked)
	}
	// Lena, from her own address, is not slowed down at all.
	lena, postLena := fromAddr(t, env, "192.0.2.1")
	if r := postLena("/signin", url.Values{"username": {"lena"}, "password": {pw}}); r.Status != http.StatusSeeOther {
		t.Fatalf("lena from her own address during the attacker's delay: %d, want 303", r.Status)
	}
	if sessionCookie(t, env, lena) == nil {
		t.Fatal("lena not signed in")
	}
	// Once the delay has passed, that address is judged again: the right
	// password signs in.
	clock.Advance(time.Second)
	if r := post("/signin", url.Values{"username": {"lena"}, "password": {pw}}); r.Status != http.StatusSeeOther {
		t.Fatalf("right password after the delay: status %d, want 303", r.Status)
	}
}

// TestAnonymousPostsCannotLockOutAdmin is the attack from issue 13: five
// anonymous posts used to lock admin out for 15 minutes for everyone.
func TestAnonymousPostsCannotLockOutAdmin(t *testing.T) {
	env := apptest.New(t, trustLoopbackProxy)
	_, post := fromAddr(t, env, "198.51.100.66")
	for range 5 {
		post("/signin", url.Values{"username": {"admin"}, "password": {"not the password"}})
	}
	_, postAdmin := fromAddr(t, env, "192.0.2.10")
	if r := postAdmin("/signin", url.Values{"username": {"admin"}, "password": {apptest.AdminPassword}}); r.Status != http.StatusSeeOther {
		t.Fatalf("admin after five anonymous guesses from elsewhere: status %d, want 303", r.Status)
	}
}

func TestDisabledUserLosesSession(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "ada", auth.RoleAdmin)
	ada := env.SignIn(t, "ada", pw)
	if r := ada.Get(t, "/users"); r.Status != 200 {
		t.Fatalf("ada before: %d", r.Status)
	}
	adaUser, _ := env.App.Users().GetByName(context.Background(), "ada")
	root := env.As(t, auth.RoleAdmin)
	root.Get(t, "/users")
	if r := root.PostForm(t, "/users/"+itoa(adaUser.ID)+"/disable", url.Values{"confirm": {"yes"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("disable: %d", r.Status)
	}
	r := ada.Get(t, "/users")
	if r.Status != http.StatusSeeOther {
		t.Fatalf("ada's session after being disabled: status %d, want 303 to sign in", r.Status)
	}
	// The sign-in page she is sent to says why.
	if loc := r.Header.Get("Location"); !strings.Contains(loc, "disabled=1") {
		t.Fatalf("ada is sent to %q, which does not say her account was disabled", loc)
	}
	if p := ada.Get(t, r.Header.Get("Location")); !strings.Contains(p.Body, "Your account has been disabled") {
		t.Fatalf("the sign-in page does not say the account was disabled:\n%s", p.Body)
	}
	c := env.Anonymous(t)
	c.Get(t, "/signin")
	r = c.PostForm(t, "/signin", url.Values{"username": {"ada"}, "password": {pw}})
	if r.Status != http.StatusUnauthorized || !strings.Contains(r.Body, "Incorrect username or password.") {
		t.Fatalf("disabled ada signing in: %d", r.Status)
	}
}

// TestNoSecretsLeak runs the flows that handle passwords and sessions and
// checks that no password, session cookie, CSRF key or session key shows
// up in the logs, any page, or the audit log.
func TestNoSecretsLeak(t *testing.T) {
	env := apptest.New(t)
	var pages []string
	keep := func(r *apptest.Response) *apptest.Response { pages = append(pages, r.Body); return r }

	const (
		initialPW = "carol-initial-Secret-1"
		resetPW   = "carol-reset-Secret-22"
		wrongPW   = "carol-wrong-Secret-333"
	)
	admin := env.As(t, auth.RoleAdmin)
	keep(admin.Get(t, "/users"))
	keep(admin.PostForm(t, "/users", url.Values{"name": {"carol"}, "role": {"operator"}, "password": {initialPW}}))
	keep(admin.PostForm(t, "/users", url.Values{"name": {"carol2"}, "role": {"operator"}, "password": {"short"}})) // invalid: re-rendered
	carol, err := env.App.Users().GetByName(context.Background(), "carol")
	if err != nil {
		t.Fatal(err)
	}
	keep(admin.Get(t, "/users"))
	keep(admin.PostForm(t, "/users/"+itoa(carol.ID)+"/password", url.Values{"password": {resetPW}}))
	keep(admin.Get(t, "/users?done=password&id="+itoa(carol.ID)))

	c := env.Anonymous(t)
	keep(c.Get(t, "/signin"))
	keep(c.PostForm(t, "/signin", url.Values{"username": {"carol"}, "password": {wrongPW}}))
	keep(c.PostForm(t, "/signin", url.Values{"username": {"carol"}, "password": {initialPW}}))
	keep(c.PostForm(t, "/signin", url.Values{"username": {"carol"}, "password": {resetPW}}))
	cookie := sessionCookie(t, env, c)
	if cookie == nil {
		t.Fatal("carol could not sign in")
	}
	keep(c.Get(t, "/users")) // 403, logged and audited
	keep(c.PostForm(t, "/signout", nil))

	key, err := auth.KeyFromSettings(context.Background(), env.App.DB(), "")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{
		"bootstrap admin password": apptest.AdminPassword,
		"initial password":         initialPW,
		"reset password":           resetPW,
		"wrong password":           wrongPW,
		"session cookie":           cookie.Value,
		"session key (hex)":        hex.EncodeToString(key),
		"session key (base64)":     base64.StdEncoding.EncodeToString(key),
		"session key (raw)":        string(key),
	}
	var hashes []string
	if err := env.App.DB().Read.Select(&hashes, `SELECT password_hash FROM users`); err != nil {
		t.Fatal(err)
	}
	for i, h := range hashes {
		secrets["password hash "+strconv.Itoa(i)] = h
	}

	places := map[string]string{
		"logs":      env.Logs.String(),
		"pages":     strings.Join(pages, "\n"),
		"audit log": dumpTable(t, env, "audit_entries"),
	}
	if !strings.Contains(places["audit log"], "signin.failure") || !strings.Contains(places["logs"], "request") {
		t.Fatal("nothing was recorded: the check below would prove nothing")
	}
	for where, text := range places {
		for what, secret := range secrets {
			if strings.Contains(text, secret) {
				t.Errorf("the %s contain the %s", where, what)
			}
		}
	}
}

// dumpTable returns every value of every row of table as text.
func dumpTable(t *testing.T, env *apptest.Env, table string) string {
	t.Helper()
	rows, err := env.App.DB().Read.Queryx(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.SliceScan()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			switch v := v.(type) {
			case []byte:
				b.Write(v)
			case string:
				b.WriteString(v)
			default:
				b.WriteString(fmt.Sprint(v))
			}
			b.WriteByte('\t')
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }
