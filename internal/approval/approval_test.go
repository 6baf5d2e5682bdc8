package approval_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/approval"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/batch"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

var ctx = context.Background()

const imageID = "6f1d2c3b-4a59-4e8f-9a0b-1c2d3e4f5a6b"

func stateOf(t *testing.T, err error) approval.State {
	t.Helper()
	var se *approval.StateError
	if !errors.As(err, &se) || !errors.Is(err, approval.ErrNotPending) {
		t.Fatalf("err = %v, want a *StateError", err)
	}
	return se.State
}

func TestCreateChecks(t *testing.T) {
	e := newEnv(t)
	base := func(by *auth.User) approval.NewRequest {
		return approval.NewRequest{Requester: by, Action: modelarts.BatchDelete, Servers: servers, Reason: "old nodes"}
	}
	tests := []struct {
		name string
		mod  func(*approval.NewRequest)
		want error  // errors.Is target, or nil for a *ValidationError / *ParamsError check
		kind string // "reason", "params"
	}{
		{"viewer may not ask", func(r *approval.NewRequest) { r.Requester = e.vic }, approval.ErrForbidden, ""},
		{"approver may not ask", func(r *approval.NewRequest) { r.Requester = e.bob }, approval.ErrForbidden, ""},
		{"nobody", func(r *approval.NewRequest) { r.Requester = nil }, approval.ErrForbidden, ""},
		{"not covered by the policy", func(r *approval.NewRequest) { r.Action = modelarts.BatchStop }, approval.ErrNotRequired, ""},
		{"no server", func(r *approval.NewRequest) { r.Servers = nil }, approval.ErrNothingToSend, ""},
		{"reason too short", func(r *approval.NewRequest) { r.Reason = "  ab  " }, nil, "reason"},
		{"reason too long", func(r *approval.NewRequest) { r.Reason = strings.Repeat("é", 501) }, nil, "reason"},
		{"reason with control characters", func(r *approval.NewRequest) { r.Reason = "abc\x00def" }, nil, "reason"},
		{"reinstall without password or key pair", func(r *approval.NewRequest) {
			r.Action = modelarts.BatchReinstallOS
			r.OSParams = &modelarts.ServerOSRequest{}
		}, nil, "params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nr := base(e.ann)
			tt.mod(&nr)
			r, err := e.svc.Create(ctx, nr)
			if r != nil || err == nil {
				t.Fatalf("Create = %v, %v; want refused", r, err)
			}
			switch tt.kind {
			case "reason":
				var ve *approval.ValidationError
				if !errors.As(err, &ve) || ve.Field != "reason" {
					t.Errorf("err = %v, want a reason ValidationError", err)
				}
			case "params":
				var pe *approval.ParamsError
				if !errors.As(err, &pe) {
					t.Errorf("err = %v, want a ParamsError", err)
				}
			default:
				if !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
			}
		})
	}
	var n int
	if err := e.db.Read.GetContext(ctx, &n, `SELECT count(*) FROM approval_requests`); err != nil || n != 0 {
		t.Errorf("refused requests were stored: %d, %v", n, err)
	}
	// 3 and 500 characters are the limits, counted in characters.
	for _, reason := range []string{"abc", strings.Repeat("é", 500)} {
		nr := base(e.ann)
		nr.Reason = reason
		if _, err := e.svc.Create(ctx, nr); err != nil {
			t.Errorf("reason of %d characters refused: %v", len([]rune(reason)), err)
		}
	}
}

