package modelarts_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/modelarts"
)

func fixedClock(s string) func() time.Time {
	t, err := time.Parse(modelarts.SignDateFormat, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSignReferenceVectors reproduces, byte for byte, every vector of
// reference §4.1.
func TestSignReferenceVectors(t *testing.T) {
	const devProject = "0123456789abcdef0123456789abcdef"
	const devHost = "modelarts.cn-north-4.myhuaweicloud.com"
	tests := []struct {
		name          string
		method        string
		url           string
		headers       map[string]string
		body          string
		signer        modelarts.Signer
		wantCanonical string // full canonical request, when the reference gives it
		wantCanonHash string // sha256 of the canonical request, when given
		wantPayload   string // payload hash, when given
		wantSignature string
		wantAuthz     string
	}{
		{
			name:   "published example",
			method: http.MethodGet,
			url:    "https://service.region.example.com/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0",
			headers: map[string]string{
				"Content-Type": "application/json",
			},
			signer: modelarts.Signer{
				AK: "QTWAOYTTINDUT2QVKYUC", SK: "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
				Now: fixedClock("20191115T033655Z"), SignedHeaders: []string{"content-type", "host"},
			},
			wantCanonical: "GET\n" +
				"/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs/\n" +
				"limit=2&marker=13551d6b-755d-4757-b956-536f674975c0\n" +
				"content-type:application/json\n" +
				"host:service.region.example.com\n" +
				"x-sdk-date:20191115T033655Z\n" +
				"\n" +
				"content-type;host;x-sdk-date\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			wantCanonHash: "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a",
			wantPayload:   "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			wantSignature: "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe",
			wantAuthz:     "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe",
		},
		{
			name:   "SDK unit test GET with unsigned TEST_UNDERSCORE",
			method: http.MethodGet,
			url:    "https://example.huaweicloud.com/path?limit=1",
			headers: map[string]string{
				"TEST_UNDERSCORE": "TEST_VALUE",
			},
			signer:        modelarts.Signer{AK: "AccessKey", SK: "SecretKey", Now: fixedClock("20060102T150405Z")},
			wantCanonHash: "85c3b7730f308aee452b16138a42a914397e43a8f0d732dfa521c0ef2afa98a4",
			wantSignature: "5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
			wantAuthz:     "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624",
		},
		{
			name:   "SDK unit test POST with unsigned content-type and TEST_UNDERSCORE",
			method: http.MethodPost,
			url:    "https://example.huaweicloud.com/path?key=value",
			headers: map[string]string{
				"TEST_UNDERSCORE": "TEST_VALUE",
				"Content-Type":    "application/json",
			},
			body:          "{\"Name\":\"test\",\"Id\":1}\n",
			signer:        modelarts.Signer{AK: "AccessKey", SK: "SecretKey", Now: fixedClock("20060102T150405Z")},
			wantPayload:   "a29d7b4c5efd1a22011d69fd7b7aee76fe51e4083c609244228de258afd61289",
			wantSignature: "cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59",
			wantAuthz:     "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, Signature=cecc2af119b18ab70b4d094c0750f3b42c02f254903179a0fc2cc72fc9db4f59",
		},
		{
			name:    "DevServer batch STOP",
			method:  http.MethodPost,
			url:     "https://" + devHost + "/v1/" + devProject + "/dev-servers/action",
			headers: map[string]string{"X-Project-Id": devProject},
			body:    `{"type":"STOP","servers":[{"id":"11111111-2222-4333-8444-555555555555"}]}`,
			signer: modelarts.Signer{AK: "AK_EXAMPLE", SK: "SK_EXAMPLE", Now: fixedClock("20240101T000000Z"),
				SignedHeaders: []string{"host", "x-project-id"}},
			wantCanonical: "POST\n" +
				"/v1/" + devProject + "/dev-servers/action/\n" +
				"\n" +
				"host:" + devHost + "\n" +
				"x-project-id:" + devProject + "\n" +
				"x-sdk-date:20240101T000000Z\n" +
				"\n" +
				"host;x-project-id;x-sdk-date\n" +
				"b3069a0b71656803ed27a64fb326fd50c38507e33050b4c1db5450dc2cfa3355",
			wantPayload:   "b3069a0b71656803ed27a64fb326fd50c38507e33050b4c1db5450dc2cfa3355",
			wantSignature: "ae7eb0ff0f83aae5f876d02180e895946fbc6856d298a814b7733a907d7f8683",
			wantAuthz:     "SDK-HMAC-SHA256 Access=AK_EXAMPLE, SignedHeaders=host;x-project-id;x-sdk-date, Signature=ae7eb0ff0f83aae5f876d02180e895946fbc6856d298a814b7733a907d7f8683",
		},
		{
			name:    "DevServer list page",
			method:  http.MethodGet,
			url:     "https://" + devHost + "/v1/" + devProject + "/dev-servers?limit=10&offset=0&sort_dir=DESC",
			headers: map[string]string{"X-Project-Id": devProject},
			signer: modelarts.Signer{AK: "AK_EXAMPLE", SK: "SK_EXAMPLE", Now: fixedClock("20240101T000000Z"),
				SignedHeaders: []string{"host", "x-project-id"}},
			wantCanonical: "GET\n" +
				"/v1/" + devProject + "/dev-servers/\n" +
				"limit=10&offset=0&sort_dir=DESC\n" +
				"host:" + devHost + "\n" +
				"x-project-id:" + devProject + "\n" +
				"x-sdk-date:20240101T000000Z\n" +
				"\n" +
				"host;x-project-id;x-sdk-date\n" +
				"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			wantSignature: "4bd742bb62cef82d3eb7ccb24a34e27c3d201fb929e5e2b726dff67cf2a5882e",
			wantAuthz:     "SDK-HMAC-SHA256 Access=AK_EXAMPLE, SignedHeaders=host;x-project-id;x-sdk-date, Signature=4bd742bb62cef82d3eb7ccb24a34e27c3d201fb929e5e2b726dff67cf2a5882e",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req := httptest.NewRequest(tt.method, tt.url, body)
			for k, v := range tt.headers {
				// Set the raw key, as the SDK does, so TEST_UNDERSCORE keeps its spelling.
				req.Header[k] = []string{v}
			}
			if err := tt.signer.Sign(req, []byte(tt.body)); err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if got, want := req.Header.Get("Authorization"), tt.wantAuthz; got != want {
				t.Errorf("Authorization = %q, want %q", got, want)
			}
			if got, want := req.Header.Get(modelarts.HeaderSdkDate), tt.signer.Now().UTC().Format(modelarts.SignDateFormat); got != want {
				t.Errorf("X-Sdk-Date = %q, want %q", got, want)
			}

			// Rebuild the intermediate values with the exported steps.
			_, signed, sig, err := modelarts.ParseAuthorization(req.Header.Get("Authorization"))
			if err != nil {
				t.Fatalf("ParseAuthorization: %v", err)
			}
			if sig != tt.wantSignature {
				t.Errorf("signature = %s, want %s", sig, tt.wantSignature)
			}
			h := req.Header.Clone()
			h.Set("Host", req.URL.Host)
			payload := modelarts.PayloadHash([]byte(tt.body))
			if tt.wantPayload != "" && payload != tt.wantPayload {
				t.Errorf("payload hash = %s, want %s", payload, tt.wantPayload)
			}
			canonical := modelarts.CanonicalRequest(tt.method, req.URL.Path, req.URL.Query(), h, signed, payload)
			if tt.wantCanonical != "" {
				if diff := cmp.Diff(tt.wantCanonical, canonical); diff != "" {
					t.Errorf("canonical request mismatch (-want +got):\n%s", diff)
				}
			}
			if tt.wantCanonHash != "" {
				if got := sha256Hex(canonical); got != tt.wantCanonHash {
					t.Errorf("sha256(canonical) = %s, want %s", got, tt.wantCanonHash)
				}
			}
			sts := modelarts.StringToSign(canonical, tt.signer.Now())
			wantSTS := "SDK-HMAC-SHA256\n" + tt.signer.Now().UTC().Format(modelarts.SignDateFormat) + "\n" + sha256Hex(canonical)
			if sts != wantSTS {
				t.Errorf("string to sign = %q, want %q", sts, wantSTS)
			}
			if got := modelarts.SignString(tt.signer.SK, sts); got != tt.wantSignature {
				t.Errorf("SignString = %s, want %s", got, tt.wantSignature)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name  string
		query url.Values
		want  string
	}{
		{
			name: "SDK example",
			query: url.Values{
				"test":   {"一 (&=?!#%.*)"},
				"path":   {"/tmp/123"},
				"multi":  {"3", "1", "2"},
				"limit":  {"1"},
				"enable": {"true"},
			},
			want: "enable=true&limit=1&multi=1&multi=2&multi=3&path=%2Ftmp%2F123&test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29",
		},
		{name: "empty", query: nil, want: ""},
		{name: "empty value", query: url.Values{"a": {""}}, want: "a="},
		{name: "keys sorted by bytes", query: url.Values{"b": {"1"}, "B": {"2"}, "a_b": {"3"}}, want: "B=2&a_b=3&b=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := modelarts.CanonicalQuery(tt.query); got != tt.want {
				t.Errorf("CanonicalQuery = %q, want %q", got, tt.want)
			}
		})
	}
	// The same query parsed from the wire (as the SDK sends it) gives the same result.
	raw := "test=%E4%B8%80%20%28%26%3D%3F%21%23%25.%2A%29&path=%2Ftmp%2F123&multi=2&multi=1&multi=3&limit=1&enable=true"
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := modelarts.CanonicalQuery(q), tests[0].want; got != want {
		t.Errorf("CanonicalQuery(parsed) = %q, want %q", got, want)
	}
}

func TestCanonicalURI(t *testing.T) {
	tests := []struct{ name, path, want string }{
		{"adds trailing slash", "/v1/p/dev-servers/action", "/v1/p/dev-servers/action/"},
		{"keeps trailing slash", "/v1/p/", "/v1/p/"},
		{"root", "/", "/"},
		{"empty", "", "/"},
		{"escapes segments", "/a b/c*d/é", "/a%20b/c%2Ad/%C3%A9/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := modelarts.CanonicalURI(tt.path); got != tt.want {
				t.Errorf("CanonicalURI(%q) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

func TestSignerSDKDefaultHeaders(t *testing.T) {
	// The SDK rule: sign every header set except content-type* and '_' names;
	// never Host.
	req := httptest.NewRequest(http.MethodPost, "https://example.com/v1/p/dev-servers/action", nil)
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("X-Project-Id", "p")
	req.Header.Set("X-Security-Token", "tok")
	req.Header.Set("User-Agent", "ua")
	req.Header["Odd_Name"] = []string{"x"}
	s := modelarts.Signer{AK: "ak", SK: "sk", Now: fixedClock("20240101T000000Z")}
	if err := s.Sign(req, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	_, signed, _, err := modelarts.ParseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"user-agent", "x-project-id", "x-sdk-date", "x-security-token"}
	if diff := cmp.Diff(want, signed); diff != "" {
		t.Errorf("signed headers mismatch (-want +got):\n%s", diff)
	}
}

func TestSignerRequiresKeys(t *testing.T) {
	req := httptest.NewRequest(http.MethodGet, "https://example.com/", nil)
	s := modelarts.Signer{AK: "ak"}
	if err := s.Sign(req, nil); err == nil {
		t.Fatal("Sign with no SK succeeded")
	}
}

func TestSignerStringHidesSecret(t *testing.T) {
	s := modelarts.Signer{AK: "AKIDEXAMPLE123", SK: "super-secret-sk"}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if got := fmt.Sprintf(format, s); strings.Contains(got, "super-secret-sk") {
			t.Errorf("%s of Signer leaks the SK: %s", format, got)
		}
		if got := fmt.Sprintf(format, &s); strings.Contains(got, "super-secret-sk") {
			t.Errorf("%s of *Signer leaks the SK: %s", format, got)
		}
	}
}

// verifyServer runs VerifySignature in a real HTTP server, as the simulator
// does, and reports the verdict.
func verifyServer(t *testing.T, keys map[string]string, now time.Time) (*httptest.Server, *[]error) {
	t.Helper()
	var results []error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("read body: %v", err)
		}
		err = modelarts.VerifySignature(r, body, func(ak string) (string, bool) {
			sk, ok := keys[ak]
			return sk, ok
		}, now, 0)
		results = append(results, err)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv, &results
}

func TestVerifySignature(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"STOP","servers":[{"id":"11111111-2222-4333-8444-555555555555"}]}`)
	tests := []struct {
		name    string
		signer  modelarts.Signer
		path    string
		mutate  func(r *http.Request) []byte // returns the body to send
		wantErr string                       // "" means accepted
	}{
		{
			name:   "SDK style accepted",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers/action?x=a%20b&y=%2A",
		},
		{
			name: "gateway demo style with host accepted",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now },
				SignedHeaders: []string{"host", "content-type", "x-project-id"}},
			path: "/v1/p/dev-servers/action",
		},
		{
			name:   "date 14 minutes off accepted",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now.Add(-14 * time.Minute) }},
			path:   "/v1/p/dev-servers/action",
		},
		{
			name:   "unsigned payload accepted with another body",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers/action",
			mutate: func(r *http.Request) []byte { return []byte("other") },
		},
		{
			name:   "tampered body rejected",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers/action",
			mutate: func(r *http.Request) []byte {
				return bytes.Replace(body, []byte("STOP"), []byte("DELETE"), 1)
			},
			wantErr: "signature does not match",
		},
		{
			name:    "wrong SK rejected",
			signer:  modelarts.Signer{AK: "AK1", SK: "not-the-sk", Now: func() time.Time { return now }},
			path:    "/v1/p/dev-servers/action",
			wantErr: "signature does not match",
		},
		{
			name:    "unknown AK rejected",
			signer:  modelarts.Signer{AK: "AK2", SK: "SK1", Now: func() time.Time { return now }},
			path:    "/v1/p/dev-servers/action",
			wantErr: "unknown access key",
		},
		{
			name:    "stale date rejected",
			signer:  modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now.Add(-16 * time.Minute) }},
			path:    "/v1/p/dev-servers/action",
			wantErr: "away from the server clock",
		},
		{
			name:    "future date rejected",
			signer:  modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now.Add(16 * time.Minute) }},
			path:    "/v1/p/dev-servers/action",
			wantErr: "away from the server clock",
		},
		{
			name:   "tampered signed header rejected",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers/action",
			mutate: func(r *http.Request) []byte {
				r.Header.Set("X-Project-Id", "another-project")
				return body
			},
			wantErr: "signature does not match",
		},
		{
			name:   "tampered query rejected",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers?limit=10",
			mutate: func(r *http.Request) []byte {
				r.URL.RawQuery = "limit=11"
				return body
			},
			wantErr: "signature does not match",
		},
		{
			name:   "missing Authorization rejected",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers/action",
			mutate: func(r *http.Request) []byte {
				r.Header.Del("Authorization")
				return body
			},
			wantErr: "no Authorization header",
		},
		{
			name:   "date not signed rejected",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers/action",
			mutate: func(r *http.Request) []byte {
				r.Header.Set("Authorization", "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=x-project-id, Signature=00")
				return body
			},
			wantErr: "x-sdk-date is not among the signed headers",
		},
		{
			name:   "malformed Authorization rejected",
			signer: modelarts.Signer{AK: "AK1", SK: "SK1", Now: func() time.Time { return now }},
			path:   "/v1/p/dev-servers/action",
			mutate: func(r *http.Request) []byte {
				r.Header.Set("Authorization", "Bearer abc")
				return body
			},
			wantErr: "does not start with",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, results := verifyServer(t, map[string]string{"AK1": "SK1"}, now)
			req, err := http.NewRequest(http.MethodPost, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json;charset=UTF-8")
			req.Header.Set("X-Project-Id", "p")
			if strings.HasPrefix(tt.name, "unsigned payload") {
				req.Header.Set(modelarts.HeaderContentSha256, modelarts.UnsignedPayload)
			}
			if err := tt.signer.Sign(req, body); err != nil {
				t.Fatal(err)
			}
			send := body
			if tt.mutate != nil {
				send = tt.mutate(req)
			}
			req.Body = io.NopCloser(bytes.NewReader(send))
			req.ContentLength = int64(len(send))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if len(*results) != 1 {
				t.Fatalf("server saw %d requests, want 1", len(*results))
			}
			got := (*results)[0]
			if tt.wantErr == "" {
				if got != nil {
					t.Fatalf("VerifySignature rejected a correctly signed request: %v", got)
				}
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status = %d, want 200", resp.StatusCode)
				}
				return
			}
			if got == nil {
				t.Fatalf("VerifySignature accepted the request, want error containing %q", tt.wantErr)
			}
			if !errors.Is(got, modelarts.ErrSignature) {
				t.Errorf("error %v does not wrap ErrSignature", got)
			}
			if !strings.Contains(got.Error(), tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", got, tt.wantErr)
			}
			for _, secret := range []string{"SK1", "not-the-sk"} {
				if strings.Contains(got.Error(), secret) {
					t.Errorf("error %q reveals a secret key", got)
				}
			}
		})
	}
}
