package web

import (
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/i18n"
	"github.com/devserver-console/console/internal/modelarts"
)

// osCases break every rule of the OS settings between them (every
// modelarts and batch code): English pages must read exactly the
// domain's sentences, Chinese pages the catalog's Chinese.
var osCases = []struct {
	name   string
	action modelarts.BatchType
	in     batch.OSInput
}{
	{"no image, nothing", modelarts.BatchChangeOS, batch.OSInput{}},
	{"bad image, both logins", modelarts.BatchChangeOS, batch.OSInput{Params: modelarts.ServerOSRequest{ImageID: "IMG-1", AdminPass: "x", KeyPairName: "k"}}},
	{"bad key pair", modelarts.BatchReinstallOS, batch.OSInput{Login: batch.LoginKeyPair, Params: modelarts.ServerOSRequest{KeyPairName: "no spaces"}}},
	{"key pair missing", modelarts.BatchReinstallOS, batch.OSInput{Login: batch.LoginKeyPair, Params: modelarts.ServerOSRequest{UserData: "aGk="}}},
	{"password missing", modelarts.BatchReinstallOS, batch.OSInput{Login: batch.LoginPassword, Params: modelarts.ServerOSRequest{UserData: "aGk="}}},
	{"weak password", modelarts.BatchReinstallOS, batch.OSInput{Login: batch.LoginPassword, Params: modelarts.ServerOSRequest{AdminPass: "root"}}},
	{"odd characters", modelarts.BatchReinstallOS, batch.OSInput{Login: batch.LoginPassword, Params: modelarts.ServerOSRequest{AdminPass: "toor pässwörd"}}},
	{"user data spaces", modelarts.BatchReinstallOS, batch.OSInput{Params: modelarts.ServerOSRequest{KeyPairName: "k", UserData: "aGk= aGk="}}},
	{"user data not base64", modelarts.BatchReinstallOS, batch.OSInput{Params: modelarts.ServerOSRequest{KeyPairName: "k", UserData: "***"}}},
	{"user data huge encoded", modelarts.BatchReinstallOS, batch.OSInput{Params: modelarts.ServerOSRequest{KeyPairName: "k", UserData: strings.Repeat("A", 50000)}}},
	{"user data huge", modelarts.BatchReinstallOS, batch.OSInput{Params: modelarts.ServerOSRequest{KeyPairName: "k", UserData: strings.Repeat("A", 43692)}}},
	{"no login given", modelarts.BatchReinstallOS, batch.OSInput{Params: modelarts.ServerOSRequest{UserData: "aGk="}}},
	{"not an OS action", modelarts.BatchStop, batch.OSInput{Params: modelarts.ServerOSRequest{KeyPairName: "k"}}},
}

