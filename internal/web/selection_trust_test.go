package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
)

// selectedIDs reads userName's stored selection.
func (e *actionEnv) selectedIDs(t *testing.T, userName string) []string {
	t.Helper()
	u, err := e.App.Users().GetByName(context.Background(), userName)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := fleet.NewSelections(e.App.DB(), nil).List(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}

// TestBatchEmptiesItsServersFromTheSelection: submitting a batch removes the
// servers it covered (sent and skipped) from the selection; a server
// selected after the preview stays.
func TestBatchEmptiesItsServersFromTheSelection(t *testing.T) {
	e := newActionEnv(t)
	used := map[string]bool{}
	running := e.pick(t, 2, used, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	stopped := e.pick(t, 1, used, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusStopped })
	later := e.pick(t, 1, used, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusStopped })
	e.selectServers(t, "operator1", append(idsOf(running), stopped[0].ID)...)
	_, token := e.preview(t, e.op, modelarts.BatchStop) // the stopped one is skipped
	if token == "" {
		t.Fatal("no token in the preview")
	}
	// Selected after the preview, in another tab: not covered.
	mustStatus(t, e.op.HTMX(t, http.MethodPost, "/selection", url.Values{"id": {later[0].ID}, "checked": {"on"}}), http.StatusOK)

	batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
	if got := e.selectedIDs(t, "operator1"); !slices.Equal(got, []string{later[0].ID}) {
		t.Errorf("selection after the batch = %v, want only %s", got, later[0].ID)
	}
	e.App.Batches().Wait()
}

// TestSignOutClearsTheSelection: the next sign-in starts with nothing selected.
func TestSignOutClearsTheSelection(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 3, nil, func(*modelarts.ServerResponse) bool { return true })
	e.selectServers(t, "operator1", idsOf(servers)...)
	mustStatus(t, e.op.PostForm(t, "/signout", nil), http.StatusSeeOther)
	if got := e.selectedIDs(t, "operator1"); len(got) != 0 {
		t.Errorf("selection after sign-out = %v, want empty", got)
	}
}

// TestHiddenSelectionIsSaidAndShownOnDemand: with filters hiding selected
// servers the action bar says how many, and its link shows exactly the
// selection; the preview marks servers not on the page it came from.
func TestHiddenSelectionIsSaidAndShownOnDemand(t *testing.T) {
	e := newActionEnv(t)
	used := map[string]bool{}
	running := e.pick(t, 3, used, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	stopped := e.pick(t, 2, used, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusStopped })
	all := append(idsOf(running), idsOf(stopped)...)
	e.selectServers(t, "operator1", all...)

	doc := getFollow(t, e.op, "/servers?status=STOPPED").Doc(t)
	note := doc.Find("#action-bar .selection-hidden")
	if got := strings.Join(strings.Fields(note.Text()), " "); !strings.Contains(got, "3 of 5 selected servers are not shown by the current filters.") {
		t.Errorf("hidden-selection note = %q", got)
	}
	link, ok := note.Find("a").Attr("href")
	if !ok || !strings.Contains(link, "selected=1") || strings.Contains(link, "status=") {
		t.Fatalf("show-selection link = %q", link)
	}
	shown := getFollow(t, e.op, link).Doc(t)
	var ids []string
	shown.Find("#fleet-table tbody tr[data-server-id]").Each(func(_ int, tr *goquery.Selection) {
		ids = append(ids, tr.AttrOr("data-server-id", ""))
	})
	slices.Sort(ids)
	want := slices.Clone(all)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("selected=1 shows %v, want exactly %v", ids, want)
	}
	if shown.Find("#action-bar .selection-hidden").Length() != 0 {
		t.Error("the selection page still warns about hidden servers")
	}

	// The preview, asked from the STOPPED view, marks the running servers.
	view := doc.Find(`#action-bar input[name="view"]`).AttrOr("value", "")
	if view != "status=STOPPED" {
		t.Errorf("action form view = %q", view)
	}
	r := e.op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {"REBOOT"}, "view": {view}})
	mustStatus(t, r, http.StatusOK)
	p := r.Doc(t)
	marked := map[string]bool{}
	p.Find("#action-preview tbody tr").Each(func(_ int, tr *goquery.Selection) {
		if tr.Find(".offscreen-tag").Length() > 0 {
			marked[strings.TrimSpace(tr.Find("small.server-id").Text())] = true
		}
	})
	for _, s := range running {
		if !marked[s.ID] {
			t.Errorf("running server %s (not on the STOPPED page) is not marked", s.Name)
		}
	}
	for _, s := range stopped {
		if marked[s.ID] {
			t.Errorf("stopped server %s (on the page) is marked", s.Name)
		}
	}
	if got := p.Find(".offscreen-note").Text(); !strings.Contains(got, "3 of these servers are not on the fleet page") {
		t.Errorf("offscreen note = %q", got)
	}

	// The confirmation dialog of a destructive action marks them too.
	r = e.op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {"DELETE"}, "view": {view}})
	mustStatus(t, r, http.StatusOK)
	form := r.Doc(t).Find("#action-form")
	if got := form.Find(`input[name="view"]`).AttrOr("value", ""); got != view {
		t.Fatalf("the preview form carries view %q", got)
	}
	token := form.Find(`input[name="token"]`).AttrOr("value", "")
	r = e.op.HTMX(t, http.MethodPost, "/actions/review", url.Values{"token": {token}, "view": {view}})
	mustStatus(t, r, http.StatusOK)
	dialog := r.Doc(t).Find("dialog")
	marked = map[string]bool{}
	listed := map[string]bool{}
	dialog.Find(".confirm-targets li").Each(func(_ int, li *goquery.Selection) {
		id := strings.TrimSpace(li.Find("small.server-id").Text())
		listed[id] = true
		if li.Find(".offscreen-tag").Length() > 0 {
			marked[id] = true
		}
	})
	for _, s := range running {
		if ok, _ := modelarts.Eligible(modelarts.BatchDelete, &s); ok && !marked[s.ID] {
			t.Errorf("the confirmation does not mark %s", s.Name)
		}
	}
	if len(marked) == 0 || len(listed) == len(marked) {
		t.Errorf("the confirmation lists %d servers and marks %d; want some of each", len(listed), len(marked))
	}
	for _, s := range stopped {
		if marked[s.ID] {
			t.Errorf("the confirmation marks %s, which is on the page", s.Name)
		}
	}
}

