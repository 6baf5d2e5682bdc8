package modelarts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
)

const project = "0123456789abcdef0123456789abcdef"

// seenRequest is what the fake cloud received.
type seenRequest struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   string
}

// fakeCloud is an httptest server that records every request and answers
// with the handler of the test.
type fakeCloud struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seenRequest
}

func newFakeCloud(t *testing.T, h func(w http.ResponseWriter, r *http.Request, n int)) *fakeCloud {
	t.Helper()
	fc := &fakeCloud{}
	fc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fc.mu.Lock()
		fc.reqs = append(fc.reqs, seenRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), string(body)})
		n := len(fc.reqs)
		fc.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r, n)
	}))
	t.Cleanup(fc.Close)
	return fc
}

func (fc *fakeCloud) requests() []seenRequest {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return append([]seenRequest(nil), fc.reqs...)
}

// sleepRecorder replaces the retry sleep so tests run instantly.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (s *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.delays = append(s.delays, d)
	s.mu.Unlock()
	return ctx.Err()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Request-Id", "0123456789abcdef0123456789abcdef")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type testClientOpt func(*modelarts.Config)

func newTestClient(t *testing.T, endpoint string, opts ...testClientOpt) (*modelarts.Client, *sleepRecorder) {
	t.Helper()
	sr := &sleepRecorder{}
	cfg := modelarts.Config{
		Endpoint:       endpoint,
		ProjectID:      project,
		Auth:           modelarts.NoAuth(),
		AllowUnaudited: true,
		Retry:          modelarts.RetryPolicy{Sleep: sr.sleep, Jitter: func() float64 { return 0.5 }},
		Logger:         slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	c, err := modelarts.NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, sr
}

func serverN(i int) modelarts.ServerResponse {
	return modelarts.ServerResponse{
		ID:     fmt.Sprintf("%08x-0000-4000-8000-000000000000", i),
		Name:   fmt.Sprintf("srv-%03d", i),
		Status: modelarts.StatusRunning,
	}
}

func TestNewClientValidatesConfig(t *testing.T) {
	ok := modelarts.Config{Endpoint: "https://modelarts.cn-north-4.myhuaweicloud.com", ProjectID: project, Auth: modelarts.NoAuth()}
	tests := []struct {
		name    string
		mutate  func(*modelarts.Config)
		wantErr string
	}{
		{name: "valid", mutate: func(*modelarts.Config) {}},
		{name: "trailing slash ok", mutate: func(c *modelarts.Config) { c.Endpoint += "/" }},
		{name: "no endpoint", mutate: func(c *modelarts.Config) { c.Endpoint = "" }, wantErr: "Endpoint is required"},
		{name: "endpoint without scheme", mutate: func(c *modelarts.Config) { c.Endpoint = "modelarts.example" }, wantErr: "not an http(s) URL"},
		{name: "endpoint with query", mutate: func(c *modelarts.Config) { c.Endpoint = "https://x.example/?a=b" }, wantErr: "must not carry a query"},
		{name: "no project", mutate: func(c *modelarts.Config) { c.ProjectID = "" }, wantErr: "ProjectID"},
		{name: "project with slash", mutate: func(c *modelarts.Config) { c.ProjectID = "a/b" }, wantErr: "ProjectID"},
		{name: "project 65 chars", mutate: func(c *modelarts.Config) { c.ProjectID = strings.Repeat("a", 65) }, wantErr: "ProjectID"},
		{name: "no auth", mutate: func(c *modelarts.Config) { c.Auth = nil }, wantErr: "Auth is required"},
		{name: "page size 1024 ok", mutate: func(c *modelarts.Config) { c.PageSize = 1024 }},
		{name: "page size 1025", mutate: func(c *modelarts.Config) { c.PageSize = 1025 }, wantErr: "PageSize"},
		{name: "page size negative", mutate: func(c *modelarts.Config) { c.PageSize = -1 }, wantErr: "PageSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mutate(&cfg)
			c, err := modelarts.NewClient(cfg)
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("NewClient = %v, %v; want a client", c, err)
				}
				if got, want := c.Endpoint(), strings.TrimRight(cfg.Endpoint, "/"); got != want {
					t.Errorf("Endpoint() = %q, want %q", got, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewClient error = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestEndpointForRegion(t *testing.T) {
	tests := []struct{ region, want string }{
		{"cn-north-4", "https://modelarts.cn-north-4.myhuaweicloud.com"},
		{"cn-north-9", "https://modelarts.cn-north-9.myhuaweicloud.com"},
		{"ap-southeast-3", "https://modelarts.ap-southeast-3.myhuaweicloud.com"},
		{"ap-southeast-1", "https://modelarts.ap-southeast-1.myhuaweicloud.cn"},
		{" CN-EAST-3 ", "https://modelarts.cn-east-3.myhuaweicloud.com"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.region, func(t *testing.T) {
			if got := modelarts.EndpointForRegion(tt.region); got != tt.want {
				t.Errorf("EndpointForRegion(%q) = %q, want %q", tt.region, got, tt.want)
			}
		})
	}
}

func TestListServersPageDecodesAndIgnoresUnknownFields(t *testing.T) {
	const body = `{"current":1,"pages":1,"size":1,"total":1,"brand_new_field":{"x":1},
	  "data":[{"id":"c65c4f27-f791-452b-9098-a2726fa2e922","name":"EI-evs-01","status":"RUNNING",
	  "charging_mode":"POST_PAID","flavor":"Si2.large.4","unknown":[1,2,3],
	  "cloud_server":{"id":"eb8b4e32-afc9-4f71-8372-1f55f3d7ab28","type":"ECS","extra":"x"},
	  "endpoints":[{"service":"SSH","uri":"192.168.0.23","key_pair_names":["k"]}],
	  "image":{"arch":"X86","image_id":"c90fb553-2cdb-4b81-b56a-ef68812c6cf7","name":"Ubuntu","server_type":"ECS"},
	  "create_at":1699352013484}]}`
	fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Request-Id", "abc")
		io.WriteString(w, body)
	})
	c, _ := newTestClient(t, fc.URL)
	page, err := c.ListServersPage(context.Background(), 10, 20)
	if err != nil {
		t.Fatalf("ListServersPage: %v", err)
	}
	want := &modelarts.ServerPage{Current: 1, Pages: 1, Size: 1, Total: 1, Data: []modelarts.ServerResponse{{
		ID: "c65c4f27-f791-452b-9098-a2726fa2e922", Name: "EI-evs-01", Status: modelarts.StatusRunning,
		ChargingMode: modelarts.ChargingPostPaid, Flavor: "Si2.large.4", CreateAt: 1699352013484,
		CloudServer: &modelarts.CloudServer{ID: "eb8b4e32-afc9-4f71-8372-1f55f3d7ab28", Type: modelarts.ServerTypeECS},
		Endpoints:   []modelarts.EndpointsRes{{Service: modelarts.DevServiceSSH, URI: "192.168.0.23"}},
		Image: &modelarts.ServerImageResponse{Arch: modelarts.ArchX86, ImageID: "c90fb553-2cdb-4b81-b56a-ef68812c6cf7",
			Name: "Ubuntu", ServerType: modelarts.ServerTypeECS},
	}}}
	if diff := cmp.Diff(want, page); diff != "" {
		t.Errorf("page mismatch (-want +got):\n%s", diff)
	}
	reqs := fc.requests()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	if got, want := reqs[0].Method+" "+reqs[0].Path+"?"+reqs[0].Query, "GET /v1/"+project+"/dev-servers?limit=10&offset=20"; got != want {
		t.Errorf("request = %q, want %q", got, want)
	}
	for _, tc := range []struct{ limit, offset int }{{0, 0}, {1025, 0}, {10, -1}} {
		if _, err := c.ListServersPage(context.Background(), tc.limit, tc.offset); err == nil {
			t.Errorf("ListServersPage(%d, %d) succeeded, want an error", tc.limit, tc.offset)
		}
	}
	if n := len(fc.requests()); n != 1 {
		t.Errorf("invalid paging arguments were sent: %d requests", n)
	}
}

func TestListAllServers(t *testing.T) {
	fleet := make([]modelarts.ServerResponse, 250)
	for i := range fleet {
		fleet[i] = serverN(i)
	}
	pageOf := func(r *http.Request, src []modelarts.ServerResponse, total int) modelarts.ServerPage {
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
		end := min(offset+limit, len(src))
		var data []modelarts.ServerResponse
		if offset < len(src) {
			data = src[offset:end]
		}
		return modelarts.ServerPage{Current: offset/limit + 1, Size: len(data), Total: int64(total), Data: data}
	}
	tests := []struct {
		name        string
		pageSize    int
		handler     func(w http.ResponseWriter, r *http.Request, n int)
		wantCount   int
		wantQueries []string
		wantErr     string
	}{
		{
			name:     "total larger than one page",
			pageSize: 100,
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, pageOf(r, fleet, len(fleet)))
			},
			wantCount:   250,
			wantQueries: []string{"limit=100&offset=0", "limit=100&offset=100", "limit=100&offset=200"},
		},
		{
			name:     "default page size is 100",
			pageSize: 0,
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, pageOf(r, fleet[:100], 100))
			},
			wantCount:   100,
			wantQueries: []string{"limit=100&offset=0"},
		},
		{
			name:     "exact multiple stops at total without an extra call",
			pageSize: 50,
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, pageOf(r, fleet[:100], 100))
			},
			wantCount:   100,
			wantQueries: []string{"limit=50&offset=0", "limit=50&offset=50"},
		},
		{
			name:     "empty page ends the walk when total is unreliable",
			pageSize: 100,
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, pageOf(r, fleet[:200], 0))
			},
			wantCount:   200,
			wantQueries: []string{"limit=100&offset=0", "limit=100&offset=100", "limit=100&offset=200"},
		},
		{
			name:     "list shifting between pages is de-duplicated",
			pageSize: 100,
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				// A server is created at the front after the first page: the
				// second page repeats the last server of the first.
				src := fleet[:150]
				if n > 1 {
					src = append([]modelarts.ServerResponse{serverN(999)}, fleet[:150]...)
				}
				writeJSON(w, 200, pageOf(r, src, len(src)))
			},
			wantCount:   150,
			wantQueries: []string{"limit=100&offset=0", "limit=100&offset=100"},
		},
		{
			name:     "server ignoring offset is an error, not a silent partial list",
			pageSize: 100,
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 200, modelarts.ServerPage{Total: 250, Data: fleet[:100]})
			},
			wantErr:     "brought no new servers",
			wantQueries: []string{"limit=100&offset=0", "limit=100&offset=100"},
		},
		{
			name:     "error on a later page",
			pageSize: 100,
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 2 {
					writeJSON(w, 403, map[string]string{"error_code": "ModelArts.0203", "error_msg": "no permission"})
					return
				}
				writeJSON(w, 200, pageOf(r, fleet, len(fleet)))
			},
			wantErr:     "offset 100",
			wantQueries: []string{"limit=100&offset=0", "limit=100&offset=100"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeCloud(t, tt.handler)
			c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.PageSize = tt.pageSize })
			got, err := c.ListAllServers(context.Background())
			var queries []string
			for _, r := range fc.requests() {
				queries = append(queries, r.Query)
			}
			if diff := cmp.Diff(tt.wantQueries, queries); diff != "" {
				t.Errorf("queries mismatch (-want +got):\n%s", diff)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ListAllServers error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ListAllServers: %v", err)
			}
			if len(got) != tt.wantCount {
				t.Errorf("got %d servers, want %d", len(got), tt.wantCount)
			}
			ids := map[string]bool{}
			for _, s := range got {
				if ids[s.ID] {
					t.Errorf("server %s listed twice", s.ID)
				}
				ids[s.ID] = true
			}
		})
	}
}

