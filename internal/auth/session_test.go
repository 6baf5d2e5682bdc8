package auth_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/auth"
)

func TestSessionCookieAttributes(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	tests := []struct {
		name       string
		secureFlag bool
		tls        bool
		wantSecure bool
	}{
		{"plain HTTP", false, false, false},
		{"HTTPS", false, true, true},
		{"behind a TLS proxy (flag)", true, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newTestManager(t, db, clk, auth.SessionConfig{Secure: tt.secureFlag})
			r := httptest.NewRequest(http.MethodPost, "/signin", nil)
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			w := httptest.NewRecorder()
			if _, err := m.Begin(w, r, u); err != nil {
				t.Fatal(err)
			}
			c := cookieNamed(w.Result().Cookies(), auth.SessionCookieName)
			if c == nil {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tt.wantSecure {
				t.Fatalf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want true, Lax, /, %v",
					c.HttpOnly, c.SameSite, c.Path, c.Secure, tt.wantSecure)
			}
			if c.MaxAge != int((12 * time.Hour).Seconds()) {
				t.Fatalf("cookie Max-Age = %d, want the absolute lifetime", c.MaxAge)
			}
		})
	}
}

func TestSessionStoresOnlyTheIDHash(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	sess, cookies := begin(t, m, u)
	var hashes []string
	if err := db.Read.Select(&hashes, `SELECT id_hash FROM sessions`); err != nil {
		t.Fatal(err)
	}
	if len(hashes) != 1 || hashes[0] != sess.IDHash {
		t.Fatalf("stored ids %v, want [%s]", hashes, sess.IDHash)
	}
	if b, err := hex.DecodeString(sess.IDHash); err != nil || len(b) != 32 {
		t.Fatalf("id hash %q is not a hex SHA-256", sess.IDHash)
	}
	// The cookie is encrypted: the hash (and so the id) cannot be read from it.
	v := sessionCookie(cookies).Value
	raw, _ := base64.URLEncoding.DecodeString(v)
	if strings.Contains(v, sess.IDHash) || bytes.Contains(raw, []byte("sid")) {
		t.Fatal("session cookie is readable")
	}
}

func TestSessionLoad(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	good := signIn(t, m, u)

	other := newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{[]byte("another key that is long enough!")}})
	_, otherCookies := begin(t, other, u)

	tests := []struct {
		name    string
		cookies []*http.Cookie
		wantErr error
	}{
		{"valid cookie", []*http.Cookie{good}, nil},
		{"no cookie", nil, auth.ErrNoSession},
		{"garbage", []*http.Cookie{{Name: auth.SessionCookieName, Value: "garbage"}}, auth.ErrNoSession},
		{"tampered", []*http.Cookie{{Name: auth.SessionCookieName, Value: tamper(good.Value)}}, auth.ErrNoSession},
		{"signed with another key", []*http.Cookie{sessionCookie(otherCookies)}, auth.ErrNoSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, sess, err := load(m, tt.cookies...)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Load error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			if got.ID != u.ID || got.Name != "alice" || got.Role != auth.RoleOperator || sess.UserID != u.ID {
				t.Fatalf("Load = %+v, %+v", got, sess)
			}
		})
	}
}

func TestSessionRotationOnSignIn(t *testing.T) {
	db, clk, s := newUsers(t)
	alice := mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	bob := mustCreate(t, s, "bob", auth.RoleViewer, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{})

	first, c1 := begin(t, m, alice)
	old := sessionCookie(c1)
	// Signing in again (as anyone) from a browser that carries a session
	// gives a new id and ends the old session.
	second, c2 := begin(t, m, bob, old)
	if first.IDHash == second.IDHash {
		t.Fatal("sign-in reused the session id")
	}
	if _, _, err := load(m, old); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("old cookie after a new sign-in: %v, want ErrNoSession", err)
	}
	u, _, err := load(m, sessionCookie(c2))
	if err != nil || u.Name != "bob" {
		t.Fatalf("new cookie: %v, %v; want bob", u, err)
	}
}