// TestApproveRunsOnce follows a request from pending to approved: the
// requester and deciders see it, another operator does not, the executor
// runs once with the secrets, and every step is in the audit log.
func TestApproveRunsOnce(t *testing.T) {
	e := newEnv(t)
	params := &modelarts.ServerOSRequest{ImageID: imageID, AdminPass: "Sup3r-Secret-Pass!", UserData: "IyEvYmluL3NoCmVjaG8gaGk="}
	r := e.request(t, e.ann, modelarts.BatchChangeOS, params)
	if r.State != approval.StatePending || !r.Params.PasswordSet || r.Params.UserDataBytes != 17 || r.Params.ImageName != "Ubuntu 22.04" {
		t.Fatalf("created = %+v", r)
	}
	if got := approval.ParamsText(r.Params); !strings.Contains(got, "password set") || strings.Contains(got, "Sup3r") {
		t.Errorf("ParamsText = %q", got)
	}
	for _, u := range []*auth.User{e.ann, e.bob, e.ada} {
		if _, err := e.svc.Get(ctx, u, r.ID); err != nil {
			t.Errorf("%s cannot see the request: %v", u.Name, err)
		}
	}
	for _, u := range []*auth.User{e.olga, e.vic} {
		if _, err := e.svc.Get(ctx, u, r.ID); !errors.Is(err, approval.ErrNotFound) {
			t.Errorf("%s sees someone else's request: %v", u.Name, err)
		}
	}
	if n, _ := e.svc.PendingCount(ctx, e.bob); n != 1 {
		t.Errorf("approver's pending count = %d, want 1", n)
	}
	if n, _ := e.svc.PendingCount(ctx, e.ann); n != 1 {
		t.Errorf("requester's pending count = %d, want 1", n)
	}
	if n, _ := e.svc.PendingCount(ctx, e.olga); n != 0 {
		t.Errorf("other operator's pending count = %d, want 0", n)
	}

	if _, err := e.svc.Approve(ctx, e.ann, r.ID, "", approval.Meta{}); !errors.Is(err, approval.ErrForbidden) {
		t.Errorf("operator approving: %v, want ErrForbidden", err)
	}
	got, err := e.svc.Approve(ctx, e.bob, r.ID, "looks right", approval.Meta{ClientIP: "10.0.0.9"})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != approval.StateApproved || got.DeciderName != "bob" || got.Comment != "looks right" || got.BatchID == "" {
		t.Errorf("approved = %+v", got)
	}
	if e.exec.n() != 1 {
		t.Fatalf("executor ran %d times, want 1", e.exec.n())
	}
	call := e.exec.calls[0]
	if call.Approver.Name != "bob" || call.Request.RequesterName != "ann" || call.OSParams == nil ||
		call.OSParams.AdminPass != params.AdminPass || call.OSParams.UserData != params.UserData || call.OSParams.ImageID != imageID {
		t.Errorf("executor got %+v with params %+v", call, call.OSParams)
	}
	if _, err := e.svc.Approve(ctx, e.ada, r.ID, "", approval.Meta{}); stateOf(t, err) != approval.StateApproved {
		t.Errorf("second approval: %v", err)
	}
	if _, err := e.svc.Deny(ctx, e.ada, r.ID, "no", approval.Meta{}); stateOf(t, err) != approval.StateApproved {
		t.Errorf("deny after approval: %v", err)
	}
	if e.exec.n() != 1 {
		t.Errorf("executor ran %d times after repeated decisions, want 1", e.exec.n())
	}
	stored, err := e.svc.Get(ctx, e.ann, r.ID)
	if err != nil || stored.State != approval.StateApproved || stored.BatchID != got.BatchID || stored.SecretsHeld {
		t.Errorf("stored = %+v, %v", stored, err)
	}
	byBatch, err := e.svc.ByBatch(ctx, e.bob, got.BatchID)
	if err != nil || byBatch.ID != r.ID {
		t.Errorf("ByBatch = %v, %v", byBatch, err)
	}

	evs := e.events(t)
	if len(evs) != 2 || evs[0].Kind != approval.EventRequested || evs[1].Kind != approval.EventApproved {
		t.Fatalf("audit events = %v", evs)
	}
	req, appr := evs[0], evs[1]
	if req.Actor.Name != "ann" || req.Actor.ClientIP != "10.0.0.7" || req.Detail["request_id"] != r.ID ||
		req.Detail["action"] != "CHANGEOS" || req.Detail["reason"] != "decommission rack 7" ||
		req.Detail["servers"] != "gpu-01 (srv-1), gpu-02 (srv-2)" || !strings.Contains(req.Detail["os_params"], "password set") {
		t.Errorf("approval.requested = %+v %v", req.Actor, req.Detail)
	}
	if appr.Actor.Name != "bob" || appr.Actor.Role != "approver" || appr.Detail["comment"] != "looks right" ||
		appr.Detail["requester"] != "ann" || appr.Detail["request_id"] != r.ID {
		t.Errorf("approval.approved = %+v %v", appr.Actor, appr.Detail)
	}
	for _, ev := range evs {
		for k, v := range ev.Detail {
			if strings.Contains(v, "Sup3r") || strings.Contains(v, params.UserData) {
				t.Errorf("audit detail %s holds a secret: %q", k, v)
			}
		}
	}
	if kinds := strings.Join(e.told.kinds(), ","); kinds != "approval.requested,approval.approved" {
		t.Errorf("notifications = %s", kinds)
	}
}

