package e2e

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// Issue 10 §1: selected servers hidden by the filters are warned about in
// words, and a link shows exactly the selection.
func TestHiddenSelectionWarnedAndShown(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "hana", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "hana", userPassword)
	running := c.pickServers(t, modelarts.StatusRunning, 3)
	stopped := c.pickServers(t, modelarts.StatusStopped, 2)

	openFleet(t, page, "")
	selectServers(t, page, append(slices.Clone(running), stopped...))

	openFleet(t, page, "?status=STOPPED")
	bar := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Selection and actions"})
	must(t, expect.Locator(bar.GetByText("3 of 5 selected servers are not shown by the current filters.")).ToBeVisible(),
		"the action bar says how many selected servers the filter hides")
	for _, s := range running {
		must(t, expect.Locator(rowCheckbox(page, s.Name)).ToHaveCount(0), s.Name+" is not on the STOPPED page")
	}

	// The preview from this page marks the three it does not show.
	preview := choose(t, page, "Reboot")
	must(t, expect.Locator(preview.GetByText("3 of these servers are not on the fleet page you started from")).ToBeVisible(),
		"the preview says how many servers are not on the page")
	for _, s := range running {
		must(t, expect.Locator(previewRow(page, preview, s.Name).GetByText("not on this page")).ToBeVisible(), s.Name+" is marked in the preview")
	}
	for _, s := range stopped {
		must(t, expect.Locator(previewRow(page, preview, s.Name).GetByText("not on this page")).ToHaveCount(0), s.Name+" is not marked")
	}

	must(t, link(page, "Show the 5 selected servers").Click(), "show the selection")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`[?&]selected=1`)), "the link sets selected=1 in the URL")
	rows := page.Locator("#fleet-table tbody tr[data-server-id]")
	must(t, expect.Locator(rows).ToHaveCount(5), "exactly the five selected servers are listed")
	for _, s := range append(slices.Clone(running), stopped...) {
		must(t, expect.Locator(rowCheckbox(page, s.Name)).ToBeChecked(), s.Name+" is listed and ticked")
	}
	must(t, expect.Locator(bar.GetByText("not shown by the current filters")).ToHaveCount(0), "no warning once everything is shown")
}

// Issue 10 §1: the servers a batch covered leave the selection when it is
// submitted.
func TestSelectionEmptiedAfterBatch(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "ivan", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "ivan", userPassword)
	targets := c.pickServers(t, modelarts.StatusRunning, 2)

	openFleet(t, page, "")
	selectServers(t, page, targets)
	choose(t, page, "Reboot")
	must(t, button(page, "Run Reboot on 2 servers").Click(), "run Reboot")
	waitForBatchPage(t, page)

	openFleet(t, page, "")
	must(t, expect.Locator(selectionCount(page, "0 servers selected")).ToBeVisible(), "the selection is empty after the batch")
	for _, s := range targets {
		must(t, expect.Locator(rowCheckbox(page, s.Name)).Not().ToBeChecked(), s.Name+" is no longer ticked")
	}
}

// Issue 10 §4: with ModelArts down, the fleet page says so in words (and
// what to do), never with a raw error chain; Refresh shows it is busy and
// cannot be pressed twice.
func TestCloudDownReportedInWords(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "jun", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "jun", userPassword)
	openFleet(t, page, "")

	// A slow cloud: Refresh turns busy at once and stays disabled.
	c.Sim.SetFaults(simulator.Faults{Latency: 1500 * time.Millisecond})
	refresh := button(page, "Refresh")
	must(t, refresh.Click(), "press Refresh")
	must(t, expect.Locator(refresh).ToBeDisabled(playwright.LocatorAssertionsToBeDisabledOptions{Timeout: playwright.Float(100)}),
		"Refresh is disabled within 100 ms while it waits")
	must(t, expect.Locator(button(page, "Refresh")).ToBeEnabled(playwright.LocatorAssertionsToBeEnabledOptions{Timeout: playwright.Float(15000)}),
		"Refresh is back once the list arrived")

	// The cloud goes down: every connection is cut before an answer.
	c.Sim.SetFaults(simulator.Faults{DropRate: 1})
	must(t, button(page, "Refresh").Click(), "press Refresh with the cloud down")
	alert := page.Locator("#fleet-table [role=alert]")
	must(t, expect.Locator(alert).ToContainText("ModelArts could not be reached.", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(20000)}),
		"the page names the failure in words")
	must(t, expect.Locator(alert).ToContainText("Showing data from"), "the page says the data shown is older")
	must(t, expect.Locator(alert).ToContainText("press Refresh"), "the page says what to do")
	for _, raw := range []string{"dial tcp", "fleet: list servers", "modelarts:", `Get "http`} {
		must(t, expect.Locator(alert).Not().ToContainText(raw), fmt.Sprintf("no raw error (%q) on the page", raw))
	}

	// A viewer reads the plain words.
	createUser(t, c.App, "kai", auth.RoleViewer)
	viewer := newPage(t, c)
	signIn(t, viewer, "kai", userPassword)
	openFleet(t, viewer, "")
	must(t, expect.Locator(viewer.Locator("#fleet-table .fleet-error")).ToContainText("ModelArts is unavailable."), "a viewer is told ModelArts is unavailable")
}
