package fleet_test

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
)

// queryFleet is a small, varied fleet for the query tests.
func queryFleet() []modelarts.ServerResponse {
	mk := func(id, name string, st modelarts.Status, cat modelarts.Category, typ modelarts.ServerType, arch modelarts.Arch, flavor string, created int64) modelarts.ServerResponse {
		return modelarts.ServerResponse{
			ID: id, Name: name, Status: st, Category: cat, Flavor: flavor, CreateAt: created,
			CloudServer: &modelarts.CloudServer{ID: "cs-" + id, Type: typ},
			Image:       &modelarts.ServerImageResponse{Arch: arch, Name: "img", ServerType: typ},
		}
	}
	return []modelarts.ServerResponse{
		mk("id-01", "llm-train-01", modelarts.StatusRunning, modelarts.CategoryServer, modelarts.ServerTypeBMS, modelarts.ArchARM, "ascend-snt9b", 3000),
		mk("id-02", "dev-02", modelarts.StatusStopped, modelarts.CategoryServer, modelarts.ServerTypeECS, modelarts.ArchX86, "c7.2xlarge.4", 1000),
		mk("id-03", "hps-03", modelarts.StatusStarting, modelarts.CategoryHPS, modelarts.ServerTypeHPS, modelarts.ArchARM, "snt9c.hps", 2000),
		mk("id-04", "spod-04", modelarts.StatusRunning, modelarts.CategorySPOD, modelarts.ServerTypeBMS, modelarts.ArchARM, "snt9b.spod", 5000),
		mk("id-05", "Dev-05", modelarts.StatusStartFailed, modelarts.CategoryServer, modelarts.ServerTypeECS, modelarts.ArchX86, "c7.2xlarge.4", 4000),
	}
}

func names(items []*modelarts.ServerResponse) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = s.Name
	}
	return out
}

func TestApplyFiltersAndSorts(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{name: "everything by name", query: "", want: []string{"dev-02", "Dev-05", "hps-03", "llm-train-01", "spod-04"}},
		{name: "status", query: "status=RUNNING", want: []string{"llm-train-01", "spod-04"}},
		{name: "two statuses", query: "status=RUNNING&status=STOPPED", want: []string{"dev-02", "llm-train-01", "spod-04"}},
		{name: "empty value means all", query: "status=", want: []string{"dev-02", "Dev-05", "hps-03", "llm-train-01", "spod-04"}},
		{name: "category", query: "category=HPS", want: []string{"hps-03"}},
		{name: "server type", query: "type=ECS", want: []string{"dev-02", "Dev-05"}},
		{name: "arch", query: "arch=X86", want: []string{"dev-02", "Dev-05"}},
		{name: "flavor", query: "flavor=snt9b.spod", want: []string{"spod-04"}},
		{name: "name substring ignores case", query: "q=DEV", want: []string{"dev-02", "Dev-05"}},
		{name: "id substring", query: "q=id-03", want: []string{"hps-03"}},
		{name: "filters combine", query: "arch=ARM&status=RUNNING&type=BMS&q=spod", want: []string{"spod-04"}},
		{name: "no match", query: "status=DELETING", want: []string{}},
		{name: "name descending", query: "sort=-name", want: []string{"spod-04", "llm-train-01", "hps-03", "Dev-05", "dev-02"}},
		{name: "status A-Z", query: "sort=status", want: []string{"llm-train-01", "spod-04", "hps-03", "Dev-05", "dev-02"}},
		{name: "status descending keeps names ascending", query: "sort=-status", want: []string{"dev-02", "Dev-05", "hps-03", "llm-train-01", "spod-04"}},
		{name: "newest first", query: "sort=-created", want: []string{"spod-04", "Dev-05", "llm-train-01", "hps-03", "dev-02"}},
		{name: "oldest first", query: "sort=created", want: []string{"dev-02", "hps-03", "llm-train-01", "Dev-05", "spod-04"}},
		{name: "unknown sort falls back to name", query: "sort=flavor", want: []string{"dev-02", "Dev-05", "hps-03", "llm-train-01", "spod-04"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			r := fleet.Apply(queryFleet(), fleet.ParseQuery(v))
			if diff := cmp.Diff(tt.want, names(r.Items)); diff != "" {
				t.Errorf("items mismatch (-want +got):\n%s", diff)
			}
			if r.Total != len(tt.want) {
				t.Errorf("Total = %d, want %d", r.Total, len(tt.want))
			}
		})
	}
}

