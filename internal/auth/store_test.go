package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/testutil"
)

const goodPW = "a long enough password"

func TestCreateUser(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newTestStore(t, newTestDB(t), clk, nil)
	mustCreate(t, s, "Alice", auth.RoleOperator, goodPW)

	tests := []struct {
		name     string
		user     string
		role     auth.Role
		password string
		wantErr  error
	}{
		{"new user", "bob", auth.RoleViewer, goodPW, nil},
		{"same name, other case", "ALICE", auth.RoleViewer, goodPW, auth.ErrNameTaken},
		{"bad name", "bob smith", auth.RoleViewer, goodPW, auth.ErrInvalidName},
		{"bad role", "carol", auth.Role("root"), goodPW, auth.ErrInvalidRole},
		{"short password", "dave", auth.RoleViewer, "short", auth.ErrWeakPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.CreateUser(ctx, tt.user, tt.role, tt.password)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("CreateUser error = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				return
			}
			got, err := s.GetByName(ctx, strings.ToUpper(tt.user))
			if err != nil {
				t.Fatalf("GetByName: %v", err)
			}
			want := &auth.User{ID: u.ID, Name: tt.user, Role: tt.role, CreatedAt: clk.Now(), UpdatedAt: clk.Now(), PasswordChangedAt: clk.Now()}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stored user mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStoredPasswordIsAnArgon2idHash(t *testing.T) {
	db := newTestDB(t)
	s := newTestStore(t, db, newClock(), nil)
	mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	var hash string
	if err := db.Read.Get(&hash, `SELECT password_hash FROM users WHERE name = 'alice'`); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, goodPW) {
		t.Fatalf("stored password_hash = %q, want an argon2id hash without the password", hash)
	}
}

func TestAuthenticate(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, newTestDB(t), newClock(), nil)
	alice := mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	bob := mustCreate(t, s, "bob", auth.RoleViewer, goodPW)
	if err := s.Disable(ctx, bob.ID); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		user       string
		password   string
		wantUser   *auth.User
		wantReason string
	}{
		{"right password", "alice", goodPW, &auth.User{ID: alice.ID, Name: "alice", Role: auth.RoleOperator}, ""},
		{"name in other case", "ALICE", goodPW, &auth.User{ID: alice.ID, Name: "alice", Role: auth.RoleOperator}, ""},
		{"wrong password", "alice", goodPW + "x", nil, auth.ReasonWrongPassword},
		{"empty password", "alice", "", nil, auth.ReasonWrongPassword},
		{"unknown user", "mallory", goodPW, nil, auth.ReasonUnknownUser},
		{"invalid name", "<script>", goodPW, nil, auth.ReasonUnknownUser},
		{"disabled user, right password", "bob", goodPW, nil, auth.ReasonDisabled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tt.user, tt.password, "192.0.2.1")
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if diff := cmp.Diff(tt.wantUser, u, cmp.FilterPath(func(p cmp.Path) bool {
					return strings.HasSuffix(p.String(), "At")
				}, cmp.Ignore())); diff != "" {
					t.Fatalf("user mismatch (-want +got):\n%s", diff)
				}
				return
			}
			if u != nil {
				t.Fatalf("Authenticate returned user %v on failure", u)
			}
			if !errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrLocked) {
				t.Fatalf("error = %v, want ErrInvalidCredentials only", err)
			}
			// One message for every failure: the user cannot tell which.
			if got, want := err.Error(), "incorrect username or password"; got != want {
				t.Fatalf("error text = %q, want %q", got, want)
			}
			var ce *auth.CredentialsError
			if !errors.As(err, &ce) || ce.Reason != tt.wantReason {
				t.Fatalf("reason = %+v, want %q", ce, tt.wantReason)
			}
		})
	}
}

