package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/devserver-console/console/internal/auth"
)

func TestCSRFTokens(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	sess1, _ := begin(t, m, u)
	sess2, _ := begin(t, m, u)

	// A visitor without a session gets an anonymous CSRF cookie.
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/signin", nil)
	anonBinding := m.CSRFBinding(w, r, nil)
	anonCookie := cookieNamed(w.Result().Cookies(), auth.CSRFCookieName)
	if anonCookie == nil || !anonCookie.HttpOnly || anonCookie.SameSite != http.SameSiteStrictMode || anonCookie.Path != "/" {
		t.Fatalf("anonymous CSRF cookie = %+v, want HttpOnly, SameSite=Strict, Path=/", anonCookie)
	}
	r2 := httptest.NewRequest(http.MethodPost, "/signin", nil)
	r2.AddCookie(anonCookie)
	if got := m.CSRFBinding(nil, r2, nil); got != anonBinding {
		t.Fatalf("binding from the cookie = %q, want %q", got, anonBinding)
	}
	otherAnon := m.CSRFBinding(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), nil)

	b1 := m.CSRFBinding(nil, r, sess1)
	b2 := m.CSRFBinding(nil, r, sess2)
	tok1 := m.CSRFToken(b1)
	rotated := newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{[]byte("the next key, 32 bytes or longer!"), testKey}})
	otherKey := newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{[]byte("an unrelated key of 32 bytes ...")}})

	tests := []struct {
		name    string
		m       *auth.SessionManager
		binding string
		token   string
		want    bool
	}{
		{"session token", m, b1, tok1, true},
		{"anonymous token", m, anonBinding, m.CSRFToken(anonBinding), true},
		{"token of another session", m, b2, tok1, false},
		{"session token without the session", m, anonBinding, tok1, false},
		{"anonymous token of another browser", m, anonBinding, m.CSRFToken(otherAnon), false},
		{"empty token", m, b1, "", false},
		{"tampered token", m, b1, tamper(tok1), false},
		{"no binding", m, "", m.CSRFToken(""), false},
		{"after key rotation", rotated, b1, tok1, true},
		{"made with an unrelated key", otherKey, b1, tok1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.m.VerifyCSRF(tt.binding, tt.token); got != tt.want {
				t.Fatalf("VerifyCSRF = %v, want %v", got, tt.want)
			}
		})
	}
}

// tamper changes the middle character of s (the ends of base64 text may
// only carry padding bits).
func tamper(s string) string {
	i := len(s) / 2
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
