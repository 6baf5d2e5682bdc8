package fleet

import (
	"cmp"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/devserver-console/console/internal/modelarts"
)

// Paging limits for the fleet table.
const (
	DefaultPerPage = 50
	MaxPerPage     = 500
)

// Sort keys. A "-" prefix sorts descending.
const (
	SortName    = "name"
	SortStatus  = "status"
	SortCreated = "created"
)

// SortOptions lists every accepted sort value, in the order a sort picker
// shows them.
var SortOptions = []string{SortName, "-" + SortName, SortStatus, "-" + SortStatus, "-" + SortCreated, SortCreated}

// URL parameter names of a Query.
const (
	ParamStatus     = "status"
	ParamCategory   = "category"
	ParamServerType = "type"
	ParamArch       = "arch"
	ParamFlavor     = "flavor"
	ParamQ          = "q"
	ParamSort       = "sort"
	ParamPage       = "page"
	ParamPerPage    = "per_page"
	// ParamSelected=1 shows only the servers the user has selected.
	ParamSelected = "selected"
)

// Query is what the fleet page shows: filters, sort and page. It lives in
// the URL (ParseQuery / Values), so views are shareable and the back button
// works. Within one filter the values are alternatives (status=RUNNING and
// status=STOPPED shows both); different filters must all match.
type Query struct {
	Status     []string
	Category   []string
	ServerType []string
	Arch       []string
	Flavor     []string
	// Q matches a substring of the name, id, private IP, image name or
	// flavor, ignoring case.
	Q string
	// SelectedOnly shows only the servers in the selection given with
	// WithSelection (the URL's selected=1).
	SelectedOnly bool
	// selected holds the user's selected server ids (see WithSelection).
	selected map[string]bool
	// Sort is name, status or created, with a "-" prefix for descending.
	// Empty means name.
	Sort    string
	Page    int
	PerPage int
}

// ParseQuery reads a Query from URL values. Unknown sort keys fall back to
// name, and page numbers are clamped (Page >= 1, 1 <= PerPage <= MaxPerPage).
func ParseQuery(v url.Values) Query {
	q := Query{
		Status:       cleanList(v[ParamStatus]),
		Category:     cleanList(v[ParamCategory]),
		ServerType:   cleanList(v[ParamServerType]),
		Arch:         cleanList(v[ParamArch]),
		Flavor:       cleanList(v[ParamFlavor]),
		Q:            strings.TrimSpace(v.Get(ParamQ)),
		Sort:         v.Get(ParamSort),
		SelectedOnly: v.Get(ParamSelected) == "1",
		Page:         atoiDefault(v.Get(ParamPage), 1),
		PerPage:      atoiDefault(v.Get(ParamPerPage), DefaultPerPage),
	}
	return q.normalized()
}

func (q Query) normalized() Query {
	if !slices.Contains(SortOptions, q.Sort) {
		q.Sort = SortName
	}
	if q.Page < 1 {
		q.Page = 1
	}
	if q.PerPage < 1 {
		q.PerPage = DefaultPerPage
	}
	if q.PerPage > MaxPerPage {
		q.PerPage = MaxPerPage
	}
	return q
}

