package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"
	"github.com/pquerna/otp/totp"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// The accessibility and width checks of issue 15 run over one table of
// pages (checkedPages). A new page joins both checks by adding a row.

// axeVersion is the axe-core release `make test-deps` fetches
// (scripts/install-axe-core.sh) into ../.cache/axe-core-<axeVersion>.
const axeVersion = "4.14.1"

// pageState is what the checked pages need that only exists once the
// console has been used: a batch, an audit entry, a server.
type pageState struct {
	batchID    string
	auditID    int64
	serverID   string
	approvalID string
}

// checkedPage is one page (or one state of a page) the checks visit.
type checkedPage struct {
	name string
	// user signs in first: adminName, or "" to stay signed out.
	user string
	// open navigates page to what is checked and waits until it is shown.
	open func(t *testing.T, page playwright.Page, st *pageState)
}

// visit returns an open function that goes to a path and waits for its h1.
func visit(path func(st *pageState) string) func(*testing.T, playwright.Page, *pageState) {
	return func(t *testing.T, page playwright.Page, st *pageState) {
		t.Helper()
		gotoPath(t, page, path(st))
		must(t, expect.Locator(page.Locator("h1").First()).ToBeVisible(), "the page has a heading")
	}
}

func fixed(p string) func(*pageState) string { return func(*pageState) string { return p } }