func TestSessionIdleTimeout(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	c := signIn(t, m, u)

	steps := []struct {
		advance  time.Duration
		wantErr  error
		lastSeen time.Duration // since sign-in, after the step
	}{
		{30 * time.Second, nil, 0},                               // too soon to record activity
		{29 * time.Minute, nil, 29*time.Minute + 30*time.Second}, // activity recorded
		{29 * time.Minute, nil, 58*time.Minute + 30*time.Second}, // still within 30 minutes of the last use
		{30 * time.Minute, auth.ErrSessionExpired, 0},
		{0, auth.ErrNoSession, 0}, // and it stays ended
	}
	start := clk.Now()
	for i, st := range steps {
		clk.Advance(st.advance)
		_, sess, err := load(m, c)
		if !errors.Is(err, st.wantErr) {
			t.Fatalf("step %d (+%v): Load error = %v, want %v", i, st.advance, err, st.wantErr)
		}
		if err == nil {
			if got := sess.LastSeenAt.Sub(start); got != st.lastSeen {
				t.Fatalf("step %d: last seen %v after sign-in, want %v", i, got, st.lastSeen)
			}
		}
	}
	var reason string
	db.Read.Get(&reason, `SELECT revoked_reason FROM sessions`)
	if reason != "expired_idle" {
		t.Fatalf("revoked_reason = %q, want expired_idle", reason)
	}
}

func TestSessionAbsoluteLifetime(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{Idle: 10 * time.Minute, Absolute: time.Hour})
	c := signIn(t, m, u)
	// Busy all along: used every 5 minutes, so never idle.
	for elapsed := 5 * time.Minute; elapsed < time.Hour; elapsed += 5 * time.Minute {
		clk.Advance(5 * time.Minute)
		if _, _, err := load(m, c); err != nil {
			t.Fatalf("at %v: %v", elapsed, err)
		}
	}
	clk.Advance(5 * time.Minute)
	if _, _, err := load(m, c); !errors.Is(err, auth.ErrSessionExpired) {
		t.Fatalf("after the absolute lifetime: %v, want ErrSessionExpired", err)
	}
}

func TestSignOutEndsSessionServerSide(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	stolen := signIn(t, m, u)

	r := httptest.NewRequest(http.MethodPost, "/signout", nil)
	r.AddCookie(stolen)
	w := httptest.NewRecorder()
	if err := m.End(w, r); err != nil {
		t.Fatal(err)
	}
	cleared := cookieNamed(w.Result().Cookies(), auth.SessionCookieName)
	if cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Fatalf("sign-out cookie = %+v, want it deleted", cleared)
	}
	// A copy of the cookie kept by an attacker is now useless.
	if _, _, err := load(m, stolen); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("stolen cookie after sign-out: %v, want ErrNoSession", err)
	}
	// End without a session is harmless.
	if err := m.End(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/signout", nil)); err != nil {
		t.Fatalf("End without a session: %v", err)
	}
}

func TestUserChangesEndSessions(t *testing.T) {
	tests := []struct {
		name   string
		change func(s *auth.Store, id int64) error
		reason string
	}{
		{"disable", func(s *auth.Store, id int64) error { return s.Disable(context.Background(), id) }, "user_disabled"},
		{"password change", func(s *auth.Store, id int64) error {
			return s.SetPassword(context.Background(), id, "a different password")
		}, "password_changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, clk, s := newUsers(t)
			alice := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
			bob := mustCreate(t, s, "bob", auth.RoleViewer, goodPW)
			m := newTestManager(t, db, clk, auth.SessionConfig{})
			_, laptop := begin(t, m, alice)
			_, phone := begin(t, m, alice)
			_, bobs := begin(t, m, bob)
			if err := tt.change(s, alice.ID); err != nil {
				t.Fatal(err)
			}
			for _, cs := range [][]*http.Cookie{laptop, phone} {
				if _, _, err := load(m, sessionCookie(cs)); !errors.Is(err, auth.ErrNoSession) {
					t.Fatalf("alice's session after %s: %v, want ErrNoSession", tt.name, err)
				}
			}
			if _, _, err := load(m, sessionCookie(bobs)); err != nil {
				t.Fatalf("bob's session was ended too: %v", err)
			}
			var reasons []string
			db.Read.Select(&reasons, `SELECT revoked_reason FROM sessions WHERE user_id = ?`, alice.ID)
			if len(reasons) != 2 || reasons[0] != tt.reason || reasons[1] != tt.reason {
				t.Fatalf("revoked reasons = %v, want two %q", reasons, tt.reason)
			}
		})
	}
}

