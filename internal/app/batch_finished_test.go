package app_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/testutil"
)

// TestBatchFinishedWebhook: when a batch's final states are recorded the
// webhook gets one batch.finished message linking to the batch under
// CONSOLE_PUBLIC_URL.
func TestBatchFinishedWebhook(t *testing.T) {
	var mu sync.Mutex
	var got []map[string]any
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body is not JSON: %s", body)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	env := apptest.New(t, func(c *config.Config) {
		c.WebhookURL = hook.URL
		c.PublicURL = "https://console.example"
	})
	ctx := context.Background()
	env.CreateUser(t, "olga", auth.RoleOperator)
	u, err := env.App.Users().GetByName(ctx, "olga")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := env.App.Fleet().Refresh(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, s := range snap.Servers {
		if s.Status == modelarts.StatusRunning {
			id = s.ID
			break
		}
	}
	p, err := env.App.Batches().Prepare(ctx, u, modelarts.BatchStop, []string{id}, snap)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := env.App.Batches().Execute(ctx, batch.ExecuteRequest{User: u, Token: p.Token})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 20*time.Second, "batch.finished reaches the webhook", func() error {
		// Following the batch is what records its end; poll as its page does.
		if _, err := env.App.Batches().Settle(ctx, ex.BatchID, mustRefresh(t, env)); err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			if m["event"] == "batch.finished" && m["subject"] == ex.BatchID {
				if m["url"] != "https://console.example/batches/"+ex.BatchID {
					t.Errorf("batch.finished url = %v", m["url"])
				}
				if !strings.Contains(m["title"].(string), "Stop on 1 server") {
					t.Errorf("batch.finished title = %v", m["title"])
				}
				if want := "Project: " + env.App.ProjectNames()[0]; !strings.Contains(m["text"].(string), want) {
					t.Errorf("batch.finished text = %q, want it to name the project (%q)", m["text"], want)
				}
				return nil
			}
		}
		return errNotYet
	})
	mu.Lock()
	defer mu.Unlock()
	n := 0
	for _, m := range got {
		if m["event"] == "batch.finished" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d batch.finished messages, want 1", n)
	}
}

type notYet struct{}

func (notYet) Error() string { return "not yet" }

var errNotYet error = notYet{}

func mustRefresh(t *testing.T, env *apptest.Env) *fleet.Snapshot {
	t.Helper()
	s, err := env.App.Fleet().Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return s
}
