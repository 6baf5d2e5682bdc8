package sdkcheck_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/basic"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/config"
	sdkma "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1"

	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

const (
	testAK      = "SDKCHECKAK0123456789"
	testSK      = "sdkcheck-secret-key-0123456789abcdefghij"
	testProject = "0123456789abcdef0123456789abcdef"
)

// exchange is one request the SDK sent and the simulator's answer, as seen
// on the wire.
type exchange struct {
	Method       string
	URL          string // path and raw query, as received
	Host         string
	Header       http.Header
	Body         []byte
	Status       int
	RespHeader   http.Header
	ResponseBody []byte
}

// recorder sits in front of the simulator and keeps every exchange.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	log  []exchange
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	r.next.ServeHTTP(rec, req)
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())

	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, exchange{
		Method: req.Method, URL: req.URL.RequestURI(), Host: req.Host, Header: req.Header.Clone(), Body: body,
		Status: rec.Code, RespHeader: rec.Header().Clone(), ResponseBody: rec.Body.Bytes(),
	})
}

// exchanges returns a copy of everything recorded so far.
func (r *recorder) exchanges() []exchange {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exchange(nil), r.log...)
}

// last returns the most recent exchange.
func (r *recorder) last(t *testing.T) exchange {
	t.Helper()
	all := r.exchanges()
	if len(all) == 0 {
		t.Fatal("no request reached the simulator")
	}
	return all[len(all)-1]
}

type env struct {
	sim   *simulator.Simulator
	clock *testutil.Clock
	rec   *recorder
	url   string
}

// startSimulator runs the console's simulator (AK/SK required, one project,
// the given fleet size) behind httptest, with a fake clock and a recorder.
func startSimulator(t *testing.T, servers int) *env {
	t.Helper()
	// The clock starts at the real time, so the SDK's real X-Sdk-Date stays
	// inside the 15-minute window, and moves only when the test advances it.
	clock := testutil.NewClock(time.Now())
	sim := simulator.New(simulator.Options{
		Servers:    servers,
		Seed:       7,
		Transition: 200 * time.Millisecond,
		ProjectID:  testProject,
		AK:         testAK,
		SK:         testSK,
		Now:        clock.Now,
	})
	t.Cleanup(sim.Close)
	rec := &recorder{next: sim}
	srv := httptest.NewServer(rec)
	t.Cleanup(srv.Close)
	return &env{sim: sim, clock: clock, rec: rec, url: srv.URL}
}

// sdkClient builds the official ModelArts v1 client with AK/SK credentials
// and the simulator as its only endpoint.
func sdkClient(t *testing.T, endpoint, ak, sk string) *sdkma.ModelArtsClient {
	t.Helper()
	cred, err := basic.NewCredentialsBuilder().WithAk(ak).WithSk(sk).WithProjectId(testProject).SafeBuild()
	if err != nil {
		t.Fatalf("SDK credentials: %v", err)
	}
	hc, err := sdkma.ModelArtsClientBuilder().
		WithEndpoints([]string{endpoint}).
		WithCredential(cred).
		WithHttpConfig(config.DefaultHttpConfig().WithTimeout(10 * time.Second)).
		SafeBuild()
	if err != nil {
		t.Fatalf("SDK client: %v", err)
	}
	return sdkma.NewModelArtsClient(hc)
}

// enumValues lists the values of one of the SDK's enum sets (the struct
// returned by a model.Get...Enum function), read through each member's
// Value method.
func enumValues(enumSet any) map[string]bool {
	v := reflect.ValueOf(enumSet)
	out := make(map[string]bool, v.NumField())
	for i := range v.NumField() {
		out[v.Field(i).MethodByName("Value").Call(nil)[0].String()] = true
	}
	return out
}
