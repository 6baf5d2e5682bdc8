package modelarts_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
)

// observations records what a client reports to its Observer.
type observations struct {
	mu  sync.Mutex
	got []modelarts.CallObservation
}

func (o *observations) ObserveCall(c modelarts.CallObservation) {
	if c.Duration < 0 {
		panic("negative duration")
	}
	c.Duration = 0 // not compared
	o.mu.Lock()
	o.got = append(o.got, c)
	o.mu.Unlock()
}

func (o *observations) list() []modelarts.CallObservation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]modelarts.CallObservation(nil), o.got...)
}

func TestObserverSeesEveryAttemptWithItsOperationAndOutcome(t *testing.T) {
	fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
		switch n {
		case 1:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error_code": "ModelArts.0001", "error_msg": "busy"})
		case 2:
			writeJSON(w, http.StatusTooManyRequests, map[string]string{"error_code": "ModelArts.0002", "error_msg": "slow down"})
		case 3:
			writeJSON(w, http.StatusOK, modelarts.ServerPage{})
		case 4:
			writeJSON(w, http.StatusNotFound, map[string]string{"error_code": "ModelArts.6404", "error_msg": "no such server"})
		default:
			writeJSON(w, http.StatusOK, []modelarts.ServerImageResponse{})
		}
	})
	obs := &observations{}
	c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.Observer = obs })
	ctx := context.Background()
	if _, err := c.ListServersPage(ctx, 10, 0); err != nil {
		t.Fatalf("list after two retries: %v", err)
	}
	if _, err := c.ShowServer(ctx, serverN(1).ID); err == nil {
		t.Fatal("show of a missing server succeeded")
	}
	if _, err := c.ListImages(ctx, modelarts.ImageQuery{}); err != nil {
		t.Fatalf("list images: %v", err)
	}
	m := modelarts.ServiceModelArts
	want := []modelarts.CallObservation{
		{Service: m, Operation: "list_servers", Outcome: modelarts.OutcomeServerError},
		{Service: m, Operation: "list_servers", Outcome: modelarts.OutcomeThrottled},
		{Service: m, Operation: "list_servers", Outcome: modelarts.OutcomeOK},
		{Service: m, Operation: "show_server", Outcome: modelarts.OutcomeClientError},
		{Service: m, Operation: "list_images", Outcome: modelarts.OutcomeOK},
	}
	if diff := cmp.Diff(want, obs.list()); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
}

func TestObserverSeesNetworkErrorsAndCancellation(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	url := dead.URL
	dead.Close() // nothing listens there any more
	obs := &observations{}
	c, _ := newTestClient(t, url, func(cfg *modelarts.Config) {
		cfg.Observer = obs
		cfg.Retry.MaxAttempts = 1
	})
	if _, err := c.ListServersPage(context.Background(), 10, 0); err == nil {
		t.Fatal("list against a closed port succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.ListServersPage(ctx, 10, 0); err == nil {
		t.Fatal("list with a cancelled context succeeded")
	}
	want := []modelarts.CallObservation{
		{Service: modelarts.ServiceModelArts, Operation: "list_servers", Outcome: modelarts.OutcomeNetworkError},
		{Service: modelarts.ServiceModelArts, Operation: "list_servers", Outcome: modelarts.OutcomeCanceled},
	}
	if diff := cmp.Diff(want, obs.list()); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
}

func TestObserverSeesIAMTokenRequests(t *testing.T) {
	calls := 0
	iam := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if calls == 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": map[string]string{"message": "wrong password"}})
			return
		}
		w.Header().Set("X-Subject-Token", "tok")
		writeJSON(w, http.StatusCreated, map[string]any{"token": map[string]string{"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)}})
	}))
	t.Cleanup(iam.Close)
	obs := &observations{}
	a := modelarts.NewIAMToken(modelarts.IAMConfig{Endpoint: iam.URL, Username: "ops", Password: "pw", Domain: "acct",
		ProjectName: "cn-north-4", Observer: obs})
	req, _ := http.NewRequest(http.MethodGet, "http://example.invalid/", nil)
	if err := a.Authorize(context.Background(), req, nil); err == nil {
		t.Fatal("a refused token request authorized the call")
	}
	if err := a.Authorize(context.Background(), req, nil); err != nil {
		t.Fatalf("authorize: %v", err)
	}
	want := []modelarts.CallObservation{
		{Service: modelarts.ServiceIAM, Operation: "get_token", Outcome: modelarts.OutcomeClientError},
		{Service: modelarts.ServiceIAM, Operation: "get_token", Outcome: modelarts.OutcomeOK},
	}
	if diff := cmp.Diff(want, obs.list()); diff != "" {
		t.Errorf("observations (-want +got):\n%s", diff)
	}
}
