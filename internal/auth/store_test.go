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

func TestLockoutPerUserName(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newTestStore(t, newTestDB(t), clk, nil)
	mustCreate(t, s, "alice", auth.RoleOperator, goodPW)

	// Four failures from different addresses: still just "incorrect".
	for i := range 4 {
		_, err := s.Authenticate(ctx, "alice", "guess", "192.0.2."+string(rune('1'+i)))
		if !errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrLocked) {
			t.Fatalf("failure %d: error = %v, want ErrInvalidCredentials only", i+1, err)
		}
		clk.Advance(time.Minute)
	}
	// The fifth fails and starts the lock-out.
	_, err := s.Authenticate(ctx, "ALICE", "guess", "192.0.2.9")
	var le *auth.LockedError
	if !errors.Is(err, auth.ErrInvalidCredentials) || !errors.As(err, &le) || !le.Triggered || le.Kind != "user" {
		t.Fatalf("fifth failure: error = %v (%+v), want invalid credentials and a triggered user lock-out", err, le)
	}
	if want := clk.Now().Add(15 * time.Minute); !le.Until.Equal(want) {
		t.Fatalf("locked until %v, want %v", le.Until, want)
	}
	// Now even the right password is refused, from anywhere.
	clk.Advance(14 * time.Minute)
	if _, err := s.Authenticate(ctx, "alice", goodPW, "198.51.100.1"); !errors.Is(err, auth.ErrLocked) || errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("right password while locked: error = %v, want ErrLocked", err)
	}
	// Attempts while locked do not extend the lock.
	clk.Advance(time.Minute + time.Second)
	if _, err := s.Authenticate(ctx, "alice", goodPW, "198.51.100.1"); err != nil {
		t.Fatalf("right password after the lock-out: %v", err)
	}
}

func TestLockoutPerAddress(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s := newTestStore(t, newTestDB(t), clk, nil)
	mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	const attacker = "203.0.113.7"
	// Twenty failures spread over many names (none reaches 5 per name).
	for i := range 20 {
		name := "user" + string(rune('a'+i%10))
		_, err := s.Authenticate(ctx, name, "guess", attacker)
		locked := errors.Is(err, auth.ErrLocked)
		if wantLocked := i == 19; locked != wantLocked {
			t.Fatalf("failure %d: locked = %v (%v), want %v", i+1, locked, err, wantLocked)
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
			var le *auth.LockedError
			if tt.wantLocked && (!errors.As(err, &le) || le.Kind != "addr") {
				t.Fatalf("lock-out = %+v, want kind addr", le)
			}
		})
	}
}

func TestLockoutWindow(t *testing.T) {
	tests := []struct {
		name       string
		between    func(t *testing.T, s *auth.Store, clk *testutil.Clock)
		wantLocked bool
	}{
		{
			name:       "eight failures inside the window lock",
			between:    func(t *testing.T, s *auth.Store, clk *testutil.Clock) { clk.Advance(time.Minute) },
			wantLocked: true,
		},
		{
			name:       "failures older than the window are forgotten",
			between:    func(t *testing.T, s *auth.Store, clk *testutil.Clock) { clk.Advance(15*time.Minute + time.Second) },
			wantLocked: false,
		},
		{
			name: "a successful sign-in resets the count",
			between: func(t *testing.T, s *auth.Store, clk *testutil.Clock) {
				if _, err := s.Authenticate(context.Background(), "alice", goodPW, "192.0.2.1"); err != nil {
					t.Fatal(err)
				}
			},
			wantLocked: false,
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
			for range 4 {
				fail()
			}
			tt.between(t, s, clk)
			locked := false
			for range 4 {
				if errors.Is(fail(), auth.ErrLocked) {
					locked = true
				}
			}
			if locked != tt.wantLocked {
				t.Fatalf("locked = %v, want %v", locked, tt.wantLocked)
			}
		})
	}
}

func TestLockoutPolicyIsConfigurable(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s, err := auth.NewStore(newTestDB(t), auth.StoreConfig{
		Now: clk.Now, HashParams: cheapParams,
		Lockout: auth.LockoutPolicy{MaxUserFailures: 2, Duration: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	s.Authenticate(ctx, "alice", "x", "")
	if _, err := s.Authenticate(ctx, "alice", "x", ""); !errors.Is(err, auth.ErrLocked) {
		t.Fatalf("second failure with MaxUserFailures 2: %v, want locked", err)
	}
	clk.Advance(time.Minute)
	if _, err := s.Authenticate(ctx, "alice", goodPW, ""); err != nil {
		t.Fatalf("after a one-minute lock-out: %v", err)
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
	if _, err := s.Authenticate(ctx, "alice", newPW, "192.0.2.2"); err != nil {
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
// get only MaxUserFailures passwords judged; the rest are refused as
// locked without being checked. (With one hashing slot, exactly so.)
func TestLockoutHoldsAgainstConcurrentGuesses(t *testing.T) {
	tests := []struct {
		name   string
		policy auth.LockoutPolicy
		user   func(i int) string
		addr   func(i int) string
		max    int
	}{
		{"one user name from many addresses", auth.LockoutPolicy{MaxUserFailures: 5},
			func(int) string { return "alice" },
			func(i int) string { return "192.0.2." + strconv.Itoa(i+1) }, 5},
		{"one address guessing many names", auth.LockoutPolicy{MaxAddrFailures: 5},
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
