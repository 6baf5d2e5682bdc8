package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

// userRows returns the users table as {name, role, status} rows.
func userRows(doc *goquery.Document) [][3]string {
	var rows [][3]string
	doc.Find(`table[aria-label="Users"] tbody tr`).Each(func(_ int, tr *goquery.Selection) {
		name := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(tr.Find("th").Text()), "(you)"))
		tds := tr.Find("td")
		rows = append(rows, [3]string{name, strings.TrimSpace(tds.Eq(0).Text()), strings.TrimSpace(tds.Eq(1).Text())})
	})
	return rows
}

func TestUsersPage(t *testing.T) {
	env := apptest.New(t)
	env.CreateUser(t, "vic", auth.RoleViewer)
	vic, _ := env.App.Users().GetByName(context.Background(), "vic")
	if err := env.App.Users().Disable(context.Background(), vic.ID); err != nil {
		t.Fatal(err)
	}
	admin := env.As(t, auth.RoleAdmin)
	doc := admin.Get(t, "/users").Doc(t)

	want := [][3]string{{"admin", "admin", "Active"}, {"vic", "viewer", "Disabled"}}
	if diff := cmp.Diff(want, userRows(doc)); diff != "" {
		t.Fatalf("users table mismatch (-want +got):\n%s", diff)
	}
	// Every control is labelled, per user.
	if v, _ := control(t, doc, "Role for vic").Find("option[selected]").Attr("value"); v != "viewer" {
		t.Errorf("vic's role select shows %q", v)
	}
	control(t, doc, "New password for vic")
	for _, name := range []string{"Change role of vic", "Set password of vic", "Enable vic", "Change role of admin", "Add user"} {
		if button(doc, name).Length() != 1 {
			t.Errorf("no button named %q", name)
		}
	}
	// Admins cannot disable themselves, so there is no button for it.
	if button(doc, "Disable admin").Length() != 0 {
		t.Error("the page offers to disable the signed-in admin")
	}
	control(t, doc, "Name")
	control(t, doc, "Role")
	control(t, doc, "Initial password")
	doc.Find("form[method=post]").Each(func(_ int, f *goquery.Selection) {
		if tok, _ := f.Find(`input[name="_csrf"]`).Attr("value"); tok == "" {
			action, _ := f.Attr("action")
			t.Errorf("form %s has no CSRF token", action)
		}
	})
}

func TestUserCreate(t *testing.T) {
	env := apptest.New(t)
	env.CreateUser(t, "taken", auth.RoleViewer)
	admin := env.As(t, auth.RoleAdmin)
	admin.Get(t, "/users")
	const pw = "new-user-password-1"
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
		wantErrors map[string]string // field label → message
	}{
		{"valid", url.Values{"name": {"newbie"}, "role": {"approver"}, "password": {pw}}, 303, nil},
		{"name taken, other case", url.Values{"name": {"TAKEN"}, "role": {"viewer"}, "password": {pw}}, 422,
			map[string]string{"Name": "A user with this name already exists (names ignore case)."}},
		{"everything wrong", url.Values{"name": {"<script>alert(1)</script>"}, "role": {"root"}, "password": {"short"}}, 422,
			map[string]string{
				"Name":             "Use 1 to 64 letters, digits, dots, hyphens or underscores, starting with a letter or digit.",
				"Role":             "Choose viewer, operator, approver or admin.",
				"Initial password": "Use 12 to 256 characters.",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := admin.PostForm(t, "/users", tt.form)
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", r.Status, tt.wantStatus, r.Body)
			}
			name := tt.form.Get("name")
			if tt.wantErrors == nil {
				u, err := env.App.Users().GetByName(context.Background(), name)
				if err != nil || u.Role != auth.Role(tt.form.Get("role")) {
					t.Fatalf("user not created as asked: %+v, %v", u, err)
				}
				page := admin.Get(t, r.Header.Get("Location")).Doc(t)
				if got := strings.TrimSpace(page.Find(`[role="status"]`).Text()); got != "Created user newbie." {
					t.Errorf("notice %q", got)
				}
				ev := auditEvents(t, env, auth.EventUserCreated)
				last := ev[len(ev)-1]
				if last.Actor != "admin" || last.Detail["user"] != "newbie" || last.Detail["role"] != "approver" {
					t.Errorf("user.created event %+v", last)
				}
				return
			}
			doc := r.Doc(t)
			got := map[string]string{}
			for label := range tt.wantErrors {
				c := control(t, doc, label)
				if inv, _ := c.Attr("aria-invalid"); inv != "true" {
					t.Errorf("%s is not marked invalid", label)
				}
				id, _ := c.Attr("aria-describedby")
				got[label] = strings.TrimSpace(doc.Find("#" + id).Text())
			}
			if diff := cmp.Diff(tt.wantErrors, got); diff != "" {
				t.Errorf("field errors mismatch (-want +got):\n%s", diff)
			}
			if v, _ := control(t, doc, "Name").Attr("value"); v != name {
				t.Errorf("the name was not kept: %q", v)
			}
			if strings.Contains(r.Body, tt.form.Get("password")) {
				t.Error("the password was sent back")
			}
			if strings.Contains(r.Body, "<script>alert") {
				t.Error("user input was not escaped")
			}
		})
	}
}

