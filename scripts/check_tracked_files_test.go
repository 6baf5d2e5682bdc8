// Package scripts holds the repository's shell scripts; this test runs
// check-tracked-files.sh against throwaway git repositories.
package scripts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repo makes a git repository holding files (path → content) and returns
// its directory.
func repo(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	for p, b := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("add", "-A")
	return dir
}

func check(t *testing.T, dir string) (ok bool, stderr string) {
	t.Helper()
	script, err := filepath.Abs("check-tracked-files.sh")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", script)
	cmd.Dir = dir
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err = cmd.Run()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("run the check: %v", err)
	}
	return err == nil, errb.String()
}

func TestCheckTrackedFiles(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	self, err := os.ReadFile(os.Args[0]) // this test binary: a real executable
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 1<<20+1)

	t.Run("clean tree passes", func(t *testing.T) {
		dir := repo(t, map[string][]byte{
			"main.go":                   []byte("package main\n"),
			"static/vendor/htmx.min.js": big, // vendored assets may be large
			"docs/tiny.md":              []byte("M"),
		})
		if ok, stderr := check(t, dir); !ok {
			t.Fatalf("a clean tree failed the check:\n%s", stderr)
		}
	})

	for _, tc := range []struct {
		name, path string
		content    []byte
		want       string
	}{
		{"ELF binary", "console", self, "ELF"},
		{"Mach-O binary", "bin2/console-darwin", append([]byte{0xcf, 0xfa, 0xed, 0xfe}, make([]byte, 64)...), "Mach-O"},
		{"PE binary", "console.exe", append([]byte("MZ\x90\x00"), make([]byte, 64)...), "PE"},
		{"large file", "data/console.db", big, "over 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := repo(t, map[string][]byte{"main.go": []byte("package main\n"), tc.path: tc.content})
			ok, stderr := check(t, dir)
			if ok {
				t.Fatalf("tracking %s passed the check", tc.path)
			}
			if !strings.Contains(stderr, tc.path) || !strings.Contains(stderr, tc.want) {
				t.Errorf("the check's message does not name %s (%s):\n%s", tc.path, tc.want, stderr)
			}
		})
	}
}
