package e2e

import (
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// Journey 3: an operator filters the fleet to RUNNING, selects two servers,
// stops them, and watches both reach STOPPED on the batch page, which
// updates itself without a reload.
func TestStopTwoRunning(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "otto", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "otto", userPassword)
	targets := c.pickServers(t, modelarts.StatusRunning, 2)

	openFleet(t, page, "")
	_, err := page.GetByRole("combobox", playwright.PageGetByRoleOptions{Name: "Status"}).
		SelectOption(playwright.SelectOptionValues{Values: &[]string{"RUNNING"}})
	must(t, err, "choose Status: Running")
	must(t, button(page, "Apply").Click(), "apply the filter")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`[?&]status=RUNNING`)), "the filter is in the URL")
	table := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Servers", Exact: playwright.Bool(true)})
	must(t, expect.Locator(table.Locator("[data-status]").First()).ToBeVisible(), "the filtered table lists servers")
	must(t, expect.Locator(table.Locator(`[data-status]:not([data-status="RUNNING"])`)).ToHaveCount(0), "only RUNNING servers are listed")
	stopped := c.pickServers(t, modelarts.StatusStopped, 1)[0]
	must(t, expect.Locator(rowCheckbox(page, stopped.Name)).ToHaveCount(0), "stopped server "+stopped.Name+" is filtered out")

	selectServers(t, page, targets)
	preview := choose(t, page, "Stop")
	for _, s := range targets {
		must(t, expect.Locator(previewRow(page, preview, s.Name)).ToContainText("Will be sent"), s.Name+" will be stopped")
	}
	requireNothingSent(t, c, "after the preview")
	must(t, button(page, "Run Stop on 2 servers").Click(), "run Stop")

	waitForBatchPage(t, page)
	markPage(t, page)
	for _, s := range targets {
		expectBatchStatus(t, page, s.Name, modelarts.StatusStopped)
	}
	waitBatchFinished(t, page)
	pageNotReloaded(t, page)
	for _, s := range targets {
		must(t, expect.Locator(batchRow(page, s.Name)).ToContainText("Done"), s.Name+" is reported done")
		if got := c.status(s.ID); got != modelarts.StatusStopped {
			t.Errorf("%s is %s in the cloud, want STOPPED", s.Name, got)
		}
	}

	sent := c.sentRequests()
	if len(sent) != 1 {
		t.Fatalf("the cloud received %d state-changing requests, want 1", len(sent))
	}
	b := sentBatch(t, sent[0])
	if b.Type != modelarts.BatchStop {
		t.Errorf("sent action %s, want STOP", b.Type)
	}
	if diff := cmp.Diff(ids(targets), batchIDs(b)); diff != "" {
		t.Errorf("servers sent (-want +got):\n%s", diff)
	}
}

// Journey 4: Start on a mixed selection: the running servers are shown as
// skipped with the reason, and only the stopped ones are sent.
func TestStartMixedSelection(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "olivia", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "olivia", userPassword)
	running := c.pickServers(t, modelarts.StatusRunning, 2)
	stopped := c.pickServers(t, modelarts.StatusStopped, 2)

	openFleet(t, page, "")
	selectServers(t, page, slices.Concat(running, stopped))
	preview := choose(t, page, "Start")
	must(t, expect.Locator(preview).ToContainText("Of 4 servers selected, 2 will be sent and 2 will be skipped"), "the preview sums up")
	for _, s := range running {
		ok, reason := modelarts.Eligible(modelarts.BatchStart, &s)
		if ok || reason == "" {
			t.Fatalf("lifecycle: Start on RUNNING %s is eligible=%v (%q)", s.Name, ok, reason)
		}
		must(t, expect.Locator(previewRow(page, preview, s.Name)).ToContainText("Skipped: "+reason), "running "+s.Name+" is skipped with the reason")
	}
	for _, s := range stopped {
		must(t, expect.Locator(previewRow(page, preview, s.Name)).ToContainText("Will be sent"), "stopped "+s.Name+" will be started")
	}
	must(t, button(page, "Run Start on 2 servers").Click(), "run Start")

	waitForBatchPage(t, page)
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Skipped (2)"})).ToBeVisible(), "the batch page lists the skipped servers")
	waitBatchFinished(t, page)

	sent := c.sentRequests()
	if len(sent) != 1 {
		t.Fatalf("the cloud received %d state-changing requests, want 1", len(sent))
	}
	b := sentBatch(t, sent[0])
	if b.Type != modelarts.BatchStart {
		t.Errorf("sent action %s, want START", b.Type)
	}
	if diff := cmp.Diff(ids(stopped), batchIDs(b)); diff != "" {
		t.Errorf("servers sent (-want +got): only the stopped ones may be sent\n%s", diff)
	}
	for _, s := range running {
		if got := c.status(s.ID); got != modelarts.StatusRunning {
			t.Errorf("skipped %s is %s, want untouched RUNNING", s.Name, got)
		}
	}
	c.waitStatus(t, stopped, modelarts.StatusRunning)
}
