package web_test

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/web"
)

// Callers of the route table: signed out, then each role.
const (
	anon = iota
	viewer
	operator
	approver
	admin
	numCallers
)

var callerNames = [numCallers]string{"signed-out", "viewer", "operator", "approver", "admin"}

// userNames are the accounts apptest signs the callers in as.
var userNames = [numCallers]string{"", "viewer1", "operator1", "approver1", "admin"}

// codes are the expected statuses for {signed-out, viewer, operator,
// approver, admin}.
type codes [numCallers]int

// routeRule is one row of the route table.
type routeRule struct {
	// route is "METHOD /path" exactly as registered with Echo.
	route string
	// target is the URL to request, when it differs from the registered
	// path; placeholders such as {user} are filled in (see fill).
	target string
	// form is the body of a state-changing request. The caller's valid
	// CSRF token is added: this table tests roles, not CSRF.
	form url.Values
	// endsSession marks rows after which the caller is no longer signed
	// in; they run last, on their own fresh sessions.
	endsSession bool
	want        codes
}

// Common expectations.
var (
	// everyRoleGET: a page for any signed-in user; the signed-out are
	// sent to the sign-in page.
	everyRoleGET = codes{http.StatusSeeOther, 200, 200, 200, 200}
	// public: no sign-in needed.
	public = codes{200, 200, 200, 200, 200}
	// adminOnlyGET: admins only; others get 403 (and an audit entry).
	adminOnlyGET = codes{http.StatusSeeOther, 403, 403, 403, 200}
	// approverGET: approvers and admins (the audit log); others get 403.
	approverGET = codes{http.StatusSeeOther, 403, 403, 200, 200}
)

// adminOnlyPOST: signed-out 401, non-admins 403, admins get status ok.
func adminOnlyPOST(ok int) codes { return codes{401, 403, 403, 403, ok} }

