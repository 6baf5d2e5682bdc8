package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

// crashEnv names the database a child console uses; see crashChild.
const crashEnv = "APP_TEST_CRASH_CHILD_DB"

// TestMain runs a child (testutil.ChildCommand: crashChild, or the console
// binary's command line, consoleChild), else the tests, stopping the test
// PostgreSQL this binary started, if any.
func TestMain(m *testing.M) {
	if v := os.Getenv(crashEnv); v != "" {
		crashChild(v)
		os.Exit(0)
	}
	if v := os.Getenv(consoleArgsEnv); v != "" {
		os.Exit(consoleChild(v))
	}
	pgtest.Main(m)
}

// crashConfig is the configuration of the crashing console and of the one
// started after it: the same database and the same simulated fleet.
func crashConfig(path string) config.Config {
	cfg := config.Default()
	cfg.DBPath = path
	cfg.AdminPassword = apptest.AdminPassword
	cfg.SimTransition = 100 * time.Millisecond
	cfg.FleetTTL = 0
	cfg.RequestTimeout = 5 * time.Minute // the call stays in flight until the kill
	return cfg
}

// crashChild runs in a subprocess: the whole console sends a STOP batch that
// ModelArts (the embedded simulator) receives and never answers, says so on
// stdout, and waits to be killed.
func crashChild(path string) {
	fail := func(err error) {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	ctx := context.Background()
	a, err := app.New(ctx, crashConfig(path), slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		fail(err)
	}
	admin, err := a.Users().GetByName(ctx, "admin")
	if err != nil {
		fail(err)
	}
	snap, err := a.Fleet().Get(ctx)
	if err != nil {
		fail(err)
	}
	var ids []string
	for _, s := range snap.Servers {
		if ok, _ := modelarts.Eligible(modelarts.BatchStop, &s); ok && s.Status == modelarts.StatusRunning && len(ids) < 2 {
			ids = append(ids, s.ID)
		}
	}
	p, err := a.Batches().Prepare(ctx, admin, modelarts.BatchStop, ids, snap)
	if err != nil {
		fail(err)
	}
	a.Simulator().FailNextMethod(http.MethodPost, simulator.FaultTimeout, 1)
	ex, err := a.Batches().Execute(ctx, batch.ExecuteRequest{User: admin, Token: p.Token,
		Meta: batch.Meta{ClientIP: "192.0.2.7", UserAgent: "crash-test"}})
	id := ex.BatchID
	if err != nil {
		fail(err)
	}
	for a.Simulator().MutatingRequests() == 0 {
		time.Sleep(time.Millisecond)
	}
	// ModelArts has the request: the call is between request and response.
	fmt.Printf("in flight %s %s\n", id, strings.Join(ids, ","))
	time.Sleep(time.Minute) // the parent kills us here
	os.Exit(4)
}

// TestCrashMidCallIsShownAsOutcomeUnknown kills a real console (SIGKILL)
// while its batch call is at ModelArts, starts a new console on the same
// database, and checks what an auditor sees: the request as sent, an
// "outcome unknown" entry answering it, and the batch's request marked as
// possibly carried out.
func TestCrashMidCallIsShownAsOutcomeUnknown(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.db")
	child, line := testutil.StartChild(t, testutil.ChildCommand(crashEnv, path, os.Environ()))
	fields := strings.Fields(line)
	if len(fields) != 4 || fields[0] != "in" {
		t.Fatalf("child said %q", line)
	}
	batchID, targets := fields[2], strings.Split(fields[3], ",")
	child.Kill(t)

	// The next start, on the same database.
	env := apptest.New(t, func(c *config.Config) { *c = crashConfig(path); c.RequestTimeout = 5 * time.Second })
	if !strings.Contains(env.Logs.String(), "marked as outcome unknown") {
		t.Errorf("the restart does not log the interrupted call:\n%s", env.Logs.String())
	}
	ctx := context.Background()
	unknown, _, err := env.App.Audit().List(ctx, audit.Filter{Outcome: string(audit.OutcomeUnknown)}, 0, 10)
	if err != nil || len(unknown) != 1 {
		t.Fatalf("outcome-unknown entries = %d, %v; want 1", len(unknown), err)
	}
	req, ans, err := env.App.Audit().Exchange(ctx, unknown[0].ID)
	if err != nil || req == nil || ans == nil || ans.ID != unknown[0].ID {
		t.Fatalf("exchange of %d: %+v / %+v, %v", unknown[0].ID, req, ans, err)
	}
	if req.Actor.Name != "admin" || req.Actor.ClientIP != "192.0.2.7" || req.Action != "STOP" || req.CorrelationID != batchID ||
		!sameSet(req.TargetIDs(), targets) || len(req.RequestBody) == 0 {
		t.Errorf("request entry = %+v; want admin's STOP of %v in batch %s, with its body", req, targets, batchID)
	}

	admin := env.As(t, "admin")
	t.Run("audit list", func(t *testing.T) {
		r := admin.Get(t, "/audit?"+url.Values{"outcome": {"unknown"}}.Encode())
		if r.Status != http.StatusOK {
			t.Fatalf("status %d", r.Status)
		}
		rows := r.Doc(t).Find(`table.audit-log tbody tr[data-entry-id]`)
		if rows.Length() != 1 || rows.AttrOr("data-entry-id", "") != fmt.Sprint(ans.ID) || !strings.Contains(rows.Text(), "Outcome unknown") {
			t.Errorf("rows filtered by outcome unknown: %d, %q", rows.Length(), rows.Text())
		}
	})
	t.Run("audit entry", func(t *testing.T) {
		r := admin.Get(t, fmt.Sprintf("/audit/%d", ans.ID))
		if r.Status != http.StatusOK {
			t.Fatalf("status %d", r.Status)
		}
		text := r.Doc(t).Find("main").Text()
		for _, want := range []string{"Outcome unknown", audit.UnknownOutcomeError, batchID} {
			if !strings.Contains(text, want) {
				t.Errorf("entry page does not show %q", want)
			}
		}
	})
	t.Run("batch page", func(t *testing.T) {
		r := admin.Get(t, "/batches/"+batchID)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d", r.Status)
		}
		if text := r.Doc(t).Find("main").Text(); !strings.Contains(text, "the outcome is unknown") {
			t.Errorf("batch page does not say the outcome is unknown:\n%s", text)
		}
	})
	if res, err := env.App.Audit().Verify(ctx); err != nil || !res.OK {
		t.Errorf("chain after the crash and recovery: %+v, %v", res, err)
	}
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestAuditFailureSendsNothing makes the audit log refuse request entries
// (as a full disk would) and runs a batch through the whole console: the
// call is not sent, the server is untouched, and the batch says why.
func TestAuditFailureSendsNothing(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.DB().Write.ExecContext(ctx, `CREATE TRIGGER test_audit_full BEFORE INSERT ON audit_entries
		WHEN NEW.kind = 'request' BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	admin, snap := adminAndFleet(t, a)
	var target string
	for _, s := range snap.Servers {
		if ok, _ := modelarts.Eligible(modelarts.BatchStop, &s); ok && s.Status == modelarts.StatusRunning {
			target = s.ID
			break
		}
	}
	p, err := a.Batches().Prepare(ctx, admin, modelarts.BatchStop, []string{target}, snap)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := a.Batches().Execute(ctx, batch.ExecuteRequest{User: admin, Token: p.Token, Meta: batch.Meta{ClientIP: "192.0.2.7"}})
	id := ex.BatchID
	if err != nil {
		t.Fatal(err)
	}
	a.Batches().Wait()
	prog, err := a.Batches().Status(ctx, id, snap)
	if err != nil {
		t.Fatal(err)
	}
	if c := prog.Chunks[0]; c.Outcome != batch.OutcomeNotSent || !strings.Contains(c.TransportError, "audit log") {
		t.Errorf("chunk = %+v; want not sent because of the audit log", c)
	}
	if n := a.Simulator().MutatingRequests(); n != 0 {
		t.Errorf("%d state-changing requests reached ModelArts, want none", n)
	}
	if s, _ := a.Simulator().Server(target); s.Status != modelarts.StatusRunning {
		t.Errorf("the server is %s, want RUNNING (untouched)", s.Status)
	}
}