// TestDelaysPerNameAndAddress: failures of one name from one address
// slow that pair down with growing delays; the same name from another
// address is not slowed at all (no denial of service by guessing).
func TestDelaysPerNameAndAddress(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newTestStore(t, newTestDB(t), clk, nil)
	mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	const attacker, owner = "203.0.113.7", "192.0.2.1"

	// Three free failures: just "incorrect".
	for i := range 3 {
		_, err := s.Authenticate(ctx, "alice", "guess", attacker)
		if !errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrLocked) {
			t.Fatalf("failure %d: error = %v, want ErrInvalidCredentials only", i+1, err)
		}
	}
	// Then each failure makes the pair wait twice as long as the last.
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second} {
		_, err := s.Authenticate(ctx, "ALICE", "guess", attacker)
		var le *auth.LockedError
		if !errors.Is(err, auth.ErrInvalidCredentials) || !errors.As(err, &le) || !le.Triggered || le.Kind != "pair" {
			t.Fatalf("failure %d: error = %v (%+v), want invalid credentials and a delay", i+4, err, le)
		}
		if got := le.Until.Sub(clk.Now()); got != want {
			t.Fatalf("failure %d: delay %v, want %v", i+4, got, want)
		}
		// While waiting, even the right password is not judged.
		if _, err := s.Authenticate(ctx, "alice", goodPW, attacker); !errors.Is(err, auth.ErrLocked) || errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("right password during the delay: error = %v, want ErrLocked only", err)
		}
		clk.Advance(want)
	}
	// The owner, from their own address, signs in at once.
	if _, err := s.Authenticate(ctx, "alice", goodPW, owner); err != nil {
		t.Fatalf("owner from another address: %v", err)
	}
	// The attacker's pair is still counted: the next failure waits 16 s.
	_, err := s.Authenticate(ctx, "alice", "guess", attacker)
	var le *auth.LockedError
	if !errors.As(err, &le) || le.Until.Sub(clk.Now()) != 16*time.Second {
		t.Fatalf("next failure from the attacker: %v (%+v), want a 16 s delay", err, le)
	}
}

func TestDelayIsCapped(t *testing.T) {
	p := auth.DefaultLockoutPolicy
	ctx := context.Background()
	clk := newClock()
	s := newTestStore(t, newTestDB(t), clk, nil)
	var last time.Duration
	for range 40 {
		_, err := s.Authenticate(ctx, "alice", "guess", "203.0.113.7")
		var le *auth.LockedError
		if errors.As(err, &le) {
			last = le.Until.Sub(clk.Now())
			clk.Advance(last)
		}
	}
	if last != p.MaxDelay {
		t.Fatalf("delay after 40 failures = %v, want the cap %v", last, p.MaxDelay)
	}
}

func TestDelaysPerAddress(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newTestStore(t, newTestDB(t), clk, nil)
	mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	const attacker = "203.0.113.7"
	// Twenty-one failures spread over many names (none past 3 per name):
	// the twenty-first delays the address.
	for i := range 21 {
		name := "user" + string(rune('a'+i%10))
		_, err := s.Authenticate(ctx, name, "guess", attacker)
		var le *auth.LockedError
		delayed := errors.As(err, &le)
		if wantDelayed := i == 20; delayed != wantDelayed || (delayed && le.Kind != "addr") {
			t.Fatalf("failure %d: delayed = %v (%v), want %v of the address", i+1, delayed, err, wantDelayed)
		}
	}
	tests := []struct {
		name       string
		addr       string
		wantLocked bool
	}{
		{"same address, real user", attacker, true},
		{"other address", "192.0.2.10", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Authenticate(ctx, "alice", goodPW, tt.addr)
			if got := errors.Is(err, auth.ErrLocked); got != tt.wantLocked {
				t.Fatalf("locked = %v (%v), want %v", got, err, tt.wantLocked)
			}
		})
	}
}

func TestFailuresAreForgotten(t *testing.T) {
	tests := []struct {
		name        string
		between     func(t *testing.T, s *auth.Store, clk *testutil.Clock)
		wantDelayed bool
	}{
		{
			name:        "failures a minute apart add up",
			between:     func(t *testing.T, s *auth.Store, clk *testutil.Clock) { clk.Advance(time.Minute) },
			wantDelayed: true,
		},
		{
			name:        "failures an hour old are forgotten",
			between:     func(t *testing.T, s *auth.Store, clk *testutil.Clock) { clk.Advance(time.Hour) },
			wantDelayed: false,
		},
		{
			name: "a successful sign-in from the address resets the count",
			between: func(t *testing.T, s *auth.Store, clk *testutil.Clock) {
				if _, err := s.Authenticate(context.Background(), "alice", goodPW, "192.0.2.1"); err != nil {
					t.Fatal(err)
				}
			},
			wantDelayed: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			clk := newClock()
			s := newTestStore(t, newTestDB(t), clk, nil)
			mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
			fail := func() error {
				_, err := s.Authenticate(ctx, "alice", "guess", "192.0.2.1")
				return err
			}
			for range 2 {
				fail()
			}
			tt.between(t, s, clk)
			delayed := false
			for range 2 {
				if errors.Is(fail(), auth.ErrLocked) {
					delayed = true
				}
			}
			if delayed != tt.wantDelayed {
				t.Fatalf("delayed = %v, want %v", delayed, tt.wantDelayed)
			}
		})
	}
}