// routeTable lists every route the console registers and what each caller
// gets. A route missing here fails TestRouteTable, and so does a row
// whose route no longer exists. Add your routes' rows as you add routes.
var routeTable = []routeRule{
	// Health and static assets.
	{route: "GET /healthz", want: public},
	{route: "GET /readyz", want: public},
	{route: "GET /static/*", target: "/static/css/console.css", want: public},

	// Sign-in (signin.go).
	{route: "GET /signin", want: codes{200, 303, 303, 303, 303}},
	{route: "POST /signin", form: url.Values{"username": {""}, "password": {""}}, want: codes{422, 422, 422, 422, 422}},
	// The second sign-in step: only a sign-in waiting for its code sees the
	// form; everyone else is sent on (signed in) or back to /signin.
	{route: "GET /signin/code", want: codes{303, 303, 303, 303, 303}},
	{route: "POST /signin/code", form: url.Values{"code": {"123456"}}, want: codes{303, 303, 303, 303, 303}},
	{route: "POST /signout", endsSession: true, want: codes{303, 303, 303, 303, 303}},

	// User management (users.go): admins only.
	{route: "GET /users", want: adminOnlyGET},
	{route: "POST /users", form: url.Values{"name": {""}, "role": {""}, "password": {""}}, want: adminOnlyPOST(422)},
	{route: "POST /users/:id/role", target: "/users/{user}/role", form: url.Values{"role": {"superuser"}}, want: adminOnlyPOST(422)},
	{route: "POST /users/:id/projects", target: "/users/{user}/projects", form: url.Values{"allowed": {"no-such-project"}}, want: adminOnlyPOST(422)},
	{route: "POST /users/:id/password", target: "/users/{user}/password", form: url.Values{"password": {"short"}}, want: adminOnlyPOST(422)},
	{route: "POST /users/:id/disable", target: "/users/{user}/disable", want: adminOnlyPOST(200)}, // asks to confirm
	{route: "POST /users/:id/enable", target: "/users/{user}/enable", want: adminOnlyPOST(303)},
	{route: "POST /users/:id/factor/reset", target: "/users/{user}/factor/reset", want: adminOnlyPOST(303)},
	{route: "POST /users/:id/sessions/end", target: "/users/{user}/sessions/end", want: adminOnlyPOST(303)},

	// The fleet and the selection (servers.go, selection.go): every role.
	{route: "GET /", want: codes{303, 303, 303, 303, 303}},
	{route: "GET /servers", want: everyRoleGET},
	{route: "GET /servers/rows", want: everyRoleGET},
	{route: "GET /servers/:id", target: "/servers/no-such-server", want: codes{303, 404, 404, 404, 404}},
	{route: "POST /servers/refresh", want: codes{401, 303, 303, 303, 303}},
	{route: "POST /servers/columns", form: url.Values{"col": {"id"}}, want: codes{401, 303, 303, 303, 303}},
	{route: "POST /selection", form: url.Values{"id": {"no-such-server"}}, want: codes{401, 303, 303, 303, 303}},
	{route: "POST /selection/all", want: codes{401, 303, 303, 303, 303}},
	{route: "POST /selection/clear", want: codes{401, 303, 303, 303, 303}},

	// Batch actions (actions.go): operators and admins; an unknown token is 422.
	{route: "POST /actions/preview", form: url.Values{"action": {"STOP"}}, want: codes{401, 403, 200, 403, 200}},
	{route: "POST /actions/validate", form: url.Values{"field": {"admin_pass"}, "action": {"REINSTALLOS"}}, want: codes{401, 403, 200, 403, 200}},
	{route: "POST /actions/review", form: url.Values{"token": {"no-such-token"}}, want: codes{401, 403, 422, 403, 422}},
	{route: "POST /actions/execute", form: url.Values{"token": {"no-such-token"}}, want: codes{401, 403, 422, 403, 422}},

	// Batches (batches.go): every signed-in user.
	{route: "GET /batches", want: everyRoleGET},
	{route: "GET /batches/:id", target: "/batches/no-such-batch", want: codes{303, 404, 404, 404, 404}},
	{route: "GET /batches/:id/status", target: "/batches/no-such-batch/status", want: codes{303, 404, 404, 404, 404}},
	{route: "POST /batches/:id/select-failed", target: "/batches/no-such-batch/select-failed", want: codes{401, 403, 404, 403, 404}},

	// Your account: every signed-in user.
	{route: "GET /account", want: everyRoleGET},
	{route: "POST /account/password", form: url.Values{"current_password": {""}, "new_password": {"short"}}, want: codes{401, 422, 422, 422, 422}},
	{route: "POST /account/factor/confirm", form: url.Values{"code": {""}}, want: codes{401, 422, 422, 422, 422}},
	{route: "POST /account/sessions/end", form: url.Values{"session": {"no-such-session"}}, want: codes{401, 303, 303, 303, 303}},
	{route: "POST /account/factor", want: codes{401, 303, 303, 303, 303}},
	{route: "POST /account/settings", form: url.Values{"theme": {"dark"}, "language": {"en"}, "time_zone": {"Asia/Shanghai"}}, want: codes{401, 303, 303, 303, 303}},

	// Audit log review: approvers and admins.
	{route: "GET /audit", want: approverGET},
	{route: "GET /audit/:id", target: "/audit/1", want: approverGET},
	{route: "GET /audit/export.csv", want: approverGET},
	{route: "GET /audit/export.jsonl", want: approverGET},
	{route: "POST /audit/verify", want: codes{401, 403, 403, 303, 303}},

	// Approvals (approvals.go): everyone signed in sees the pages (operators
	// their own requests); approvers and admins decide; only the requester
	// withdraws (checked by the service: someone else's or no request is 404).
	{route: "GET /approvals", want: everyRoleGET},
	{route: "GET /approvals/:id", target: "/approvals/no-such-request", want: codes{303, 404, 404, 404, 404}},
	{route: "POST /approvals/:id/approve", target: "/approvals/no-such-request/approve", want: codes{401, 403, 403, 404, 404}},
	{route: "POST /approvals/:id/deny", target: "/approvals/no-such-request/deny", form: url.Values{"comment": {"no"}}, want: codes{401, 403, 403, 404, 404}},
	{route: "POST /approvals/:id/withdraw", target: "/approvals/no-such-request/withdraw", want: codes{401, 404, 404, 404, 404}},
}

// fixtures are the ids placeholders in targets stand for.
type fixtures struct {
	user int64 // a viewer that admin rows may change
}

