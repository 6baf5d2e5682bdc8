package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/views"
)

// renderAction renders c for an operator and parses it.
func renderAction(t *testing.T, c templ.Component) (*goquery.Document, string) {
	t.Helper()
	ctx := views.WithPage(context.Background(), views.PageContext{
		User: &auth.User{ID: 1, Name: "olga", Role: auth.RoleOperator}, CSRFToken: "csrf-tok", Path: "/servers",
	})
	var buf bytes.Buffer
	if err := c.Render(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(buf.String()))
	if err != nil {
		t.Fatal(err)
	}
	return doc, buf.String()
}

// hostile texts a server, image or error message might carry.
var hostile = []struct {
	name string
	text string
}{
	{name: "ScriptTag", text: `<script>alert("x")</script>`},
	{name: "AttributeBreakout", text: `"><img src=x onerror=alert(1)>`},
	{name: "SingleQuote", text: `' onmouseover='alert(1)`},
	{name: "Entity", text: `&lt;b&gt;&amp;`},
}

// assertInert checks that raw carries no markup injected from text and that
// doc shows text literally.
func assertInert(t *testing.T, doc *goquery.Document, raw, text string) {
	t.Helper()
	if doc.Find("script:not([src]), img").Length() != 0 {
		t.Errorf("hostile text became markup:\n%s", raw)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(a.Key, "on") {
				t.Errorf("hostile text created the attribute %s=%q", a.Key, a.Val)
			}
		}
	})
	if strings.Contains(raw, text) && strings.ContainsAny(text, `<>"'`) {
		t.Errorf("raw output contains the unescaped text %q", text)
	}
	if !strings.Contains(doc.Text(), text) {
		t.Errorf("the text %q is not shown literally", text)
	}
}

func TestActionPanelEscapesHostileText(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			d := views.ActionPreviewData{
				Action: modelarts.BatchChangeOS,
				Token:  "tok",
				Targets: []batch.Target{{ID: "6f1c0d3e-0000-4000-8000-000000000001", Name: h.text,
					Status: modelarts.StatusStopped}},
				Skipped: []batch.Skip{{ID: "6f1c0d3e-0000-4000-8000-000000000002", Name: h.text + "2",
					Status: modelarts.StatusRunning, Reason: h.text + " reason"}},
				OS: &views.OSFormData{
					Images:      []modelarts.ServerImageResponse{{ImageID: "img-1", Name: h.text, Arch: modelarts.ArchX86, ServerType: modelarts.ServerTypeECS}},
					KeyPairName: h.text,
					UserData:    h.text,
					Errors:      map[string]string{"image_id": h.text},
				},
			}
			doc, raw := renderAction(t, views.ActionPanel(d))
			assertInert(t, doc, raw, h.text)
			if got := doc.Find(`#os-image option[value="img-1"]`).Text(); !strings.Contains(got, h.text) {
				t.Errorf("image option = %q", got)
			}
			if got, _ := doc.Find(`#os-key-pair-name`).Attr("value"); got != h.text {
				t.Errorf("key pair value = %q", got)
			}
			if got := doc.Find(`#os-user-data`).Text(); got != h.text {
				t.Errorf("user data = %q", got)
			}
		})
	}
}

func TestConfirmDialogEscapesHostileText(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			d := views.ConfirmData{
				Action:  modelarts.BatchChangeOS,
				Targets: []batch.Target{{ID: "6f1c0d3e-0000-4000-8000-000000000001", Name: h.text}},
				Params:  batch.Params{ImageID: "img", ImageName: h.text, KeyPairName: h.text},
			}
			doc, raw := renderAction(t, views.ConfirmDialog(d))
			assertInert(t, doc, raw, h.text)
		})
	}
}

