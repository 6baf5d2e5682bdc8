package modelarts

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Constants of the Huawei Cloud API Gateway "SDK-HMAC-SHA256" signature
// (reference §4.1).
const (
	// SignAlgorithm is the algorithm name at the start of the Authorization header.
	SignAlgorithm = "SDK-HMAC-SHA256"
	// SignDateFormat is the Go layout of the X-Sdk-Date header.
	SignDateFormat = "20060102T150405Z"
	// HeaderSdkDate carries the signing time; it is always signed.
	HeaderSdkDate = "X-Sdk-Date"
	// HeaderContentSha256 may carry UnsignedPayload to leave the body unsigned.
	HeaderContentSha256 = "X-Sdk-Content-Sha256"
	// HeaderProjectID names the project a signed request acts on.
	HeaderProjectID = "X-Project-Id"
	// HeaderSecurityToken carries the token of temporary AK/SK credentials.
	HeaderSecurityToken = "X-Security-Token"
	// UnsignedPayload replaces the body hash when X-Sdk-Content-Sha256 says so.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	// DefaultMaxSkew is how far API Gateway lets X-Sdk-Date drift from its clock.
	DefaultMaxSkew = 15 * time.Minute
)

// Signer signs requests with an access key (AK) and secret key (SK) the way
// Huawei's official Go SDK does.
//
// By default it signs every header present on the request when Sign is
// called, except names starting with "content-type", names containing '_'
// and Authorization, plus X-Sdk-Date, which it sets. Like the SDK it does not
// sign Host. Set SignedHeaders to sign an exact list instead (API Gateway's
// demo signer and the published example sign "content-type" and "host").
type Signer struct {
	AK string
	SK string
	// Now returns the signing time; nil means time.Now.
	Now func() time.Time
	// SignedHeaders, when not empty, is the exact set of header names to
	// sign (case-insensitive; x-sdk-date is always added). "host" is taken
	// from Request.Host, or else the URL's host.
	SignedHeaders []string
}

// String hides the secret key so a Signer can never be logged with it.
func (s Signer) String() string { return fmt.Sprintf("Signer{AK: %s, SK: [REDACTED]}", maskAK(s.AK)) }

// GoString hides the secret key from %#v as well.
func (s Signer) GoString() string { return s.String() }

// Sign sets X-Sdk-Date on req, signs the method, path, query, the chosen
// headers and body, and sets the Authorization header. body must be the exact
// bytes that will be sent (nil or empty for no body).
func (s *Signer) Sign(req *http.Request, body []byte) error {
	if s.AK == "" || s.SK == "" {
		return errors.New("sign: access key and secret key are required")
	}
	if req.URL == nil {
		return errors.New("sign: request has no URL")
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now().UTC()
	req.Header.Set(HeaderSdkDate, t.Format(SignDateFormat))
	req.Header.Del("Authorization")

	var signed []string
	if len(s.SignedHeaders) > 0 {
		signed = normalizeSignedHeaders(append(append([]string(nil), s.SignedHeaders...), "x-sdk-date"))
	} else {
		signed = sdkSignedHeaders(req.Header)
	}
	h := headersWithHost(req.Header, requestHost(req))
	canonical := CanonicalRequest(req.Method, req.URL.Path, req.URL.Query(), h, signed, payloadHash(req.Header, body))
	sig := SignString(s.SK, StringToSign(canonical, t))
	req.Header.Set("Authorization", AuthorizationHeader(s.AK, signed, sig))
	return nil
}

// sdkSignedHeaders applies the official SDK's rule: every header set, except
// content-type*, names with '_' (and Authorization, never signed).
func sdkSignedHeaders(h http.Header) []string {
	var names []string
	for k := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "content-type") || strings.Contains(lk, "_") || lk == "authorization" {
			continue
		}
		names = append(names, lk)
	}
	return normalizeSignedHeaders(names)
}

