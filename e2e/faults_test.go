package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

// Journey 8: the cloud answers a 500, then does not answer at all. The
// operator sees the error with its code and request id, then that the
// outcome is unknown; the audit log holds the request and the response
// (or the failure) of each.
func TestCloudErrors(t *testing.T) {
	c := startConsole(t, func(cfg *config.Config) {
		cfg.RequestTimeout = 2 * time.Second
		// The follower checks often and judges a server that has not moved
		// after a second, so the journey sees the recorded final states.
		cfg.BatchFollowInterval = 200 * time.Millisecond
		cfg.BatchSettleGrace = time.Second
	})
	createUser(t, c.App, "fred", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "fred", userPassword)
	targets := c.pickServers(t, modelarts.StatusRunning, 2)

	// 1. A 500 ModelArts.0050 from the cloud.
	c.Sim.FailNextMethod("POST", simulator.FaultError, 1)
	openFleet(t, page, "")
	selectServers(t, page, targets[:1])
	choose(t, page, "Stop")
	must(t, button(page, "Run Stop on 1 server").Click(), "run Stop")
	errBatch := waitForBatchPage(t, page)
	sent := c.sentRequests()
	if len(sent) != 1 || sent[0].Fault != simulator.FaultError {
		t.Fatalf("the simulator got %d state-changing requests (want 1, failed with a 500)", len(sent))
	}
	reqID := sent[0].RequestID
	if reqID == "" {
		t.Fatal("the simulator recorded no request id for the failed call")
	}
	alert := page.Locator("#batch-status")
	must(t, expect.Locator(alert).ToContainText(simulator.CodeInternal), "the operator sees the error code")
	must(t, expect.Locator(alert).ToContainText("request id "+reqID), "the operator sees the request id")
	// A 500 may have acted: the page says the outcome is unknown, never "nothing was changed".
	must(t, expect.Locator(alert).ToContainText("ModelArts may have acted"), "the operator is told ModelArts may have acted")
	must(t, expect.Locator(alert).Not().ToContainText("Nothing was changed"), "a 500 is not called a refusal")
	must(t, expect.Locator(page.GetByRole("alert").First()).ToBeVisible(), "the failure is announced, not buried")
	if got := c.status(targets[0].ID); got != modelarts.StatusRunning {
		t.Errorf("after a failed request %s is %s, want RUNNING", targets[0].Name, got)
	}
	// The follower keeps watching the server and records what happened:
	// the 500 changed nothing, the server is still RUNNING.
	waitForFinalState(t, page, errBatch, targets[0].Name,
		"Outcome of the request unknown (ModelArts may have acted); the server is RUNNING. Check it before trying again.")

	// 2. No answer: the request is applied but the console gives up waiting.
	c.Sim.FailNextMethod("POST", simulator.FaultTimeout, 1)
	openFleet(t, page, "")
	must(t, button(page, "Clear selection").Click(), "clear the selection")
	must(t, expect.Locator(selectionCount(page, "0 servers selected")).ToBeVisible(), "the selection is empty")
	selectServers(t, page, targets[1:])
	choose(t, page, "Stop")
	must(t, button(page, "Run Stop on 1 server").Click(), "run Stop")
	timeoutBatch := waitForBatchPage(t, page)
	if timeoutBatch == errBatch {
		t.Fatalf("the second action went to the first batch %s", errBatch)
	}
	must(t, expect.Locator(page.Locator("#batch-status")).ToContainText("outcome is unknown", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(15000)}),
		"the operator is told the outcome is unknown")
	// ModelArts carried the request out although no answer came: the
	// follower records that the server reached STOPPED.
	waitForFinalState(t, page, timeoutBatch, targets[1].Name, "Outcome of the request unknown; the server reached STOPPED.")

	// An admin sees both calls in /audit: request and outcome of each.
	admin := newPage(t, c)
	signIn(t, admin, adminName, adminPassword)
	for _, tc := range []struct {
		batch   string
		outcome *regexp.Regexp
	}{
		{errBatch, regexp.MustCompile(`API error`)},
		{timeoutBatch, regexp.MustCompile(`Transport error|Outcome unknown`)},
	} {
		gotoPath(t, admin, "/audit?correlation="+tc.batch)
		rows := admin.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Audit entries"}).Locator("tbody tr[data-entry-id]")
		must(t, expect.Locator(rows).ToHaveCount(2), "the batch's request and response are listed")
		must(t, expect.Locator(rows.Filter(playwright.LocatorFilterOptions{HasText: "Request sent"})).ToHaveCount(1), "the request is listed")
		must(t, expect.Locator(rows.Filter(playwright.LocatorFilterOptions{HasText: tc.outcome})).ToHaveCount(1), "the outcome is listed")
	}

	// The audit log: request and response (or failure) for each call.
	for _, tc := range []struct {
		name, batch string
		outcome     audit.Outcome
		status      int
	}{
		{name: "500", batch: errBatch, outcome: audit.OutcomeAPIError, status: 500},
		{name: "timeout", batch: timeoutBatch, outcome: audit.OutcomeTransportError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var entries []audit.Entry
			testutil.Eventually(t, 10*time.Second, "the audit log holds the call's outcome", func() error {
				entries = auditEntries(t, c, audit.Filter{Correlation: tc.batch})
				if len(ofKind(entries, audit.KindResponse))+len(ofKind(entries, audit.KindOutcomeUnknown)) == 0 {
					return fmt.Errorf("no response entry among %d entries", len(entries))
				}
				return nil
			})
			reqs := ofKind(entries, audit.KindRequest)
			resps := append(ofKind(entries, audit.KindResponse), ofKind(entries, audit.KindOutcomeUnknown)...)
			if len(reqs) != 1 || len(resps) != 1 {
				t.Fatalf("batch %s: %d request and %d response entries, want 1 and 1", tc.batch, len(reqs), len(resps))
			}
			req, resp := reqs[0], resps[0]
			if req.Action != string(modelarts.BatchStop) || req.Actor.Name != "fred" || len(req.RequestBody) == 0 {
				t.Errorf("request entry: action %q by %q with %d body bytes; want STOP by fred with the body", req.Action, req.Actor.Name, len(req.RequestBody))
			}
			if resp.RefID != req.ID {
				t.Errorf("response entry refers to %d, want the request %d", resp.RefID, req.ID)
			}
			if resp.Outcome != tc.outcome && resp.Outcome != audit.OutcomeUnknown {
				t.Errorf("response outcome %q, want %q", resp.Outcome, tc.outcome)
			}
			if tc.status != 0 && (resp.Status != tc.status || resp.RequestID != reqID) {
				t.Errorf("response entry: status %d, request id %q; want %d and %q", resp.Status, resp.RequestID, tc.status, reqID)
			}
			if tc.status == 0 && resp.Error == "" {
				t.Errorf("the timeout's response entry records no error")
			}
		})
	}
}

