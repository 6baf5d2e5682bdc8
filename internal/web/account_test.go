package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

func TestAccountPasswordChange(t *testing.T) {
	env := apptest.New(t)
	pass := env.CreateUser(t, "olga", auth.RoleOperator)
	c := env.SignIn(t, "olga", pass)
	other := env.SignIn(t, "olga", pass) // a second session, e.g. another browser

	page := c.Get(t, "/account")
	if page.Status != http.StatusOK {
		t.Fatalf("GET /account = %d", page.Status)
	}
	doc := page.Doc(t)
	labels := map[string]string{}
	doc.Find("label").Each(func(_ int, l *goquery.Selection) { labels[strings.TrimSpace(l.Text())] = l.AttrOr("for", "") })
	for _, label := range []string{"Current password", "New password", "Repeat the new password"} {
		id, ok := labels[label]
		if !ok || doc.Find(`input[type="password"]#`+id).Length() != 1 {
			t.Errorf("no password field labelled %q (labels: %v)", label, labels)
		}
	}

	const newPass = "olga-new-password-42"
	tests := []struct {
		name      string
		form      url.Values
		wantField string // the field whose message must show
	}{
		{name: "wrong current password", form: url.Values{"current_password": {"not-my-password-1"}, "new_password": {newPass}, "repeat_password": {newPass}}, wantField: "current_password"},
		{name: "too short", form: url.Values{"current_password": {pass}, "new_password": {"short"}, "repeat_password": {"short"}}, wantField: "new_password"},
		{name: "repeat differs", form: url.Values{"current_password": {pass}, "new_password": {newPass}, "repeat_password": {newPass + "x"}}, wantField: "repeat_password"},
		{name: "same as before", form: url.Values{"current_password": {pass}, "new_password": {pass}, "repeat_password": {pass}}, wantField: "new_password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.PostForm(t, "/account/password", tt.form)
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", r.Status)
			}
			d := r.Doc(t)
			if d.Find(`input[name="`+tt.wantField+`"][aria-invalid="true"]`).Length() != 1 {
				t.Errorf("field %s is not marked invalid", tt.wantField)
			}
			if strings.Contains(r.Body, pass) || strings.Contains(r.Body, newPass) {
				t.Error("a password was rendered back into the page")
			}
			// The length rule is said once: by the error when the new
			// password breaks it, else by the hint.
			hint := d.Find("#account-new-hint").Length()
			if tt.wantField == "new_password" && hint != 0 {
				t.Error("the password hint shows next to the new password's error, saying the rule twice")
			}
			if tt.wantField != "new_password" && hint != 1 {
				t.Error("the password hint is missing while the new password has no error")
			}
		})
	}
	// Still the old password.
	env.SignIn(t, "olga", pass)

	before := len(auditEvents(t, env, auth.EventUserPassword))
	r := c.PostForm(t, "/account/password", url.Values{"current_password": {pass}, "new_password": {newPass}, "repeat_password": {newPass}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account?done=1" {
		t.Fatalf("change: status %d, Location %q", r.Status, r.Header.Get("Location"))
	}
	if got := c.Get(t, "/account?done=1"); got.Status != http.StatusOK || !strings.Contains(got.Body, "Your password has been changed") {
		t.Fatalf("this session ended or no confirmation: %d", got.Status)
	}
	if got := other.Get(t, "/servers"); got.Status != http.StatusSeeOther {
		t.Errorf("the other session still works after the change: %d", got.Status)
	}
	if n := len(auditEvents(t, env, auth.EventUserPassword)); n != before+1 {
		t.Errorf("%d user.password_changed events, want %d", n, before+1)
	}
	if _, err := env.App.Users().Authenticate(context.Background(), "olga", pass, "127.0.0.1"); err == nil {
		t.Error("the old password still signs in")
	}
	env.SignIn(t, "olga", newPass)
}
