package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// askApproval records a DELETE request by the operator1 account on the
// first server of the simulated fleet, as confirming the dialog does.
func askApproval(t *testing.T, env *apptest.Env) *approval.Request {
	t.Helper()
	ctx := context.Background()
	u, err := env.App.Users().GetByName(ctx, "operator1")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := env.App.Fleet().Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := snap.Servers[0]
	r, err := env.App.Approvals().Create(ctx, approval.NewRequest{
		Requester: u, Action: modelarts.BatchDelete, Reason: "rack 7 is being retired",
		Servers: []approval.Server{{ID: s.ID, Name: s.Name, Status: s.Status}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestApprovalPages: the operator sees their pending request with a
// Withdraw button and no way to decide it; an approver sees Approve/Deny
// with a Comment field; denying needs a comment, and the operator then
// sees the denial and the comment. Nothing reaches ModelArts.
func TestApprovalPages(t *testing.T) {
	env := apptest.New(t, apptest.WithApprovals)
	op := env.As(t, auth.RoleOperator)
	ap := env.As(t, auth.RoleApprover)
	admin := env.As(t, auth.RoleAdmin)
	viewer := env.As(t, auth.RoleViewer)
	r := askApproval(t, env)
	path := "/approvals/" + r.ID

	page := op.Get(t, path)
	if page.Status != http.StatusOK {
		t.Fatalf("operator GET %s = %d", path, page.Status)
	}
	doc := page.Doc(t)
	if got := doc.Find("h1 [data-state]").Text(); got != "Pending" {
		t.Errorf("state badge = %q, want Pending", got)
	}
	if doc.Find(`button:contains("Withdraw")`).Length() != 1 || doc.Find(`button:contains("Approve")`).Length() != 0 {
		t.Error("the operator's page should offer Withdraw and not Approve")
	}
	if !strings.Contains(doc.Find(".approval-facts").Text(), "rack 7 is being retired") {
		t.Error("the reason is not shown")
	}
	if got := strings.TrimSpace(doc.Find(`nav a[href="/approvals"]`).Text()); !strings.Contains(got, "Approvals") || !strings.Contains(got, "1") {
		t.Errorf("nav link = %q, want Approvals with the count 1", got)
	}
	if res := op.PostForm(t, path+"/approve", nil); res.Status != http.StatusForbidden {
		t.Errorf("operator approving = %d, want 403", res.Status)
	}
	if res := viewer.Get(t, path); res.Status != http.StatusNotFound {
		t.Errorf("viewer sees someone's request: %d", res.Status)
	}
	if list := viewer.Get(t, "/approvals"); strings.Contains(list.Body, r.ID) {
		t.Error("the viewer's list shows someone's request")
	}

	page = ap.Get(t, path)
	doc = page.Doc(t)
	if doc.Find(`label[for="comment"]`).Text() != "Comment" || doc.Find(`button:contains("Approve")`).Length() != 1 || doc.Find(`button:contains("Deny")`).Length() != 1 {
		t.Error("the approver's page should offer Approve and Deny with a Comment field")
	}
	if !strings.Contains(ap.Get(t, "/approvals").Body, r.ID) {
		t.Error("the approver's list does not show the request")
	}
	res := ap.PostForm(t, path+"/deny", url.Values{"comment": {"  "}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "Comment is required") {
		t.Errorf("deny without a comment = %d", res.Status)
	}
	res = ap.PostForm(t, path+"/deny", url.Values{"comment": {"rack 7 still serves training jobs"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != path {
		t.Fatalf("deny = %d %s", res.Status, res.Header.Get("Location"))
	}
	doc = op.Get(t, path).Doc(t)
	if got := doc.Find("h1 [data-state]").Text(); got != "Denied" {
		t.Errorf("after denial the operator sees %q", got)
	}
	if !strings.Contains(doc.Text(), "rack 7 still serves training jobs") || doc.Find(`button:contains("Withdraw")`).Length() != 0 {
		t.Error("the operator does not see the comment, or can still withdraw")
	}
	if res := ap.PostForm(t, path+"/approve", nil); res.Status != http.StatusConflict || !strings.Contains(res.Body, "already denied") {
		t.Errorf("approving a denied request = %d", res.Status)
	}

	// Admins see the policy and the webhook section.
	list := admin.Get(t, "/approvals").Doc(t)
	if !strings.Contains(list.Find(".approval-policy").Text(), "Delete, Reinstall OS and Change OS need approval by an approver.") {
		t.Errorf("policy = %q", list.Find(".approval-policy").Text())
	}
	if list.Find("#webhook-title").Length() != 1 {
		t.Error("admins do not see the webhook deliveries")
	}
	if ap.Get(t, "/approvals").Doc(t).Find("#webhook-title").Length() != 0 {
		t.Error("approvers see the webhook deliveries")
	}
	if n := env.App.Simulator().MutatingRequests(); n != 0 {
		t.Errorf("%d requests reached ModelArts", n)
	}
}

// TestApprovalOwnRequestRefused: an admin cannot approve their own request
// through the page either; the refusal is recorded.
func TestApprovalOwnRequestRefused(t *testing.T) {
	env := apptest.New(t, apptest.WithApprovals)
	admin := env.As(t, auth.RoleAdmin)
	ctx := context.Background()
	u, _ := env.App.Users().GetByName(ctx, "admin")
	r, err := env.App.Approvals().Create(ctx, approval.NewRequest{
		Requester: u, Action: modelarts.BatchDelete, Reason: "cleanup",
		Servers: []approval.Server{{ID: "x", Name: "x", Status: modelarts.StatusRunning}},
	})
	if err != nil {
		t.Fatal(err)
	}
	page := admin.Get(t, "/approvals/"+r.ID).Doc(t)
	if page.Find(`button:contains("Approve")`).Length() != 0 || !strings.Contains(page.Text(), "another approver or admin must decide it") {
		t.Error("the admin's own request offers Approve")
	}
	res := admin.PostForm(t, "/approvals/"+r.ID+"/approve", nil)
	if res.Status != http.StatusForbidden || !strings.Contains(res.Body, "you cannot decide it") {
		t.Errorf("approving own = %d", res.Status)
	}
	denied := auditEvents(t, env, auth.EventAccessDenied)
	if len(denied) == 0 || denied[len(denied)-1].Detail["request_id"] != r.ID {
		t.Errorf("the refusal is not recorded: %+v", denied)
	}
	if got, _ := env.App.Approvals().Get(ctx, u, r.ID); got.State != approval.StatePending {
		t.Errorf("state = %s", got.State)
	}
}
