package modelarts_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
)

func TestRedactHeader(t *testing.T) {
	h := http.Header{}
	h.Set("Authorization", "SDK-HMAC-SHA256 Access=AKIDEXAMPLE, SignedHeaders=x-project-id;x-sdk-date, Signature=abcdef")
	h.Set("X-Auth-Token", "tok")
	h.Set("X-Security-Token", "sts")
	h.Set("X-Project-Id", "p")
	got := modelarts.RedactHeader(h)
	want := http.Header{
		"Authorization":    {"SDK-HMAC-SHA256 Access=AKID****, SignedHeaders=x-project-id;x-sdk-date, Signature=[REDACTED]"},
		"X-Auth-Token":     {"[REDACTED]"},
		"X-Security-Token": {"[REDACTED]"},
		"X-Project-Id":     {"p"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RedactHeader mismatch (-want +got):\n%s", diff)
	}
	if h.Get("X-Auth-Token") != "tok" {
		t.Error("RedactHeader changed its input")
	}
}

func TestRedactBody(t *testing.T) {
	tests := []struct {
		name, body, want string
	}{
		{name: "batch with password and user data",
			body: `{"type":"CHANGEOS","servers":[{"id":"a"}],"extend_param":{"admin_pass":"Sup3r-Secret!","image_id":"i","user_data":"c2VjcmV0"}}`,
			want: `{"extend_param":{"admin_pass":"[REDACTED]","image_id":"i","user_data":"[REDACTED]"},"servers":[{"id":"a"}],"type":"CHANGEOS"}`},
		{name: "nothing secret", body: `{"type":"STOP","servers":[{"id":"a"}],"n":12345678901234567890}`,
			want: `{"n":12345678901234567890,"servers":[{"id":"a"}],"type":"STOP"}`},
		{name: "IAM body", body: `{"auth":{"identity":{"password":{"user":{"name":"u","password":"p"}}}}}`,
			want: `{"auth":{"identity":{"password":"[REDACTED]"}}}`},
		{name: "empty", body: ``, want: ``},
		{name: "not JSON", body: `admin_pass=x`, want: `"[REDACTED] (body is not JSON)"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(modelarts.RedactBody([]byte(tt.body)))
			if got != tt.want {
				t.Errorf("RedactBody = %s, want %s", got, tt.want)
			}
			for _, s := range []string{"Sup3r-Secret!", "c2VjcmV0"} {
				if strings.Contains(got, s) {
					t.Errorf("secret %q survived", s)
				}
			}
		})
	}
}