func TestListImagesShapes(t *testing.T) {
	img := modelarts.ServerImageResponse{Arch: modelarts.ArchARM, ImageID: imageID, Name: "EulerOS", ServerType: modelarts.ServerTypeBMS, Status: modelarts.ImageActive}
	imgJSON, _ := json.Marshal(img)
	tests := []struct {
		name    string
		body    string
		want    []modelarts.ServerImageResponse
		wantErr string
	}{
		{name: "bare array", body: "[" + string(imgJSON) + "]", want: []modelarts.ServerImageResponse{img}},
		{name: "data object", body: `{"total":1,"data":[` + string(imgJSON) + `]}`, want: []modelarts.ServerImageResponse{img}},
		{name: "images object", body: `{"images":[` + string(imgJSON) + `],"x":1}`, want: []modelarts.ServerImageResponse{img}},
		{name: "empty array", body: `[]`, want: []modelarts.ServerImageResponse{}},
		{name: "unknown object", body: `{"items":[]}`, wantErr: `neither "data" nor "images"`},
		{name: "string", body: `"x"`, wantErr: "neither a JSON array nor an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) { io.WriteString(w, tt.body) })
			c, _ := newTestClient(t, fc.URL)
			got, err := c.ListImages(context.Background(), modelarts.ImageQuery{ServerType: modelarts.ServerTypeBMS, FlavorName: "Snt9b 8"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ListImages error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ListImages: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("images mismatch (-want +got):\n%s", diff)
			}
			r := fc.requests()[0]
			if got, want := r.Path+"?"+r.Query, "/v1/"+project+"/dev-servers/images?flavor_name=Snt9b%208&server_type=BMS"; got != want {
				t.Errorf("request = %q, want %q", got, want)
			}
		})
	}
}

