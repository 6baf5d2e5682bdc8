package auth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/testutil"
)

// codeAt is what an authenticator app shows at t.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolled returns a store with alice, who has a confirmed factor, her
// secret and recovery codes.
func enrolled(t *testing.T, clk *testutil.Clock, rec *recorded) (*auth.Store, *auth.User, string, []string) {
	t.Helper()
	s := newTestStore(t, newTestDB(t), clk, rec)
	u := mustCreate(t, s, "alice", auth.RoleOperator, goodPW)
	e, err := s.StartEnrolment(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.ConfirmEnrolment(context.Background(), u.ID, codeAt(t, e.Secret, clk.Now()), "192.0.2.1")
	if err != nil {
		t.Fatalf("ConfirmEnrolment: %v", err)
	}
	clk.Advance(30 * time.Second) // the confirming code is used up
	return s, u, e.Secret, codes
}

func TestEnrolment(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rec := &recorded{}
	s := newTestStore(t, newTestDB(t), clk, rec)
	u := mustCreate(t, s, "alice", auth.RoleOperator, goodPW)

	e, err := s.StartEnrolment(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Secret) < 32 || !strings.HasPrefix(e.URL, "otpauth://totp/") || !strings.Contains(e.URL, "secret="+e.Secret) {
		t.Fatalf("enrolment = secret %q, URL %q", e.Secret, e.URL)
	}
	if len(e.QRPNG) < 8 || string(e.QRPNG[1:4]) != "PNG" {
		t.Fatalf("QR code is not a PNG")
	}
	// The page can be shown again with the same secret until confirmed.
	if p, err := s.PendingEnrolment(ctx, u.ID); err != nil || p == nil || p.Secret != e.Secret {
		t.Fatalf("PendingEnrolment = %+v, %v", p, err)
	}
	if got, _ := s.Get(ctx, u.ID); got.HasFactor {
		t.Fatal("HasFactor before confirmation")
	}
	// A wrong code does not confirm, and is audited.
	if _, err := s.ConfirmEnrolment(ctx, u.ID, "000000", "192.0.2.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("wrong code: %v, want ErrInvalidCredentials", err)
	}
	codes, err := s.ConfirmEnrolment(ctx, u.ID, codeAt(t, e.Secret, clk.Now()), "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != auth.RecoveryCodeCount {
		t.Fatalf("%d recovery codes, want %d", len(codes), auth.RecoveryCodeCount)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || seen[c] {
			t.Fatalf("recovery codes %q: want distinct xxxxx-xxxxx", codes)
		}
		seen[c] = true
	}
	if got, _ := s.Get(ctx, u.ID); !got.HasFactor {
		t.Fatal("HasFactor false after confirmation")
	}
	if _, err := s.StartEnrolment(ctx, u.ID); !errors.Is(err, auth.ErrFactorEnrolled) {
		t.Fatalf("second enrolment: %v, want ErrFactorEnrolled", err)
	}
	var kinds []string
	for _, ev := range rec.all() {
		kinds = append(kinds, ev.Kind)
		for k, v := range ev.Detail {
			if strings.Contains(v, e.Secret) || strings.Contains(v, codes[0]) {
				t.Fatalf("event %s detail %s carries a secret", ev.Kind, k)
			}
		}
	}
	if want := "user.created mfa.failure mfa.enrolled"; strings.Join(kinds, " ") != want {
		t.Fatalf("events %v, want %s", kinds, want)
	}
}

func TestVerifyFactor(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rec := &recorded{}
	s, u, secret, codes := enrolled(t, clk, rec)

	code := codeAt(t, secret, clk.Now())
	if m, err := s.VerifyFactor(ctx, u.ID, code, "192.0.2.1"); err != nil || m != auth.MethodTOTP {
		t.Fatalf("current code: %q, %v", m, err)
	}
	// The same code again, inside its window: refused as a replay.
	_, err := s.VerifyFactor(ctx, u.ID, code, "192.0.2.1")
	var ce *auth.CredentialsError
	if !errors.As(err, &ce) || ce.Reason != auth.ReasonCodeReuse {
		t.Fatalf("replayed code: %v, want %s", err, auth.ReasonCodeReuse)
	}
	// An older code (previous step) is refused too, once a newer one was used.
	clk.Advance(30 * time.Second)
	if _, err := s.VerifyFactor(ctx, u.ID, code, "192.0.2.1"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("earlier step's code after a later one was used: %v", err)
	}
	// One step of drift either side is accepted.
	if _, err := s.VerifyFactor(ctx, u.ID, codeAt(t, secret, clk.Now().Add(30*time.Second)), "192.0.2.9"); err != nil {
		t.Fatalf("next step's code: %v", err)
	}
	// A recovery code works once, written any way.
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	if m, err := s.VerifyFactor(ctx, u.ID, typed, "192.0.2.9"); err != nil || m != auth.MethodRecoveryCode {
		t.Fatalf("recovery code: %q, %v", m, err)
	}
	if _, err := s.VerifyFactor(ctx, u.ID, codes[3], "192.0.2.9"); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("used recovery code again: %v", err)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, u.ID); n != 9 {
		t.Fatalf("%d recovery codes left, want 9", n)
	}
	last := rec.all()[len(rec.all())-1]
	if last.Kind != auth.EventRecoveryCodeUsed || last.Detail["recovery_codes_left"] != "9" {
		t.Fatalf("last event = %+v, want recovery code use with 9 left", last)
	}
}

