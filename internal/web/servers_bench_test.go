package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

// BenchmarkServersPage measures the server time of the fleet page with
// 2,000 servers in the cached snapshot, through the real router and
// middleware (session, CSRF, role check), in process so no network time is
// counted. Run it with:
//
//	go test -run '^$' -bench BenchmarkServersPage -benchmem ./internal/web
func BenchmarkServersPage(b *testing.B) {
	env, _ := fleetEnv(b, withServers(2000), withFleetTTL(time.Hour))
	h := env.App.Handler()
	base, err := url.Parse(env.URL)
	if err != nil {
		b.Fatal(err)
	}
	none := env.As(b, auth.RoleOperator)
	all := env.SignIn(b, "admin", apptest.AdminPassword)
	// The admin selects the whole fleet: the worst case for checkboxes.
	if r := all.PostForm(b, "/selection/all", nil); r.Status != http.StatusSeeOther {
		b.Fatalf("select all: status %d", r.Status)
	}

	cases := []struct {
		name   string
		target string
		htmx   bool
	}{
		{name: "page/50-per-page", target: "/servers"},
		{name: "page/500-per-page", target: "/servers?per_page=500"},
		{name: "page/50-per-page/all-selected", target: "/servers"},
		{name: "page/500-per-page/all-selected", target: "/servers?per_page=500"},
		{name: "page/filtered-sorted", target: "/servers?arch=ARM&q=train&sort=-created&status=RUNNING"},
		{name: "poll/50-per-page", target: "/servers/rows", htmx: true},
	}
	for _, tc := range cases {
		c := none
		if strings.HasSuffix(tc.name, "/all-selected") {
			c = all
		}
		cookies := c.HTTP.Jar.Cookies(base)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, tc.target, nil)
				for _, ck := range cookies {
					req.AddCookie(ck)
				}
				if tc.htmx {
					req.Header.Set("HX-Request", "true")
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}