// cleanList drops empty values (an "All" option submits "") and duplicates.
func cleanList(vs []string) []string {
	var out []string
	for _, v := range vs {
		v = strings.TrimSpace(v)
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

// Values encodes q for a link. Defaults (sort by name, page 1, 50 per page)
// are left out so URLs stay short.
func (q Query) Values() url.Values {
	v := q.FilterValues()
	q = q.normalized()
	if q.Sort != SortName {
		v.Set(ParamSort, q.Sort)
	}
	if q.Page != 1 {
		v.Set(ParamPage, strconv.Itoa(q.Page))
	}
	if q.PerPage != DefaultPerPage {
		v.Set(ParamPerPage, strconv.Itoa(q.PerPage))
	}
	return v
}

// FilterValues encodes only the filters of q (no sort or paging).
func (q Query) FilterValues() url.Values {
	v := url.Values{}
	for _, f := range []struct {
		name string
		vals []string
	}{
		{ParamStatus, q.Status}, {ParamCategory, q.Category}, {ParamServerType, q.ServerType},
		{ParamArch, q.Arch}, {ParamFlavor, q.Flavor},
	} {
		for _, x := range f.vals {
			v.Add(f.name, x)
		}
	}
	if q.Q != "" {
		v.Set(ParamQ, q.Q)
	}
	if q.SelectedOnly {
		v.Set(ParamSelected, "1")
	}
	return v
}

// WithSelection returns a copy of q that knows the user's selected server
// ids, which the selected=1 filter (SelectedOnly) matches against. Without
// it, SelectedOnly matches nothing.
func (q Query) WithSelection(ids []string) Query {
	q.selected = make(map[string]bool, len(ids))
	for _, id := range ids {
		q.selected[id] = true
	}
	return q
}

// ShowSelected returns the query that shows exactly the n selected servers:
// no other filter, the same sort, page 1, with a page large enough for all
// of them (up to MaxPerPage).
func (q Query) ShowSelected(n int) Query {
	q = q.normalized()
	per := q.PerPage
	if n > per {
		per = min(n, MaxPerPage)
	}
	return Query{SelectedOnly: true, Sort: q.Sort, PerPage: per, Page: 1, selected: q.selected}
}

// WithPage returns a copy of q showing page p.
func (q Query) WithPage(p int) Query {
	q.Page = p
	return q
}

// Filtered reports whether any filter is set.
func (q Query) Filtered() bool {
	return len(q.Status)+len(q.Category)+len(q.ServerType)+len(q.Arch)+len(q.Flavor) > 0 || q.Q != "" || q.SelectedOnly
}

// Facet is one value a filter can take, with how many servers of the whole
// fleet have it.
type Facet struct {
	Value string
	Count int
}

// Facets are the values present in the fleet, for the filter pickers.
type Facets struct {
	Status     []Facet
	Category   []Facet
	ServerType []Facet
	Arch       []Facet
	Flavor     []Facet
}

// Result is one page of the fleet table.
type Result struct {
	// Items is the page, pointing into the input slice (read-only).
	Items []*modelarts.ServerResponse
	// Total is how many servers match the filters (all pages).
	Total int
	// Page is the page shown (clamped to 1..Pages) and Pages the page count
	// (at least 1).
	Page, Pages int
	// PerPage is the page size used.
	PerPage int
	// Facets describe the whole fleet, not just the matches, plus any
	// filter value in the query (with count 0 when absent), so a picker can
	// always show the current choice.
	Facets Facets
}

// Match reports whether server s passes the filters of q.
func (q Query) Match(s *modelarts.ServerResponse) bool {
	if len(q.Status) > 0 && !slices.Contains(q.Status, string(s.Status)) {
		return false
	}
	if len(q.Category) > 0 && !slices.Contains(q.Category, string(s.Category)) {
		return false
	}
	if len(q.ServerType) > 0 && !slices.Contains(q.ServerType, string(s.Type())) {
		return false
	}
	if len(q.Arch) > 0 && !slices.Contains(q.Arch, string(s.Arch())) {
		return false
	}
	if len(q.Flavor) > 0 && !slices.Contains(q.Flavor, s.Flavor) {
		return false
	}
	if q.SelectedOnly && !q.selected[s.ID] {
		return false
	}
	if q.Q != "" && !matchesText(s, q.Q) {
		return false
	}
	return true
}

// matchesText reports whether the search text is in the server's name, id,
// private IP, image name or flavor (ignoring case).
func matchesText(s *modelarts.ServerResponse, text string) bool {
	if containsFold(s.Name, text) || containsFold(s.ID, text) || containsFold(s.Flavor, text) {
		return true
	}
	if img := s.ImageInfo(); img != nil && containsFold(img.Name, text) {
		return true
	}
	return containsFold(s.PrivateIP(), text)
}

// Hidden counts the selected servers a page of the fleet does not show.
type Hidden struct {
	// Selected is how many selected servers are in the fleet.
	Selected int
	// Filtered are excluded by the filters; OtherPages match them but are
	// on another page.
	Filtered, OtherPages int
}

// Total is how many selected servers the page does not show.
func (h Hidden) Total() int { return h.Filtered + h.OtherPages }

// HiddenSelection counts the selected servers (selected, from the fleet)
// that the page r of query q does not show.
func HiddenSelection(selected []*modelarts.ServerResponse, q Query, r Result) Hidden {
	h := Hidden{Selected: len(selected)}
	if len(selected) == 0 {
		return h
	}
	onPage := make(map[string]bool, len(r.Items))
	for _, s := range r.Items {
		onPage[s.ID] = true
	}
	for _, s := range selected {
		switch {
		case onPage[s.ID]:
		case !q.Match(s):
			h.Filtered++
		default:
			h.OtherPages++
		}
	}
	return h
}

// PageIDs returns the ids of the servers on the page r.
func (r Result) PageIDs() map[string]bool {
	m := make(map[string]bool, len(r.Items))
	for _, s := range r.Items {
		m[s.ID] = true
	}
	return m
}

// containsFold reports whether sub is in s, ignoring case, without
// allocating for ASCII input.
func containsFold(s, sub string) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	for i := 0; i+n <= len(s); i++ {
		if strings.EqualFold(s[i:i+n], sub) {
			return true
		}
	}
	// Non-ASCII case folding can change byte lengths; fall back.
	return !isASCII(s+sub) && strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Filter returns every server of servers matching q's filters, sorted by
// q.Sort (no paging). The pointers refer into servers.
func Filter(servers []modelarts.ServerResponse, q Query) []*modelarts.ServerResponse {
	q = q.normalized()
	out := make([]*modelarts.ServerResponse, 0, len(servers))
	for i := range servers {
		if q.Match(&servers[i]) {
			out = append(out, &servers[i])
		}
	}
	sortServers(out, q.Sort)
	return out
}

func sortServers(ss []*modelarts.ServerResponse, key string) {
	desc := strings.HasPrefix(key, "-")
	key = strings.TrimPrefix(key, "-")
	byName := func(a, b *modelarts.ServerResponse) int {
		return cmp.Or(compareFoldASCII(a.Name, b.Name), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	}
	var primary func(a, b *modelarts.ServerResponse) int
	switch key {
	case SortStatus:
		primary = func(a, b *modelarts.ServerResponse) int { return cmp.Compare(a.Status, b.Status) }
	case SortCreated:
		primary = func(a, b *modelarts.ServerResponse) int { return cmp.Compare(a.CreateAt, b.CreateAt) }
	default:
		primary = func(*modelarts.ServerResponse, *modelarts.ServerResponse) int { return 0 }
	}
	slices.SortStableFunc(ss, func(a, b *modelarts.ServerResponse) int {
		c := primary(a, b)
		if c == 0 {
			c = byName(a, b)
			if key != SortName {
				// Ties on status or time read best in name order both ways.
				return c
			}
		}
		if desc {
			return -c
		}
		return c
	})
}

// compareFoldASCII compares a and b with ASCII letters folded to lower
// case, without allocating (server names are ASCII by the API's rules).
func compareFoldASCII(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// Apply filters, sorts and pages servers for q.
func Apply(servers []modelarts.ServerResponse, q Query) Result {
	q = q.normalized()
	all := Filter(servers, q)
	r := Result{Total: len(all), PerPage: q.PerPage}
	r.Pages = max(1, (r.Total+q.PerPage-1)/q.PerPage)
	r.Page = min(q.Page, r.Pages)
	start := (r.Page - 1) * q.PerPage
	end := min(start+q.PerPage, r.Total)
	r.Items = all[start:end:end]
	r.Facets = facets(servers, q)
	return r
}

func facets(servers []modelarts.ServerResponse, q Query) Facets {
	var st, ca, ty, ar, fl = map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for i := range servers {
		s := &servers[i]
		st[string(s.Status)]++
		ca[string(s.Category)]++
		ty[string(s.Type())]++
		ar[string(s.Arch())]++
		fl[s.Flavor]++
	}
	return Facets{
		Status:     facetList(st, q.Status),
		Category:   facetList(ca, q.Category),
		ServerType: facetList(ty, q.ServerType),
		Arch:       facetList(ar, q.Arch),
		Flavor:     facetList(fl, q.Flavor),
	}
}

func facetList(m map[string]int, selected []string) []Facet {
	for _, v := range selected {
		if _, ok := m[v]; !ok {
			m[v] = 0
		}
	}
	delete(m, "")
	out := make([]Facet, 0, len(m))
	for v, n := range m {
		out = append(out, Facet{Value: v, Count: n})
	}
	slices.SortFunc(out, func(a, b Facet) int { return cmp.Compare(a.Value, b.Value) })
	return out
}