func TestConfirmDialogAccessibleNames(t *testing.T) {
	tests := []struct {
		action      modelarts.BatchType
		word        string
		consequence string
	}{
		{action: modelarts.BatchDelete, word: "DELETE", consequence: "Deleting cannot be undone."},
		{action: modelarts.BatchReinstallOS, word: "REINSTALLOS", consequence: "The system disk of each server is wiped; its data is lost."},
		{action: modelarts.BatchChangeOS, word: "CHANGEOS", consequence: "The system disk of each server is wiped; its data is lost."},
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			d := views.ConfirmData{Action: tt.action, Targets: []batch.Target{
				{ID: "6f1c0d3e-0000-4000-8000-000000000001", Name: "gpu-a"},
				{ID: "6f1c0d3e-0000-4000-8000-000000000002", Name: "gpu-b"},
			}, Params: batch.Params{PasswordSet: true}}
			doc, raw := renderAction(t, views.ConfirmDialog(d))
			dlg := doc.Find("dialog")
			labelledBy, _ := dlg.Attr("aria-labelledby")
			if dlg.Length() != 1 || doc.Find("#"+labelledBy).Length() != 1 {
				t.Fatalf("dialog %d, heading #%s missing", dlg.Length(), labelledBy)
			}
			if !strings.Contains(dlg.Find(".consequence").Text(), tt.consequence) {
				t.Errorf("consequence = %q", dlg.Find(".consequence").Text())
			}
			inputID, _ := dlg.Find("[data-confirm-word]").Attr("id")
			label := dlg.Find(`label[for="` + inputID + `"]`).Text()
			if !strings.Contains(label, tt.word) {
				t.Errorf("label %q does not contain %s", label, tt.word)
			}
			if w, _ := dlg.Find("[data-confirm-word]").Attr("data-confirm-word"); w != tt.word {
				t.Errorf("data-confirm-word = %q", w)
			}
			var buttons []string
			dlg.Find("button").Each(func(_ int, b *goquery.Selection) { buttons = append(buttons, strings.TrimSpace(b.Text())) })
			if strings.Join(buttons, ",") != "Cancel,Confirm" {
				t.Errorf("buttons = %q", buttons)
			}
			if _, ok := dlg.Find("[data-confirm-button]").Attr("disabled"); !ok {
				t.Error("Confirm starts enabled")
			}
			for _, n := range []string{"gpu-a", "gpu-b"} {
				if !strings.Contains(dlg.Find(".confirm-targets").Text(), n) {
					t.Errorf("dialog does not name %s", n)
				}
			}
			if tt.action.NeedsOSParams() && !strings.Contains(raw, "(password set)") {
				t.Error("the dialog does not say a password is set")
			}
		})
	}
}

func TestActionFormKinds(t *testing.T) {
	base := views.ActionPreviewData{Token: "tok", ExpiresAt: time.Now().Add(time.Minute),
		Targets: []batch.Target{{ID: "a", Name: "a"}, {ID: "b", Name: "b"}}}
	tests := []struct {
		action     modelarts.BatchType
		wantButton string
		wantPost   string
	}{
		{action: modelarts.BatchStart, wantButton: "Run Start on 2 servers", wantPost: "/actions/execute"},
		{action: modelarts.BatchStop, wantButton: "Run Stop on 2 servers", wantPost: "/actions/execute"},
		{action: modelarts.BatchReboot, wantButton: "Run Reboot on 2 servers", wantPost: "/actions/execute"},
		{action: modelarts.BatchDelete, wantButton: "Continue", wantPost: "/actions/review"},
		{action: modelarts.BatchReinstallOS, wantButton: "Continue", wantPost: "/actions/review"},
	}
	for _, tt := range tests {
		t.Run(string(tt.action), func(t *testing.T) {
			d := base
			d.Action = tt.action
			if tt.action.NeedsOSParams() {
				d.OS = &views.OSFormData{Login: views.LoginPassword}
			}
			doc, _ := renderAction(t, views.ActionPanel(d))
			form := doc.Find("#action-form")
			if got, _ := form.Attr("hx-post"); got != tt.wantPost {
				t.Errorf("hx-post = %q, want %q", got, tt.wantPost)
			}
			if got := strings.TrimSpace(form.Find(`button[type="submit"]`).Text()); got != tt.wantButton {
				t.Errorf("button = %q, want %q", got, tt.wantButton)
			}
			if _, ok := form.Attr("hx-disabled-elt"); !ok {
				t.Error("the submit button does not disable itself")
			}
			if tok, _ := form.Find(`input[name="token"]`).Attr("value"); tok != "tok" {
				t.Errorf("token = %q", tok)
			}
			if tt.action.NeedsOSParams() {
				if _, ok := form.Find(`input[name="admin_pass"]`).Attr("value"); ok {
					t.Error("the password field has a value")
				}
				if got, _ := form.Find(`input[name="login"][value="password"]`).Attr("checked"); got != "" {
					t.Errorf("checked = %q", got)
				}
				if _, ok := form.Find(`input[name="login"][value="password"]`).Attr("checked"); !ok {
					t.Error("the chosen login method is not checked")
				}
				trigger, _ := form.Find("#os-admin-pass").Attr("hx-trigger")
				if trigger != "input changed delay:300ms" {
					t.Errorf("admin_pass hx-trigger = %q", trigger)
				}
			}
		})
	}
}