func TestReadRetries(t *testing.T) {
	okPage := modelarts.ServerPage{Total: 1, Data: []modelarts.ServerResponse{serverN(1)}}
	httpDate := time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)
	tests := []struct {
		name         string
		handler      func(w http.ResponseWriter, r *http.Request, n int)
		maxAttempts  int
		wantRequests int
		wantDelays   func(t *testing.T, d []time.Duration)
		wantErr      string // "" means success
	}{
		{
			name: "429 with Retry-After seconds is honoured",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", "2")
					writeJSON(w, 429, map[string]string{"error_code": "APIGW.0308", "error_msg": "The throttling threshold has been reached"})
					return
				}
				writeJSON(w, 200, okPage)
			},
			wantRequests: 2,
			wantDelays: func(t *testing.T, d []time.Duration) {
				if diff := cmp.Diff([]time.Duration{2 * time.Second}, d); diff != "" {
					t.Errorf("delays mismatch (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "503 with Retry-After HTTP date is honoured",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n == 1 {
					w.Header().Set("Retry-After", httpDate)
					w.WriteHeader(503)
					return
				}
				writeJSON(w, 200, okPage)
			},
			wantRequests: 2,
			wantDelays: func(t *testing.T, d []time.Duration) {
				if len(d) != 1 || d[0] < time.Second || d[0] > 3*time.Second {
					t.Errorf("delays = %v, want one of about 2-3s", d)
				}
			},
		},
		{
			name: "500 retried up to MaxAttempts with growing jittered backoff",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 500, map[string]string{"error_code": "ModelArts.0001", "error_msg": "internal"})
			},
			wantRequests: 4,
			wantDelays: func(t *testing.T, d []time.Duration) {
				// Jitter is pinned to 0.5: half of 200ms, 400ms, 800ms.
				want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
				if diff := cmp.Diff(want, d); diff != "" {
					t.Errorf("delays mismatch (-want +got):\n%s", diff)
				}
			},
			wantErr: "giving up after 4 attempts: ModelArts.0001: internal (HTTP 500",
		},
		{
			name: "network error retried then succeeds",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				if n <= 2 {
					hj, _ := w.(http.Hijacker)
					conn, _, _ := hj.Hijack()
					conn.Close()
					return
				}
				writeJSON(w, 200, okPage)
			},
			wantRequests: 3,
			wantDelays: func(t *testing.T, d []time.Duration) {
				if len(d) != 2 {
					t.Errorf("delays = %v, want 2", d)
				}
			},
		},
		{
			name: "Retry-After beyond MaxDelay stops retrying",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				w.Header().Set("Retry-After", "60")
				writeJSON(w, 429, map[string]string{"error_code": "APIGW.0308", "error_msg": "throttled"})
			},
			wantRequests: 1,
			wantDelays: func(t *testing.T, d []time.Duration) {
				if len(d) != 0 {
					t.Errorf("delays = %v, want none", d)
				}
			},
			wantErr: "retry after 1m0s",
		},
		{
			name: "400 is not retried",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				writeJSON(w, 400, map[string]string{"error_code": "ModelArts.0104", "error_msg": "bad parameter"})
			},
			wantRequests: 1,
			wantErr:      "ModelArts.0104: bad parameter (HTTP 400 Bad Request",
		},
		{
			name: "MaxAttempts 1 turns retries off",
			handler: func(w http.ResponseWriter, r *http.Request, n int) {
				w.WriteHeader(502)
			},
			maxAttempts:  1,
			wantRequests: 1,
			wantErr:      "HTTP 502",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeCloud(t, tt.handler)
			c, sr := newTestClient(t, fc.URL, func(cfg *modelarts.Config) {
				if tt.maxAttempts > 0 {
					cfg.Retry.MaxAttempts = tt.maxAttempts
				}
			})
			page, err := c.ListServersPage(context.Background(), 10, 0)
			if got := len(fc.requests()); got != tt.wantRequests {
				t.Errorf("server saw %d requests, want %d", got, tt.wantRequests)
			}
			if tt.wantDelays != nil {
				tt.wantDelays(t, sr.delays)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ListServersPage: %v", err)
			}
			if len(page.Data) != 1 {
				t.Errorf("page = %+v", page)
			}
		})
	}
}