func TestUserRoleChange(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "otto", auth.RoleViewer)
	otto, _ := env.App.Users().GetByName(context.Background(), "otto")
	ottoC := env.SignIn(t, "otto", pw)
	admin := env.As(t, auth.RoleAdmin)
	admin.Get(t, "/users")
	me, _ := env.App.Users().GetByName(context.Background(), "admin")

	tests := []struct {
		name       string
		id         int64
		role       string
		wantStatus int
		wantError  string
		wantRole   auth.Role
	}{
		{"promote to admin", otto.ID, "admin", 303, "", auth.RoleAdmin},
		{"unknown role", otto.ID, "root", 422, "Choose viewer, operator, approver or admin.", auth.RoleAdmin},
		{"demote yourself", me.ID, "viewer", 422, "You cannot remove your own admin role. Ask another admin.", auth.RoleAdmin},
		{"back to operator", otto.ID, "operator", 303, "", auth.RoleOperator},
		{"no such user", 9999, "viewer", 404, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := admin.PostForm(t, "/users/"+itoa(tt.id)+"/role", url.Values{"role": {tt.role}})
			if r.Status != tt.wantStatus {
				t.Fatalf("status %d, want %d", r.Status, tt.wantStatus)
			}
			if tt.wantError != "" {
				row := r.Doc(t).Find("#user-" + itoa(tt.id))
				if got := strings.TrimSpace(row.Find(`[role="alert"]`).Text()); got != tt.wantError {
					t.Errorf("row error %q, want %q", got, tt.wantError)
				}
			}
			if tt.wantRole == "" {
				return
			}
			u, _ := env.App.Users().Get(context.Background(), tt.id)
			if tt.id == otto.ID && u.Role != tt.wantRole {
				t.Errorf("otto is %s, want %s", u.Role, tt.wantRole)
			}
		})
	}
	// The change applies to otto's live session at once.
	if r := ottoC.Get(t, "/users"); r.Status != http.StatusForbidden {
		t.Fatalf("otto (now operator) on /users: %d, want 403", r.Status)
	}
	ev := auditEvents(t, env, auth.EventUserRoleChanged)
	want := []map[string]string{
		{"user": "otto", "user_id": itoa(otto.ID), "from": "viewer", "to": "admin"},
		{"user": "otto", "user_id": itoa(otto.ID), "from": "admin", "to": "operator"},
	}
	var got []map[string]string
	for _, e := range ev {
		got = append(got, e.Detail)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("user.role_changed details mismatch (-want +got):\n%s", diff)
	}
}

