package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	playwright "github.com/mxschmitt/playwright-go"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/testutil"
)

// confirmDialog is the modal confirmation of a destructive action.
func confirmDialog(page playwright.Page) playwright.Locator {
	return page.GetByRole("dialog")
}

// openConfirm presses Continue under a destructive action's preview and
// waits for the confirmation dialog.
func openConfirm(t *testing.T, page playwright.Page) playwright.Locator {
	t.Helper()
	must(t, button(page, "Continue").Click(), "press Continue")
	d := confirmDialog(page)
	must(t, expect.Locator(d).ToBeVisible(), "the confirmation dialog opens")
	return d
}

// confirmWith types word into the dialog's field, checks Confirm becomes
// enabled only then, and confirms.
func confirmWith(t *testing.T, page playwright.Page, d playwright.Locator, word string) {
	t.Helper()
	field := d.GetByLabel(word)
	confirm := d.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Confirm", Exact: playwright.Bool(true)})
	must(t, expect.Locator(confirm).ToBeDisabled(), "Confirm is disabled before the word is typed")
	must(t, field.Fill(word[:len(word)-1]), "type part of the word")
	must(t, expect.Locator(confirm).ToBeDisabled(), "Confirm stays disabled for a partial word")
	must(t, field.Fill(word), "type "+word)
	must(t, expect.Locator(confirm).ToBeEnabled(), "Confirm is enabled once "+word+" is typed")
	must(t, confirm.Click(), "press Confirm")
}

// Journey 5: Delete. Cancel and Escape send nothing; Confirm stays disabled
// until DELETE is typed; confirming deletes, and the servers leave the list.
func TestDeleteConfirmation(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "dora", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "dora", userPassword)
	targets := c.pickServers(t, modelarts.StatusStopped, 2)

	openFleet(t, page, "")
	selectServers(t, page, targets)
	preview := choose(t, page, "Delete")
	for _, s := range targets {
		must(t, expect.Locator(previewRow(page, preview, s.Name)).ToContainText("Will be sent"), s.Name+" will be deleted")
	}

	t.Run("Cancel sends nothing", func(t *testing.T) {
		d := openConfirm(t, page)
		must(t, expect.Locator(d).ToContainText("cannot be undone"), "the dialog states the consequence")
		for _, s := range targets {
			must(t, expect.Locator(d).ToContainText(s.Name), "the dialog names "+s.Name)
		}
		must(t, d.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Cancel", Exact: playwright.Bool(true)}).Click(), "press Cancel")
		must(t, expect.Locator(d).ToBeHidden(), "Cancel closes the dialog")
		requireNothingSent(t, c, "after Cancel")
	})
	t.Run("Escape sends nothing", func(t *testing.T) {
		d := openConfirm(t, page)
		must(t, d.GetByLabel("DELETE").Fill("DELETE"), "type the word")
		must(t, page.Keyboard().Press("Escape"), "press Escape")
		must(t, expect.Locator(d).ToBeHidden(), "Escape closes the dialog")
		requireNothingSent(t, c, "after Escape")
	})
	t.Run("Confirm deletes", func(t *testing.T) {
		d := openConfirm(t, page)
		confirmWith(t, page, d, "DELETE")
		waitForBatchPage(t, page)
		waitBatchFinished(t, page)
		c.waitStatus(t, targets, "") // gone from the cloud

		sent := c.sentRequests()
		if len(sent) != 1 {
			t.Fatalf("the cloud received %d state-changing requests, want 1", len(sent))
		}
		b := sentBatch(t, sent[0])
		if b.Type != modelarts.BatchDelete {
			t.Errorf("sent %s, want DELETE", b.Type)
		}
		if diff := cmp.Diff(ids(targets), batchIDs(b)); diff != "" {
			t.Errorf("servers sent (-want +got):\n%s", diff)
		}

		// The fleet list no longer shows them (its cache lives 200 ms here).
		testutil.Eventually(t, 5*time.Second, "deleted servers leave the fleet list", func() error {
			openFleet(t, page, "")
			for _, s := range targets {
				if n, err := rowCheckbox(page, s.Name).Count(); err != nil || n != 0 {
					return fmt.Errorf("%s still listed (%d, %v)", s.Name, n, err)
				}
			}
			return nil
		})
	})
}