func TestApplyPaging(t *testing.T) {
	var servers []modelarts.ServerResponse
	for i := range 120 {
		servers = append(servers, srv(fmt.Sprintf("id-%03d", i), fmt.Sprintf("s-%03d", i), modelarts.StatusRunning))
	}
	tests := []struct {
		name                  string
		query                 string
		wantFirst, wantLast   string
		wantLen               int
		wantPage, wantPages   int
		wantPerPage, wantTotl int
	}{
		{name: "default first page", query: "", wantFirst: "s-000", wantLast: "s-049", wantLen: 50, wantPage: 1, wantPages: 3, wantPerPage: 50, wantTotl: 120},
		{name: "last partial page", query: "page=3", wantFirst: "s-100", wantLast: "s-119", wantLen: 20, wantPage: 3, wantPages: 3, wantPerPage: 50, wantTotl: 120},
		{name: "page past the end clamps", query: "page=99", wantFirst: "s-100", wantLast: "s-119", wantLen: 20, wantPage: 3, wantPages: 3, wantPerPage: 50, wantTotl: 120},
		{name: "page below one clamps", query: "page=-2", wantFirst: "s-000", wantLast: "s-049", wantLen: 50, wantPage: 1, wantPages: 3, wantPerPage: 50, wantTotl: 120},
		{name: "garbage page", query: "page=abc", wantFirst: "s-000", wantLast: "s-049", wantLen: 50, wantPage: 1, wantPages: 3, wantPerPage: 50, wantTotl: 120},
		{name: "custom size", query: "per_page=25&page=2", wantFirst: "s-025", wantLast: "s-049", wantLen: 25, wantPage: 2, wantPages: 5, wantPerPage: 25, wantTotl: 120},
		{name: "size capped at 500", query: "per_page=10000", wantFirst: "s-000", wantLast: "s-119", wantLen: 120, wantPage: 1, wantPages: 1, wantPerPage: 500, wantTotl: 120},
		{name: "zero size means default", query: "per_page=0", wantFirst: "s-000", wantLast: "s-049", wantLen: 50, wantPage: 1, wantPages: 3, wantPerPage: 50, wantTotl: 120},
		{name: "paging after a filter", query: "q=s-1&per_page=10&page=2", wantFirst: "s-110", wantLast: "s-119", wantLen: 10, wantPage: 2, wantPages: 2, wantPerPage: 10, wantTotl: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			r := fleet.Apply(servers, fleet.ParseQuery(v))
			got := []any{len(r.Items), r.Items[0].Name, r.Items[len(r.Items)-1].Name, r.Page, r.Pages, r.PerPage, r.Total}
			want := []any{tt.wantLen, tt.wantFirst, tt.wantLast, tt.wantPage, tt.wantPages, tt.wantPerPage, tt.wantTotl}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("[len first last page pages perPage total] mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyEmptyFleet(t *testing.T) {
	r := fleet.Apply(nil, fleet.Query{Page: 4})
	if len(r.Items) != 0 || r.Total != 0 || r.Page != 1 || r.Pages != 1 {
		t.Errorf("Apply(nil) = %d items, total %d, page %d/%d; want nothing on page 1/1", len(r.Items), r.Total, r.Page, r.Pages)
	}
}

func TestApplyFacets(t *testing.T) {
	v, _ := url.ParseQuery("status=RUNNING&flavor=gone.flavor")
	r := fleet.Apply(queryFleet(), fleet.ParseQuery(v))
	want := fleet.Facets{
		Status: []fleet.Facet{{"RUNNING", 2}, {"STARTING", 1}, {"START_FAILED", 1}, {"STOPPED", 1}},
		// The facets describe the whole fleet, whatever is filtered.
		Category:   []fleet.Facet{{"HPS", 1}, {"SERVER", 3}, {"SPOD", 1}},
		ServerType: []fleet.Facet{{"BMS", 2}, {"ECS", 2}, {"HPS", 1}},
		Arch:       []fleet.Facet{{"ARM", 3}, {"X86", 2}},
		// A chosen value that no server has stays pickable, with count 0.
		Flavor: []fleet.Facet{{"ascend-snt9b", 1}, {"c7.2xlarge.4", 2}, {"gone.flavor", 0}, {"snt9b.spod", 1}, {"snt9c.hps", 1}},
	}
	if diff := cmp.Diff(want, r.Facets); diff != "" {
		t.Errorf("facets mismatch (-want +got):\n%s", diff)
	}
}

func TestQueryValuesRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string // encoded Values()
	}{
		{name: "defaults encode to nothing", query: "sort=name&page=1&per_page=50", want: ""},
		{name: "filters, sort and paging", query: "status=RUNNING&status=STOPPED&category=HPS&type=BMS&arch=ARM&flavor=f1&q=+dev+&sort=-created&page=3&per_page=100",
			want: "arch=ARM&category=HPS&flavor=f1&page=3&per_page=100&q=dev&sort=-created&status=RUNNING&status=STOPPED&type=BMS"},
		{name: "empty and duplicate values dropped", query: "status=&status=RUNNING&status=RUNNING", want: "status=RUNNING"},
		{name: "bad values normalised", query: "sort=drop+table&page=0&per_page=9999", want: "per_page=500"},
		{name: "markup in q is just text", query: "q=%3Cscript%3E", want: "q=%3Cscript%3E"},
		{name: "only the selection", query: "selected=1&sort=status", want: "selected=1&sort=status"},
		{name: "selected other than 1 is off", query: "selected=yes", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, _ := url.ParseQuery(tt.query)
			q := fleet.ParseQuery(v)
			if got := q.Values().Encode(); got != tt.want {
				t.Errorf("Values() = %q, want %q", got, tt.want)
			}
			again := fleet.ParseQuery(q.Values())
			if diff := cmp.Diff(q, again, cmpopts.IgnoreUnexported(fleet.Query{})); diff != "" {
				t.Errorf("round trip mismatch (-first +second):\n%s", diff)
			}
		})
	}
}

