package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

// Credentials used by every journey. The admin is the console's bootstrap
// user, created from CONSOLE_ADMIN_PASSWORD on first start.
const (
	adminName     = "admin"
	adminPassword = "e2e-admin-password-1"
	userPassword  = "e2e-user-password-1"
)

// expect is the web-first assertion helper: every check retries until it
// holds or 5 seconds pass.
var expect = playwright.NewPlaywrightAssertions(5000)

// artifactsDir is where a failing test leaves its screenshot and trace:
// e2e/artifacts/<TestName>/ (go test runs in the package directory).
const artifactsDir = "artifacts"

// console is one running console: the real app, in-process, with its own
// temporary database and simulator.
type console struct {
	App *app.App
	Sim *simulator.Simulator
	URL string // http://127.0.0.1:port, no trailing slash
}

// consoleOption adjusts a console's configuration before it starts.
type consoleOption func(*config.Config)

// startConsole starts a fresh console for t and stops it when t ends. It
// runs on a fresh temp database and embedded simulator, so every test is
// independent of the others and of their order.
func startConsole(t *testing.T, opts ...consoleOption) *console {
	t.Helper()
	cfg := config.Default()
	cfg.DBPath = filepath.Join(t.TempDir(), "console.db")
	cfg.Addr = "127.0.0.1:0"
	cfg.AdminPassword = adminPassword
	cfg.SimServers = 24
	cfg.SimSeed = 7
	cfg.SimTransition = 300 * time.Millisecond
	cfg.FleetTTL = 200 * time.Millisecond
	cfg.RequestTimeout = 5 * time.Second
	// Tests of direct destructive actions run without the two-person rule;
	// tests of approvals turn it on (withApprovals). The product default
	// (config.Default) keeps DELETE, REINSTALLOS and CHANGEOS under approval.
	cfg.ApprovalActions = nil
	for _, o := range opts {
		o(&cfg)
	}

	logs := &testutil.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log, logs)
	if err != nil {
		cancel()
		t.Fatalf("start the console: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		_ = a.Close()
		t.Fatalf("listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("console stopped with: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("close the console: %v", err)
		}
		if t.Failed() {
			t.Logf("console log:\n%s", logs.Tail(8000))
		}
	})
	c := &console{App: a, Sim: a.Simulator(), URL: "http://" + ln.Addr().String()}
	if c.Sim == nil {
		t.Fatal("the console did not start its embedded simulator")
	}
	return c
}

// createUser adds a user with role to the console's user store, with the
// password userPassword.
func createUser(t *testing.T, a *app.App, name string, role auth.Role) {
	t.Helper()
	if _, err := a.Users().CreateUser(context.Background(), name, role, userPassword); err != nil {
		t.Fatalf("create user %s (%s): %v", name, role, err)
	}
}

// newPage opens a fresh browser context (no cookies, its own trace) on the
// console and returns a page in it. When t fails, the page's screenshot and
// the context's Playwright trace are saved to e2e/artifacts/<TestName>/;
// uncaught JavaScript errors and CSP violations on the page fail t.
func newPage(t *testing.T, c *console) playwright.Page {
	t.Helper()
	return newPageWith(t, c, nil)
}

// newPageWith is newPage with the browser context's options adjusted by
// adjust (viewport, colour scheme, locale, BypassCSP for injecting axe).
func newPageWith(t *testing.T, c *console, adjust func(*playwright.BrowserNewContextOptions)) playwright.Page {
	t.Helper()
	dir := filepath.Join(artifactsDir, artifactName(t.Name()))
	// The first page of a test clears what an earlier run left; a second
	// page in the same test (another user) gets numbered files.
	suffix := ""
	if n := pagesOpened(t.Name()); n == 1 {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pagesMu.Lock(); delete(pages, t.Name()); pagesMu.Unlock() })
	} else {
		suffix = fmt.Sprintf("-%d", n)
	}
	opts := playwright.BrowserNewContextOptions{
		BaseURL:         playwright.String(c.URL),
		AcceptDownloads: playwright.Bool(true),
		Locale:          playwright.String("en-GB"),
		TimezoneId:      playwright.String("UTC"),
		Viewport:        &playwright.Size{Width: 1280, Height: 900},
	}
	if adjust != nil {
		adjust(&opts)
	}
	bctx, err := browser.NewContext(opts)
	if err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	bctx.SetDefaultTimeout(10000)
	if err := bctx.Tracing().Start(playwright.TracingStartOptions{
		Title:       playwright.String(t.Name()),
		Screenshots: playwright.Bool(true),
		Snapshots:   playwright.Bool(true),
	}); err != nil {
		t.Fatalf("start tracing: %v", err)
	}
	page, err := bctx.NewPage()
	if err != nil {
		t.Fatalf("new page: %v", err)
	}

	var (
		mu       sync.Mutex
		problems []string
	)
	page.OnPageError(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		problems = append(problems, "uncaught JavaScript error: "+err.Error())
	})
	page.OnDialog(func(d playwright.Dialog) {
		// The console never uses alert/confirm/prompt; one means injected script ran.
		mu.Lock()
		problems = append(problems, fmt.Sprintf("unexpected JavaScript %s dialog: %q", d.Type(), d.Message()))
		mu.Unlock()
		_ = d.Dismiss()
	})
	page.OnConsole(func(m playwright.ConsoleMessage) {
		if m.Type() != "error" {
			return
		}
		text := m.Text()
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(text, "Content Security Policy") {
			problems = append(problems, "CSP violation: "+text)
		}
	})

	t.Cleanup(func() {
		mu.Lock()
		for _, p := range problems {
			t.Errorf("page: %s", p)
		}
		mu.Unlock()
		if t.Failed() {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Logf("artifacts: %v", err)
			}
			shot := filepath.Join(dir, "screenshot"+suffix+".png")
			if _, err := page.Screenshot(playwright.PageScreenshotOptions{Path: playwright.String(shot), FullPage: playwright.Bool(true)}); err != nil {
				t.Logf("artifacts: screenshot: %v", err)
			}
			trace := filepath.Join(dir, "trace"+suffix+".zip")
			if err := bctx.Tracing().Stop(trace); err != nil {
				t.Logf("artifacts: trace: %v", err)
			}
			abs, _ := filepath.Abs(trace)
			t.Logf("failure artifacts in e2e/%s: %s and %s\n view the trace with: %s %s show-trace --host 127.0.0.1 --port 9323 %s (then open http://127.0.0.1:9323)",
				dir, filepath.Base(shot), filepath.Base(trace),
				filepath.Join(driverDir, "node"), filepath.Join(driverDir, "package", "cli.js"), abs)
		} else {
			_ = bctx.Tracing().Stop()
		}
		_ = bctx.Close()
	})
	return page
}

