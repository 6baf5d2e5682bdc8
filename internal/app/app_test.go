package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/cli"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
)

var generatedPasswordRE = regexp.MustCompile(`password: (\S+)`)

// TestServeLifecycle starts the console the way cmd/console does, with
// nothing configured but a port and a database: it runs on the embedded
// simulator, answers /healthz and /readyz, serves the embedded static
// files, prints the first admin's password once to the terminal (never to
// the log), and stops cleanly when its context ends.
func TestServeLifecycle(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "data", "console.db")
	getenv := envOf(map[string]string{"CONSOLE_DB": dbPath, "CONSOLE_SIM_SERVERS": "12"})
	s := startServe(t, getenv, "--addr", "127.0.0.1:0")

	for _, tt := range []struct {
		name, path, want string
	}{
		{name: "liveness", path: "/healthz", want: "ok\n"},
		{name: "readiness", path: "/readyz", want: "ready\ndatabase: writable\n"},
		{name: "embedded static file", path: "/static/css/console.css", want: ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, s.URL+tt.path)
			if status != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200", tt.path, status)
			}
			if tt.want != "" && !strings.HasPrefix(body, tt.want) {
				t.Errorf("GET %s body = %q, want %q", tt.path, body, tt.want)
			}
			if tt.want == "" && len(body) == 0 {
				t.Errorf("GET %s: empty body", tt.path)
			}
		})
	}

	logs := s.Stderr.String()
	if !strings.Contains(logs, "using the embedded ModelArts simulator") {
		t.Errorf("the log does not announce the embedded simulator:\n%s", logs)
	}
	m := generatedPasswordRE.FindStringSubmatch(s.Stdout.String())
	if m == nil {
		t.Fatalf("first start printed no admin password to stdout:\n%s", s.Stdout.String())
	}
	password := m[1]
	if strings.Contains(logs, password) {
		t.Errorf("the generated admin password is in the log:\n%s", logs)
	}

	if err := s.stop(t); err != nil {
		t.Fatalf("serve returned %v after its context was cancelled, want nil (graceful shutdown)", err)
	}
	if !strings.Contains(s.Stderr.String(), `msg="shutting down"`) {
		t.Errorf("no shutdown in the log:\n%s", s.Stderr.String())
	}
	if _, err := http.Get(s.URL + "/healthz"); err == nil {
		t.Errorf("the console still answers after shutdown")
	}

	// The printed password is the admin's, and it never entered the audit log.
	ctx := context.Background()
	db, err := store.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	users, err := app.NewUserStore(db, audit.New(db, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := users.Authenticate(ctx, "admin", password, "127.0.0.1"); err != nil {
		t.Errorf("the printed password does not sign in as admin: %v", err)
	}
	db.Close()
	exp := runCLI(t, getenv, "", "audit", "export", "--format", "jsonl")
	if exp.Err != nil {
		t.Fatalf("audit export: %v\n%s", exp.Err, exp.Stderr)
	}
	if !strings.Contains(exp.Stdout, `"kind":"user.created"`) {
		t.Errorf("the bootstrap admin's creation is not in the audit log:\n%s", exp.Stdout)
	}
	if strings.Contains(exp.Stdout, password) {
		t.Errorf("the generated admin password is in the audit log")
	}

	// Printed once: the next start creates nobody and prints no password.
	s2 := startServe(t, getenv, "--addr", "127.0.0.1:0")
	if err := s2.stop(t); err != nil {
		t.Fatalf("second serve: %v", err)
	}
	if strings.Contains(s2.Stdout.String(), "password") {
		t.Errorf("second start printed a password again:\n%s", s2.Stdout.String())
	}
}

// TestServeRejectsBadConfiguration checks that a bad configuration stops the
// console before it touches the database, with an error naming the setting.
func TestServeRejectsBadConfiguration(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr []string
	}{
		{name: "address without a port", env: map[string]string{"CONSOLE_ADDR": "8080"}, wantErr: []string{"configuration", "CONSOLE_ADDR"}},
		{name: "region without credentials", env: map[string]string{"MODELARTS_REGION": "cn-north-9", "MODELARTS_PROJECT_ID": "0123456789abcdef0123456789abcdef"},
			wantErr: []string{"configuration", "no credentials"}},
		{name: "duration that is not one", env: map[string]string{"CONSOLE_SIM_TRANSITION": "soon"}, wantErr: []string{"CONSOLE_SIM_TRANSITION", "soon"}},
		{name: "every problem at once", env: map[string]string{"CONSOLE_CHUNK_SIZE": "0", "CONSOLE_LOG_LEVEL": "loud", "CONSOLE_LOG_FORMAT": "xml"},
			wantErr: []string{"CONSOLE_CHUNK_SIZE", "CONSOLE_LOG_LEVEL", "CONSOLE_LOG_FORMAT"}},
		{name: "unknown flag", args: []string{"--bogus"}, wantErr: []string{"exit status 2", "bogus"}},
		{name: "stray argument", args: []string{"now"}, wantErr: []string{"exit status 2", `unexpected argument "now"`}},
		{name: "a secret as a flag", args: []string{"--sk", "s3cret"}, wantErr: []string{"exit status 2", "-sk"}},
		{name: "port in use", args: []string{"--addr", busy.Addr().String()}, wantErr: []string{"listen on " + busy.Addr().String()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "console.db")
			env := map[string]string{"CONSOLE_DB": dbPath}
			for k, v := range tt.env {
				env[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut testutil.LogBuffer
			err := mainErr(cli.Main(ctx, append([]string{"serve"}, tt.args...), cli.IO{Getenv: envOf(env), Stdout: &out, Stderr: &errOut}), errOut.String())
			if err == nil {
				t.Fatalf("serve started with a bad configuration; log:\n%s", errOut.String())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if fileExists(dbPath) {
				t.Errorf("the database was created although the configuration was refused")
			}
		})
	}
}

// TestHelpAndUsageErrors checks the exit statuses cmd/console uses: 0 for
// help, 2 for a command line that cannot be parsed.
func TestHelpAndUsageErrors(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "console.db")
	getenv := envOf(map[string]string{"CONSOLE_DB": dbPath})
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout or stderr
	}{
		{name: "help", args: []string{"help"}, wantOut: "console audit verify"},
		{name: "-h", args: []string{"-h"}, wantOut: "console simulator [flags]"},
		{name: "--help", args: []string{"--help"}, wantOut: "console user add"},
		{name: "serve -h lists the flags", args: []string{"serve", "-h"}, wantOut: "CONSOLE_ADDR"},
		{name: "simulator -h", args: []string{"simulator", "-h"}, wantOut: "-transition"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantOut: "Usage:"},
		{name: "user without a command", args: []string{"user"}, wantCode: 2, wantOut: "missing command"},
		{name: "user add without a role", args: []string{"user", "add", "bob"}, wantCode: 2, wantOut: "--role is required"},
		{name: "audit without a command", args: []string{"audit"}, wantCode: 2, wantOut: "usage: console audit"},
		{name: "audit export without a format", args: []string{"audit", "export"}, wantCode: 2, wantOut: "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, getenv, "", tt.args...)
			if got := exitCode(r.Err); got != tt.wantCode {
				t.Fatalf("exit status %d (error %v), want %d", got, r.Err, tt.wantCode)
			}
			if all := r.Stdout + r.Stderr; !strings.Contains(all, tt.wantOut) {
				t.Errorf("output does not mention %q:\n%s", tt.wantOut, all)
			}
		})
	}
}

