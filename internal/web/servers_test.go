package web_test

import (
	"cmp"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// fleetEnv starts a console on the embedded simulator (40 servers by
// default) with the options given.
func fleetEnv(t testing.TB, opts ...func(*config.Config)) (*apptest.Env, *simulator.Simulator) {
	t.Helper()
	env := apptest.New(t, opts...)
	sim := env.App.Simulator()
	if sim == nil {
		t.Fatal("the test console is not on the simulator")
	}
	return env, sim
}

func withTransition(d time.Duration) func(*config.Config) {
	return func(c *config.Config) { c.SimTransition = d }
}

func withFleetTTL(d time.Duration) func(*config.Config) {
	return func(c *config.Config) { c.FleetTTL = d }
}

func withServers(n int) func(*config.Config) {
	return func(c *config.Config) { c.SimServers = n }
}

// rowNames returns the server names of the fleet table, in order.
func rowNames(doc *goquery.Document) []string {
	var out []string
	doc.Find("#fleet-table tbody tr[data-server-id] th[scope=row]").Each(func(_ int, s *goquery.Selection) {
		out = append(out, strings.TrimSpace(s.Text()))
	})
	return out
}

// checkedIDs returns the ids of the rows whose checkbox is checked.
func checkedIDs(doc *goquery.Document) []string {
	var out []string
	doc.Find("#fleet-table tbody tr[data-server-id]").Each(func(_ int, s *goquery.Selection) {
		if _, ok := s.Find(`input[type=checkbox]`).Attr("checked"); ok {
			id, _ := s.Attr("data-server-id")
			out = append(out, id)
		}
	})
	return out
}

func selectionText(doc *goquery.Document) string {
	return strings.Join(strings.Fields(doc.Find("#selection-count").Text()), " ")
}

func mustStatus(t *testing.T, r *apptest.Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; body:\n%.2000s", r.Status, want, r.Body)
	}
}

// byName sorts servers as the fleet page does by default.
func byName(servers []modelarts.ServerResponse) {
	slices.SortFunc(servers, func(a, b modelarts.ServerResponse) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	})
}

func namesOf(servers []modelarts.ServerResponse) []string {
	out := []string{}
	for _, s := range servers {
		out = append(out, s.Name)
	}
	return out
}

func filterServers(all []modelarts.ServerResponse, keep func(s *modelarts.ServerResponse) bool) []modelarts.ServerResponse {
	var out []modelarts.ServerResponse
	for i := range all {
		if keep(&all[i]) {
			out = append(out, all[i])
		}
	}
	return out
}

// simAction runs a single-server action directly on the simulator, as
// another tool would: the console only learns about it from the list.
func simAction(t *testing.T, sim *simulator.Simulator, method, id, verb string) {
	t.Helper()
	path := "/v1/" + app.SimulatorProjectID + "/dev-servers/" + id
	if verb != "" {
		path += "/" + verb
	}
	req := httptest.NewRequest(method, path, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	sim.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("simulator %s %s: %d %s", method, path, rec.Code, rec.Body)
	}
}

func firstWithStatus(t *testing.T, sim *simulator.Simulator, st modelarts.Status, not ...string) modelarts.ServerResponse {
	t.Helper()
	for _, s := range sim.Servers() {
		if s.Status == st && !slices.Contains(not, s.ID) {
			return s
		}
	}
	t.Fatalf("the simulated fleet has no %s server", st)
	return modelarts.ServerResponse{}
}

// statusWords is how the fleet page names each status.
var statusWords = map[modelarts.Status]string{
	"CREATE_FAILED": "Create failed", "CREATING": "Creating", "DELETED": "Deleted", "DELETE_FAILED": "Delete failed",
	"DELETING": "Deleting", "ERROR": "Error", "RUNNING": "Running", "STARTING": "Starting", "START_FAILED": "Start failed",
	"STOPPED": "Stopped", "STOPPING": "Stopping", "STOP_FAILED": "Stop failed", "REBOOTING": "Rebooting",
	"REBOOT_FAILED": "Reboot failed", "CHANGINGOS": "Changing OS", "CHANGINGOS_FAILED": "Change OS failed",
	"REINSTALLINGOS": "Reinstalling OS", "REINSTALLINGOS_FAILED": "Reinstall OS failed",
}

// getFollow gets path, following one redirect.
func getFollow(t *testing.T, c *apptest.Client, path string) *apptest.Response {
	t.Helper()
	r := c.Get(t, path)
	if r.Status == http.StatusSeeOther {
		r = c.Get(t, r.Header.Get("Location"))
	}
	return r
}