// TestWrongCodesCountTowardsDelays: a stolen password does not give
// unlimited guesses at the code.
func TestWrongCodesCountTowardsDelays(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	s, u, secret, _ := enrolled(t, clk, nil)
	for i := range 3 {
		if _, err := s.VerifyFactor(ctx, u.ID, "123456", "203.0.113.7"); !errors.Is(err, auth.ErrInvalidCredentials) || errors.Is(err, auth.ErrLocked) {
			t.Fatalf("wrong code %d: %v", i+1, err)
		}
		// Someone with the password signing in again does not reset the count.
		if _, err := s.Authenticate(ctx, "alice", goodPW, "203.0.113.7"); err != nil {
			t.Fatalf("password between wrong codes: %v", err)
		}
	}
	if _, err := s.VerifyFactor(ctx, u.ID, "123456", "203.0.113.7"); !errors.Is(err, auth.ErrLocked) {
		t.Fatalf("fourth wrong code: %v, want a delay", err)
	}
	// During the delay the right code is not even checked...
	if _, err := s.VerifyFactor(ctx, u.ID, codeAt(t, secret, clk.Now()), "203.0.113.7"); !errors.Is(err, auth.ErrLocked) {
		t.Fatalf("right code during the delay: %v, want ErrLocked", err)
	}
	// ...and the password from that address waits as well.
	if _, err := s.Authenticate(ctx, "alice", goodPW, "203.0.113.7"); !errors.Is(err, auth.ErrLocked) {
		t.Fatalf("password during the delay: %v, want ErrLocked", err)
	}
	clk.Advance(time.Second)
	if _, err := s.VerifyFactor(ctx, u.ID, codeAt(t, secret, clk.Now()), "203.0.113.7"); err != nil {
		t.Fatalf("right code after the delay: %v", err)
	}
}

func TestResetFactor(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rec := &recorded{}
	s, u, _, _ := enrolled(t, clk, rec)
	if err := s.ResetFactor(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, u.ID); got.HasFactor {
		t.Fatal("HasFactor after reset")
	}
	if n, _ := s.RecoveryCodesLeft(ctx, u.ID); n != 0 {
		t.Fatalf("%d recovery codes after reset", n)
	}
	if _, err := s.VerifyFactor(ctx, u.ID, "123456", ""); !errors.Is(err, auth.ErrNoFactor) {
		t.Fatalf("VerifyFactor after reset: %v, want ErrNoFactor", err)
	}
	if last := rec.all()[len(rec.all())-1]; last.Kind != auth.EventFactorReset || last.Detail["user"] != "alice" {
		t.Fatalf("last event %+v, want mfa.reset of alice", last)
	}
	if _, err := s.StartEnrolment(ctx, u.ID); err != nil {
		t.Fatalf("enrol again after reset: %v", err)
	}
}

func TestSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	key := []byte("an independent 32-byte secret key")
	tests := []struct {
		name       string
		key        []byte
		wantPrefix string
	}{
		{"no key: plain, marked so", nil, "plain:"},
		{"with a key: sealed", key, "sealed:v1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, clk := newTestDB(t), newClock()
			s, err := auth.NewStore(db, auth.StoreConfig{Now: clk.Now, HashParams: cheapParams, SecretKey: tt.key, Log: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
			e, err := s.StartEnrolment(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			var stored string
			if err := db.Read.GetContext(ctx, &stored, `SELECT secret FROM user_factors WHERE user_id = ?`, u.ID); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(stored, tt.wantPrefix) {
				t.Fatalf("stored %q, want prefix %q", stored[:10], tt.wantPrefix)
			}
			if tt.key != nil && strings.Contains(stored, e.Secret) {
				t.Fatal("sealed form contains the secret")
			}
			if _, err := s.ConfirmEnrolment(ctx, u.ID, codeAt(t, e.Secret, clk.Now()), ""); err != nil {
				t.Fatalf("confirm through the stored form: %v", err)
			}
			if tt.key != nil {
				other, _ := auth.NewStore(db, auth.StoreConfig{Now: clk.Now, HashParams: cheapParams, SecretKey: []byte("another 32-byte secret key, wrong"), Log: slog.New(slog.DiscardHandler)})
				if _, err := other.VerifyFactor(ctx, u.ID, "123456", ""); err == nil || errors.Is(err, auth.ErrInvalidCredentials) {
					t.Fatalf("wrong key: %v, want an error that it does not open", err)
				}
			}
		})
	}
}

// TestSealPlainFactors: factors enrolled before the console had a key are
// sealed once it has one, and still verify.
func TestSealPlainFactors(t *testing.T) {
	ctx := context.Background()
	db, clk := newTestDB(t), newClock()
	plain, err := auth.NewStore(db, auth.StoreConfig{Now: clk.Now, HashParams: cheapParams, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, plain, "alice", auth.RoleViewer, goodPW)
	e, err := plain.StartEnrolment(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.ConfirmEnrolment(ctx, u.ID, codeAt(t, e.Secret, clk.Now()), ""); err != nil {
		t.Fatal(err)
	}
	if n, err := plain.SealPlainFactors(ctx); n != 0 || err != nil {
		t.Fatalf("without a key: sealed %d, %v; want 0, nil", n, err)
	}
	keyed, err := auth.NewStore(db, auth.StoreConfig{Now: clk.Now, HashParams: cheapParams, SecretKey: []byte("an independent 32-byte secret key"), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := keyed.SealPlainFactors(ctx); n != 1 || err != nil {
		t.Fatalf("with a key: sealed %d, %v; want 1, nil", n, err)
	}
	var stored string
	if err := db.Read.GetContext(ctx, &stored, `SELECT secret FROM user_factors WHERE user_id = ?`, u.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "sealed:v1:") || strings.Contains(stored, e.Secret) {
		t.Fatalf("stored %q…, want it sealed", stored[:12])
	}
	if n, _ := keyed.SealPlainFactors(ctx); n != 0 {
		t.Fatalf("second run sealed %d again", n)
	}
	clk.Advance(time.Minute)
	if _, err := keyed.VerifyFactor(ctx, u.ID, codeAt(t, e.Secret, clk.Now()), ""); err != nil {
		t.Fatalf("code after sealing: %v", err)
	}
}

func TestPendingSession(t *testing.T) {
	db, clk, s := newUsers(t)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	u := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)

	w := httptest.NewRecorder()
	if _, err := m.BeginPending(w, httptest.NewRequest(http.MethodPost, "/signin", nil), u); err != nil {
		t.Fatal(err)
	}
	c := sessionCookie(w.Result().Cookies())
	got, sess, err := load(m, c)
	if !errors.Is(err, auth.ErrSecondFactorPending) || !errors.Is(err, auth.ErrNoSession) || got == nil || sess == nil || !sess.FactorPending {
		t.Fatalf("Load of a pending sign-in = %v, %+v, %v; want the user with ErrSecondFactorPending", got, sess, err)
	}
	if list, _ := m.List(context.Background(), u.ID); len(list) != 0 {
		t.Fatalf("pending sign-in listed as a session: %+v", list)
	}
	// Completing it replaces the pending session with a real one.
	_, cs := begin(t, m, u, c)
	if _, _, err := load(m, c); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("pending cookie after completion: %v, want ended", err)
	}
	if _, _, err := load(m, sessionCookie(cs)); err != nil {
		t.Fatalf("completed session: %v", err)
	}
	// A pending sign-in left waiting expires.
	w = httptest.NewRecorder()
	m.BeginPending(w, httptest.NewRequest(http.MethodPost, "/signin", nil), u)
	clk.Advance(auth.FactorWait)
	if _, _, err := load(m, sessionCookie(w.Result().Cookies())); !errors.Is(err, auth.ErrNoSession) || errors.Is(err, auth.ErrSecondFactorPending) {
		t.Fatalf("pending sign-in after %v: %v, want expired", auth.FactorWait, err)
	}
}

func TestListAndEndSessions(t *testing.T) {
	ctx := context.Background()
	db, clk, s := newUsers(t)
	m := newTestManager(t, db, clk, auth.SessionConfig{})
	alice := mustCreate(t, s, "alice", auth.RoleViewer, goodPW)
	bob := mustCreate(t, s, "bob", auth.RoleViewer, goodPW)
	a1 := signIn(t, m, alice)
	clk.Advance(2 * time.Minute)
	a2 := signIn(t, m, alice)
	b1 := signIn(t, m, bob)

	list, err := m.List(ctx, alice.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v; want alice's two sessions", list, err)
	}
	if !list[0].LastSeenAt.After(list[1].LastSeenAt) || list[0].ClientIP == "" {
		t.Fatalf("sessions not newest first or without address: %+v", list)
	}
	older := list[1]
	// Bob cannot end alice's session by its handle.
	if _, err := m.EndByHandle(ctx, bob.ID, older.Handle()); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("bob ending alice's session: %v, want not found", err)
	}
	if _, err := m.EndByHandle(ctx, alice.ID, older.Handle()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := load(m, a1); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("ended session still loads: %v", err)
	}
	for _, c := range []*http.Cookie{a2, b1} {
		if _, _, err := load(m, c); err != nil {
			t.Fatalf("other session ended too: %v", err)
		}
	}
	if strings.Contains(older.Handle(), older.IDHash) || len(older.Handle()) != 32 {
		t.Fatalf("handle %q reveals the id hash", older.Handle())
	}
}

// TestUnknownUserStillCostsAHash: the dummy hash made without hashing at
// start is a valid argon2id hash that nothing matches.
func TestUnknownUserStillCostsAHash(t *testing.T) {
	s := newTestStore(t, newTestDB(t), newClock(), nil)
	_, err := s.Authenticate(context.Background(), "nobody", goodPW, "")
	var ce *auth.CredentialsError
	if !errors.As(err, &ce) || ce.Reason != auth.ReasonUnknownUser {
		t.Fatalf("unknown user: %v", err)
	}
}

// TestResetFactorWithoutAnotherAdmin: the way back in for an admin who lost their device and
// recovery codes when no other admin can reset it ('console user
// reset-factor', internal/cli, calls this with the terminal's user as actor).
func TestResetFactorWithoutAnotherAdmin(t *testing.T) {
	clk := newClock()
	rec := &recorded{}
	s, u, _, _ := enrolled(t, clk, rec)
	ctx := auth.WithActor(context.Background(), auth.Actor{Name: "cli"})
	if err := s.ResetFactor(ctx, u.ID); err != nil {
		t.Fatalf("reset-factor: %v", err)
	}
	if got, _ := s.Get(context.Background(), u.ID); got.HasFactor {
		t.Fatal("factor still on")
	}
	if last := rec.all()[len(rec.all())-1]; last.Kind != auth.EventFactorReset || last.Actor.Name != "cli" {
		t.Fatalf("last event %+v, want mfa.reset by the cli", last)
	}
}
