package audit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

const crashEnv = "AUDIT_TEST_CRASH_CHILD_DB"

// TestMain runs crashChild in a child process (testutil.ChildCommand), else
// the tests, stopping the test PostgreSQL this binary started, if any.
func TestMain(m *testing.M) {
	if v := os.Getenv(crashEnv); v != "" {
		crashChild(v)
		os.Exit(0)
	}
	pgtest.Main(m)
}

// crashChild runs in a subprocess: it commits a request entry, says so, and
// waits to be killed before it can record the response.
func crashChild(path string) {
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	s := audit.New(db, nil)
	rec := s.CallRecorder(audit.CallMeta{Actor: alice, CorrelationID: "crash-batch", Action: "DELETE",
		Targets: []audit.Target{{ID: srvA, Name: "gpu-node-01"}}})
	ref, err := rec.BeforeSend(ctx, stopCall(srvA))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Printf("committed %d\n", ref)
	time.Sleep(time.Minute) // the "call" in flight; the parent kills us here
	os.Exit(4)
}

func TestCrashBetweenRequestAndResponse(t *testing.T) {
	path := filepath.Join(t.TempDir(), "console.db")
	// One finished call before the crash.
	before := openTestStore(t, path)
	done := before.exchange(t, metaFor("STOP", "ok-batch", audit.Target{ID: srvB}), stopCall(srvB), okResult("r"))
	before.db.Close()

	child, line := testutil.StartChild(t, testutil.ChildCommand(crashEnv, path, os.Environ()))
	if !strings.HasPrefix(line, "committed ") {
		t.Fatalf("child said %q", line)
	}
	ref, err := strconv.ParseInt(strings.TrimSpace(strings.TrimPrefix(line, "committed ")), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	child.Kill(t)

	// Next start.
	ts := openTestStore(t, path)
	ctx := context.Background()
	req, ans, err := ts.Exchange(ctx, ref)
	if err != nil || req == nil || ans != nil {
		t.Fatalf("after the crash: request %v, answer %v, %v; want the committed request and no answer", req, ans, err)
	}
	n, err := ts.RecoverUnfinished(ctx)
	if err != nil || n != 1 {
		t.Fatalf("RecoverUnfinished = %d, %v; want 1", n, err)
	}
	_, ans, err = ts.Exchange(ctx, ref)
	if err != nil || ans == nil || ans.Outcome != audit.OutcomeUnknown || ans.Kind != audit.KindOutcomeUnknown ||
		ans.CorrelationID != "crash-batch" || ans.Action != "DELETE" || ans.Actor.Name != "alice" {
		t.Fatalf("answer after recovery = %+v, %v; want outcome unknown for the DELETE", ans, err)
	}
	got, _, err := ts.List(ctx, audit.Filter{Outcome: string(audit.OutcomeUnknown)}, 0, 10)
	if err != nil || len(got) != 1 || got[0].ID != ans.ID {
		t.Fatalf("outcome=unknown filter = %d entries, %v; want the recovery entry", len(got), err)
	}
	if n, err := ts.RecoverUnfinished(ctx); err != nil || n != 0 {
		t.Fatalf("second RecoverUnfinished = %d, %v; want 0", n, err)
	}
	if _, resp, _ := ts.Exchange(ctx, done); resp == nil || resp.Outcome != audit.OutcomeSuccess {
		t.Errorf("the finished call's answer is %+v, want success", resp)
	}
	assertCount(t, ts, 4)
	verifyOK(t, ts.Store)
}