func TestStateChangingCallsAreNeverRetried(t *testing.T) {
	req := &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1)}
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, n int)
		wantErr string
	}{
		{name: "500", handler: func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, 500, map[string]string{"error_code": "ModelArts.0001", "error_msg": "boom"})
		}, wantErr: "HTTP 500"},
		{name: "429 with Retry-After", handler: func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, 429, map[string]string{"error_code": "APIGW.0308", "error_msg": "throttled"})
		}, wantErr: "rate limited"},
		{name: "network error", handler: func(w http.ResponseWriter, r *http.Request, n int) {
			hj, _ := w.(http.Hijacker)
			conn, _, _ := hj.Hijack()
			conn.Close()
		}, wantErr: "may or may not have reached ModelArts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeCloud(t, tt.handler)
			c, sr := newTestClient(t, fc.URL)
			_, err := c.BatchAction(context.Background(), req, nil)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("BatchAction error = %v, want it to contain %q", err, tt.wantErr)
			}
			if got := len(fc.requests()); got != 1 {
				t.Errorf("server saw %d requests, want exactly 1", got)
			}
			if len(sr.delays) != 0 {
				t.Errorf("client slept %v, want no retry wait", sr.delays)
			}
		})
	}
}

func TestAPIErrorParsing(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		header    map[string]string
		body      string
		want      modelarts.APIError
		wantText  string
		notFound  bool
		retryable bool
	}{
		{
			name: "error_code and error_msg", status: 400, header: map[string]string{"X-Request-Id": "r1"},
			body:     `{"error_code":"ModelArts.6404","error_msg":"LiteServer instance 'x' not found.","extra":1}`,
			want:     modelarts.APIError{HTTPStatus: 400, Code: "ModelArts.6404", Message: "LiteServer instance 'x' not found.", RequestID: "r1"},
			wantText: "ModelArts.6404: LiteServer instance 'x' not found. (HTTP 400 Bad Request, request ID r1); the server does not exist",
			notFound: true,
		},
		{
			name: "code and message fallback", status: 401,
			body:     `{"code":"APIGW.0301","message":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"gw-1"}`,
			want:     modelarts.APIError{HTTPStatus: 401, Code: "APIGW.0301", Message: "Incorrect IAM authentication information: verify aksk signature fail", RequestID: "gw-1"},
			wantText: "authentication failed: check the access key, secret key or token, the project ID and this machine's clock",
		},
		{
			name: "IAM nested error", status: 401,
			body:     `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`,
			want:     modelarts.APIError{HTTPStatus: 401, Code: "401", Message: "The username or password is wrong."},
			wantText: "401: The username or password is wrong. (HTTP 401 Unauthorized)",
		},
		{
			name: "HTML gateway page", status: 502, header: map[string]string{"X-Request-Id": "r2"},
			body:      "<html>\n<body>Bad   Gateway</body></html>",
			want:      modelarts.APIError{HTTPStatus: 502, RequestID: "r2"},
			wantText:  "(HTTP 502 Bad Gateway, request ID r2)",
			retryable: true,
		},
		{
			name: "empty body", status: 503,
			want:      modelarts.APIError{HTTPStatus: 503},
			wantText:  "request failed (HTTP 503 Service Unavailable); ModelArts had a server-side problem",
			retryable: true,
		},
		{
			name: "throttled with Retry-After", status: 429, header: map[string]string{"Retry-After": "3"},
			body:      `{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}`,
			want:      modelarts.APIError{HTTPStatus: 429, Code: "APIGW.0308", Message: "The throttling threshold has been reached", RetryAfter: 3 * time.Second},
			wantText:  "rate limited",
			retryable: true,
		},
		{
			name: "binary body", status: 500, body: "\x00\x01\xff",
			want:      modelarts.APIError{HTTPStatus: 500},
			retryable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.Retry.MaxAttempts = 1 })
			_, err := c.ListServersPage(context.Background(), 10, 0)
			var ae *modelarts.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v is not an *APIError", err)
			}
			if diff := cmp.Diff(tt.want, *ae); diff != "" {
				t.Errorf("APIError mismatch (-want +got):\n%s", diff)
			}
			if !strings.Contains(ae.Error(), tt.wantText) {
				t.Errorf("Error() = %q, want it to contain %q", ae.Error(), tt.wantText)
			}
			if got := modelarts.IsNotFound(err); got != tt.notFound {
				t.Errorf("IsNotFound = %v, want %v", got, tt.notFound)
			}
			if got := ae.Retryable(); got != tt.retryable {
				t.Errorf("Retryable = %v, want %v", got, tt.retryable)
			}
		})
	}
}

