package e2e

import (
	"testing"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// Journey in Simplified Chinese: a browser that asks for Chinese
// (Accept-Language zh-CN) gets the console in Chinese, signs in and stops
// two servers, finding every control by its role and Chinese name.
func TestChineseJourneyStopsTwoServers(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "li", auth.RoleOperator)
	page := newPageWith(t, c, func(o *playwright.BrowserNewContextOptions) { o.Locale = playwright.String("zh-CN") })
	targets := c.pickServers(t, modelarts.StatusRunning, 2)

	gotoPath(t, page, "/")
	must(t, expect.Locator(page.Locator("html")).ToHaveAttribute("lang", "zh-Hans"), "the page says it is in Chinese")
	exact := playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}
	must(t, page.GetByLabel("用户名", exact).Fill("li"), "fill 用户名 (user name)")
	must(t, page.GetByLabel("密码", exact).Fill(userPassword), "fill 密码 (password)")
	must(t, button(page, "登录").Click(), "press 登录 (sign in)")

	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "服务器列表", Level: playwright.Int(1)})).ToBeVisible(), "the fleet's heading is in Chinese")
	table := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "服务器", Exact: playwright.Bool(true)})
	must(t, expect.Locator(table).ToBeVisible(), "the fleet table is shown")
	for _, s := range targets {
		box := page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "选择 " + s.Name, Exact: playwright.Bool(true)})
		must(t, box.Check(), "tick 选择 "+s.Name)
		// Statuses are shown in Chinese; the badge keeps the API's value.
		row := table.GetByRole("row").Filter(playwright.LocatorFilterOptions{Has: page.GetByRole("rowheader", playwright.PageGetByRoleOptions{Name: s.Name})})
		must(t, expect.Locator(row.Locator("[data-status=RUNNING]")).ToHaveText("运行中"), s.Name+" reads 运行中 (running)")
	}
	bar := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "选择与操作"})
	must(t, expect.Locator(bar.GetByText("已选择 2 台服务器", playwright.LocatorGetByTextOptions{Exact: playwright.Bool(true)})).ToBeVisible(), "the bar counts two servers")

	must(t, button(page, "停止").Click(), "press 停止 (stop)")
	preview := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "停止：预览", Exact: playwright.Bool(true)})
	must(t, expect.Locator(preview).ToBeVisible(), "the preview opens, in Chinese")
	must(t, expect.Locator(preview).ToContainText("已选择的 2 台服务器中，2 台将被发送"), "the preview says both will be sent")
	requireNothingSent(t, c, "after the preview")
	must(t, button(page, "对 2 台服务器执行停止").Click(), "press 对 2 台服务器执行停止 (run Stop on 2 servers)")

	waitForBatchPage(t, page)
	for _, s := range targets {
		expectBatchStatus(t, page, s.Name, modelarts.StatusStopped)
		must(t, expect.Locator(batchRow(page, s.Name).Locator("[data-status=STOPPED]").First()).ToHaveText("已停止"), s.Name+" reads 已停止 (stopped)")
	}
	sent := c.sentRequests()
	if len(sent) != 1 {
		t.Fatalf("the cloud received %d requests, want one STOP", len(sent))
	}
	if b := sentBatch(t, sent[0]); b.Type != modelarts.BatchStop || len(b.Servers) != 2 {
		t.Errorf("sent %s to %d servers, want STOP to 2", b.Type, len(b.Servers))
	}
}

// Keyboard-only journey: from the fleet page to the batch page with Tab,
// Space and Enter alone — no clicks, no focusing by script.
func TestKeyboardOnlyStop(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "kai", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "kai", userPassword)
	// The running servers (a link a person could follow), so the first
	// rows are the ones to stop.
	openFleet(t, page, "?status=RUNNING")
	names, err := page.Locator("table.servers tbody th[scope=row]").AllTextContents()
	must(t, err, "read the servers' names")
	if len(names) < 2 {
		t.Fatalf("the fleet shows %d running servers, the test needs 2", len(names))
	}
	targets := names[:2]

	for _, name := range targets {
		tabTo(t, page, "Tab", rowCheckbox(page, name))
		must(t, page.Keyboard().Press("Space"), "tick "+name+" with Space")
		must(t, expect.Locator(rowCheckbox(page, name)).ToBeChecked(), name+" is ticked")
	}
	must(t, expect.Locator(selectionCount(page, "2 servers selected")).ToBeVisible(), "two servers are selected")
	// The action bar is above the table: back with Shift+Tab.
	tabTo(t, page, "Shift+Tab", button(page, "Stop"))
	must(t, page.Keyboard().Press("Enter"), "press Stop with Enter")
	heading := page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Stop: preview"})
	must(t, expect.Locator(heading).ToBeFocused(), "focus moves to the preview's heading")
	tabTo(t, page, "Tab", button(page, "Run Stop on 2 servers"))
	must(t, page.Keyboard().Press("Enter"), "run Stop with Enter")

	waitForBatchPage(t, page)
	for _, name := range targets {
		expectBatchStatus(t, page, name, modelarts.StatusStopped)
	}
	if sent := c.sentRequests(); len(sent) != 1 || sentBatch(t, sent[0]).Type != modelarts.BatchStop {
		t.Fatalf("the cloud received %d requests, want one STOP", len(sent))
	}
}

// tabTo presses key (Tab or Shift+Tab) until target has the focus, and
// fails after a page's worth of presses.
func tabTo(t *testing.T, page playwright.Page, key string, target playwright.Locator) {
	t.Helper()
	for i := 0; i < 80; i++ {
		must(t, page.Keyboard().Press(key), "press "+key)
		focused, err := target.Evaluate("el => el === document.activeElement", nil)
		must(t, err, "ask whether the target has the focus")
		if focused == true {
			return
		}
	}
	name, _ := page.Evaluate(`() => { const a = document.activeElement; return a ? a.outerHTML.slice(0, 120) : "nothing"; }`)
	t.Fatalf("%s never reached the target; the focus is on %v", key, name)
}
