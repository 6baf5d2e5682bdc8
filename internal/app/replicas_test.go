package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

// replicaPrefix marks the child-process value of a replica; see replicaChild.
const replicaPrefix = "replica:"

// replicaSpec is what a replica child is told: where the database and the
// simulator are, and the tokens to execute.
type replicaSpec struct {
	DB, Endpoint string
	Tokens       []string
}

const (
	replicaProject = "0123456789abcdef0123456789abcdef"
	replicaAK      = "REPLICATESTAK0000001"
	replicaSK      = "replica-test-secret-key"
)

// replicaConfig is the configuration of every replica: one PostgreSQL
// database, one standalone simulator.
func replicaConfig(db, endpoint string) config.Config {
	cfg := config.Default()
	cfg.DBPath = db
	cfg.Endpoint = endpoint
	cfg.ProjectID = replicaProject
	cfg.AccessKey, cfg.SecretKey = replicaAK, replicaSK
	cfg.AdminPassword = apptest.AdminPassword
	cfg.AuditKey = apptest.TestAuditKey
	cfg.SecretsKey = apptest.TestSecretKey
	cfg.FleetTTL = 0
	cfg.RequestTimeout = 10 * time.Second
	return cfg
}

// replicaChild is the other console, in a process of its own: it starts on
// the shared database, says "ready", waits for "go" on stdin, executes its
// tokens all at once, waits until each batch it started has sent its
// chunks, prints the ids it started ("started id,id,...") and keeps
// following them until it is killed.
func replicaChild(raw string) {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	var spec replicaSpec
	if err := json.Unmarshal([]byte(raw), &spec); err != nil {
		fail(err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, replicaConfig(spec.DB, spec.Endpoint), slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		fail(err)
	}
	admin, err := a.Users().GetByName(ctx, "admin")
	if err != nil {
		fail(err)
	}
	fmt.Println("ready")
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fail(err)
	}
	started := executeAll(ctx, a, admin.ID, spec.Tokens)
	for _, id := range started {
		for {
			var open int
			if err := a.DB().Read.Get(&open, `SELECT count(*) FROM batch_chunks WHERE batch_id = ? AND outcome IN ('pending', 'sending')`, id); err != nil {
				fail(err)
			}
			if open == 0 {
				break
			}
			time.Sleep(5 * time.Millisecond) // polling the database for a condition, not a delay
		}
	}
	fmt.Println("started " + strings.Join(started, ","))
	select {} // following, until killed
}

