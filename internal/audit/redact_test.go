package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
)

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return hex.EncodeToString(s[:])
}

func TestRedactBody(t *testing.T) {
	script := "#!/bin/bash\necho hello\n"
	b64 := base64.StdEncoding.EncodeToString([]byte(script))
	tests := []struct {
		name string
		in   string
		want string
	}{
		{
			name: "nothing secret is kept byte for byte",
			in:   "{ \"type\" : \"STOP\",\n  \"servers\":[{\"id\":\"a\"}], \"n\": 1.50e3 }",
			want: "{ \"type\" : \"STOP\",\n  \"servers\":[{\"id\":\"a\"}], \"n\": 1.50e3 }",
		},
		{
			name: "admin_pass in extend_param",
			in:   `{"type":"REINSTALLOS","servers":[{"id":"a"}],"extend_param":{"admin_pass":"Pa$$w0rd!x","image_id":"img"}}`,
			want: `{"type":"REINSTALLOS","servers":[{"id":"a"}],"extend_param":{"admin_pass":"[REDACTED]","image_id":"img"}}`,
		},
		{
			name: "admin_pass at the top level, with spacing kept",
			in:   `{"admin_pass" :  "Pa$$w0rd!x" , "name":"x"}`,
			want: `{"admin_pass" :  "[REDACTED]" , "name":"x"}`,
		},
		{
			name: "escaped key spelling and escaped value",
			in:   `{"admin\u005fpass":"a\"b\\c","x":"y"}`,
			want: `{"admin\u005fpass":"[REDACTED]","x":"y"}`,
		},
		{
			name: "other spellings and nested arrays",
			in:   `{"list":[{"adminPass":"p1"},{"PASSWORD":"p2"},{"inner":{"Admin-Pass":"p3"}}]}`,
			want: `{"list":[{"adminPass":"[REDACTED]"},{"PASSWORD":"[REDACTED]"},{"inner":{"Admin-Pass":"[REDACTED]"}}]}`,
		},
		{
			name: "non-string admin_pass",
			in:   `{"admin_pass":{"nested":"p"},"k":1}`,
			want: `{"admin_pass":"[REDACTED]","k":1}`,
		},
		{
			name: "user_data base64 becomes digest of the decoded bytes",
			in:   `{"extend_param":{"user_data":"` + b64 + `","key_pair_name":"kp"}}`,
			want: `{"extend_param":{"user_data":{"sha256":"` + sha(script) + `","size":` + fmt.Sprint(len(script)) + `},"key_pair_name":"kp"}}`,
		},
		{
			name: "userdata that is not base64 is digested raw",
			in:   `{"userdata":"not base64!"}`,
			want: `{"userdata":{"sha256":"` + sha("not base64!") + `","size":11,"base64":false}}`,
		},
		{
			name: "null user_data stays null",
			in:   `{"user_data":null}`,
			want: `{"user_data":null}`,
		},
		{
			name: "a key named like a secret inside a string value is not a key",
			in:   `{"note":"\"admin_pass\":\"x\""}`,
			want: `{"note":"\"admin_pass\":\"x\""}`,
		},
		{
			name: "top-level array",
			in:   `[{"admin_pass":"p"}, 1, "s", true, null]`,
			want: `[{"admin_pass":"[REDACTED]"}, 1, "s", true, null]`,
		},
		{
			name: "invalid JSON without secrets is kept exactly",
			in:   `{"current":1,"data":[`,
			want: `{"current":1,"data":[`,
		},
		{
			name: "invalid JSON with a plain secret pair is rewritten in place",
			in:   `{"admin_pass": "p@ss", "x": [`,
			want: `{"admin_pass": "[REDACTED]", "x": [`,
		},
		{
			name: "invalid JSON with user_data pair",
			in:   `{"user_data":"` + b64 + `",`,
			want: `{"user_data":{"sha256":"` + sha(script) + `","size":` + fmt.Sprint(len(script)) + `},`,
		},
		{
			name: "invalid JSON with a secret not in a plain pair is withheld whole",
			in:   `{"admin_pass": 12345 oops`,
			want: `[body withheld: not valid JSON and holds a secret field; 25 bytes]`,
		},
		{
			name: "empty",
			in:   ``,
			want: ``,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(audit.RedactBody([]byte(tt.in)))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("RedactBody mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactHeaders(t *testing.T) {
	in := http.Header{
		"Authorization":    {"SDK-HMAC-SHA256 Access=AK, Signature=abc"},
		"x-auth-token":     {"MIIT...token"},
		"X-Security-Token": {"tmp-token"},
		"X-SUBJECT-TOKEN":  {"subject"},
		"Cookie":           {"console_session=abc"},
		"Content-Type":     {"application/json"},
		"X-Request-Id":     {"rid"},
	}
	want := http.Header{
		"Authorization":    {audit.Redacted},
		"x-auth-token":     {audit.Redacted},
		"X-Security-Token": {audit.Redacted},
		"X-SUBJECT-TOKEN":  {audit.Redacted},
		"Cookie":           {audit.Redacted},
		"Content-Type":     {"application/json"},
		"X-Request-Id":     {"rid"},
	}
	got := audit.RedactHeaders(in)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("RedactHeaders mismatch (-want +got):\n%s", diff)
	}
	if in.Get("Authorization") == audit.Redacted {
		t.Error("RedactHeaders modified its input")
	}
}

// TestRedactionInStoredBytes reads the database file's columns directly and
// checks no secret reached it, for requests, responses and events.
func TestRedactionInStoredBytes(t *testing.T) {
	const (
		adminPass = "Zq8!uniqueAdminPass"
		akSig     = "Signature=feedfacecafebeef0123"
		authTok   = "MIIuniqueXAuthToken"
		secTok    = "uniqueSecurityToken"
		subjTok   = "uniqueSubjectToken"
		userData  = "#!/bin/sh\necho uniqueUserDataMarker\n"
		eventPass = "uniqueEventPassword"
	)
	ts := newTestStoreOn(t, store.SQLite) // reads the file's bytes
	ud := base64.StdEncoding.EncodeToString([]byte(userData))
	body := `{"type":"REINSTALLOS","servers":[{"id":"` + srvA + `"}],"extend_param":{"admin_pass":"` + adminPass + `","image_id":"img-1","user_data":"` + ud + `"}}`
	call := &modelarts.OutgoingCall{
		Method: http.MethodPost,
		URL:    "https://modelarts.cn-north-4.myhuaweicloud.com/v1/p/dev-servers/action",
		Header: http.Header{
			"Authorization":    {"SDK-HMAC-SHA256 Access=AK, SignedHeaders=host, " + akSig},
			"X-Auth-Token":     {authTok},
			"x-security-token": {secTok},
			"Content-Type":     {"application/json"},
		},
		Body: []byte(body),
	}
	res := &modelarts.CallResult{Status: 201,
		Header: http.Header{"X-Subject-Token": {subjTok}, "X-Request-Id": {"rid"}},
		Body:   []byte(`{"echo":{"admin_pass":"` + adminPass + `"}}`)}
	ts.exchange(t, metaFor("REINSTALLOS", "c", audit.Target{ID: srvA, Name: "n1"}), call, res)
	if err := ts.RecordEvent(context.Background(), audit.EventUserPasswordChanged, alice,
		map[string]string{"user": "bob", "password": eventPass}); err != nil {
		t.Fatal(err)
	}

	raw := rawDB(t, ts.path)
	rows, err := raw.Query(`SELECT id, request_headers, request_body, response_headers, response_body, detail, targets, error FROM audit_entries`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var all bytes.Buffer
	var storedReqBody []byte
	for rows.Next() {
		var id int64
		var rh, rb, sh, sb, d, tg, e []byte
		if err := rows.Scan(&id, &rh, &rb, &sh, &sb, &d, &tg, &e); err != nil {
			t.Fatal(err)
		}
		if id == 1 {
			storedReqBody = rb
		}
		for _, b := range [][]byte{rh, rb, sh, sb, d, tg, e} {
			all.Write(b)
			all.WriteByte('\n')
		}
	}
	for _, secret := range []string{adminPass, akSig, authTok, secTok, subjTok, "uniqueUserDataMarker", ud, eventPass} {
		if bytes.Contains(all.Bytes(), []byte(secret)) {
			t.Errorf("secret %q found in the stored entries", secret)
		}
	}
	want := `{"type":"REINSTALLOS","servers":[{"id":"` + srvA + `"}],"extend_param":{"admin_pass":"[REDACTED]","image_id":"img-1","user_data":{"sha256":"` +
		sha(userData) + `","size":` + fmt.Sprint(len(userData)) + `}}}`
	if diff := cmp.Diff(want, string(storedReqBody)); diff != "" {
		t.Errorf("stored request body mismatch (-want +got):\n%s", diff)
	}
	// The search index is contentless, so secrets cannot hide there either;
	// searching for the password finds nothing.
	got, _, err := ts.List(context.Background(), audit.Filter{Text: adminPass}, 0, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("search for the password = %d entries, %v; want none", len(got), err)
	}
}

// FuzzRedactBody: redaction never panics, keeps valid JSON valid, and leaves
// no admin_pass value in place.
func FuzzRedactBody(f *testing.F) {
	for _, s := range []string{
		`{"type":"CHANGEOS","extend_param":{"admin_pass":"x","user_data":"aGk="}}`,
		`[{"a":[{"admin_pass":1}]},{"user_data":{"x":"y"}}]`,
		`{"admin_pass":"a\"b"`, `"just a string"`, `{}`, `{"k":"\u0000"}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := audit.RedactBody(in)
		if !json.Valid(in) {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("RedactBody(%q) = %q: not valid JSON", in, out)
		}
		var v any
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatal(err)
		}
		walkJSON(t, v)
	})
}

func walkJSON(t *testing.T, v any) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			nk := strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(k))
			if nk == "adminpass" && val != audit.Redacted {
				t.Fatalf("admin_pass left as %v", val)
			}
			walkJSON(t, val)
		}
	case []any:
		for _, e := range x {
			walkJSON(t, e)
		}
	}
}