// fakeRecorder records the calls of the Recorder interface.
type fakeRecorder struct {
	mu          sync.Mutex
	beforeErr   error
	afterErr    error
	before      []*modelarts.OutgoingCall
	after       []*modelarts.CallResult
	afterRefs   []int64
	afterCtxErr []error
	// serverCount tells BeforeSend how many requests the server has seen.
	serverCount func() int
	seenAtStart []int
}

func (f *fakeRecorder) BeforeSend(ctx context.Context, call *modelarts.OutgoingCall) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.serverCount != nil {
		f.seenAtStart = append(f.seenAtStart, f.serverCount())
	}
	if f.beforeErr != nil {
		return 0, f.beforeErr
	}
	f.before = append(f.before, call)
	return int64(len(f.before)) * 10, nil
}

func (f *fakeRecorder) AfterSend(ctx context.Context, ref int64, call *modelarts.OutgoingCall, res *modelarts.CallResult) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.afterRefs = append(f.afterRefs, ref)
	f.after = append(f.after, res)
	f.afterCtxErr = append(f.afterCtxErr, ctx.Err())
	return f.afterErr
}

func TestRecorder(t *testing.T) {
	okBody := `{"current":1,"pages":1,"size":1,"total":1,"data":[{"id":"` + id1 + `","name":"a","status":"STOPPING"}]}` + "\n"
	okHandler := func(w http.ResponseWriter, r *http.Request, n int) {
		w.Header().Set("X-Request-Id", "rid-1")
		io.WriteString(w, okBody)
	}
	req := &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1)}

	t.Run("called before send and after with the exact exchange", func(t *testing.T) {
		fc := newFakeCloud(t, okHandler)
		rec := &fakeRecorder{}
		rec.serverCount = func() int { return len(fc.requests()) }
		c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) {
			cfg.AllowUnaudited = false
			cfg.AllowUnaudited = false
			cfg.Auth = modelarts.NewAKSK("AK_EXAMPLE", "SK_EXAMPLE", "temp-token", project)
		})
		page, err := c.BatchAction(context.Background(), req, rec)
		if err != nil {
			t.Fatalf("BatchAction: %v", err)
		}
		if len(page.Data) != 1 || page.Data[0].Status != modelarts.StatusStopping {
			t.Errorf("page = %+v", page)
		}
		if diff := cmp.Diff([]int{0}, rec.seenAtStart); diff != "" {
			t.Errorf("server requests seen at BeforeSend (-want +got):\n%s", diff)
		}
		if len(rec.before) != 1 || len(rec.after) != 1 {
			t.Fatalf("BeforeSend %d times, AfterSend %d times; want 1 each", len(rec.before), len(rec.after))
		}
		call := rec.before[0]
		sent := fc.requests()[0]
		if call.Method != http.MethodPost || call.URL != fc.URL+"/v1/"+project+"/dev-servers/action" {
			t.Errorf("call = %s %s", call.Method, call.URL)
		}
		if string(call.Body) != sent.Body {
			t.Errorf("recorded body %q, sent %q", call.Body, sent.Body)
		}
		if want := `{"type":"STOP","servers":[{"id":"` + id1 + `"}]}`; sent.Body != want {
			t.Errorf("sent body %q, want %q", sent.Body, want)
		}
		for _, h := range []string{"Authorization", "X-Sdk-Date", "X-Project-Id", "X-Security-Token", "Content-Type"} {
			if got, want := call.Header.Get(h), sent.Header.Get(h); got == "" || got != want {
				t.Errorf("recorded header %s = %q, sent %q", h, got, want)
			}
		}
		if got := sent.Header.Get("Content-Type"); got != "application/json;charset=UTF-8" {
			t.Errorf("Content-Type = %q", got)
		}
		res := rec.after[0]
		if res.Status != 200 || string(res.Body) != okBody || res.Err != nil || res.Duration <= 0 || res.Header.Get("X-Request-Id") != "rid-1" {
			t.Errorf("CallResult = %+v", res)
		}
		if rec.afterRefs[0] != 10 {
			t.Errorf("AfterSend ref = %d, want the 10 BeforeSend returned", rec.afterRefs[0])
		}
	})

	t.Run("BeforeSend error fails closed", func(t *testing.T) {
		fc := newFakeCloud(t, okHandler)
		dbDown := errors.New("audit: database is locked")
		rec := &fakeRecorder{beforeErr: dbDown}
		c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.AllowUnaudited = false })
		calls := map[string]func() error{
			"batch": func() error { _, err := c.BatchAction(context.Background(), req, rec); return err },
			"changeos": func() error {
				_, err := c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1),
					ExtendParam: &modelarts.ServerOSRequest{ImageID: imageID, KeyPairName: "k"}}, rec)
				return err
			},
		}
		for name, call := range calls {
			err := call()
			if !errors.Is(err, modelarts.ErrNotRecorded) || !errors.Is(err, dbDown) {
				t.Errorf("%s: error = %v, want ErrNotRecorded wrapping the recorder's error", name, err)
			}
		}
		if got := len(fc.requests()); got != 0 {
			t.Errorf("server saw %d requests, want 0", got)
		}
		if len(rec.after) != 0 {
			t.Errorf("AfterSend called %d times without a successful BeforeSend", len(rec.after))
		}
	})

	t.Run("nil Recorder without AllowUnaudited fails closed", func(t *testing.T) {
		fc := newFakeCloud(t, okHandler)
		c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.AllowUnaudited = false })
		_, err := c.BatchAction(context.Background(), req, nil)
		if !errors.Is(err, modelarts.ErrNotRecorded) {
			t.Errorf("error = %v, want ErrNotRecorded", err)
		}
		if got := len(fc.requests()); got != 0 {
			t.Errorf("server saw %d requests, want 0", got)
		}
		// Reads need no recorder.
		if _, err := c.ListServersPage(context.Background(), 1, 0); err != nil {
			t.Errorf("read without recorder: %v", err)
		}
	})

	t.Run("AfterSend error is logged and the result returned", func(t *testing.T) {
		fc := newFakeCloud(t, okHandler)
		rec := &fakeRecorder{afterErr: errors.New("audit: disk full")}
		var logBuf bytes.Buffer
		c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) {
			cfg.AllowUnaudited = false
			cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
			cfg.Auth = modelarts.NewAKSK("AK_EXAMPLE", "SK_SECRET_VALUE", "SECURITY_TOKEN_VALUE", project)
		})
		page, err := c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1),
			ExtendParam: &modelarts.ServerOSRequest{ImageID: imageID, AdminPass: "Sup3r-Secret!"}}, rec)
		if err != nil || page == nil {
			t.Fatalf("BatchAction = %v, %v; want the API result", page, err)
		}
		log := logBuf.String()
		if !strings.Contains(log, "audit: disk full") || !strings.Contains(log, "rid-1") {
			t.Errorf("log does not report the failure: %s", log)
		}
		for _, secret := range []string{"SK_SECRET_VALUE", "SECURITY_TOKEN_VALUE", "Sup3r-Secret!", "Signature="} {
			if strings.Contains(log, secret) {
				t.Errorf("log contains secret %q: %s", secret, log)
			}
		}
	})

	t.Run("transport error and decode failure reach AfterSend", func(t *testing.T) {
		fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				hj, _ := w.(http.Hijacker)
				conn, _, _ := hj.Hijack()
				conn.Close()
				return
			}
			io.WriteString(w, `{"data": [tru`)
		})
		rec := &fakeRecorder{}
		c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.AllowUnaudited = false })
		if _, err := c.BatchAction(context.Background(), req, rec); err == nil {
			t.Fatal("BatchAction succeeded over a dropped connection")
		}
		_, err := c.BatchAction(context.Background(), req, rec)
		if err == nil || !strings.Contains(err.Error(), "could not be decoded") {
			t.Fatalf("BatchAction error = %v, want a decode failure", err)
		}
		if len(rec.after) != 2 {
			t.Fatalf("AfterSend called %d times, want 2", len(rec.after))
		}
		if rec.after[0].Err == nil || rec.after[0].Status != 0 {
			t.Errorf("dropped connection result = %+v, want Err and no status", rec.after[0])
		}
		if rec.after[1].Err == nil || rec.after[1].Status != 200 || string(rec.after[1].Body) != `{"data": [tru` {
			t.Errorf("decode failure result = %+v", rec.after[1])
		}
	})

	t.Run("API error is recorded with its status and body", func(t *testing.T) {
		const errBody = `{"error_code":"ModelArts.7000","error_msg":"not allowed"}`
		fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(400)
			io.WriteString(w, errBody)
		})
		rec := &fakeRecorder{}
		c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.AllowUnaudited = false })
		_, err := c.BatchAction(context.Background(), req, rec)
		var ae *modelarts.APIError
		if !errors.As(err, &ae) || ae.Code != "ModelArts.7000" {
			t.Fatalf("error = %v, want APIError ModelArts.7000", err)
		}
		if r := rec.after[0]; r.Status != 400 || string(r.Body) != errBody || r.Err != nil {
			t.Errorf("CallResult = %+v", r)
		}
	})

	t.Run("AfterSend runs with a live context after cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
			cancel()
			time.Sleep(50 * time.Millisecond)
			okHandler(w, r, n)
		})
		rec := &fakeRecorder{}
		c, _ := newTestClient(t, fc.URL, func(cfg *modelarts.Config) { cfg.AllowUnaudited = false })
		_, err := c.BatchAction(ctx, req, rec)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error = %v, want context.Canceled", err)
		}
		if len(rec.after) != 1 || rec.afterCtxErr[0] != nil {
			t.Errorf("AfterSend calls %d, ctx err %v; want 1 call with a live context", len(rec.after), rec.afterCtxErr)
		}
	})
}

