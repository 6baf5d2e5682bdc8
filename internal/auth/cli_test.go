package auth_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/devserver-console/console/internal/auth"
)

func runUser(t *testing.T, s *auth.Store, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = auth.RunUserCommand(context.Background(), s, args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestUserCommand(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	rec := &recorded{}
	s := newTestStore(t, newTestDB(t), clk, rec)
	mustCreate(t, s, "root", auth.RoleAdmin, goodPW)

	const alicePW = "alice's first password"
	const alicePW2 = "alice's second password"
	steps := []struct {
		name       string
		stdin      string
		args       []string
		wantOut    string
		wantErr    error // nil, auth.ErrUsage or a store error
		wantAnyErr bool
	}{
		{"add, role after name", alicePW + "\n", []string{"add", "alice", "--role", "operator"}, "Created user alice with role operator.\n", nil, false},
		{"add, role first, leading 'user'", "bob's password is long\r\n", []string{"user", "add", "--role=viewer", "bob"}, "Created user bob with role viewer.\n", nil, false},
		{"add, duplicate", alicePW + "\n", []string{"add", "ALICE", "--role", "viewer"}, "", auth.ErrNameTaken, false},
		{"add, unknown role", alicePW, []string{"add", "carol", "--role", "superuser"}, "", auth.ErrInvalidRole, false},
		{"add, weak password", "short\n", []string{"add", "carol", "--role", "viewer"}, "", auth.ErrWeakPassword, false},
		{"add, no password", "", []string{"add", "carol", "--role", "viewer"}, "", nil, true},
		{"add, no role", alicePW, []string{"add", "carol"}, "", auth.ErrUsage, false},
		{"add, two names", alicePW, []string{"add", "carol", "dave", "--role", "viewer"}, "", auth.ErrUsage, false},
		{"passwd", alicePW2 + "\nignored second line\n", []string{"passwd", "alice"}, "Password of alice changed; their sessions have ended.\n", nil, false},
		{"passwd, unknown user", alicePW2, []string{"passwd", "nobody"}, "", auth.ErrUserNotFound, false},
		{"role", "", []string{"role", "bob", "approver"}, "bob is now approver.\n", nil, false},
		{"disable", "", []string{"disable", "bob"}, "Disabled bob; their sessions have ended.\n", nil, false},
		{"disable the last admin", "", []string{"disable", "root"}, "", auth.ErrLastAdmin, false},
		{"enable", "", []string{"enable", "bob"}, "Enabled bob.\n", nil, false},
		{"disable again", "", []string{"disable", "bob"}, "Disabled bob; their sessions have ended.\n", nil, false},
		{"reset-factor without one", "", []string{"reset-factor", "bob"}, "bob has no second factor.\n", nil, false},
		{"reset-factor, unknown user", "", []string{"reset-factor", "nobody"}, "", auth.ErrUserNotFound, false},
		{"unknown command", "", []string{"delete", "bob"}, "", auth.ErrUsage, false},
		{"no command", "", nil, "", auth.ErrUsage, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			out, errOut, err := runUser(t, s, st.stdin, st.args...)
			switch {
			case st.wantAnyErr:
				if err == nil {
					t.Fatal("want an error")
				}
			case !errors.Is(err, st.wantErr):
				t.Fatalf("error = %v, want %v", err, st.wantErr)
			}
			if out != st.wantOut {
				t.Fatalf("stdout = %q, want %q", out, st.wantOut)
			}
			if errors.Is(err, auth.ErrUsage) && !strings.Contains(errOut, "usage: console user") {
				t.Fatalf("stderr = %q, want the usage", errOut)
			}
			for _, pw := range []string{alicePW, alicePW2} {
				if strings.Contains(out+errOut, pw) || (err != nil && strings.Contains(err.Error(), pw)) {
					t.Fatal("a password was echoed")
				}
			}
		})
	}

	t.Run("passwords took effect", func(t *testing.T) {
		if _, err := s.Authenticate(ctx, "alice", alicePW2, ""); err != nil {
			t.Fatalf("alice with the new password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "alice", alicePW, ""); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("alice with the old password: %v", err)
		}
		if _, err := s.Authenticate(ctx, "bob", "bob's password is long", ""); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("disabled bob: %v, want refused", err)
		}
	})

	t.Run("list", func(t *testing.T) {
		out, _, err := runUser(t, s, "", "list")
		if err != nil {
			t.Fatal(err)
		}
		want := "NAME   ROLE      DISABLED  SECOND FACTOR  CREATED\n" +
			"alice  operator  no        no             2026-03-01 09:00 UTC\n" +
			"bob    approver  yes       no             2026-03-01 09:00 UTC\n" +
			"root   admin     no        no             2026-03-01 09:00 UTC\n"
		if diff := cmp.Diff(want, out); diff != "" {
			t.Fatalf("list mismatch (-want +got):\n%s", diff)
		}
	})

	t.Run("events name the cli as actor", func(t *testing.T) {
		var kinds []string
		for _, ev := range rec.all()[1:] { // skip root, created directly
			if ev.Actor.Name != "cli" {
				t.Fatalf("event %s actor = %+v, want cli", ev.Kind, ev.Actor)
			}
			kinds = append(kinds, ev.Kind)
		}
		want := []string{
			auth.EventUserCreated, auth.EventUserCreated, auth.EventUserPassword,
			auth.EventUserRoleChanged, auth.EventUserDisabled, auth.EventUserEnabled, auth.EventUserDisabled,
		}
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Fatalf("event kinds mismatch (-want +got):\n%s", diff)
		}
	})
}
