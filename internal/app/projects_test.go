package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

// cloud is one standalone simulator standing for one project's ModelArts,
// with its own project id and keys.
type cloud struct {
	sim *simulator.Simulator
	url string
}

func newCloud(t *testing.T, projectID, ak, sk string, seed int64) *cloud {
	t.Helper()
	sim := simulator.New(simulator.Options{Servers: 12, Seed: seed, ProjectID: projectID, AK: ak, SK: sk})
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); sim.Close() })
	return &cloud{sim: sim, url: srv.URL}
}

func runningServer(t *testing.T, sim *simulator.Simulator) modelarts.ServerResponse {
	t.Helper()
	for _, s := range sim.Servers() {
		if s.Status == modelarts.StatusRunning {
			return s
		}
	}
	t.Fatal("no running server in the simulator")
	return modelarts.ServerResponse{}
}

// TestOneConsoleTwoProjects runs one console against two simulators with
// different project ids and keys: each project shows its own fleet, a batch
// reaches only its project's endpoint, and the audit log records the
// project of each entry.
func TestOneConsoleTwoProjects(t *testing.T) {
	const pidA, pidB = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	a := newCloud(t, pidA, "AK-A", "sk-a-secret-value", 11)
	b := newCloud(t, pidB, "AK-B", "sk-b-secret-value", 22)
	env := apptest.New(t, func(c *config.Config) {
		c.Projects = []config.Project{
			{Name: "bj-train", Region: "cn-north-9", Endpoint: a.url, ProjectID: pidA, AccessKey: "AK-A", SecretKey: "sk-a-secret-value"},
			{Name: "gy-infer", Region: "cn-southwest-2", Endpoint: b.url, ProjectID: pidB, AccessKey: "AK-B", SecretKey: "sk-b-secret-value"},
		}
	})
	op := env.As(t, auth.RoleOperator)

	// Each project shows its own fleet; the header names it, with the id on hover.
	srvA, srvB := runningServer(t, a.sim), runningServer(t, b.sim)
	for _, tc := range []struct {
		path, name, region, pid, has, hasNot string
	}{
		{"/servers", "bj-train", "cn-north-9", pidA, srvA.ID, srvB.ID},
		{"/servers?project=gy-infer", "gy-infer", "cn-southwest-2", pidB, srvB.ID, srvA.ID},
	} {
		r := op.Get(t, tc.path)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: status %d\n%s", tc.path, r.Status, r.Body)
		}
		doc := r.Doc(t)
		head := doc.Find(`[data-testid="current-project"] .project-current`)
		if got := strings.Join(strings.Fields(head.Text()), " "); !strings.Contains(got, tc.name) || !strings.Contains(got, tc.region) {
			t.Errorf("GET %s: header says %q; want %s and %s", tc.path, got, tc.name, tc.region)
		}
		if title, _ := head.Attr("title"); !strings.Contains(title, tc.pid) {
			t.Errorf("GET %s: header title %q does not give the project id %s", tc.path, title, tc.pid)
		}
		if opts := doc.Find(`#project-select option`).Length(); opts != 2 {
			t.Errorf("GET %s: the switcher offers %d projects, want 2", tc.path, opts)
		}
		if !strings.Contains(r.Body, tc.has) || strings.Contains(r.Body, tc.hasNot) {
			t.Errorf("GET %s: the fleet is not the project's own (has %s: %t, has the other's %s: %t)", tc.path,
				tc.has, strings.Contains(r.Body, tc.has), tc.hasNot, strings.Contains(r.Body, tc.hasNot))
		}
	}

	// A STOP in gy-infer reaches only gy-infer's endpoint.
	ctx := context.Background()
	u, err := env.App.Users().GetByName(ctx, "operator1")
	if err != nil {
		t.Fatal(err)
	}
	// The selection spans projects (bj-train's server too): the preview in
	// gy-infer takes only gy-infer's.
	if err := fleet.NewSelections(env.App.DB(), nil).Add(ctx, u.ID, srvA.ID, srvB.ID); err != nil {
		t.Fatal(err)
	}
	r := op.Do(t, http.MethodPost, "/actions/preview", strings.NewReader(url.Values{"action": {"STOP"}}.Encode()), http.Header{
		"HX-Request": {"true"}, "X-CSRF-Token": {op.CSRF}, "X-Console-Project": {"gy-infer"},
		"Content-Type": {"application/x-www-form-urlencoded"},
	})
	token, _ := r.Doc(t).Find(`#action-form input[name="token"]`).Attr("value")
	if token == "" {
		t.Fatalf("preview in gy-infer gave no token: %d\n%s", r.Status, r.Body)
	}
	// The token is gy-infer's: bj-train does not know it.
	if r := op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}); r.Status < 400 {
		t.Errorf("a gy-infer preview was executed in bj-train: status %d", r.Status)
	}
	r = op.Do(t, http.MethodPost, "/actions/execute", strings.NewReader(url.Values{"token": {token}}.Encode()), http.Header{
		"HX-Request": {"true"}, "X-CSRF-Token": {op.CSRF}, "X-Console-Project": {"gy-infer"},
		"Content-Type": {"application/x-www-form-urlencoded"},
	})
	if r.Status >= 400 {
		t.Fatalf("execute in gy-infer: status %d\n%s", r.Status, r.Body)
	}
	if loc := r.Header.Get("HX-Redirect"); !strings.Contains(loc, "project=gy-infer") {
		t.Errorf("after execute the browser goes to %q, which does not keep the project", loc)
	}
	_, _, batchesB := env.App.Project("gy-infer")
	batchesB.Wait()
	list, err := batchesB.List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Project != "gy-infer" || list[0].Total != 1 || len(list[0].Skipped) != 0 {
		t.Errorf("gy-infer's batches = %+v; want one STOP of one server, nothing skipped", list)
	}
	if n := b.sim.MutatingRequests(); n != 1 {
		t.Errorf("gy-infer's endpoint got %d state-changing requests, want 1", n)
	}
	if n := a.sim.MutatingRequests(); n != 0 {
		t.Errorf("bj-train's endpoint got %d state-changing requests, want none", n)
	}

	// The audit log records each entry's project and filters by it.
	for _, tc := range []struct {
		project string
		want    int
	}{{"gy-infer", 2}, {"bj-train", 0}} {
		entries, _, err := env.App.Audit().List(ctx, audit.Filter{Project: tc.project, Action: "STOP"}, 0, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != tc.want {
			t.Errorf("audit entries of STOP in %s: %d, want %d (request and response)", tc.project, len(entries), tc.want)
		}
		for _, e := range entries {
			if e.Project != tc.project || !strings.Contains(e.URL, pidB) {
				t.Errorf("entry %d: project %q, URL %s", e.ID, e.Project, e.URL)
			}
		}
	}
	admin := env.As(t, auth.RoleAdmin)
	if r := admin.Get(t, "/audit?in_project=gy-infer"); r.Status != http.StatusOK || !strings.Contains(r.Body, srvB.Name) {
		t.Errorf("the audit page filtered to gy-infer does not list the STOP of %s (status %d)", srvB.Name, r.Status)
	}

	// An admin limits the operator to bj-train: gy-infer is refused and no
	// longer offered.
	if err := env.App.Users().SetProjects(ctx, u.ID, []string{"bj-train"}); err != nil {
		t.Fatal(err)
	}
	if r := op.Get(t, "/servers?project=gy-infer"); r.Status != http.StatusForbidden {
		t.Errorf("limited to bj-train, the operator opens gy-infer: status %d", r.Status)
	}
	r = op.Get(t, "/servers")
	if r.Status != http.StatusOK || r.Doc(t).Find(`#project-select`).Length() != 0 {
		t.Errorf("limited to one project, the operator still gets a switcher (status %d)", r.Status)
	}
	if r := op.Get(t, "/servers?project=no-such"); r.Status != http.StatusNotFound {
		t.Errorf("an unknown project: status %d, want 404", r.Status)
	}
}

