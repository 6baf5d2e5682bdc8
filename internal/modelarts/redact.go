package modelarts

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
)

// Redacted replaces secret values in RedactHeader and RedactBody output.
const Redacted = "[REDACTED]"

// secretHeaders carry credentials on ModelArts and IAM calls.
var secretHeaders = []string{"Authorization", "X-Auth-Token", "X-Security-Token", "X-Subject-Token"}

// secretFields are JSON keys whose values are secrets or may hold them
// (user_data is a script that often embeds passwords).
var secretFields = map[string]bool{"admin_pass": true, "password": true, "user_data": true}

// RedactHeader returns a copy of h with credential headers (Authorization,
// X-Auth-Token, X-Security-Token, X-Subject-Token) replaced by Redacted, for
// a Recorder to store. The AK inside Authorization is kept masked.
func RedactHeader(h http.Header) http.Header {
	c := h.Clone()
	if c == nil {
		return http.Header{}
	}
	for _, k := range secretHeaders {
		if len(c.Values(k)) == 0 {
			continue
		}
		v := Redacted
		if k == "Authorization" {
			if ak, signed, _, err := ParseAuthorization(c.Get(k)); err == nil {
				v = SignAlgorithm + " Access=" + maskAK(ak) + ", SignedHeaders=" + strings.Join(signed, ";") + ", Signature=" + Redacted
			}
		}
		c.Set(k, v)
	}
	return c
}

// RedactBody returns a JSON body with the values of admin_pass, password and
// user_data (at any depth) replaced by Redacted, for a Recorder to store. A
// body that is not JSON is replaced as a whole, since it cannot be checked.
func RedactBody(body []byte) []byte {
	if len(bytes.TrimSpace(body)) == 0 {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		out, _ := json.Marshal(Redacted + " (body is not JSON)")
		return out
	}
	out, err := json.Marshal(redactValue(v))
	if err != nil {
		b, _ := json.Marshal(Redacted)
		return b
	}
	return out
}

func redactValue(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, val := range t {
			if secretFields[strings.ToLower(k)] {
				if s, ok := val.(string); ok && s == "" {
					continue
				}
				t[k] = Redacted
				continue
			}
			t[k] = redactValue(val)
		}
	case []any:
		for i := range t {
			t[i] = redactValue(t[i])
		}
	}
	return v
}
