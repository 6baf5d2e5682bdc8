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

// Every control reached with Tab shows a focus ring at least 2 px wide
// whose colour has at least 3:1 contrast with the page, in both themes.
func TestFocusRingIsVisible(t *testing.T) {
	c := startConsole(t)
	for _, scheme := range []*playwright.ColorScheme{playwright.ColorSchemeLight, playwright.ColorSchemeDark} {
		t.Run(string(*scheme), func(t *testing.T) {
			page := newPageWith(t, c, func(o *playwright.BrowserNewContextOptions) { o.ColorScheme = scheme })
			signIn(t, page, adminName, adminPassword)
			for _, path := range []string{"/servers", "/account"} {
				gotoPath(t, page, path)
				must(t, expect.Locator(page.Locator("h1").First()).ToBeVisible(), path+" is shown")
				seen := map[string]bool{}
				for i := 0; i < 35; i++ {
					must(t, page.Keyboard().Press("Tab"), "press Tab")
					raw, err := page.Evaluate(focusRingJS)
					must(t, err, "measure the focus ring")
					var r struct {
						Desc     string  `json:"desc"`
						Width    float64 `json:"width"`
						Style    string  `json:"style"`
						Contrast float64 `json:"contrast"`
					}
					must(t, json.Unmarshal([]byte(raw.(string)), &r), "read the measurement")
					if r.Desc == "" || seen[r.Desc] {
						continue
					}
					seen[r.Desc] = true
					if r.Width < 2 || r.Style == "none" || r.Contrast < 3 {
						t.Errorf("%s: %s has a focus ring of %.1f px %s with contrast %.2f:1, want ≥ 2 px and ≥ 3:1", path, r.Desc, r.Width, r.Style, r.Contrast)
					}
				}
				if len(seen) < 5 {
					t.Errorf("%s: Tab reached only %d controls", path, len(seen))
				}
			}
		})
	}
}

// focusRingJS describes the focused element's outline and its contrast
// with the page background.
const focusRingJS = `() => {
	const el = document.activeElement;
	if (!el || el === document.body) return JSON.stringify({desc: ""});
	const cs = getComputedStyle(el);
	const rgba = s => { const n = (s.match(/[\d.]+/g) || [0, 0, 0, 0]).map(Number); return n.length < 4 ? n.concat([1]) : n; };
	const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
	// The background behind the ring: the ancestors' backgrounds composited
	// (translucent stripes over the page colour), from the innermost out.
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
	const a = lum(rgba(cs.outlineColor)), b = lum(bg);
	const contrast = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
	const desc = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") + (el.getAttribute("aria-label") ? "[" + el.getAttribute("aria-label") + "]" : "") + " " + (el.textContent || "").trim().slice(0, 30);
	return JSON.stringify({desc, width: parseFloat(cs.outlineWidth) || 0, style: cs.outlineStyle, contrast});
}`

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
