package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/cli"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/store/storetest"
	"github.com/devserver-console/console/internal/testutil"
)

const (
	project = "0123456789abcdef0123456789abcdef"
	testAK  = "SIMTESTAK0000000001"
	testSK  = "sim-test-secret-key-do-not-use"
)

type result struct {
	code           int
	stdout, stderr string
}

// run runs one command line to completion with only env as environment.
func run(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), args, cli.IO{
		Getenv: func(k string) string { return env[k] },
		Stdin:  strings.NewReader(stdin), Stdout: &out, Stderr: &errOut,
	})
	return result{code, out.String(), errOut.String()}
}

var endpointRE = regexp.MustCompile(`endpoint=(http://127\.0\.0\.1:\d+)`)

// startSimulator runs "console simulator args..." until the test ends and
// returns its endpoint.
func startSimulator(t *testing.T, args ...string) (endpoint string, stderr *testutil.LogBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout testutil.LogBuffer
	stderr = &testutil.LogBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, append([]string{"simulator", "--addr", "127.0.0.1:0"}, args...), cli.IO{Stdout: &stdout, Stderr: stderr})
	}()
	stopped := false
	var code int
	stop = func() int {
		if !stopped {
			cancel()
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the simulator did not stop within 10s of cancel")
			}
			stopped = true
		}
		return code
	}
	t.Cleanup(func() { stop() })
	testutil.Eventually(t, 5*time.Second, "the simulator logs its endpoint", func() error {
		if m := endpointRE.FindStringSubmatch(stderr.String()); m != nil {
			endpoint = m[1]
			return nil
		}
		select {
		case code := <-done:
			t.Fatalf("simulator exited early with %d; log:\n%s", code, stderr.String())
		default:
		}
		return fmt.Errorf("no listening line; log:\n%s", stderr.String())
	})
	return endpoint, stderr, stop
}

func TestSimulatorServesUntilCancelled(t *testing.T) {
	endpoint, stderr, stop := startSimulator(t, "--servers", "12", "--seed", "7", "--transition", "50ms",
		"--project-id", project, "--ak", testAK, "--sk", testSK, "--fail-servers", "x, y")
	list := endpoint + "/v1/" + project + "/dev-servers/all"

	// An unsigned request is refused: the keys were applied.
	res, err := http.Get(list)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: status %d, want 401", res.StatusCode)
	}
	// A signed request for the configured project sees the 12-server fleet.
	req, _ := http.NewRequest(http.MethodGet, list, nil)
	if err := modelarts.NewAKSK(testAK, testSK, "", project).Authorize(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page modelarts.ServerPage
	err = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || page.Total != 12 {
		t.Fatalf("signed list: status %d, total %d, err %v", res.StatusCode, page.Total, err)
	}
	if want := simulator.New(simulator.Options{Servers: 12, Seed: 7}).Servers(); page.Data[0].ID != want[0].ID {
		t.Errorf("first server %s, want %s from seed 7", page.Data[0].ID, want[0].ID)
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit status %d after cancel, want 0", code)
	}
	log := stderr.String()
	for _, want := range []string{"simulator listening", "project_id=" + project, "aksk_required=true", "servers=12",
		"simulator request", "status=401", "simulator stopped"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, testSK) {
		t.Error("the secret key appears in the log")
	}
}

func TestSimulatorFlagErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"ak-without-sk", []string{"--ak", "A"}, 2, "must be given together"},
		{"rate-above-one", []string{"--error-rate", "1.5"}, 2, "error-rate must be between 0 and 1"},
		{"rates-sum", []string{"--error-rate", "0.6", "--drop-rate", "0.6"}, 2, "must not exceed 1"},
		{"zero-servers", []string{"--servers", "0"}, 2, "servers must be between 1 and 100000"},
		{"bad-transition", []string{"--transition", "0s"}, 2, "transition must be positive"},
		{"unknown-flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"stray-argument", []string{"extra"}, 2, "unexpected arguments: extra"},
		{"bad-address", []string{"--addr", "256.0.0.1:bad"}, 1, "listen on 256.0.0.1:bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", append([]string{"simulator"}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d mentioning %q", r.code, r.stderr, tt.wantCode, tt.wantErr)
			}
		})
	}
	r := run(t, nil, "", "simulator", "-h")
	if r.code != 0 {
		t.Fatalf("simulator -h: exit %d", r.code)
	}
	for _, f := range []string{"-addr", "-fail-servers", "-malformed-rate", "-transition", "-project-id"} {
		if !strings.Contains(r.stdout, f) {
			t.Errorf("usage lacks %s:\n%s", f, r.stdout)
		}
	}
}

// TestUserCommands runs every 'console user' command against one database:
// what it prints, its exit status, and that no password is ever echoed.
func TestUserCommands(t *testing.T) {
	for _, engine := range storetest.Engines {
		t.Run(string(engine), func(t *testing.T) { userCommands(t, engineEnv(t, engine)) })
	}
}

// engineEnv is the environment of commands on a new database of engine:
// on PostgreSQL with the audit key the replicas share.
func engineEnv(t *testing.T, engine store.Engine) map[string]string {
	t.Helper()
	env := map[string]string{"CONSOLE_DB": storetest.DSN(t, engine)}
	if engine == store.Postgres {
		env["CONSOLE_AUDIT_KEY"] = migrateKeyHex
	}
	return env
}

