package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/views"
)

func renderDoc(t *testing.T, role auth.Role, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	ctx := views.WithPage(context.Background(), views.PageContext{
		User:      &auth.User{ID: 1, Name: "ann", Role: role},
		CSRFToken: "tok",
		Path:      "/servers",
	})
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc, buf.String()
}

func hostileServer(name, image string, st modelarts.Status) modelarts.ServerResponse {
	return modelarts.ServerResponse{
		ID: "6f1c0d3e-0000-4000-8000-000000000001", Name: name, Status: st, Flavor: name,
		Category: modelarts.CategoryServer, ChargingMode: modelarts.ChargingPostPaid, CreateAt: 1700000000000,
		CloudServer: &modelarts.CloudServer{ID: "cs-1", Type: modelarts.ServerTypeECS},
		Image:       &modelarts.ServerImageResponse{Name: image, ImageID: image, Arch: modelarts.ArchX86, ServerType: modelarts.ServerTypeECS},
		KeyPairName: name,
		Volumes:     []modelarts.ServerVolume{{Size: 100, Type: modelarts.VolumeRoot, EVSType: modelarts.EVSSSD, EVSID: name}},
		Endpoints:   []modelarts.EndpointsRes{{URI: "10.0.0.1", Service: modelarts.DevServiceSSH, SSHKeys: []string{name}}},
		EndpointsResponse: []modelarts.Endpoints{{DevService: modelarts.DevServiceSSH, SSHKeys: []string{name},
			Extensions: map[string]string{name: image}}},
		ServerHps: &modelarts.ServerHpsInfo{ID: name, Name: name},
	}
}

func serversView(servers []modelarts.ServerResponse, q fleet.Query) views.ServersView {
	r := fleet.Apply(servers, q)
	return views.ServersView{Query: q, Result: r, FetchedAt: time.Date(2025, 3, 1, 12, 1, 5, 0, time.UTC), Selected: map[string]bool{}}
}

func TestServersPageEscapesHostileText(t *testing.T) {
	payloads := []struct {
		name string
		text string
	}{
		{name: "script tag", text: `<script>alert(1)</script>`},
		{name: "attribute breakout", text: `"><img src=x onerror=alert(1)>`},
	}
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			s := hostileServer(p.text, p.text, modelarts.StatusRunning)
			v := serversView([]modelarts.ServerResponse{s}, fleet.Query{Q: p.text})
			prob := &views.CloudProblem{Kind: "console", Title: p.text, Advice: p.text, Reference: p.text}
			v.Problem = prob
			for _, page := range []struct {
				name string
				c    templ.Component
			}{
				{"fleet page", views.ServersPage(v)},
				{"poll fragment", views.ServersTable(v)},
				{"detail page", views.ServerDetailPage(views.ServerDetailView{Server: &s, FetchedAt: v.FetchedAt, Problem: prob})},
			} {
				doc, raw := renderDoc(t, auth.RoleOperator, page.c)
				if n := doc.Find("script:not([src])").Length(); n != 0 {
					t.Errorf("%s: %d inline scripts from data", page.name, n)
				}
				if n := doc.Find("img, [onerror]").Length(); n != 0 {
					t.Errorf("%s: %d injected elements", page.name, n)
				}
				if strings.Contains(raw, p.text) {
					t.Errorf("%s: the payload appears unescaped", page.name)
				}
				if !strings.Contains(doc.Text(), p.text) {
					t.Errorf("%s: the text is not shown literally", page.name)
				}
			}
			doc, _ := renderDoc(t, auth.RoleOperator, views.ServersPage(v))
			row := doc.Find("tr[data-server-id]")
			if got := strings.TrimSpace(row.Find("th[scope=row]").Text()); got != p.text {
				t.Errorf("name cell = %q", got)
			}
			if got := strings.TrimSpace(row.Children().Eq(8).Text()); got != p.text {
				t.Errorf("image cell = %q", got)
			}
			if got := row.Find("input[type=checkbox]").AttrOr("aria-label", ""); got != "Select "+p.text {
				t.Errorf("checkbox label = %q", got)
			}
			if got := doc.Find("#f-q").AttrOr("value", ""); got != p.text {
				t.Errorf("search box value = %q", got)
			}
		})
	}
}

func TestServerStatusBadge(t *testing.T) {
	tests := []struct {
		status     modelarts.Status
		wantText   string
		wantFamily string
	}{
		{modelarts.StatusRunning, "Running", "status-running"},
		{modelarts.StatusStopped, "Stopped", "status-stopped"},
		{modelarts.StatusStopping, "Stopping", "status-transient"},
		{modelarts.StatusChangingOS, "Changing OS", "status-transient"},
		{modelarts.StatusStartFailed, "Start failed", "status-failed"},
		{modelarts.StatusError, "Error", "status-failed"},
		{modelarts.StatusDeleted, "Deleted", "status-stopped"},
		{modelarts.Status("NEW_STATE"), "NEW_STATE", "status-stopped"},
	}
	for _, tt := range tests {
		t.Run(string(tt.status), func(t *testing.T) {
			doc, _ := renderDoc(t, auth.RoleViewer, views.ServerStatusBadge(tt.status))
			b := doc.Find(".badge")
			if got := strings.TrimSpace(b.Text()); got != tt.wantText {
				t.Errorf("text = %q, want %q", got, tt.wantText)
			}
			if !b.HasClass(tt.wantFamily) {
				t.Errorf("class = %q, want %s", b.AttrOr("class", ""), tt.wantFamily)
			}
		})
	}
}

func TestServersTablePolling(t *testing.T) {
	tests := []struct {
		name     string
		statuses []modelarts.Status
		wantPoll bool
	}{
		{name: "nothing moving", statuses: []modelarts.Status{modelarts.StatusRunning, modelarts.StatusStopFailed}, wantPoll: false},
		{name: "one stopping", statuses: []modelarts.Status{modelarts.StatusRunning, modelarts.StatusStopping}, wantPoll: true},
		{name: "creating", statuses: []modelarts.Status{modelarts.StatusCreating}, wantPoll: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var servers []modelarts.ServerResponse
			for i, st := range tt.statuses {
				s := hostileServer("srv", "img", st)
				s.ID += string(rune('a' + i))
				servers = append(servers, s)
			}
			q := fleet.Query{Status: []string{"RUNNING", string(tt.statuses[len(tt.statuses)-1])}}
			doc, _ := renderDoc(t, auth.RoleViewer, views.ServersTable(serversView(servers, q)))
			sec := doc.Find("#fleet-table")
			_, polling := sec.Attr("hx-trigger")
			if polling != tt.wantPoll {
				t.Fatalf("polling = %v, want %v", polling, tt.wantPoll)
			}
			if tt.wantPoll {
				want := "/servers/rows?" + q.Values().Encode()
				if got := sec.AttrOr("hx-get", ""); got != want {
					t.Errorf("hx-get = %q, want %q", got, want)
				}
			}
		})
	}
}

func TestFleetActionBarCount(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "0 servers selected"},
		{1, "1 server selected"},
		{2000, "2,000 servers selected"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			doc, _ := renderDoc(t, auth.RoleViewer, views.FleetSelectionCount(tt.n))
			if got := strings.Join(strings.Fields(doc.Text()), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