func TestQueryFilterValuesAndFiltered(t *testing.T) {
	v, _ := url.ParseQuery("status=RUNNING&q=x&sort=-name&page=2")
	q := fleet.ParseQuery(v)
	if got, want := q.FilterValues().Encode(), "q=x&status=RUNNING"; got != want {
		t.Errorf("FilterValues() = %q, want %q", got, want)
	}
	if !q.Filtered() {
		t.Error("Filtered() = false for a query with filters")
	}
	if fleet.ParseQuery(url.Values{"sort": {"-name"}}).Filtered() {
		t.Error("Filtered() = true for a sort-only query")
	}
	if got := q.WithPage(5).Values().Get("page"); got != "5" {
		t.Errorf("WithPage(5) page = %q", got)
	}
}

func TestSearchMatchesIPImageAndFlavor(t *testing.T) {
	servers := queryFleet()
	servers[1].Endpoints = []modelarts.EndpointsRes{{URI: "10.0.0.6"}}
	servers[3].Image.Name = "HCE2.0_Ascend"
	tests := []struct{ q, want string }{
		{"10.0.0.6", "dev-02"},
		{"hce2.0", "spod-04"},
		{"SNT9C", "hps-03"},
		{"id-05", "Dev-05"},
	}
	for _, tt := range tests {
		r := fleet.Apply(servers, fleet.Query{Q: tt.q})
		if got := names(r.Items); len(got) != 1 || got[0] != tt.want {
			t.Errorf("q=%q found %v, want [%s]", tt.q, got, tt.want)
		}
	}
}

func TestSelectedOnlyAndHiddenSelection(t *testing.T) {
	servers := queryFleet()
	byID := map[string]*modelarts.ServerResponse{}
	for i := range servers {
		byID[servers[i].ID] = &servers[i]
	}
	sel := []string{"id-01", "id-02", "id-04"}
	selected := []*modelarts.ServerResponse{byID["id-01"], byID["id-02"], byID["id-04"]}

	// selected=1 shows exactly the selection, and nothing without one.
	q := fleet.Query{SelectedOnly: true}
	if got := names(fleet.Apply(servers, q).Items); len(got) != 0 {
		t.Errorf("selected=1 without a selection shows %v", got)
	}
	q = q.WithSelection(sel)
	if diff := cmp.Diff([]string{"dev-02", "llm-train-01", "spod-04"}, names(fleet.Apply(servers, q).Items)); diff != "" {
		t.Errorf("selected=1 (-want +got):\n%s", diff)
	}
	if !q.Filtered() {
		t.Error("selected=1 does not count as a filter")
	}

	// Filter on STOPPED, one per page, sorted by name: dev-02 is shown, the
	// two RUNNING ones are filtered out.
	q = fleet.Query{Status: []string{"STOPPED"}}.WithSelection(sel)
	r := fleet.Apply(servers, q)
	h := fleet.HiddenSelection(selected, q, r)
	if h != (fleet.Hidden{Selected: 3, Filtered: 2}) || h.Total() != 2 {
		t.Errorf("hidden by filter = %+v", h)
	}
	// No filter, two per page: page 1 is dev-02, Dev-05; the other two
	// selected servers are on later pages.
	q = fleet.Query{PerPage: 2, Page: 1}.WithSelection(sel)
	r = fleet.Apply(servers, q)
	if h := fleet.HiddenSelection(selected, q, r); h != (fleet.Hidden{Selected: 3, OtherPages: 2}) {
		t.Errorf("hidden by paging = %+v", h)
	}
	// "Show the selected servers" shows all of them on one page.
	show := q.ShowSelected(len(sel))
	r = fleet.Apply(servers, show)
	if h := fleet.HiddenSelection(selected, show, r); h.Total() != 0 || r.Total != 3 {
		t.Errorf("ShowSelected: hidden %+v, total %d", h, r.Total)
	}
	if got := show.Values().Encode(); got != "per_page=3&selected=1" {
		t.Errorf("ShowSelected URL = %q", got)
	}
}
