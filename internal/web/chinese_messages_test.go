package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
)

// setLanguage saves c's user's language setting.
func setLanguage(t *testing.T, c *apptest.Client, lang string) {
	t.Helper()
	r := c.PostForm(t, "/account/settings", url.Values{"theme": {"system"}, "language": {lang}, "time_zone": {""}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("save language %q: %d", lang, r.Status)
	}
}

// The Change OS form's field errors (modelarts' password rules among them)
// read in Chinese for a person who reads Chinese, and exactly as before in
// English.
func TestOSFieldErrorsInChinese(t *testing.T) {
	e := newActionEnv(t)
	check := func(field, value, want string) {
		t.Helper()
		login := "password"
		if field == "key_pair_name" {
			login = "key_pair"
		}
		r := e.op.HTMX(t, http.MethodPost, "/actions/validate", url.Values{
			"field": {field}, "action": {"CHANGEOS"}, "login": {login}, field: {value},
		})
		if r.Status != http.StatusOK {
			t.Fatalf("status %d\n%s", r.Status, r.Body)
		}
		if got := strings.TrimSpace(r.Doc(t).Find("[data-field-error]").Text()); got != want {
			t.Errorf("%s message\n got %q\nwant %q", field, got, want)
		}
	}
	setLanguage(t, e.op, "zh-Hans")
	check("admin_pass", "abc", "密码长度须为 8 到 26 个字符（当前为 3 个）；须至少包含以下四类中的三类：大写字母、小写字母、数字、特殊字符（!@%-_=+[{}]:,./?）。")
	check("key_pair_name", "no spaces", "密钥对名称须为 1 到 64 个字母、数字、“-”、“_”或“.”。")
	check("key_pair_name", "", "请输入项目中一个密钥对的名称。")
	check("image_id", "", "请选择要更换为的镜像。")

	setLanguage(t, e.op, "en")
	check("admin_pass", "abc", "Password must be 8 to 26 characters long (it is 3); must mix at least three of: upper-case letters, lower-case letters, digits, special characters (!@%-_=+[{}]:,./?).")
	check("key_pair_name", "no spaces", "Key pair name must be 1 to 64 letters, digits, '-', '_' or '.'.")
	check("image_id", "", "Choose the image to change to.")
}

// An approver who reads Chinese is told in Chinese what is wrong with the
// comment; the English page keeps its sentence.
func TestApprovalCommentErrorInChinese(t *testing.T) {
	env := apptest.New(t, apptest.WithApprovals)
	env.As(t, auth.RoleOperator) // the requester
	ap := env.As(t, auth.RoleApprover)
	path := "/approvals/" + askApproval(t, env).ID

	setLanguage(t, ap, "zh-Hans")
	res := ap.PostForm(t, path+"/deny", url.Values{"comment": {"  "}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "备注不能为空。") || strings.Contains(res.Body, "is required") {
		t.Errorf("deny without a comment in Chinese = %d, body lacks 备注不能为空", res.Status)
	}
	res = ap.PostForm(t, path+"/deny", url.Values{"comment": {strings.Repeat("x", 1001)}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "备注最多 1000 个字符（当前 1001 个）。") {
		t.Errorf("deny with a long comment in Chinese = %d", res.Status)
	}

	setLanguage(t, ap, "en")
	res = ap.PostForm(t, path+"/deny", url.Values{"comment": {"  "}})
	if res.Status != http.StatusUnprocessableEntity || !strings.Contains(res.Body, "Comment is required. Write why") {
		t.Errorf("deny without a comment in English = %d", res.Status)
	}
}
