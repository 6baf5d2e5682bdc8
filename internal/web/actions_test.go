package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

// actionEnv is a running console with an operator signed in.
type actionEnv struct {
	*apptest.Env
	op  *apptest.Client
	sim *simulator.Simulator
}

func newActionEnv(t *testing.T, opts ...func(*config.Config)) *actionEnv {
	t.Helper()
	opts = append([]func(*config.Config){func(c *config.Config) { c.SimServers = 120 }}, opts...)
	env := apptest.New(t, opts...)
	return &actionEnv{Env: env, op: env.As(t, auth.RoleOperator), sim: env.App.Simulator()}
}

// pick returns n simulated servers matching ok, not already in used.
func (e *actionEnv) pick(t *testing.T, n int, used map[string]bool, ok func(*modelarts.ServerResponse) bool) []modelarts.ServerResponse {
	t.Helper()
	var out []modelarts.ServerResponse
	for _, s := range e.sim.Servers() {
		if used[s.ID] || !ok(&s) {
			continue
		}
		out = append(out, s)
		if used != nil {
			used[s.ID] = true
		}
		if len(out) == n {
			return out
		}
	}
	t.Fatalf("only %d simulated servers match, need %d", len(out), n)
	return nil
}

func eligible(action modelarts.BatchType) func(*modelarts.ServerResponse) bool {
	return func(s *modelarts.ServerResponse) bool { ok, _ := modelarts.Eligible(action, s); return ok }
}

// changeable picks servers of type st and architecture a whose OS can be
// changed.
func changeable(st modelarts.ServerType, a modelarts.Arch) func(*modelarts.ServerResponse) bool {
	return func(s *modelarts.ServerResponse) bool {
		ok, _ := modelarts.Eligible(modelarts.BatchChangeOS, s)
		return ok && s.Type() == st && s.Arch() == a
	}
}

// selectServers replaces the user's server-side selection with ids.
func (e *actionEnv) selectServers(t *testing.T, userName string, ids ...string) {
	t.Helper()
	ctx := context.Background()
	u, err := e.App.Users().GetByName(ctx, userName)
	if err != nil {
		t.Fatal(err)
	}
	sel := fleet.NewSelections(e.App.DB(), nil)
	if err := sel.Clear(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := sel.Add(ctx, u.ID, ids...); err != nil {
		t.Fatal(err)
	}
}

func idsOf(ss []modelarts.ServerResponse) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// preview asks for the preview of action on the operator's selection and
// returns the panel and its token.
func (e *actionEnv) preview(t *testing.T, c *apptest.Client, action modelarts.BatchType) (*goquery.Document, string) {
	t.Helper()
	r := c.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {string(action)}})
	if r.Status != http.StatusOK {
		t.Fatalf("preview %s: status %d\n%s", action, r.Status, r.Body)
	}
	doc := r.Doc(t)
	token, _ := doc.Find(`#action-form input[name="token"]`).Attr("value")
	return doc, token
}