func TestServersCanonicalURL(t *testing.T) {
	env, _ := fleetEnv(t)
	c := env.As(t, auth.RoleViewer)
	tests := []struct {
		name   string
		target string
		want   string // Location, "" for no redirect
	}{
		{name: "filter form with All choices", target: "/servers?status=&category=&type=&arch=&flavor=&q=&sort=name&per_page=50", want: "/servers"},
		{name: "filter form with choices", target: "/servers?status=RUNNING&category=&type=&arch=ARM&flavor=&q=+dev+&sort=-created&per_page=100",
			want: "/servers?arch=ARM&per_page=100&q=dev&sort=-created&status=RUNNING"},
		{name: "canonical stays", target: "/servers?arch=ARM&per_page=100&q=dev&sort=-created&status=RUNNING"},
		{name: "no query", target: "/servers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.Get(t, tt.target)
			if tt.want == "" {
				mustStatus(t, r, http.StatusOK)
				return
			}
			mustStatus(t, r, http.StatusSeeOther)
			if got := r.Header.Get("Location"); got != tt.want {
				t.Errorf("Location = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRootRedirectsToServers(t *testing.T) {
	env, _ := fleetEnv(t)
	c := env.As(t, auth.RoleViewer)
	r := c.Get(t, "/")
	mustStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != "/servers" {
		t.Errorf("Location = %q, want /servers", got)
	}
}

func TestServersPageListsEveryColumn(t *testing.T) {
	env, sim := fleetEnv(t)
	c := env.As(t, auth.RoleAdmin)
	r := getFollow(t, c, "/servers")
	mustStatus(t, r, http.StatusOK)
	doc := r.Doc(t)

	var headers []string
	doc.Find("#fleet-table thead th[scope=col]").Each(func(_ int, s *goquery.Selection) {
		s = s.Clone()
		s.Find("[aria-hidden=true]").Remove()
		headers = append(headers, strings.TrimSpace(s.Text()))
	})
	wantHeaders := []string{"Selected", "Name", "Status", "ID", "Flavor", "Category", "Server type", "Arch", "Image", "Private IP", "Charging", "Created", "History"}
	if diff := gocmp.Diff(wantHeaders, headers); diff != "" {
		t.Errorf("column headers mismatch (-want +got):\n%s", diff)
	}
	if doc.Find("#fleet-table table caption").Length() != 1 {
		t.Error("the table has no caption")
	}

	servers := sim.Servers()
	byName(servers)
	if diff := gocmp.Diff(namesOf(servers), rowNames(doc)); diff != "" {
		t.Errorf("rows mismatch (-want +got):\n%s", diff)
	}

	// Every cell of every row shows the server's data.
	rows := doc.Find("#fleet-table tbody tr[data-server-id]")
	for i, s := range servers {
		row := rows.Eq(i)
		cells := row.Children()
		text := func(n int) string { return strings.Join(strings.Fields(cells.Eq(n).Text()), " ") }
		img := s.ImageInfo()
		want := []string{"", s.Name, statusWords[s.Status], s.ID[:8] + "… Copy", s.Flavor, map[modelarts.Category]string{
			modelarts.CategoryServer: "SERVER", modelarts.CategoryHPS: "HPS supernode", modelarts.CategorySPOD: "SPOD",
		}[s.Category], string(s.Type()), string(s.Arch()), img.Name, s.PrivateIP(), map[modelarts.ChargingMode]string{
			modelarts.ChargingPostPaid: "Pay-per-use", modelarts.ChargingPrePaid: "Yearly/monthly",
		}[s.ChargingMode]}
		var got []string
		for n := range len(want) {
			got = append(got, text(n))
		}
		if diff := gocmp.Diff(want, got); diff != "" {
			t.Errorf("row %d (%s) mismatch (-want +got):\n%s", i, s.Name, diff)
		}
		// A short id, the full one in its tooltip and on the copy button.
		if cells.Eq(3).Find("[title]").First().AttrOr("title", "") != s.ID || cells.Eq(3).Find("button[data-copy]").AttrOr("data-copy", "") != s.ID {
			t.Errorf("%s: the id cell lacks the full id in its tooltip or copy button", s.Name)
		}
		if got := cells.Eq(3).Find("button").AttrOr("aria-label", ""); got != "Copy the ID of "+s.Name {
			t.Errorf("%s: copy button is named %q", s.Name, got)
		}
		if id, _ := row.Attr("data-server-id"); id != s.ID {
			t.Errorf("row %d data-server-id = %q, want %q", i, id, s.ID)
		}
		if href, _ := cells.Eq(1).Find("a").Attr("href"); href != "/servers/"+s.ID {
			t.Errorf("%s: name links to %q", s.Name, href)
		}
		badge := cells.Eq(2).Find(".badge")
		if st, _ := badge.Attr("data-status"); st != string(s.Status) {
			t.Errorf("%s: badge data-status = %q, want %s", s.Name, st, s.Status)
		}
		family := "status-stopped"
		switch {
		case s.Status == modelarts.StatusRunning:
			family = "status-running"
		case s.Status.Failed():
			family = "status-failed"
		case s.Status.Transient():
			family = "status-transient"
		}
		if !badge.HasClass(family) {
			t.Errorf("%s: badge class %q lacks %q", s.Name, badge.AttrOr("class", ""), family)
		}
		if dt, _ := cells.Eq(11).Find("time").Attr("datetime"); dt != time.UnixMilli(s.CreateAt).UTC().Format(time.RFC3339) {
			t.Errorf("%s: created datetime = %q", s.Name, dt)
		}
		if href, _ := cells.Eq(12).Find("a").Attr("href"); href != "/audit?server="+url.QueryEscape(s.ID) {
			t.Errorf("%s: history link = %q", s.Name, href)
		}
		if got := text(12); got != "History of "+s.Name {
			t.Errorf("%s: history link reads %q", s.Name, got)
		}
		if label, _ := cells.Eq(0).Find("input[type=checkbox]").Attr("aria-label"); label != "Select "+s.Name {
			t.Errorf("%s: checkbox label = %q", s.Name, label)
		}
	}

	if !strings.Contains(doc.Find(".data-age").Text(), "Data from") || doc.Find(".data-age time[datetime]").Length() != 1 {
		t.Errorf("the page does not say when its data is from: %q", doc.Find(".data-age").Text())
	}
	if doc.Find(`form[action^="/servers/refresh"] button`).Text() != "Refresh" {
		t.Error("no Refresh button")
	}
	if doc.Find(`[role=alert]`).Length() != 0 {
		t.Errorf("unexpected alert: %q", doc.Find(`[role=alert]`).Text())
	}
	if doc.Find(".sim-banner").Length() != 1 {
		t.Error("the page does not say it runs on the simulator")
	}
}

func TestServersFilters(t *testing.T) {
	env, sim := fleetEnv(t, withServers(120))
	c := env.As(t, auth.RoleViewer)
	all := sim.Servers()
	byName(all)
	ecs := firstWithStatus(t, sim, modelarts.StatusRunning)
	someName := all[7].Name
	tests := []struct {
		name  string
		query url.Values
		keep  func(s *modelarts.ServerResponse) bool
		// field is the id of the form control that must show the filter.
		field, fieldValue string
	}{
		{name: "status", query: url.Values{"status": {"STOPPED"}},
			keep:  func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusStopped },
			field: "f-status", fieldValue: "STOPPED"},
		{name: "category", query: url.Values{"category": {"HPS"}},
			keep:  func(s *modelarts.ServerResponse) bool { return s.Category == modelarts.CategoryHPS },
			field: "f-category", fieldValue: "HPS"},
		{name: "server type", query: url.Values{"type": {"ECS"}},
			keep:  func(s *modelarts.ServerResponse) bool { return s.Type() == modelarts.ServerTypeECS },
			field: "f-type", fieldValue: "ECS"},
		{name: "arch", query: url.Values{"arch": {"X86"}},
			keep:  func(s *modelarts.ServerResponse) bool { return s.Arch() == modelarts.ArchX86 },
			field: "f-arch", fieldValue: "X86"},
		{name: "flavor", query: url.Values{"flavor": {ecs.Flavor}},
			keep:  func(s *modelarts.ServerResponse) bool { return s.Flavor == ecs.Flavor },
			field: "f-flavor", fieldValue: ecs.Flavor},
		{name: "name substring, any case", query: url.Values{"q": {strings.ToUpper(someName[2:9])}},
			keep: func(s *modelarts.ServerResponse) bool {
				return strings.Contains(strings.ToLower(s.Name), strings.ToLower(someName[2:9])) ||
					strings.Contains(strings.ToLower(s.ID), strings.ToLower(someName[2:9]))
			},
			field: "f-q", fieldValue: strings.ToUpper(someName[2:9])},
		{name: "id substring", query: url.Values{"q": {ecs.ID[:13]}},
			keep:  func(s *modelarts.ServerResponse) bool { return strings.Contains(s.ID, ecs.ID[:13]) },
			field: "f-q", fieldValue: ecs.ID[:13]},
		{name: "filters combine", query: url.Values{"status": {"RUNNING"}, "arch": {"ARM"}, "category": {"SERVER"}},
			keep: func(s *modelarts.ServerResponse) bool {
				return s.Status == modelarts.StatusRunning && s.Arch() == modelarts.ArchARM && s.Category == modelarts.CategoryServer
			},
			field: "f-arch", fieldValue: "ARM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{"per_page": {"500"}}
			for k, v := range tt.query {
				q[k] = v
			}
			r := getFollow(t, c, "/servers?"+q.Encode())
			mustStatus(t, r, http.StatusOK)
			doc := r.Doc(t)
			want := namesOf(filterServers(all, tt.keep))
			if len(want) == 0 || len(want) == len(all) {
				t.Fatalf("bad test: the filter keeps %d of %d servers", len(want), len(all))
			}
			if diff := gocmp.Diff(want, rowNames(doc)); diff != "" {
				t.Errorf("rows mismatch (-want +got):\n%s", diff)
			}
			// The form shows the filter in force, so Apply keeps it.
			field := doc.Find("#" + tt.field)
			got := field.AttrOr("value", "")
			if field.Is("select") {
				got = field.Find("option[selected]").AttrOr("value", "")
			}
			if got != tt.fieldValue {
				t.Errorf("form field %s shows %q, want %q", tt.field, got, tt.fieldValue)
			}
			if label := doc.Find(`label[for="` + tt.field + `"]`); label.Length() != 1 {
				t.Errorf("form field %s has no label", tt.field)
			}
		})
	}
}

func TestServersSort(t *testing.T) {
	env, sim := fleetEnv(t)
	c := env.As(t, auth.RoleViewer)
	tests := []struct {
		sort string
		less func(a, b modelarts.ServerResponse) int
	}{
		{"name", func(a, b modelarts.ServerResponse) int { return cmp.Compare(a.Name, b.Name) }},
		{"-name", func(a, b modelarts.ServerResponse) int { return cmp.Compare(b.Name, a.Name) }},
		{"created", func(a, b modelarts.ServerResponse) int { return cmp.Compare(a.CreateAt, b.CreateAt) }},
		{"-created", func(a, b modelarts.ServerResponse) int { return cmp.Compare(b.CreateAt, a.CreateAt) }},
		{"status", func(a, b modelarts.ServerResponse) int {
			return cmp.Or(cmp.Compare(a.Status, b.Status), cmp.Compare(a.Name, b.Name))
		}},
		{"-status", func(a, b modelarts.ServerResponse) int {
			return cmp.Or(cmp.Compare(b.Status, a.Status), cmp.Compare(a.Name, b.Name))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.sort, func(t *testing.T) {
			servers := sim.Servers()
			slices.SortStableFunc(servers, tt.less)
			r := getFollow(t, c, "/servers?sort="+url.QueryEscape(tt.sort))
			mustStatus(t, r, http.StatusOK)
			doc := r.Doc(t)
			if diff := gocmp.Diff(namesOf(servers), rowNames(doc)); diff != "" {
				t.Errorf("order mismatch (-want +got):\n%s", diff)
			}
			if got := doc.Find("#f-sort option[selected]").AttrOr("value", ""); got != tt.sort {
				t.Errorf("sort picker shows %q, want %q", got, tt.sort)
			}
		})
	}
}

func TestServersPaging(t *testing.T) {
	env, sim := fleetEnv(t)
	c := env.As(t, auth.RoleViewer)
	all := sim.Servers()
	byName(all)
	stopped := filterServers(all, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusStopped })
	tests := []struct {
		name        string
		target      string
		want        []modelarts.ServerResponse
		wantCurrent string
		wantPrev    string // href of Previous, "" when absent
		wantNext    string
	}{
		{name: "first page", target: "/servers?per_page=10", want: all[:10], wantCurrent: "1",
			wantNext: "/servers?page=2&per_page=10"},
		{name: "middle page", target: "/servers?per_page=10&page=2", want: all[10:20], wantCurrent: "2",
			wantPrev: "/servers?per_page=10", wantNext: "/servers?page=3&per_page=10"},
		{name: "last page", target: "/servers?per_page=10&page=4", want: all[30:40], wantCurrent: "4",
			wantPrev: "/servers?page=3&per_page=10"},
		{name: "past the end shows the last page", target: "/servers?per_page=10&page=99", want: all[30:40], wantCurrent: "4",
			wantPrev: "/servers?page=3&per_page=10"},
		{name: "links keep the filter", target: "/servers?status=STOPPED&per_page=5&page=2", want: stopped[5:10], wantCurrent: "2",
			wantPrev: "/servers?per_page=5&status=STOPPED", wantNext: "/servers?page=3&per_page=5&status=STOPPED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := getFollow(t, c, tt.target)
			mustStatus(t, r, http.StatusOK)
			doc := r.Doc(t)
			if diff := gocmp.Diff(namesOf(tt.want), rowNames(doc)); diff != "" {
				t.Errorf("rows mismatch (-want +got):\n%s", diff)
			}
			nav := doc.Find(`nav[aria-label="Pagination"]`)
			if nav.Length() != 1 {
				t.Fatal("no pagination nav")
			}
			if got := strings.TrimSpace(nav.Find(`[aria-current=page]`).Text()); got != tt.wantCurrent {
				t.Errorf("current page = %q, want %q", got, tt.wantCurrent)
			}
			if got := nav.Find(`a[rel=prev]`).AttrOr("href", ""); got != tt.wantPrev {
				t.Errorf("Previous = %q, want %q", got, tt.wantPrev)
			}
			if got := nav.Find(`a[rel=next]`).AttrOr("href", ""); got != tt.wantNext {
				t.Errorf("Next = %q, want %q", got, tt.wantNext)
			}
		})
	}
}

func TestSelection(t *testing.T) {
	env, sim := fleetEnv(t)
	op := env.As(t, auth.RoleOperator)
	all := sim.Servers()
	byName(all)
	stopped := filterServers(all, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusStopped })
	if len(stopped) <= 5 {
		t.Fatalf("need more than 5 stopped servers to page through, have %d", len(stopped))
	}
	stoppedIDs := func(from []modelarts.ServerResponse) []string {
		var ids []string
		for _, s := range from {
			if s.Status == modelarts.StatusStopped {
				ids = append(ids, s.ID)
			}
		}
		return ids
	}

	t.Run("toggle on answers the new count", func(t *testing.T) {
		r := op.HTMX(t, http.MethodPost, "/selection", url.Values{"id": {all[3].ID}, "checked": {"on"}})
		mustStatus(t, r, http.StatusOK)
		if got := strings.Join(strings.Fields(r.Body), " "); got != "1 server selected" {
			t.Errorf("answer = %q, want %q", got, "1 server selected")
		}
		doc := getFollow(t, op, "/servers").Doc(t)
		if diff := gocmp.Diff([]string{all[3].ID}, checkedIDs(doc)); diff != "" {
			t.Errorf("checked rows mismatch (-want +got):\n%s", diff)
		}
		if got := selectionText(doc); got != "1 server selected" {
			t.Errorf("action bar says %q", got)
		}
		if live := doc.Find("#selection-count").AttrOr("aria-live", ""); live != "polite" {
			t.Errorf("selection count aria-live = %q, want polite", live)
		}
	})
	t.Run("toggle off", func(t *testing.T) {
		r := op.HTMX(t, http.MethodPost, "/selection", url.Values{"id": {all[3].ID}})
		mustStatus(t, r, http.StatusOK)
		if got := strings.Join(strings.Fields(r.Body), " "); got != "0 servers selected" {
			t.Errorf("answer = %q", got)
		}
		if got := checkedIDs(getFollow(t, op, "/servers").Doc(t)); len(got) != 0 {
			t.Errorf("still checked: %v", got)
		}
	})
	t.Run("unknown server cannot be selected", func(t *testing.T) {
		r := op.HTMX(t, http.MethodPost, "/selection", url.Values{"id": {"no-such-server"}, "checked": {"on"}})
		mustStatus(t, r, http.StatusNotFound)
	})
	t.Run("without CSRF token nothing changes", func(t *testing.T) {
		r := op.PostForm(t, "/selection", url.Values{"id": {all[0].ID}, "checked": {"on"}, "_csrf": {""}})
		mustStatus(t, r, http.StatusForbidden)
		if got := selectionText(getFollow(t, op, "/servers").Doc(t)); got != "0 servers selected" {
			t.Errorf("action bar says %q", got)
		}
	})
	t.Run("select all matching selects every page", func(t *testing.T) {
		page := getFollow(t, op, "/servers?status=STOPPED&per_page=5").Doc(t)
		form := page.Find(`#action-bar form[action^="/selection/all"]`)
		action := form.AttrOr("action", "")
		if btn := strings.Join(strings.Fields(form.Find("button").Text()), " "); btn != fmt.Sprintf("Select all %d matching", len(stopped)) {
			t.Errorf("button says %q", btn)
		}
		r := op.PostForm(t, action, nil)
		mustStatus(t, r, http.StatusSeeOther)
		if got, want := r.Header.Get("Location"), "/servers?per_page=5&status=STOPPED"; got != want {
			t.Errorf("redirect to %q, want %q", got, want)
		}
		want := fmt.Sprintf("%d servers selected", len(stopped))
		for p := 1; p <= (len(stopped)+4)/5; p++ {
			doc := getFollow(t, op, fmt.Sprintf("/servers?status=STOPPED&per_page=5&page=%d", p)).Doc(t)
			if got := checkedIDs(doc); len(got) != len(doc.Find("#fleet-table tbody tr[data-server-id]").Nodes) {
				t.Errorf("page %d: %d of the rows checked", p, len(got))
			}
			if got := selectionText(doc); got != want {
				t.Errorf("page %d: action bar says %q, want %q", p, got, want)
			}
		}
	})
	t.Run("selection survives filter change, paging and refresh", func(t *testing.T) {
		want := fmt.Sprintf("%d servers selected", len(stopped))
		for _, target := range []string{"/servers", "/servers?status=RUNNING", "/servers?per_page=10&page=3", "/servers?sort=-created"} {
			doc := getFollow(t, op, target).Doc(t)
			if got := selectionText(doc); got != want {
				t.Errorf("%s: action bar says %q, want %q", target, got, want)
			}
			var shown []modelarts.ServerResponse
			for _, id := range func() []string {
				var ids []string
				doc.Find("#fleet-table tbody tr[data-server-id]").Each(func(_ int, s *goquery.Selection) {
					ids = append(ids, s.AttrOr("data-server-id", ""))
				})
				return ids
			}() {
				s, _ := sim.Server(id)
				shown = append(shown, s)
			}
			if diff := gocmp.Diff(stoppedIDs(shown), checkedIDs(doc)); diff != "" {
				t.Errorf("%s: checked rows mismatch (-want +got):\n%s", target, diff)
			}
		}
		mustStatus(t, op.PostForm(t, "/servers/refresh", nil), http.StatusSeeOther)
		if got := selectionText(getFollow(t, op, "/servers").Doc(t)); got != want {
			t.Errorf("after refresh: action bar says %q", got)
		}
	})
	t.Run("each user has their own selection", func(t *testing.T) {
		other := env.As(t, auth.RoleAdmin)
		doc := getFollow(t, other, "/servers").Doc(t)
		if got := selectionText(doc); got != "0 servers selected" {
			t.Errorf("another user sees %q", got)
		}
	})
	t.Run("clear", func(t *testing.T) {
		page := getFollow(t, op, "/servers?page=1&per_page=10").Doc(t)
		action := page.Find(`#action-bar form[action^="/selection/clear"]`).AttrOr("action", "")
		r := op.PostForm(t, action, nil)
		mustStatus(t, r, http.StatusSeeOther)
		if got := r.Header.Get("Location"); got != "/servers?per_page=10" {
			t.Errorf("redirect to %q", got)
		}
		doc := getFollow(t, op, "/servers").Doc(t)
		if got := selectionText(doc); got != "0 servers selected" {
			t.Errorf("after clear: %q", got)
		}
		if got := checkedIDs(doc); len(got) != 0 {
			t.Errorf("after clear still checked: %v", got)
		}
	})
}

