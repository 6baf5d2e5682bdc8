package approval_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/notify"
	"github.com/devserver-console/console/internal/secrets"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

// env is an approval service over a fresh database with users, a real
// audit log, a fake clock, a counting executor and a capturing notifier.
type env struct {
	db    *store.DB
	audit *audit.Store
	clock *testutil.Clock
	svc   *approval.Service
	exec  *fakeExec
	told  *told

	ann, olga *auth.User // operators
	vic       *auth.User // viewer
	bob, bea  *auth.User // approvers
	ada, alf  *auth.User // admins
	nextID    int64
	policy    approval.Policy
}

type fakeExec struct {
	mu    sync.Mutex
	calls []*approval.Approved
	err   error
}

func (f *fakeExec) ExecuteApproved(_ context.Context, a *approval.Approved) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, a)
	if f.err != nil {
		return "", f.err
	}
	return "batch-" + a.Request.ID[:8], nil
}

func (f *fakeExec) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

type told struct {
	mu     sync.Mutex
	events []notify.Event
}

func (n *told) Notify(ev notify.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, ev)
}

func (n *told) kinds() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, e := range n.events {
		out = append(out, e.Kind)
	}
	return out
}

var defaultPolicy = approval.Policy{
	Actions: []modelarts.BatchType{modelarts.BatchDelete, modelarts.BatchReinstallOS, modelarts.BatchChangeOS},
	TTL:     24 * time.Hour,
}

// newEnv is an env on a new database of the engine CONSOLE_TEST_ENGINE
// names (SQLite by default).
func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(t, storetest.Open(t))
}

// newEnvOn is an env on db, whose users it creates.
func newEnvOn(t *testing.T, db *store.DB) *env {
	t.Helper()
	e := &env{db: db, audit: audit.New(db, nil), clock: testutil.NewClock(t0), exec: &fakeExec{}, told: &told{}, policy: defaultPolicy}
	e.svc = e.service(t, e.exec, e.told)
	e.ann = e.user(t, "ann", auth.RoleOperator)
	e.olga = e.user(t, "olga", auth.RoleOperator)
	e.vic = e.user(t, "vic", auth.RoleViewer)
	e.bob = e.user(t, "bob", auth.RoleApprover)
	e.bea = e.user(t, "bea", auth.RoleApprover)
	e.ada = e.user(t, "ada", auth.RoleAdmin)
	e.alf = e.user(t, "alf", auth.RoleAdmin)
	return e
}

// service opens an approval service over e's database, as another replica
// would: same policy, same secret key, its own executor and notifier.
func (e *env) service(t *testing.T, exec approval.Executor, n *told) *approval.Service {
	t.Helper()
	box, err := secrets.NewBox(bytes.Repeat([]byte{42}, secrets.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := approval.NewService(approval.Config{
		DB: e.db, Policy: e.policy, Box: box, Audit: e.audit, Executor: exec, Notifier: n, Now: e.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close)
	return svc
}

func (e *env) user(t *testing.T, name string, role auth.Role) *auth.User {
	t.Helper()
	e.nextID++
	if _, err := e.db.Write.ExecContext(context.Background(),
		`INSERT INTO users (id, name, role, password_hash, created_at, updated_at, password_changed_at) VALUES (?, ?, ?, 'x', 0, 0, 0)`,
		e.nextID, name, string(role)); err != nil {
		t.Fatal(err)
	}
	return &auth.User{ID: e.nextID, Name: name, Role: role}
}

var servers = []approval.Server{
	{ID: "srv-1", Name: "gpu-01", Status: modelarts.StatusRunning},
	{ID: "srv-2", Name: "gpu-02", Status: modelarts.StatusStopped},
}

func (e *env) request(t *testing.T, by *auth.User, action modelarts.BatchType, params *modelarts.ServerOSRequest) *approval.Request {
	t.Helper()
	r, err := e.svc.Create(context.Background(), approval.NewRequest{
		Requester: by, Meta: approval.Meta{ClientIP: "10.0.0.7", UserAgent: "test"},
		Action: action, Servers: servers, OSParams: params, ImageName: "Ubuntu 22.04",
		Skipped: []approval.Skip{{ID: "srv-3", Name: "gpu-03", Status: modelarts.StatusDeleting, Reason: "it is being deleted"}},
		Reason:  "decommission rack 7",
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return r
}

// events returns the approval.* audit entries, oldest first.
func (e *env) events(t *testing.T) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	for _, k := range approval.EventKinds {
		got, _, err := e.audit.List(context.Background(), audit.Filter{Action: string(k)}, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got...)
	}
	// List is newest first per kind; order all by id.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func (e *env) storedSecrets(t *testing.T, id string) []byte {
	t.Helper()
	var b []byte
	if err := e.db.Read.GetContext(context.Background(), &b, `SELECT secrets FROM approval_requests WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	return b
}