// postMultipart posts fields (and an optional user data file) as the OS
// form does, with htmx headers.
func postMultipart(t *testing.T, c *apptest.Client, path string, fields url.Values, fileName string, file []byte) *apptest.Response {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, vs := range fields {
		for _, v := range vs {
			if err := w.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if fileName != "" {
		fw, err := w.CreateFormFile("user_data_file", fileName)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(file)
	}
	w.Close()
	h := http.Header{"HX-Request": {"true"}, "X-CSRF-Token": {c.CSRF}, "Content-Type": {w.FormDataContentType()}}
	return c.Do(t, http.MethodPost, path, &buf, h)
}

// batchIDFrom reads the batch id from an execute's HX-Redirect.
func batchIDFrom(t *testing.T, r *apptest.Response) string {
	t.Helper()
	loc := r.Header.Get("HX-Redirect")
	if r.Status != http.StatusNoContent || !strings.HasPrefix(loc, "/batches/") {
		t.Fatalf("execute: status %d, HX-Redirect %q; want 204 to /batches/{id}\n%s", r.Status, loc, r.Body)
	}
	return strings.TrimPrefix(loc, "/batches/")
}

// waitDone polls the batch's status fragment as the page does until it
// stops polling, and returns the last fragment.
func waitDone(t *testing.T, c *apptest.Client, id string) *goquery.Document {
	t.Helper()
	var doc *goquery.Document
	testutil.Eventually(t, 20*time.Second, "batch "+id+" stops polling", func() error {
		r := c.HTMX(t, http.MethodGet, "/batches/"+id+"/status", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status fragment: %d\n%s", r.Status, r.Body)
		}
		doc = r.Doc(t)
		if _, polling := doc.Find("#batch-status").Attr("hx-trigger"); polling {
			return fmt.Errorf("still polling:\n%s", r.Body)
		}
		return nil
	})
	return doc
}

// serverRows maps server name to its row's cells (before, now, result).
func serverRows(doc *goquery.Document) map[string][]string {
	rows := map[string][]string{}
	doc.Find(".batch-servers tbody tr").Each(func(_ int, tr *goquery.Selection) {
		name := strings.TrimSpace(tr.Find("th").Contents().First().Text())
		var cells []string
		tr.Find("td").Each(func(_ int, td *goquery.Selection) {
			cells = append(cells, strings.Join(strings.Fields(td.Text()), " "))
		})
		rows[name] = cells
	})
	return rows
}

func TestActionPreviewMixedEligibility(t *testing.T) {
	e := newActionEnv(t)
	used := map[string]bool{}
	running := e.pick(t, 2, used, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	stopped := e.pick(t, 1, used, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusStopped })
	gone := "11111111-2222-4333-8444-555555555555"
	e.selectServers(t, "operator1", append(idsOf(running), stopped[0].ID, gone)...)

	doc, token := e.preview(t, e.op, modelarts.BatchStop)
	if token == "" {
		t.Fatal("the preview has no token")
	}
	tests := []struct {
		name string
		id   string
		want string
	}{
		{name: "Running1", id: running[0].ID, want: "Will be sent"},
		{name: "Running2", id: running[1].ID, want: "Will be sent"},
		{name: "Stopped", id: stopped[0].ID, want: "Skipped: only running servers can be stopped; this one is stopped"},
		{name: "Gone", id: gone, want: "Skipped: no longer in the fleet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			doc.Find(".action-preview-table tbody tr").Each(func(_ int, tr *goquery.Selection) {
				if strings.Contains(tr.Find("th").Text(), tt.id) {
					got = strings.TrimSpace(tr.Find("td").Last().Text())
				}
			})
			if got != tt.want {
				t.Errorf("row for %s says %q, want %q", tt.id, got, tt.want)
			}
		})
	}
	if got := strings.TrimSpace(doc.Find(`#action-form button[type="submit"]`).Text()); got != "Run Stop on 2 servers" {
		t.Errorf("submit button = %q", got)
	}
	if !strings.Contains(doc.Find(".action-summary").Text(), "Of 4 servers selected, 2 will be sent and 2 will be skipped") {
		t.Errorf("summary = %q", doc.Find(".action-summary").Text())
	}
	if n := e.sim.MutatingRequests(); n != 0 {
		t.Errorf("the preview sent %d requests", n)
	}

	t.Run("NothingSelected", func(t *testing.T) {
		e.selectServers(t, "operator1")
		doc, token := e.preview(t, e.op, modelarts.BatchStop)
		if token != "" || !strings.Contains(doc.Find(".action-notice").Text(), "No servers are selected") {
			t.Errorf("notice = %q, token %q", doc.Find(".action-notice").Text(), token)
		}
	})
	t.Run("NoneEligible", func(t *testing.T) {
		e.selectServers(t, "operator1", stopped[0].ID)
		doc, token := e.preview(t, e.op, modelarts.BatchStop)
		if token != "" || !strings.Contains(doc.Find(`.action-problem[role="alert"]`).Text(), "Nothing to send") {
			t.Errorf("problem = %q, token %q", doc.Find(".action-problem").Text(), token)
		}
	})
}

// osFields are valid Change OS / Reinstall OS fields (key pair login).
func osFields(token string, extra url.Values) url.Values {
	v := url.Values{"token": {token}, "login": {"key_pair"}, "key_pair_name": {"ops-key"}}
	for k, vs := range extra {
		v[k] = vs
	}
	return v
}

