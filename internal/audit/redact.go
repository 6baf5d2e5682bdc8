package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Redacted is the fixed marker that replaces a secret value.
const Redacted = "[REDACTED]"

// secretHeaders are replaced by Redacted whatever their case.
var secretHeaders = map[string]bool{
	"Authorization":       true,
	"Proxy-Authorization": true,
	"X-Auth-Token":        true,
	"X-Security-Token":    true,
	"X-Subject-Token":     true,
	"Cookie":              true,
	"Set-Cookie":          true,
}

// RedactHeaders returns a copy of h with the value of every secret header
// (Authorization, X-Auth-Token, X-Security-Token, X-Subject-Token, cookies;
// any case) replaced by Redacted.
func RedactHeaders(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		cp := make([]string, len(vs))
		if secretHeaders[http.CanonicalHeaderKey(k)] {
			for i := range cp {
				cp[i] = Redacted
			}
		} else {
			copy(cp, vs)
		}
		out[k] = cp
	}
	return out
}

// normKey lower-cases a JSON key and drops '_' and '-', so admin_pass,
// adminPass and ADMIN-PASS are treated alike (Terraform spells user data
// "userdata", the SDK "user_data").
func normKey(k string) string {
	k = strings.ToLower(k)
	k = strings.ReplaceAll(k, "_", "")
	return strings.ReplaceAll(k, "-", "")
}

// secretKeys are JSON keys whose value is replaced by "[REDACTED]".
var secretKeys = map[string]bool{
	"adminpass":     true,
	"adminpassword": true,
	"password":      true,
	"secretkey":     true,
	"securitytoken": true,
}

// digestKeys are JSON keys whose value is replaced by its SHA-256 and size.
var digestKeys = map[string]bool{
	"userdata": true,
}

// RedactBody rewrites a JSON body so that no secret is stored, changing
// nothing else: every byte outside the redacted values (key order, spacing,
// number spelling) is kept. At any depth:
//   - the value of admin_pass (and password, secret_key, security_token) becomes "[REDACTED]";
//   - the value of user_data becomes {"sha256":"<hex>","size":N}: the SHA-256
//     and length of the base64-decoded bytes, or, when the value is not valid
//     base64, of the raw string, with "base64":false added.
//
// A body that is not valid JSON is kept as is if it holds none of those keys,
// has them rewritten in place where they are plain "key":"value" pairs, and is
// otherwise replaced whole by a marker giving only its size.
func RedactBody(b []byte) []byte {
	if len(b) == 0 {
		return []byte{}
	}
	if json.Valid(b) {
		p := jsonRewriter{src: b}
		p.value(p.ws(0))
		return p.apply()
	}
	return redactInvalid(b)
}

type replacement struct {
	start, end int
	with       []byte
}

// jsonRewriter walks a body already known to be valid JSON and records the
// byte spans of values to replace.
type jsonRewriter struct {
	src  []byte
	reps []replacement
}

