package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/pquerna/otp/totp"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
)

// totpCode is what an authenticator app shows at t.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol sets up a second factor for c's user through /account and returns
// the secret shown as text and the recovery codes shown once.
func enrol(t *testing.T, c *apptest.Client) (string, []string) {
	t.Helper()
	c.Get(t, "/account")
	if r := c.PostForm(t, "/account/factor", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("start enrolment: %d\n%s", r.Status, r.Body)
	}
	doc := c.Get(t, "/account").Doc(t)
	secret := strings.TrimSpace(doc.Find("#factor-secret").Text())
	src, _ := doc.Find(`img[alt="QR code for your authenticator app"]`).Attr("src")
	if secret == "" || !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("enrolment page shows secret %q and QR %q", secret, src)
	}
	if doc.Find(`label[for="factor-code"]`).Text() != "Authentication code" {
		t.Fatal("no field labelled Authentication code")
	}
	r := c.PostForm(t, "/account/factor/confirm", url.Values{"code": {totpCode(t, secret, time.Now())}})
	if r.Status != http.StatusOK {
		t.Fatalf("confirm: %d\n%s", r.Status, r.Body)
	}
	var codes []string
	r.Doc(t).Find(`ul[aria-label="Recovery codes"] code`).Each(func(_ int, s *goquery.Selection) { codes = append(codes, s.Text()) })
	if len(codes) != auth.RecoveryCodeCount {
		t.Fatalf("%d recovery codes shown, want %d", len(codes), auth.RecoveryCodeCount)
	}
	return secret, codes
}

// signInWithPassword posts the password step and returns the response.
func signInWithPassword(t *testing.T, env *apptest.Env, name, pw, next string) (*apptest.Client, *apptest.Response) {
	t.Helper()
	c := env.Anonymous(t)
	c.Get(t, "/signin")
	form := url.Values{"username": {name}, "password": {pw}}
	if next != "" {
		form.Set("next", next)
	}
	return c, c.PostForm(t, "/signin", form)
}