func TestLockoutPolicyIsConfigurable(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s, err := auth.NewStore(newTestDB(t), auth.StoreConfig{
		Now: clk.Now, HashParams: cheapParams,
		Lockout: auth.LockoutPolicy{FreeFailures: 1, BaseDelay: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	s.Authenticate(ctx, "alice", "x", "")
	if _, err := s.Authenticate(ctx, "alice", "x", ""); !errors.Is(err, auth.ErrLocked) {
		t.Fatalf("second failure with FreeFailures 1: %v, want delayed", err)
	}
	clk.Advance(time.Minute)
	if _, err := s.Authenticate(ctx, "alice", goodPW, ""); err != nil {
		t.Fatalf("after a one-minute delay: %v", err)
	}
}

func TestSetPasswordLiftsLockout(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, newTestDB(t), newClock(), nil)
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	for range 5 {
		s.Authenticate(ctx, "alice", "guess", "192.0.2.1")
	}
	const newPW = "another long password"
	if err := s.SetPassword(ctx, u.ID, newPW); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "alice", newPW, "192.0.2.1"); err != nil {
		t.Fatalf("new password after reset: %v", err)
	}
	if _, err := s.Authenticate(ctx, "alice", goodPW, "192.0.2.2"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("old password after reset: %v, want invalid", err)
	}
}

func TestLastAdminIsKept(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, newTestDB(t), newClock(), nil)
	root := mustCreate(t, s, "root", auth.RoleAdmin, goodPW)

	if err := s.Disable(ctx, root.ID); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disable the only admin: %v, want ErrLastAdmin", err)
	}
	if err := s.SetRole(ctx, root.ID, auth.RoleViewer); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("demote the only admin: %v, want ErrLastAdmin", err)
	}
	other := mustCreate(t, s, "other", auth.RoleAdmin, goodPW)
	if err := s.SetRole(ctx, root.ID, auth.RoleViewer); err != nil {
		t.Fatalf("demote with another admin: %v", err)
	}
	if err := s.Disable(ctx, other.ID); !errors.Is(err, auth.ErrLastAdmin) {
		t.Fatalf("disable the last remaining admin: %v, want ErrLastAdmin", err)
	}
	got, _ := s.Get(ctx, root.ID)
	if got.Role != auth.RoleViewer {
		t.Fatalf("root role = %s, want viewer", got.Role)
	}
}

func TestUserNotFound(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, newTestDB(t), newClock(), nil)
	tests := []struct {
		name string
		op   func() error
	}{
		{"Get", func() error { _, err := s.Get(ctx, 42); return err }},
		{"GetByName", func() error { _, err := s.GetByName(ctx, "nobody"); return err }},
		{"SetPassword", func() error { return s.SetPassword(ctx, 42, goodPW) }},
		{"SetRole", func() error { return s.SetRole(ctx, 42, auth.RoleViewer) }},
		{"Disable", func() error { return s.Disable(ctx, 42) }},
		{"Enable", func() error { return s.Enable(ctx, 42) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.op(); !errors.Is(err, auth.ErrUserNotFound) {
				t.Fatalf("error = %v, want ErrUserNotFound", err)
			}
		})
	}
}

