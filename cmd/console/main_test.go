package main

import (
	"bufio"
	"context"
	"debug/elf"
	"debug/gosym"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
)

// argsEnv carries the command line of a child process that runs main().
const argsEnv = "CONSOLE_MAIN_TEST_ARGS"

func TestMain(m *testing.M) {
	testutil.RunTestMain(m, argsEnv, func(raw string) {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			panic(err)
		}
		os.Args = append([]string{"console"}, args...)
		main()
	})
}

// console returns the command that runs the real main() with args, with
// none of the caller's console, ModelArts or Huawei Cloud settings.
func console(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSOLE_") && !strings.HasPrefix(kv, "MODELARTS_") && !strings.HasPrefix(kv, "HUAWEICLOUD_") {
			base = append(base, kv)
		}
	}
	cmd := testutil.ChildCommand(argsEnv, string(raw), base)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// exitStatus runs cmd to completion and returns its exit status and output.
func exitStatus(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run %v: %v", cmd.Args, err)
	}
	return code, out.String(), errOut.String()
}

var listeningRE = regexp.MustCompile(`msg="console listening" url=(http://\S+)`)

// TestSignalsShutDownGracefully starts the console binary and stops it with
// SIGINT and with SIGTERM: it finishes cleanly and exits 0.
func TestSignalsShutDownGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "console.db")
			cmd := console(t, map[string]string{"CONSOLE_DB": db, "CONSOLE_SIM_SERVERS": "8"}, "--addr", "127.0.0.1:0")
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout = io.Discard
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

			var logs strings.Builder
			lines := bufio.NewScanner(stderr)
			url := ""
			for url == "" && lines.Scan() {
				logs.WriteString(lines.Text() + "\n")
				if m := listeningRE.FindStringSubmatch(lines.Text()); m != nil {
					url = m[1]
				}
			}
			if url == "" {
				t.Fatalf("the console never said where it listens:\n%s", logs.String())
			}
			resp, err := http.Get(url + "/healthz")
			if err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /healthz: %v %v", resp, err)
			}
			resp.Body.Close()

			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			rest := make(chan string, 1)
			go func() {
				for lines.Scan() {
					logs.WriteString(lines.Text() + "\n")
				}
				rest <- logs.String()
			}()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var all string
			select {
			case all = <-rest:
			case <-time.After(30 * time.Second):
				t.Fatalf("the console did not stop within 30s of %s", sig)
			}
			if err := <-done; err != nil {
				t.Fatalf("after %s the console exited with %v, want status 0; log:\n%s", sig, err, all)
			}
			if !strings.Contains(all, `msg="shutting down"`) {
				t.Errorf("no graceful shutdown in the log:\n%s", all)
			}
		})
	}
}

// TestExitStatus checks the statuses scripts see: 0 for success and help,
// 1 for a failure such as a broken audit chain, 2 for a bad command line.
func TestExitStatus(t *testing.T) {
	db := filepath.Join(t.TempDir(), "console.db")
	env := map[string]string{"CONSOLE_DB": db}
	add := console(t, env, "user", "add", "bob", "--role", "viewer")
	add.Stdin = strings.NewReader("bob-password-123\n")
	if code, out, errOut := exitStatus(t, add); code != 0 {
		t.Fatalf("user add: exit %d\n%s%s", code, out, errOut)
	}

	tests := []struct {
		name       string
		args       []string
		tamper     bool
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "help", args: []string{"--help"}, wantStdout: "Usage:"},
		{name: "audit verify, intact", args: []string{"audit", "verify"}, wantStdout: "audit chain intact: 1 entries"},
		{name: "audit export", args: []string{"audit", "export", "--format", "jsonl"}, wantStdout: `"kind":"user.created"`},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantStderr: `console: unknown command "frobnicate"`},
		{name: "audit usage", args: []string{"audit", "export", "--format", "xml"}, wantCode: 2, wantStderr: "--format must be csv or jsonl"},
		{name: "bad configuration", args: []string{"serve", "--chunk-size", "0"}, wantCode: 1, wantStderr: "console: configuration: CONSOLE_CHUNK_SIZE"},
		{name: "audit verify, tampered", args: []string{"audit", "verify"}, tamper: true, wantCode: 1,
			wantStdout: "audit chain BROKEN at entry 1", wantStderr: "console: audit: chain broken at entry 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.tamper {
				tamper(t, db)
			}
			code, out, errOut := exitStatus(t, console(t, env, tt.args...))
			if code != tt.wantCode {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantStdout) {
				t.Errorf("stdout %q does not contain %q", out, tt.wantStdout)
			}
			if !strings.Contains(errOut, tt.wantStderr) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.wantStderr)
			}
		})
	}
}

// tamper edits the first audit entry directly in the file, as someone with
// access to the database (and not to the console) could.
func tamper(t *testing.T, path string) {
	t.Helper()
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`DROP TRIGGER audit_entries_no_update`, `UPDATE audit_entries SET actor_name = 'someone else' WHERE id = 1`} {
		if _, err := db.Write.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestShippedBinaryCannotSeedTheAuditLog: the audit seeder (backdated,
// realistic entries, for scale tests) is test support reached only from
// tools/auditseed and tests; nothing main reaches may call it, so the linker
// leaves it out of the console. This test binary links main the same way.
func TestShippedBinaryCannotSeedTheAuditLog(t *testing.T) {
	f, err := elf.Open(os.Args[0])
	if err != nil {
		t.Skipf("not an ELF binary here: %v", err)
	}
	defer f.Close()
	// The function table (.gopclntab) is there even when symbols are
	// stripped, as go test does.
	pcln, text := f.Section(".gopclntab"), f.Section(".text")
	if pcln == nil || text == nil {
		t.Skip("no Go function table in this binary")
	}
	data, err := pcln.Data()
	if err != nil {
		t.Fatal(err)
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, text.Addr))
	if err != nil {
		t.Fatal(err)
	}
	var sawMain bool
	for _, s := range tab.Funcs {
		switch {
		case strings.HasSuffix(s.Name, "internal/cli.Main"):
			sawMain = true
		case strings.HasSuffix(s.Name, "internal/audit.Seed"), strings.Contains(s.Name, "internal/audit.newSeeder"):
			t.Errorf("the console binary contains %s: the audit seeder must stay out of it", s.Name)
		}
	}
	if !sawMain {
		t.Fatal("the symbol table lacks cli.Main; the check would prove nothing")
	}
}
