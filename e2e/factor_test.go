package e2e

import (
	"strings"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"
	"github.com/pquerna/otp/totp"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
)

// Journey: an operator whose role must use a second factor signs in, is
// sent to set one up, scans (here: reads) the key, confirms it with a code
// and gets recovery codes; signing in again asks for the code after the
// password, and the code from the key shown as text signs them in.
func TestSecondFactorJourney(t *testing.T) {
	c := startConsole(t, func(cfg *config.Config) { cfg.MFARequired = []string{"operator"} })
	createUser(t, c.App, "tove", auth.RoleOperator)
	page := newPage(t, c)

	gotoPath(t, page, "/")
	fillSignIn(t, page, "tove", userPassword)
	must(t, expect.Page(page).ToHaveURL(c.URL+"/account"), "a user without the required factor lands on enrolment")
	must(t, expect.Locator(page.GetByRole("alert").Filter(playwright.LocatorFilterOptions{HasText: "must use a second factor"})).ToBeVisible(), "the page says a factor is required")
	gotoPath(t, page, "/servers")
	must(t, expect.Page(page).ToHaveURL(c.URL+"/account"), "the fleet is out of reach before enrolment")

	must(t, button(page, "Set up two-factor authentication").Click(), "start the set-up")
	qr := page.GetByRole("img", playwright.PageGetByRoleOptions{Name: "QR code for your authenticator app"})
	must(t, expect.Locator(qr).ToBeVisible(), "a QR code is shown")
	loaded, err := qr.Evaluate("img => img.complete && img.naturalWidth > 0", nil)
	must(t, err, "inspect the QR image")
	if loaded != true {
		t.Fatal("the QR code image did not load (blocked by the CSP?)")
	}
	secret, err := page.GetByLabel("Secret key").TextContent()
	must(t, err, "read the key shown as text")
	secret = strings.TrimSpace(secret)
	if len(secret) < 16 {
		t.Fatalf("key shown as text: %q", secret)
	}

	code, err := totp.GenerateCode(secret, time.Now())
	must(t, err, "compute a code")
	must(t, page.GetByLabel("Authentication code", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(code), "fill Authentication code")
	must(t, button(page, "Turn on two-factor authentication").Click(), "confirm the factor")
	codes := page.GetByRole("list", playwright.PageGetByRoleOptions{Name: "Recovery codes"}).GetByRole("listitem")
	must(t, expect.Locator(codes).ToHaveCount(auth.RecoveryCodeCount), "ten recovery codes are shown")

	gotoPath(t, page, "/servers")
	must(t, expect.Page(page).ToHaveURL(c.URL+"/servers"), "the fleet is reachable after enrolment")
	must(t, button(page, "Sign out").Click(), "sign out")

	// Signing in again: password, then the code.
	fillSignIn(t, page, "tove", userPassword)
	field := page.GetByLabel("Authentication code", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
	must(t, expect.Locator(field).ToBeVisible(), "the code is asked for after the password")
	must(t, expect.Locator(button(page, "Sign out")).Not().ToBeAttached(), "not signed in before the code")
	// The code used to confirm is spent; the app's next code is accepted.
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	must(t, err, "compute the next code")
	must(t, field.Fill(next), "fill Authentication code")
	must(t, button(page, "Verify").Click(), "submit the code")
	must(t, expect.Locator(button(page, "Sign out")).ToBeVisible(), "signed in with the second factor")
	must(t, expect.Locator(page.GetByText("tove (operator)")).ToBeVisible(), "the header names the user")

	// The account page lists this session.
	gotoPath(t, page, "/account")
	sessions := page.GetByRole("table", playwright.PageGetByRoleOptions{Name: "Your sessions"}).GetByRole("row")
	must(t, expect.Locator(sessions.Filter(playwright.LocatorFilterOptions{HasText: "(this session)"})).ToHaveCount(1), "this session is listed")
}
