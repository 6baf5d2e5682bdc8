package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

// The audit filters offer the last hour, 24 hours, 7 days and 30 days in
// one click: each link keeps the other filters, sets From to that long
// ago (UTC) and clears Until; following it shows the filtered log.
func TestAuditQuickRanges(t *testing.T) {
	env := apptest.New(t)
	c := env.As(t, auth.RoleApprover)
	before := time.Now().UTC()
	d := c.Get(t, "/audit?actor=admin&until=2030-01-01").Doc(t)
	after := time.Now().UTC()
	want := map[string]time.Duration{"Last hour": time.Hour, "Last 24 hours": 24 * time.Hour, "Last 7 days": 7 * 24 * time.Hour, "Last 30 days": 30 * 24 * time.Hour}
	found := 0
	d.Find("nav.quick-ranges a").Each(func(_ int, a *goquery.Selection) {
		name := strings.TrimSpace(a.Text())
		ago, ok := want[name]
		if !ok {
			t.Errorf("unexpected quick range %q", name)
			return
		}
		found++
		u, err := url.Parse(a.AttrOr("href", ""))
		if err != nil || u.Path != "/audit" {
			t.Fatalf("%s: href %q", name, a.AttrOr("href", ""))
		}
		q := u.Query()
		if q.Get("actor") != "admin" || q.Has("until") {
			t.Errorf("%s: query %v: want actor kept and until dropped", name, q)
		}
		since, err := time.Parse("2006-01-02T15:04", q.Get("since"))
		if err != nil {
			t.Fatalf("%s: since %q: %v", name, q.Get("since"), err)
		}
		if lo, hi := before.Add(-ago).Truncate(time.Minute), after.Add(-ago); since.Before(lo) || since.After(hi) {
			t.Errorf("%s: since %s, want between %s and %s", name, since, lo, hi)
		}
		if r := c.Get(t, u.String()); r.Status != http.StatusOK {
			t.Errorf("%s: following the link gives %d", name, r.Status)
		}
	})
	if found != len(want) {
		t.Errorf("found %d quick ranges, want %d", found, len(want))
	}
}