func TestSecondFactorEnrolAndSignIn(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "otto", auth.RoleOperator)
	c := env.SignIn(t, "otto", pw)

	// A wrong first code does not turn the factor on, and is audited.
	c.Get(t, "/account")
	c.PostForm(t, "/account/factor", nil)
	if r := c.PostForm(t, "/account/factor/confirm", url.Values{"code": {"000000"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("wrong first code: %d", r.Status)
	}
	if ev := auditEvents(t, env, auth.EventFactorFailure); len(ev) != 1 || ev[0].Actor != "otto" {
		t.Fatalf("mfa.failure events %+v", ev)
	}
	secret, codes := enrol(t, c)
	if ev := auditEvents(t, env, auth.EventFactorEnrolled); len(ev) != 1 || ev[0].Detail["user"] != "otto" {
		t.Fatalf("mfa.enrolled events %+v", ev)
	}
	for _, e := range auditEvents(t, env) {
		for _, v := range e.Detail {
			if strings.Contains(v, secret) || strings.Contains(v, codes[0]) {
				t.Fatalf("audit entry %s carries the secret or a recovery code", e.Kind)
			}
		}
	}
	if strings.Contains(env.Logs.String(), secret) {
		t.Fatal("the TOTP secret reached the log")
	}

	// Signing in now asks for the code after the password.
	c2, r := signInWithPassword(t, env, "otto", pw, "/batches")
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/signin/code?next=%2Fbatches" {
		t.Fatalf("password step: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if r := c2.Get(t, "/servers"); r.Status != http.StatusSeeOther {
		t.Fatalf("before the code: /servers %d, want 303 to sign in", r.Status)
	}
	page := c2.Get(t, "/signin/code?next=%2Fbatches")
	if page.Status != 200 || page.Doc(t).Find(`label[for="signin-code"]`).Text() != "Authentication code" {
		t.Fatalf("code page: %d", page.Status)
	}
	if r := c2.PostForm(t, "/signin/code", url.Values{"code": {"000000"}, "next": {"/batches"}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", r.Status)
	}
	f := auditEvents(t, env, auth.EventSigninFailure)
	if len(f) != 1 || f[0].Detail["reason"] != auth.ReasonWrongCode || f[0].Detail["step"] != "second_factor" || f[0].Actor != "otto" {
		t.Fatalf("signin.failure events %+v", f)
	}
	// The next step's code: the current one was used to confirm.
	code := totpCode(t, secret, time.Now().Add(30*time.Second))
	r = c2.PostForm(t, "/signin/code", url.Values{"code": {code}, "next": {"/batches"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/batches" {
		t.Fatalf("right code: %d to %q", r.Status, r.Header.Get("Location"))
	}
	if r := c2.Get(t, "/servers"); r.Status != 200 {
		t.Fatalf("after the code: /servers %d", r.Status)
	}
	ok := auditEvents(t, env, auth.EventSigninSuccess)
	if last := ok[len(ok)-1]; last.Actor != "otto" || last.Detail["second_factor"] != auth.MethodTOTP {
		t.Fatalf("signin.success %+v, want otto with totp", last)
	}

	// The same code again (a replay) is refused.
	c3, _ := signInWithPassword(t, env, "otto", pw, "")
	c3.Get(t, "/signin/code")
	if r := c3.PostForm(t, "/signin/code", url.Values{"code": {code}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d, want 401", r.Status)
	}
	if f := auditEvents(t, env, auth.EventSigninFailure); f[len(f)-1].Detail["reason"] != auth.ReasonCodeReuse {
		t.Fatalf("replay recorded as %+v", f[len(f)-1])
	}
	// A recovery code signs in, once.
	if r := c3.PostForm(t, "/signin/code", url.Values{"code": {codes[0]}}); r.Status != http.StatusSeeOther {
		t.Fatalf("recovery code: %d", r.Status)
	}
	if ev := auditEvents(t, env, auth.EventRecoveryCodeUsed); len(ev) != 1 || ev[0].Detail["recovery_codes_left"] != "9" {
		t.Fatalf("mfa.recovery_code_used events %+v", ev)
	}
	c4, _ := signInWithPassword(t, env, "otto", pw, "")
	c4.Get(t, "/signin/code")
	if r := c4.PostForm(t, "/signin/code", url.Values{"code": {codes[0]}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("recovery code used twice: %d, want 401", r.Status)
	}
}

func TestWrongCodesAreDelayed(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "otto", auth.RoleOperator)
	secret, _ := enrol(t, env.SignIn(t, "otto", pw))
	c, _ := signInWithPassword(t, env, "otto", pw, "")
	c.Get(t, "/signin/code")
	for i := range 3 {
		if r := c.PostForm(t, "/signin/code", url.Values{"code": {"111111"}}); r.Status != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i+1, r.Status)
		}
	}
	if r := c.PostForm(t, "/signin/code", url.Values{"code": {"111111"}}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("fourth wrong code: %d, want 429", r.Status)
	}
	// During the delay even the right code is not checked.
	if r := c.PostForm(t, "/signin/code", url.Values{"code": {totpCode(t, secret, time.Now().Add(30*time.Second))}}); r.Status != http.StatusTooManyRequests {
		t.Fatalf("right code during the delay: %d, want 429", r.Status)
	}
	if ev := auditEvents(t, env, auth.EventSigninLocked); len(ev) != 2 || ev[0].Detail["step"] != "second_factor" {
		t.Fatalf("signin.locked events %+v", ev)
	}
}

func TestFactorRequiredByRole(t *testing.T) {
	env := apptest.New(t, func(c *config.Config) { c.MFARequired = []string{"operator"} })
	op := env.As(t, auth.RoleOperator)
	// Pages lead to enrolment; nothing else is possible.
	if r := op.Get(t, "/servers"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
		t.Fatalf("/servers before enrolment: %d to %q", r.Status, r.Header.Get("Location"))
	}
	doc := op.Get(t, "/account").Doc(t)
	if !strings.Contains(doc.Find(`#factor [role="alert"]`).Text(), "must use a second factor") {
		t.Fatal("account page does not say a factor is required")
	}
	if doc.Find(`form[action="/account/password"]`).Length() != 0 {
		t.Fatal("password form offered before enrolment")
	}
	if r := op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {string(modelarts.BatchStop)}}); r.Status != http.StatusForbidden {
		t.Fatalf("preview before enrolment: %d, want 403", r.Status)
	}
	if r := op.PostForm(t, "/account/password", url.Values{"current_password": {"x"}}); r.Status != http.StatusForbidden {
		t.Fatalf("password change before enrolment: %d, want 403", r.Status)
	}
	denied := auditEvents(t, env, auth.EventAccessDenied)
	if len(denied) != 2 || denied[0].Detail["reason"] != "second_factor_required" {
		t.Fatalf("access.denied %+v", denied)
	}
	// A viewer (not listed) is not asked.
	if r := env.As(t, auth.RoleViewer).Get(t, "/servers"); r.Status != 200 {
		t.Fatalf("viewer: %d", r.Status)
	}
	enrol(t, op)
	if r := op.Get(t, "/servers"); r.Status != 200 {
		t.Fatalf("/servers after enrolment: %d", r.Status)
	}
	// An admin resets the factor (lost device): the operator must enrol again.
	u, _ := env.App.Users().GetByName(context.Background(), "operator1")
	admin := env.As(t, auth.RoleAdmin)
	admin.Get(t, "/users")
	if r := admin.PostForm(t, "/users/"+itoa(u.ID)+"/factor/reset", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("reset: %d", r.Status)
	}
	if ev := auditEvents(t, env, auth.EventFactorReset); len(ev) != 1 || ev[0].Actor != "admin" || ev[0].Detail["user"] != "operator1" {
		t.Fatalf("mfa.reset events %+v", ev)
	}
	if r := op.Get(t, "/servers"); r.Status != http.StatusSeeOther {
		t.Fatalf("/servers after reset: %d, want 303 to enrolment", r.Status)
	}
}

func TestSessionsOnAccountPage(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "sam", auth.RoleViewer)
	laptop := env.SignIn(t, "sam", pw)
	phone := env.SignIn(t, "sam", pw)
	doc := laptop.Get(t, "/account").Doc(t)
	rows := doc.Find(`table[aria-label="Your sessions"] tbody tr`)
	if rows.Length() != 2 {
		t.Fatalf("%d sessions listed, want 2", rows.Length())
	}
	if !strings.Contains(rows.Text(), "127.0.0.1") || !strings.Contains(rows.Text(), "(this session)") {
		t.Fatalf("sessions table: %s", rows.Text())
	}
	// End the other one (the row not marked as this session).
	var other string
	rows.Each(func(_ int, s *goquery.Selection) {
		if !strings.Contains(s.Text(), "(this session)") {
			other, _ = s.Find(`input[name="session"]`).Attr("value")
		}
	})
	if r := laptop.PostForm(t, "/account/sessions/end", url.Values{"session": {other}}); r.Status != http.StatusSeeOther {
		t.Fatalf("end session: %d", r.Status)
	}
	if r := phone.Get(t, "/servers"); r.Status != http.StatusSeeOther {
		t.Fatalf("ended session still works: %d", r.Status)
	}
	if r := laptop.Get(t, "/servers"); r.Status != 200 {
		t.Fatalf("this session ended too: %d", r.Status)
	}
	if ev := auditEvents(t, env, auth.EventSessionEnded); len(ev) != 1 || ev[0].Detail["current"] != "false" {
		t.Fatalf("session.ended events %+v", ev)
	}
	// Someone else's session handle does nothing.
	mallory := env.As(t, auth.RoleViewer)
	mine, _ := laptop.Get(t, "/account").Doc(t).Find(`input[name="session"]`).Attr("value")
	mallory.Get(t, "/account")
	mallory.PostForm(t, "/account/sessions/end", url.Values{"session": {mine}})
	if r := laptop.Get(t, "/servers"); r.Status != 200 {
		t.Fatalf("another user ended sam's session: %d", r.Status)
	}
	// An admin ends all of sam's sessions.
	u, _ := env.App.Users().GetByName(context.Background(), "sam")
	admin := env.As(t, auth.RoleAdmin)
	admin.Get(t, "/users")
	if r := admin.PostForm(t, "/users/"+itoa(u.ID)+"/sessions/end", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("admin ends sessions: %d", r.Status)
	}
	if r := laptop.Get(t, "/servers"); r.Status != http.StatusSeeOther {
		t.Fatalf("sam still signed in after the admin ended his sessions: %d", r.Status)
	}
	if ev := auditEvents(t, env, auth.EventUserSessions); len(ev) != 1 || ev[0].Detail["user"] != "sam" || ev[0].Detail["ended_logins"] != "1" {
		t.Fatalf("user.sessions_ended events %+v", ev)
	}
}

