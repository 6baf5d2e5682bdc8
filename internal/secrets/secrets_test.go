package secrets_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/devserver-console/console/internal/secrets"
)

func testBox(t *testing.T) *secrets.Box {
	t.Helper()
	b, err := secrets.NewBox(bytes.Repeat([]byte{7}, secrets.KeyLen))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	b := testBox(t)
	plain := []byte(`{"admin_pass":"Hunter2-Hunter2"}`)
	sealed, err := b.Seal(plain, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("Hunter2")) {
		t.Fatal("the sealed value contains the plaintext")
	}
	again, _ := b.Seal(plain, "req-1")
	if bytes.Equal(sealed, again) {
		t.Error("two seals of the same value are equal: the nonce is not random")
	}
	got, err := b.Open(sealed, "req-1")
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v", got, err)
	}

	other, _ := secrets.NewBox(bytes.Repeat([]byte{8}, secrets.KeyLen))
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"another label": func() ([]byte, error) { return b.Open(sealed, "req-2") },
		"another key":   func() ([]byte, error) { return other.Open(sealed, "req-1") },
		"altered bytes": func() ([]byte, error) { return b.Open(tampered, "req-1") },
		"truncated":     func() ([]byte, error) { return b.Open(sealed[:5], "req-1") },
		"empty":         func() ([]byte, error) { return b.Open(nil, "req-1") },
	} {
		if _, err := open(); !errors.Is(err, secrets.ErrOpen) {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
}

func TestParseKey(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	for _, s := range []string{hexKey, " " + hexKey + "\n", "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="} {
		if k, err := secrets.ParseKey(s); err != nil || len(k) != 32 {
			t.Errorf("ParseKey(%q) = %d bytes, %v", s, len(k), err)
		}
	}
	for _, s := range []string{"", "abcd", strings.Repeat("ab", 33), "not a key!"} {
		_, err := secrets.ParseKey(s)
		if err == nil {
			t.Errorf("ParseKey(%q) accepted", s)
		} else if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("the error repeats the key: %v", err)
		}
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	path := secrets.KeyFilePath(filepath.Join(dir, "console.db"))
	if filepath.Base(path) != "console.db.secret-key" {
		t.Fatalf("key file = %s", path)
	}

	k1, created, err := secrets.LoadKey("", path)
	if err != nil || !created || len(k1) != secrets.KeyLen {
		t.Fatalf("first LoadKey = %d bytes, created %v, %v", len(k1), created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", fi.Mode().Perm())
	}
	k2, created, err := secrets.LoadKey("", path)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("second LoadKey: created %v, same %v, %v", created, bytes.Equal(k1, k2), err)
	}

	// A configured key wins and the file is not consulted.
	k3, created, err := secrets.LoadKey(strings.Repeat("cd", 32), filepath.Join(dir, "absent"))
	if err != nil || created || k3[0] != 0xcd {
		t.Fatalf("configured key: %x, %v, %v", k3, created, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "absent")); !os.IsNotExist(err) {
		t.Error("a configured key still created a key file")
	}
	if _, _, err := secrets.LoadKey("short", path); err == nil || !strings.Contains(err.Error(), "CONSOLE_SECRET_KEY") {
		t.Errorf("bad configured key: %v", err)
	}

	// A key file others can read is refused, not silently used.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadKey("", path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v", err)
	}
	// A corrupt key file is an error, not a new key.
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := secrets.LoadKey("", path); err == nil {
		t.Error("a corrupt key file was accepted")
	}
}
