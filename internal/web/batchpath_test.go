package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// imageCalls counts the simulator's image-list requests.
func imageCalls(sim *simulator.Simulator) int {
	n := 0
	for _, r := range sim.Requests() {
		if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/dev-servers/images") {
			n++
		}
	}
	return n
}

// TestChangeOSAsksForImagesOnce: preview, inline validation, review and
// execute of one Change OS make exactly one images call; the images are
// kept with the prepared action.
func TestChangeOSAsksForImagesOnce(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 2, nil, changeable(modelarts.ServerTypeECS, modelarts.ArchX86))
	e.selectServers(t, "operator1", idsOf(servers)...)
	before := imageCalls(e.sim)
	doc, token := e.preview(t, e.op, modelarts.BatchChangeOS)
	img, ok := doc.Find(`select[name="image_id"] option[value!=""]`).First().Attr("value")
	if !ok {
		t.Fatal("the Change OS form offers no image")
	}
	fields := url.Values{"token": {token}, "action": {"CHANGEOS"}, "image_id": {img}, "login": {"key_pair"}, "key_pair_name": {"kp-1"}}
	if r := postMultipart(t, e.op, "/actions/validate", url.Values{"field": {"image_id"}, "action": {"CHANGEOS"}, "image_id": {img}}, "", nil); r.Status != http.StatusOK {
		t.Fatalf("validate: %d %s", r.Status, r.Body)
	}
	if r := postMultipart(t, e.op, "/actions/review", fields, "", nil); r.Status != http.StatusOK {
		t.Fatalf("review: %d %s", r.Status, r.Body)
	}
	// An image not offered is refused at its field without asking again.
	bad := url.Values{"token": {token}, "action": {"CHANGEOS"}, "image_id": {"11111111-2222-4333-8444-555555555555"},
		"login": {"key_pair"}, "key_pair_name": {"kp-1"}, "confirm": {"CHANGEOS"}}
	if r := postMultipart(t, e.op, "/actions/execute", bad, "", nil); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(r.Body, "not offered for the selected servers") {
		t.Fatalf("execute with an image not offered: %d %s", r.Status, r.Body)
	}
	fields.Set("confirm", "CHANGEOS")
	batchIDFrom(t, postMultipart(t, e.op, "/actions/execute", fields, "", nil))
	if got := imageCalls(e.sim) - before; got != 1 {
		t.Errorf("one Change OS made %d images calls, want exactly 1", got)
	}
}

// TestCloudErrorsReachPeople: a 5xx whose cause is ModelArts says so in
// words (not "something went wrong"), without the error chain.
func TestCloudErrorsReachPeople(t *testing.T) {
	t.Run("fleet list unreachable at preview", func(t *testing.T) {
		e := newActionEnv(t)
		servers := e.pick(t, 1, nil, eligible(modelarts.BatchStop))
		e.selectServers(t, "operator1", idsOf(servers)...)
		e.App.Fleet().Invalidate()
		e.sim.FailNextMethod(http.MethodGet, simulator.FaultDrop, 20)
		r := e.op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {"STOP"}})
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503\n%s", r.Status, r.Body)
		}
		for _, want := range []string{"could not be read from ModelArts", "ModelArts is unreachable", "nothing was sent"} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("answer does not say %q: %s", want, r.Body)
			}
		}
		for _, leak := range []string{"dial tcp", "EOF", "modelarts:", "Something went wrong"} {
			if strings.Contains(r.Body, leak) {
				t.Errorf("answer shows %q: %s", leak, r.Body)
			}
		}
	})
}

// TestSelectFailedServers: the batch page offers to select the servers
// that need attention; doing so makes exactly them the selection and opens
// the fleet filtered to it. Nothing is sent.
func TestSelectFailedServers(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 2, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	other := e.pick(t, 1, map[string]bool{servers[0].ID: true, servers[1].ID: true}, eligible(modelarts.BatchStart))
	e.selectServers(t, "operator1", idsOf(servers)...)
	_, token := e.preview(t, e.op, modelarts.BatchStop)
	e.sim.FailNextMethod(http.MethodPost, simulator.FaultThrottle, 1)
	id := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
	doc := waitDone(t, e.op, id)
	label := strings.TrimSpace(doc.Find(`form.select-failed button`).Text())
	if label != "Select the 2 servers that need attention" {
		t.Fatalf("select button = %q\n%s", label, doc.Text())
	}
	if reason := doc.Find(".batch-servers .result-reason").First().Text(); !strings.Contains(reason, "APIGW.0308") {
		t.Errorf("row reason = %q, want the ModelArts error code", reason)
	}
	e.selectServers(t, "operator1", other[0].ID) // the selection moved on meanwhile
	sent := e.sim.MutatingRequests()
	r := e.op.PostForm(t, "/batches/"+id+"/select-failed", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/servers?selected=1" {
		t.Fatalf("select failed: %d %q", r.Status, r.Header.Get("Location"))
	}
	u, err := e.App.Users().GetByName(context.Background(), "operator1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := fleet.NewSelections(e.App.DB(), nil).List(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := idsOf(servers)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("selection = %v, want exactly the failed servers %v", got, want)
	}
	if e.sim.MutatingRequests() != sent {
		t.Error("selecting the failed servers sent something")
	}
	// An approver, who may see the batch but not run actions, is not offered the button.
	if strings.Contains(e.As(t, auth.RoleApprover).HTMX(t, http.MethodGet, "/batches/"+id+"/status", nil).Body, "select-failed") {
		t.Error("an approver is offered to select servers")
	}
}

// TestActionControlsShowBusyAndCannotRepeat: every control of the action
// flow that waits on ModelArts (the preview buttons, Continue, Run and
// Confirm) is disabled by htmx while its request runs.
func TestActionControlsShowBusyAndCannotRepeat(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, eligible(modelarts.BatchDelete))
	e.selectServers(t, "operator1", idsOf(servers)...)
	page := e.op.Get(t, "/servers").Doc(t)
	buttons := page.Find(`.action-buttons button[hx-post="/actions/preview"]`)
	if buttons.Length() != 6 {
		t.Fatalf("%d preview buttons, want 6", buttons.Length())
	}
	buttons.Each(func(_ int, b *goquery.Selection) {
		if v, _ := b.Attr("hx-disabled-elt"); v != ".action-buttons button" {
			t.Errorf("preview button %q: hx-disabled-elt = %q", b.Text(), v)
		}
	})
	for _, tt := range []struct {
		action   modelarts.BatchType
		selector string
	}{
		{modelarts.BatchDelete, `form#action-form[hx-post="/actions/review"][hx-disabled-elt]`},
		{modelarts.BatchStop, `form#action-form[hx-post="/actions/execute"][hx-disabled-elt]`},
	} {
		e.selectServers(t, "operator1", idsOf(e.pick(t, 1, nil, eligible(tt.action)))...)
		doc, _ := e.preview(t, e.op, tt.action)
		if doc.Find(tt.selector).Length() != 1 {
			t.Errorf("%s: no %s", tt.action, tt.selector)
		}
	}
}