// TestNobodyDecidesTheirOwn: not an admin either, neither way.
func TestNobodyDecidesTheirOwn(t *testing.T) {
	e := newEnv(t)
	r := e.request(t, e.ada, modelarts.BatchDelete, nil)
	if _, err := e.svc.Approve(ctx, e.ada, r.ID, "", approval.Meta{}); !errors.Is(err, approval.ErrOwnRequest) {
		t.Errorf("admin approving own: %v", err)
	}
	if _, err := e.svc.Deny(ctx, e.ada, r.ID, "hmm", approval.Meta{}); !errors.Is(err, approval.ErrOwnRequest) {
		t.Errorf("admin denying own: %v", err)
	}
	if n, _ := e.svc.PendingCount(ctx, e.ada); n != 0 {
		t.Errorf("an admin's own request counts as one to decide: %d", n)
	}
	if _, err := e.svc.Approve(ctx, e.alf, r.ID, "", approval.Meta{}); err != nil {
		t.Errorf("another admin approving: %v", err)
	}
	if e.exec.n() != 1 {
		t.Errorf("executor ran %d times", e.exec.n())
	}
}

// TestDeny: a comment is required, nothing runs, the comment is kept and
// the requester sees it.
func TestDeny(t *testing.T) {
	e := newEnv(t)
	r := e.request(t, e.ann, modelarts.BatchDelete, nil)
	var ve *approval.ValidationError
	if _, err := e.svc.Deny(ctx, e.bob, r.ID, "   ", approval.Meta{}); !errors.As(err, &ve) || ve.Field != "comment" {
		t.Errorf("deny without comment: %v", err)
	}
	if _, err := e.svc.Deny(ctx, e.vic, r.ID, "no", approval.Meta{}); !errors.Is(err, approval.ErrForbidden) {
		t.Errorf("viewer denying: %v", err)
	}
	if _, err := e.svc.Deny(ctx, e.bob, r.ID, "rack 7 is still in use", approval.Meta{}); err != nil {
		t.Fatal(err)
	}
	seen, err := e.svc.Get(ctx, e.ann, r.ID)
	if err != nil || seen.State != approval.StateDenied || seen.Comment != "rack 7 is still in use" || seen.DeciderName != "bob" {
		t.Errorf("requester sees %+v, %v", seen, err)
	}
	if e.exec.n() != 0 {
		t.Error("a denied request ran")
	}
	if _, err := e.svc.Approve(ctx, e.bea, r.ID, "", approval.Meta{}); stateOf(t, err) != approval.StateDenied {
		t.Errorf("approving a denied request: %v", err)
	}
	evs := e.events(t)
	if last := evs[len(evs)-1]; last.Kind != approval.EventDenied || last.Detail["comment"] != "rack 7 is still in use" || last.Actor.Name != "bob" {
		t.Errorf("last event = %s %v", last.Kind, last.Detail)
	}
}

