package modelarts_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
)

const (
	id1     = "11111111-2222-4333-8444-555555555555"
	id2     = "b6dfd2ba-ac27-49cc-9fa5-750a1ad6342e"
	imageID = "c90fb553-2cdb-4b81-b56a-ef68812c6cf7"
	goodPW  = "Passw0rd!x"
)

func servers(ids ...string) []modelarts.BatchServerID {
	out := make([]modelarts.BatchServerID, len(ids))
	for i, id := range ids {
		out[i] = modelarts.BatchServerID{ID: id}
	}
	return out
}

// userDataOf returns base64 of n bytes.
func userDataOf(n int) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", n)))
}

func TestBatchRequestValidate(t *testing.T) {
	tests := []struct {
		name string
		req  modelarts.BatchRequest
		want map[string]string // field → substring of its message; nil means valid
	}{
		{name: "START ok", req: modelarts.BatchRequest{Type: modelarts.BatchStart, Servers: servers(id1, id2)}},
		{name: "STOP ok", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1)}},
		{name: "REBOOT ok", req: modelarts.BatchRequest{Type: modelarts.BatchReboot, Servers: servers(id1)}},
		{name: "DELETE ok", req: modelarts.BatchRequest{Type: modelarts.BatchDelete, Servers: servers(id1)}},
		{name: "STOP with empty extend_param ok", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1), ExtendParam: &modelarts.ServerOSRequest{}}},
		{name: "CHANGEOS with password ok", req: modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{ImageID: imageID, AdminPass: goodPW}}},
		{name: "CHANGEOS with key pair and user data ok", req: modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{ImageID: imageID, KeyPairName: "my-key_1.pub", UserData: "IyEvYmluL2Jhc2gKZWNobyB1c2VyX3Rlc3QgPiAvaG9tZS91c2VyLnR4dA=="}}},
		{name: "REINSTALLOS without image ok", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k"}}},

		{name: "type missing", req: modelarts.BatchRequest{Servers: servers(id1)},
			want: map[string]string{"type": "choose an action"}},
		{name: "type unknown", req: modelarts.BatchRequest{Type: "stop", Servers: servers(id1)},
			want: map[string]string{"type": `unknown action "stop"`}},
		{name: "no servers", req: modelarts.BatchRequest{Type: modelarts.BatchStop},
			want: map[string]string{"servers": "at least one server"}},
		{name: "empty id", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1, "")},
			want: map[string]string{"servers[1].id": "required"}},
		{name: "id not a uuid", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers("web-01")},
			want: map[string]string{"servers[0].id": "not a DevServer id"}},
		{name: "id upper case", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(strings.ToUpper(id2))},
			want: map[string]string{"servers[0].id": "lower-case"}},
		{name: "id with version 6 rejected", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers("11111111-2222-6333-8444-555555555555")},
			want: map[string]string{"servers[0].id": "not a DevServer id"}},
		{name: "id with bad variant rejected", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers("11111111-2222-4333-c444-555555555555")},
			want: map[string]string{"servers[0].id": "not a DevServer id"}},
		{name: "duplicate id", req: modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1, id2, id1)},
			want: map[string]string{"servers[2].id": "listed twice (also servers[0])"}},
		{name: "extend_param on START", req: modelarts.BatchRequest{Type: modelarts.BatchStart, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{AdminPass: goodPW}},
			want: map[string]string{"extend_param": "only allowed for CHANGEOS and REINSTALLOS"}},
		{name: "extend_param on DELETE", req: modelarts.BatchRequest{Type: modelarts.BatchDelete, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{ImageID: imageID}},
			want: map[string]string{"extend_param": "only allowed"}},
		{name: "CHANGEOS without extend_param", req: modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1)},
			want: map[string]string{"extend_param": "needs OS parameters", "extend_param.image_id": "choose the image"}},
		{name: "REINSTALLOS without extend_param", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1)},
			want: map[string]string{"extend_param": "needs OS parameters"}},
		{name: "CHANGEOS without image", req: modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{AdminPass: goodPW}},
			want: map[string]string{"extend_param.image_id": "choose the image"}},
		{name: "image id not a uuid", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{ImageID: "ubuntu", AdminPass: goodPW}},
			want: map[string]string{"extend_param.image_id": "not a lower-case UUID"}},
		{name: "password and key pair both", req: modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{ImageID: imageID, AdminPass: goodPW, KeyPairName: "k"}},
			want: map[string]string{"extend_param": "not both"}},
		{name: "neither password nor key pair", req: modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{ImageID: imageID}},
			want: map[string]string{"extend_param": "either an admin password or a key pair name"}},
		{name: "key pair name with space", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "my key"}},
			want: map[string]string{"extend_param.key_pair_name": "1 to 64 letters"}},
		{name: "key pair name 64 chars ok", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: strings.Repeat("k", 64)}}},
		{name: "key pair name 65 chars", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: strings.Repeat("k", 65)}},
			want: map[string]string{"extend_param.key_pair_name": "1 to 64 letters"}},
		{name: "weak password", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{AdminPass: "aaaabbbbcc"}},
			want: map[string]string{"extend_param.admin_pass": "at least three"}},
		{name: "user data 32768 bytes ok", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k", UserData: userDataOf(32768)}}},
		{name: "user data 32769 bytes", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k", UserData: userDataOf(32769)}},
			want: map[string]string{"extend_param.user_data": "32769 bytes before encoding; the limit is 32768"}},
		{name: "user data far too big", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k", UserData: userDataOf(100000)}},
			want: map[string]string{"extend_param.user_data": "larger than 32768 bytes"}},
		{name: "user data not base64", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k", UserData: "#!/bin/bash"}},
			want: map[string]string{"extend_param.user_data": "not valid standard base64"}},
		{name: "user data url-safe alphabet", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k", UserData: "-_-_"}},
			want: map[string]string{"extend_param.user_data": "not valid standard base64"}},
		{name: "user data unpadded", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k", UserData: "YWI"}},
			want: map[string]string{"extend_param.user_data": "not valid standard base64"}},
		{name: "user data with line break", req: modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "k", UserData: "YWJj\nZGVm"}},
			want: map[string]string{"extend_param.user_data": "single line"}},
		{name: "every problem at once", req: modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers("x", "x"),
			ExtendParam: &modelarts.ServerOSRequest{AdminPass: "xrootx", KeyPairName: "a b", UserData: "%%"}},
			want: map[string]string{
				"servers[0].id":              "not a DevServer id",
				"servers[1].id":              "not a DevServer id",
				"extend_param":               "not both",
				"extend_param.image_id":      "choose the image",
				"extend_param.key_pair_name": "1 to 64",
				"extend_param.admin_pass":    "8 to 26",
				"extend_param.user_data":     "base64",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var verrs modelarts.ValidationErrors
			if !errors.As(err, &verrs) {
				t.Fatalf("Validate() = %v (%T), want ValidationErrors", err, err)
			}
			gotFields := map[string]bool{}
			for _, fe := range verrs {
				gotFields[fe.Field] = true
			}
			wantFields := map[string]bool{}
			for f, sub := range tt.want {
				wantFields[f] = true
				if msg := verrs.For(f); !strings.Contains(msg, sub) {
					t.Errorf("For(%q) = %q, want it to contain %q", f, msg, sub)
				}
			}
			if diff := cmp.Diff(wantFields, gotFields); diff != "" {
				t.Errorf("fields with errors mismatch (-want +got):\n%s", diff)
			}
			if tt.req.ExtendParam != nil && tt.req.ExtendParam.AdminPass != "" && len(tt.req.ExtendParam.AdminPass) >= 4 &&
				strings.Contains(err.Error(), tt.req.ExtendParam.AdminPass) {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		name     string
		pass     string
		username string
		wantErr  string // "" means valid
	}{
		{name: "7 chars too short", pass: "Abc12!x", wantErr: "8 to 26 characters long (it is 7)"},
		{name: "8 chars ok", pass: "Abc12!xy"},
		{name: "26 chars ok", pass: "Abc12!" + strings.Repeat("x", 20)},
		{name: "27 chars too long", pass: "Abc12!" + strings.Repeat("x", 21), wantErr: "(it is 27)"},
		{name: "empty", pass: "", wantErr: "8 to 26"},
		{name: "two classes: lower and digit", pass: "abcdefg1", wantErr: "at least three"},
		{name: "two classes: upper and special", pass: "ABCDEFG!", wantErr: "at least three"},
		{name: "one class", pass: "abcdefgh", wantErr: "at least three"},
		{name: "three classes: upper lower digit", pass: "Abcdefg1"},
		{name: "three classes: upper lower special", pass: "Abcdefg!"},
		{name: "three classes: lower digit special", pass: "abcdef1!"},
		{name: "three classes: upper digit special", pass: "ABCDEF1!"},
		{name: "four classes", pass: "Abcdef1!"},
		{name: "every listed special accepted", pass: "Aa1" + "!@%-_=+[{}]:,./?"},
		{name: "space rejected", pass: "Abc 12!xy", wantErr: "may only contain"},
		{name: "hash rejected", pass: "Abc#12!xy", wantErr: "may only contain"},
		{name: "dollar rejected", pass: "Abc$12xyz", wantErr: "may only contain"},
		{name: "asterisk rejected", pass: "Abc*12xyz", wantErr: "may only contain"},
		{name: "non-ASCII letter rejected", pass: "Abcé12!xy", wantErr: "may only contain"},
		{name: "contains root", pass: "myRoot12!", wantErr: `must not contain "root"`},
		{name: "contains ROOT any case", pass: "xROOTx12!", wantErr: `must not contain "root"`},
		{name: "contains toor", pass: "Toor1234!", wantErr: `must not contain "root"`},
		{name: "contains administrator", pass: "Administrator1", wantErr: `"administrator"`},
		{name: "contains rotartsinimda", pass: "1rotartsinimdA", wantErr: `"administrator"`},
		{name: "equals username", pass: "Deploy12!", username: "deploy12!", wantErr: "must not be the user name"},
		{name: "equals reversed username", pass: "!21yolpeD", username: "Deploy12!", wantErr: "must not be the user name"},
		{name: "contains username is allowed", pass: "xDeploy12!", username: "Deploy12!"},
		{name: "several problems listed", pass: "root", wantErr: "8 to 26 characters long (it is 4); must mix at least three"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user := tt.username
			if user == "" {
				user = "root"
			}
			err := modelarts.ValidatePassword(tt.pass, user)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidatePassword(%q) = %v, want nil", tt.pass, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ValidatePassword(%q) = nil, want error containing %q", tt.pass, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ValidatePassword(%q) = %q, want it to contain %q", tt.pass, err, tt.wantErr)
			}
			if len(tt.pass) >= 5 && strings.Contains(err.Error(), tt.pass) {
				t.Errorf("error %q repeats the password", err)
			}
		})
	}
}