func TestUserPasswordReset(t *testing.T) {
	env := apptest.New(t)
	oldPW := env.CreateUser(t, "paul", auth.RoleOperator)
	paul, _ := env.App.Users().GetByName(context.Background(), "paul")
	paulC := env.SignIn(t, "paul", oldPW)
	admin := env.As(t, auth.RoleAdmin)
	admin.Get(t, "/users")

	if r := admin.PostForm(t, "/users/"+itoa(paul.ID)+"/password", url.Values{"password": {"too short"}}); r.Status != 422 {
		t.Fatalf("short password: %d, want 422", r.Status)
	}
	const newPW = "pauls-brand-new-password"
	r := admin.PostForm(t, "/users/"+itoa(paul.ID)+"/password", url.Values{"password": {newPW}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("set password: %d", r.Status)
	}
	// Paul's session has ended; the new password works, the old does not.
	c := env.Anonymous(t)
	c.Get(t, "/signin")
	if r := c.PostForm(t, "/signin", url.Values{"username": {"paul"}, "password": {oldPW}}); r.Status != 401 {
		t.Fatalf("old password: %d, want 401", r.Status)
	}
	if paulC.Get(t, "/signin").Status != http.StatusOK {
		t.Fatal("paul's session survived the password change")
	}
	env.SignIn(t, "paul", newPW)

	// An admin who changes their own password stays signed in, on a new session.
	me, _ := env.App.Users().GetByName(context.Background(), "admin")
	before := sessionCookie(t, env, admin)
	r = admin.PostForm(t, "/users/"+itoa(me.ID)+"/password", url.Values{"password": {"admins-new-password-1"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("own password: %d", r.Status)
	}
	after := sessionCookie(t, env, admin)
	if after == nil || after.Value == before.Value {
		t.Fatal("no new session after changing one's own password")
	}
	if admin.Get(t, "/users").Status != 200 {
		t.Fatal("the admin was signed out by changing their own password")
	}
	if withCookie(t, env, before).Get(t, "/users").Status != http.StatusSeeOther {
		t.Fatal("the admin's old session survived the password change")
	}
	ev := auditEvents(t, env, auth.EventUserPassword)
	if len(ev) != 2 || ev[0].Detail["user"] != "paul" || ev[0].Detail["ended_logins"] != "1" || ev[0].Actor != "admin" {
		t.Fatalf("user.password_changed events %+v", ev)
	}
}

func TestUserDisableEnable(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "dan", auth.RoleViewer)
	dan, _ := env.App.Users().GetByName(context.Background(), "dan")
	admin := env.As(t, auth.RoleAdmin)
	admin.Get(t, "/users")
	me, _ := env.App.Users().GetByName(context.Background(), "admin")

	signIn := func() int {
		c := env.Anonymous(t)
		c.Get(t, "/signin")
		return c.PostForm(t, "/signin", url.Values{"username": {"dan"}, "password": {pw}}).Status
	}
	steps := []struct {
		name       string
		path       string
		wantStatus int
		wantSignIn int
	}{
		{"disable", "/users/" + itoa(dan.ID) + "/disable", 303, 401},
		{"disable again", "/users/" + itoa(dan.ID) + "/disable", 303, 401},
		{"enable", "/users/" + itoa(dan.ID) + "/enable", 303, 303},
		{"disable yourself", "/users/" + itoa(me.ID) + "/disable", 422, 303},
		{"no such user", "/users/9999/enable", 404, 303},
		{"not a number", "/users/abc/enable", 404, 303},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if r := admin.PostForm(t, st.path, url.Values{"confirm": {"yes"}}); r.Status != st.wantStatus {
				t.Fatalf("status %d, want %d", r.Status, st.wantStatus)
			}
			if got := signIn(); got != st.wantSignIn {
				t.Fatalf("dan signing in: %d, want %d", got, st.wantSignIn)
			}
		})
	}
	var kinds []string
	for _, e := range auditEvents(t, env, auth.EventUserDisabled, auth.EventUserEnabled) {
		kinds = append(kinds, e.Kind)
	}
	if diff := cmp.Diff([]string{auth.EventUserDisabled, auth.EventUserEnabled}, kinds); diff != "" {
		t.Fatalf("events mismatch (-want +got):\n%s", diff)
	}
}

// Disabling a user is confirmed first: the plain Disable post changes
// nothing and opens a dialog that says what happens, with Confirm (which
// posts again with confirm=yes) and Cancel.
func TestUserDisableAsksForConfirmation(t *testing.T) {
	env := apptest.New(t)
	pw := env.CreateUser(t, "dan", auth.RoleViewer)
	dan, _ := env.App.Users().GetByName(context.Background(), "dan")
	admin := env.As(t, auth.RoleAdmin)
	admin.Get(t, "/users")
	r := admin.PostForm(t, "/users/"+itoa(dan.ID)+"/disable", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("first Disable: status %d, want 200 with a confirmation", r.Status)
	}
	dlg := r.Doc(t).Find("#user-" + itoa(dan.ID) + " dialog[data-confirm-dialog][data-autoopen]")
	if dlg.Length() != 1 {
		t.Fatalf("no confirmation dialog in dan's row")
	}
	if got := dlg.Find("h2").Text(); got != "Disable dan?" {
		t.Errorf("dialog title %q", got)
	}
	if !strings.Contains(dlg.Text(), "cannot sign in") {
		t.Errorf("the dialog does not say what disabling does: %q", dlg.Text())
	}
	if v, _ := dlg.Find(`form input[name="confirm"]`).Attr("value"); v != "yes" {
		t.Errorf("the dialog's form does not confirm (confirm=%q)", v)
	}
	if dlg.Find(`button[type="submit"]:contains("Confirm")`).Length() != 1 || dlg.Find(`button[data-dialog-cancel]:contains("Cancel")`).Length() != 1 {
		t.Errorf("the dialog lacks Confirm or Cancel")
	}
	if u, _ := env.App.Users().GetByName(context.Background(), "dan"); u.Disabled {
		t.Fatal("dan was disabled without confirmation")
	}
	c := env.Anonymous(t)
	c.Get(t, "/signin")
	if got := c.PostForm(t, "/signin", url.Values{"username": {"dan"}, "password": {pw}}).Status; got != http.StatusSeeOther {
		t.Fatalf("dan signing in after the unconfirmed Disable: %d", got)
	}
	if r := admin.PostForm(t, "/users/"+itoa(dan.ID)+"/disable", url.Values{"confirm": {"yes"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("confirmed Disable: %d", r.Status)
	}
	if u, _ := env.App.Users().GetByName(context.Background(), "dan"); !u.Disabled {
		t.Fatal("the confirmed Disable did not disable dan")
	}
}
