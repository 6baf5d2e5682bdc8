package e2e

import (
	"testing"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
)

// Journey 2: a viewer sees the fleet but no action bar; a forged action POST
// from the viewer's own session, with a valid CSRF token, is refused with
// 403, sends nothing to ModelArts and is recorded in the audit log as
// access denied.
func TestViewerCannotAct(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "vera", auth.RoleViewer)
	page := newPage(t, c)
	signIn(t, page, "vera", userPassword)

	running := c.pickServers(t, "RUNNING", 1)
	openFleet(t, page, "")
	must(t, expect.Locator(page.GetByRole("rowheader", playwright.PageGetByRoleOptions{Name: running[0].Name, Exact: playwright.Bool(true)})).ToBeVisible(), "the viewer sees the fleet's servers")
	must(t, expect.Locator(rowCheckbox(page, running[0].Name)).ToHaveCount(0), "a viewer, who cannot act, gets no selection checkboxes")
	for _, action := range []string{"Start", "Stop", "Reboot", "Change OS", "Reinstall OS", "Delete"} {
		must(t, expect.Locator(button(page, action)).ToHaveCount(0), "a viewer has no "+action+" button")
	}
	must(t, expect.Locator(page.GetByRole("form", playwright.PageGetByRoleOptions{Name: "Actions on the selected servers"})).ToHaveCount(0), "a viewer has no action bar")

	token, err := page.Locator(`meta[name="csrf-token"]`).GetAttribute("content")
	must(t, err, "read the CSRF token of the page")
	if token == "" {
		t.Fatal("the page publishes no CSRF token")
	}
	// The forged request rides on the viewer's session (the browser
	// context's cookies) and carries a valid token: only the role stops it.
	for _, forged := range []struct{ path, action string }{
		{"/actions/preview", "STOP"},
		{"/actions/execute", "DELETE"},
	} {
		resp, err := page.Context().Request().Post(c.URL+forged.path, playwright.APIRequestContextPostOptions{
			Form:         map[string]any{"_csrf": token, "action": forged.action, "token": "forged", "confirm": forged.action},
			Headers:      map[string]string{"X-CSRF-Token": token, "HX-Request": "true"},
			MaxRedirects: playwright.Int(0),
		})
		must(t, err, "forged POST "+forged.path)
		if resp.Status() != 403 {
			t.Errorf("forged POST %s from a viewer's session: status %d, want 403", forged.path, resp.Status())
		}
	}
	requireNothingSent(t, c, "after the forged POSTs")

	denied := auditEntries(t, c, audit.Filter{Actor: "vera", Action: string(audit.EventAccessDenied)})
	if len(denied) < 2 {
		t.Fatalf("audit log: %d access.denied entries for vera, want one per forged POST (2)", len(denied))
	}
	for _, e := range denied {
		if e.Kind != audit.EventAccessDenied || e.Actor.Role != string(auth.RoleViewer) {
			t.Errorf("audit entry %d: kind %s, role %q; want access.denied by a viewer", e.ID, e.Kind, e.Actor.Role)
		}
	}

	// The viewer's session still works after being refused.
	openFleet(t, page, "")
	must(t, expect.Locator(button(page, "Sign out")).ToBeVisible(), "the viewer is still signed in")
}