// normalizeSignedHeaders lower-cases, trims, de-duplicates and sorts names.
func normalizeSignedHeaders(names []string) []string {
	seen := make(map[string]bool, len(names))
	out := make([]string, 0, len(names))
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func requestHost(req *http.Request) string {
	if req.Host != "" {
		return req.Host
	}
	return req.URL.Host
}

// headersWithHost returns a copy of h with Host set, because Go keeps the
// host outside Request.Header.
func headersWithHost(h http.Header, host string) http.Header {
	c := h.Clone()
	if c == nil {
		c = http.Header{}
	}
	if host != "" {
		c.Set("Host", host)
	}
	return c
}

func payloadHash(h http.Header, body []byte) string {
	if h.Get(HeaderContentSha256) == UnsignedPayload {
		return UnsignedPayload
	}
	return PayloadHash(body)
}

// PayloadHash is the lower-case hex SHA-256 of the exact body bytes.
func PayloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// CanonicalRequest builds the text that is hashed into the string to sign:
// method, canonical URI, canonical query, canonical headers, signed headers
// and payload hash, joined by newlines. path is the decoded URL path, query
// the decoded query values, and header must hold every signed header
// (including Host, when "host" is signed). signedHeaders must be lower-case
// and sorted, as in the Authorization header.
func CanonicalRequest(method, path string, query url.Values, header http.Header, signedHeaders []string, payloadHash string) string {
	return strings.Join([]string{
		strings.ToUpper(method),
		CanonicalURI(path),
		CanonicalQuery(query),
		CanonicalHeaders(header, signedHeaders),
		strings.Join(signedHeaders, ";"),
		payloadHash,
	}, "\n")
}

// CanonicalURI percent-encodes each segment of the decoded path and adds a
// trailing slash if there is none ("/v1/p/dev-servers" → "/v1/p/dev-servers/").
func CanonicalURI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = signEscape(s)
	}
	u := strings.Join(segs, "/")
	if !strings.HasSuffix(u, "/") {
		u += "/"
	}
	return u
}

// CanonicalQuery sorts the keys by bytes, sorts each key's values, encodes
// keys and values with the signing escape (space → %20, '*' → %2A) and joins
// the k=v pairs with '&'. An empty query gives "".
func CanonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		ek := signEscape(k)
		for _, v := range vals {
			pairs = append(pairs, ek+"="+signEscape(v))
		}
	}
	return strings.Join(pairs, "&")
}

// CanonicalHeaders writes "name:trimmed-value\n" for each signed header in
// the given order (several values of one header are sorted). Header names are
// matched case-insensitively.
func CanonicalHeaders(header http.Header, signedHeaders []string) string {
	lower := make(map[string][]string, len(header))
	for k, v := range header {
		lk := strings.ToLower(k)
		lower[lk] = append(lower[lk], v...)
	}
	var b strings.Builder
	for _, name := range signedHeaders {
		vals := append([]string(nil), lower[name]...)
		sort.Strings(vals)
		for _, v := range vals {
			b.WriteString(name)
			b.WriteByte(':')
			b.WriteString(strings.TrimSpace(v))
			b.WriteByte('\n')
		}
	}
	// The SDK always ends the block in a newline, even with no headers.
	if b.Len() == 0 {
		return "\n"
	}
	return b.String()
}

// StringToSign is "SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256(canonical request)>".
func StringToSign(canonicalRequest string, t time.Time) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return SignAlgorithm + "\n" + t.UTC().Format(SignDateFormat) + "\n" + hex.EncodeToString(sum[:])
}

// SignString is the lower-case hex HMAC-SHA256 of stringToSign keyed with sk.
func SignString(sk, stringToSign string) string {
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte(stringToSign))
	return hex.EncodeToString(m.Sum(nil))
}

// AuthorizationHeader formats the Authorization header value.
func AuthorizationHeader(ak string, signedHeaders []string, signature string) string {
	return fmt.Sprintf("%s Access=%s, SignedHeaders=%s, Signature=%s", SignAlgorithm, ak, strings.Join(signedHeaders, ";"), signature)
}

// ParseAuthorization splits an SDK-HMAC-SHA256 Authorization header into its
// access key, signed header names and signature.
func ParseAuthorization(v string) (ak string, signedHeaders []string, signature string, err error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(v), SignAlgorithm+" ")
	if !ok {
		return "", nil, "", fmt.Errorf("%w: Authorization header does not start with %q", ErrSignature, SignAlgorithm+" ")
	}
	var haveAK, haveSH, haveSig bool
	for part := range strings.SplitSeq(rest, ",") {
		k, val, found := strings.Cut(strings.TrimSpace(part), "=")
		if !found {
			return "", nil, "", fmt.Errorf("%w: malformed Authorization header part %q", ErrSignature, truncate(k, 32))
		}
		switch k {
		case "Access":
			ak, haveAK = val, true
		case "SignedHeaders":
			signedHeaders, haveSH = strings.Split(val, ";"), true
		case "Signature":
			signature, haveSig = val, true
		default:
			return "", nil, "", fmt.Errorf("%w: unknown Authorization header part %q", ErrSignature, truncate(k, 32))
		}
	}
	if !haveAK || ak == "" || !haveSH || !haveSig || signature == "" {
		return "", nil, "", fmt.Errorf("%w: Authorization header needs Access, SignedHeaders and Signature", ErrSignature)
	}
	return ak, signedHeaders, signature, nil
}