// TestWrongCurrentPasswordIsAudited: /account/password counts and audits a
// wrong current password like a failed sign-in, and the delay it causes.
func TestWrongCurrentPasswordIsAudited(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "pat", auth.RoleViewer)
	c := env.SignIn(t, "pat", pw)
	c.Get(t, "/account")
	form := url.Values{"current_password": {"not my password"}, "new_password": {"a brand new password"}, "repeat_password": {"a brand new password"}}
	for range 3 {
		if r := c.PostForm(t, "/account/password", form); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong current password: %d", r.Status)
		}
	}
	if r := c.PostForm(t, "/account/password", form); r.Status != http.StatusTooManyRequests {
		t.Fatalf("fourth wrong current password: %d, want 429", r.Status)
	}
	f := auditEvents(t, env, auth.EventSigninFailure)
	if len(f) != 4 || f[0].Actor != "pat" || f[0].Detail["step"] != "account_password" || f[0].Detail["reason"] != auth.ReasonWrongPassword {
		t.Fatalf("signin.failure events %+v", f)
	}
	if l := auditEvents(t, env, auth.EventSigninLocked); len(l) != 1 || l[0].Detail["started_by_this_attempt"] != "true" || l[0].Detail["step"] != "account_password" {
		t.Fatalf("signin.locked events %+v", l)
	}
}