// executeAll executes every token at once and returns the ids of the
// batches this call started (a token another replica used starts nothing).
func executeAll(ctx context.Context, a *app.App, userID int64, tokens []string) []string {
	u, err := a.Users().Get(ctx, userID)
	if err != nil {
		panic(err)
	}
	var mu sync.Mutex
	var started []string
	var wg sync.WaitGroup
	for _, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ex, err := a.Batches().Execute(ctx, batch.ExecuteRequest{User: u, Token: tok,
				Meta: batch.Meta{ClientIP: "192.0.2.50", UserAgent: "replica-test"}})
			if err != nil {
				panic(err)
			}
			if ex.Started {
				mu.Lock()
				started = append(started, ex.BatchID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return started
}

// TestTwoReplicas runs two consoles on one PostgreSQL database and one
// standalone simulator: the other console is a process of its own, this
// test's console the second. Both execute the same 16 prepared actions at
// once (2 × 16 attempts): each token starts one batch, on one replica or
// the other, and each batch sends its one request once. The batches the
// other console started are visible here; after it is killed with SIGKILL,
// this console takes its batches over and records them done. The audit
// chain verifies.
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	sim := simulator.New(simulator.Options{Servers: 40, Seed: 11, Transition: 3 * time.Second,
		ProjectID: replicaProject, AK: replicaAK, SK: replicaSK})
	hs := httptest.NewServer(sim)
	t.Cleanup(func() { hs.Close(); sim.Close() })

	here := apptest.New(t, func(c *config.Config) { *c = replicaConfig(dbURL, hs.URL) })
	a := here.App
	admin, err := a.Users().GetByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := a.Fleet().Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []string
	for _, s := range snap.Servers {
		if s.Status != modelarts.StatusRunning || len(tokens) == 16 {
			continue
		}
		if ok, _ := modelarts.Eligible(modelarts.BatchStop, &s); !ok {
			continue
		}
		p, err := a.Batches().Prepare(ctx, admin, modelarts.BatchStop, []string{s.ID}, snap)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, p.Token)
	}
	if len(tokens) != 16 {
		t.Fatalf("%d running servers to stop, want 16", len(tokens))
	}

	// The other replica.
	spec, _ := json.Marshal(replicaSpec{DB: dbURL, Endpoint: hs.URL, Tokens: tokens})
	cmd := testutil.ChildCommand(crashEnv, replicaPrefix+string(spec), os.Environ())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
		}
		_ = cmd.Wait()
	})
	lines := bufio.NewScanner(stdout)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			t.Fatalf("the other replica ended: %v", lines.Err())
		}
		return lines.Text()
	}
	if l := next(); l != "ready" {
		t.Fatalf("the other replica said %q", l)
	}

	// 2 × 16 at once.
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	startedHere := executeAll(ctx, a, admin.ID, tokens)
	l := next()
	if !strings.HasPrefix(l, "started ") {
		t.Fatalf("the other replica said %q", l)
	}
	var startedThere []string
	if s := strings.TrimPrefix(l, "started "); s != "" {
		startedThere = strings.Split(s, ",")
	}
	a.Batches().Wait() // this replica's chunks are sent (and it stops following for now)

	all := map[string]bool{}
	for _, id := range append(append([]string(nil), startedHere...), startedThere...) {
		if all[id] {
			t.Fatalf("batch %s started twice", id)
		}
		all[id] = true
	}
	if len(all) != 16 {
		t.Fatalf("%d batches started here + %d there = %d, want 16 (one per token)", len(startedHere), len(startedThere), len(all))
	}
	if n := sim.MutatingRequests(); n != 16 {
		t.Fatalf("the simulator received %d batch requests, want 16: a token was used twice", n)
	}
	t.Logf("started here %d, there %d", len(startedHere), len(startedThere))

	// What the other replica started is visible here, to the service and
	// on this console's batch page.
	admin2 := here.As(t, auth.RoleAdmin) // may see every batch
	for _, id := range startedThere {
		if _, err := a.Batches().Get(ctx, id); err != nil {
			t.Fatalf("batch %s of the other replica: %v", id, err)
		}
		if r := admin2.Get(t, "/batches/"+id); r.Status != http.StatusOK {
			t.Fatalf("GET /batches/%s here: status %d, want 200", id, r.Status)
		}
	}

	// No batch is followed by two replicas at once: a follower holds the
	// batch's claim (a session advisory lock), so PostgreSQL's own lock
	// table tells how many hold each. The other replica, alive, follows
	// every batch it started that is not done yet.
	holders := func(id string) int {
		t.Helper()
		key := uint64(store.LockKeyFor("claim:batch:" + id)) // store.Claims' key of the batch's claim
		var n int
		if err := a.DB().Read.GetContext(ctx, &n, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND objsubid = 1 AND classid = ? AND objid = ? AND granted`, int64(key>>32), int64(key&0xffffffff)); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, id := range startedThere {
		switch n := holders(id); {
		case n > 1:
			t.Fatalf("batch %s is followed by %d replicas at once", id, n)
		case n == 0:
			if b, err := a.Batches().Get(ctx, id); err != nil || !b.Done() {
				t.Fatalf("batch %s of the living other replica is followed by nobody and not done (%v)", id, err)
			}
		}
	}

	// kill -9 of the replica that sent them: this one finishes following.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	_ = cmd.Wait()
	// This replica looks for batches nobody claims every follow interval
	// (5 s) since its start, and takes them over.
	testutil.Eventually(t, 60*time.Second, "every batch is recorded done by this replica", func() error {
		for id := range all {
			if n := holders(id); n > 1 {
				t.Fatalf("batch %s is followed by %d replicas at once", id, n)
			}
			b, err := a.Batches().Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !b.Done() {
				return errors.New("batch " + id + " not done")
			}
		}
		return nil
	})
	res, err := a.Audit().Verify(ctx)
	if err != nil || !res.OK {
		t.Fatalf("audit chain after 2 × 16 actions on two replicas: %+v, %v", res, err)
	}
	unknown, _, err := a.Audit().List(ctx, audit.Filter{Outcome: string(audit.OutcomeUnknown)}, 0, 10)
	if err != nil || len(unknown) != 0 {
		t.Errorf("outcome-unknown entries = %d, %v; every request was answered before the kill", len(unknown), err)
	}
}

// TestReplicasNeedTheSameKeys: on PostgreSQL a console does not start
// without the audit key and the secret key given, since no key file can sit
// beside a URL and every replica must chain the log and open sealed
// secrets with the same keys.
func TestReplicasNeedTheSameKeys(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	for _, c := range []struct {
		name  string
		edit  func(*config.Config)
		wantS string
	}{
		{"no audit key", func(c *config.Config) { c.AuditKey = "" }, "CONSOLE_AUDIT_KEY"},
		{"no secret key", func(c *config.Config) { c.SecretsKey = "" }, "CONSOLE_SECRET_KEY"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := replicaConfig(dbURL, "http://127.0.0.1:1")
			c.edit(&cfg)
			a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
			if err == nil {
				a.Close()
				t.Fatalf("a console on PostgreSQL started without %s", c.wantS)
			}
			if !strings.Contains(err.Error(), c.wantS) {
				t.Errorf("error %q does not name %s", err, c.wantS)
			}
		})
	}
}