// testConfig is a console on a temp database with the embedded simulator.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DBPath = filepath.Join(t.TempDir(), "console.db")
	cfg.AdminPassword = apptest.AdminPassword
	cfg.SimServers = 40
	cfg.SimTransition = 100 * time.Millisecond
	cfg.FleetTTL = 0
	cfg.RequestTimeout = 10 * time.Second
	return cfg
}

// TestServeGracefulShutdown cancels the console's context while a request
// is in flight: the request still gets its full answer, Serve returns nil,
// and new connections are refused.
func TestServeGracefulShutdown(t *testing.T) {
	cfg := testConfig(t)
	a, err := app.New(context.Background(), cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()

	c := (&apptest.Env{URL: url}).SignIn(t, "admin", apptest.AdminPassword)
	// The server list now takes a second to come back from ModelArts.
	a.Simulator().SetFaults(simulator.Faults{Latency: time.Second})
	before := a.Simulator().RequestCount()
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := c.HTTP.Get(url + "/servers")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- result{status: resp.StatusCode, body: string(b), err: err}
	}()
	testutil.Eventually(t, 10*time.Second, "the page asks the simulator for the servers", func() error {
		if a.Simulator().RequestCount() == before {
			return errors.New("no request yet")
		}
		return nil
	})
	cancel() // SIGINT/SIGTERM in cmd/console

	r := <-inflight
	if r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight request during shutdown: status %d, %v; want 200", r.status, r.err)
	}
	if name := a.Simulator().Servers()[0].Name; !strings.Contains(r.body, name) {
		t.Errorf("the in-flight page does not list server %s", name)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v, want nil after a graceful shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not return after its context was cancelled")
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("new connections are still accepted after shutdown")
	}
}