// TestTokensOnlyFromTheBody: a CSRF token or a prepared action's token in
// the query string is never accepted.
func TestTokensOnlyFromTheBody(t *testing.T) {
	e := newActionEnv(t)
	op := e.op
	op.Get(t, "/servers")
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if r := op.Do(t, http.MethodPost, "/selection/clear?_csrf="+url.QueryEscape(op.CSRF), strings.NewReader(""), h); r.Status != http.StatusForbidden {
		t.Fatalf("CSRF token in the query string: %d, want 403", r.Status)
	}
	if r := op.Do(t, http.MethodPost, "/selection/clear", strings.NewReader(url.Values{"_csrf": {op.CSRF}}.Encode()), h); r.Status != http.StatusSeeOther {
		t.Fatalf("CSRF token in the body: %d, want 303", r.Status)
	}
	servers := e.pick(t, 1, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	e.selectServers(t, "operator1", idsOf(servers)...)
	_, token := e.preview(t, op, modelarts.BatchReboot)
	body := strings.NewReader(url.Values{"_csrf": {op.CSRF}}.Encode())
	if r := op.Do(t, http.MethodPost, "/actions/execute?token="+url.QueryEscape(token), body, h); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("preview token in the query string: %d, want 422", r.Status)
	}
	if n := e.sim.MutatingRequests(); n != 0 {
		t.Fatalf("%d requests sent with a token from the query string", n)
	}
}