// waitForFinalState reloads the batch page until the follower has recorded
// the batch's final states, then checks what the server's row says.
func waitForFinalState(t *testing.T, page playwright.Page, batchID, server, reason string) {
	t.Helper()
	testutil.Eventually(t, 30*time.Second, "the batch's final states are recorded", func() error {
		gotoPath(t, page, "/batches/"+batchID)
		text, err := page.Locator("#batch-status").InnerText()
		if err != nil {
			return err
		}
		if !strings.Contains(text, "Final states recorded") {
			return fmt.Errorf("the batch page says %q", text)
		}
		return nil
	})
	row := page.Locator("table.batch-servers tbody tr").Filter(playwright.LocatorFilterOptions{HasText: server})
	must(t, expect.Locator(row).ToContainText(reason), "the server's row says what happened to it")
}

// Journey: ModelArts refuses a request (429 APIGW.0308). Each server row
// says why in words; "Select the 2 servers that need attention" makes them
// the selection and opens the fleet filtered to it, and a retry goes through
// a fresh preview: nothing is resent by itself.
func TestSelectFailedServersForRetry(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "rita", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "rita", userPassword)
	targets := c.pickServers(t, modelarts.StatusRunning, 2)

	c.Sim.FailNextMethod("POST", simulator.FaultThrottle, 1)
	openFleet(t, page, "")
	selectServers(t, page, targets)
	choose(t, page, "Stop")
	must(t, button(page, "Run Stop on 2 servers").Click(), "run Stop")
	waitForBatchPage(t, page)
	for _, s := range targets {
		must(t, expect.Locator(batchRow(page, s.Name)).ToContainText("APIGW.0308", playwright.LocatorAssertionsToContainTextOptions{Timeout: playwright.Float(20000)}),
			s.Name+"'s row gives ModelArts' reason")
	}
	must(t, button(page, "Select the 2 servers that need attention").Click(), "select the servers that need attention")
	// The console answers with /servers?selected=1: the fleet filtered to
	// the selection, which is exactly the two refused servers.
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/servers\?(.*&)?selected=1(&|$)`)), "the fleet opens filtered to the selection")
	must(t, expect.Locator(selectionCount(page, "2 servers selected")).ToBeVisible(), "exactly the two servers are selected")
	rows := page.Locator("#fleet-table tbody tr[data-server-id]")
	must(t, expect.Locator(rows).ToHaveCount(2), "the fleet lists exactly the two refused servers")
	for _, s := range targets {
		must(t, expect.Locator(rowCheckbox(page, s.Name)).ToBeChecked(), s.Name+" is listed and ticked")
	}
	preview := choose(t, page, "Stop")
	for _, s := range targets {
		must(t, expect.Locator(previewRow(page, preview, s.Name)).ToContainText("Will be sent"), s.Name+" is in the fresh preview")
	}
	if n := len(c.sentRequests()); n != 1 {
		t.Errorf("the cloud received %d state-changing requests, want only the refused one", n)
	}
}