func TestActionHappyPaths(t *testing.T) {
	e := newActionEnv(t)
	used := map[string]bool{}
	const pass = "Xy7-happy-Path!"
	tests := []struct {
		name     string
		action   modelarts.BatchType
		pick     func(*modelarts.ServerResponse) bool
		fields   func(t *testing.T, doc *goquery.Document, token string) url.Values
		file     []byte
		wantNow  string
		wantGone bool
	}{
		{name: "START", action: modelarts.BatchStart, wantNow: "Running"},
		{name: "STOP", action: modelarts.BatchStop, wantNow: "Stopped"},
		{name: "REBOOT", action: modelarts.BatchReboot, wantNow: "Running"},
		{
			name: "CHANGEOS", action: modelarts.BatchChangeOS, wantNow: "Running",
			pick: func(s *modelarts.ServerResponse) bool {
				return s.Type() == modelarts.ServerTypeECS && s.Arch() == modelarts.ArchX86
			},
			fields: func(t *testing.T, doc *goquery.Document, token string) url.Values {
				img, ok := doc.Find(`select[name="image_id"] option[value!=""]`).First().Attr("value")
				if !ok {
					t.Fatal("the Change OS form offers no image")
				}
				if got := doc.Find(`label[for="os-image"]`).Text(); got != "Image" {
					t.Errorf("image picker label = %q", got)
				}
				return url.Values{"token": {token}, "image_id": {img}, "login": {"password"}, "admin_pass": {pass},
					"user_data": {"#!/bin/bash\r\necho hi\r\n"}, "confirm": {"CHANGEOS"}}
			},
		},
		{
			name: "REINSTALLOS", action: modelarts.BatchReinstallOS, wantNow: "Running",
			fields: func(t *testing.T, doc *goquery.Document, token string) url.Values {
				return osFields(token, url.Values{"confirm": {"REINSTALLOS"}})
			},
			file: []byte("#cloud-config\nruncmd: [echo hi]\n"),
		},
		{
			name: "DELETE", action: modelarts.BatchDelete, wantNow: "Deleted", wantGone: true,
			fields: func(t *testing.T, doc *goquery.Document, token string) url.Values {
				return url.Values{"token": {token}, "confirm": {"DELETE"}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers := e.pick(t, 2, used, func(s *modelarts.ServerResponse) bool {
				ok, _ := modelarts.Eligible(tt.action, s)
				return ok && (tt.pick == nil || tt.pick(s))
			})
			e.selectServers(t, "operator1", idsOf(servers)...)
			before := e.sim.MutatingRequests()
			doc, token := e.preview(t, e.op, tt.action)

			var r *apptest.Response
			if tt.fields == nil {
				r = e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}})
			} else {
				fields := tt.fields(t, doc, token)
				// The review step answers with the confirmation dialog.
				rv := postMultipart(t, e.op, "/actions/review", fields, fileName(tt.file), tt.file)
				if rv.Status != http.StatusOK || rv.Header.Get("HX-Retarget") != "#confirm-slot" {
					t.Fatalf("review: status %d, retarget %q\n%s", rv.Status, rv.Header.Get("HX-Retarget"), rv.Body)
				}
				dlg := rv.Doc(t).Find("dialog#confirm-dialog")
				for _, s := range servers {
					if !strings.Contains(dlg.Find(".confirm-targets").Text(), s.Name) {
						t.Errorf("the dialog does not name %s", s.Name)
					}
				}
				if strings.Contains(rv.Body, pass) {
					t.Error("the dialog contains the admin password")
				}
				r = postMultipart(t, e.op, "/actions/execute", fields, fileName(tt.file), tt.file)
			}
			id := batchIDFrom(t, r)
			doc = waitDone(t, e.op, id)
			if got := e.sim.MutatingRequests() - before; got != 1 {
				t.Errorf("sent %d requests, want 1", got)
			}
			rows := serverRows(doc)
			for _, s := range servers {
				cells := rows[s.Name]
				if len(cells) != 3 || !strings.HasPrefix(cells[1], tt.wantNow) || cells[2] != "Done" {
					t.Errorf("row of %s = %q; want now %s, result Done", s.Name, cells, tt.wantNow)
				}
				if tt.wantGone != strings.Contains(cells[1], "gone from the fleet") {
					t.Errorf("row of %s = %q; gone = %v", s.Name, cells, tt.wantGone)
				}
			}
			if doc.Find(`.batch-alert[role="alert"]`).Length() != 0 {
				t.Errorf("a clean batch shows an alert: %s", doc.Find(".batch-alert").Text())
			}
			page := e.op.Get(t, "/batches/"+id)
			if page.Status != http.StatusOK || !strings.Contains(page.Body, "What was sent") {
				t.Errorf("batch page: %d", page.Status)
			}
			if strings.Contains(page.Body, pass) {
				t.Error("the batch page contains the admin password")
			}
			if tt.action == modelarts.BatchChangeOS && !strings.Contains(page.Doc(t).Find(".batch-params").Text(), "(password set)") {
				t.Error("the batch page does not say a password was set")
			}
		})
	}
}

func fileName(b []byte) string {
	if b == nil {
		return ""
	}
	return "user-data.sh"
}

