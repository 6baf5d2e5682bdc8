package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
)

func TestValidPassword(t *testing.T) {
	tests := []struct {
		name     string
		password string
		wantErr  bool
	}{
		{"empty", "", true},
		{"11 characters", strings.Repeat("a", 11), true},
		{"12 characters", strings.Repeat("a", 12), false},
		{"256 characters", strings.Repeat("a", 256), false},
		{"257 characters", strings.Repeat("a", 257), true},
		{"12 multibyte characters", strings.Repeat("é", 12), false},
		{"11 multibyte characters, 22 bytes", strings.Repeat("é", 11), true},
		{"only spaces", strings.Repeat(" ", 14), true},
		{"invalid UTF-8", strings.Repeat("a", 12) + "\xff", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidPassword(tt.password)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("ValidPassword() error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrWeakPassword) {
				t.Fatalf("error %v is not ErrWeakPassword", err)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"simple", "alice", false},
		{"digits dots hyphens underscores", "ops.team-1_b", false},
		{"64 characters", strings.Repeat("a", 64), false},
		{"65 characters", strings.Repeat("a", 65), true},
		{"empty", "", true},
		{"leading dot", ".alice", true},
		{"space", "al ice", true},
		{"markup", "<b>x</b>", true},
		{"non-ASCII", "zoë", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidName(tt.in) != nil; got != tt.wantErr {
				t.Fatalf("ValidName(%q) error = %v, want %v", tt.in, got, tt.wantErr)
			}
		})
	}
}

func TestRandomPassword(t *testing.T) {
	re := regexp.MustCompile(`^[a-km-np-z2-9]{5}(-[a-km-np-z2-9]{5}){4}$`)
	seen := map[string]bool{}
	for range 50 {
		pw, err := randomPassword()
		if err != nil {
			t.Fatal(err)
		}
		if !re.MatchString(pw) {
			t.Fatalf("randomPassword() = %q, not five groups of five from the alphabet", pw)
		}
		if err := ValidPassword(pw); err != nil {
			t.Fatalf("generated password fails the policy: %v", err)
		}
		if seen[pw] {
			t.Fatalf("randomPassword() repeated %q", pw)
		}
		seen[pw] = true
	}
}

func TestHashUsesProductionParams(t *testing.T) {
	ctx := context.Background()
	h, err := newHasher(DefaultHashParams, 2)
	if err != nil {
		t.Fatal(err)
	}
	const pw = "correct horse battery staple"
	encoded, err := h.hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(encoded, want) {
		t.Fatalf("hash = %q, want prefix %q", encoded, want)
	}
	if strings.Contains(encoded, pw) {
		t.Fatal("hash contains the password")
	}
	again, _ := h.hash(ctx, pw)
	if again == encoded {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	tests := []struct {
		name     string
		password string
		encoded  string
		want     bool
	}{
		{"right password", pw, encoded, true},
		{"wrong password", pw + "!", encoded, false},
		{"case differs", strings.ToUpper(pw), encoded, false},
		{"unknown user (no hash)", pw, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := h.verify(ctx, tt.password, tt.encoded)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("verify = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestUnknownUserCostsAHash checks that verifying for a user who does not
// exist costs what a wrong password for one who does costs: one argon2id
// comparison with the same parameters, against the dummy hash. (Checked by
// what is computed, not by timing, which a loaded machine makes noisy.)
func TestUnknownUserCostsAHash(t *testing.T) {
	ctx := context.Background()
	h, err := newHasher(DefaultHashParams, 1)
	if err != nil {
		t.Fatal(err)
	}
	encoded, _ := h.hash(ctx, "the real password")
	known, _, _, err := argon2id.DecodeHash(encoded)
	if err != nil {
		t.Fatal(err)
	}
	dummy, _, _, err := argon2id.DecodeHash(h.dummy)
	if err != nil {
		t.Fatalf("the dummy hash is not an argon2id hash: %v", err)
	}
	if *dummy != *known {
		t.Fatalf("dummy hash parameters %+v differ from a real hash's %+v: the time would differ", *dummy, *known)
	}
	if ok, err := h.verify(ctx, "a guess at the password", ""); ok || err != nil {
		t.Fatalf("verify for an unknown user = %v, %v; want false, nil", ok, err)
	}
	// The unknown-user path really computes against the dummy: spoil it and
	// the comparison fails.
	h.dummy = "not a hash"
	if _, err := h.verify(ctx, "a guess at the password", ""); err == nil {
		t.Fatal("verify for an unknown user did not compare against the dummy hash")
	}
}

func TestHasherHonoursContextWhenBusy(t *testing.T) {
	h, err := newHasher(DefaultHashParams, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := h.hash(ctx, "some password!"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hash with every slot busy = %v, want deadline exceeded", err)
	}
}