func TestBatchStatusEscapesAndPolls(t *testing.T) {
	for _, h := range hostile {
		t.Run(h.name, func(t *testing.T) {
			p := &batch.Progress{
				Batch: batch.Batch{ID: "b-1", UserName: h.text, Action: modelarts.BatchStop, Total: 1, ChunkSize: 50,
					Skipped: []batch.Skip{{ID: "s", Name: h.text, Reason: h.text}}},
				Chunks: []batch.Chunk{{N: 1, ServerIDs: []string{"x"}, Outcome: batch.OutcomeAPIError, HTTPStatus: 400,
					ErrorCode: "ModelArts.6404", ErrorMsg: h.text, RequestID: "abc123"}},
				Servers: []batch.ServerState{{ID: "x", Name: h.text, Chunk: 1, Initial: modelarts.StatusRunning,
					Current: modelarts.StatusRunning, Result: batch.ResultRefused}},
				Counts: batch.Counts{Total: 1, Refused: 1, FailedChunks: 1},
			}
			doc, raw := renderAction(t, views.BatchPage(views.BatchPageData{Progress: p}))
			assertInert(t, doc, raw, h.text)
			alert := doc.Find(`.batch-alert[role="alert"]`)
			if !strings.Contains(alert.Text(), "1 server needs attention") {
				t.Errorf("alert = %q", alert.Text())
			}
			line := strings.Join(strings.Fields(doc.Find(".batch-chunks li").Text()), " ")
			want := "ModelArts refused the request: ModelArts.6404 — " + strings.Join(strings.Fields(h.text), " ") + " (HTTP 400, request id abc123)"
			if !strings.Contains(line, want) {
				t.Errorf("chunk line = %q, want it to contain %q", line, want)
			}
			if trig, _ := doc.Find("#batch-status").Attr("hx-trigger"); trig != "every 2s" {
				t.Errorf("a running batch polls with %q", trig)
			}
			p.Done = true
			doc, _ = renderAction(t, views.BatchStatus(p))
			if _, ok := doc.Find("#batch-status").Attr("hx-trigger"); ok {
				t.Error("a finished batch still polls")
			}
		})
	}
}

func TestChunkExplanation(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		chunk batch.Chunk
		want  string
	}{
		{name: "OK", chunk: batch.Chunk{Outcome: batch.OutcomeOK, HTTPStatus: 200},
			want: "ModelArts accepted the request (HTTP 200)."},
		{name: "Throttled", chunk: batch.Chunk{Outcome: batch.OutcomeAPIError, HTTPStatus: 429, ErrorCode: "APIGW.0308", ErrorMsg: "over ratelimit", RequestID: "r1"},
			want: "ModelArts refused the request: APIGW.0308 — over ratelimit (HTTP 429, request id r1). Nothing was changed for these servers. ModelArts is rate-limiting the console; wait a few seconds before trying again."},
		{name: "Timeout", chunk: batch.Chunk{Outcome: batch.OutcomeUnknown, StartedAt: start, FinishedAt: start.Add(30 * time.Second),
			TransportError: "no answer within 30s (context deadline exceeded)", Failure: batch.FailureTimeout},
			want: "No answer within 30s — the outcome is unknown: ModelArts may have acted. Check these servers before trying again; the console keeps watching them and records where they end."},
		{name: "Reset", chunk: batch.Chunk{Outcome: batch.OutcomeUnknown, TransportError: "connection reset by peer", Failure: batch.FailureCut},
			want: "The connection failed after the request was sent; the outcome is unknown: ModelArts may have acted. Check these servers before trying again; the console keeps watching them and records where they end."},
		{name: "GatewayTimeout", chunk: batch.Chunk{Outcome: batch.OutcomeUnknown, HTTPStatus: 504, ErrorCode: "APIGW.0203", ErrorMsg: "Backend timeout", RequestID: "r9", Failure: batch.FailureHTTP},
			want: "ModelArts answered HTTP 504 Gateway Timeout (APIGW.0203 Backend timeout); the outcome is unknown: ModelArts may have acted (request id r9). Check these servers before trying again; the console keeps watching them and records where they end."},
		{name: "Unreachable", chunk: batch.Chunk{Outcome: batch.OutcomeNotSent, TransportError: "dial tcp: connection refused", Failure: batch.FailureUnreachable},
			want: "ModelArts could not be reached (connection refused or name not found); nothing was sent."},
		{name: "NotRecorded", chunk: batch.Chunk{Outcome: batch.OutcomeNotSent, TransportError: "the audit log could not record the request, so the console did not send it"},
			want: "Not sent: the audit log could not record the request, so the console did not send it. Nothing was changed for these servers."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := views.ChunkExplanation(context.Background(), tt.chunk); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