func TestActionBarByRole(t *testing.T) {
	env, _ := fleetEnv(t)
	wantButtons := []string{"Start", "Stop", "Reboot", "Change OS", "Reinstall OS", "Delete"}
	wantValues := []string{"START", "STOP", "REBOOT", "CHANGEOS", "REINSTALLOS", "DELETE"}
	tests := []struct {
		role        auth.Role
		wantActions bool
	}{
		{auth.RoleViewer, false},
		{auth.RoleApprover, false},
		{auth.RoleOperator, true},
		{auth.RoleAdmin, true},
	}
	for _, tt := range tests {
		t.Run(string(tt.role), func(t *testing.T) {
			doc := getFollow(t, env.As(t, tt.role), "/servers").Doc(t)
			bar := doc.Find("#action-bar")
			// People who cannot act get no selection tools, checkboxes or
			// "Select all" (issue 15).
			if !tt.wantActions {
				if bar.Length() != 0 || doc.Find(`#fleet-table input[type=checkbox]`).Length() != 0 || strings.Contains(doc.Text(), "Select all") {
					t.Error("a role that cannot act gets selection tools")
				}
				return
			}
			if bar.Length() != 1 {
				t.Fatal("no action bar")
			}
			var names, values []string
			bar.Find("button[name=action]").Each(func(_ int, b *goquery.Selection) {
				names = append(names, strings.TrimSpace(b.Text()))
				values = append(values, b.AttrOr("value", ""))
				if b.AttrOr("hx-post", "") != "/actions/preview" || b.AttrOr("hx-target", "") != "#action-panel" || b.AttrOr("type", "") != "submit" {
					t.Errorf("button %q: hx-post=%q hx-target=%q type=%q", b.Text(), b.AttrOr("hx-post", ""), b.AttrOr("hx-target", ""), b.AttrOr("type", ""))
				}
			})
			for _, name := range wantButtons {
				found := false
				doc.Find("button").Each(func(_ int, b *goquery.Selection) {
					found = found || strings.TrimSpace(b.Text()) == name
				})
				if found != tt.wantActions {
					t.Errorf("button %q present = %v, want %v", name, found, tt.wantActions)
				}
			}
			if tt.wantActions {
				if diff := gocmp.Diff(wantButtons, names); diff != "" {
					t.Errorf("buttons mismatch (-want +got):\n%s", diff)
				}
				if diff := gocmp.Diff(wantValues, values); diff != "" {
					t.Errorf("button values mismatch (-want +got):\n%s", diff)
				}
			}
			if doc.Find("#action-bar + #action-panel").Length() != 1 {
				t.Error("#action-panel does not follow the action bar")
			}
		})
	}
}