var (
	pagesMu sync.Mutex
	pages   = map[string]int{}
)

// pagesOpened counts the pages a test has opened, this one included.
func pagesOpened(test string) int {
	pagesMu.Lock()
	defer pagesMu.Unlock()
	pages[test]++
	return pages[test]
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// artifactName turns a test name (which may contain "/" and spaces from
// subtests) into one directory name.
func artifactName(name string) string { return unsafeName.ReplaceAllString(name, "_") }

// signIn signs in through the sign-in form and waits for the fleet.
func signIn(t *testing.T, page playwright.Page, user, pass string) {
	t.Helper()
	gotoPath(t, page, "/")
	fillSignIn(t, page, user, pass)
	// The sign-out form is on every page once signed in; on narrow screens
	// it is folded into the menu, so check it is there rather than visible.
	if err := expect.Locator(page.Locator(`form[action="/signout"]`)).ToBeAttached(); err != nil {
		t.Fatalf("%s is not signed in after submitting the form: %v", user, err)
	}
}

// fillSignIn fills and submits the sign-in form shown on page.
func fillSignIn(t *testing.T, page playwright.Page, user, pass string) {
	t.Helper()
	must(t, page.GetByLabel("Username", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(user), "fill Username")
	must(t, page.GetByLabel("Password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill(pass), "fill Password")
	must(t, button(page, "Sign in").Click(), "click Sign in")
}

// gotoPath navigates page to a path of the console.
func gotoPath(t *testing.T, page playwright.Page, path string) playwright.Response {
	t.Helper()
	resp, err := page.Goto(path)
	if err != nil {
		t.Fatalf("go to %s: %v", path, err)
	}
	return resp
}

// button finds a button by its accessible name, exactly.
func button(page playwright.Page, name string) playwright.Locator {
	return page.GetByRole("button", playwright.PageGetByRoleOptions{Name: name, Exact: playwright.Bool(true)})
}

// link finds a link by its accessible name, exactly.
func link(page playwright.Page, name string) playwright.Locator {
	return page.GetByRole("link", playwright.PageGetByRoleOptions{Name: name, Exact: playwright.Bool(true)})
}

// rowCheckbox is the fleet row checkbox of a server, by its name.
func rowCheckbox(page playwright.Page, serverName string) playwright.Locator {
	return page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "Select " + serverName, Exact: playwright.Bool(true)})
}

// must fails t at once when err is not nil.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// servers returns the simulator's servers that match keep, in list order.
func (c *console) servers(keep func(modelarts.ServerResponse) bool) []modelarts.ServerResponse {
	var out []modelarts.ServerResponse
	for _, s := range c.Sim.Servers() {
		if keep(s) {
			out = append(out, s)
		}
	}
	return out
}

// pickServers returns n servers in status st that every batch action may
// target: plain pay-per-use SERVER machines (no supernode or SPOD member,
// not prepaid). It fails t when the simulated fleet has too few.
func (c *console) pickServers(t *testing.T, st modelarts.Status, n int) []modelarts.ServerResponse {
	t.Helper()
	got := c.servers(func(s modelarts.ServerResponse) bool {
		return s.Status == st && s.Category == modelarts.CategoryServer && s.ChargingMode != modelarts.ChargingPrePaid
	})
	if len(got) < n {
		t.Fatalf("the simulated fleet has %d plain %s servers, the test needs %d", len(got), st, n)
	}
	return got[:n]
}

// status returns a server's current status in the simulator ("" once it is
// gone).
func (c *console) status(id string) modelarts.Status {
	s, ok := c.Sim.Server(id)
	if !ok {
		return ""
	}
	return s.Status
}

// sentRequests returns the state-changing requests the simulator received.
func (c *console) sentRequests() []simulator.RecordedRequest {
	var out []simulator.RecordedRequest
	for _, r := range c.Sim.Requests() {
		if r.Mutating {
			out = append(out, r)
		}
	}
	return out
}

// ids returns the servers' ids, sorted.
func ids(servers []modelarts.ServerResponse) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		out[i] = s.ID
	}
	slices.Sort(out)
	return out
}