func TestRoleChangeAppliesToLiveSessions(t *testing.T) {
	db, clk, s := newUsers(t)
	mustCreate(t, s, "root", auth.RoleAdmin, goodPW)
	u := mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	_, cs := begin(t, m, u)
	if err := s.SetRole(context.Background(), u.ID, auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	got, _, err := load(m, sessionCookie(cs))
	if err != nil || got.Role != auth.RoleViewer {
		t.Fatalf("Load after demotion = %v, %v; want role viewer", got, err)
	}
}

func TestNewSessionManagerRejectsBadConfig(t *testing.T) {
	db := newTestDB(t)
	tests := []struct {
		name string
		cfg  auth.SessionConfig
	}{
		{"no key", auth.SessionConfig{}},
		{"short key", auth.SessionConfig{Keys: [][]byte{[]byte("too short")}}},
		{"idle longer than absolute", auth.SessionConfig{Keys: [][]byte{testKey}, Idle: 2 * time.Hour, Absolute: time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.NewSessionManager(db, tt.cfg); err == nil {
				t.Fatal("NewSessionManager accepted a bad configuration")
			}
		})
	}
}

func TestKeyRotationKeepsSessions(t *testing.T) {
	db, clk, s := newUsers(t)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	oldKey := testKey
	newKey := []byte("a new key, also 32 bytes or more")
	_, cs := begin(t, newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{oldKey}}), u)
	rotated := newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{newKey, oldKey}})
	if _, _, err := load(rotated, sessionCookie(cs)); err != nil {
		t.Fatalf("cookie from the old key after rotation: %v", err)
	}
	dropped := newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{newKey}})
	if _, _, err := load(dropped, sessionCookie(cs)); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("cookie from a dropped key: %v, want ErrNoSession", err)
	}
}

func TestKeyFromSettingsPersistsAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "console.db")
	clk := newClock()

	db := openDB(t, path)
	k1, err := auth.KeyFromSettings(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 {
		t.Fatalf("generated key is %d bytes, want 32", len(k1))
	}
	s := newTestStore(t, db, clk, nil)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	_, cs := begin(t, newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{k1}}), u)
	db.Close()

	// Restart: same file, no configured key.
	db = openDB(t, path)
	k2, err := auth.KeyFromSettings(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("the generated key changed across a restart")
	}
	got, _, err := load(newTestManager(t, db, clk, auth.SessionConfig{Keys: [][]byte{k2}}), sessionCookie(cs))
	if err != nil || got.Name != "alice" {
		t.Fatalf("session after restart: %v, %v", got, err)
	}
}

func TestKeyFromSettingsConfigured(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef0123")
	tests := []struct {
		name       string
		configured string
		want       []byte
		wantErr    bool
	}{
		{"hex", hex.EncodeToString(raw), raw, false},
		{"base64", base64.StdEncoding.EncodeToString(raw), raw, false},
		{"base64 URL-safe unpadded", base64.RawURLEncoding.EncodeToString(raw), raw, false},
		{"surrounding spaces", "  " + hex.EncodeToString(raw) + "\n", raw, false},
		{"too short", hex.EncodeToString(raw[:31]), nil, true},
		{"not an encoding", "this is not a key!!", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := newTestDB(t)
			got, err := auth.KeyFromSettings(context.Background(), db, tt.configured)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				if strings.Contains(err.Error(), strings.TrimSpace(tt.configured)) {
					t.Fatalf("error %q repeats the key", err)
				}
				return
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("key = %x, want %x", got, tt.want)
			}
			var n int
			db.Read.Get(&n, `SELECT count(*) FROM settings WHERE key = 'session_key'`)
			if n != 0 {
				t.Fatal("a configured key was written to the database")
			}
		})
	}
}
