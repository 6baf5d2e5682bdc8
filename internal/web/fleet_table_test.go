package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/auth"
)

func headerTexts(doc *goquery.Document) []string {
	var out []string
	doc.Find("#fleet-table thead th[scope=col]").Each(func(_ int, s *goquery.Selection) {
		s = s.Clone()
		s.Find("[aria-hidden=true]").Remove()
		out = append(out, strings.TrimSpace(s.Text()))
	})
	return out
}

// TestFleetColumnChooser: the chosen columns are remembered per user, the
// rows follow them, and "Show every column" goes back to the default.
func TestFleetColumnChooser(t *testing.T) {
	env, _ := fleetEnv(t)
	op := env.As(t, auth.RoleOperator)
	viewer := env.As(t, auth.RoleViewer)

	r := op.PostForm(t, "/servers/columns?status=RUNNING", url.Values{"col": {"ip", "flavor", "no-such-column"}})
	mustStatus(t, r, http.StatusSeeOther)
	if got := r.Header.Get("Location"); got != "/servers?status=RUNNING" {
		t.Errorf("redirect to %q", got)
	}
	doc := getFollow(t, op, "/servers").Doc(t)
	if diff := gocmp.Diff([]string{"Selected", "Name", "Status", "Flavor", "Private IP"}, headerTexts(doc)); diff != "" {
		t.Errorf("chosen columns (-want +got):\n%s", diff)
	}
	row := doc.Find("#fleet-table tbody tr[data-server-id]").First()
	if n := row.Children().Length(); n != 5 {
		t.Errorf("a row has %d cells, want 5", n)
	}
	if !doc.Find(`.column-chooser input[value="ip"]`).Is(":checked") || doc.Find(`.column-chooser input[value="id"]`).Is(":checked") {
		t.Error("the chooser does not show the saved choice")
	}
	// Per user: the viewer still sees every column (without checkbox and History).
	if got := len(headerTexts(getFollow(t, viewer, "/servers").Doc(t))); got != 11 {
		t.Errorf("the viewer sees %d columns, want 11", got)
	}
	mustStatus(t, op.PostForm(t, "/servers/columns", url.Values{"reset": {"1"}}), http.StatusSeeOther)
	if got := len(headerTexts(getFollow(t, op, "/servers").Doc(t))); got != 12 {
		t.Errorf("after reset the operator sees %d columns, want 12", got)
	}
}

// TestFleetSortHeaders: Name, Status and Created sort by links in the URL,
// and the sorted column carries aria-sort.
func TestFleetSortHeaders(t *testing.T) {
	env, _ := fleetEnv(t)
	c := env.As(t, auth.RoleViewer)
	doc := getFollow(t, c, "/servers?status=RUNNING").Doc(t)
	name := doc.Find("#fleet-table thead th.col-name")
	if got := name.AttrOr("aria-sort", ""); got != "ascending" {
		t.Errorf("name aria-sort = %q (default sort is by name)", got)
	}
	if got := name.Find("a").AttrOr("href", ""); got != "/servers?sort=-name&status=RUNNING" {
		t.Errorf("name header links to %q", got)
	}
	var status string
	doc.Find("#fleet-table thead th a.sort-link").Each(func(_ int, a *goquery.Selection) {
		if strings.HasPrefix(strings.TrimSpace(a.Text()), "Status") {
			status = a.AttrOr("href", "")
		}
	})
	if status != "/servers?sort=status&status=RUNNING" {
		t.Fatalf("status header links to %q", status)
	}
	doc = getFollow(t, c, status).Doc(t)
	n := 0
	doc.Find("#fleet-table thead th[aria-sort]").Each(func(_ int, th *goquery.Selection) {
		n++
		if !strings.HasPrefix(strings.TrimSpace(th.Text()), "Status") || th.AttrOr("aria-sort", "") != "ascending" {
			t.Errorf("aria-sort on %q = %q", strings.TrimSpace(th.Text()), th.AttrOr("aria-sort", ""))
		}
	})
	if n != 1 {
		t.Errorf("%d headers carry aria-sort, want 1", n)
	}
}