func TestOSFieldMessagesInBothLanguages(t *testing.T) {
	cat := i18n.MustLoad()
	en, zh := cat.Localizer(i18n.English), cat.Localizer(i18n.Chinese)
	seen := map[string]bool{}
	for _, tc := range osCases {
		fe := batch.CheckOS(tc.action, tc.in)
		if len(fe) == 0 {
			t.Fatalf("%s: no problem found", tc.name)
		}
		for _, e := range fe {
			seen[e.Code] = true
			if e.Code == "" {
				t.Errorf("%s: %s has no code: %q", tc.name, e.Field, e.Message)
			}
		}
		// English reads exactly as the domain says it.
		want, got := fe.ByField(), osFieldMessages(en, fe)
		for field, msg := range want {
			if got[field] != msg {
				t.Errorf("%s: English %s = %q, want the domain's %q", tc.name, field, got[field], msg)
			}
		}
		// Chinese: every message from the Chinese catalog.
		for field, msg := range osFieldMessages(zh, fe) {
			if msg == want[field] || !hasHan(msg) || strings.Contains(msg, "must") || strings.Contains(msg, "{{") {
				t.Errorf("%s: Chinese %s = %q", tc.name, field, msg)
			}
		}
	}
	for _, code := range []string{
		modelarts.CodeOSParamsNotAllowed, modelarts.CodeOSParamsRequired, modelarts.CodeImageRequired,
		modelarts.CodeImageIDInvalid, modelarts.CodeLoginBoth, modelarts.CodeLoginMissing,
		modelarts.CodeKeyPairNameInvalid, modelarts.CodePassword, modelarts.CodeUserDataFormat,
		modelarts.CodeUserDataEncodedBig, modelarts.CodeUserDataBase64, modelarts.CodeUserDataTooLarge,
		batch.CodeKeyPairMissing, batch.CodePasswordMissing,
	} {
		if !seen[code] {
			t.Errorf("no case covers %s", code)
		}
	}

	// The password's rules, in Chinese, with the values filled in.
	fe := batch.CheckOS(modelarts.BatchReinstallOS, batch.OSInput{Login: batch.LoginPassword, Params: modelarts.ServerOSRequest{AdminPass: "root"}})
	got := osFieldMessages(zh, fe)[batch.FieldPassword]
	want := "密码长度须为 8 到 26 个字符（当前为 4 个）；须至少包含以下四类中的三类：大写字母、小写字母、数字、特殊字符（!@%-_=+[{}]:,./?）；不能是用户名（root）或用户名的倒序；不能包含“root”、“administrator”或它们的倒序。"
	if got != want {
		t.Errorf("Chinese password message\n got %q\nwant %q", got, want)
	}
	// An image not offered (found by the prepared action, not CheckOS).
	notOffered := batch.FieldErrors{{Field: batch.FieldImage, Message: "This image is not offered for the selected servers; choose one from the list.", Code: batch.CodeImageNotOffered}}
	if got := osFieldMessages(en, notOffered)[batch.FieldImage]; got != notOffered[0].Message {
		t.Errorf("English image not offered = %q", got)
	}
	if got := osFieldMessages(zh, notOffered)[batch.FieldImage]; got != "所选服务器不提供此镜像；请从列表中选择一个。" {
		t.Errorf("Chinese image not offered = %q", got)
	}
	// A problem the catalog does not know keeps the domain's words.
	odd := batch.FieldErrors{{Field: batch.FieldLogin, Message: "Something new.", Code: "new_rule"}}
	if got := osFieldMessages(zh, odd)[batch.FieldLogin]; got != "Something new." {
		t.Errorf("unknown code = %q", got)
	}
}

// The approval's text problems and OS parameters read in the page's
// language through the error table; English keeps its sentences.
func TestApprovalValidationInBothLanguages(t *testing.T) {
	zh := i18n.MustLoad().Localizer(i18n.Chinese)
	_, errShort := approval.CheckReason("ab")
	_, errLong := approval.CheckComment(strings.Repeat("很", approval.MaxComment+1), false)
	_, errEmpty := approval.CheckComment("  ", true)
	_, errControl := approval.CheckReason("stop\x00it")
	tests := []struct {
		err    error
		en, zh string
	}{
		{errShort, "Reason must be at least 3 characters. Nothing was sent.", "原因至少需要 3 个字符。未发送任何请求。"},
		{errLong, "Comment must be at most 1000 characters (it has 1001). Write why", "备注最多 1000 个字符（当前 1001 个）。"},
		{errEmpty, "Comment is required. Write why", "备注不能为空。"},
		{errControl, "Reason contains control characters. Nothing was sent.", "原因包含控制字符。"},
		{&approval.ParamsError{Errs: modelarts.ValidateOSParams(modelarts.BatchReinstallOS, &modelarts.ServerOSRequest{KeyPairName: "a b"})},
			"The OS parameters cannot be used: Key pair name must be 1 to 64 letters, digits, '-', '_' or '.'. Nothing was sent.",
			"操作系统参数无法使用：密钥对名称须为 1 到 64 个字母、数字、“-”、“_”或“.”。未发送任何请求。"},
	}
	for _, tt := range tests {
		en, cn := publicError(englishLoc(), tt.err), publicError(zh, tt.err)
		if !strings.Contains(en.Message, tt.en) {
			t.Errorf("English %q, want it to contain %q", en.Message, tt.en)
		}
		if !strings.Contains(cn.Message, tt.zh) {
			t.Errorf("Chinese %q, want it to contain %q", cn.Message, tt.zh)
		}
		if cn.Status != en.Status || cn.Status != 422 {
			t.Errorf("%v: status en %d zh %d", tt.err, en.Status, cn.Status)
		}
	}
}

// hasHan reports whether s holds a Chinese character.
func hasHan(s string) bool {
	for _, r := range s {
		if r >= 0x4e00 && r <= 0x9fff {
			return true
		}
	}
	return false
}
