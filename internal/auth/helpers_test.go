package auth_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

// cheapParams keep tests fast; production parameters are tested once in
// TestHashUsesProductionParams.
var cheapParams = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// newClock returns the fake clock the auth tests start from.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
}

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newTestDB(t *testing.T) *store.DB {
	t.Helper()
	return openDB(t, storetest.DSN(t, storetest.DefaultEngine()))
}

// newUsers returns a user store on a fresh database and fake clock, and
// the two, for tests that build session managers on the same database and
// clock.
func newUsers(t *testing.T) (*store.DB, *testutil.Clock, *auth.Store) {
	t.Helper()
	db, clk := newTestDB(t), newClock()
	return db, clk, newTestStore(t, db, clk, nil)
}

// recorded collects events from a Store's Recorder.
type recorded struct {
	mu     sync.Mutex
	events []recordedEvent
	fail   error
}

type recordedEvent struct {
	Kind   string
	Actor  auth.Actor
	Detail map[string]string
}

func (r *recorded) record(ctx context.Context, ev auth.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.events = append(r.events, recordedEvent{Kind: ev.Kind, Actor: auth.ActorFrom(ctx), Detail: ev.Detail})
	return nil
}

func (r *recorded) all() []recordedEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recordedEvent(nil), r.events...)
}

func newTestStore(t *testing.T, db *store.DB, clk *testutil.Clock, rec *recorded) *auth.Store {
	t.Helper()
	cfg := auth.StoreConfig{Now: clk.Now, HashParams: cheapParams, Log: slog.New(slog.DiscardHandler)}
	if rec != nil {
		cfg.Recorder = rec.record
	}
	s, err := auth.NewStore(db, cfg)
	if err != nil {
		t.Fatalf("NewStore: %v", err)
	}
	return s
}

func mustCreate(t *testing.T, s *auth.Store, name string, role auth.Role, pw string) *auth.User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), name, role, pw)
	if err != nil {
		t.Fatalf("CreateUser(%q): %v", name, err)
	}
	return u
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func newTestManager(t *testing.T, db *store.DB, clk *testutil.Clock, cfg auth.SessionConfig) *auth.SessionManager {
	t.Helper()
	if cfg.Keys == nil {
		cfg.Keys = [][]byte{testKey}
	}
	cfg.Now = clk.Now
	m, err := auth.NewSessionManager(db, cfg)
	if err != nil {
		t.Fatalf("NewSessionManager: %v", err)
	}
	return m
}

// begin signs u in on a request carrying cookies and returns the response
// cookies.
func begin(t *testing.T, m *auth.SessionManager, u *auth.User, cookies ...*http.Cookie) (*auth.Session, []*http.Cookie) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/signin", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	s, err := m.Begin(w, r, u)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return s, w.Result().Cookies()
}

// signIn signs u in and returns the session cookie.
func signIn(t *testing.T, m *auth.SessionManager, u *auth.User) *http.Cookie {
	t.Helper()
	_, cs := begin(t, m, u)
	return sessionCookie(cs)
}

// load runs Load on a GET carrying cookies.
func load(m *auth.SessionManager, cookies ...*http.Cookie) (*auth.User, *auth.Session, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		r.AddCookie(c)
	}
	return m.Load(r)
}

// sessionCookie returns the session cookie among cs, or nil.
func sessionCookie(cs []*http.Cookie) *http.Cookie { return cookieNamed(cs, auth.SessionCookieName) }

func cookieNamed(cs []*http.Cookie, name string) *http.Cookie {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return nil
}
