package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
)

// CSRFCookieName is the cookie that binds CSRF tokens for visitors who are
// not signed in (the sign-in form).
const CSRFCookieName = "console_csrf"

// CSRF tokens are synchronizer tokens derived with a server-side key:
// HMAC(key, binding), where the binding is the session (its id hash) when
// signed in, else a random per-browser cookie. An attacker can neither
// read the token (same-origin policy) nor compute it (no key), and a new
// session (sign-in) or sign-out invalidates every earlier token.

// CSRFBinding returns what r's CSRF token is bound to: the session when
// sess is non-nil, else the browser's anonymous CSRF cookie. When that
// cookie is missing and w is non-nil, a new one is set on w; with a nil w
// the binding is "" and no token verifies.
func (m *SessionManager) CSRFBinding(w http.ResponseWriter, r *http.Request, sess *Session) string {
	if sess != nil {
		return "session:" + sess.IDHash
	}
	if c, err := r.Cookie(CSRFCookieName); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
		return "anon:" + c.Value
	}
	if w == nil {
		return ""
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return ""
	}
	v := base64.RawURLEncoding.EncodeToString(buf)
	http.SetCookie(w, &http.Cookie{
		Name:     CSRFCookieName,
		Value:    v,
		Path:     "/",
		HttpOnly: true,
		Secure:   m.SecureRequest(r),
		SameSite: http.SameSiteStrictMode,
	})
	return "anon:" + v
}

// CSRFToken returns the token for a binding from CSRFBinding.
func (m *SessionManager) CSRFToken(binding string) string {
	if binding == "" {
		return ""
	}
	return csrfMAC(m.csrf[0], binding)
}

// VerifyCSRF reports whether token is valid for binding. Tokens made with
// any configured key verify, so rotating keys does not break open forms.
func (m *SessionManager) VerifyCSRF(binding, token string) bool {
	if binding == "" || token == "" {
		return false
	}
	ok := false
	for _, k := range m.csrf {
		if hmac.Equal([]byte(csrfMAC(k, binding)), []byte(token)) {
			ok = true
		}
	}
	return ok
}

func csrfMAC(key []byte, binding string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}