func TestActionValidation(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, changeable(modelarts.ServerTypeECS, modelarts.ArchX86))
	e.selectServers(t, "operator1", idsOf(servers)...)
	tooBig := bytes.Repeat([]byte("x"), modelarts.UserDataMaxSize+1)
	const badPass = "Password-of-root1"
	tests := []struct {
		name      string
		action    modelarts.BatchType
		fields    func(token, image string) url.Values
		file      []byte
		wantField string // the element id of the message
		wantMsg   string
	}{
		{
			name: "BadPasswordRule", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values {
				return url.Values{"token": {token}, "login": {"password"}, "admin_pass": {badPass}, "confirm": {"REINSTALLOS"}}
			},
			wantField: "os-admin-pass-error", wantMsg: `must not contain "root"`,
		},
		{
			name: "ShortPassword", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values {
				return url.Values{"token": {token}, "login": {"password"}, "admin_pass": {"Ab1!"}, "confirm": {"REINSTALLOS"}}
			},
			wantField: "os-admin-pass-error", wantMsg: "8 to 26 characters",
		},
		{
			name: "BothKeyPairAndPassword", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values {
				return url.Values{"token": {token}, "key_pair_name": {"k"}, "admin_pass": {"Sup3r-Secret-pw"}, "confirm": {"REINSTALLOS"}}
			},
			wantField: "os-login-error", wantMsg: "not both",
		},
		{
			name: "NeitherKeyPairNorPassword", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values {
				return url.Values{"token": {token}, "user_data": {"echo hi"}, "confirm": {"REINSTALLOS"}}
			},
			wantField: "os-login-error", wantMsg: "either an admin password or a key pair name",
		},
		{
			name: "KeyPairChosenButEmpty", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values {
				return url.Values{"token": {token}, "login": {"key_pair"}, "confirm": {"REINSTALLOS"}}
			},
			wantField: "os-key-pair-name-error", wantMsg: "Enter the name of a key pair",
		},
		{
			name: "MissingImage", action: modelarts.BatchChangeOS,
			fields:    func(token, _ string) url.Values { return osFields(token, url.Values{"confirm": {"CHANGEOS"}}) },
			wantField: "os-image-error", wantMsg: "Choose the image to change to",
		},
		{
			name: "ImageNotOffered", action: modelarts.BatchChangeOS,
			fields: func(token, _ string) url.Values {
				return osFields(token, url.Values{"confirm": {"CHANGEOS"}, "image_id": {"11111111-2222-4333-8444-555555555555"}})
			},
			wantField: "os-image-error", wantMsg: "not offered for the selected servers",
		},
		{
			name: "OversizeUserDataFile", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values { return osFields(token, url.Values{"confirm": {"REINSTALLOS"}}) },
			file:   tooBig, wantField: "os-user-data-error", wantMsg: "larger than 32 KiB",
		},
		{
			name: "OversizeUserDataText", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values {
				return osFields(token, url.Values{"confirm": {"REINSTALLOS"}, "user_data": {string(tooBig)}})
			},
			wantField: "os-user-data-error", wantMsg: "at most 32768 bytes",
		},
		{
			name: "UserDataTextAndFile", action: modelarts.BatchReinstallOS,
			fields: func(token, _ string) url.Values {
				return osFields(token, url.Values{"confirm": {"REINSTALLOS"}, "user_data": {"echo hi"}})
			},
			file: []byte("echo file"), wantField: "os-user-data-error", wantMsg: "not both",
		},
	}
	for _, tt := range tests {
		for _, path := range []string{"/actions/review", "/actions/execute"} {
			t.Run(tt.name+path, func(t *testing.T) {
				_, token := e.preview(t, e.op, tt.action)
				fields := tt.fields(token, "")
				r := postMultipart(t, e.op, path, fields, fileName(tt.file), tt.file)
				if r.Status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422\n%s", r.Status, r.Body)
				}
				doc := r.Doc(t)
				msg := doc.Find("#" + tt.wantField).Text()
				if !strings.Contains(msg, tt.wantMsg) {
					t.Errorf("message at %s = %q, want it to contain %q", tt.wantField, msg, tt.wantMsg)
				}
				// The field that has the message points at it and is marked invalid.
				described := doc.Find(`[aria-describedby~="` + tt.wantField + `"]`)
				if described.Length() == 0 {
					t.Errorf("no control is described by #%s", tt.wantField)
				}
				if pw, ok := doc.Find(`input[name="admin_pass"]`).Attr("value"); ok && pw != "" {
					t.Error("the re-rendered form carries the password")
				}
				if strings.Contains(r.Body, badPass) || strings.Contains(r.Body, "Sup3r-Secret-pw") {
					t.Error("the response contains the password")
				}
				if n := e.sim.MutatingRequests(); n != 0 {
					t.Fatalf("the simulator received %d state-changing requests", n)
				}
			})
		}
	}

	t.Run("InlineValidate", func(t *testing.T) {
		tests := []struct {
			name, field, value, want string
		}{
			{name: "BadPassword", field: "admin_pass", value: badPass, want: `must not contain "root"`},
			{name: "GoodPassword", field: "admin_pass", value: "Fine-Pass-42", want: ""},
			{name: "BadKeyPair", field: "key_pair_name", value: "no spaces allowed", want: "1 to 64 letters"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				login := "password"
				if tt.field == "key_pair_name" {
					login = "key_pair"
				}
				r := e.op.HTMX(t, http.MethodPost, "/actions/validate", url.Values{
					"field": {tt.field}, "action": {"REINSTALLOS"}, "login": {login}, tt.field: {tt.value},
				})
				if r.Status != http.StatusOK {
					t.Fatalf("status %d\n%s", r.Status, r.Body)
				}
				got := strings.TrimSpace(r.Doc(t).Find("[data-field-error]").Text())
				if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
					t.Errorf("message = %q, want %q", got, tt.want)
				}
				if strings.Contains(r.Body, tt.value) && tt.field == "admin_pass" {
					t.Error("the answer repeats the password")
				}
			})
		}
	})
}