func TestServersPolling(t *testing.T) {
	t.Run("polls only while a server on the page moves", func(t *testing.T) {
		env, sim := fleetEnv(t, withTransition(time.Hour))
		c := env.As(t, auth.RoleOperator)
		doc := getFollow(t, c, "/servers").Doc(t)
		if _, ok := doc.Find("#fleet-table").Attr("hx-trigger"); ok {
			t.Fatal("the table polls although nothing is moving")
		}
		running := firstWithStatus(t, sim, modelarts.StatusRunning)
		other := firstWithStatus(t, sim, modelarts.StatusStopped)
		simAction(t, sim, http.MethodPut, running.ID, "stop")

		q := url.Values{"q": {running.Name}}.Encode()
		doc = getFollow(t, c, "/servers?"+q).Doc(t)
		table := doc.Find("#fleet-table")
		if got := table.AttrOr("hx-trigger", ""); got != "every 2s" {
			t.Errorf("hx-trigger = %q, want every 2s", got)
		}
		if got := table.AttrOr("hx-get", ""); got != "/servers/rows?"+q {
			t.Errorf("hx-get = %q", got)
		}
		if got := table.AttrOr("hx-swap", ""); got != "outerHTML" {
			t.Errorf("hx-swap = %q", got)
		}
		if got := strings.TrimSpace(doc.Find(`tr[data-server-id="` + running.ID + `"] .badge`).Text()); got != "Stopping" {
			t.Errorf("badge = %q, want Stopping", got)
		}

		// The poll answer is the table again, still polling.
		r := c.HTMX(t, http.MethodGet, "/servers/rows?"+q, nil)
		mustStatus(t, r, http.StatusOK)
		frag := r.Doc(t)
		if frag.Find("html head title").Length() != 0 {
			t.Error("the poll answer is a whole page")
		}
		if got := frag.Find("#fleet-table").AttrOr("hx-trigger", ""); got != "every 2s" {
			t.Errorf("poll answer hx-trigger = %q", got)
		}

		// A page without the moving server does not poll.
		doc = getFollow(t, c, "/servers?"+url.Values{"q": {other.Name}}.Encode()).Doc(t)
		if _, ok := doc.Find("#fleet-table").Attr("hx-trigger"); ok {
			t.Error("a page with nothing moving polls")
		}
	})
	t.Run("polling stops once the server settles", func(t *testing.T) {
		env, sim := fleetEnv(t, withTransition(300*time.Millisecond))
		c := env.As(t, auth.RoleOperator)
		running := firstWithStatus(t, sim, modelarts.StatusRunning)
		simAction(t, sim, http.MethodPut, running.ID, "stop")
		q := url.Values{"q": {running.Name}}.Encode()
		deadline := time.Now().Add(10 * time.Second)
		for {
			frag := c.HTMX(t, http.MethodGet, "/servers/rows?"+q, nil).Doc(t)
			_, polling := frag.Find("#fleet-table").Attr("hx-trigger")
			badge := strings.TrimSpace(frag.Find(`tr[data-server-id="` + running.ID + `"] .badge`).Text())
			if !polling {
				if badge != "Stopped" {
					t.Errorf("polling stopped with the badge at %q", badge)
				}
				break
			}
			if badge != "Stopping" {
				t.Errorf("still polling with the badge at %q", badge)
			}
			if time.Now().After(deadline) {
				t.Fatal("the table never stopped polling")
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("polls share the cache and never force a walk", func(t *testing.T) {
		env, sim := fleetEnv(t, withTransition(time.Hour), withFleetTTL(time.Hour))
		c := env.As(t, auth.RoleViewer)
		running := firstWithStatus(t, sim, modelarts.StatusRunning)
		simAction(t, sim, http.MethodPut, running.ID, "stop")
		mustStatus(t, c.PostForm(t, "/servers/refresh", nil), http.StatusSeeOther)
		before := sim.RequestCount()
		other := env.As(t, auth.RoleOperator)
		for range 5 {
			mustStatus(t, c.HTMX(t, http.MethodGet, "/servers/rows", nil), http.StatusOK)
			mustStatus(t, other.Get(t, "/servers"), http.StatusOK)
		}
		if got := sim.RequestCount() - before; got != 0 {
			t.Errorf("%d requests reached ModelArts during polls within the TTL, want 0", got)
		}
		mustStatus(t, c.PostForm(t, "/servers/refresh", nil), http.StatusSeeOther)
		if got := sim.RequestCount() - before; got == 0 {
			t.Error("Refresh did not fetch the fleet")
		}
	})
}

func TestServersFetchErrors(t *testing.T) {
	env, sim := fleetEnv(t)
	sim.SetFaults(simulator.Faults{ErrorRate: 1})
	c := env.As(t, auth.RoleOperator)

	r := getFollow(t, c, "/servers")
	mustStatus(t, r, http.StatusServiceUnavailable)
	doc := r.Doc(t)
	alert := doc.Find("#fleet-table [role=alert]")
	if !strings.Contains(alert.Text(), "ModelArts answered with an error on its side") || !strings.Contains(alert.Text(), "No data to show") {
		t.Errorf("alert = %q", alert.Text())
	}
	if strings.Contains(alert.Text(), "ModelArts.0050") || strings.Contains(alert.Text(), "fleet: list servers") {
		t.Errorf("the raw error reaches the page: %q", alert.Text())
	}
	// A viewer gets the plain words only.
	viewer := env.As(t, auth.RoleViewer)
	if got := getFollow(t, viewer, "/servers").Doc(t).Find("#fleet-table [role=alert]").Text(); !strings.Contains(got, "ModelArts is unavailable.") || strings.Contains(got, "error on its side") {
		t.Errorf("viewer's alert = %q", got)
	}

	sim.SetFaults(simulator.Faults{})
	doc = getFollow(t, c, "/servers").Doc(t)
	if n := doc.Find("[role=alert]").Length(); n != 0 {
		t.Errorf("%d alerts once the API is back", n)
	}
	rows := len(rowNames(doc))

	sim.SetFaults(simulator.Faults{ErrorRate: 1})
	r = getFollow(t, c, "/servers")
	mustStatus(t, r, http.StatusOK)
	doc = r.Doc(t)
	alert = doc.Find("#fleet-table [role=alert]")
	if !strings.Contains(alert.Text(), "ModelArts answered with an error") || !strings.Contains(alert.Text(), "Showing data from") {
		t.Errorf("alert = %q", alert.Text())
	}
	if got := len(rowNames(doc)); got != rows {
		t.Errorf("%d rows with the older data, want %d", got, rows)
	}
	// Polls show the error too, but do not announce it again each time.
	frag := c.HTMX(t, http.MethodGet, "/servers/rows", nil).Doc(t)
	if frag.Find(".fleet-error").Length() != 1 || frag.Find("[role=alert]").Length() != 0 {
		t.Error("poll answer: want the error shown without role=alert")
	}
}

func TestServerDetail(t *testing.T) {
	env, sim := fleetEnv(t, withServers(80))
	c := env.As(t, auth.RoleViewer)
	var hps modelarts.ServerResponse
	for _, s := range sim.Servers() {
		if s.Category == modelarts.CategoryHPS {
			hps = s
			break
		}
	}
	if hps.ID == "" {
		t.Fatal("no supernode server in the simulated fleet")
	}
	r := getFollow(t, c, "/servers/"+hps.ID)
	mustStatus(t, r, http.StatusOK)
	doc := r.Doc(t)
	if got := strings.TrimSpace(doc.Find("h1").Text()); got != hps.Name {
		t.Errorf("h1 = %q, want %q", got, hps.Name)
	}
	text := doc.Find("main").Text()
	for _, want := range []string{hps.ID, hps.Flavor, hps.CloudServer.ID, hps.CloudServer.HpsID, hps.CloudServer.HpsEcsID,
		hps.ServerHps.Name, hps.ServerHps.ID, hps.ImageInfo().Name, hps.ImageInfo().ImageID, hps.VpcID, hps.SubnetID,
		hps.PrivateIP(), "HPS supernode"} {
		if !strings.Contains(text, want) {
			t.Errorf("detail page lacks %q", want)
		}
	}
	for _, v := range hps.Volumes {
		if v.EVSID != "" && !strings.Contains(text, v.EVSID) {
			t.Errorf("detail page lacks volume %s", v.EVSID)
		}
	}
	if got := doc.Find(`section[aria-labelledby=sec-volumes] tbody tr`).Length(); got != len(hps.Volumes) {
		t.Errorf("%d volume rows, want %d", got, len(hps.Volumes))
	}
	if doc.Find(`a[href^="/audit"]`).Length() != 0 {
		t.Error("a viewer gets a link to the audit log, which answers Forbidden")
	}
	if doc.Find("#sec-batches").Length() != 0 {
		t.Error("a viewer, who has no batches, gets a batches section")
	}
	approver := env.As(t, auth.RoleApprover)
	if getFollow(t, approver, "/servers/"+hps.ID).Doc(t).Find(`a[href="/audit?server=`+hps.ID+`"]`).Length() != 1 {
		t.Error("no link to the server's audit history for an approver")
	}

	t.Run("unknown server is 404", func(t *testing.T) {
		r := getFollow(t, c, "/servers/no-such-server")
		mustStatus(t, r, http.StatusNotFound)
		if !strings.Contains(r.Body, "no server with this ID") {
			t.Errorf("404 page does not explain: %.500s", r.Body)
		}
	})
}

func TestServersEscapeHostileNames(t *testing.T) {
	env, sim := fleetEnv(t)
	c := env.As(t, auth.RoleOperator)
	servers := sim.Servers()
	hostile := map[string]string{
		servers[0].ID: `<script>alert(1)</script>`,
		servers[1].ID: `"><img src=x onerror=alert(1)>`,
	}
	for id, name := range hostile {
		if err := sim.SetServerName(id, name); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{"/servers", "/servers?q=" + url.QueryEscape(`<script>`), "/servers/" + servers[0].ID, "/servers/" + servers[1].ID} {
		r := getFollow(t, c, target)
		mustStatus(t, r, http.StatusOK)
		doc := r.Doc(t)
		if n := doc.Find("script:not([src])").Length(); n != 0 {
			t.Errorf("%s: %d inline <script> elements", target, n)
		}
		if n := doc.Find("img").Length(); n != 0 {
			t.Errorf("%s: %d <img> elements", target, n)
		}
		if strings.Contains(r.Body, "<script>alert") || strings.Contains(r.Body, "<img src=x") {
			t.Errorf("%s: raw markup in the page", target)
		}
	}
	doc := getFollow(t, c, "/servers?per_page=500").Doc(t)
	for id, name := range hostile {
		row := doc.Find(`tr[data-server-id="` + id + `"]`)
		if got := strings.TrimSpace(row.Find("th[scope=row]").Text()); got != name {
			t.Errorf("name shown as %q, want the literal %q", got, name)
		}
		if got := row.Find("input[type=checkbox]").AttrOr("aria-label", ""); got != "Select "+name {
			t.Errorf("checkbox label = %q", got)
		}
	}
}