func TestBatchActionValidatesFirst(t *testing.T) {
	fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, modelarts.ServerPage{}) })
	c, _ := newTestClient(t, fc.URL)
	_, err := c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchChangeOS, Servers: servers(id1, id1)}, nil)
	var verrs modelarts.ValidationErrors
	if !errors.As(err, &verrs) || verrs.For("servers[1].id") == "" || verrs.For("extend_param.image_id") == "" {
		t.Fatalf("error = %v, want ValidationErrors for the duplicate and the image", err)
	}
	if _, err := c.BatchAction(context.Background(), nil, nil); err == nil {
		t.Error("BatchAction(nil) succeeded")
	}
	if got := len(fc.requests()); got != 0 {
		t.Errorf("server saw %d requests for invalid batches, want 0", got)
	}
	// An empty extend_param on STOP is valid and left out of the body.
	if _, err := c.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1),
		ExtendParam: &modelarts.ServerOSRequest{}}, nil); err != nil {
		t.Fatalf("BatchAction: %v", err)
	}
	if got := fc.requests()[0].Body; strings.Contains(got, "extend_param") {
		t.Errorf("body %q carries an empty extend_param", got)
	}
}

func TestContextCancellation(t *testing.T) {
	// Each case cancels only once the fake cloud has the request, so no
	// time budget can be lost to a slow or loaded machine.
	t.Run("cancelled during a slow response", func(t *testing.T) {
		arrived := make(chan struct{}, 1)
		fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
			arrived <- struct{}{}
			<-r.Context().Done() // blocks until the client gives up
		})
		c, _ := newTestClient(t, fc.URL)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			<-arrived
			cancel()
		}()
		_, err := c.ListServersPage(ctx, 10, 0)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if got := len(fc.requests()); got != 1 {
			t.Errorf("server saw %d requests, want 1 (no retry after cancellation)", got)
		}
	})
	t.Run("cancelled while waiting to retry", func(t *testing.T) {
		answered := make(chan struct{}, 1)
		fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(503)
			w.(http.Flusher).Flush()
			answered <- struct{}{}
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		c, err := modelarts.NewClient(modelarts.Config{Endpoint: fc.URL, ProjectID: project, Auth: modelarts.NoAuth(),
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			<-answered // the 503 is on its way: the client now waits 5 s to retry
			cancel()
		}()
		_, err = c.ListServersPage(ctx, 10, 0)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
		if got := len(fc.requests()); got != 1 {
			t.Errorf("server saw %d requests, want 1", got)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		fc := newFakeCloud(t, func(w http.ResponseWriter, r *http.Request, n int) { writeJSON(w, 200, modelarts.ServerPage{}) })
		c, _ := newTestClient(t, fc.URL)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.ListAllServers(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("ListAllServers error = %v, want context.Canceled", err)
		}
		if _, err := c.BatchAction(ctx, &modelarts.BatchRequest{Type: modelarts.BatchStop, Servers: servers(id1)}, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("BatchAction error = %v, want context.Canceled", err)
		}
		if got := len(fc.requests()); got != 0 {
			t.Errorf("server saw %d requests, want 0", got)
		}
	})
}

// TestSignedClientAgainstVerifier drives the client with AK/SK through a
// server that verifies signatures as the simulator will.
func TestSignedClientAgainstVerifier(t *testing.T) {
	keys := map[string]string{"AK_EXAMPLE": "SK_EXAMPLE"}
	var verdicts []error
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		err := modelarts.VerifySignature(r, body, func(ak string) (string, bool) { sk, ok := keys[ak]; return sk, ok }, time.Now(), 0)
		mu.Lock()
		verdicts = append(verdicts, err)
		mu.Unlock()
		if err != nil {
			writeJSON(w, 401, map[string]string{"error_code": "APIGW.0301", "error_msg": err.Error()})
			return
		}
		if r.Header.Get("X-Project-Id") != project || r.Header.Get("X-Security-Token") != "sts" {
			writeJSON(w, 400, map[string]string{"error_code": "X", "error_msg": "missing headers"})
			return
		}
		if strings.HasSuffix(r.URL.Path, "/action") {
			writeJSON(w, 200, modelarts.ServerPage{})
			return
		}
		writeJSON(w, 200, modelarts.ServerPage{Total: 0})
	}))
	defer srv.Close()

	good, _ := newTestClient(t, srv.URL, func(cfg *modelarts.Config) {
		cfg.Auth = modelarts.NewAKSK("AK_EXAMPLE", "SK_EXAMPLE", "sts", project)
	})
	if _, err := good.ListAllServers(context.Background()); err != nil {
		t.Errorf("signed ListAllServers: %v", err)
	}
	if _, err := good.BatchAction(context.Background(), &modelarts.BatchRequest{Type: modelarts.BatchReinstallOS, Servers: servers(id1),
		ExtendParam: &modelarts.ServerOSRequest{KeyPairName: "kp", UserData: "YWJj"}}, nil); err != nil {
		t.Errorf("signed BatchAction: %v", err)
	}
	bad, _ := newTestClient(t, srv.URL, func(cfg *modelarts.Config) {
		cfg.Auth = modelarts.NewAKSK("AK_EXAMPLE", "WRONG_SK", "sts", project)
	})
	_, err := bad.ListServersPage(context.Background(), 10, 0)
	var ae *modelarts.APIError
	if !errors.As(err, &ae) || ae.HTTPStatus != 401 || ae.Code != "APIGW.0301" {
		t.Fatalf("wrong SK: error = %v, want 401 APIGW.0301", err)
	}
	if strings.Contains(err.Error(), "WRONG_SK") {
		t.Errorf("error reveals the SK: %v", err)
	}
	if verdicts[0] != nil || verdicts[1] != nil || verdicts[2] == nil {
		t.Errorf("verdicts = %v", verdicts)
	}
}