// TestNoForbiddenLinks: operators and viewers get no link to the audit log
// on the fleet or server pages; operators get their batches on the server.
func TestNoForbiddenLinks(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	e.selectServers(t, "operator1", idsOf(servers)...)
	_, token := e.preview(t, e.op, modelarts.BatchReboot)
	batchID := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
	e.App.Batches().Wait()

	viewer := e.As(t, auth.RoleViewer)
	for name, c := range map[string]*apptest.Client{"operator": e.op, "viewer": viewer} {
		for _, page := range []string{"/servers", "/servers/" + servers[0].ID} {
			doc := getFollow(t, c, page).Doc(t)
			doc.Find("a[href]").Each(func(_ int, a *goquery.Selection) {
				href := a.AttrOr("href", "")
				if strings.HasPrefix(href, "/audit") || strings.HasPrefix(href, "/users") {
					t.Errorf("%s on %s: link %q answers Forbidden", name, page, href)
				}
			})
			for _, href := range doc.Find("main a[href]").Map(func(_ int, a *goquery.Selection) string { return a.AttrOr("href", "") }) {
				if strings.HasPrefix(href, "/") && !strings.HasPrefix(href, "/static") {
					if st := c.Get(t, href).Status; st == http.StatusForbidden {
						t.Errorf("%s on %s: %q answers 403", name, page, href)
					}
				}
			}
		}
	}
	doc := getFollow(t, e.op, "/servers/"+servers[0].ID).Doc(t)
	sec := doc.Find("section[aria-labelledby=sec-batches]")
	if sec.Find(`a[href="/batches/`+batchID+`"]`).Length() != 1 {
		t.Errorf("the operator's batch is not listed on the server page:\n%s", sec.Text())
	}
	// Another operator sees none of it (they could not open it).
	other := e.SignIn(t, "operator2", e.CreateUser(t, "operator2", auth.RoleOperator))
	if n := getFollow(t, other, "/servers/"+servers[0].ID).Doc(t).Find(`main a[href^="/batches/"]`).Length(); n != 0 {
		t.Errorf("another operator gets %d links to batches they cannot open", n)
	}
}