func (p *jsonRewriter) ws(i int) int {
	for i < len(p.src) {
		switch p.src[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// value returns the index just after the value starting at i.
func (p *jsonRewriter) value(i int) int {
	switch p.src[i] {
	case '{':
		return p.object(i)
	case '[':
		i = p.ws(i + 1)
		if p.src[i] == ']' {
			return i + 1
		}
		for {
			i = p.ws(p.value(i))
			if p.src[i] == ']' {
				return i + 1
			}
			i = p.ws(i + 1) // ','
		}
	case '"':
		return p.str(i)
	default: // number, true, false, null
		for i < len(p.src) && !strings.ContainsRune(" \t\r\n,]}", rune(p.src[i])) {
			i++
		}
		return i
	}
}

func (p *jsonRewriter) str(i int) int {
	i++ // opening quote
	for {
		switch p.src[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
}

func (p *jsonRewriter) object(i int) int {
	i = p.ws(i + 1)
	if p.src[i] == '}' {
		return i + 1
	}
	for {
		ks := i
		i = p.str(i)
		var buf [32]byte
		nk := keyClass(p.src[ks:i], buf[:0])
		i = p.ws(i)
		i = p.ws(i + 1) // ':'
		vs := i
		switch {
		case secretKeys[string(nk)]:
			i = p.value(i)
			p.reps = append(p.reps, replacement{vs, i, []byte(`"` + Redacted + `"`)})
		case digestKeys[string(nk)]:
			i = p.value(i)
			if raw := p.src[vs:i]; !bytes.Equal(raw, []byte("null")) {
				p.reps = append(p.reps, replacement{vs, i, digestValue(raw)})
			}
		default:
			i = p.value(i)
		}
		i = p.ws(i)
		if p.src[i] == '}' {
			return i + 1
		}
		i = p.ws(i + 1) // ','
	}
}

// keyClass returns normKey of the JSON string quoted (a key, quotes
// included), appended to buf. A plain ASCII key (nearly every key) is
// normalised in place without decoding or allocating: the rewriter sees
// every key of a 50-server answer, and decoding each one cost more than the
// rest of the walk. Escapes and non-ASCII bytes take the decoding path, so
// a key spelled with \u escapes or with letters that lower-case to ASCII
// (the Kelvin sign) is judged exactly as before.
func keyClass(quoted []byte, buf []byte) []byte {
	raw := quoted[1 : len(quoted)-1]
	for _, c := range raw {
		switch {
		case c == '\\' || c >= 0x80:
			var key string
			_ = json.Unmarshal(quoted, &key) // valid JSON: cannot fail
			return append(buf[:0], normKey(key)...)
		case c == '_' || c == '-':
		case 'A' <= c && c <= 'Z':
			buf = append(buf, c+('a'-'A'))
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

func (p *jsonRewriter) apply() []byte {
	if len(p.reps) == 0 {
		return bytes.Clone(p.src)
	}
	out := make([]byte, 0, len(p.src))
	last := 0
	for _, r := range p.reps {
		out = append(out, p.src[last:r.start]...)
		out = append(out, r.with...)
		last = r.end
	}
	return append(out, p.src[last:]...)
}

// digestValue renders the stored form of a user_data value (raw JSON).
func digestValue(raw []byte) []byte {
	var s string
	data := raw
	isString := json.Unmarshal(raw, &s) == nil
	if isString {
		data = []byte(s)
	}
	b64 := false
	if isString {
		if dec, err := base64.StdEncoding.DecodeString(s); err == nil {
			data, b64 = dec, true
		}
	}
	sum := sha256.Sum256(data)
	out := `{"sha256":"` + hex.EncodeToString(sum[:]) + `","size":` + strconv.Itoa(len(data))
	if !b64 {
		out += `,"base64":false`
	}
	return []byte(out + "}")
}

var (
	// "key" : "string value" pairs in a body that is not valid JSON.
	invalidSecretPair   = regexp.MustCompile(`(?i)"(admin[_-]?pass(?:word)?|password|secret[_-]?key|security[_-]?token)"(\s*:\s*)"(?:[^"\\]|\\.)*"`)
	invalidDigestPair   = regexp.MustCompile(`(?i)"(user[_-]?data)"(\s*:\s*)("(?:[^"\\]|\\.)*")`)
	rewrittenDigestPair = regexp.MustCompile(`(?i)"user[_-]?data"\s*:\s*\{"sha256":"[0-9a-f]{64}","size":\d+(,"base64":false)?\}`)
	// any remaining mention of a sensitive key
	sensitiveName = regexp.MustCompile(`(?i)admin[_-]?pass|password|secret[_-]?key|security[_-]?token|user[_-]?data`)
)

func redactInvalid(b []byte) []byte {
	if !sensitiveName.Match(b) {
		return bytes.Clone(b)
	}
	out := invalidSecretPair.ReplaceAll(b, []byte(`"$1"$2"`+Redacted+`"`))
	out = invalidDigestPair.ReplaceAllFunc(out, func(m []byte) []byte {
		sub := invalidDigestPair.FindSubmatch(m)
		return append(append(append([]byte(`"`), sub[1]...), append([]byte(`"`), sub[2]...)...), digestValue(sub[3])...)
	})
	// Every remaining mention must be one of the rewritten pairs.
	check := invalidSecretPair.ReplaceAll(out, nil)
	check = rewrittenDigestPair.ReplaceAll(check, nil)
	if sensitiveName.Match(check) {
		return []byte("[body withheld: not valid JSON and holds a secret field; " + strconv.Itoa(len(b)) + " bytes]")
	}
	return out
}

// sensitiveDetail reports whether an event detail key names a secret.
func sensitiveDetail(k string) bool {
	nk := normKey(k)
	if nk == "sk" {
		return true
	}
	for _, s := range []string{"pass", "secret", "token", "cookie", "session"} {
		if strings.Contains(nk, s) {
			return true
		}
	}
	return false
}

// RedactDetail returns a copy of an event's detail map with values of keys
// that name a secret (password, secret, token, cookie, session) replaced.
func RedactDetail(d map[string]string) map[string]string {
	out := make(map[string]string, len(d))
	for k, v := range d {
		if sensitiveDetail(k) {
			v = Redacted
		}
		out[k] = v
	}
	return out
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
