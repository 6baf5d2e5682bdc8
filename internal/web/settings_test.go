package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

// A user's display settings are saved with the user and shape every page:
// theme (data-theme), language (lang and text) and time zone
// (data-time-zone).
func TestAccountSettingsApplyToEveryPage(t *testing.T) {
	env := apptest.New(t)
	pass := env.CreateUser(t, "mei", auth.RoleViewer)
	c := env.SignIn(t, "mei", pass)

	page := c.Get(t, "/account")
	doc := page.Doc(t)
	html := doc.Find("html")
	if lang, _ := html.Attr("lang"); lang != "en" {
		t.Errorf("lang = %q before any setting, want en", lang)
	}
	if _, ok := html.Attr("data-theme"); ok {
		t.Error("data-theme set although the theme follows the device")
	}
	for _, label := range []string{"Theme", "Language", "Time zone"} {
		l := doc.Find("label").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.TrimSpace(s.Text()) == label })
		id, _ := l.Attr("for")
		if l.Length() != 1 || id == "" || doc.Find("#"+id).Length() != 1 {
			t.Errorf("no control labelled %q", label)
		}
	}

	r := c.PostForm(t, "/account/settings", url.Values{"theme": {"dark"}, "language": {"zh-Hans"}, "time_zone": {"Asia/Shanghai"}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/account?saved=1") {
		t.Fatalf("save: %d %q", r.Status, r.Header.Get("Location"))
	}
	for _, path := range []string{"/account?saved=1", "/servers", "/batches"} {
		d := c.Get(t, path).Doc(t)
		h := d.Find("html")
		if v, _ := h.Attr("lang"); v != "zh-Hans" {
			t.Errorf("%s: lang = %q, want zh-Hans", path, v)
		}
		if v, _ := h.Attr("data-theme"); v != "dark" {
			t.Errorf("%s: data-theme = %q, want dark", path, v)
		}
		if v, _ := h.Attr("data-time-zone"); v != "Asia/Shanghai" {
			t.Errorf("%s: data-time-zone = %q", path, v)
		}
		if got := d.Find("form[action='/signout'] button").Text(); got != "退出登录" {
			t.Errorf("%s: sign-out button reads %q, want it in Chinese", path, got)
		}
	}
	if d := c.Get(t, "/account?saved=1").Doc(t); d.Find(`#settings-theme option[value="dark"][selected]`).Length() != 1 ||
		d.Find(`#settings-time-zone[value="Asia/Shanghai"]`).Length() != 1 {
		t.Error("the form does not show the saved settings")
	}

	// Back to English, light.
	c.Get(t, "/account")
	if r := c.PostForm(t, "/account/settings", url.Values{"theme": {"light"}, "language": {"en"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", r.Status)
	}
	if h := c.Get(t, "/servers").Doc(t).Find("html"); h.AttrOr("lang", "") != "en" || h.AttrOr("data-theme", "") != "light" || h.AttrOr("data-time-zone", "none") != "none" {
		t.Errorf("after switching back: lang %q, theme %q, tz %q", h.AttrOr("lang", ""), h.AttrOr("data-theme", ""), h.AttrOr("data-time-zone", "none"))
	}
}

func TestAccountSettingsRefuseBadValues(t *testing.T) {
	env := apptest.New(t)
	pass := env.CreateUser(t, "kai", auth.RoleOperator)
	c := env.SignIn(t, "kai", pass)
	c.Get(t, "/account")
	for _, tc := range []struct {
		form  url.Values
		field string
	}{
		{url.Values{"theme": {"neon"}}, "settings-theme"},
		{url.Values{"theme": {"dark"}, "language": {"fr"}}, "settings-language"},
		{url.Values{"theme": {"dark"}, "time_zone": {"Mars/Olympus"}}, "settings-time-zone"},
	} {
		r := c.PostForm(t, "/account/settings", tc.form)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%v: status %d, want 422", tc.form, r.Status)
			continue
		}
		d := r.Doc(t)
		if d.Find("#"+tc.field+`[aria-invalid="true"]`).Length() != 1 || strings.TrimSpace(d.Find("#"+tc.field+"-error").Text()) == "" {
			t.Errorf("%v: %s not marked invalid with a message", tc.form, tc.field)
		}
	}
	if d := c.Get(t, "/servers").Doc(t); d.Find("html").AttrOr("data-theme", "") != "" {
		t.Error("a refused save changed the theme")
	}
}

// Without a setting, the browser's Accept-Language picks the language,
// also on the sign-in page; English when it names none the console speaks.
func TestLanguageFollowsAcceptLanguage(t *testing.T) {
	env := apptest.New(t)
	anon := env.Anonymous(t)
	for _, tc := range []struct{ accept, lang, button string }{
		{"zh-CN,zh;q=0.9,en;q=0.5", "zh-Hans", "登录"},
		{"fr-FR", "en", "Sign in"},
		{"", "en", "Sign in"},
	} {
		r := anon.Do(t, http.MethodGet, "/signin", nil, http.Header{"Accept-Language": {tc.accept}})
		d := r.Doc(t)
		if got := d.Find("html").AttrOr("lang", ""); got != tc.lang {
			t.Errorf("Accept-Language %q: lang %q, want %q", tc.accept, got, tc.lang)
		}
		if got := strings.TrimSpace(d.Find("form[action='/signin'] button[type=submit]").Text()); got != tc.button {
			t.Errorf("Accept-Language %q: button %q, want %q", tc.accept, got, tc.button)
		}
	}
	// A failed sign-in answers in the browser's language too.
	anon.Get(t, "/signin")
	r := anon.Do(t, http.MethodPost, "/signin", strings.NewReader(url.Values{"_csrf": {anon.CSRF}, "username": {"nobody"}, "password": {"wrong-password-1"}}.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Accept-Language": {"zh-CN"}})
	if !strings.Contains(r.Body, "用户名或密码不正确。") {
		t.Errorf("the sign-in error is not in Chinese: %d", r.Status)
	}
}
