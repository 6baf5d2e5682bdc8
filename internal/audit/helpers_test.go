package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
)

// testStore is an audit store over a real database (a SQLite file in a temp
// dir, or a PostgreSQL database on the test cluster).
type testStore struct {
	*audit.Store
	db    *store.DB
	path  string
	clock *fakeClock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Millisecond)
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var clockStart = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// newTestStore opens a store on the engine CONSOLE_TEST_ENGINE names
// (SQLite by default; make test runs the package on both).
func newTestStore(t testing.TB) *testStore {
	t.Helper()
	return newTestStoreOn(t, storetest.DefaultEngine())
}

// newTestStoreOn opens a store on the given engine: SQLite for the tests
// that tamper with the file itself or read SQLite's query plans.
func newTestStoreOn(t testing.TB, engine store.Engine) *testStore {
	t.Helper()
	return openTestStore(t, storetest.DSN(t, engine))
}

// migrated holds a freshly migrated, empty database file: a new test store
// starts from a copy of it instead of running every migration again (under
// -race on a loaded machine, that alone took a second or two per store).
var migrated struct {
	once sync.Once
	file []byte
	err  error
}

func migratedFile(t testing.TB) []byte {
	t.Helper()
	migrated.once.Do(func() {
		dir, err := os.MkdirTemp("", "audit-template-")
		if err != nil {
			migrated.err = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "console.db")
		db, err := store.Open(context.Background(), path)
		if err != nil {
			migrated.err = err
			return
		}
		if err := db.Close(); err != nil {
			migrated.err = err
			return
		}
		if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
			migrated.err = fmt.Errorf("the migrated template kept a write-ahead log of %d bytes after closing", fi.Size())
			return
		}
		migrated.file, migrated.err = os.ReadFile(path)
	})
	if migrated.err != nil {
		t.Fatalf("migrated template database: %v", migrated.err)
	}
	return migrated.file
}

func openTestStore(t testing.TB, path string) *testStore {
	t.Helper()
	if _, err := os.Stat(path); !store.IsPostgresURL(path) && errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(path, migratedFile(t), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	s := audit.New(db, nil)
	clk := &fakeClock{t: clockStart}
	s.Now = clk.Now
	return &testStore{Store: s, db: db, path: path, clock: clk}
}

// rawDB opens the database file outside the application, as a tamperer would.
func rawDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func mustExec(t testing.TB, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

const (
	srvA = "11111111-2222-4333-8444-555555555555"
	srvB = "22222222-3333-4444-8555-666666666666"
	srvC = "33333333-4444-4555-8666-777777777777"
)

var alice = audit.Actor{UserID: 7, Name: "alice", Role: "operator", ClientIP: "10.0.0.7", UserAgent: "Firefox/140"}

// stopCall is a signed batch STOP call as the client would hand it over.
func stopCall(ids ...string) *modelarts.OutgoingCall {
	body := `{"type":"STOP","servers":[`
	for i, id := range ids {
		if i > 0 {
			body += ","
		}
		body += fmt.Sprintf(`{"id":%q}`, id)
	}
	body += `]}`
	return &modelarts.OutgoingCall{
		Method: http.MethodPost,
		URL:    "https://modelarts.cn-north-4.myhuaweicloud.com/v1/0123456789abcdef0123456789abcdef/dev-servers/action",
		Header: http.Header{
			"Content-Type":  {"application/json;charset=UTF-8"},
			"X-Sdk-Date":    {"20260301T090000Z"},
			"Authorization": {"SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=content-type;host;x-sdk-date, Signature=deadbeef"},
		},
		Body:    []byte(body),
		Targets: ids,
	}
}

func metaFor(action string, corr string, targets ...audit.Target) audit.CallMeta {
	return audit.CallMeta{Actor: alice, CorrelationID: corr, Action: action, Targets: targets}
}

// exchange records one full call and returns the request entry's id.
func (ts *testStore) exchange(t testing.TB, meta audit.CallMeta, call *modelarts.OutgoingCall, res *modelarts.CallResult) int64 {
	t.Helper()
	ctx := context.Background()
	rec := ts.CallRecorder(meta)
	ref, err := rec.BeforeSend(ctx, call)
	if err != nil {
		t.Fatalf("BeforeSend: %v", err)
	}
	if err := rec.AfterSend(ctx, ref, call, res); err != nil {
		t.Fatalf("AfterSend: %v", err)
	}
	return ref
}

func okResult(reqID string) *modelarts.CallResult {
	return &modelarts.CallResult{
		Status:   200,
		Header:   http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {reqID}},
		Body:     []byte(`{"current":1,"data":[],"pages":1,"size":0,"total":0}`),
		Duration: 120 * time.Millisecond,
	}
}

func verifyOK(t testing.TB, s *audit.Store) audit.VerifyResult {
	t.Helper()
	res, err := s.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !res.OK {
		t.Fatalf("Verify: chain broken at %d: %s", res.FirstBroken, res.Reason)
	}
	return res
}
