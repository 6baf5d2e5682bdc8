package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
)

const (
	testAK = "SIMTESTAK0000000001"
	testSK = "sim-test-secret-key-do-not-use"
)

// TestSignatureVerification sends signed requests over real HTTP and checks
// the simulator accepts exactly the correctly signed ones.
func TestSignatureVerification(t *testing.T) {
	sim, clock := newSim(t, simulator.Options{AK: testAK, SK: testSK, Transition: transition})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	run := pick(t, sim, "running", postPaidWith(modelarts.StatusRunning))
	stopBody, _ := json.Marshal(batch(modelarts.BatchStop, nil, run.ID))
	tampered, _ := json.Marshal(batch(modelarts.BatchDelete, nil, run.ID))

	type sendSpec struct {
		method, path string
		signBody     []byte // what the signature covers
		sendBody     []byte // what goes on the wire
		sk           string
		signedAt     time.Duration // offset from the simulator clock
		headers      []string      // exact signed headers; nil = SDK default
		noAuth       bool
		mangle       func(r *http.Request)
	}
	send := func(t *testing.T, s sendSpec) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if s.sendBody != nil {
			rd = bytes.NewReader(s.sendBody)
		}
		req, err := http.NewRequest(s.method, srv.URL+s.path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "simulator-test")
		req.Header.Set("X-Project-Id", project)
		if s.sendBody != nil {
			req.Header.Set("Content-Type", "application/json;charset=UTF-8")
		}
		if !s.noAuth {
			sk := s.sk
			if sk == "" {
				sk = testSK
			}
			signer := modelarts.Signer{AK: testAK, SK: sk, SignedHeaders: s.headers,
				Now: func() time.Time { return clock.Now().Add(s.signedAt) }}
			if err := signer.Sign(req, s.signBody); err != nil {
				t.Fatalf("sign: %v", err)
			}
		}
		if s.mangle != nil {
			s.mangle(req)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", s.method, s.path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	rejected := []struct {
		name string
		spec sendSpec
	}{
		{"tampered-body", sendSpec{method: http.MethodPost, path: path("/action"), signBody: stopBody, sendBody: tampered}},
		{"wrong-sk", sendSpec{method: http.MethodPost, path: path("/action"), signBody: stopBody, sendBody: stopBody, sk: "not-the-secret"}},
		{"stale-date", sendSpec{method: http.MethodPost, path: path("/action"), signBody: stopBody, sendBody: stopBody, signedAt: -16 * time.Minute}},
		{"future-date", sendSpec{method: http.MethodGet, path: path(""), signedAt: 16 * time.Minute}},
		{"no-authorization", sendSpec{method: http.MethodGet, path: path(""), noAuth: true}},
		{"tampered-query", sendSpec{method: http.MethodGet, path: path("?limit=5"), mangle: func(r *http.Request) { r.URL.RawQuery = "limit=500" }}},
		{"tampered-path", sendSpec{method: http.MethodPut, path: path("/" + run.ID + "/stop"), mangle: func(r *http.Request) {
			r.URL.Path = path("/" + run.ID + "/reboot")
		}}},
		{"tampered-signed-header", sendSpec{method: http.MethodGet, path: path(""), mangle: func(r *http.Request) { r.Header.Set("X-Project-Id", "ffff") }}},
		{"unknown-ak", sendSpec{method: http.MethodGet, path: path(""), mangle: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "Access="+testAK, "Access=OTHERAK", 1))
		}}},
	}
	for _, tt := range rejected {
		t.Run("rejects/"+tt.name, func(t *testing.T) {
			before := sim.Servers()
			res, body := send(t, tt.spec)
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401; body %s", res.StatusCode, body)
			}
			var m map[string]string
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if m["error_code"] != "APIGW.0301" || m["error_msg"] != "Incorrect IAM authentication information: verify aksk signature fail" {
				t.Errorf("body = %s, want APIGW.0301 verify aksk signature fail", body)
			}
			if rid := res.Header.Get("X-Request-Id"); !requestIDRE.MatchString(rid) || m["request_id"] != rid {
				t.Errorf("request_id %q / X-Request-Id %q", m["request_id"], rid)
			}
			if after, _ := sim.Server(run.ID); after.Status != before[indexOf(before, run.ID)].Status {
				t.Errorf("rejected request changed the server to %s", after.Status)
			}
		})
	}

	accepted := []struct {
		name string
		spec sendSpec
	}{
		{"get-sdk-headers", sendSpec{method: http.MethodGet, path: path("?limit=10&offset=0&sort_dir=DESC")}},
		{"get-demo-signer-headers", sendSpec{method: http.MethodGet, path: path("/all"), headers: []string{"host", "x-project-id"}}},
		{"get-content-type-and-host-signed", sendSpec{method: http.MethodPost, path: path("/action"), signBody: stopBody, sendBody: stopBody,
			headers: []string{"content-type", "host", "x-project-id"}}},
		{"date-within-skew", sendSpec{method: http.MethodGet, path: path("/" + run.ID), signedAt: -14 * time.Minute}},
		{"query-with-spaces", sendSpec{method: http.MethodGet, path: path("/images?flavor_name=a%20b%2Ac")}},
	}
	for _, tt := range accepted {
		t.Run("accepts/"+tt.name, func(t *testing.T) {
			res, body := send(t, tt.spec)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %s", res.StatusCode, body)
			}
		})
	}
	if got, _ := sim.Server(run.ID); got.Status != modelarts.StatusStopping {
		t.Errorf("the correctly signed STOP left the server %s, want STOPPING", got.Status)
	}
}

func indexOf(list []modelarts.ServerResponse, id string) int {
	for i, s := range list {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// TestNoKeysAcceptsAnything checks a simulator without AK/SK ignores
// whatever credentials a request carries.
func TestNoKeysAcceptsAnything(t *testing.T) {
	sim, _ := newSim(t, simulator.Options{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Authorization", "SDK-HMAC-SHA256 Access=x, SignedHeaders=x-sdk-date, Signature=00")
		r.Header.Set("X-Auth-Token", "anything")
		sim.ServeHTTP(w, r)
	})
	var page modelarts.ServerPage
	decode(t, do(t, h, http.MethodGet, path(""), nil), &page)
	if page.Total == 0 || len(page.Data) == 0 {
		t.Errorf("page = total %d, %d servers; want the fleet listed", page.Total, len(page.Data))
	}
}
