package batch_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

const project = "0123456789abcdef0123456789abcdef"

var (
	operator = &auth.User{ID: 7, Name: "olga", Role: auth.RoleOperator}
	other    = &auth.User{ID: 8, Name: "otto", Role: auth.RoleOperator}
	meta     = batch.Meta{ClientIP: "192.0.2.10", UserAgent: "test-browser"}
)

// env is a batch service over a real store, audit log, client and simulator.
type env struct {
	dsn    string
	db     *store.DB
	audit  *audit.Store
	sim    *simulator.Simulator
	simURL string
	cache  *fleet.Cache
	svc    *batch.Service
	mc     modelarts.Config // the client's configuration
}

type envOpts struct {
	chunkSize   int
	callTimeout time.Duration
	unaudited   bool // no Recorder: every state-changing call is refused
	now         func() time.Time
	servers     int
	// follow is the background follow interval; 0 turns following off so
	// tests control every Status call.
	follow time.Duration
	// transition is the simulator's (50ms when zero).
	transition time.Duration
	// signed makes the simulator require AK/SK signatures and the client
	// sign every call.
	signed bool
	// keyed chains the audit log under an audit key, as the console
	// always does (app.keyAudit), rather than the plain chain.
	keyed bool
}

func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.DSN(t, storetest.DefaultEngine())
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if o.servers == 0 {
		o.servers = 120
	}
	if o.transition == 0 {
		o.transition = 50 * time.Millisecond
	}
	so := simulator.Options{Servers: o.servers, Seed: 3, Transition: o.transition}
	if o.signed {
		so.ProjectID, so.AK, so.SK = project, benchAK, benchSK
	}
	sim := simulator.New(so)
	hs := httptest.NewServer(sim)
	t.Cleanup(func() {
		sim.Close()
		hs.Close()
	})
	au := audit.New(db, nil)
	if o.keyed {
		if err := au.UseKey(ctx, []byte("batch-test-audit-key-0123456789ab")); err != nil {
			t.Fatal(err)
		}
	}
	// Index appended entries in the background, as the console does.
	ictx, stopIndexer := context.WithCancel(context.Background())
	indexerDone := make(chan struct{})
	go func() { defer close(indexerDone); au.RunIndexer(ictx) }()
	t.Cleanup(func() { stopIndexer(); <-indexerDone })
	mc := modelarts.Config{
		Endpoint:   hs.URL,
		ProjectID:  project,
		Auth:       modelarts.NoAuth(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}
	if o.signed {
		mc.Auth = modelarts.NewAKSK(benchAK, benchSK, "", project)
	}
	client, err := modelarts.NewClient(mc)
	if err != nil {
		t.Fatal(err)
	}
	cache := fleet.NewCache(client, time.Hour, nil)
	follow := o.follow
	if follow == 0 {
		follow = -1
	}
	var rec batch.Audit = au
	if o.unaudited {
		rec = nil
	}
	svc, err := batch.NewService(batch.Config{
		Cloud: client, Audit: rec, Fleet: cache, DB: db, ChunkSize: o.chunkSize, Timeout: o.callTimeout, Now: o.now,
		SettleGrace: 300 * time.Millisecond, FollowInterval: follow,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return &env{dsn: dsn, db: db, audit: au, sim: sim, simURL: hs.URL, cache: cache, svc: svc, mc: mc}
}

// snapshot walks the fleet now.
func (e *env) snapshot(t testing.TB) *fleet.Snapshot {
	t.Helper()
	snap, err := e.cache.Refresh(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// pick returns n servers of the simulator matching ok, failing the test if
// there are not enough.
func (e *env) pick(t testing.TB, n int, ok func(*modelarts.ServerResponse) bool) []modelarts.ServerResponse {
	t.Helper()
	var out []modelarts.ServerResponse
	for _, s := range e.sim.Servers() {
		if ok(&s) {
			out = append(out, s)
			if len(out) == n {
				return out
			}
		}
	}
	t.Fatalf("the simulated fleet has only %d matching servers, need %d", len(out), n)
	return nil
}

func ids(ss []modelarts.ServerResponse) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func eligibleFor(t modelarts.BatchType) func(*modelarts.ServerResponse) bool {
	return func(s *modelarts.ServerResponse) bool { ok, _ := modelarts.Eligible(t, s); return ok }
}

func withStatus(st modelarts.Status) func(*modelarts.ServerResponse) bool {
	return func(s *modelarts.ServerResponse) bool { return s.Status == st }
}

// mutating counts the requests that could change state in the simulator.
// execute runs the prepared action of token as u, as the web layer does.
func execute(e *env, u *auth.User, token string, params *modelarts.ServerOSRequest, word string) (string, bool, error) {
	r := batch.ExecuteRequest{User: u, Token: token, TypedWord: word, Meta: meta}
	if params != nil {
		r.OS = &batch.OSInput{Params: *params}
	}
	ex, err := e.svc.Execute(context.Background(), r)
	return ex.BatchID, ex.Started, err
}

// run prepares action on ids as u and executes it with no parameters or
// confirmation word, and returns the batch id.
func (e *env) run(t *testing.T, u *auth.User, action modelarts.BatchType, ids []string) string {
	t.Helper()
	p, err := e.svc.Prepare(context.Background(), u, action, ids, e.snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := execute(e, u, p.Token, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *env) mutating() int { return e.sim.MutatingRequests() }

// settle waits for the batch's chunks to be sent and its servers to settle.
func (e *env) settle(t *testing.T, id string) *batch.Progress {
	t.Helper()
	e.svc.Wait()
	var p *batch.Progress
	testutil.Eventually(t, 15*time.Second, "batch "+id+" settles", func() error {
		var err error
		if p, err = e.svc.Settle(context.Background(), id, e.snapshot(t)); err != nil {
			t.Fatal(err)
		}
		if !p.Recorded {
			return fmt.Errorf("servers %+v", p.Servers)
		}
		return nil
	})
	return p
}

func TestPrepareMixedEligibility(t *testing.T) {
	e := newEnv(t, envOpts{})
	running := e.pick(t, 2, withStatus(modelarts.StatusRunning))
	stopped := e.pick(t, 1, withStatus(modelarts.StatusStopped))
	gone := "11111111-2222-4333-8444-555555555555"
	sel := []string{running[0].ID, stopped[0].ID, gone, running[1].ID, running[0].ID}

	p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchStop, sel, e.snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	gotTargets := []string{}
	for _, tg := range p.Targets {
		gotTargets = append(gotTargets, tg.ID)
	}
	wantTargets := ids(running)
	slices.Sort(gotTargets)
	slices.Sort(wantTargets)
	if diff := cmp.Diff(wantTargets, gotTargets); diff != "" {
		t.Errorf("targets mismatch (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for _, s := range p.Skipped {
		reasons[s.ID] = s.Reason
	}
	if got := reasons[gone]; got != batch.ReasonVanished {
		t.Errorf("unknown id reason = %q, want %q", got, batch.ReasonVanished)
	}
	if got := reasons[stopped[0].ID]; !strings.Contains(got, "only running servers can be stopped") {
		t.Errorf("stopped server reason = %q", got)
	}
	if len(p.Skipped) != 2 {
		t.Errorf("skipped %d servers, want 2 (duplicates count once): %+v", len(p.Skipped), p.Skipped)
	}
	if len(p.Token) < 22 {
		t.Errorf("token %q is shorter than 128 bits", p.Token)
	}
	if e.mutating() != 0 {
		t.Errorf("preview sent %d state-changing requests, want 0", e.mutating())
	}
	// Only the hash of the token is stored.
	var stored string
	if err := e.db.Read.Get(&stored, `SELECT token_hash FROM prepared_actions`); err != nil {
		t.Fatal(err)
	}
	if stored == p.Token || strings.Contains(stored, p.Token) {
		t.Error("the token itself is stored")
	}

	t.Run("ErrNoSelection", func(t *testing.T) {
		if _, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchStop, nil, e.snapshot(t)); !errors.Is(err, batch.ErrNoSelection) {
			t.Errorf("err = %v, want ErrNoSelection", err)
		}
	})
	t.Run("ErrInvalidAction", func(t *testing.T) {
		if _, err := e.svc.Prepare(context.Background(), operator, "EXPLODE", sel, e.snapshot(t)); !errors.Is(err, batch.ErrInvalidAction) {
			t.Errorf("err = %v, want ErrInvalidAction", err)
		}
	})
}

func TestExecuteHappyPaths(t *testing.T) {
	e := newEnv(t, envOpts{})
	keyPair := &modelarts.ServerOSRequest{KeyPairName: "ops-key"}
	tests := []struct {
		name     string
		action   modelarts.BatchType
		pick     func(*modelarts.ServerResponse) bool
		params   func(t *testing.T, p *batch.Prepared) *modelarts.ServerOSRequest
		want     modelarts.Status
		wantGone bool
	}{
		{name: "START", action: modelarts.BatchStart, pick: withStatus(modelarts.StatusStopped), want: modelarts.StatusRunning},
		{name: "STOP", action: modelarts.BatchStop, pick: withStatus(modelarts.StatusRunning), want: modelarts.StatusStopped},
		{name: "REBOOT", action: modelarts.BatchReboot, pick: withStatus(modelarts.StatusRunning), want: modelarts.StatusRunning},
		{
			name: "REINSTALLOS", action: modelarts.BatchReinstallOS, want: modelarts.StatusRunning,
			pick: func(s *modelarts.ServerResponse) bool {
				return s.Status == modelarts.StatusStopped && !s.IsSupernode()
			},
			params: func(*testing.T, *batch.Prepared) *modelarts.ServerOSRequest { return keyPair },
		},
		{
			name: "CHANGEOS", action: modelarts.BatchChangeOS, want: modelarts.StatusRunning,
			pick: func(s *modelarts.ServerResponse) bool {
				return s.Status == modelarts.StatusStopped && !s.IsSupernode() && s.Type() == modelarts.ServerTypeECS && s.Arch() == modelarts.ArchX86
			},
			params: func(t *testing.T, p *batch.Prepared) *modelarts.ServerOSRequest {
				imgs := p.Images
				if p.ImagesErr != nil || len(imgs) == 0 {
					t.Fatalf("Images = %v, %v; want images", imgs, p.ImagesErr)
				}
				return &modelarts.ServerOSRequest{ImageID: imgs[0].ImageID, AdminPass: "Sup3r-Secret-pw"}
			},
		},
		{
			name: "DELETE", action: modelarts.BatchDelete, wantGone: true, want: modelarts.StatusDeleted,
			pick: eligibleFor(modelarts.BatchDelete),
		},
	}
	used := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			picked := e.pick(t, 2, func(s *modelarts.ServerResponse) bool {
				ok, _ := modelarts.Eligible(tt.action, s)
				return ok && tt.pick(s) && !used[s.ID]
			})
			for _, s := range picked {
				used[s.ID] = true
			}
			before := e.mutating()
			p, err := e.svc.Prepare(context.Background(), operator, tt.action, ids(picked), e.snapshot(t))
			if err != nil {
				t.Fatal(err)
			}
			var params *modelarts.ServerOSRequest
			if tt.params != nil {
				params = tt.params(t, p)
			}
			id, first, err := execute(e, operator, p.Token, params, batch.Word(tt.action))
			if err != nil || !first || id == "" {
				t.Fatalf("Execute = %q, %v, %v", id, first, err)
			}
			prog := e.settle(t, id)
			if got := e.mutating() - before; got != 1 {
				t.Errorf("sent %d state-changing requests, want 1", got)
			}
			if len(prog.Servers) != len(picked) {
				t.Fatalf("progress lists %d servers, want %d", len(prog.Servers), len(picked))
			}
			for _, s := range prog.Servers {
				if s.Current != tt.want || s.Result != batch.ResultSucceeded || s.Gone != tt.wantGone {
					t.Errorf("server %s: current %s result %s gone %v; want %s succeeded gone %v",
						s.Name, s.Current, s.Result, s.Gone, tt.want, tt.wantGone)
				}
			}
			if prog.Counts.Succeeded != len(picked) || prog.Counts.Problems() != 0 {
				t.Errorf("counts = %+v", prog.Counts)
			}
			// The final states are recorded: a later Status needs no snapshot.
			again, err := e.svc.Status(context.Background(), id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !again.Done || again.Servers[0].Current != tt.want {
				t.Errorf("recorded status = done %v, %s", again.Done, again.Servers[0].Current)
			}
		})
	}
}

func TestExecuteOnceOnly(t *testing.T) {
	e := newEnv(t, envOpts{})
	servers := e.pick(t, 1, withStatus(modelarts.StatusRunning))

	t.Run("SequentialResubmit", func(t *testing.T) {
		p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchReboot, ids(servers), e.snapshot(t))
		if err != nil {
			t.Fatal(err)
		}
		id1, first1, err := execute(e, operator, p.Token, nil, "")
		if err != nil || !first1 {
			t.Fatalf("first Execute = %v, %v", first1, err)
		}
		e.svc.Wait()
		sent := e.mutating()
		id2, first2, err := execute(e, operator, p.Token, nil, "")
		if err != nil || first2 || id2 != id1 {
			t.Errorf("second Execute = %q, %v, %v; want %q, false, nil", id2, first2, err, id1)
		}
		e.svc.Wait()
		if e.mutating() != sent {
			t.Errorf("the resubmit sent %d more requests", e.mutating()-sent)
		}
		e.settle(t, id1)
	})

	t.Run("ConcurrentDoubleClick", func(t *testing.T) {
		p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchReboot, ids(servers), e.snapshot(t))
		if err != nil {
			t.Fatal(err)
		}
		before := e.mutating()
		var head int64
		if err := e.db.Read.Get(&head, `SELECT coalesce(max(id), 0) FROM audit_entries`); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		firsts, batchIDs := 0, map[string]bool{}
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, first, err := execute(e, operator, p.Token, nil, "")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				batchIDs[id] = true
				if first {
					firsts++
				}
			}()
		}
		wg.Wait()
		e.svc.Wait()
		if firsts != 1 || len(batchIDs) != 1 {
			t.Errorf("%d executions started a batch and %d batch ids came back; want 1 and 1", firsts, len(batchIDs))
		}
		if got := e.mutating() - before; got != 1 {
			t.Errorf("sent %d requests, want 1", got)
		}
		// The losing clicks' request entries were rolled back with their
		// claims: one request and its answer, and the chain is whole.
		var kinds []string
		if err := e.db.Read.Select(&kinds, `SELECT kind FROM audit_entries WHERE id > ? AND kind IN ('request', 'response') ORDER BY id`, head); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(kinds, []string{"request", "response"}) {
			t.Errorf("audit entries of the double click: %v, want one request and its response", kinds)
		}
		if res, err := e.audit.Verify(context.Background()); err != nil || !res.OK {
			t.Errorf("chain after the double click: %+v, %v", res, err)
		}
	})

	t.Run("OtherUsersToken", func(t *testing.T) {
		p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchReboot, ids(servers), e.snapshot(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := execute(e, other, p.Token, nil, ""); !errors.Is(err, batch.ErrTokenUnknown) {
			t.Errorf("err = %v, want ErrTokenUnknown", err)
		}
		if _, _, err := execute(e, operator, "made-up-token", nil, ""); !errors.Is(err, batch.ErrTokenUnknown) {
			t.Errorf("err = %v, want ErrTokenUnknown", err)
		}
	})
}

func TestExecuteExpiredToken(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	e := newEnv(t, envOpts{now: clock})
	servers := e.pick(t, 1, withStatus(modelarts.StatusRunning))
	p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchStop, ids(servers), e.snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(batch.DefaultTokenTTL + time.Second)
	mu.Unlock()
	if _, _, err := execute(e, operator, p.Token, nil, ""); !errors.Is(err, batch.ErrTokenExpired) {
		t.Errorf("err = %v, want ErrTokenExpired", err)
	}
	if e.mutating() != 0 {
		t.Errorf("an expired preview sent %d requests", e.mutating())
	}
}

func TestExecuteRefusesBeforeSending(t *testing.T) {
	e := newEnv(t, envOpts{})
	stopped := e.pick(t, 1, func(s *modelarts.ServerResponse) bool {
		return s.Status == modelarts.StatusStopped && !s.IsSupernode() && s.ChargingMode != modelarts.ChargingPrePaid
	})
	prep := func(t *testing.T, action modelarts.BatchType) *batch.Prepared {
		t.Helper()
		p, err := e.svc.Prepare(context.Background(), operator, action, ids(stopped), e.snapshot(t))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name      string
		action    modelarts.BatchType
		params    *modelarts.ServerOSRequest
		word      string
		wantErr   error
		wantField string // for FieldErrors
	}{
		{name: "DeleteWithoutWord", action: modelarts.BatchDelete, wantErr: batch.ErrConfirmation},
		{name: "DeleteWrongWord", action: modelarts.BatchDelete, word: "delete", wantErr: batch.ErrConfirmation},
		{name: "DeleteWordWithSpace", action: modelarts.BatchDelete, word: "DELETE ", wantErr: batch.ErrConfirmation},
		{name: "ReinstallOtherWord", action: modelarts.BatchReinstallOS, word: "DELETE",
			params: &modelarts.ServerOSRequest{KeyPairName: "k"}, wantErr: batch.ErrConfirmation},
		{name: "ReinstallNeitherLogin", action: modelarts.BatchReinstallOS, word: "REINSTALLOS",
			params: &modelarts.ServerOSRequest{UserData: "aGk="}, wantField: batch.FieldLogin},
		{name: "ReinstallBothLogins", action: modelarts.BatchReinstallOS, word: "REINSTALLOS",
			params: &modelarts.ServerOSRequest{KeyPairName: "k", AdminPass: "Sup3r-Secret-pw"}, wantField: batch.FieldLogin},
		{name: "ReinstallBadPassword", action: modelarts.BatchReinstallOS, word: "REINSTALLOS",
			params: &modelarts.ServerOSRequest{AdminPass: "rootRoot1"}, wantField: batch.FieldPassword},
		{name: "ChangeOSNoImage", action: modelarts.BatchChangeOS, word: "CHANGEOS",
			params: &modelarts.ServerOSRequest{KeyPairName: "k"}, wantField: batch.FieldImage},
		{name: "ChangeOSImageNotOffered", action: modelarts.BatchChangeOS, word: "CHANGEOS",
			params:    &modelarts.ServerOSRequest{KeyPairName: "k", ImageID: "11111111-2222-4333-8444-555555555555"},
			wantField: batch.FieldImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prep(t, tt.action)
			_, _, err := execute(e, operator, p.Token, tt.params, tt.word)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantField != "" {
				var fe batch.FieldErrors
				if !errors.As(err, &fe) || fe.ByField()[tt.wantField] == "" {
					t.Errorf("err = %v, want a problem with %s", err, tt.wantField)
				}
			}
			if e.mutating() != 0 {
				t.Fatalf("%d state-changing requests were sent", e.mutating())
			}
			// The token stays usable after a refusal.
			again, err := e.svc.Lookup(context.Background(), operator, p.Token)
			if err != nil || again.Used() {
				t.Errorf("after the refusal Lookup = %+v, %v; want unused", again, err)
			}
		})
	}
}

