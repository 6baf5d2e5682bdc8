package e2e

import (
	"testing"

	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
)

// Journey 11: text from the cloud is data, never markup. A server name and
// an image name carrying HTML and script are shown literally, no element
// from them appears, and no script from them runs (newPage fails the test
// on any alert dialog or JavaScript error).
func TestHostileCloudText(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "hana", auth.RoleOperator)

	const (
		serverName = `<img src=x onerror="alert('server')"><b id="pwned-server">bold</b>`
		imageName  = `</option><script>alert('image')</script><i id="pwned-image">x</i>`
	)
	target := c.pickServers(t, modelarts.StatusStopped, 1)[0]
	if err := c.Sim.SetServerName(target.ID, serverName); err != nil {
		t.Fatal(err)
	}
	c.Sim.AddImage(modelarts.ServerImageResponse{
		Name: imageName, ServerType: target.Type(), Arch: target.Arch(), Status: modelarts.ImageActive,
	})

	// Planted before anyone signs in, so the console's fleet cache cannot
	// still hold the names from before.
	page := newPage(t, c)
	signIn(t, page, "hana", userPassword)

	noInjected := func(where string) {
		t.Helper()
		for _, sel := range []string{"#pwned-server", "#pwned-image", `img[src="x"]`} {
			must(t, expect.Locator(page.Locator(sel)).ToHaveCount(0), where+": no element "+sel+" was created from cloud text")
		}
	}

	openFleet(t, page, "")
	row := rowCheckbox(page, serverName)
	must(t, expect.Locator(row).ToBeVisible(), "the row checkbox is named with the literal server name")
	must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: serverName, Exact: playwright.Bool(true)})).ToBeVisible(), "the server name is shown as text")
	noInjected("fleet page")

	selectServers(t, page, []modelarts.ServerResponse{{ID: target.ID, Name: serverName}})
	preview := choose(t, page, "Change OS")
	must(t, expect.Locator(preview.GetByRole("rowheader", playwright.LocatorGetByRoleOptions{Name: serverName})).ToBeVisible(), "the preview shows the name as text")
	picker := page.GetByLabel("Image", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
	label := imageName + " (" + string(target.Type()) + ", " + string(target.Arch()) + ")"
	must(t, expect.Locator(picker.GetByRole("option", playwright.LocatorGetByRoleOptions{Name: label, Exact: playwright.Bool(true)})).ToHaveCount(1), "the image name is one literal option")
	noInjected("Change OS form")

	gotoPath(t, page, "/servers/"+target.ID)
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: serverName, Exact: playwright.Bool(true), Level: playwright.Int(1)})).ToBeVisible(), "the detail page's heading is the literal name")
	noInjected("server detail page")
}