// TestWithdraw: only the requester withdraws; a withdrawn request cannot
// be approved.
func TestWithdraw(t *testing.T) {
	e := newEnv(t)
	r := e.request(t, e.ann, modelarts.BatchDelete, nil)
	if _, err := e.svc.Withdraw(ctx, e.olga, r.ID, approval.Meta{}); !errors.Is(err, approval.ErrNotFound) {
		t.Errorf("other operator withdrawing: %v", err)
	}
	if _, err := e.svc.Withdraw(ctx, e.bob, r.ID, approval.Meta{}); !errors.Is(err, approval.ErrNotRequester) {
		t.Errorf("approver withdrawing: %v", err)
	}
	if _, err := e.svc.Withdraw(ctx, e.ann, r.ID, approval.Meta{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(ctx, e.bob, r.ID, "", approval.Meta{}); stateOf(t, err) != approval.StateWithdrawn {
		t.Errorf("approving a withdrawn request: %v", err)
	}
	if _, err := e.svc.Withdraw(ctx, e.ann, r.ID, approval.Meta{}); stateOf(t, err) != approval.StateWithdrawn {
		t.Errorf("withdrawing twice: %v", err)
	}
	if e.exec.n() != 0 {
		t.Error("a withdrawn request ran")
	}
}

// TestExpiry uses the fake clock: past its TTL a request reads as expired,
// cannot be approved (which records the expiry), and the sweep expires the
// others.
func TestExpiry(t *testing.T) {
	e := newEnv(t)
	r1 := e.request(t, e.ann, modelarts.BatchDelete, nil)
	r2 := e.request(t, e.ann, modelarts.BatchReinstallOS, &modelarts.ServerOSRequest{AdminPass: "Sup3r-Secret-Pass!"})
	e.clock.Advance(24*time.Hour - time.Millisecond)
	if r1.StateAt(e.clock.Now()) != approval.StatePending {
		t.Error("expired early")
	}
	e.clock.Advance(time.Millisecond)
	if r1.StateAt(e.clock.Now()) != approval.StateExpired {
		t.Error("not expired at its expiry")
	}
	if n, _ := e.svc.PendingCount(ctx, e.bob); n != 0 {
		t.Errorf("expired requests counted as pending: %d", n)
	}
	if _, err := e.svc.Approve(ctx, e.bob, r1.ID, "", approval.Meta{}); stateOf(t, err) != approval.StateExpired {
		t.Errorf("approving an expired request: %v", err)
	}
	if got, _ := e.svc.Get(ctx, e.bob, r1.ID); got.State != approval.StateExpired {
		t.Errorf("stored state = %s, want expired", got.State)
	}
	n, err := e.svc.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 (r2)", n, err)
	}
	if got, _ := e.svc.Get(ctx, e.bob, r2.ID); got.State != approval.StateExpired || got.SecretsHeld {
		t.Errorf("swept = %+v", got)
	}
	if b := e.storedSecrets(t, r2.ID); b != nil {
		t.Errorf("expired request still holds %d bytes of secrets", len(b))
	}
	if n, _ := e.svc.Sweep(ctx); n != 0 {
		t.Errorf("second sweep ended %d", n)
	}
	if e.exec.n() != 0 {
		t.Error("an expired request ran")
	}
	var expired int
	for _, ev := range e.events(t) {
		if ev.Kind == approval.EventExpired {
			expired++
			if ev.Actor.Name != "console" {
				t.Errorf("expiry actor = %q", ev.Actor.Name)
			}
		}
	}
	if expired != 2 {
		t.Errorf("approval.expired events = %d, want 2", expired)
	}
}

// TestBackgroundSweep: Start expires requests without anyone asking.
func TestBackgroundSweep(t *testing.T) {
	e := newEnv(t)
	svc, err := approval.NewService(approval.Config{DB: e.db, Policy: e.policy, Audit: e.audit, Now: e.clock.Now, SweepInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Create(ctx, approval.NewRequest{Requester: e.ann, Action: modelarts.BatchDelete, Servers: servers, Reason: "cleanup"})
	if err != nil {
		t.Fatal(err)
	}
	svc.Start(ctx)
	defer svc.Close()
	e.clock.Advance(25 * time.Hour)
	testutil.Eventually(t, 10*time.Second, "the background sweep expires the request", func() error {
		var state string
		if err := e.db.Read.GetContext(ctx, &state, `SELECT state FROM approval_requests WHERE id = ?`, r.ID); err != nil {
			return err
		}
		if state != "expired" {
			return fmt.Errorf("state = %s", state)
		}
		return nil
	})
}

// TestConcurrentDecisions: 20 simultaneous approvals and denials by
// different deciders yield exactly one decision and at most one batch.
func TestConcurrentDecisions(t *testing.T) {
	for round := 0; round < 3; round++ {
		e := newEnv(t)
		decideAtOnce(t, round, []*env{e})
	}
}

// TestConcurrentDecisionsAcrossReplicas is TestConcurrentDecisions with the
// 20 deciders spread over two replicas (two pools, two audit stores, two
// services, two executors) on one PostgreSQL database: still exactly one
// decision, at most one batch between them, and one audit chain that
// verifies.
func TestConcurrentDecisionsAcrossReplicas(t *testing.T) {
	for round := 0; round < 3; round++ {
		dsn := storetest.DSN(t, store.Postgres)
		a := newEnvOn(t, storetest.OpenDSN(t, dsn))
		dbB := storetest.OpenDSN(t, dsn)
		b := &env{db: dbB, audit: audit.New(dbB, nil), clock: a.clock, exec: &fakeExec{}, told: &told{}, policy: defaultPolicy}
		b.svc = b.service(t, b.exec, b.told)
		decideAtOnce(t, round, []*env{a, b})
		if res, err := a.audit.Verify(ctx); err != nil || !res.OK {
			t.Errorf("round %d: the audit chain written by both replicas: %+v, %v", round, res, err)
		}
	}
}

// decideAtOnce has 20 deciders (users of replicas[0]'s database) approve or
// deny one request at the same moment, each through replica i%len, and
// checks that exactly one decision was taken, recorded once, and ran at most
// one batch over all replicas.
func decideAtOnce(t *testing.T, round int, replicas []*env) {
	t.Helper()
	e := replicas[0]
	var deciders []*auth.User
	for i := 0; i < 20; i++ {
		role := auth.RoleApprover
		if i%3 == 0 {
			role = auth.RoleAdmin
		}
		deciders = append(deciders, e.user(t, "decider"+string(rune('a'+i)), role))
	}
	r := e.request(t, e.ann, modelarts.BatchReinstallOS, &modelarts.ServerOSRequest{AdminPass: "Sup3r-Secret-Pass!"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var wins []approval.State
	start := make(chan struct{})
	for i, d := range deciders {
		svc := replicas[i%len(replicas)].svc
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var got *approval.Request
			var err error
			if i/len(replicas)%2 == 0 {
				got, err = svc.Approve(ctx, d, r.ID, "", approval.Meta{})
			} else {
				got, err = svc.Deny(ctx, d, r.ID, "not now", approval.Meta{})
			}
			if err == nil {
				mu.Lock()
				wins = append(wins, got.State)
				mu.Unlock()
				return
			}
			if !errors.Is(err, approval.ErrNotPending) {
				t.Errorf("decider %s: %v", d.Name, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(wins) != 1 {
		t.Fatalf("round %d: %d decisions succeeded, want exactly 1: %v", round, len(wins), wins)
	}
	wantRuns := 0
	if wins[0] == approval.StateApproved {
		wantRuns = 1
	}
	runs := 0
	for _, rep := range replicas {
		runs += rep.exec.n()
	}
	if runs != wantRuns {
		t.Errorf("round %d: decision %s ran %d batches, want %d", round, wins[0], runs, wantRuns)
	}
	var decisions int
	for _, ev := range e.events(t) {
		if ev.Kind == approval.EventApproved || ev.Kind == approval.EventDenied || ev.Kind == approval.EventExpired {
			decisions++
		}
	}
	if decisions != 1 {
		t.Errorf("round %d: %d decisions (approved, denied or expired) in the audit log, want 1", round, decisions)
	}
	var state string
	if err := e.db.Read.GetContext(ctx, &state, `SELECT state FROM approval_requests WHERE id = ?`, r.ID); err != nil || approval.State(state) != wins[0] {
		t.Errorf("round %d: stored state %q (%v), want %s", round, state, err, wins[0])
	}
}

// TestDisabledRequester: disabling withdraws pending requests (the hook);
// a request whose requester was disabled behind the hook's back cannot be
// approved either, and the sweep withdraws it.
func TestDisabledRequester(t *testing.T) {
	e := newEnv(t)
	r1 := e.request(t, e.ann, modelarts.BatchDelete, nil)
	r2 := e.request(t, e.ann, modelarts.BatchReinstallOS, &modelarts.ServerOSRequest{AdminPass: "Sup3r-Secret-Pass!"})
	other := e.request(t, e.olga, modelarts.BatchDelete, nil)
	actx := auth.WithActor(ctx, auth.Actor{UserID: e.ada.ID, Name: "ada", Role: auth.RoleAdmin})
	n, err := e.svc.WithdrawUser(actx, e.ann.ID)
	if err != nil || n != 2 {
		t.Fatalf("WithdrawUser = %d, %v; want 2", n, err)
	}
	for _, id := range []string{r1.ID, r2.ID} {
		got, _ := e.svc.Get(ctx, e.bob, id)
		if got.State != approval.StateWithdrawn || got.DeciderName != "ada" || got.SecretsHeld {
			t.Errorf("after disabling: %+v", got)
		}
		if _, err := e.svc.Approve(ctx, e.bob, id, "", approval.Meta{}); stateOf(t, err) != approval.StateWithdrawn {
			t.Errorf("approving: %v", err)
		}
	}
	if got, _ := e.svc.Get(ctx, e.bob, other.ID); got.State != approval.StatePending {
		t.Errorf("another user's request was withdrawn: %s", got.State)
	}

	// Disabled without the hook: approval is still refused.
	if _, err := e.db.Write.ExecContext(ctx, `UPDATE users SET disabled = 1 WHERE id = ?`, e.olga.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Approve(ctx, e.bob, other.ID, "", approval.Meta{}); stateOf(t, err) != approval.StateWithdrawn {
		t.Errorf("approving a disabled user's request: %v", err)
	}
	if e.exec.n() != 0 {
		t.Error("a disabled user's request ran")
	}
	third := e.request(t, e.ann, modelarts.BatchDelete, nil) // ann is not disabled in the users table
	if _, err := e.db.Write.ExecContext(ctx, `UPDATE users SET disabled = 1 WHERE id = ?`, e.ann.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.Sweep(ctx); err != nil || n != 1 {
		t.Errorf("Sweep = %d, %v; want it to withdraw the disabled user's request", n, err)
	}
	if got, _ := e.svc.Get(ctx, e.bob, third.ID); got.State != approval.StateWithdrawn {
		t.Errorf("swept: %s", got.State)
	}
}

// TestExecutorFailureKeepsDecision: an approval whose batch cannot start
// stays approved (decided once) and says why nothing was sent.
func TestExecutorFailureKeepsDecision(t *testing.T) {
	e := newEnv(t)
	e.exec.err = errors.New("every server changed state since the request")
	r := e.request(t, e.ann, modelarts.BatchDelete, nil)
	got, err := e.svc.Approve(ctx, e.bob, r.ID, "", approval.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if got.State != approval.StateApproved || got.BatchID != "" || !strings.Contains(got.ExecError, "every server changed") {
		t.Errorf("approved = %+v", got)
	}
	stored, _ := e.svc.Get(ctx, e.ann, r.ID)
	if stored.ExecError != got.ExecError || stored.ExecCode != approval.ExecOther || got.ExecCode != approval.ExecOther {
		t.Errorf("stored exec error = %q (code %q), returned code %q; want code %q", stored.ExecError, stored.ExecCode, got.ExecCode, approval.ExecOther)
	}
	// A known reason is kept as its code, for pages in any language.
	e.exec.err = fmt.Errorf("prepare: %w", batch.ErrNothingToSend)
	r = e.request(t, e.ann, modelarts.BatchDelete, nil)
	if _, err = e.svc.Approve(ctx, e.bob, r.ID, "", approval.Meta{}); err != nil {
		t.Fatal(err)
	}
	if stored, _ := e.svc.Get(ctx, e.ann, r.ID); stored.ExecCode != approval.ExecNothingToSend {
		t.Errorf("nothing to send: stored code %q, want %q", stored.ExecCode, approval.ExecNothingToSend)
	}
}

// TestList: pending first, then decided newest first; operators see their
// own only.
func TestList(t *testing.T) {
	e := newEnv(t)
	a := e.request(t, e.ann, modelarts.BatchDelete, nil)
	e.clock.Advance(time.Minute)
	b := e.request(t, e.olga, modelarts.BatchDelete, nil)
	e.clock.Advance(time.Minute)
	c := e.request(t, e.ann, modelarts.BatchDelete, nil)
	if _, err := e.svc.Deny(ctx, e.bob, c.ID, "no", approval.Meta{}); err != nil {
		t.Fatal(err)
	}
	ids := func(rs []*approval.Request) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.ID)
		}
		return strings.Join(s, ",")
	}
	all, err := e.svc.List(ctx, e.bob, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(all), a.ID+","+b.ID+","+c.ID; got != want {
		t.Errorf("approver's list = %s, want %s (pending by expiry, then decided)", got, want)
	}
	own, _ := e.svc.List(ctx, e.ann, 0)
	if got, want := ids(own), a.ID+","+c.ID; got != want {
		t.Errorf("operator's list = %s, want %s", got, want)
	}
	if none, _ := e.svc.List(ctx, e.vic, 0); len(none) != 0 {
		t.Errorf("viewer sees %d requests", len(none))
	}
}

// TestCheckNow: each server's state then and now, and whether the action
// would still be sent to it.
func TestCheckNow(t *testing.T) {
	r := &approval.Request{Action: modelarts.BatchStop, Servers: []approval.Server{
		{ID: "a", Name: "gpu-a", Status: modelarts.StatusRunning},
		{ID: "b", Name: "gpu-b", Status: modelarts.StatusRunning},
		{ID: "c", Name: "gpu-c", Status: modelarts.StatusRunning},
	}}
	fleet := map[string]*modelarts.ServerResponse{
		"a": {ID: "a", Name: "gpu-a", Status: modelarts.StatusRunning},
		"b": {ID: "b", Name: "gpu-b", Status: modelarts.StatusStopped},
	}
	got := r.CheckNow(func(id string) (*modelarts.ServerResponse, bool) { s, ok := fleet[id]; return s, ok })
	if !got[0].Known || !got[0].Eligible || got[0].Now != modelarts.StatusRunning {
		t.Errorf("unchanged server = %+v", got[0])
	}
	if got[1].Eligible || got[1].Now != modelarts.StatusStopped || got[1].Reason == "" {
		t.Errorf("stopped meanwhile = %+v", got[1])
	}
	if got[2].Eligible || got[2].Reason != approval.ReasonVanished {
		t.Errorf("vanished = %+v", got[2])
	}
	for _, s := range r.CheckNow(nil) {
		if s.Known || s.Eligible {
			t.Errorf("without a fleet: %+v", s)
		}
	}
}

// TestNoExecutorDecidesNothing: without an executor an approval is refused
// before anything is decided, and the request stays pending.
func TestNoExecutorDecidesNothing(t *testing.T) {
	e := newEnv(t)
	svc, err := approval.NewService(approval.Config{DB: e.db, Policy: e.policy, Audit: e.audit, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := e.request(t, e.ann, modelarts.BatchDelete, nil)
	if _, err := svc.Approve(ctx, e.bob, r.ID, "", approval.Meta{}); !errors.Is(err, approval.ErrNoExecutor) {
		t.Errorf("err = %v, want ErrNoExecutor", err)
	}
	if got, _ := svc.Get(ctx, e.bob, r.ID); got.State != approval.StatePending {
		t.Errorf("state = %s, want pending", got.State)
	}
}