func TestActionConfirmation(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, eligible(modelarts.BatchDelete))
	e.selectServers(t, "operator1", idsOf(servers)...)
	doc, token := e.preview(t, e.op, modelarts.BatchDelete)
	if got := strings.TrimSpace(doc.Find(`#action-form button[type="submit"]`).Text()); got != "Continue" {
		t.Errorf("destructive preview button = %q, want Continue", got)
	}
	// The review answers with a modal dialog naming the server.
	rv := e.op.HTMX(t, http.MethodPost, "/actions/review", url.Values{"token": {token}})
	dlg := rv.Doc(t).Find("dialog")
	if rv.Status != http.StatusOK || dlg.Length() != 1 {
		t.Fatalf("review: %d\n%s", rv.Status, rv.Body)
	}
	labelled, _ := dlg.Attr("aria-labelledby")
	if dlg.Find("#"+labelled).Text() != "Delete 1 server?" {
		t.Errorf("dialog heading = %q", dlg.Find("#"+labelled).Text())
	}
	if !strings.Contains(dlg.Text(), "Deleting cannot be undone.") || !strings.Contains(dlg.Text(), servers[0].Name) {
		t.Errorf("dialog text = %q", dlg.Text())
	}
	if got := dlg.Find(`label[for="confirm-word"]`).Text(); got != "Type DELETE to confirm" {
		t.Errorf("word label = %q", got)
	}
	if _, disabled := dlg.Find(`button:contains("Confirm")`).Attr("disabled"); !disabled {
		t.Error("Confirm is enabled before the word is typed")
	}
	if dlg.Find(`button:contains("Cancel")`).Length() != 1 {
		t.Error("no Cancel button")
	}

	tests := []struct {
		name string
		word []string // nil: no field at all
	}{
		{name: "Missing"},
		{name: "Empty", word: []string{""}},
		{name: "LowerCase", word: []string{"delete"}},
		{name: "OtherWord", word: []string{"REINSTALLOS"}},
		{name: "TrailingSpace", word: []string{"DELETE "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := url.Values{"token": {token}}
			if tt.word != nil {
				v["confirm"] = tt.word
			}
			r := e.op.HTMX(t, http.MethodPost, "/actions/execute", v)
			if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Body, "type DELETE exactly") {
				t.Errorf("status %d, want 422 asking for DELETE\n%s", r.Status, r.Body)
			}
			if n := e.sim.MutatingRequests(); n != 0 {
				t.Fatalf("%d requests sent", n)
			}
		})
	}
	t.Run("PlainFormPost", func(t *testing.T) {
		r := e.op.PostForm(t, "/actions/execute", url.Values{"token": {token}})
		if r.Status != http.StatusUnprocessableEntity || e.sim.MutatingRequests() != 0 {
			t.Errorf("status %d, %d requests sent", r.Status, e.sim.MutatingRequests())
		}
	})
	t.Run("CorrectWordAfterRefusals", func(t *testing.T) {
		r := e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}, "confirm": {"DELETE"}})
		batchIDFrom(t, r)
		e.App.Batches().Wait()
		if n := e.sim.MutatingRequests(); n != 1 {
			t.Errorf("%d requests sent, want 1", n)
		}
	})
}

func TestActionRoleRefusal(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	e.selectServers(t, "operator1", idsOf(servers)...)
	_, token := e.preview(t, e.op, modelarts.BatchStop)
	for _, role := range []auth.Role{auth.RoleViewer, auth.RoleApprover} {
		c := e.As(t, role)
		e.selectServers(t, string(role)+"1", idsOf(servers)...)
		for _, path := range []string{"/actions/preview", "/actions/validate", "/actions/review", "/actions/execute"} {
			t.Run(string(role)+path, func(t *testing.T) {
				r := c.HTMX(t, http.MethodPost, path, url.Values{"action": {"STOP"}, "token": {token}, "field": {"admin_pass"}})
				if r.Status != http.StatusForbidden {
					t.Errorf("status %d, want 403", r.Status)
				}
			})
		}
	}
	if n := e.sim.MutatingRequests(); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	entries, _, err := e.App.Audit().List(context.Background(), audit.Filter{Action: string(audit.EventAccessDenied)}, 0, 100)
	if err != nil || len(entries) < 8 {
		t.Errorf("access.denied entries = %d, %v; want at least 8", len(entries), err)
	}
	t.Run("SignedOut", func(t *testing.T) {
		r := e.Anonymous(t).PostForm(t, "/actions/execute", url.Values{"token": {token}, "_csrf": {""}})
		if r.Status != http.StatusForbidden && r.Status != http.StatusUnauthorized {
			t.Errorf("status %d, want 401 or 403", r.Status)
		}
	})
}

func TestActionDoubleSubmit(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 2, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	e.selectServers(t, "operator1", idsOf(servers)...)
	_, token := e.preview(t, e.op, modelarts.BatchReboot)
	first := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
	// A second click, a back-and-resubmit as a plain form, a retry.
	second := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
	plain := e.op.PostForm(t, "/actions/execute", url.Values{"token": {token}})
	if plain.Status != http.StatusSeeOther || plain.Header.Get("Location") != "/batches/"+first {
		t.Errorf("plain resubmit: %d to %q, want 303 to the first batch", plain.Status, plain.Header.Get("Location"))
	}
	if second != first {
		t.Errorf("second submit went to %s, first to %s", second, first)
	}
	e.App.Batches().Wait()
	if n := e.sim.MutatingRequests(); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
	waitDone(t, e.op, first)
}

