package e2e

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// Journey 9: an approver reviews an operator's Reinstall OS in /audit:
// filters by actor and action, opens the entry and sees the request and
// response with admin_pass redacted, and downloads the CSV export of
// exactly those rows.
func TestApproverReviewsAudit(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "ozzy", auth.RoleOperator)
	createUser(t, c.App, "april", auth.RoleApprover)
	const secret = "Strong-Pass-42"
	if err := modelarts.ValidatePassword(secret, "root"); err != nil {
		t.Fatalf("test premise: %q must be a valid admin password: %v", secret, err)
	}

	// The operator reinstalls a server with an admin password.
	op := newPage(t, c)
	signIn(t, op, "ozzy", userPassword)
	target := c.pickServers(t, modelarts.StatusStopped, 1)
	openFleet(t, op, "")
	selectServers(t, op, target)
	choose(t, op, "Reinstall OS")
	must(t, op.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "Password", Exact: playwright.Bool(true)}).Check(), "log in with a password")
	must(t, op.GetByLabel("Admin password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(secret), "type the admin password")
	d := openConfirm(t, op)
	confirmWith(t, op, d, "REINSTALLOS")
	waitForBatchPage(t, op)
	waitBatchFinished(t, op)
	if sent := c.sentRequests(); len(sent) != 1 || !strings.Contains(string(sent[0].Body), secret) {
		t.Fatalf("test premise: the cloud should have received the password in one request (got %d requests)", len(sent))
	}

	// The approver reviews it.
	page := newPage(t, c)
	signIn(t, page, "april", userPassword)
	must(t, link(page, "Audit log").Click(), "open the audit log")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/audit$`)), "the audit log is at /audit")
	must(t, page.GetByLabel("Actor").Fill("ozzy"), "filter by actor")
	_, err := page.GetByLabel("Action type").SelectOption(playwright.SelectOptionValues{Labels: &[]string{"Reinstall OS"}})
	must(t, err, "filter by action")
	must(t, button(page, "Apply filters").Click(), "apply the filters")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`actor=ozzy`)), "the actor filter is in the URL")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`action=REINSTALLOS`)), "the action filter is in the URL")

	rows := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Audit entries"}).Locator("tbody tr[data-entry-id]")
	must(t, expect.Locator(rows).ToHaveCount(2), "the filter leaves the call's request and response")
	shown, err := rows.EvaluateAll(`rows => rows.map(r => r.dataset.entryId)`)
	must(t, err, "read the listed entry ids")
	var listed []string
	for _, v := range shown.([]any) {
		listed = append(listed, v.(string))
	}
	slices.Sort(listed)
	for i := range 2 {
		must(t, expect.Locator(rows.Nth(i)).ToContainText("ozzy"), "each row is by ozzy")
		must(t, expect.Locator(rows.Nth(i)).ToContainText("Reinstall OS"), "each row is a Reinstall OS")
	}
	filteredURL := page.URL()

	must(t, rows.Filter(playwright.LocatorFilterOptions{HasText: "Request sent"}).GetByRole("link").First().Click(), "open the request entry")
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToContainText("Reinstall OS call"), "the detail page of the call")
	request := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Request", Exact: playwright.Bool(true)})
	response := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Response", Exact: playwright.Bool(true)})
	must(t, expect.Locator(request).ToContainText(`"admin_pass": "[REDACTED]"`), "the request body is shown with admin_pass redacted")
	must(t, expect.Locator(request).ToContainText(target[0].ID), "the request body names the server")
	must(t, expect.Locator(response).ToContainText("Success"), "the response is shown beside it")
	must(t, expect.Locator(response).ToContainText("X-Request-Id"), "the response shows its request id")
	body, err := page.Content()
	must(t, err, "read the page")
	if strings.Contains(body, secret) {
		t.Errorf("the audit detail page contains the admin password")
	}

	_, err = page.Goto(filteredURL)
	must(t, err, "back to the filtered log")
	dl, err := page.ExpectDownload(func() error { return link(page, "Export CSV").Click() })
	must(t, err, "download the CSV export")
	file := filepath.Join(t.TempDir(), "audit.csv")
	must(t, dl.SaveAs(file), "save the download")
	if !strings.HasSuffix(dl.SuggestedFilename(), ".csv") {
		t.Errorf("the export is named %q, want a .csv file", dl.SuggestedFilename())
	}
	raw, err := os.ReadFile(file)
	must(t, err, "read the export")
	if strings.Contains(string(raw), secret) {
		t.Errorf("the CSV export contains the admin password")
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	must(t, err, "parse the CSV export")
	if len(recs) < 1 {
		t.Fatal("the CSV export is empty: no header")
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var exported []string
	for _, r := range recs[1:] {
		exported = append(exported, r[col["id"]])
		if r[col["actor_name"]] != "ozzy" || r[col["action"]] != string(modelarts.BatchReinstallOS) {
			t.Errorf("exported row %s: actor %q action %q, want only ozzy's REINSTALLOS", r[col["id"]], r[col["actor_name"]], r[col["action"]])
		}
		if r[col["kind"]] == "request" && !strings.Contains(r[col["request_body"]], `"admin_pass":"[REDACTED]"`) && !strings.Contains(r[col["request_body"]], `"admin_pass": "[REDACTED]"`) {
			t.Errorf("exported request body does not show admin_pass redacted: %s", r[col["request_body"]])
		}
	}
	slices.Sort(exported)
	if diff := cmp.Diff(listed, exported); diff != "" {
		t.Errorf("the export holds other rows than the filtered page (-page +export):\n%s", diff)
	}
}