func TestEnsureAdmin(t *testing.T) {
	tests := []struct {
		name          string
		password      string
		wantGenerated bool
		wantErr       bool
	}{
		{"configured password", "configured-admin-pw", false, false},
		{"no password: one is generated", "", true, false},
		{"configured password too short", "short", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			rec := &recorded{}
			s := newTestStore(t, newTestDB(t), newClock(), rec)
			created, generated, err := s.EnsureAdmin(ctx, tt.password)
			if tt.wantErr {
				if err == nil || created {
					t.Fatalf("EnsureAdmin = %v, %v; want an error", created, err)
				}
				if strings.Contains(err.Error(), tt.password) {
					t.Fatalf("error %q repeats the password", err)
				}
				return
			}
			if err != nil || !created {
				t.Fatalf("EnsureAdmin = %v, %v; want created", created, err)
			}
			if got := generated != ""; got != tt.wantGenerated {
				t.Fatalf("generated = %q, want one: %v", generated, tt.wantGenerated)
			}
			pw := tt.password
			if generated != "" {
				pw = generated
			}
			u, err := s.Authenticate(ctx, "admin", pw, "127.0.0.1")
			if err != nil || u.Role != auth.RoleAdmin {
				t.Fatalf("sign in as admin: %v, %v", u, err)
			}
			// Second start: nothing happens.
			created, generated, err = s.EnsureAdmin(ctx, "")
			if err != nil || created || generated != "" {
				t.Fatalf("second EnsureAdmin = %v, %q, %v; want nothing", created, generated, err)
			}
			evs := rec.all()
			if len(evs) != 1 || evs[0].Kind != auth.EventUserCreated || evs[0].Detail["bootstrap"] != "true" || evs[0].Actor.Name != "console (first start)" {
				t.Fatalf("events = %+v, want one bootstrap user.created", evs)
			}
			for _, v := range evs[0].Detail {
				if v == pw {
					t.Fatal("the event holds the password")
				}
			}
		})
	}
}

func TestEnsureAdminSkipsWhenUsersExist(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t, newTestDB(t), newClock(), nil)
	mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	created, _, err := s.EnsureAdmin(ctx, "")
	if err != nil || created {
		t.Fatalf("EnsureAdmin with a user present = %v, %v; want nothing", created, err)
	}
	if _, err := s.GetByName(ctx, "admin"); !errors.Is(err, auth.ErrUserNotFound) {
		t.Fatalf("admin exists: %v", err)
	}
}