// checkedPages lists every page of the console, and the states of a page
// that add markup (an open preview, an open dialog).
var checkedPages = []checkedPage{
	{name: "sign-in", open: visit(fixed("/signin"))},
	// The second step of signing in, for a user with a second factor.
	{name: "second-factor code", open: func(t *testing.T, page playwright.Page, _ *pageState) {
		gotoPath(t, page, "/signin")
		fillSignIn(t, page, a11yFactorUser, userPassword)
		must(t, expect.Locator(page.GetByLabel("Authentication code", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeVisible(), "the code is asked for")
	}},
	{name: "fleet", user: adminName, open: func(t *testing.T, page playwright.Page, _ *pageState) {
		openFleet(t, page, "")
	}},
	{name: "fleet with a preview", user: adminName, open: func(t *testing.T, page playwright.Page, _ *pageState) {
		openFleet(t, page, "")
		must(t, page.Locator("table.servers tbody input[type=checkbox]").First().Check(), "select a server")
		choose(t, page, "Reboot")
	}},
	{name: "fleet with the confirmation dialog", user: adminName, open: func(t *testing.T, page playwright.Page, _ *pageState) {
		openFleet(t, page, "")
		must(t, page.Locator("table.servers tbody input[type=checkbox]").First().Check(), "select a server")
		choose(t, page, "Delete")
		openConfirm(t, page)
	}},
	// A later page of a paged fleet: the pager shows, with its current page.
	{name: "fleet, second page", user: adminName, open: visit(fixed("/servers?per_page=2&page=2"))},
	{name: "server", user: adminName, open: visit(func(st *pageState) string { return "/servers/" + st.serverID })},
	{name: "batches", user: adminName, open: visit(fixed("/batches"))},
	{name: "batch", user: adminName, open: visit(func(st *pageState) string { return "/batches/" + st.batchID })},
	{name: "audit log", user: adminName, open: visit(fixed("/audit"))},
	{name: "audit entry", user: adminName, open: visit(func(st *pageState) string { return fmt.Sprintf("/audit/%d", st.auditID) })},
	{name: "users", user: adminName, open: visit(fixed("/users"))},
	{name: "users with the disable confirmation", user: adminName, open: func(t *testing.T, page playwright.Page, _ *pageState) {
		gotoPath(t, page, "/users")
		must(t, button(page, "Disable "+a11yViewer).Click(), "ask to disable a user")
		must(t, expect.Locator(page.GetByRole("dialog")).ToBeVisible(), "the confirmation dialog opens")
	}},
	{name: "account", user: adminName, open: visit(fixed("/account"))},
	// Setting up a second factor: the QR code, the key as text, the code.
	{name: "second-factor enrolment", user: a11yEnrolUser, open: func(t *testing.T, page playwright.Page, _ *pageState) {
		gotoPath(t, page, "/account")
		if start := button(page, "Set up two-factor authentication"); mustCount(t, start) > 0 {
			must(t, start.Click(), "start the set-up")
		}
		must(t, expect.Locator(page.GetByRole("img", playwright.PageGetByRoleOptions{Name: "QR code for your authenticator app"})).ToBeVisible(), "the QR code is shown")
	}},
	{name: "approvals", user: adminName, open: visit(fixed("/approvals"))},
	{name: "approval request", user: adminName, open: visit(func(st *pageState) string { return "/approvals/" + st.approvalID })},
	// The same pages in Simplified Chinese (longer and shorter words).
	{name: "fleet in Chinese", user: a11yChineseUser, open: func(t *testing.T, page playwright.Page, _ *pageState) {
		gotoPath(t, page, "/servers")
		must(t, expect.Locator(page.Locator("html")).ToHaveAttribute("lang", "zh-Hans"), "the page is in Chinese")
	}},
	{name: "batch in Chinese", user: a11yChineseUser, open: visit(func(st *pageState) string { return "/batches/" + st.batchID })},
	{name: "audit log in Chinese", user: a11yChineseUser, open: visit(fixed("/audit"))},
	{name: "approval request in Chinese", user: a11yChineseUser, open: visit(func(st *pageState) string { return "/approvals/" + st.approvalID })},
	{name: "not found", user: adminName, open: func(t *testing.T, page playwright.Page, _ *pageState) {
		gotoPath(t, page, "/no-such-page")
		must(t, expect.Locator(page.Locator("h1")).ToBeVisible(), "the error page has a heading")
	}},
}

// Users of the checked pages besides the admin: one the users page can
// ask to disable, one with a second factor (for the code page), one who
// has not set one up (for the enrolment page), and an approver who reads
// Chinese.
const (
	a11yViewer      = "vera"
	a11yFactorUser  = "fay"
	a11yEnrolUser   = "enid"
	a11yChineseUser = "zhao"
)

// mustCount is how many elements loc matches now.
func mustCount(t *testing.T, loc playwright.Locator) int {
	t.Helper()
	n, err := loc.Count()
	must(t, err, "count elements")
	return n
}

// prepareState runs a Stop on two servers through the UI, so that batch
// and audit pages have something to show, and returns where they are.
func prepareState(t *testing.T, c *console) *pageState {
	t.Helper()
	createUser(t, c.App, a11yViewer, auth.RoleViewer)
	createUser(t, c.App, a11yEnrolUser, auth.RoleOperator)
	enrolFactor(t, c, a11yFactorUser)
	createUser(t, c.App, a11yChineseUser, auth.RoleApprover)
	if err := c.App.Users().SetPreferences(context.Background(), userID(t, c, a11yChineseUser), auth.Preferences{Theme: auth.ThemeSystem, Language: i18n.Chinese}); err != nil {
		t.Fatalf("set %s's language: %v", a11yChineseUser, err)
	}
	page := newPage(t, c)
	signIn(t, page, adminName, adminPassword)
	targets := c.pickServers(t, modelarts.StatusRunning, 2)
	openFleet(t, page, "")
	selectServers(t, page, targets)
	choose(t, page, "Stop")
	must(t, button(page, "Run Stop on 2 servers").Click(), "run Stop")
	st := &pageState{batchID: waitForBatchPage(t, page), serverID: targets[0].ID}
	waitBatchFinished(t, page)
	entries := auditEntries(t, c, audit.Filter{})
	if len(entries) == 0 {
		t.Fatal("the audit log is empty after a batch")
	}
	st.auditID = entries[0].ID
	// An approval request (Delete needs one under the checked console's
	// policy), still pending.
	openFleet(t, page, "")
	selectServers(t, page, c.pickServers(t, modelarts.StatusStopped, 1))
	choose(t, page, "Delete")
	d := openConfirm(t, page)
	must(t, d.GetByLabel("Reason").Fill("retire the rack"), "type the reason")
	confirmWith(t, page, d, "DELETE")
	must(t, page.WaitForURL("**/approvals/*"), "land on the request's page")
	parts := strings.Split(page.URL(), "/approvals/")
	st.approvalID = parts[len(parts)-1]
	return st
}

// enrolFactor creates an operator with a confirmed second factor.
func enrolFactor(t *testing.T, c *console, name string) {
	t.Helper()
	ctx := context.Background()
	u, err := c.App.Users().CreateUser(ctx, name, auth.RoleOperator, userPassword)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	e, err := c.App.Users().StartEnrolment(ctx, u.ID)
	if err != nil {
		t.Fatalf("start %s's enrolment: %v", name, err)
	}
	code, err := totp.GenerateCode(e.Secret, time.Now())
	must(t, err, "compute a code")
	if _, err := c.App.Users().ConfirmEnrolment(ctx, u.ID, code, "127.0.0.1"); err != nil {
		t.Fatalf("confirm %s's factor: %v", name, err)
	}
}

// userID is the id of user name.
func userID(t *testing.T, c *console, name string) int64 {
	t.Helper()
	u, err := c.App.Users().GetByName(context.Background(), name)
	if err != nil {
		t.Fatalf("look up %s: %v", name, err)
	}
	return u.ID
}

// pagesPerUser opens one page for each user of checkedPages (signed in
// as that user; "" stays signed out), in contexts adjusted by adjust. The
// pages live as long as t, so the subtests of t share them.
func pagesPerUser(t *testing.T, c *console, adjust func(*playwright.BrowserNewContextOptions)) map[string]playwright.Page {
	t.Helper()
	pages := map[string]playwright.Page{}
	for _, p := range checkedPages {
		if _, ok := pages[p.user]; ok {
			continue
		}
		page := newPageWith(t, c, adjust)
		switch p.user {
		case "":
		case adminName:
			signIn(t, page, p.user, adminPassword)
		default:
			signIn(t, page, p.user, userPassword)
		}
		pages[p.user] = page
	}
	return pages
}

// axeScript returns the path of axe.min.js.
func axeScript(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AXE_CORE_DIR")
	if dir == "" {
		dir = filepath.Join("..", ".cache", "axe-core-"+axeVersion)
	}
	p := filepath.Join(dir, "axe.min.js")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("axe-core is missing (%v): run `make test-deps` (scripts/install-axe-core.sh) or set AXE_CORE_DIR", err)
	}
	return p
}

// axeViolation is the part of an axe-core result a failure message needs.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// runAxe injects axe-core into page and returns every violation of every
// rule axe runs by default (WCAG A/AA and best practices), of any impact.
func runAxe(t *testing.T, page playwright.Page, script string) []axeViolation {
	t.Helper()
	if _, err := page.AddScriptTag(playwright.PageAddScriptTagOptions{Path: playwright.String(script)}); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	raw, err := page.Evaluate(`async () => {
		const r = await axe.run(document, { resultTypes: ["violations"] });
		return JSON.stringify(r.violations.map(v => ({
			id: v.id, impact: v.impact || "", help: v.help,
			nodes: v.nodes.map(n => n.target.join(" ") + (n.failureSummary ? " — " + n.failureSummary.replace(/\s+/g, " ") : "")),
		})));
	}`)
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	var out []axeViolation
	if err := json.Unmarshal([]byte(raw.(string)), &out); err != nil {
		t.Fatalf("axe-core result: %v", err)
	}
	return out
}

// TestAccessibilityEveryPage runs axe-core on every page of checkedPages
// in the light and the dark colour scheme: zero violations of any impact;
// and every control of every page shows a clear focus ring when focused
// from the keyboard.
func TestAccessibilityEveryPage(t *testing.T) {
	script := axeScript(t)
	c := startConsole(t, withApprovals)
	st := prepareState(t, c)
	for _, scheme := range []*playwright.ColorScheme{playwright.ColorSchemeLight, playwright.ColorSchemeDark} {
		t.Run(string(*scheme), func(t *testing.T) {
			// axe-core is injected as a script, which the console's CSP
			// forbids: only these contexts bypass it.
			pages := pagesPerUser(t, c, func(o *playwright.BrowserNewContextOptions) {
				o.BypassCSP = playwright.Bool(true)
				o.ColorScheme = scheme
			})
			for _, p := range checkedPages {
				t.Run(strings.ReplaceAll(p.name, " ", "_"), func(t *testing.T) {
					page := pages[p.user]
					p.open(t, page, st)
					for _, v := range runAxe(t, page, script) {
						t.Errorf("axe %s (%s): %s\n  %s", v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
					}
					requireFocusRings(t, page)
				})
			}
		})
	}
}

// An explicit theme setting wins over the device's scheme: a user who
// chose dark gets the dark palette in a light browser, and passes axe.
func TestAccessibilityThemeSetting(t *testing.T) {
	script := axeScript(t)
	c := startConsole(t)
	createUser(t, c.App, "dora", auth.RoleOperator)
	page := newPageWith(t, c, func(o *playwright.BrowserNewContextOptions) {
		o.BypassCSP = playwright.Bool(true)
		o.ColorScheme = playwright.ColorSchemeLight
	})
	signIn(t, page, "dora", userPassword)
	gotoPath(t, page, "/account")
	_, err := page.GetByLabel("Theme", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).
		SelectOption(playwright.SelectOptionValues{Values: &[]string{"dark"}})
	must(t, err, "choose the dark theme")
	must(t, button(page, "Save settings").Click(), "save the settings")
	must(t, expect.Locator(page.Locator("html")).ToHaveAttribute("data-theme", "dark"), "the page is dark")
	bg, err := page.Evaluate(`() => getComputedStyle(document.body).backgroundColor`)
	must(t, err, "read the background")
	if bg == "rgb(255, 255, 255)" {
		t.Errorf("the body is white (%v) with the dark theme chosen", bg)
	}
	for _, path := range []string{"/account", "/servers", "/batches"} {
		gotoPath(t, page, path)
		for _, v := range runAxe(t, page, script) {
			t.Errorf("%s: axe %s (%s): %s\n  %s", path, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
		}
	}
}

// widths are the viewport widths of issue 15: a phone, a small laptop, a
// desktop.
var widths = []int{390, 1024, 1400}

// TestNoPageScrollsSideways opens every page of checkedPages at each of
// widths: the document is never wider than the viewport (wide tables
// scroll inside their own container).
func TestNoPageScrollsSideways(t *testing.T) {
	c := startConsole(t, withApprovals)
	st := prepareState(t, c)
	for _, w := range widths {
		t.Run(fmt.Sprintf("%dpx", w), func(t *testing.T) {
			pages := pagesPerUser(t, c, func(o *playwright.BrowserNewContextOptions) {
				o.Viewport = &playwright.Size{Width: w, Height: 800}
			})
			for _, p := range checkedPages {
				t.Run(strings.ReplaceAll(p.name, " ", "_"), func(t *testing.T) {
					page := pages[p.user]
					p.open(t, page, st)
					requireNoSidewaysScroll(t, page)
					requireNotClipped(t, page, ".pagination a")
					if strings.HasPrefix(p.name, "fleet") {
						requireFleetColumns(t, page, w)
					}
				})
			}
		})
	}
}

// requireNoSidewaysScroll fails t when the page is wider than its
// viewport, naming the elements that stick out.
func requireNoSidewaysScroll(t *testing.T, page playwright.Page) {
	t.Helper()
	raw, err := page.Evaluate(`() => {
		const vw = document.documentElement.clientWidth;
		const sw = document.documentElement.scrollWidth;
		const out = [];
		if (sw > vw) {
			for (const el of document.body.querySelectorAll("*")) {
				const r = el.getBoundingClientRect();
				if (r.right > vw + 1 && r.width > 0) {
					// Only the outermost element that sticks out.
					let p = el.parentElement, inner = false;
					while (p && p !== document.body) {
						if (p.getBoundingClientRect().right > vw + 1) { inner = true; break; }
						p = p.parentElement;
					}
					if (!inner) out.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") + " right=" + Math.round(r.right));
				}
				if (out.length >= 5) break;
			}
		}
		return JSON.stringify({ vw, sw, out });
	}`)
	must(t, err, "measure the page")
	var m struct {
		VW  int      `json:"vw"`
		SW  int      `json:"sw"`
		Out []string `json:"out"`
	}
	must(t, json.Unmarshal([]byte(raw.(string)), &m), "read the measurement")
	if m.SW > m.VW {
		t.Errorf("the page is %d px wide in a %d px viewport; sticking out: %s", m.SW, m.VW, strings.Join(m.Out, ", "))
	}
}

// requireNotClipped fails t when an element matching selector shows less
// than its content (the current page number of the pager was clipped).
func requireNotClipped(t *testing.T, page playwright.Page, selector string) {
	t.Helper()
	raw, err := page.Evaluate(`(sel) => {
		const out = [];
		for (const el of document.querySelectorAll(sel)) {
			if (el.offsetParent === null) continue;
			if (el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1) {
				out.push(JSON.stringify(el.textContent.trim()) + " " + el.scrollWidth + "x" + el.scrollHeight + " in " + el.clientWidth + "x" + el.clientHeight);
			}
		}
		return out.join("; ");
	}`, selector)
	must(t, err, "measure "+selector)
	if s, _ := raw.(string); s != "" {
		t.Errorf("%s clipped: %s", selector, s)
	}
}

// requireFleetColumns checks which fleet columns show: on a phone (below
// 40rem) only the selection box, name, status and flavor; wider, all the
// chosen columns.
func requireFleetColumns(t *testing.T, page playwright.Page, width int) {
	t.Helper()
	raw, err := page.Evaluate(`() => Array.from(document.querySelectorAll("table.servers thead th"))
		.filter(th => th.offsetParent !== null)
		.map(th => Array.from(th.classList).filter(c => c.startsWith("col-")).join(" ") || "?").join(",")`)
	must(t, err, "read the fleet's visible columns")
	got, _ := raw.(string)
	if width < 640 {
		// The selection box shows for people who may act.
		if strings.TrimPrefix(got, "col-select,") != "col-name,col-status,col-flavor" {
			t.Errorf("at %d px the fleet shows columns %q, want (select,) name, status and flavor", width, got)
		}
	} else if !strings.Contains(got, "col-id") || !strings.Contains(got, "col-ip") {
		t.Errorf("at %d px the fleet shows columns %q, want all of them", width, got)
	}
}
