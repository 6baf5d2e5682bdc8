package simulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

// project is the project id the tests put in paths.
const project = "0123456789abcdef0123456789abcdef"

var requestIDRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

// newSim builds a simulator on a fake clock and closes it after the test.
func newSim(t *testing.T, opts simulator.Options) (*simulator.Simulator, *testutil.Clock) {
	t.Helper()
	clock := testutil.NewClock(time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC))
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	sim := simulator.New(opts)
	t.Cleanup(sim.Close)
	return sim, clock
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errBody decodes the error body.
func (r response) errBody(t *testing.T) map[string]string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("error body %q is not a JSON object of strings: %v", r.body, err)
	}
	return m
}

// do sends one request through ServeHTTP, in process.
func do(t *testing.T, h http.Handler, method, path string, body any) response {
	t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("marshal request body: %v", err)
		}
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	if id := res.Header.Get("X-Request-Id"); !requestIDRE.MatchString(id) {
		t.Errorf("%s %s: X-Request-Id = %q, want 32 lower-case hex characters", method, path, id)
	}
	return response{status: res.StatusCode, header: res.Header, body: rec.Body.Bytes()}
}

// wantError checks an error response's status and error_code.
func wantError(t *testing.T, r response, status int, code string) map[string]string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	m := r.errBody(t)
	if m["error_code"] != code {
		t.Fatalf("error_code = %q, want %q; body %s", m["error_code"], code, r.body)
	}
	if m["error_msg"] == "" {
		t.Fatalf("error_msg is empty; body %s", r.body)
	}
	return m
}

// decode decodes a 200 body into v.
func decode(t *testing.T, r response, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status = %d, want 200; body %s", r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// path builds an API path for the test project.
func path(suffix string) string {
	return "/v1/" + project + "/dev-servers" + suffix
}

// pick returns the first server (oldest first) satisfying ok.
func pick(t *testing.T, sim *simulator.Simulator, what string, ok func(s *modelarts.ServerResponse) bool) modelarts.ServerResponse {
	t.Helper()
	for _, s := range sim.Servers() {
		if ok(&s) {
			return s
		}
	}
	t.Fatalf("no server in the fleet is %s", what)
	return modelarts.ServerResponse{}
}

// pickN returns the first n servers satisfying ok.
func pickN(t *testing.T, sim *simulator.Simulator, n int, what string, ok func(s *modelarts.ServerResponse) bool) []modelarts.ServerResponse {
	t.Helper()
	var out []modelarts.ServerResponse
	for _, s := range sim.Servers() {
		if ok(&s) {
			out = append(out, s)
			if len(out) == n {
				return out
			}
		}
	}
	t.Fatalf("fewer than %d servers are %s", n, what)
	return nil
}

func batch(t modelarts.BatchType, ext *modelarts.ServerOSRequest, ids ...string) modelarts.BatchRequest {
	req := modelarts.BatchRequest{Type: t, ExtendParam: ext}
	for _, id := range ids {
		req.Servers = append(req.Servers, modelarts.BatchServerID{ID: id})
	}
	return req
}

// imageFor returns an ACTIVE image for the server's type and architecture
// other than the one it runs.
func imageFor(t *testing.T, sim *simulator.Simulator, s modelarts.ServerResponse) modelarts.ServerImageResponse {
	t.Helper()
	for _, img := range sim.Images() {
		if img.ServerType == s.Type() && img.Arch == s.Arch() && img.Status == modelarts.ImageActive && img.ImageID != s.ImageInfo().ImageID {
			return img
		}
	}
	t.Fatalf("no other ACTIVE image for %s/%s", s.Type(), s.Arch())
	return modelarts.ServerImageResponse{}
}

func postPaidWith(st modelarts.Status) func(s *modelarts.ServerResponse) bool {
	return func(s *modelarts.ServerResponse) bool {
		return s.Status == st && s.ChargingMode == modelarts.ChargingPostPaid && !s.IsSupernode()
	}
}
