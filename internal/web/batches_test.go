package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

func TestBatchPagesVisibility(t *testing.T) {
	e := newActionEnv(t)
	used := map[string]bool{}
	running := func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning }

	// operator1 and operator2 each run a batch.
	e.selectServers(t, "operator1", idsOf(e.pick(t, 1, used, running))...)
	_, token := e.preview(t, e.op, modelarts.BatchReboot)
	mine := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))

	e.CreateUser(t, "operator2", auth.RoleOperator)
	op2 := e.SignIn(t, "operator2", "pw-operator2-Secret-123")
	e.selectServers(t, "operator2", idsOf(e.pick(t, 1, used, running))...)
	_, token2 := e.preview(t, op2, modelarts.BatchReboot)
	theirs := batchIDFrom(t, op2.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token2}}))
	e.App.Batches().Wait()

	approver := e.As(t, auth.RoleApprover)
	viewer := e.As(t, auth.RoleViewer)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		want       []string // batch ids linked from the page
		notWant    []string
	}{
		{name: "OperatorSeesOwnList", path: "/batches", wantStatus: 200, want: []string{mine}, notWant: []string{theirs}},
		{name: "OperatorCannotWidenList", path: "/batches?scope=all", wantStatus: 200, want: []string{mine}, notWant: []string{theirs}},
		{name: "OperatorOwnBatch", path: "/batches/" + mine, wantStatus: 200},
		{name: "OperatorOthersBatch", path: "/batches/" + theirs, wantStatus: 403},
		{name: "OperatorOthersStatus", path: "/batches/" + theirs + "/status", wantStatus: 403},
		{name: "UnknownBatch", path: "/batches/nope", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.op.Get(t, tt.path)
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.Status, tt.wantStatus)
			}
			for _, id := range tt.want {
				if !strings.Contains(r.Body, `href="/batches/`+id+`"`) {
					t.Errorf("page does not link batch %s", id)
				}
			}
			for _, id := range tt.notWant {
				if strings.Contains(r.Body, id) {
					t.Errorf("page shows batch %s", id)
				}
			}
		})
	}
	t.Run("ApproverSeesAll", func(t *testing.T) {
		r := approver.Get(t, "/batches?scope=all")
		for _, id := range []string{mine, theirs} {
			if !strings.Contains(r.Body, `href="/batches/`+id+`"`) {
				t.Errorf("approver's list does not link %s", id)
			}
		}
		if got := strings.TrimSpace(r.Doc(t).Find(`.batch-scope a[aria-current="page"]`).Text()); got != "All users" {
			t.Errorf("current scope = %q", got)
		}
		if r := approver.Get(t, "/batches/"+theirs); r.Status != http.StatusOK {
			t.Errorf("approver on a batch: %d", r.Status)
		}
	})
	t.Run("ApproverListsAllByDefault", func(t *testing.T) {
		r := approver.Get(t, "/batches")
		for _, id := range []string{mine, theirs} {
			if !strings.Contains(r.Body, `href="/batches/`+id+`"`) {
				t.Errorf("approver's default list does not link %s", id)
			}
		}
		mineOnly := approver.Get(t, "/batches?scope=mine")
		if strings.Contains(mineOnly.Body, mine) || strings.Contains(mineOnly.Body, theirs) {
			t.Error("the approver's own list shows other users' batches")
		}
		if got := strings.TrimSpace(mineOnly.Doc(t).Find("main p").Last().Text()); got != "You have not run any batches." {
			t.Errorf("empty own list says %q", got)
		}
	})
	t.Run("ViewerSeesOnlyOwn", func(t *testing.T) {
		if r := viewer.Get(t, "/batches/"+mine); r.Status != http.StatusForbidden {
			t.Errorf("viewer on another's batch: %d", r.Status)
		}
		if r := viewer.Get(t, "/batches"); r.Status != http.StatusOK || strings.Contains(r.Body, mine) {
			t.Errorf("viewer's list: %d", r.Status)
		}
	})
	t.Run("SignedOut", func(t *testing.T) {
		if r := e.Anonymous(t).Get(t, "/batches/"+mine); r.Status != http.StatusSeeOther {
			t.Errorf("signed out: %d", r.Status)
		}
	})
	waitDone(t, e.op, mine)
	waitDone(t, op2, theirs)
}
