package e2e

import (
	"net/url"
	"testing"

	playwright "github.com/mxschmitt/playwright-go"
)

// Switching projects: the header names the current project and region,
// the switcher changes it, the choice is in the URL, and the page's links
// (the navigation) keep it.
func TestProjectSwitcherKeepsTheProject(t *testing.T) {
	c := startConsole(t)
	page := newPage(t, c)
	signIn(t, page, adminName, adminPassword)
	gotoPath(t, page, "/servers")

	current := page.GetByTestId("current-project")
	must(t, expect.Locator(current).ToContainText("sim-north"), "the header names the first project")
	must(t, expect.Locator(current).ToContainText("cn-north-9"), "and its region")

	_, err := page.GetByLabel("Switch project").SelectOption(playwright.SelectOptionValues{Values: &[]string{"sim-southwest"}})
	must(t, err, "choose sim-southwest")
	must(t, button(page, "Switch").Click(), "press Switch")
	must(t, expect.Locator(current).ToContainText("sim-southwest"), "the header names the chosen project")
	must(t, expect.Locator(current).ToContainText("cn-southwest-2"), "and its region")
	if u, _ := url.Parse(page.URL()); u.Query().Get("project") != "sim-southwest" {
		t.Errorf("the URL %s does not carry the chosen project", page.URL())
	}

	must(t, link(page, "Batches").Click(), "follow the navigation to Batches")
	must(t, expect.Page(page).ToHaveURL("/batches?project=sim-southwest", playwright.PageAssertionsToHaveURLOptions{}), "the link kept the project")
	must(t, expect.Locator(current).ToContainText("sim-southwest"), "the batches page is in the chosen project")
}
