package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/testutil"
)

// scrape reads the metrics listener at addr and returns its samples: the
// metric name with its labels as written ({a="1",b="2"}) → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape: status %d\n%s", resp.StatusCode, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape: bad sample %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sample finds the value of name whose labels include every one of labels
// ("k=v"); ok is false when no sample matches.
func sample(samples map[string]float64, name string, labels ...string) (float64, bool) {
	for key, v := range samples {
		n, ls, _ := strings.Cut(key, "{")
		if n != name {
			continue
		}
		match := true
		for _, l := range labels {
			k, val, _ := strings.Cut(l, "=")
			if !strings.Contains(ls, k+`="`+val+`"`) {
				match = false
				break
			}
		}
		if match {
			return v, true
		}
	}
	return 0, false
}

func TestMetricsCountAStopItsCallAndItsAuditAppends(t *testing.T) {
	env := apptest.New(t, func(c *config.Config) {
		c.MetricsAddr = "127.0.0.1:0"
		c.SimServers = 20
		apptest.WithApprovals(c) // STOP needs none; a DELETE request waits for one
	})
	addr := env.App.MetricsAddr()
	if addr == "" {
		t.Fatal("no metrics listener although CONSOLE_METRICS_ADDR is set")
	}
	// The console's own listener does not serve the metrics.
	if r := env.Anonymous(t).Get(t, "/metrics"); r.Status == http.StatusOK && strings.Contains(r.Body, "console_http_requests_total") {
		t.Fatal("the console's listener serves the metrics")
	}

	bad := env.Anonymous(t)
	bad.Get(t, "/signin")
	bad.PostForm(t, "/signin", url.Values{"username": {"admin"}, "password": {"wrong-password-1234"}})
	op := env.As(t, auth.RoleOperator)

	var target string
	for _, s := range env.App.Simulator().Servers() {
		if s.Status == modelarts.StatusRunning {
			target = s.ID
			break
		}
	}
	ctx := context.Background()
	u, err := env.App.Users().GetByName(ctx, "operator1")
	if err != nil {
		t.Fatal(err)
	}
	if err := fleet.NewSelections(env.App.DB(), nil).Add(ctx, u.ID, target); err != nil {
		t.Fatal(err)
	}
	r := op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {string(modelarts.BatchStop)}})
	token, _ := r.Doc(t).Find(`#action-form input[name="token"]`).Attr("value")
	if token == "" {
		t.Fatalf("preview gave no token: status %d\n%s", r.Status, r.Body)
	}
	if r := op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}); r.Status >= 400 {
		t.Fatalf("execute: status %d\n%s", r.Status, r.Body)
	}
	env.App.Batches().Wait()

	s := scrape(t, addr)
	project := env.App.ProjectNames()[0]
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"console_batch_requests_total", []string{"project=" + project, "action=STOP", "outcome=ok"}},
		{"console_batch_servers_total", []string{"project=" + project, "action=STOP", "outcome=ok"}},
		{"console_cloud_calls_total", []string{"project=" + project, "service=modelarts", "operation=batch_action", "outcome=ok"}},
		{"console_cloud_calls_total", []string{"project=" + project, "service=modelarts", "operation=list_servers", "outcome=ok"}},
		{"console_cloud_call_duration_seconds_count", []string{"project=" + project, "operation=batch_action"}},
		{"console_audit_appends_total", []string{"kind=request", "result=ok"}},
		{"console_audit_appends_total", []string{"kind=response", "result=ok"}},
		{"console_audit_append_duration_seconds_count", nil},
		{"console_fleet_walks_total", []string{"project=" + project, "result=ok"}},
		{"console_signin_total", []string{"result=success"}},
		{"console_signin_total", []string{"result=failure"}},
		{"console_http_requests_total", []string{"method=POST", "route=/actions/execute"}},
		{"console_http_request_duration_seconds_count", []string{"method=POST", "route=/actions/preview"}},
		{"go_goroutines", nil},
	} {
		if v, ok := sample(s, c.name, c.labels...); !ok || v <= 0 {
			t.Errorf("%s%v = %v (found %t); want a positive count", c.name, c.labels, v, ok)
		}
	}
	if v, _ := sample(s, "console_batch_servers_total", "action=STOP", "outcome=ok"); v != 1 {
		t.Errorf("the STOP covered %v servers, want 1", v)
	}
	if v, _ := sample(s, "console_batch_requests_total", "action=STOP"); v != 1 {
		t.Errorf("%v STOP requests counted, want 1", v)
	}
	for _, p := range env.App.ProjectNames() {
		if v, ok := sample(s, "console_approvals_pending", "project="+p); !ok || v != 0 {
			t.Errorf("console_approvals_pending{project=%q} = %v (found %t) before any request, want 0", p, v, ok)
		}
	}
	// A request waiting for a decision is counted at the next scrape.
	if _, err := env.App.Approvals().Create(ctx, approval.NewRequest{
		Project: project, Requester: u, Action: modelarts.BatchDelete, Reason: "decommissioned",
		Servers: []approval.Server{{ID: target, Name: target, Status: modelarts.StatusStopped}},
	}); err != nil {
		t.Fatal(err)
	}
	s = scrape(t, addr)
	for _, p := range env.App.ProjectNames() {
		want := 0.0
		if p == project {
			want = 1 // the one request waiting, counted under its project
		}
		if v, ok := sample(s, "console_approvals_pending", "project="+p); !ok || v != want {
			t.Errorf("console_approvals_pending{project=%q} = %v (found %t), want %v", p, v, ok, want)
		}
	}
	// The verification at start (the chain's tail) reports the chain intact.
	testutil.Eventually(t, 10*time.Second, "the audit chain's state is exported", func() error {
		if v, ok := sample(scrape(t, addr), "console_audit_chain_ok"); !ok || v != 1 {
			return fmt.Errorf("console_audit_chain_ok = %v (found %t), want 1", v, ok)
		}
		return nil
	})
	for key := range s {
		if strings.Contains(key, target) || strings.Contains(key, token) {
			t.Errorf("a metric carries a server id or token: %s", key)
		}
	}
}
