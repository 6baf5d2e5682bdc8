package e2e

import (
	"strings"
	"testing"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
)

// Journey 1: the bootstrap admin signs in for the first time; a wrong
// password (or an unknown user) gets one generic message that does not say
// which part was wrong.
func TestSignInBootstrapAdmin(t *testing.T) {
	c := startConsole(t)
	page := newPage(t, c)

	gotoPath(t, page, "/")
	must(t, expect.Locator(page.GetByLabel("Username", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeVisible(), "a signed-out visitor sees the sign-in form")
	must(t, expect.Locator(button(page, "Sign out")).Not().ToBeAttached(), "no Sign out button before signing in")

	alert := page.GetByRole("alert")
	failures := []struct{ name, user, pass string }{
		{name: "wrong password", user: adminName, pass: "not-the-admin-password"},
		{name: "unknown user", user: "nobody-here", pass: adminPassword},
	}
	messages := map[string]string{}
	for _, f := range failures {
		fillSignIn(t, page, f.user, f.pass)
		must(t, expect.Locator(alert).ToBeVisible(), f.name+": an error is shown")
		msg, err := alert.First().TextContent()
		must(t, err, "read the error")
		messages[f.name] = strings.TrimSpace(msg)
		must(t, expect.Locator(button(page, "Sign out")).Not().ToBeAttached(), f.name+": still signed out")
		if got, _ := page.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).InputValue(); got != "" {
			t.Errorf("%s: the password field is filled again with %q after a failure", f.name, got)
		}
	}
	if messages["wrong password"] != messages["unknown user"] {
		t.Errorf("sign-in errors differ, telling an attacker which users exist:\n wrong password: %q\n unknown user:   %q",
			messages["wrong password"], messages["unknown user"])
	}
	for _, leak := range []string{"not-the-admin-password", "nobody-here"} {
		if strings.Contains(messages["wrong password"]+messages["unknown user"], leak) {
			t.Errorf("the sign-in error repeats what was typed (%q)", leak)
		}
	}

	fillSignIn(t, page, adminName, adminPassword)
	must(t, expect.Locator(button(page, "Sign out")).ToBeVisible(), "the admin is signed in")
	must(t, expect.Locator(page.GetByText(adminName+" (admin)")).ToBeVisible(), "the header names the signed-in admin")
	must(t, expect.Locator(page.GetByRole("note").Filter(playwright.LocatorFilterOptions{HasText: "simulator"})).ToBeVisible(), "every page says it runs on the simulator")
}

// Journey 10: signing out ends the session on the server: the cookie the
// browser held before is refused afterwards, even when replayed.
func TestSignOutEndsSession(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "olga", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "olga", userPassword)

	before, err := page.Context().Cookies()
	must(t, err, "read cookies")
	var session *playwright.Cookie
	for i := range before {
		if before[i].Name == auth.SessionCookieName {
			session = &before[i]
		}
	}
	if session == nil {
		t.Fatalf("no %s cookie after sign-in (cookies: %v)", auth.SessionCookieName, cookieNames(before))
	}
	if !session.HttpOnly {
		t.Errorf("the session cookie is readable by scripts (HttpOnly not set)")
	}

	// The stolen cookie works while the session lives...
	thief := newPage(t, c)
	must(t, thief.Context().AddCookies([]playwright.OptionalCookie{session.ToOptionalCookie()}), "plant the cookie")
	gotoPath(t, thief, "/servers")
	must(t, expect.Locator(button(thief, "Sign out")).ToBeVisible(), "the copied cookie is a live session before sign-out")

	must(t, button(page, "Sign out").Click(), "click Sign out")
	must(t, expect.Locator(page.GetByLabel("Username", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeVisible(), "after sign-out the sign-in form is shown")
	gotoPath(t, page, "/servers")
	must(t, expect.Locator(button(page, "Sign out")).Not().ToBeAttached(), "the browser that signed out is signed out")

	// ...and is useless afterwards, in a browser and from a script.
	gotoPath(t, thief, "/servers")
	must(t, expect.Locator(thief.GetByLabel("Username", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeVisible(), "the old cookie leads to the sign-in form")
	must(t, expect.Locator(button(thief, "Sign out")).Not().ToBeAttached(), "the old cookie is not a session any more")

	req := thief.Context().Request()
	resp, err := req.Get(c.URL+"/servers", playwright.APIRequestContextGetOptions{
		Headers:      map[string]string{"Cookie": auth.SessionCookieName + "=" + session.Value},
		MaxRedirects: playwright.Int(0),
	})
	must(t, err, "GET /servers with the old cookie")
	if resp.Status() == 200 {
		t.Errorf("GET /servers with the old session cookie: 200, want a redirect to sign-in or 401")
	}
}

func cookieNames(cs []playwright.Cookie) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}
