package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/notify"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

// newDB opens a new database of the engine CONSOLE_TEST_ENGINE names.
func newDB(t *testing.T) *store.DB {
	t.Helper()
	return storetest.Open(t)
}

// receiver is a local webhook endpoint that records what it receives and
// answers with the next scripted reply (the last one repeats).
type receiver struct {
	mu      sync.Mutex
	bodies  [][]byte
	types   []string
	replies []reply
	hold    chan struct{} // when set, each request waits for it
	srv     *httptest.Server
}

type reply struct {
	status int
	body   string
}

func newReceiver(t *testing.T, replies ...reply) *receiver {
	t.Helper()
	r := &receiver{replies: replies}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.hold != nil {
			select {
			case <-r.hold:
			case <-req.Context().Done():
				return
			}
		}
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.types = append(r.types, req.Header.Get("Content-Type"))
		rep := reply{200, `{}`}
		if len(r.replies) > 0 {
			rep = r.replies[0]
			if len(r.replies) > 1 {
				r.replies = r.replies[1:]
			}
		}
		r.mu.Unlock()
		w.WriteHeader(rep.status)
		io.WriteString(w, rep.body)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...)
}

func newNotifier(t *testing.T, db *store.DB, url string, f notify.Format, mod ...func(*notify.Config)) *notify.Notifier {
	t.Helper()
	cfg := notify.Config{
		URL: url, Format: f, PublicURL: "https://console.example.com/", DB: db,
		Backoff: func(int) time.Duration { return time.Millisecond },
		Timeout: 2 * time.Second, Attempts: 3,
	}
	for _, m := range mod {
		m(&cfg)
	}
	n, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close(context.Background()) })
	return n
}

func flush(t *testing.T, n *notify.Notifier) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

var sample = notify.Event{
	Kind:    notify.EventApprovalRequested,
	Subject: "5f0c",
	Title:   "Approval requested: Delete on 2 servers",
	Lines:   []string{"Requested by ann", "Reason: [click](http://evil) <b>"},
	Path:    "/approvals/5f0c",
	At:      time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC),
}

const wantLink = "https://console.example.com/approvals/5f0c"

// TestFormats sends one message in each format to a local receiver and
// checks the shape that chat tool's incoming webhook expects.
func TestFormats(t *testing.T) {
	tests := []struct {
		format notify.Format
		check  func(t *testing.T, m map[string]any)
	}{
		{notify.FormatJSON, func(t *testing.T, m map[string]any) {
			if m["event"] != "approval.requested" || m["subject"] != "5f0c" || m["url"] != wantLink || m["title"] != sample.Title || m["at"] != "2026-12-02T01:00:00Z" {
				t.Errorf("json message = %v", m)
			}
			if lines, _ := m["lines"].([]any); len(lines) != 2 {
				t.Errorf("lines = %v", m["lines"])
			}
		}},
		{notify.FormatWeCom, func(t *testing.T, m map[string]any) {
			md, _ := m["markdown"].(map[string]any)
			content, _ := md["content"].(string)
			if m["msgtype"] != "markdown" || !strings.Contains(content, "("+wantLink+")") || !strings.Contains(content, "Delete on 2 servers") {
				t.Errorf("wecom message = %v", m)
			}
			if strings.Contains(content, "[click]") || strings.Contains(content, "<b>") {
				t.Errorf("a reason became markup: %q", content)
			}
		}},
		{notify.FormatDingTalk, func(t *testing.T, m map[string]any) {
			md, _ := m["markdown"].(map[string]any)
			text, _ := md["text"].(string)
			if m["msgtype"] != "markdown" || md["title"] != sample.Title || !strings.Contains(text, "("+wantLink+")") {
				t.Errorf("dingtalk message = %v", m)
			}
		}},
		{notify.FormatFeishu, func(t *testing.T, m map[string]any) {
			content, _ := m["content"].(map[string]any)
			post, _ := content["post"].(map[string]any)
			zh, _ := post["zh_cn"].(map[string]any)
			rows, _ := zh["content"].([]any)
			if m["msg_type"] != "post" || zh["title"] != sample.Title || len(rows) != 3 {
				t.Fatalf("feishu message = %v", m)
			}
			last := rows[2].([]any)[0].(map[string]any)
			if last["tag"] != "a" || last["href"] != wantLink {
				t.Errorf("feishu link = %v", last)
			}
		}},
		{notify.FormatSlack, func(t *testing.T, m map[string]any) {
			text, _ := m["text"].(string)
			if !strings.Contains(text, "<"+wantLink+"|Open in the console>") || !strings.HasPrefix(text, "*Approval requested") {
				t.Errorf("slack message = %q", text)
			}
			if strings.Contains(text, "<b>") {
				t.Errorf("slack text is not escaped: %q", text)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			db := newDB(t)
			rcv := newReceiver(t, reply{200, `{"errcode":0,"errmsg":"ok","code":0}`})
			n := newNotifier(t, db, rcv.srv.URL+"/hook?key=TOKEN", tt.format)
			n.Notify(sample)
			flush(t, n)
			got := rcv.received()
			if len(got) != 1 {
				t.Fatalf("received %d messages, want 1", len(got))
			}
			if rcv.types[0] != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", rcv.types[0])
			}
			var m map[string]any
			if err := json.Unmarshal(got[0], &m); err != nil {
				t.Fatalf("not JSON: %s", got[0])
			}
			tt.check(t, m)
			if n.Delivered() != 1 {
				t.Errorf("Delivered = %d", n.Delivered())
			}
		})
	}
}