// TestApprovalRunsInItsProject: an approval request records the project it
// was made in; the list and its page name it, an approver limited to another
// project cannot see or decide it, and approving runs the batch in that
// project only.
func TestApprovalRunsInItsProject(t *testing.T) {
	const pidA, pidB = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	a := newCloud(t, pidA, "AK-A", "sk-a-secret-value", 11)
	b := newCloud(t, pidB, "AK-B", "sk-b-secret-value", 22)
	env := apptest.New(t, func(c *config.Config) {
		c.ApprovalActions = []modelarts.BatchType{modelarts.BatchStop}
		c.Projects = []config.Project{
			{Name: "bj-train", Region: "cn-north-9", Endpoint: a.url, ProjectID: pidA, AccessKey: "AK-A", SecretKey: "sk-a-secret-value"},
			{Name: "gy-infer", Region: "cn-southwest-2", Endpoint: b.url, ProjectID: pidB, AccessKey: "AK-B", SecretKey: "sk-b-secret-value"},
		}
	})
	ctx := context.Background()
	op := env.As(t, auth.RoleOperator)
	ap := env.As(t, auth.RoleApprover)
	limitedPW := env.CreateUser(t, "approver-bj", auth.RoleApprover)
	limited := env.SignIn(t, "approver-bj", limitedPW)
	lu, err := env.App.Users().GetByName(ctx, "approver-bj")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.App.Users().SetProjects(ctx, lu.ID, []string{"bj-train"}); err != nil {
		t.Fatal(err)
	}
	u, err := env.App.Users().GetByName(ctx, "operator1")
	if err != nil {
		t.Fatal(err)
	}
	srvB := runningServer(t, b.sim)
	if err := fleet.NewSelections(env.App.DB(), nil).Add(ctx, u.ID, srvB.ID); err != nil {
		t.Fatal(err)
	}
	inB := func(path string, form url.Values) *apptest.Response {
		return op.Do(t, http.MethodPost, path, strings.NewReader(form.Encode()), http.Header{
			"HX-Request": {"true"}, "X-CSRF-Token": {op.CSRF}, "X-Console-Project": {"gy-infer"},
			"Content-Type": {"application/x-www-form-urlencoded"},
		})
	}
	r := inB("/actions/preview", url.Values{"action": {"STOP"}})
	token, _ := r.Doc(t).Find(`#action-form input[name="token"]`).Attr("value")
	if token == "" {
		t.Fatalf("STOP preview in gy-infer gave no token: %d\n%s", r.Status, r.Body)
	}
	r = inB("/actions/execute", url.Values{"token": {token}, "reason": {"the node is retired"}})
	loc := r.Header.Get("HX-Redirect")
	id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/approvals/"), "?")
	if r.Status >= 400 || !strings.HasPrefix(loc, "/approvals/") || id == "" {
		t.Fatalf("confirming the STOP did not make a request: %d to %q\n%s", r.Status, loc, r.Body)
	}
	admin, err := env.App.Users().GetByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	req, err := env.App.Approvals().Get(ctx, admin, id)
	if err != nil {
		t.Fatal(err)
	}
	if req.Project != "gy-infer" {
		t.Errorf("the request records project %q, want gy-infer", req.Project)
	}
	entries, _, err := env.App.Audit().List(ctx, audit.Filter{Project: "gy-infer", Action: string(audit.EventApprovalRequested)}, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("approval.requested entries in gy-infer: %d, want 1", len(entries))
	}

	// The list and the page name the project.
	if r := ap.Get(t, "/approvals"); r.Status != http.StatusOK || !strings.Contains(r.Body, "gy-infer") {
		t.Errorf("the approvals list does not name the project (status %d)", r.Status)
	}
	page := ap.Get(t, "/approvals/"+id)
	if page.Status != http.StatusOK {
		t.Fatalf("request page: status %d", page.Status)
	}
	facts := page.Doc(t).Find(".approval-facts")
	if dt := facts.Find(`dt:contains("Project")`); dt.Length() != 1 || strings.TrimSpace(dt.Next().Text()) != "gy-infer" {
		t.Errorf("the request page's facts do not name the project: %q", facts.Text())
	}
	// Its servers are judged against gy-infer's fleet, not the default one's.
	if strings.Contains(page.Body, "no longer in the fleet") {
		t.Error("the request page looked the servers up in another project's fleet")
	}

	// An approver limited to bj-train neither sees nor decides it, nor
	// counts it beside the Approvals link.
	if got := limited.Get(t, "/servers").Doc(t).Find(`a[href="/approvals"] .badge`).Length(); got != 0 {
		t.Errorf("an approver limited to bj-train is shown gy-infer's request as pending (%d badges)", got)
	}
	if got := ap.Get(t, "/servers").Doc(t).Find(`a[href="/approvals"] .badge`).Length(); got != 1 {
		t.Errorf("an approver of every project is shown %d pending badges, want 1", got)
	}
	if r := limited.Get(t, "/approvals"); strings.Contains(r.Body, "/approvals/"+id) {
		t.Error("an approver limited to bj-train is listed gy-infer's request")
	}
	if r := limited.Get(t, "/approvals/"+id); r.Status != http.StatusNotFound {
		t.Errorf("an approver limited to bj-train opens gy-infer's request: status %d, want 404", r.Status)
	}
	if r := limited.PostForm(t, "/approvals/"+id+"/approve", url.Values{"comment": {"ok"}}); r.Status != http.StatusNotFound {
		t.Errorf("an approver limited to bj-train approves gy-infer's request: status %d, want 404", r.Status)
	}
	if n := b.sim.MutatingRequests(); n != 0 {
		t.Fatalf("%d requests reached gy-infer before approval", n)
	}

	// Approved, the batch runs in gy-infer and reaches only its endpoint.
	res := ap.PostForm(t, "/approvals/"+id+"/approve", url.Values{"comment": {"ok"}})
	if loc := res.Header.Get("Location"); res.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/batches/") {
		t.Fatalf("approve: %d to %q\n%s", res.Status, loc, res.Body)
	}
	_, _, batchesB := env.App.Project("gy-infer")
	batchesB.Wait()
	list, err := batchesB.List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Project != "gy-infer" || list[0].Action != modelarts.BatchStop {
		t.Errorf("gy-infer's batches = %+v; want the approved STOP", list)
	}
	if n := b.sim.MutatingRequests(); n != 1 {
		t.Errorf("gy-infer's endpoint got %d state-changing requests, want 1", n)
	}
	if n := a.sim.MutatingRequests(); n != 0 {
		t.Errorf("bj-train's endpoint got %d state-changing requests, want none", n)
	}
}