func TestValidateOSParams(t *testing.T) {
	tests := []struct {
		name       string
		typ        modelarts.BatchType
		params     *modelarts.ServerOSRequest
		wantFields []string
	}{
		{name: "STOP nil", typ: modelarts.BatchStop, params: nil},
		{name: "STOP with a password", typ: modelarts.BatchStop, params: &modelarts.ServerOSRequest{AdminPass: goodPW}, wantFields: []string{"extend_param"}},
		{name: "REINSTALLOS password only", typ: modelarts.BatchReinstallOS, params: &modelarts.ServerOSRequest{AdminPass: goodPW}},
		{name: "REINSTALLOS bad password", typ: modelarts.BatchReinstallOS, params: &modelarts.ServerOSRequest{AdminPass: "short"}, wantFields: []string{"extend_param.admin_pass"}},
		{name: "CHANGEOS nil", typ: modelarts.BatchChangeOS, params: nil, wantFields: []string{"extend_param", "extend_param.image_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := modelarts.ValidateOSParams(tt.typ, tt.params)
			var got []string
			for _, e := range errs {
				got = append(got, e.Field)
			}
			if diff := cmp.Diff(tt.wantFields, got); diff != "" {
				t.Errorf("fields mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidationErrorsFormatting(t *testing.T) {
	errs := modelarts.ValidationErrors{
		{Field: "type", Message: "a"},
		{Field: "extend_param", Message: "b"},
		{Field: "extend_param", Message: "c"},
	}
	if got, want := errs.Error(), "invalid request: type: a; extend_param: b; extend_param: c"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := errs.For("extend_param"), "b; c"; got != want {
		t.Errorf("For = %q, want %q", got, want)
	}
	if got := errs.For("servers"); got != "" {
		t.Errorf("For(servers) = %q, want empty", got)
	}
}

func FuzzValidate(f *testing.F) {
	f.Add(`{"type":"STOP","servers":[{"id":"11111111-2222-4333-8444-555555555555"}]}`)
	f.Add(`{"type":"CHANGEOS","servers":[{"id":"x"},{"id":"x"}],"extend_param":{"admin_pass":"Passw0rd!","image_id":"i","user_data":"YWJj"}}`)
	f.Add(`{"type":"REINSTALLOS","servers":[],"extend_param":{"key_pair_name":"k","user_data":"====\n"}}`)
	f.Add(`{"type":"","servers":null,"extend_param":{}}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req modelarts.BatchRequest
		if err := json.Unmarshal([]byte(body), &req); err != nil {
			return
		}
		err := req.Validate()
		// Validate is deterministic: the same request gets the same verdict
		// and the same messages, so what the form showed is what is enforced.
		if again := req.Validate(); (again == nil) != (err == nil) || (err != nil && again.Error() != err.Error()) {
			t.Fatalf("Validate(%q) not deterministic: %v then %v", body, err, again)
		}
		if err == nil {
			// A valid request must really satisfy the basic rules.
			if !req.Type.Valid() || len(req.Servers) == 0 {
				t.Fatalf("Validate accepted %q", body)
			}
			for _, s := range req.Servers {
				if !modelarts.IsUUID(s.ID) {
					t.Fatalf("Validate accepted id %q", s.ID)
				}
			}
			if req.ExtendParam != nil && req.ExtendParam.AdminPass != "" {
				if perr := modelarts.ValidatePassword(req.ExtendParam.AdminPass, modelarts.DefaultLoginUser); perr != nil {
					t.Fatalf("Validate accepted an admin_pass ValidatePassword rejects: %v", perr)
				}
			}
			return
		}
		var verrs modelarts.ValidationErrors
		if !errors.As(err, &verrs) || len(verrs) == 0 {
			t.Fatalf("Validate returned %T %v", err, err)
		}
		for _, fe := range verrs {
			if fe.Field == "" || fe.Message == "" || fe.Code == "" {
				t.Fatalf("empty field error %+v", fe)
			}
			if fe.Code == modelarts.CodePassword && len(fe.Rules) == 0 {
				t.Fatalf("password error without its rules %+v", fe)
			}
		}
		if req.ExtendParam != nil {
			p1 := modelarts.ValidatePassword(req.ExtendParam.AdminPass, req.ExtendParam.KeyPairName)
			p2 := modelarts.ValidatePassword(req.ExtendParam.AdminPass, req.ExtendParam.KeyPairName)
			if (p1 == nil) != (p2 == nil) || (p1 != nil && p1.Error() != p2.Error()) {
				t.Fatalf("ValidatePassword not deterministic: %v then %v", p1, p2)
			}
			// For the OS actions, a password ValidatePassword rejects for the
			// login user must be reported on extend_param.admin_pass.
			if req.Type.NeedsOSParams() && req.ExtendParam.AdminPass != "" &&
				modelarts.ValidatePassword(req.ExtendParam.AdminPass, modelarts.DefaultLoginUser) != nil &&
				verrs.For("extend_param.admin_pass") == "" {
				t.Fatalf("Validate(%q) did not report the weak admin_pass: %v", body, err)
			}
		}
	})
}

// Each OS problem carries a stable code and the values its message names
// (pages word it in their own language from them), while its English
// message stays as it was for logs and the command line.
func TestValidateOSParamsCodes(t *testing.T) {
	errs := modelarts.ValidateOSParams(modelarts.BatchChangeOS, &modelarts.ServerOSRequest{
		ImageID: "IMG", AdminPass: "root", UserData: "not base64!",
	})
	byField := map[string]modelarts.FieldError{}
	for _, fe := range errs {
		byField[fe.Field] = fe
	}
	img := byField["extend_param.image_id"]
	if img.Code != modelarts.CodeImageIDInvalid || img.Params["ImageID"] != "IMG" {
		t.Errorf("image error %+v", img)
	}
	pass := byField["extend_param.admin_pass"]
	if pass.Code != modelarts.CodePassword {
		t.Fatalf("password error %+v", pass)
	}
	var codes []string
	for _, r := range pass.Rules {
		codes = append(codes, r.Code)
	}
	want := []string{modelarts.PasswordLength, modelarts.PasswordClasses, modelarts.PasswordUsername, modelarts.PasswordForbidden}
	if strings.Join(codes, ",") != strings.Join(want, ",") {
		t.Errorf("password rules %v, want %v", codes, want)
	}
	if pass.Rules[0].Params["Len"] != 4 || pass.Rules[0].Params["Min"] != modelarts.PasswordMinLen {
		t.Errorf("length rule params %v", pass.Rules[0].Params)
	}
	if !strings.HasPrefix(pass.Message, "password must be 8 to 26 characters long (it is 4); must mix") {
		t.Errorf("English message changed: %q", pass.Message)
	}
	if strings.Contains(pass.Message, "root;") {
		t.Errorf("the message repeats the password: %q", pass.Message)
	}
	ud := byField["extend_param.user_data"]
	if ud.Code != modelarts.CodeUserDataFormat || ud.Message == "" {
		t.Errorf("user data error %+v", ud)
	}
}