// auditEntries returns the batch's audit entries, oldest first.
func auditEntries(t *testing.T, e *actionEnv, batchID string) []audit.Entry {
	t.Helper()
	entries, _, err := e.App.Audit().List(context.Background(), audit.Filter{Correlation: batchID}, 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(entries)-1; i < j; i, j = i+1, j-1 {
		entries[i], entries[j] = entries[j], entries[i]
	}
	return entries
}

func TestActionChunking(t *testing.T) {
	e := newActionEnv(t, func(c *config.Config) { c.ChunkSize = 2 })
	servers := e.pick(t, 5, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
	e.selectServers(t, "operator1", idsOf(servers)...)
	_, token := e.preview(t, e.op, modelarts.BatchReboot)
	id := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
	doc := waitDone(t, e.op, id)
	if got := doc.Find(".batch-chunks li").Length(); got != 3 {
		t.Errorf("the page lists %d requests, want 3", got)
	}
	if !strings.Contains(doc.Find(".batch-chunks li").Last().Text(), "Request 3 of 3 (1 server)") {
		t.Errorf("last request = %q", doc.Find(".batch-chunks li").Last().Text())
	}
	if n := e.sim.MutatingRequests(); n != 3 {
		t.Errorf("%d requests sent, want 3", n)
	}
	var requests, responses int
	for _, en := range auditEntries(t, e, id) {
		switch en.Kind {
		case audit.KindRequest:
			requests++
		case audit.KindResponse:
			responses++
			if en.Outcome != audit.OutcomeSuccess || en.RequestID == "" {
				t.Errorf("response entry %d: outcome %s, request id %q", en.ID, en.Outcome, en.RequestID)
			}
		}
	}
	if requests != 3 || responses != 3 {
		t.Errorf("audit has %d requests and %d responses for the batch, want 3 and 3", requests, responses)
	}
}

func TestActionFailuresShown(t *testing.T) {
	t.Run("ServerErrorIsOutcomeUnknown", func(t *testing.T) {
		e := newActionEnv(t)
		servers := e.pick(t, 2, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
		e.selectServers(t, "operator1", idsOf(servers)...)
		_, token := e.preview(t, e.op, modelarts.BatchStop)
		e.sim.FailNextMethod(http.MethodPost, simulator.FaultError, 1)
		id := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
		var chunk string
		testutil.Eventually(t, 20*time.Second, "the request line says the outcome is unknown", func() error {
			doc := e.op.HTMX(t, http.MethodGet, "/batches/"+id+"/status", nil).Doc(t)
			chunk = strings.Join(strings.Fields(doc.Find(".batch-chunks li").First().Text()), " ")
			if !strings.Contains(chunk, "HTTP 500") {
				return fmt.Errorf("request line %q", chunk)
			}
			return nil
		})
		entries := auditEntries(t, e, id)
		var reqID string
		for _, en := range entries {
			if en.Kind == audit.KindResponse {
				reqID = en.RequestID
			}
		}
		// A 500 may have acted: never "refused, nothing changed".
		for _, want := range []string{"ModelArts.0050", "HTTP 500", "may have acted", "request id " + reqID, "Check these servers before trying again"} {
			if !strings.Contains(chunk, want) {
				t.Errorf("request line %q does not contain %q", chunk, want)
			}
		}
		if strings.Contains(chunk, "Nothing was changed") || strings.Contains(chunk, "refused") {
			t.Errorf("request line %q calls a 500 a refusal", chunk)
		}
		if reqID == "" {
			t.Error("no X-Request-Id reached the audit log")
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		e := newActionEnv(t, func(c *config.Config) { c.RequestTimeout = 400 * time.Millisecond })
		servers := e.pick(t, 1, nil, func(s *modelarts.ServerResponse) bool { return s.Status == modelarts.StatusRunning })
		e.selectServers(t, "operator1", idsOf(servers)...)
		_, token := e.preview(t, e.op, modelarts.BatchStop)
		e.sim.FailNextMethod(http.MethodPost, simulator.FaultTimeout, 1)
		id := batchIDFrom(t, e.op.HTMX(t, http.MethodPost, "/actions/execute", url.Values{"token": {token}}))
		doc := waitDone(t, e.op, id)
		chunk := strings.Join(strings.Fields(doc.Find(".batch-chunks li").First().Text()), " ")
		if !strings.Contains(chunk, "No answer within") || !strings.Contains(chunk, "the outcome is unknown: ModelArts may have acted. Check these servers before trying again") {
			t.Errorf("request line = %q", chunk)
		}
		if !strings.Contains(doc.Find(`.batch-alert[role="alert"]`).Text(), "did not go through cleanly") {
			t.Errorf("alert = %q", doc.Find(".batch-alert").Text())
		}
		var outcome audit.Outcome
		for _, en := range auditEntries(t, e, id) {
			if en.Kind == audit.KindResponse {
				outcome = en.Outcome
			}
		}
		if outcome != audit.OutcomeTransportError {
			t.Errorf("audit response outcome = %q, want transport_error", outcome)
		}
	})
}

func TestActionAuditRedaction(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, eligible(modelarts.BatchReinstallOS))
	e.selectServers(t, "operator1", idsOf(servers)...)
	_, token := e.preview(t, e.op, modelarts.BatchReinstallOS)
	const pass = "Qw9-redact-Me"
	const script = "echo secret-token-from-user-data"
	fields := url.Values{"token": {token}, "login": {"password"}, "admin_pass": {pass}, "user_data": {script}, "confirm": {"REINSTALLOS"}}
	id := batchIDFrom(t, postMultipart(t, e.op, "/actions/execute", fields, "", nil))
	waitDone(t, e.op, id)
	entries := auditEntries(t, e, id)
	if len(entries) != 2 || entries[0].Kind != audit.KindRequest || entries[1].Kind != audit.KindResponse {
		t.Fatalf("entries = %d; want a request and a response", len(entries))
	}
	req := entries[0]
	if req.Actor.Name != "operator1" || req.Action != "REINSTALLOS" || len(req.Targets) != 1 || req.Targets[0].Name != servers[0].Name {
		t.Errorf("request entry: actor %+v action %s targets %+v", req.Actor, req.Action, req.Targets)
	}
	body := string(req.RequestBody)
	if strings.Contains(body, pass) || !strings.Contains(body, audit.Redacted) {
		t.Errorf("request body is not redacted: %s", body)
	}
	for _, en := range entries {
		all := string(en.RequestBody) + string(en.ResponseBody) + strings.Join(audit.HeaderLines(en.RequestHeaders), "\n")
		if strings.Contains(all, pass) || strings.Contains(all, base64.StdEncoding.EncodeToString([]byte(script))) {
			t.Errorf("entry %d holds a secret", en.ID)
		}
	}
	if strings.Contains(e.Logs.String(), pass) {
		t.Error("the log holds the password")
	}
	// The simulator did receive the real password: redaction is only on our side.
	var got bool
	for _, r := range e.sim.Requests() {
		if r.Mutating && strings.Contains(string(r.Body), pass) {
			got = true
		}
	}
	if !got {
		t.Error("the simulator never received the password")
	}
}

func TestActionWithoutJavaScript(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, eligible(modelarts.BatchReinstallOS))
	e.selectServers(t, "operator1", idsOf(servers)...)
	// The action bar posted as a plain form: a whole page comes back.
	r := e.op.PostForm(t, "/actions/preview", url.Values{"action": {"REINSTALLOS"}})
	doc := r.Doc(t)
	if r.Status != http.StatusOK || doc.Find("html main #action-panel #action-form").Length() != 1 {
		t.Fatalf("preview page: %d\n%s", r.Status, r.Body)
	}
	token, _ := doc.Find(`input[name="token"]`).Attr("value")
	const pass = "Nj5-no-script-pw"
	fields := url.Values{"token": {token}, "login": {"password"}, "admin_pass": {pass}, "user_data": {"echo hi"}}
	// Review as a page: the settings are carried over, the password is not.
	r = e.op.PostForm(t, "/actions/review", fields)
	doc = r.Doc(t)
	if r.Status != http.StatusOK || doc.Find(`form[action="/actions/execute"]`).Length() != 1 {
		t.Fatalf("confirm page: %d\n%s", r.Status, r.Body)
	}
	if strings.Contains(r.Body, pass) {
		t.Error("the confirmation page carries the password")
	}
	if got := doc.Find(`label[for="confirm-word"]`).Text(); got != "Type REINSTALLOS to confirm" {
		t.Errorf("word label = %q", got)
	}
	carried := url.Values{"_csrf": {e.op.CSRF}}
	doc.Find(`form[action="/actions/execute"] input[type="hidden"]`).Each(func(_ int, s *goquery.Selection) {
		n, _ := s.Attr("name")
		v, _ := s.Attr("value")
		carried.Add(n, v)
	})
	if carried.Get("user_data") != "echo hi" || carried.Get("login") != "password" {
		t.Errorf("carried fields = %v", carried)
	}
	if doc.Find(`input[name="admin_pass"][type="password"]`).Length() != 1 {
		t.Error("the page does not ask for the password again")
	}
	carried.Set("admin_pass", pass)
	carried.Set("confirm", "REINSTALLOS")
	r = e.op.PostForm(t, "/actions/execute", carried)
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, "/batches/") {
		t.Fatalf("execute: %d to %q\n%s", r.Status, loc, r.Body)
	}
	waitDone(t, e.op, strings.TrimPrefix(loc, "/batches/"))
	if n := e.sim.MutatingRequests(); n != 1 {
		t.Errorf("%d requests sent, want 1", n)
	}
}

func TestActionChangeOSMixedPlatforms(t *testing.T) {
	e := newActionEnv(t)
	used := map[string]bool{}
	ecs := e.pick(t, 1, used, changeable(modelarts.ServerTypeECS, modelarts.ArchX86))
	bms := e.pick(t, 1, used, changeable(modelarts.ServerTypeBMS, modelarts.ArchARM))
	e.selectServers(t, "operator1", ecs[0].ID, bms[0].ID)
	doc, token := e.preview(t, e.op, modelarts.BatchChangeOS)
	problem := doc.Find(`.action-problem[role="alert"]`).Text()
	if !strings.Contains(problem, "mix server types or architectures") || !strings.Contains(problem, "BMS/ARM") {
		t.Errorf("problem = %q", problem)
	}
	if token != "" || doc.Find("select[name=image_id]").Length() != 0 {
		t.Error("a mixed selection still offers the Change OS form")
	}
	// Reinstall OS keeps each server's own image, so the same mix is fine.
	doc, token = e.preview(t, e.op, modelarts.BatchReinstallOS)
	if token == "" || doc.Find(".action-problem").Length() != 0 {
		t.Errorf("Reinstall OS on a mixed selection: token %q, problem %q", token, doc.Find(".action-problem").Text())
	}
}

func TestActionHostileServerName(t *testing.T) {
	e := newActionEnv(t)
	servers := e.pick(t, 1, nil, eligible(modelarts.BatchDelete))
	const evil = `<img src=x onerror=alert(1)>`
	if err := e.sim.SetServerName(servers[0].ID, evil); err != nil {
		t.Fatal(err)
	}
	e.selectServers(t, "operator1", servers[0].ID)
	r := e.op.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {"DELETE"}})
	doc := r.Doc(t)
	token, _ := doc.Find(`input[name="token"]`).Attr("value")
	rv := e.op.HTMX(t, http.MethodPost, "/actions/review", url.Values{"token": {token}})
	for name, body := range map[string]string{"preview": r.Body, "dialog": rv.Body} {
		d := (&apptest.Response{Body: body}).Doc(t)
		if d.Find("img").Length() != 0 || strings.Contains(body, evil) {
			t.Errorf("%s renders the name as markup", name)
		}
		if !strings.Contains(d.Text(), evil) {
			t.Errorf("%s does not show the name literally", name)
		}
	}
}

