package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

// batchURL matches the batch page a run action leads to.
var batchURL = regexp.MustCompile(`/batches/[^/?#]+$`)

// openFleet opens the fleet page (with an optional query such as
// "?status=STOPPED") and waits for its table.
func openFleet(t *testing.T, page playwright.Page, query string) {
	t.Helper()
	gotoPath(t, page, "/servers"+query)
	must(t, expect.Locator(page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Servers", Exact: playwright.Bool(true)})).ToBeVisible(), "the fleet table is shown")
}

// selectServers ticks each server's row checkbox on the fleet page and waits
// until the action bar counts them.
func selectServers(t *testing.T, page playwright.Page, servers []modelarts.ServerResponse) {
	t.Helper()
	for _, s := range servers {
		must(t, rowCheckbox(page, s.Name).Check(), "tick "+s.Name)
	}
	want := fmt.Sprintf("%d servers selected", len(servers))
	if len(servers) == 1 {
		want = "1 server selected"
	}
	must(t, expect.Locator(selectionCount(page, want)).ToBeVisible(), "the action bar counts the selection: "+want)
}

// selectionCount is the action bar's "N servers selected" text.
func selectionCount(page playwright.Page, text string) playwright.Locator {
	return page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Selection and actions"}).
		GetByText(text, playwright.LocatorGetByTextOptions{Exact: playwright.Bool(true)})
}

// choose presses an action button of the action bar and waits for its
// preview.
func choose(t *testing.T, page playwright.Page, action string) playwright.Locator {
	t.Helper()
	must(t, button(page, action).Click(), "press "+action)
	preview := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: action + ": preview", Exact: playwright.Bool(true)})
	must(t, expect.Locator(preview).ToBeVisible(), action+": the preview is shown")
	return preview
}

// previewRow is the preview table's row of a server.
func previewRow(page playwright.Page, preview playwright.Locator, name string) playwright.Locator {
	return preview.GetByRole("row").Filter(playwright.LocatorFilterOptions{
		Has: page.GetByRole("rowheader", playwright.PageGetByRoleOptions{Name: name}),
	})
}

// batchRow is the batch page's row of a server.
func batchRow(page playwright.Page, name string) playwright.Locator {
	return page.Locator("#batch-status").GetByRole("row").Filter(playwright.LocatorFilterOptions{
		Has: page.GetByRole("rowheader", playwright.PageGetByRoleOptions{Name: name}),
	})
}

// expectBatchStatus waits (up to 20 s, without reloading) until the batch
// page shows the server's current status as st. The "Now" / "Final status"
// column is the row's second data cell; its badge carries the raw status.
func expectBatchStatus(t *testing.T, page playwright.Page, name string, st modelarts.Status) {
	t.Helper()
	badge := batchRow(page, name).GetByRole("cell").Nth(1).Locator("[data-status]")
	must(t, expect.Locator(badge).ToHaveAttribute("data-status", string(st), playwright.LocatorAssertionsToHaveAttributeOptions{Timeout: playwright.Float(20000)}),
		name+" reaches "+string(st)+" on the batch page")
}

// waitForBatchPage waits until page shows a batch and returns its id.
func waitForBatchPage(t *testing.T, page playwright.Page) string {
	t.Helper()
	must(t, expect.Page(page).ToHaveURL(batchURL), "the action leads to its batch page")
	m := regexp.MustCompile(`/batches/([^/?#]+)$`).FindStringSubmatch(page.URL())
	if m == nil {
		t.Fatalf("not a batch page: %s", page.URL())
	}
	return m[1]
}

// markPage plants a marker in the page's window: it survives htmx swaps but
// not a reload or navigation, so pageNotReloaded proves the page updated in
// place.
func markPage(t *testing.T, page playwright.Page) {
	t.Helper()
	_, err := page.Evaluate(`() => { window.__e2eMark = "still here"; }`)
	must(t, err, "mark the page")
}

func pageNotReloaded(t *testing.T, page playwright.Page) {
	t.Helper()
	v, err := page.Evaluate(`() => window.__e2eMark`)
	must(t, err, "read the page mark")
	if v != "still here" {
		t.Errorf("the page was reloaded or left (mark %v); it should update in place", v)
	}
}

// waitBatchFinished waits (on the page, without reloading) until the batch
// says every server has settled (the status region stops polling then; the
// check holds in every language).
func waitBatchFinished(t *testing.T, page playwright.Page) {
	t.Helper()
	must(t, expect.Locator(page.Locator("#batch-status:not([hx-get]) .batch-progress")).ToBeVisible(playwright.LocatorAssertionsToBeVisibleOptions{Timeout: playwright.Float(20000)}),
		"the batch page reports the batch finished")
}

// sentBatch decodes a recorded batch action request.
func sentBatch(t *testing.T, r simulator.RecordedRequest) modelarts.BatchRequest {
	t.Helper()
	var b modelarts.BatchRequest
	if err := json.Unmarshal(r.Body, &b); err != nil {
		t.Fatalf("decode the request body the simulator received (%s %s): %v\n%s", r.Method, r.Path, err, r.Body)
	}
	return b
}

// batchIDs returns the sorted server ids of a batch request.
func batchIDs(b modelarts.BatchRequest) []string {
	out := make([]string, len(b.Servers))
	for i, s := range b.Servers {
		out[i] = s.ID
	}
	slices.Sort(out)
	return out
}

// auditEntries lists the audit entries matching f, newest first.
func auditEntries(t *testing.T, c *console, f audit.Filter) []audit.Entry {
	t.Helper()
	entries, _, err := c.App.Audit().List(context.Background(), f, 0, audit.MaxPageSize)
	if err != nil {
		t.Fatalf("list audit entries %+v: %v", f, err)
	}
	return entries
}

// ofKind keeps the entries of one kind.
func ofKind(entries []audit.Entry, k audit.EventKind) []audit.Entry {
	var out []audit.Entry
	for _, e := range entries {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// requireNothingSent fails t when the simulator received any state-changing
// request or the audit log holds a request entry.
func requireNothingSent(t *testing.T, c *console, when string) {
	t.Helper()
	if got := c.sentRequests(); len(got) > 0 {
		t.Errorf("%s: the simulator received %d state-changing request(s), want none (first: %s %s %s)", when, len(got), got[0].Method, got[0].Path, got[0].Body)
	}
	if reqs := ofKind(auditEntries(t, c, audit.Filter{}), audit.KindRequest); len(reqs) > 0 {
		t.Errorf("%s: the audit log has %d request entries, want none (first: %s %s)", when, len(reqs), reqs[0].Action, reqs[0].URL)
	}
}

// waitStatus waits until the simulator reports every server in st.
func (c *console) waitStatus(t *testing.T, servers []modelarts.ServerResponse, st modelarts.Status) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "servers reach "+string(st), func() error {
		for _, s := range servers {
			if got := c.status(s.ID); got != st {
				return fmt.Errorf("%s is %q", s.Name, got)
			}
		}
		return nil
	})
}
