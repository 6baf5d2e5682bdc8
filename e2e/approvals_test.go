package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
)

// withApprovals runs the console under the product's approval policy
// (DELETE, REINSTALLOS and CHANGEOS need an approver), which the harness
// turns off for the other journeys.
func withApprovals(c *config.Config) {
	c.ApprovalActions = append([]modelarts.BatchType(nil), config.DefaultApprovalActions...)
}

// requestDelete signs page in as an operator, selects targets, confirms a
// Delete with a reason and returns the approval request's id from the page
// it lands on, which must show "Pending". Nothing may be sent.
func requestDelete(t *testing.T, c *console, page playwright.Page, targets []modelarts.ServerResponse, reason string) string {
	t.Helper()
	openFleet(t, page, "")
	selectServers(t, page, targets)
	preview := choose(t, page, "Delete")
	must(t, expect.Locator(preview).ToContainText("Delete needs approval by an approver."), "the preview states the policy")
	d := openConfirm(t, page)
	must(t, d.GetByLabel("Reason").Fill(reason), "type the reason")
	confirmWith(t, page, d, "DELETE")
	must(t, page.WaitForURL("**/approvals/*"), "land on the request's page")
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToContainText("Pending"), "the request is Pending")
	must(t, expect.Locator(page.GetByText(reason)).ToBeVisible(), "the page shows the reason")
	requireNothingSent(t, c, "after the request")
	parts := strings.Split(page.URL(), "/approvals/")
	return parts[len(parts)-1]
}

// postForged posts to path from page's session with its CSRF token, as a
// hand-made request would, and returns the status.
func postForged(t *testing.T, page playwright.Page, path string) int {
	t.Helper()
	v, err := page.Evaluate(`async (path) => {
		const token = document.querySelector('meta[name="csrf-token"]').content;
		const r = await fetch(path, {method: "POST", redirect: "manual",
			headers: {"Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": token},
			body: "comment=" + encodeURIComponent("looks fine")});
		return r.status;
	}`, path)
	must(t, err, "post "+path)
	raw, _ := json.Marshal(v)
	var status int
	must(t, json.Unmarshal(raw, &status), "read the status")
	return status
}

// Journey: an operator's Delete becomes a request that sends nothing; the
// operator cannot approve it (no button, a forged post refused); an
// approver approves it, lands on the batch page naming both people, and
// exactly one DELETE is sent.
func TestApprovalRequestApproved(t *testing.T) {
	c := startConsole(t, withApprovals)
	createUser(t, c.App, "otto", auth.RoleOperator)
	createUser(t, c.App, "alma", auth.RoleApprover)
	op := newPage(t, c)
	signIn(t, op, "otto", userPassword)
	targets := c.pickServers(t, modelarts.StatusStopped, 2)
	id := requestDelete(t, c, op, targets, "rack 7 is being retired")

	must(t, expect.Locator(button(op, "Approve")).ToHaveCount(0), "the requester has no Approve button")
	if st := postForged(t, op, "/approvals/"+id+"/approve"); st != http.StatusForbidden {
		t.Errorf("the requester's forged approve answered %d, want 403", st)
	}
	requireNothingSent(t, c, "after the requester's forged approve")

	ap := newPage(t, c)
	signIn(t, ap, "alma", userPassword)
	gotoPath(t, ap, "/approvals/"+id)
	must(t, expect.Locator(ap.GetByText("rack 7 is being retired")).ToBeVisible(), "the approver sees the reason")
	must(t, ap.GetByLabel("Comment").Fill("ok, rack 7 is empty"), "type a comment")
	must(t, button(ap, "Approve").Click(), "press Approve")
	batchID := waitForBatchPage(t, ap)
	must(t, expect.Locator(ap.Locator(".batch-meta")).ToContainText("requested by otto"), "the batch page names the requester")
	must(t, expect.Locator(ap.Locator(".batch-meta")).ToContainText("approved by alma"), "the batch page names the approver")
	c.App.Batches().Wait()
	sent := c.sentRequests()
	if len(sent) != 1 {
		t.Fatalf("%d state-changing requests after approval, want exactly 1", len(sent))
	}
	b := sentBatch(t, sent[0])
	if b.Type != modelarts.BatchDelete || fmt.Sprint(batchIDs(b)) != fmt.Sprint(ids(targets)) {
		t.Errorf("sent %s to %v, want DELETE to %v", b.Type, batchIDs(b), ids(targets))
	}
	// The request links to its batch.
	gotoPath(t, op, "/approvals/"+id)
	must(t, expect.Locator(op.GetByRole("link", playwright.PageGetByRoleOptions{Name: "See what was sent"})).
		ToHaveAttribute("href", "/batches/"+batchID), "the request links to its batch")
}

// Journey: a denied request sends nothing and shows the approver's comment
// to the operator.
func TestApprovalRequestDenied(t *testing.T) {
	c := startConsole(t, withApprovals)
	createUser(t, c.App, "otto", auth.RoleOperator)
	createUser(t, c.App, "alma", auth.RoleApprover)
	op := newPage(t, c)
	signIn(t, op, "otto", userPassword)
	id := requestDelete(t, c, op, c.pickServers(t, modelarts.StatusStopped, 1), "not needed any more")

	ap := newPage(t, c)
	signIn(t, ap, "alma", userPassword)
	gotoPath(t, ap, "/approvals/"+id)
	must(t, ap.GetByLabel("Comment").Fill("team B still uses it"), "type the comment")
	must(t, button(ap, "Deny").Click(), "press Deny")
	must(t, expect.Locator(ap.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToContainText("Denied"), "the request is Denied")

	gotoPath(t, op, "/approvals/"+id)
	must(t, expect.Locator(op.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToContainText("Denied"), "the operator sees Denied")
	must(t, expect.Locator(op.GetByText("team B still uses it").First()).ToBeVisible(), "the operator sees the comment")
	c.App.Batches().Wait()
	requireNothingSent(t, c, "after the denial")
}

// Journey: a request past its expiry cannot be approved: no button, and a
// post is refused; nothing is sent.
func TestApprovalRequestExpired(t *testing.T) {
	c := startConsole(t, withApprovals)
	createUser(t, c.App, "otto", auth.RoleOperator)
	createUser(t, c.App, "alma", auth.RoleApprover)
	var skew atomic.Int64
	c.App.Approvals().SetClock(func() time.Time { return time.Now().Add(time.Duration(skew.Load())) })
	op := newPage(t, c)
	signIn(t, op, "otto", userPassword)
	id := requestDelete(t, c, op, c.pickServers(t, modelarts.StatusStopped, 1), "clean up old nodes")

	skew.Store(int64(25 * time.Hour)) // past the default 24 h
	ap := newPage(t, c)
	signIn(t, ap, "alma", userPassword)
	gotoPath(t, ap, "/approvals/"+id)
	must(t, expect.Locator(ap.GetByRole("heading", playwright.PageGetByRoleOptions{Level: playwright.Int(1)})).ToContainText("Expired"), "the request shows Expired")
	must(t, expect.Locator(button(ap, "Approve")).ToHaveCount(0), "no Approve button on an expired request")
	if st := postForged(t, ap, "/approvals/"+id+"/approve"); st != http.StatusConflict {
		t.Errorf("approving an expired request answered %d, want 409", st)
	}
	c.App.Batches().Wait()
	requireNothingSent(t, c, "after approving an expired request")
}