// TestActionPreviewLifecycleRules: the preview applies each rule of the
// lifecycle to the server's current state, and says why a server is
// skipped; nothing is sent.
func TestActionPreviewLifecycleRules(t *testing.T) {
	e := newActionEnv(t, func(c *config.Config) { c.SimTransition = time.Hour })
	used := map[string]bool{}
	status := func(st modelarts.Status) func(*modelarts.ServerResponse) bool {
		return func(s *modelarts.ServerResponse) bool { return s.Status == st && !s.IsSupernode() }
	}
	// One server is caught mid-transition.
	moving := e.pick(t, 1, used, status(modelarts.StatusRunning))[0]
	simAction(t, e.sim, http.MethodPut, moving.ID, "stop")
	e.App.Fleet().Invalidate()
	sentBefore := e.sim.MutatingRequests()

	tests := []struct {
		name   string
		action modelarts.BatchType
		server func(*modelarts.ServerResponse) bool
		id     string // instead of server
		want   string
	}{
		{name: "StartFromStopped", action: modelarts.BatchStart, server: status(modelarts.StatusStopped), want: "Will be sent"},
		{name: "StartFromRunning", action: modelarts.BatchStart, server: status(modelarts.StatusRunning),
			want: "Skipped: only stopped servers can be started; this one is running"},
		{name: "RebootStopped", action: modelarts.BatchReboot, server: status(modelarts.StatusStopped),
			want: "Skipped: only running servers can be rebooted; this one is stopped"},
		{name: "ChangeOSWhenStopped", action: modelarts.BatchChangeOS, server: status(modelarts.StatusStopped), want: "Will be sent"},
		{name: "ChangeOSAfterFailedChange", action: modelarts.BatchChangeOS, server: status(modelarts.StatusChangingOSFailed), want: "Will be sent"},
		{name: "ReinstallRunning", action: modelarts.BatchReinstallOS, server: status(modelarts.StatusRunning),
			want: "Skipped: the OS can only be changed or reinstalled on a stopped server (or after a failed OS change); this one is running"},
		{name: "ChangeOSSupernode", action: modelarts.BatchChangeOS,
			server: func(s *modelarts.ServerResponse) bool { return s.IsSupernode() && s.Status == modelarts.StatusStopped },
			want:   "Skipped: batch OS change and reinstall are not supported for supernode (HPS) servers"},
		{name: "DeletePrepaid", action: modelarts.BatchDelete,
			server: func(s *modelarts.ServerResponse) bool {
				return s.ChargingMode == modelarts.ChargingPrePaid && !s.Status.Transient()
			},
			want: "Skipped: yearly/monthly (PRE_PAID) servers cannot be deleted here; unsubscribe them in Billing"},
		{name: "DeletePayPerUse", action: modelarts.BatchDelete,
			server: func(s *modelarts.ServerResponse) bool {
				return s.ChargingMode == modelarts.ChargingPostPaid && s.Status == modelarts.StatusStopped
			},
			want: "Will be sent"},
		{name: "Busy", action: modelarts.BatchStart, id: moving.ID,
			want: "Skipped: busy: the server is stopping; wait until it settles"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.id
			if id == "" {
				id = e.pick(t, 1, used, tt.server)[0].ID
			}
			e.selectServers(t, "operator1", id)
			doc, _ := e.preview(t, e.op, tt.action)
			row := doc.Find(".action-preview-table tbody tr").FilterFunction(func(_ int, tr *goquery.Selection) bool {
				return strings.Contains(tr.Find("th").Text(), id)
			})
			if row.Length() != 1 {
				t.Fatalf("the preview has %d rows for %s", row.Length(), id)
			}
			if got := strings.TrimSpace(row.Find("td").Last().Text()); got != tt.want {
				t.Errorf("row says %q, want %q", got, tt.want)
			}
			if badge := row.Find(".badge"); strings.TrimSpace(badge.Text()) == "" || badge.AttrOr("data-status", "") == "" {
				t.Error("the row does not show the server's status in words")
			}
		})
	}
	if n := e.sim.MutatingRequests() - sentBefore; n != 0 {
		t.Errorf("previews sent %d state-changing requests", n)
	}
}