// TestCommandsShareTheServersDatabase runs 'console user' and 'console audit'
// against the database of a running console: users added on the command line
// can sign in at once, and the audit commands see what the server wrote.
func TestCommandsShareTheServersDatabase(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "console.db")
	serverEnv := envOf(map[string]string{"CONSOLE_DB": dbPath, "CONSOLE_ADMIN_PASSWORD": apptest.AdminPassword, "CONSOLE_SIM_SERVERS": "12"})
	noEnv := envOf(nil)
	s := startServe(t, serverEnv, "--addr", "127.0.0.1:0")

	const bobPassword = "bob-password-123"
	add := runCLI(t, noEnv, bobPassword+"\n", "user", "add", "bob", "--role", "operator", "--db", dbPath)
	if add.Err != nil || !strings.Contains(add.Stdout, "Created user bob with role operator") {
		t.Fatalf("user add: %v\nstdout %q\nstderr %q", add.Err, add.Stdout, add.Stderr)
	}
	// CONSOLE_DB names the database as well as --db does.
	list := runCLI(t, serverEnv, "", "user", "list")
	if list.Err != nil {
		t.Fatalf("user list: %v\n%s", list.Err, list.Stderr)
	}
	for _, want := range []*regexp.Regexp{regexp.MustCompile(`(?m)^admin\s+admin\s+no`), regexp.MustCompile(`(?m)^bob\s+operator\s+no`)} {
		if !want.MatchString(list.Stdout) {
			t.Errorf("user list does not match %s:\n%s", want, list.Stdout)
		}
	}
	if dup := runCLI(t, noEnv, bobPassword+"\n", "user", "add", "bob", "--role", "viewer", "--db", dbPath); exitCode(dup.Err) != 1 {
		t.Errorf("adding bob twice: exit %d (%v), want 1", exitCode(dup.Err), dup.Err)
	}

	// The running server sees the new user at once.
	bob := (&apptest.Env{URL: s.URL}).SignIn(t, "bob", bobPassword)
	if r := bob.Get(t, "/servers"); r.Status != http.StatusOK {
		t.Fatalf("bob's server list: status %d", r.Status)
	}

	// The audit commands see what the command line and the server wrote.
	exp := runCLI(t, noEnv, "", "audit", "export", "--format", "jsonl", "--db", dbPath)
	if exp.Err != nil {
		t.Fatalf("audit export: %v\n%s", exp.Err, exp.Stderr)
	}
	type line struct {
		ID        int64             `json:"id"`
		Kind      string            `json:"kind"`
		ActorName string            `json:"actor_name"`
		Detail    map[string]string `json:"detail"`
	}
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(exp.Stdout), "\n") {
		var v line
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("export line %q: %v", l, err)
		}
		if v.Kind != "" { // not the trailer
			lines = append(lines, v)
		}
	}
	var created, signedIn bool
	for i, l := range lines {
		if i > 0 && l.ID <= lines[i-1].ID {
			t.Errorf("export is not oldest first: %d after %d", l.ID, lines[i-1].ID)
		}
		switch {
		case l.Kind == "user.created" && strings.HasPrefix(l.ActorName, "command line"):
			created = true
		case l.Kind == "signin.success" && l.ActorName == "bob":
			signedIn = true
		}
	}
	if !created || !signedIn {
		t.Errorf("export: bob created on the command line %v, bob signed in on the server %v; want both:\n%s", created, signedIn, exp.Stdout)
	}
	csv := runCLI(t, noEnv, "", "audit", "export", "--format", "csv", "--action", "signin.success", "--db", dbPath)
	if csv.Err != nil {
		t.Fatalf("audit export csv: %v\n%s", csv.Err, csv.Stderr)
	}
	rows := strings.Split(strings.TrimSpace(csv.Stdout), "\n")
	if len(rows) != 2 || !strings.HasPrefix(rows[0], "id,") || !strings.Contains(rows[1], ",signin.success,") || !strings.Contains(rows[1], ",bob,") {
		t.Errorf("CSV export of sign-ins = %q, want a header and bob's one sign-in", csv.Stdout)
	}
	if v := runCLI(t, noEnv, "", "audit", "verify", "--db", dbPath); v.Err != nil || !strings.Contains(v.Stdout, "audit chain intact") {
		t.Errorf("audit verify while the server runs: %v\n%s%s", v.Err, v.Stdout, v.Stderr)
	}

	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if strings.Contains(s.Stderr.String()+add.Stderr+exp.Stderr, bobPassword) {
		t.Error("bob's password was logged")
	}
}

