package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/modelarts"
)

// TestConcurrentWritersAndReaders puts every kind of audit writer to work on
// one database at once — security events from many users, batches whose
// chunks are recorded as request and response, and 'console user add' from
// the command line on connections of its own — while 'console audit export'
// and 'console audit verify' read (and verify writes) beside them. No call
// may fail (in particular with SQLITE_BUSY), no entry may be lost, and the
// chain must verify.
func TestConcurrentWritersAndReaders(t *testing.T) {
	const (
		eventWriters, eventsEach = 8, 25
		batches, serversEach     = 4, 4 // one chunk per server
		cliUsers                 = 3
	)
	cfg := testConfig(t)
	cfg.SimServers = 120
	cfg.ChunkSize = 1
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	admin, snap := adminAndFleet(t, a)
	var eligible []string
	for _, s := range snap.Servers {
		if ok, _ := modelarts.Eligible(modelarts.BatchReboot, &s); ok {
			eligible = append(eligible, s.ID)
		}
	}
	if len(eligible) < batches*serversEach {
		t.Fatalf("only %d servers can reboot, want %d", len(eligible), batches*serversEach)
	}
	dbEnv := envOf(map[string]string{"CONSOLE_DB": cfg.DBPath})

	var (
		wg      sync.WaitGroup
		errMu   sync.Mutex
		errs    []string
		writing sync.WaitGroup
		stop    atomic.Bool
		ids     = make(chan string, batches)
	)
	fail := func(format string, args ...any) {
		errMu.Lock()
		defer errMu.Unlock()
		errs = append(errs, fmt.Sprintf(format, args...))
	}

	// Security events, as the sign-in and role checks record them.
	rec := app.SecurityRecorder(a.Audit())
	for w := range eventWriters {
		writing.Add(1)
		go func() {
			defer writing.Done()
			actx := auth.WithActor(ctx, auth.Actor{UserID: int64(100 + w), Name: fmt.Sprintf("user%d", w), Role: auth.RoleViewer, ClientIP: "192.0.2.9"})
			for i := range eventsEach {
				if err := rec(actx, auth.Event{Kind: auth.EventAccessDenied, Detail: map[string]string{"path": fmt.Sprintf("/users/%d", i)}}); err != nil {
					fail("event %d/%d: %v", w, i, err)
				}
			}
		}()
	}
	// Batches: each chunk is a request entry before the call and a response
	// entry after it.
	for b := range batches {
		writing.Add(1)
		go func() {
			defer writing.Done()
			p, err := a.Batches().Prepare(ctx, admin, modelarts.BatchReboot, eligible[b*serversEach:(b+1)*serversEach], snap)
			if err != nil {
				fail("prepare batch %d: %v", b, err)
				return
			}
			ex, err := a.Batches().Execute(ctx, batch.ExecuteRequest{User: admin, Token: p.Token,
				Meta: batch.Meta{ClientIP: "192.0.2.8", UserAgent: "test"}})
			id := ex.BatchID
			if err != nil {
				fail("execute batch %d: %v", b, err)
				return
			}
			ids <- id
		}()
	}
	// The command line, on its own connections to the same file.
	writing.Add(1)
	go func() {
		defer writing.Done()
		for i := range cliUsers {
			r := runCLI(t, dbEnv, "a-long-password-123\n", "user", "add", fmt.Sprintf("cli%d", i), "--role", "viewer")
			if r.Err != nil {
				fail("user add cli%d: %v %s", i, r.Err, r.Stderr)
			}
		}
	}()
	// Readers: export streams the log while it grows, verify walks it.
	var exports atomic.Int64
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 3 || !stop.Load(); n++ {
				r := runCLI(t, dbEnv, "", "audit", "export", "--format", "jsonl")
				if r.Err != nil {
					fail("export: %v %s", r.Err, r.Stderr)
					return
				}
				if err := increasingIDs(r.Stdout); err != nil {
					fail("export: %v", err)
				}
				exports.Add(1)
				if v := runCLI(t, dbEnv, "", "audit", "verify"); v.Err != nil {
					fail("verify: %v %s", v.Err, v.Stdout)
				}
			}
		}()
	}

	writing.Wait()
	a.Batches().Wait() // every chunk sent and answered
	stop.Store(true)
	wg.Wait()
	close(ids)
	for _, e := range errs {
		t.Error(e)
		if strings.Contains(e, "SQLITE_BUSY") || strings.Contains(e, "database is locked") {
			t.Error("a writer saw SQLITE_BUSY")
		}
	}
	if t.Failed() {
		return
	}

	for id := range ids {
		p, err := a.Batches().Status(ctx, id, snap)
		if err != nil {
			t.Fatalf("batch %s: %v", id, err)
		}
		if len(p.Chunks) != serversEach {
			t.Errorf("batch %s has %d chunks, want %d", id, len(p.Chunks), serversEach)
		}
		for _, c := range p.Chunks {
			if c.Outcome != batch.OutcomeOK {
				t.Errorf("batch %s chunk %d: %s %s", id, c.N, c.Outcome, c.TransportError)
			}
		}
	}
	// the switch to the keyed chain + bootstrap admin + events + a request and a response per chunk + CLI users
	want := 2 + eventWriters*eventsEach + 2*batches*serversEach + cliUsers
	final := runCLI(t, dbEnv, "", "audit", "export", "--format", "jsonl")
	if final.Err != nil {
		t.Fatal(final.Err)
	}
	kinds := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(final.Stdout), "\n") {
		var v struct{ Kind string }
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		kinds[v.Kind]++
	}
	if kinds[""] != 1 || !strings.Contains(final.Stdout, fmt.Sprintf(`{"trailer":true,"entries":%d,`, want)) {
		t.Errorf("the export does not end with a trailer counting %d entries", want)
	}
	delete(kinds, "") // the trailer
	if got := strings.Count(final.Stdout, "\n") - 1; got != want {
		t.Errorf("the log holds %d entries, want %d: %v", got, want, kinds)
	}
	if kinds["request"] != batches*serversEach || kinds["response"] != batches*serversEach {
		t.Errorf("requests %d, responses %d; want %d each", kinds["request"], kinds["response"], batches*serversEach)
	}
	if n, err := a.Audit().RecoverUnfinished(ctx); err != nil || n != 0 {
		t.Errorf("%d requests have no response (%v)", n, err)
	}
	if res, err := a.Audit().Verify(ctx); err != nil || !res.OK || res.Entries != int64(want) {
		t.Errorf("verify = %+v, %v; want intact with %d entries", res, err, want)
	}
	t.Logf("%d exports ran while the log was written", exports.Load())
}

// increasingIDs checks a JSON-lines export is complete and oldest first.
func increasingIDs(out string) error {
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var last, n int64
	trailer := false
	for sc.Scan() {
		var v struct {
			ID      int64
			Trailer bool
			Entries int64
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return fmt.Errorf("line after entry %d: %w", last, err)
		}
		if trailer {
			return fmt.Errorf("a line after the trailer")
		}
		if v.Trailer {
			if v.Entries != n {
				return fmt.Errorf("the trailer counts %d entries, the export holds %d", v.Entries, n)
			}
			trailer = true
			continue
		}
		n++
		if v.ID <= last {
			return fmt.Errorf("entry %d after %d", v.ID, last)
		}
		last = v.ID
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if !trailer {
		return fmt.Errorf("no trailer after entry %d", last)
	}
	return nil
}