func TestChunking(t *testing.T) {
	e := newEnv(t, envOpts{chunkSize: 2})
	servers := e.pick(t, 5, withStatus(modelarts.StatusRunning))
	id := e.run(t, operator, modelarts.BatchReboot, ids(servers))
	prog := e.settle(t, id)
	var sizes []int
	for _, c := range prog.Chunks {
		sizes = append(sizes, len(c.ServerIDs))
		if c.Outcome != batch.OutcomeOK {
			t.Errorf("chunk %d outcome %s", c.N, c.Outcome)
		}
	}
	if diff := cmp.Diff([]int{2, 2, 1}, sizes); diff != "" {
		t.Errorf("chunk sizes mismatch (-want +got):\n%s", diff)
	}
	if got := e.mutating(); got != 3 {
		t.Errorf("sent %d requests, want 3", got)
	}

	entries, _, err := e.audit.List(context.Background(), audit.Filter{Correlation: id}, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[audit.EventKind]int{}
	seen := map[string]bool{}
	for _, en := range entries {
		kinds[en.Kind]++
		if en.Actor.Name != operator.Name || en.Actor.ClientIP != meta.ClientIP || en.Action != "REBOOT" {
			t.Errorf("entry %d: actor %+v action %s", en.ID, en.Actor, en.Action)
		}
		if en.Kind == audit.KindRequest {
			var body modelarts.BatchRequest
			if err := json.Unmarshal(en.RequestBody, &body); err != nil {
				t.Fatal(err)
			}
			for _, s := range body.Servers {
				seen[s.ID] = true
			}
			if len(en.Targets) != len(body.Servers) || en.Targets[0].Name == "" {
				t.Errorf("request entry targets %+v do not match body %+v", en.Targets, body.Servers)
			}
		}
	}
	if kinds[audit.KindRequest] != 3 || kinds[audit.KindResponse] != 3 {
		t.Errorf("audit entries by kind = %v, want 3 requests and 3 responses", kinds)
	}
	if len(seen) != 5 {
		t.Errorf("audited requests named %d distinct servers, want 5", len(seen))
	}
}

func TestChunkFailures(t *testing.T) {
	t.Run("ServerErrorIsUnknown", func(t *testing.T) {
		e := newEnv(t, envOpts{chunkSize: 1})
		servers := e.pick(t, 2, withStatus(modelarts.StatusRunning))
		e.sim.FailNextMethod(http.MethodPost, simulator.FaultError, 1)
		id := e.run(t, operator, modelarts.BatchStop, ids(servers))
		prog := e.settle(t, id)
		c := prog.Chunks[0]
		// A 500 may have acted: outcome unknown, never "refused".
		if c.Outcome != batch.OutcomeUnknown || c.Failure != batch.FailureHTTP || c.HTTPStatus != 500 || c.ErrorCode == "" || len(c.RequestID) != 32 {
			t.Errorf("chunk 1 = %+v; want unknown after HTTP 500 with code and request id", c)
		}
		if !strings.Contains(c.Reason(), "may have acted") {
			t.Errorf("chunk reason = %q", c.Reason())
		}
		if prog.Chunks[1].Outcome != batch.OutcomeOK {
			t.Errorf("chunk 2 outcome = %s; one failed chunk must not stop the others", prog.Chunks[1].Outcome)
		}
		if prog.Counts.Unknown != 1 || prog.Counts.Succeeded != 1 || prog.Counts.FailedChunks != 1 {
			t.Errorf("counts = %+v", prog.Counts)
		}
		// The follower watched the server and recorded where it ended.
		bad := prog.Bad()
		if len(bad) != 1 || !strings.Contains(bad[0].Reason(), "unknown") || !strings.Contains(bad[0].Reason(), string(bad[0].Current)) {
			t.Errorf("servers needing attention = %+v; want one with the unknown outcome and its state in words", bad)
		}
	})

	t.Run("ThrottledIsRefused", func(t *testing.T) {
		e := newEnv(t, envOpts{chunkSize: 1})
		servers := e.pick(t, 1, withStatus(modelarts.StatusRunning))
		e.sim.FailNextMethod(http.MethodPost, simulator.FaultThrottle, 1)
		id := e.run(t, operator, modelarts.BatchStop, ids(servers))
		prog := e.settle(t, id)
		c := prog.Chunks[0]
		if c.Outcome != batch.OutcomeAPIError || c.HTTPStatus != 429 || c.ErrorCode == "" {
			t.Errorf("chunk = %+v; want refused 429 with its code", c)
		}
		if r := prog.Servers[0]; r.Result != batch.ResultRefused || !strings.Contains(r.Reason(), c.ErrorCode) {
			t.Errorf("server = %+v; want refused with the error code in its reason", r)
		}
	})

	t.Run("DroppedConnectionIsUnknown", func(t *testing.T) {
		e := newEnv(t, envOpts{chunkSize: 1})
		servers := e.pick(t, 1, withStatus(modelarts.StatusRunning))
		e.sim.FailNextMethod(http.MethodPost, simulator.FaultDrop, 1)
		id := e.run(t, operator, modelarts.BatchStop, ids(servers))
		prog := e.settle(t, id)
		if c := prog.Chunks[0]; c.Outcome != batch.OutcomeUnknown || c.Failure != batch.FailureCut {
			t.Errorf("chunk = %+v; want unknown, connection cut after sending", c)
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		e := newEnv(t, envOpts{callTimeout: 300 * time.Millisecond})
		servers := e.pick(t, 2, withStatus(modelarts.StatusRunning))
		e.sim.FailNextMethod(http.MethodPost, simulator.FaultTimeout, 1)
		id := e.run(t, operator, modelarts.BatchStop, ids(servers))
		prog := e.settle(t, id)
		if len(prog.Chunks) != 1 || len(prog.Servers) != 2 {
			t.Fatalf("progress = %d chunks, %d servers; want 1 chunk of 2", len(prog.Chunks), len(prog.Servers))
		}
		c := prog.Chunks[0]
		if c.Outcome != batch.OutcomeUnknown || !c.TimedOut() || c.Took() < 300*time.Millisecond {
			t.Errorf("chunk = %+v (timed out %v, took %s); want an unknown outcome after the timeout", c, c.TimedOut(), c.Took())
		}
		// The simulator applied it, so the servers did stop.
		for _, s := range prog.Servers {
			if s.Current != modelarts.StatusStopped {
				t.Errorf("%s is %s", s.Name, s.Current)
			}
		}
		entries, _, err := e.audit.List(context.Background(), audit.Filter{Correlation: id, Outcome: string(audit.OutcomeTransportError)}, 0, 10)
		if err != nil || len(entries) != 1 {
			t.Errorf("audit transport-error entries = %d, %v; want 1", len(entries), err)
		}
	})

	t.Run("NotRecorded", func(t *testing.T) {
		e := newEnv(t, envOpts{unaudited: true})
		servers := e.pick(t, 1, withStatus(modelarts.StatusRunning))
		id := e.run(t, operator, modelarts.BatchStop, ids(servers))
		prog := e.settle(t, id)
		if c := prog.Chunks[0]; c.Outcome != batch.OutcomeNotSent || !strings.Contains(c.TransportError, "audit log") {
			t.Errorf("chunk = %+v; want not_sent because of the audit log", c)
		}
		if prog.Servers[0].Result != batch.ResultRefused || e.mutating() != 0 {
			t.Errorf("result %s, %d requests; want refused and none", prog.Servers[0].Result, e.mutating())
		}
	})
}

func TestListAndGet(t *testing.T) {
	e := newEnv(t, envOpts{})
	servers := e.pick(t, 2, withStatus(modelarts.StatusRunning))
	run := func(u *auth.User, s modelarts.ServerResponse) string {
		id := e.run(t, u, modelarts.BatchReboot, []string{s.ID})
		e.settle(t, id)
		return id
	}
	mine := run(operator, servers[0])
	theirs := run(other, servers[1])

	tests := []struct {
		name   string
		userID int64
		want   []string
	}{
		{name: "Mine", userID: operator.ID, want: []string{mine}},
		{name: "Theirs", userID: other.ID, want: []string{theirs}},
		{name: "All", userID: 0, want: []string{theirs, mine}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := e.svc.List(context.Background(), tt.userID, 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range list {
				got = append(got, s.ID)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("list mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := e.svc.Get(context.Background(), "nope"); !errors.Is(err, batch.ErrNotFound) {
		t.Errorf("Get(nope) = %v, want ErrNotFound", err)
	}
}

func TestSecretsNotStored(t *testing.T) {
	e := newEnv(t, envOpts{})
	servers := e.pick(t, 1, func(s *modelarts.ServerResponse) bool {
		return s.Status == modelarts.StatusStopped && !s.IsSupernode()
	})
	p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchReinstallOS, ids(servers), e.snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	const pass = "Zq7-unique-Secret"
	userData := "IyEvYmluL2Jhc2gKZWNobyBzZWNyZXQtdG9rZW4tOTk="
	id, _, err := execute(e, operator, p.Token,
		&modelarts.ServerOSRequest{AdminPass: pass, UserData: userData}, "REINSTALLOS")
	if err != nil {
		t.Fatal(err)
	}
	e.settle(t, id)
	b, err := e.svc.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if !b.Params.PasswordSet || b.Params.UserDataBytes != 32 || len(b.Params.UserDataSHA256) != 64 {
		t.Errorf("params = %+v", b.Params)
	}
	for _, table := range []string{"prepared_actions", "batches", "batch_chunks", "batch_servers"} {
		rows, err := e.db.Read.Queryx(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			n++
			vals, err := rows.SliceScan()
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				s, _ := v.(string)
				if b, ok := v.([]byte); ok {
					s = string(b)
				}
				if strings.Contains(s, pass) || strings.Contains(s, userData) {
					t.Errorf("table %s stores a secret: %q", table, s)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		rows.Close()
		if n == 0 {
			t.Errorf("table %s is empty: nothing was checked for secrets", table)
		}
	}
}

func TestRecover(t *testing.T) {
	e := newEnv(t, envOpts{})
	ctx := context.Background()
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := e.db.Write.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	mustExec(`INSERT INTO batches (id, user_id, user_name, action, created_at, chunk_size, total) VALUES ('b1', 7, 'olga', 'STOP', 1, 1, 2)`)
	mustExec(`INSERT INTO batch_chunks (batch_id, n, server_ids, outcome, started_at) VALUES ('b1', 1, '["a"]', 'sending', 1)`)
	mustExec(`INSERT INTO batch_chunks (batch_id, n, server_ids) VALUES ('b1', 2, '["b"]')`)
	mustExec(`INSERT INTO batch_servers (batch_id, server_id, name, chunk, initial_status) VALUES ('b1', 'a', 'a', 1, 'RUNNING'), ('b1', 'b', 'b', 2, 'RUNNING')`)
	if err := e.svc.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	prog, err := e.svc.Status(ctx, "b1", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{prog.Chunks[0].Outcome, prog.Chunks[1].Outcome}
	if diff := cmp.Diff([]string{batch.OutcomeUnknown, batch.OutcomeNotSent}, got); diff != "" {
		t.Errorf("outcomes mismatch (-want +got):\n%s", diff)
	}
}

// A list walk that began before the answer came back can finish after it,
// so its time says "fresh" while its entries predate the action. Status must
// not take such entries as final.
func TestStatusIgnoresListPredatingTheAction(t *testing.T) {
	e := newEnv(t, envOpts{})
	servers := e.pick(t, 2, eligibleFor(modelarts.BatchDelete))
	before := e.snapshot(t).Servers // as listed before the action
	p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchDelete, ids(servers), e.snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := execute(e, operator, p.Token, nil, "DELETE")
	if err != nil {
		t.Fatal(err)
	}
	e.svc.Wait()
	stale := fleet.NewSnapshot(before, time.Now().Add(time.Second))
	prog, err := e.svc.Status(context.Background(), id, stale)
	if err != nil {
		t.Fatal(err)
	}
	if prog.Done {
		t.Fatal("a list older than the action finished the batch")
	}
	if len(prog.Servers) != len(servers) {
		t.Fatalf("progress lists %d servers, want %d", len(prog.Servers), len(servers))
	}
	for _, s := range prog.Servers {
		if s.Result != batch.ResultInProgress {
			t.Errorf("%s: result %s from a stale list, want in_progress", s.Name, s.Result)
		}
	}
	settled := e.settle(t, id).Servers
	if len(settled) != len(servers) {
		t.Fatalf("settled progress lists %d servers, want %d", len(settled), len(servers))
	}
	for _, s := range settled {
		if s.Result != batch.ResultSucceeded || !s.Gone {
			t.Errorf("%s: result %s gone %v", s.Name, s.Result, s.Gone)
		}
	}
}

// TestFollowRecordsUnwatchedBatch: nobody opens the batch page, yet the
// batch is followed in the background until its servers settle, and their
// final states are recorded (so the batches list does not say "Running"
// for ever). A batch a previous process left unfinished is followed again
// by Recover.
func TestFollowRecordsUnwatchedBatch(t *testing.T) {
	tests := []struct {
		name    string
		recover bool // finish it through Recover, as after a restart
	}{
		{name: "AfterExecute"},
		{name: "AfterRestart", recover: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			follow := 50 * time.Millisecond
			if tt.recover {
				follow = -1 // the first "process" does not follow
			}
			e := newEnv(t, envOpts{follow: follow, chunkSize: 2})
			servers := e.pick(t, 3, withStatus(modelarts.StatusRunning))
			id := e.run(t, operator, modelarts.BatchStop, ids(servers))
			svc := e.svc
			if tt.recover {
				// Wait returns once every chunk is sent and every goroutine
				// of the service has stopped, so nothing can settle the
				// batch after it: no need to wait and see.
				svc.Wait()
				if b, err := svc.Get(context.Background(), id); err != nil || b.Done() {
					t.Fatalf("without following, the batch is done = %v (%v) before anyone looked", b != nil && b.Done(), err)
				}
				// A new service over the same database, as after a restart.
				svc = newFollowingService(t, e)
				if err := svc.Recover(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			testutil.Eventually(t, 15*time.Second, "the batch is recorded as done without its page being opened", func() error {
				b, err := svc.Get(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				if !b.Done() {
					return errors.New("not done")
				}
				return nil
			})
			var finals []string
			if err := e.db.Read.Select(&finals, `SELECT final_status FROM batch_servers WHERE batch_id = ? ORDER BY server_id`, id); err != nil {
				t.Fatal(err)
			}
			want := []string{"STOPPED", "STOPPED", "STOPPED"}
			if diff := cmp.Diff(want, finals); diff != "" {
				t.Errorf("recorded final states mismatch (-want +got):\n%s", diff)
			}
			list, err := svc.List(context.Background(), operator.ID, 10)
			if err != nil || len(list) != 1 || list[0].Status != batch.StatusDone {
				t.Errorf("batches list = %+v, %v; want the batch done", list, err)
			}
		})
	}
}

// newFollowingService is a second service over e's database and client,
// following batches every 50ms.
func newFollowingService(t *testing.T, e *env) *batch.Service {
	t.Helper()
	return newFollowingServiceOn(t, e, e.db)
}

// newFollowingServiceOn is newFollowingService over db.
func newFollowingServiceOn(t *testing.T, e *env, db *store.DB) *batch.Service {
	t.Helper()
	client, err := modelarts.NewClient(modelarts.Config{
		Endpoint: e.simURL, ProjectID: project, Auth: modelarts.NoAuth(),
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := batch.NewService(batch.Config{
		Cloud: client, Audit: e.audit, Fleet: fleet.NewCache(client, time.Hour, nil), DB: db,
		SettleGrace: 300 * time.Millisecond, FollowInterval: 50 * time.Millisecond,
		RecoverCalls: e.audit.RecoverUnfinishedFor,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Shutdown(context.Background()) })
	return svc
}

func TestWaitStopsFollowing(t *testing.T) {
	e := newEnv(t, envOpts{follow: time.Hour})
	servers := e.pick(t, 1, withStatus(modelarts.StatusRunning))
	p, err := e.svc.Prepare(context.Background(), operator, modelarts.BatchStop, ids(servers), e.snapshot(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := execute(e, operator, p.Token, nil, ""); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		e.svc.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return: a background follower kept it waiting")
	}
}

// TestOneConsoleFollowsEachBatch: a second console (a replica, on
// PostgreSQL its own connections) does not take over a batch the first one
// follows, and takes it over, recording its final states, once the first
// gives its claim up.
func TestOneConsoleFollowsEachBatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, envOpts{follow: time.Hour, chunkSize: 2}) // follows, but will not look for an hour
	servers := e.pick(t, 3, withStatus(modelarts.StatusRunning))
	id := e.run(t, operator, modelarts.BatchStop, ids(servers))

	db2 := e.db
	if e.db.Engine == store.Postgres {
		db2 = storetest.OpenDSN(t, e.dsn)
	}
	other := newFollowingServiceOn(t, e, db2)
	if err := other.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	probe := db2.NewClaims(0)
	defer probe.Close()
	if cl, err := probe.TryClaim(ctx, "batch:"+id); err != nil || cl != nil {
		t.Fatalf("the batch's claim is free while its console follows it (%v)", err)
	}
	if b, err := other.Get(ctx, id); err != nil || b.Done() {
		t.Fatalf("the second console finished a batch the first follows: done=%v (%v)", b != nil && b.Done(), err)
	}

	if err := e.svc.Shutdown(ctx); err != nil { // the first console stops: its claim ends
		t.Fatal(err)
	}
	testutil.Eventually(t, 15*time.Second, "the second console takes the batch over and records it done", func() error {
		b, err := other.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !b.Done() {
			return errors.New("not done")
		}
		return nil
	})
}
