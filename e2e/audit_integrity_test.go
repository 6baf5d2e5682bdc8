package e2e

import (
	"database/sql"
	"fmt"
	"regexp"
	"testing"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
)

// Journey: the integrity badge is never stale. An approver sees exactly
// which entries were verified; someone with access to the database file
// drops the append-only trigger and edits an entry over a connection of
// their own; on the next view of /audit the badge is red, names the entry,
// and its row is marked, without anyone pressing "Verify now".
func TestIntegrityBadgeTurnsRedAfterAnEdit(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "april", auth.RoleApprover)
	page := newPage(t, c)
	signIn(t, page, "april", userPassword)
	must(t, link(page, "Audit log").Click(), "open the audit log")
	badge := page.GetByTestId("chain-status")
	must(t, expect.Locator(badge).ToContainText(regexp.MustCompile(`Entries #1–#\d+ verified at .*UTC\.`)), "the badge says which entries were verified and when")

	var victim int64
	if err := c.App.DB().Read.Get(&victim, `SELECT id FROM audit_entries WHERE kind = 'signin.success' ORDER BY id DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+c.App.DB().Path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER audit_entries_no_update`,
		fmt.Sprintf(`UPDATE audit_entries SET client_ip = '203.0.113.66' WHERE id = %d`, victim)} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	_, err = page.Reload()
	must(t, err, "view the audit log again")
	must(t, expect.Locator(badge).ToHaveAttribute("role", "alert"), "the badge is an alert")
	must(t, expect.Locator(badge).ToContainText("Chain broken"), "the badge turned red")
	must(t, expect.Locator(badge.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: fmt.Sprintf("#%d", victim)})).ToBeVisible(), "the badge links the broken entry")
	row := page.Locator(fmt.Sprintf(`tr[data-entry-id="%d"]`, victim))
	must(t, expect.Locator(row).ToHaveClass(regexp.MustCompile(`audit-broken`)), "the edited entry's row is marked")
	must(t, expect.Locator(row).ToContainText("Integrity check failed"), "the row says why")
}
