package e2e

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// When a preview opens, focus moves to its heading; in the typed
// confirmation, Enter does nothing until the word matches and then
// confirms, as the Confirm button would.
func TestKeyboardPreviewFocusAndEnterConfirms(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "kim", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "kim", userPassword)
	target := c.pickServers(t, modelarts.StatusStopped, 1)[0]

	openFleet(t, page, "")
	must(t, rowCheckbox(page, target.Name).Focus(), "focus the row checkbox")
	must(t, page.Keyboard().Press("Space"), "tick it with Space")
	must(t, expect.Locator(selectionCount(page, "1 server selected")).ToBeVisible(), "one server is selected")
	must(t, button(page, "Delete").Focus(), "focus Delete")
	must(t, page.Keyboard().Press("Enter"), "press Delete with Enter")
	heading := page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Delete: preview"})
	must(t, expect.Locator(heading).ToBeFocused(), "focus moves to the preview's heading")

	must(t, page.Keyboard().Press("Tab"), "Tab on from the heading")
	must(t, button(page, "Continue").Focus(), "focus Continue")
	must(t, page.Keyboard().Press("Enter"), "press Continue with Enter")
	d := confirmDialog(page)
	must(t, expect.Locator(d).ToBeVisible(), "the confirmation dialog opens")
	word := d.GetByRole("textbox")
	must(t, expect.Locator(word).ToBeFocused(), "focus is in the typed confirmation")
	must(t, page.Keyboard().Type("DELET"), "type part of the word")
	must(t, page.Keyboard().Press("Enter"), "press Enter with a partial word")
	must(t, expect.Locator(d).ToBeVisible(), "the dialog stays open")
	requireNothingSent(t, c, "after Enter on a partial word")
	must(t, page.Keyboard().Type("E"), "finish the word")
	must(t, page.Keyboard().Press("Enter"), "press Enter")
	waitForBatchPage(t, page)
	if sent := c.sentRequests(); len(sent) != 1 || sentBatch(t, sent[0]).Type != modelarts.BatchDelete {
		t.Fatalf("the cloud received %d requests, want one DELETE", len(sent))
	}
}

// focusRingJS focuses every visible control of the page in turn (after a
// Tab press, so the browser treats focus as keyboard focus and applies
// :focus-visible) and returns the controls whose focus ring is under 2 px
// wide or under 3:1 contrast with the background behind it, and how many
// controls it measured.
const focusRingJS = `() => {
	const rgba = s => { const n = (s.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number); return n.length < 4 ? n.concat([1]) : n; };
	const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
	// The background behind the ring: the ancestors' backgrounds composited
	// (translucent stripes over the page colour), from the innermost out.
	const background = el => {
		const layers = [];
		for (let p = el.parentElement; p; p = p.parentElement) {
			const c = rgba(getComputedStyle(p).backgroundColor);
			if (c[3] > 0) layers.push(c);
			if (c[3] >= 1) break;
		}
		let bg = [255, 255, 255];
		for (let i = layers.length - 1; i >= 0; i--) {
			const [r, g, b, al] = layers[i];
			bg = [r * al + bg[0] * (1 - al), g * al + bg[1] * (1 - al), b * al + bg[2] * (1 - al)];
		}
		return bg;
	};
	const sel = 'a[href], button:not([disabled]), input:not([type="hidden"]):not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
	const bad = [];
	let n = 0;
	for (const el of document.querySelectorAll(sel)) {
		if (!el.checkVisibility() || el.closest("dialog:not([open])")) continue;
		el.focus({ preventScroll: true });
		if (document.activeElement !== el) continue;
		n++;
		const cs = getComputedStyle(el);
		const a = lum(rgba(cs.outlineColor)), b = lum(background(el));
		const contrast = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		const width = cs.outlineStyle === "none" ? 0 : parseFloat(cs.outlineWidth) || 0;
		if (width < 2 || contrast < 3) {
			bad.push(el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + " «" + (el.getAttribute("aria-label") || el.textContent || "").trim().slice(0, 30) + "»: " + width + " px, " + contrast.toFixed(2) + ":1");
		}
	}
	return JSON.stringify({ n, bad });
}`

// requireFocusRings fails t when a control of the page shows no clear
// focus ring (at least 2 px, at least 3:1 against the page).
func requireFocusRings(t *testing.T, page playwright.Page) {
	t.Helper()
	must(t, page.Keyboard().Press("Tab"), "press Tab (keyboard focus)")
	raw, err := page.Evaluate(focusRingJS)
	must(t, err, "measure the focus rings")
	var r struct {
		N   int      `json:"n"`
		Bad []string `json:"bad"`
	}
	must(t, json.Unmarshal([]byte(raw.(string)), &r), "read the focus ring measurement")
	if r.N == 0 {
		t.Error("no focusable control was measured")
	}
	for _, b := range r.Bad {
		t.Errorf("focus ring too faint: %s (want ≥ 2 px and ≥ 3:1)", b)
	}
}

// Times show in the browser's time zone by default, in the user's setting
// when there is one, with the UTC time on hover.
func TestTimesInThePersonsZone(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "lin", auth.RoleViewer)
	page := newPageWith(t, c, func(o *playwright.BrowserNewContextOptions) {
		o.TimezoneId = playwright.String("Asia/Shanghai")
	})
	signIn(t, page, "lin", userPassword)
	gotoPath(t, page, "/account")
	example := page.Locator(".settings-now time")
	must(t, expect.Locator(example).ToHaveText(regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (GMT\+8|CST)$`)), "the browser's zone (Shanghai) by default")
	must(t, expect.Locator(example).ToHaveAttribute("title", regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`)), "UTC on hover")

	must(t, page.GetByLabel("Time zone", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("America/New_York"), "type a zone")
	must(t, button(page, "Save settings").Click(), "save")
	must(t, expect.Locator(page.Locator("html")).ToHaveAttribute("data-time-zone", "America/New_York"), "the setting is applied")
	must(t, expect.Locator(example).ToHaveText(regexp.MustCompile(` (EST|EDT|GMT-[45])$`)), "the setting's zone wins over the browser's")
	txt, err := example.TextContent()
	must(t, err, "read the time")
	if strings.Contains(txt, "GMT+8") {
		t.Errorf("time still in the browser's zone: %q", txt)
	}
}