func userCommands(t *testing.T, env map[string]string) {
	const rootPW, alicePW, alicePW2 = "root's password is long", "alice's first password", "alice's second password"
	steps := []struct {
		name     string
		stdin    string
		args     []string
		wantCode int
		want     string // in stdout, or in stderr when wantCode != 0
	}{
		{"add root", rootPW + "\n", []string{"add", "root", "--role", "admin"}, 0, "Created user root with role admin.\n"},
		{"add, flags after the name", alicePW + "\n", []string{"add", "alice", "--role", "operator"}, 0, "Created user alice with role operator.\n"},
		{"add, role first", "bob's password is long\r\n", []string{"add", "--role=viewer", "bob"}, 0, "Created user bob with role viewer.\n"},
		{"add, duplicate", alicePW + "\n", []string{"add", "ALICE", "--role", "viewer"}, 1, "already exists"},
		{"add, unknown role", alicePW, []string{"add", "carol", "--role", "superuser"}, 1, "role"},
		{"add, weak password", "short\n", []string{"add", "carol", "--role", "viewer"}, 1, "12"},
		{"add, no password", "", []string{"add", "carol", "--role", "viewer"}, 1, "no password"},
		{"add, no role", alicePW, []string{"add", "carol"}, 2, "--role is required"},
		{"add, two names", alicePW, []string{"add", "carol", "dave", "--role", "viewer"}, 2, "want 1 argument"},
		{"passwd", alicePW2 + "\nignored second line\n", []string{"passwd", "alice"}, 0, "Password of alice changed; their sessions have ended.\n"},
		{"passwd, unknown user", alicePW2, []string{"passwd", "nobody"}, 1, "nobody"},
		{"role", "", []string{"role", "bob", "approver"}, 0, "bob is now approver.\n"},
		{"disable", "", []string{"disable", "bob"}, 0, "Disabled bob; their sessions have ended.\n"},
		{"disable the last admin", "", []string{"disable", "root"}, 1, "admin"},
		{"enable", "", []string{"enable", "bob"}, 0, "Enabled bob.\n"},
		{"reset-factor without one", "", []string{"reset-factor", "bob"}, 0, "bob has no second factor.\n"},
		{"reset-factor, unknown user", "", []string{"reset-factor", "nobody"}, 1, "nobody"},
		{"unknown command", "", []string{"delete", "bob"}, 2, "unknown command"},
		{"no command", "", nil, 2, "missing command"},
		{"list", "", []string{"list"}, 0, "bob    approver  no        no"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := run(t, env, st.stdin, append([]string{"user"}, st.args...)...)
			got := r.stdout
			if st.wantCode != 0 {
				got = r.stderr
			}
			if r.code != st.wantCode || !strings.Contains(got, st.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d with %q", r.code, r.stdout, r.stderr, st.wantCode, st.want)
			}
			for _, pw := range []string{rootPW, alicePW, alicePW2} {
				if strings.Contains(r.stdout+r.stderr, pw) {
					t.Fatal("a password was echoed")
				}
			}
		})
	}
	// Every change is in the audit log, by the command line.
	r := run(t, env, "", "audit", "export", "--format", "jsonl", "--action", "user.role_changed")
	if r.code != 0 || !strings.Contains(r.stdout, `"actor_name":"command line`) {
		t.Errorf("audit export of the role change: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestUserProjectsCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "projects.yaml")
	if err := os.WriteFile(file, []byte("projects:\n  - name: bj-train\n  - name: gy-infer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CONSOLE_DB": filepath.Join(dir, "console.db"), "CONSOLE_PROJECTS_FILE": file}
	if r := run(t, env, "a-long-password-123\n", "user", "add", "ops", "--role", "operator"); r.code != 0 {
		t.Fatalf("add: exit %d\n%s", r.code, r.stderr)
	}
	other := filepath.Join(dir, "other.yaml")
	if err := os.WriteFile(other, []byte("projects:\n  - name: sh-dev\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout, or in stderr when wantCode != 0
	}{
		{"show, no limit", []string{"ops"}, 0, "ops may use every project.\n"},
		{"an unknown project", []string{"ops", "gy-infer,nope"}, 1, `no project named "nope" (the console has: bj-train, gy-infer)`},
		{"unchanged after a refusal", []string{"ops"}, 0, "ops may use every project.\n"},
		{"limit", []string{"ops", " gy-infer ,"}, 0, "ops may now use: gy-infer\n"},
		{"show the limit", []string{"ops"}, 0, "ops may use: gy-infer\n"},
		{"--projects names another file", []string{"ops", "sh-dev", "--projects", other}, 0, "ops may now use: sh-dev\n"},
		{"an unknown user", []string{"nobody", "bj-train"}, 1, "nobody"},
		{"no name", nil, 2, "want NAME"},
		{"three arguments", []string{"ops", "bj-train", "gy-infer"}, 2, "want NAME"},
		{"only commas", []string{"ops", ","}, 2, "name at least one project, or all"},
		{"all lifts the limit", []string{"ops", "all"}, 0, "ops may now use every project.\n"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			r := run(t, env, "", append([]string{"user", "projects"}, st.args...)...)
			got := r.stdout
			if st.wantCode != 0 {
				got = r.stderr
			}
			if r.code != st.wantCode || !strings.Contains(got, st.want) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d with %q", r.code, r.stdout, r.stderr, st.wantCode, st.want)
			}
		})
	}
	// Each change is in the audit log, by the command line.
	r := run(t, env, "", "audit", "export", "--format", "jsonl", "--action", "user.projects_changed")
	if r.code != 0 || strings.Count(r.stdout, `"actor_name":"command line`) != 3 {
		t.Errorf("audit export of the project changes: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