// TestAuditVerifyExitCode tampers with the database file outside the
// console and checks that 'console audit verify' names the entry and asks
// for exit status 1.
func TestAuditVerifyExitCode(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "carol"} {
		if err := a.Audit().RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: name, ClientIP: "192.0.2.1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	getenv := envOf(map[string]string{"CONSOLE_DB": cfg.DBPath})

	ok := runCLI(t, getenv, "", "audit", "verify")
	if ok.Err != nil || !strings.Contains(ok.Stdout, "audit chain intact: 4 entries") {
		t.Fatalf("verify of an intact log (the switch to the keyed chain, the first admin, two events): %v\n%s", ok.Err, ok.Stdout)
	}

	raw, err := sqlx.Open("sqlite", "file:"+cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		`DROP TRIGGER audit_entries_no_update`,
		`UPDATE audit_entries SET actor_name = 'mallory' WHERE kind = 'signin.failure' AND actor_name = 'alice'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var edited int64
	if err := raw.Get(&edited, `SELECT id FROM audit_entries WHERE actor_name = 'mallory'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	bad := runCLI(t, getenv, "", "audit", "verify")
	if got := exitCode(bad.Err); got != 1 {
		t.Fatalf("verify of a tampered log: exit status %d (%v), want 1", got, bad.Err)
	}
	want := "audit chain BROKEN at entry " + strconv.FormatInt(edited, 10)
	if !strings.Contains(bad.Stdout, want) {
		t.Errorf("verify output %q does not say %q", bad.Stdout, want)
	}
}

// TestAuditKeyAndAnchor runs the console with an anchor file outside the
// database's directory: the key file is created beside the database (0600),
// closing writes a checkpoint, 'console audit verify --anchor' accepts the
// intact log and rejects it once its newest entries are cut off, and a start
// without the key file is refused instead of chaining under a new key.
func TestAuditKeyAndAnchor(t *testing.T) {
	cfg := testConfig(t)
	cfg.AuditAnchorFile = filepath.Join(t.TempDir(), "anchor.jsonl")
	ctx := context.Background()
	a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "carol", "dave"} {
		if err := a.Audit().RecordEvent(ctx, audit.EventSignInFailure, audit.Actor{Name: name, ClientIP: "192.0.2.1"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	keyFile := config.DefaultAuditKeyFile(cfg.DBPath)
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %s: %v, %v; want mode 0600", keyFile, fi, err)
	}
	getenv := envOf(map[string]string{"CONSOLE_DB": cfg.DBPath})
	ok := runCLI(t, getenv, "", "audit", "verify", "--anchor", cfg.AuditAnchorFile)
	if ok.Err != nil || !strings.Contains(ok.Stdout, "covers entry 5 (5 entries)") {
		t.Fatalf("verify --anchor of an intact log: %v\n%s", ok.Err, ok.Stdout)
	}

	raw, err := sqlx.Open("sqlite", "file:"+cfg.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER audit_entries_no_delete`, `DROP TRIGGER audit_verifications_no_delete`,
		`DELETE FROM audit_entries WHERE id > 3`, `DELETE FROM audit_verifications`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()
	bad := runCLI(t, getenv, "", "audit", "verify", "--anchor", cfg.AuditAnchorFile)
	if exitCode(bad.Err) != 1 || !strings.Contains(bad.Stdout, "the log ends at entry 3 but the checkpoint signed at") {
		t.Fatalf("verify --anchor of a cut log: %v\n%s", bad.Err, bad.Stdout)
	}

	if err := os.Rename(keyFile, keyFile+".backup"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard); err == nil || !strings.Contains(err.Error(), "restore it from its backup") {
		t.Fatalf("start without the key file = %v; want a refusal saying to restore it", err)
	}
	if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused start left a new key file behind: %v", err)
	}
}