// Journey 6: Reinstall OS. An admin password that breaks a rule is reported
// at the field, as the user types and again on submit, and nothing is sent;
// with a key pair it goes through the typed confirmation and completes.
func TestReinstallOS(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "rita", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "rita", userPassword)
	target := c.pickServers(t, modelarts.StatusStopped, 1)

	openFleet(t, page, "")
	selectServers(t, page, target)
	choose(t, page, "Reinstall OS")

	const weak = "password" // lower-case letters only: breaks the "three kinds" rule
	rule := regexp.MustCompile(`at least three`)
	if err := modelarts.ValidatePassword(weak, "root"); err == nil || !rule.MatchString(err.Error()) {
		t.Fatalf("test premise: ValidatePassword(%q) = %v, want the three-kinds rule", weak, err)
	}
	must(t, page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "Password", Exact: playwright.Bool(true)}).Check(), "log in with a password")
	pass := page.GetByLabel("Admin password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
	must(t, pass.Fill(weak), "type a weak admin password")
	must(t, expect.Locator(pass).ToHaveAccessibleDescription(rule), "the rule is shown at the field as the user types")

	must(t, button(page, "Continue").Click(), "press Continue with the weak password")
	pass = page.GetByLabel("Admin password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
	must(t, expect.Locator(pass).ToHaveAttribute("aria-invalid", "true"), "the server marks the field invalid")
	must(t, expect.Locator(pass).ToHaveAccessibleDescription(rule), "the server's message is at the field")
	must(t, expect.Locator(confirmDialog(page)).ToHaveCount(0), "no confirmation is offered for an invalid form")
	if v, _ := pass.InputValue(); v != "" {
		t.Errorf("the re-rendered form echoes the password back (%q)", v)
	}
	requireNothingSent(t, c, "after the invalid password")

	must(t, page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "Key pair", Exact: playwright.Bool(true)}).Check(), "log in with a key pair")
	must(t, page.GetByLabel("Key pair name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("KeyPair-e2e"), "name the key pair")
	d := openConfirm(t, page)
	must(t, expect.Locator(d).ToContainText("system disk"), "the dialog says the system disk is wiped")
	must(t, expect.Locator(d).ToContainText("KeyPair-e2e"), "the dialog shows the key pair that will be used")
	confirmWith(t, page, d, "REINSTALLOS")

	waitForBatchPage(t, page)
	waitBatchFinished(t, page)
	expectBatchStatus(t, page, target[0].Name, modelarts.StatusRunning)
	sent := c.sentRequests()
	if len(sent) != 1 {
		t.Fatalf("the cloud received %d state-changing requests, want 1", len(sent))
	}
	b := sentBatch(t, sent[0])
	want := modelarts.BatchRequest{
		Type:        modelarts.BatchReinstallOS,
		Servers:     []modelarts.BatchServerID{{ID: target[0].ID}},
		ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "KeyPair-e2e"},
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("request sent (-want +got):\n%s", diff)
	}
	if srv, _ := c.Sim.Server(target[0].ID); srv.KeyPairName != "KeyPair-e2e" || srv.Status != modelarts.StatusRunning {
		t.Errorf("after the reinstall the server has key pair %q and status %s, want KeyPair-e2e and RUNNING", srv.KeyPairName, srv.Status)
	}
}

// Journey 7: Change OS picks an image from the list and completes.
func TestChangeOS(t *testing.T) {
	c := startConsole(t)
	createUser(t, c.App, "chris", auth.RoleOperator)
	page := newPage(t, c)
	signIn(t, page, "chris", userPassword)
	target := c.pickServers(t, modelarts.StatusStopped, 1)[0]
	img := otherImage(t, c, target)

	openFleet(t, page, "")
	selectServers(t, page, []modelarts.ServerResponse{target})
	choose(t, page, "Change OS")
	picker := page.GetByLabel("Image", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})
	_, err := picker.SelectOption(playwright.SelectOptionValues{Labels: &[]string{img.Name + " (" + string(img.ServerType) + ", " + string(img.Arch) + ")"}})
	must(t, err, "pick image "+img.Name)
	must(t, page.GetByLabel("Key pair name", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("KeyPair-dev"), "name the key pair")
	d := openConfirm(t, page)
	must(t, expect.Locator(d).ToContainText(img.Name), "the dialog names the new image")
	confirmWith(t, page, d, "CHANGEOS")

	waitForBatchPage(t, page)
	waitBatchFinished(t, page)
	sent := c.sentRequests()
	if len(sent) != 1 {
		t.Fatalf("the cloud received %d state-changing requests, want 1", len(sent))
	}
	want := modelarts.BatchRequest{
		Type:        modelarts.BatchChangeOS,
		Servers:     []modelarts.BatchServerID{{ID: target.ID}},
		ExtendParam: &modelarts.ServerOSRequest{ImageID: img.ImageID, KeyPairName: "KeyPair-dev"},
	}
	if diff := cmp.Diff(want, sentBatch(t, sent[0])); diff != "" {
		t.Errorf("request sent (-want +got):\n%s", diff)
	}
	srv, _ := c.Sim.Server(target.ID)
	if srv.Image == nil || srv.Image.ImageID != img.ImageID || srv.Status != modelarts.StatusRunning {
		got, _ := json.Marshal(srv.Image)
		t.Errorf("after the change the server is %s with image %s, want RUNNING with %s", srv.Status, got, img.ImageID)
	}
}

// otherImage returns an ACTIVE image for the server's type and architecture
// other than the one it runs.
func otherImage(t *testing.T, c *console, s modelarts.ServerResponse) modelarts.ServerImageResponse {
	t.Helper()
	for _, img := range c.Sim.Images() {
		if img.Status == modelarts.ImageActive && img.ServerType == s.Type() && img.Arch == s.Arch() &&
			(s.Image == nil || img.ImageID != s.Image.ImageID) {
			return img
		}
	}
	t.Fatalf("the simulator offers no other image for %s (%s, %s)", s.Name, s.Type(), s.Arch())
	return modelarts.ServerImageResponse{}
}