func TestUserEventsAreRecorded(t *testing.T) {
	ctx := auth.WithActor(context.Background(), auth.Actor{UserID: 1, Name: "root", Role: auth.RoleAdmin, ClientIP: "192.0.2.1"})
	rec := &recorded{}
	s := newTestStore(t, newTestDB(t), newClock(), rec)
	mustCreate(t, s, "root", auth.RoleAdmin, goodPW)
	u, err := s.CreateUser(ctx, "alice", auth.RoleViewer, goodPW)
	if err != nil {
		t.Fatal(err)
	}
	const newPW = "a brand new password"
	steps := []error{
		s.SetRole(ctx, u.ID, auth.RoleOperator),
		s.SetRole(ctx, u.ID, auth.RoleOperator), // no change, no event
		s.SetPassword(ctx, u.ID, newPW),
		s.Disable(ctx, u.ID),
		s.Disable(ctx, u.ID), // already disabled, no event
		s.Enable(ctx, u.ID),
	}
	for i, err := range steps {
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	actor := auth.Actor{UserID: 1, Name: "root", Role: auth.RoleAdmin, ClientIP: "192.0.2.1"}
	id := "2"
	want := []recordedEvent{
		{auth.EventUserCreated, auth.Actor{}, map[string]string{"user": "root", "user_id": "1", "role": "admin"}},
		{auth.EventUserCreated, actor, map[string]string{"user": "alice", "user_id": id, "role": "viewer"}},
		{auth.EventUserRoleChanged, actor, map[string]string{"user": "alice", "user_id": id, "from": "viewer", "to": "operator"}},
		{auth.EventUserPassword, actor, map[string]string{"user": "alice", "user_id": id, "ended_logins": "0"}},
		{auth.EventUserDisabled, actor, map[string]string{"user": "alice", "user_id": id, "ended_logins": "0"}},
		{auth.EventUserEnabled, actor, map[string]string{"user": "alice", "user_id": id}},
	}
	if diff := cmp.Diff(want, rec.all()); diff != "" {
		t.Fatalf("events mismatch (-want +got):\n%s", diff)
	}
}

func TestRecorderFailureIsReported(t *testing.T) {
	ctx := context.Background()
	rec := &recorded{fail: errors.New("audit log unavailable")}
	s := newTestStore(t, newTestDB(t), newClock(), rec)
	u, err := s.CreateUser(ctx, "alice", auth.RoleViewer, goodPW)
	if err == nil || !strings.Contains(err.Error(), "not recorded") {
		t.Fatalf("CreateUser with a failing recorder: %v, want a 'not recorded' error", err)
	}
	if u == nil {
		t.Fatal("CreateUser returned no user although the user was stored")
	}
	if _, err := s.GetByName(ctx, "alice"); err != nil {
		t.Fatalf("the user is not stored: %v", err)
	}
}

func TestList(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newTestStore(t, newTestDB(t), clk, nil)
	mustCreate(t, s, "carol", auth.RoleApprover, goodPW)
	clk.Advance(time.Hour)
	b := mustCreate(t, s, "bob", auth.RoleViewer, goodPW)
	if err := s.Disable(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	users, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		Name     string
		Role     auth.Role
		Disabled bool
	}
	var got []row
	for _, u := range users {
		got = append(got, row{u.Name, u.Role, u.Disabled})
	}
	want := []row{{"bob", auth.RoleViewer, true}, {"carol", auth.RoleApprover, false}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("List mismatch (-want +got):\n%s", diff)
	}
}

// TestLockoutHoldsAgainstConcurrentGuesses: guesses sent all at once, so
// that every one passes the lock-out check before any has failed, still
// get only the free failures and the one that starts the delay judged;
// the rest are refused as delayed without being checked. (With one
// hashing slot, exactly so.)
func TestLockoutHoldsAgainstConcurrentGuesses(t *testing.T) {
	tests := []struct {
		name   string
		policy auth.LockoutPolicy
		user   func(i int) string
		addr   func(i int) string
		max    int
	}{
		{"one user name from one address", auth.LockoutPolicy{FreeFailures: 4},
			func(int) string { return "alice" },
			func(i int) string { return "192.0.2.1" }, 5},
		{"one address guessing many names", auth.LockoutPolicy{AddrFreeFailures: 4},
			func(i int) string { return []string{"alice", "bob", "carol", "dave"}[i%4] },
			func(int) string { return "203.0.113.7" }, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			// Production hash parameters: each guess takes long enough
			// for all of them to pass the first check together.
			s, err := auth.NewStore(newTestDB(t), auth.StoreConfig{
				Now: newClock().Now, Lockout: tt.policy, HashConcurrency: 1,
				Log: slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
			const n = 24
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[i] = s.Authenticate(ctx, tt.user(i), "guess number "+strconv.Itoa(i), tt.addr(i))
				}()
			}
			close(start)
			wg.Wait()
			judged, locked := 0, 0
			for i, err := range errs {
				switch {
				case errors.Is(err, auth.ErrInvalidCredentials):
					judged++
				case errors.Is(err, auth.ErrLocked):
					locked++
				default:
					t.Errorf("guess %d: error = %v, want refused", i, err)
				}
			}
			if judged != tt.max || locked != n-tt.max {
				t.Errorf("%d guesses judged and %d refused as locked, want %d and %d", judged, locked, tt.max, n-tt.max)
			}
			if _, err := s.Authenticate(ctx, "alice", goodPW, tt.addr(0)); !errors.Is(err, auth.ErrLocked) {
				t.Errorf("right password after the burst: error = %v, want ErrLocked", err)
			}
		})
	}
}

// TestDisableCallsOnDisable checks the hook app uses to withdraw a disabled
// user's pending approval requests: called with the user's id after the
// change, again for an already disabled user, and its error reported.
func TestDisableCallsOnDisable(t *testing.T) {
	db, clk := newTestDB(t), newClock()
	var calls []int64
	var fail error
	s, err := auth.NewStore(db, auth.StoreConfig{Now: clk.Now, HashParams: cheapParams, Log: slog.New(slog.DiscardHandler),
		OnDisable: func(ctx context.Context, id int64) error {
			u, err := auth.NewStore(db, auth.StoreConfig{HashParams: cheapParams})
			if err != nil {
				return err
			}
			got, err := u.Get(ctx, id)
			if err != nil || !got.Disabled {
				t.Errorf("OnDisable ran before the user was disabled: %+v, %v", got, err)
			}
			calls = append(calls, id)
			return fail
		}})
	if err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, s, "olga", auth.RoleOperator, "correct horse battery")
	ctx := context.Background()
	if err := s.Disable(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	fail = errors.New("withdrawal failed")
	if err := s.Disable(ctx, u.ID); err == nil || !strings.Contains(err.Error(), "withdrawal failed") {
		t.Errorf("hook error not reported: %v", err)
	}
	if len(calls) != 2 || calls[0] != u.ID || calls[1] != u.ID {
		t.Errorf("OnDisable calls = %v, want [%d %d]", calls, u.ID, u.ID)
	}
}