// TestRetries checks that a failing receiver is retried with backoff and a
// later success counts, and that the chat tools' "200 with an error code"
// answers are failures.
func TestRetries(t *testing.T) {
	db := newDB(t)
	rcv := newReceiver(t, reply{503, "busy"}, reply{200, `{"errcode":45009,"errmsg":"api freq out of limit"}`}, reply{200, `{"errcode":0}`})
	n := newNotifier(t, db, rcv.srv.URL, notify.FormatWeCom)
	n.Notify(sample)
	flush(t, n)
	if got := len(rcv.received()); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	if n.Delivered() != 1 {
		t.Errorf("Delivered = %d, want 1", n.Delivered())
	}
	fails, err := notify.Failures(context.Background(), db, 10)
	if err != nil || len(fails) != 0 {
		t.Errorf("failures = %v, %v", fails, err)
	}
}

// TestFailureRecordedWithoutURL gives up after the attempts, records the
// failure for admins and logs it, and never writes the webhook URL (with
// its token) anywhere.
func TestFailureRecordedWithoutURL(t *testing.T) {
	db := newDB(t)
	logs := &testutil.LogBuffer{}
	rcv := newReceiver(t, reply{200, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`})
	n := newNotifier(t, db, rcv.srv.URL+"/open-apis/bot/v2/hook/SECRET-TOKEN", notify.FormatFeishu, func(c *notify.Config) { c.Log = slog.New(slog.NewTextHandler(logs, nil)) })
	n.Notify(sample)
	flush(t, n)
	if got := len(rcv.received()); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	fails, err := notify.Failures(context.Background(), db, 10)
	if err != nil || len(fails) != 1 {
		t.Fatalf("failures = %v, %v", fails, err)
	}
	f := fails[0]
	if f.Event != "approval.requested" || f.Subject != "5f0c" || f.Attempts != 3 || !strings.Contains(f.Error, "code 19021") {
		t.Errorf("failure = %+v", f)
	}
	if !strings.Contains(logs.String(), "webhook message not delivered") {
		t.Errorf("the failure was not logged: %s", logs.String())
	}
	if strings.Contains(logs.String(), "SECRET-TOKEN") || strings.Contains(f.Error, "SECRET-TOKEN") {
		t.Error("the webhook URL's token was logged or stored")
	}
}

// TestUnreachableAndTimeout: a receiver that does not answer in time and
// one that cannot be reached are failures whose words hold no URL.
func TestUnreachableAndTimeout(t *testing.T) {
	db := newDB(t)
	rcv := newReceiver(t)
	rcv.hold = make(chan struct{}) // never answers
	n := newNotifier(t, db, rcv.srv.URL+"/SECRET-TOKEN", notify.FormatJSON, func(c *notify.Config) {
		c.Timeout = 50 * time.Millisecond
		c.Attempts = 2
	})
	n.Notify(sample)
	flush(t, n)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL + "/SECRET-TOKEN"
	closed.Close()
	n2 := newNotifier(t, db, closedURL, notify.FormatJSON, func(c *notify.Config) { c.Attempts = 1 })
	n2.Notify(sample)
	flush(t, n2)

	fails, err := notify.Failures(context.Background(), db, 10)
	if err != nil || len(fails) != 2 {
		t.Fatalf("failures = %+v, %v", fails, err)
	}
	if !strings.Contains(fails[1].Error, "no answer within 50ms") {
		t.Errorf("timeout failure = %q", fails[1].Error)
	}
	if !strings.Contains(fails[0].Error, "could not reach the receiver") {
		t.Errorf("unreachable failure = %q", fails[0].Error)
	}
	for _, f := range fails {
		if strings.Contains(f.Error, "SECRET-TOKEN") || strings.Contains(f.Error, "127.0.0.1") && strings.Contains(f.Error, "http://") {
			t.Errorf("failure text holds the URL: %q", f.Error)
		}
	}
	close(rcv.hold)
}

// TestNeverBlocks: with the receiver stuck and the queue full, Notify
// still returns at once; the overflow is recorded as failed, and Close
// records what was still waiting.
func TestNeverBlocks(t *testing.T) {
	db := newDB(t)
	rcv := newReceiver(t)
	rcv.hold = make(chan struct{})
	n := newNotifier(t, db, rcv.srv.URL, notify.FormatJSON, func(c *notify.Config) {
		c.QueueSize = 2
		c.Timeout = time.Minute
	})
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			n.Notify(sample)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify blocked on a stuck receiver")
	}
	testutil.Eventually(t, 10*time.Second, "overflow recorded", func() error {
		fails, err := notify.Failures(context.Background(), db, 20)
		if err != nil {
			return err
		}
		if len(fails) < 7 {
			return fmt.Errorf("%d failures", len(fails))
		}
		return nil
	})
	close(rcv.hold)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fails, _ := notify.Failures(context.Background(), db, 20)
	delivered := n.Delivered()
	if len(fails)+delivered != 10 {
		t.Errorf("%d failed + %d delivered, want all 10 accounted for", len(fails), delivered)
	}
	n.Notify(sample) // after Close: recorded, not sent, no panic
	fails2, _ := notify.Failures(context.Background(), db, 20)
	if len(fails2) != len(fails)+1 {
		t.Errorf("a message after Close was not recorded as failed")
	}
}

// TestDisabled: without a URL nothing is sent and nothing fails.
func TestDisabled(t *testing.T) {
	n, err := notify.New(notify.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if n.Enabled() {
		t.Error("enabled without a URL")
	}
	n.Notify(sample)
	var nilN *notify.Notifier
	nilN.Notify(sample)
	if err := n.Flush(context.Background()); err != nil {
		t.Error(err)
	}
}