func (f fixtures) fill(target string) string {
	return strings.NewReplacer("{user}", strconv.FormatInt(f.user, 10)).Replace(target)
}

// TestRouteTable walks every registered route for every role and for a
// signed-out visitor, and checks the status against routeTable.
func TestRouteTable(t *testing.T) {
	env := apptest.New(t)
	srv, ok := env.App.Handler().(*web.Server)
	if !ok {
		t.Fatalf("app handler is %T, want *web.Server", env.App.Handler())
	}

	registered := map[string]bool{}
	for _, r := range srv.Echo().Routes() {
		registered[r.Method+" "+r.Path] = true
	}
	listed := map[string]bool{}
	for _, rule := range routeTable {
		if listed[rule.route] {
			t.Errorf("route %q is listed twice", rule.route)
		}
		listed[rule.route] = true
		if !registered[rule.route] {
			t.Errorf("routeTable lists %q, which is not registered: remove or fix the row", rule.route)
		}
	}
	var missing []string
	for r := range registered {
		if !listed[r] {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	for _, r := range missing {
		t.Errorf("route %q has no row in routeTable: say who may use it", r)
	}

	target, err := env.App.Users().CreateUser(context.Background(), "route-target", auth.RoleViewer, "route-target-password")
	if err != nil {
		t.Fatal(err)
	}
	fx := fixtures{user: target.ID}

	newCaller := func(who int) *apptest.Client {
		if who == anon {
			c := env.Anonymous(t)
			c.Get(t, "/signin") // picks up the anonymous CSRF token
			return c
		}
		return env.As(t, auth.Roles[who-1])
	}
	var callers [numCallers]*apptest.Client
	for who := range callers {
		callers[who] = newCaller(who)
	}

	deniedBefore := len(auditEvents(t, env, auth.EventAccessDenied))
	rules := append([]routeRule(nil), routeTable...)
	sort.SliceStable(rules, func(i, j int) bool { return !rules[i].endsSession && rules[j].endsSession })
	for _, rule := range rules {
		method, path, _ := strings.Cut(rule.route, " ")
		reqPath := path
		if rule.target != "" {
			reqPath = fx.fill(rule.target)
		}
		for who := range numCallers {
			t.Run(rule.route+"/"+callerNames[who], func(t *testing.T) {
				c := callers[who]
				if rule.endsSession {
					c = newCaller(who)
				}
				var got *apptest.Response
				switch method {
				case http.MethodGet, http.MethodHead:
					got = c.Do(t, method, reqPath, nil, nil)
				default:
					form := url.Values{"_csrf": {c.CSRF}}
					for k, v := range rule.form {
						form[k] = v
					}
					got = c.Do(t, method, reqPath, strings.NewReader(form.Encode()),
						http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
				}
				if want := rule.want[who]; got.Status != want {
					t.Errorf("%s %s as %s: status %d, want %d", method, reqPath, callerNames[who], got.Status, want)
				}
				// A refusal by role is recorded in the audit log, as the
				// caller; anything else is not recorded as a denial.
				denied := auditEvents(t, env, auth.EventAccessDenied)
				switch {
				case rule.want[who] == http.StatusForbidden:
					if len(denied) != deniedBefore+1 {
						t.Fatalf("%s %s as %s: %d new access.denied entries, want 1", method, reqPath, callerNames[who], len(denied)-deniedBefore)
					}
					last := denied[len(denied)-1]
					if last.Actor != userNames[who] || last.Detail["reason"] != "role" || last.Detail["path"] != strings.SplitN(reqPath, "?", 2)[0] {
						t.Errorf("access.denied entry %+v, want actor %q, reason role, path %s", last, userNames[who], reqPath)
					}
				case len(denied) != deniedBefore:
					t.Errorf("%s %s as %s (status %d) was recorded as access.denied", method, reqPath, callerNames[who], got.Status)
				}
				deniedBefore = len(denied)
			})
		}
	}
	// None of the table's requests is a valid action: nothing may have
	// reached ModelArts, whoever asked.
	if n := env.App.Simulator().MutatingRequests(); n != 0 {
		t.Errorf("the route table walk sent %d state-changing requests to ModelArts", n)
	}
}