// ErrSignature is wrapped by every error VerifySignature returns, so a server
// can map them all to 401 APIGW.0301.
var ErrSignature = errors.New("AK/SK signature verification failed")

// VerifySignature checks an SDK-HMAC-SHA256 signed request the way API
// Gateway does: it parses Authorization, looks up the secret key of its
// access key, checks X-Sdk-Date is signed and within maxSkew of now (0 means
// DefaultMaxSkew), rebuilds the canonical request from the SignedHeaders the
// client listed (host from r.Host) and the exact body bytes, and compares
// signatures in constant time. Errors wrap ErrSignature and say what failed,
// without revealing any secret.
func VerifySignature(r *http.Request, body []byte, lookupSK func(ak string) (string, bool), now time.Time, maxSkew time.Duration) error {
	if maxSkew <= 0 {
		maxSkew = DefaultMaxSkew
	}
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return fmt.Errorf("%w: no Authorization header", ErrSignature)
	}
	ak, signedRaw, sig, err := ParseAuthorization(authz)
	if err != nil {
		return err
	}
	signed := make([]string, 0, len(signedRaw))
	hasDate := false
	for _, h := range signedRaw {
		if h == "" || h != strings.ToLower(h) {
			return fmt.Errorf("%w: SignedHeaders must be non-empty lower-case names", ErrSignature)
		}
		if h == "x-sdk-date" {
			hasDate = true
		}
		signed = append(signed, h)
	}
	if !sort.StringsAreSorted(signed) {
		return fmt.Errorf("%w: SignedHeaders are not sorted", ErrSignature)
	}
	if !hasDate {
		return fmt.Errorf("%w: x-sdk-date is not among the signed headers", ErrSignature)
	}
	dateStr := r.Header.Get(HeaderSdkDate)
	if dateStr == "" {
		return fmt.Errorf("%w: no X-Sdk-Date header", ErrSignature)
	}
	t, err := time.Parse(SignDateFormat, dateStr)
	if err != nil {
		return fmt.Errorf("%w: X-Sdk-Date %q is not in the form YYYYMMDDTHHMMSSZ", ErrSignature, truncate(dateStr, 32))
	}
	if skew := now.Sub(t); skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("%w: X-Sdk-Date %s is %s away from the server clock %s (allowed %s)",
			ErrSignature, dateStr, skew.Abs().Round(time.Second), now.UTC().Format(SignDateFormat), maxSkew)
	}
	sk, ok := lookupSK(ak)
	if !ok || sk == "" {
		return fmt.Errorf("%w: unknown access key", ErrSignature)
	}
	h := headersWithHost(r.Header, r.Host)
	for _, name := range signed {
		if len(h.Values(name)) == 0 && !hasHeaderFold(h, name) {
			return fmt.Errorf("%w: signed header %q is missing from the request", ErrSignature, name)
		}
	}
	canonical := CanonicalRequest(r.Method, r.URL.Path, r.URL.Query(), h, signed, payloadHash(r.Header, body))
	sts := StringToSign(canonical, t)
	want := SignString(sk, sts)
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fmt.Errorf("%w: signature does not match; the server's string to sign was %q (check the secret key, and that the path, query, signed headers and body are sent unchanged)",
			ErrSignature, sts)
	}
	return nil
}

func hasHeaderFold(h http.Header, name string) bool {
	for k := range h {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// signEscape percent-encodes every byte except the RFC 3986 unreserved
// characters, with upper-case hex (the SDK's escape).
func signEscape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// maskAK shows only the first four characters of an access key.
func maskAK(ak string) string {
	if len(ak) <= 4 {
		return "****"
	}
	return ak[:4] + "****"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
