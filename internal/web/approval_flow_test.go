package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/testutil"
)

// requestIDFrom reads the approval request id from an execute's HX-Redirect.
func requestIDFrom(t *testing.T, r *apptest.Response) string {
	t.Helper()
	loc := r.Header.Get("HX-Redirect")
	if r.Status != http.StatusNoContent || !strings.HasPrefix(loc, "/approvals/") {
		t.Fatalf("execute: status %d, HX-Redirect %q; want 204 to /approvals/{id}\n%s", r.Status, loc, r.Body)
	}
	return strings.TrimPrefix(loc, "/approvals/")
}

// TestApprovalConfirmFlow: under the product policy a confirmed DELETE
// asks for a reason, becomes a request (once, however often it is
// submitted), sends nothing and leaves the selection; approving it runs
// exactly the servers whose state did not change, as the requester with
// the approver recorded on the batch, its page and its calls' audit entries.
func TestApprovalConfirmFlow(t *testing.T) {
	e := newActionEnv(t, apptest.WithApprovals)
	ctx := context.Background()
	ap := e.As(t, auth.RoleApprover)
	deletable := eligible(modelarts.BatchDelete)
	servers := e.pick(t, 3, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning && deletable(s) })
	e.selectServers(t, "operator1", idsOf(servers)...)

	doc, token := e.preview(t, e.op, modelarts.BatchDelete)
	if note := doc.Find(".approval-note").Text(); !strings.Contains(note, "Delete needs approval by an approver.") {
		t.Errorf("preview policy note = %q", note)
	}
	rv := e.op.HTMX(t, http.MethodPost, "/actions/review", url.Values{"token": {token}})
	dlg := rv.Doc(t).Find("dialog")
	if got := dlg.Find(`label[for="approval-reason"]`).Text(); got != "Reason" {
		t.Errorf("reason label = %q, want Reason", got)
	}
	if _, req := dlg.Find(`textarea#approval-reason[name="reason"]`).Attr("required"); !req {
		t.Error("the Reason field is not required")
	}
	if got := strings.TrimSpace(dlg.Find(`button[data-confirm-button]`).Text()); got != "Confirm" {
		t.Errorf("confirm button = %q, want Confirm", got)
	}

	// Without a reason: refused, nothing recorded, the preview still usable.
	bad := e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}, "confirm": {"DELETE"}, "reason": {"x"}})
	if bad.Status != http.StatusUnprocessableEntity || !strings.Contains(bad.Body, "Reason must be at least 3 characters") {
		t.Errorf("short reason: %d\n%s", bad.Status, bad.Body)
	}
	form := url.Values{"token": {token}, "confirm": {"DELETE"}, "reason": {"rack 7 is being retired"}}
	id := requestIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", form))
	if again := requestIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", form)); again != id {
		t.Errorf("repeat submit went to request %s, first to %s", again, id)
	}
	admin, err := e.App.Users().GetByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	all, err := e.App.Approvals().List(ctx, admin, 50)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 {
		t.Fatalf("%d requests recorded, want 1", len(all))
	}
	r := all[0]
	if r.State != approval.StatePending || r.Reason != "rack 7 is being retired" || len(r.Servers) != 3 {
		t.Errorf("request = %+v", r)
	}
	for _, s := range r.Servers {
		if s.Status != modelarts.StatusRunning {
			t.Errorf("server %s recorded as %s, want its state at request time (RUNNING)", s.ID, s.Status)
		}
	}
	if n := e.sim.MutatingRequests(); n != 0 {
		t.Fatalf("%d requests reached ModelArts before approval, want 0", n)
	}
	op1, _ := e.App.Users().GetByName(ctx, "operator1")
	sel, err := fleet.NewSelections(e.App.DB(), nil).List(ctx, op1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) != 0 {
		t.Errorf("selection after the request = %v, want the covered servers removed", sel)
	}
	if got := e.op.Get(t, "/approvals/"+id).Doc(t).Find("h1 [data-state]").Text(); got != "Pending" {
		t.Errorf("request page state = %q, want Pending", got)
	}

	// A direct execute of a covered action is refused by the domain.
	p, err := e.App.Batches().Prepare(ctx, op1, modelarts.BatchDelete, idsOf(servers[:1]), mustSnap(t, e))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Batches().Execute(ctx, batch.ExecuteRequest{User: op1, Token: p.Token, TypedWord: "DELETE"}); err != batch.ErrApprovalRequired {
		t.Errorf("direct execute of a DELETE = %v, want ErrApprovalRequired", err)
	}

	// One server changes state before the decision: it must be skipped.
	moved := servers[2]
	e.selectServers(t, "operator1", moved.ID)
	_, stopTok := e.preview(t, e.op, modelarts.BatchStop)
	batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {stopTok}}))
	testutil.Eventually(t, 10*time.Second, moved.ID+" stops", func() error {
		if s, _ := e.sim.Server(moved.ID); s.Status != modelarts.StatusStopped {
			return errStr("status " + string(s.Status))
		}
		return nil
	})
	e.App.Batches().Wait()
	e.sim.ResetRequests()

	res := ap.PostForm(t, "/approvals/"+id+"/approve", url.Values{"comment": {"ok"}})
	loc := res.Header.Get("Location")
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/batches/") {
		t.Fatalf("approve: %d to %q\n%s", res.Status, loc, res.Body)
	}
	batchID := strings.TrimPrefix(loc, "/batches/")
	e.App.Batches().Wait()
	var deletes int
	for _, rq := range e.sim.Requests() {
		if rq.Mutating {
			deletes++
			if strings.Contains(string(rq.Body), moved.ID) {
				t.Errorf("the server that changed state was sent: %s", rq.Body)
			}
		}
	}
	if deletes != 1 {
		t.Errorf("%d requests sent after approval, want exactly 1", deletes)
	}
	b, err := e.App.Batches().Get(ctx, batchID)
	if err != nil {
		t.Fatal(err)
	}
	if b.UserName != "operator1" || b.ApprovedBy != "approver1" || b.ApprovalID != id || b.Total != 2 {
		t.Errorf("batch = %+v", b)
	}
	var skipped bool
	for _, sk := range b.Skipped {
		if sk.ID == moved.ID && strings.Contains(sk.Reason, "changed from RUNNING to STOPPED since the request") {
			skipped = true
		}
	}
	if !skipped {
		t.Errorf("batch skipped = %+v, want %s skipped with the reason", b.Skipped, moved.ID)
	}
	page := ap.Get(t, "/batches/"+batchID).Doc(t)
	if page.Find("[data-requester]").Text() != "operator1" || page.Find("[data-approver]").Text() != "approver1" {
		t.Errorf("batch page meta = %q", page.Find(".batch-meta").Text())
	}
	if href, _ := page.Find(`.batch-meta a`).Attr("href"); href != "/approvals/"+id {
		t.Errorf("batch page links to %q, want the request", href)
	}
	got, err := e.App.Approvals().Get(ctx, admin, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.BatchID != batchID {
		t.Errorf("request's batch = %q, want %q", got.BatchID, batchID)
	}
	var calls int
	for _, en := range auditEntries(t, e, batchID) {
		if en.Kind != audit.KindRequest {
			continue
		}
		calls++
		if en.Detail[audit.DetailRequester] != "operator1" || en.Detail[audit.DetailApprover] != "approver1" ||
			en.Detail[audit.DetailApprovalRequest] != id || en.Actor.Name != "operator1" {
			t.Errorf("request entry: actor %q, detail %v", en.Actor.Name, en.Detail)
		}
	}
	if calls != 1 {
		t.Errorf("%d request entries, want 1", calls)
	}
	// The audit filters: the request's id finds the batch's calls, the
	// batch's id finds the approval.
	byReq, _, err := e.App.Audit().List(ctx, audit.Filter{Text: id}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !hasCorrelation(byReq, batchID) {
		t.Errorf("searching the request %s does not find the batch's entries", id)
	}
	byBatch, _, err := e.App.Audit().List(ctx, audit.Filter{Text: batchID}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !hasAction(byBatch, string(approval.EventApproved)) {
		t.Errorf("searching the batch %s does not find approval.approved", batchID)
	}
}

type errStr string

func (e errStr) Error() string { return string(e) }

func mustSnap(t *testing.T, e *actionEnv) *fleet.Snapshot {
	t.Helper()
	s, err := e.App.Fleet().Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func hasCorrelation(es []audit.Entry, id string) bool {
	for _, e := range es {
		if e.CorrelationID == id {
			return true
		}
	}
	return false
}

func hasAction(es []audit.Entry, action string) bool {
	for _, e := range es {
		if e.Action == action || string(e.Kind) == action {
			return true
		}
	}
	return false
}

// TestApprovalBySize: with CONSOLE_APPROVAL_MIN_SERVERS a Stop of that many
// servers asks for a reason in the preview form itself and becomes a
// request; a smaller one is sent at once.
func TestApprovalBySize(t *testing.T) {
	e := newActionEnv(t, func(c *config.Config) { c.ApprovalMinServers = 2 })
	servers := e.pick(t, 3, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	e.selectServers(t, "operator1", idsOf(servers[:2])...)
	doc, token := e.preview(t, e.op, modelarts.BatchStop)
	if !strings.Contains(doc.Find(".approval-note").Text(), "any action on 2 or more servers does") {
		t.Errorf("preview note = %q", doc.Find(".approval-note").Text())
	}
	if doc.Find(`#action-form textarea[name="reason"]`).Length() != 1 {
		t.Error("the preview form of a covered Stop has no Reason field")
	}
	requestIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}, "reason": {"maintenance window"}}))
	if n := e.sim.MutatingRequests(); n != 0 {
		t.Errorf("%d requests sent for a covered Stop, want 0", n)
	}
	e.selectServers(t, "operator1", servers[2].ID)
	doc, token = e.preview(t, e.op, modelarts.BatchStop)
	if doc.Find(".approval-note").Length() != 0 {
		t.Error("a Stop of one server is said to need approval")
	}
	batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
	e.App.Batches().Wait()
	if n := e.sim.MutatingRequests(); n != 1 {
		t.Errorf("%d requests sent for an uncovered Stop, want 1", n)
	}
}
