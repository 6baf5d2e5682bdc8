package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/cli"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
	"github.com/devserver-console/console/internal/testutil"
	"github.com/devserver-console/console/internal/testutil/pgtest"
)

const (
	replicaProject = "0123456789abcdef0123456789abcdef"
	replicaAK      = "REPLICATESTAK0000001"
	replicaSK      = "replica-test-secret-key"
)

// replicaConfig is the configuration of a replica run inside the test
// process (TestReplicasNeedTheSameKeys): one PostgreSQL database, one
// standalone simulator. replicaEnv is the same for a console process.
func replicaConfig(db, endpoint string) config.Config {
	cfg := config.Default()
	cfg.DBPath = db
	cfg.Endpoint = endpoint
	cfg.ProjectID = replicaProject
	cfg.AccessKey, cfg.SecretKey = replicaAK, replicaSK
	cfg.AdminPassword = apptest.AdminPassword
	cfg.AuditKey = apptest.TestAuditKey
	cfg.SecretsKey = apptest.TestSecretKey
	cfg.FleetTTL = 0
	cfg.RequestTimeout = 10 * time.Second
	return cfg
}

// replicaEnv is the environment of every console process of
// TestTwoReplicas: replicaConfig, as an operator sets it.
func replicaEnv(db, endpoint string) map[string]string {
	return map[string]string{
		"CONSOLE_DB":             db,
		"MODELARTS_ENDPOINT":     endpoint,
		"MODELARTS_PROJECT_ID":   replicaProject,
		"HUAWEICLOUD_SDK_AK":     replicaAK,
		"HUAWEICLOUD_SDK_SK":     replicaSK,
		"CONSOLE_ADMIN_PASSWORD": apptest.AdminPassword,
		"CONSOLE_AUDIT_KEY":      apptest.TestAuditKey,
		"CONSOLE_SECRET_KEY":     apptest.TestSecretKey,
		"CONSOLE_FLEET_TTL":      "0s",
		"MODELARTS_TIMEOUT":      "10s",
	}
}

// consoleArgsEnv carries, as JSON, the command line of a child process that
// stands for the console binary: the test binary re-run
// (testutil.ChildCommand) runs cli.Main with it, as cmd/console's main does.
const consoleArgsEnv = "APP_TEST_CONSOLE_ARGS"

// consoleChild is the console binary in a child process: cli.Main on the
// arguments in raw until SIGINT or SIGTERM (or SIGKILL). It returns the
// exit status.
func consoleChild(raw string) int {
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		fmt.Fprintln(os.Stderr, "console child:", err)
		return cli.ExitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cli.Main(ctx, args, cli.IO{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

// startConsoleProcess runs "console ARGS..." in a process of its own with
// env as its only console, ModelArts and Huawei Cloud settings, and waits
// until its log matches ready (the first submatch is returned). The process
// is killed and waited for when the test ends, if it has not been already.
func startConsoleProcess(t *testing.T, env map[string]string, ready *regexp.Regexp, args ...string) (*testutil.Child, *testutil.LogBuffer, string) {
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
	cmd := testutil.ChildCommand(consoleArgsEnv, string(raw), base)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	child, log := testutil.StartChildLogging(t, cmd)
	var got string
	testutil.Eventually(t, 2*time.Minute, "console "+args[0]+" is ready", func() error {
		if m := ready.FindStringSubmatch(log.String()); m != nil {
			got = m[1]
			return nil
		}
		if child.Exited() {
			t.Fatalf("console %s ended before it was ready; log:\n%s", args[0], log.String())
		}
		return fmt.Errorf("log:\n%s", log.Tail(4000))
	})
	return child, log, got
}

var (
	simulatorEndpointRE = regexp.MustCompile(`msg="ModelArts DevServer simulator listening" .*endpoint=(http://\S+)`)
	simulatorRequestRE  = regexp.MustCompile(`msg="simulator request" method=(\S+)`)
)

// mutatingRequests counts the state-changing requests a standalone
// simulator logged (one line per request).
func mutatingRequests(log *testutil.LogBuffer) int {
	n := 0
	for _, m := range simulatorRequestRE.FindAllStringSubmatch(log.String(), -1) {
		switch m[1] {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			n++
		}
	}
	return n
}

// replicaProcess is one console of TestTwoReplicas.
type replicaProcess struct {
	name  string // also the User-Agent of the actions sent to it
	child *testutil.Child
	log   *testutil.LogBuffer
	url   string
	admin *apptest.Client
}

// prepareAlone makes id the admin's whole selection and previews a STOP
// of it on r: the one-time token of that action.
func (r *replicaProcess) prepareAlone(t *testing.T, id string) string {
	t.Helper()
	if res := r.admin.PostForm(t, "/selection/clear", nil); res.Status != http.StatusSeeOther {
		t.Fatalf("%s: clear the selection: status %d\n%s", r.name, res.Status, res.Body)
	}
	if res := r.admin.HTMX(t, http.MethodPost, "/selection", url.Values{"id": {id}, "checked": {"on"}}); res.Status != http.StatusOK {
		t.Fatalf("%s: select %s: status %d\n%s", r.name, id, res.Status, res.Body)
	}
	res := r.admin.HTMX(t, http.MethodPost, "/actions/preview", url.Values{"action": {string(modelarts.BatchStop)}})
	token, _ := res.Doc(t).Find(`#action-form input[name="token"]`).Attr("value")
	if token == "" {
		t.Fatalf("%s: the preview of STOP %s gave no token: status %d\n%s", r.name, id, res.Status, res.Body)
	}
	return token
}

// execute posts the confirmed action of token to r, as the browser's form
// does, and returns the page it leads to. It runs on goroutines of its own,
// so it returns errors instead of failing the test.
func (r *replicaProcess) execute(token, csrf string) (string, error) {
	form := url.Values{"token": {token}, "_csrf": {csrf}}
	req, err := http.NewRequest(http.MethodPost, r.url+"/actions/execute", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", r.name)
	resp, err := r.admin.HTTP.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: execute: %w", r.name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("%s: execute: status %d, want 303\n%s", r.name, resp.StatusCode, body)
	}
	return resp.Header.Get("Location"), nil
}

// TestTwoReplicas runs two console processes on one PostgreSQL database and
// one standalone simulator process ('console simulator' with --ak/--sk), and
// watches them only from the outside: HTTP against each console, SQL
// against PostgreSQL, 'console audit verify'.
//
// 16 STOP actions are previewed (on either replica: a token prepared on one
// is good on both), then each is confirmed on both replicas at once (2 × 16
// requests): each token starts one batch, on one replica or the other, and
// the simulator receives 16 requests. Every batch is visible on the replica
// that did not send it. No batch is ever followed by two replicas. The
// replica that sent the most batches is killed with SIGKILL while the
// servers are still stopping; the other takes its batches over and records
// every one done. The audit chain verifies and nothing is left "outcome
// unknown".
func TestTwoReplicas(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	// The standalone simulator. Its transition outlasts the time from
	// sending to the kill by far, so the killed replica leaves batches to
	// follow; the fleet it serves is the one simulator.New makes from the
	// same options.
	simOpts := simulator.Options{Servers: 40, Seed: 11, Transition: 10 * time.Second, ProjectID: replicaProject}
	_, simLog, endpoint := startConsoleProcess(t, nil, simulatorEndpointRE, "simulator", "--addr", "127.0.0.1:0",
		"--servers", strconv.Itoa(simOpts.Servers), "--seed", strconv.FormatInt(simOpts.Seed, 10),
		"--transition", simOpts.Transition.String(), "--project-id", replicaProject, "--ak", replicaAK, "--sk", replicaSK)
	model := simulator.New(simOpts)
	var targets []string
	for _, s := range model.Servers() {
		if ok, _ := modelarts.Eligible(modelarts.BatchStop, &s); ok && s.Status == modelarts.StatusRunning && len(targets) < 16 {
			targets = append(targets, s.ID)
		}
	}
	model.Close()
	if len(targets) != 16 {
		t.Fatalf("%d running servers to stop, want 16", len(targets))
	}

	// The two consoles, one after the other (the first applies the
	// migrations and creates the admin).
	env := replicaEnv(dbURL, endpoint)
	var replicas [2]*replicaProcess
	for i, name := range []string{"replica-a", "replica-b"} {
		child, log, u := startConsoleProcess(t, env, listeningRE, "serve", "--addr", "127.0.0.1:0")
		r := &replicaProcess{name: name, child: child, log: log, url: u}
		r.admin = (&apptest.Env{URL: u}).SignIn(t, "admin", apptest.AdminPassword)
		replicas[i] = r
	}

	// 16 tokens, prepared on either replica.
	tokens := make([]string, len(targets))
	for i, id := range targets {
		tokens[i] = replicas[i%2].prepareAlone(t, id)
	}

	// 2 × 16 at once: every token confirmed on both replicas.
	type answer struct {
		replica, token int
		landing        string
		err            error
	}
	answers := make(chan answer, 2*len(tokens))
	startLine := make(chan struct{})
	var wg sync.WaitGroup
	for ri, r := range replicas {
		csrf := r.admin.CSRF
		for ti, tok := range tokens {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-startLine
				l, err := r.execute(tok, csrf)
				answers <- answer{ri, ti, l, err}
			}()
		}
	}
	close(startLine)
	wg.Wait()
	close(answers)
	landing := make([][2]string, len(tokens))
	for a := range answers {
		if a.err != nil {
			t.Fatal(a.err)
		}
		landing[a.token][a.replica] = a.landing
	}
	batchOf := map[string]string{} // batch id -> server id
	var ids []string
	for ti, l := range landing {
		// The replica that lost the race for the token leads to the batch
		// the other one started.
		if l[0] != l[1] || !strings.HasPrefix(l[0], "/batches/") {
			t.Fatalf("token %d leads to %q on %s and %q on %s; want the same batch", ti, l[0], replicas[0].name, l[1], replicas[1].name)
		}
		id := strings.TrimPrefix(l[0], "/batches/")
		if _, twice := batchOf[id]; twice {
			t.Fatalf("batch %s started by two tokens", id)
		}
		batchOf[id] = targets[ti]
		ids = append(ids, id)
	}

	// Each batch sent its one request, once, from one replica: the audit
	// log's request entry (written before the call, with the batch, by the
	// replica that won the token) carries the User-Agent of that replica's
	// execute request.
	testutil.Eventually(t, time.Minute, "every batch's request is answered", func() error {
		var open int
		if err := db.Read.GetContext(ctx, &open, `SELECT count(*) FROM batch_chunks WHERE outcome IN ('pending', 'sending')`); err != nil {
			t.Fatal(err)
		}
		if open > 0 {
			return fmt.Errorf("%d requests on their way", open)
		}
		if n := mutatingRequests(simLog); n < len(ids) {
			return fmt.Errorf("the simulator logged %d batch requests, want %d", n, len(ids))
		}
		return nil
	})
	var sent []struct {
		Batch     string `db:"correlation_id"`
		UserAgent string `db:"user_agent"`
	}
	if err := db.Read.SelectContext(ctx, &sent, `SELECT correlation_id, user_agent FROM audit_entries WHERE kind = ?`, string(audit.KindRequest)); err != nil {
		t.Fatal(err)
	}
	sender := map[string]int{} // batch id -> index of the replica that sent it
	sentBy := [2][]string{}
	for _, s := range sent {
		ri := slices.IndexFunc(replicas[:], func(r *replicaProcess) bool { return r.name == s.UserAgent })
		if _, ok := batchOf[s.Batch]; !ok || ri < 0 {
			t.Fatalf("a request of batch %q sent for %q: not one of the 16", s.Batch, s.UserAgent)
		}
		if _, twice := sender[s.Batch]; twice {
			t.Fatalf("batch %s was sent twice: a token was used twice", s.Batch)
		}
		sender[s.Batch] = ri
		sentBy[ri] = append(sentBy[ri], s.Batch)
	}
	if len(sender) != len(ids) {
		t.Fatalf("%d of %d batches sent their request", len(sender), len(ids))
	}
	if n := mutatingRequests(simLog); n != len(ids) {
		t.Fatalf("the simulator received %d batch requests, want %d: a token was used twice", n, len(ids))
	}
	t.Logf("sent by %s: %d, by %s: %d", replicas[0].name, len(sentBy[0]), replicas[1].name, len(sentBy[1]))

	// What one replica started is visible on the other, through HTTP.
	for _, id := range ids {
		other := replicas[1-sender[id]]
		res := other.admin.Get(t, "/batches/"+id)
		if res.Status != http.StatusOK || !strings.Contains(res.Body, batchOf[id]) {
			t.Fatalf("GET /batches/%s on %s, which did not send it: status %d, names %s: %v",
				id, other.name, res.Status, batchOf[id], strings.Contains(res.Body, batchOf[id]))
		}
	}

	// No batch is followed by two replicas at once: a follower holds the
	// batch's claim (a session advisory lock), so PostgreSQL's own lock
	// table tells how many hold each. With both alive, a batch nobody
	// follows is done.
	holders := func(id string) int {
		t.Helper()
		key := uint64(store.LockKeyFor("claim:batch:" + id)) // store.Claims' key of the batch's claim
		var n int
		if err := db.Read.GetContext(ctx, &n, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
			AND objsubid = 1 AND classid = ? AND objid = ? AND granted`, int64(key>>32), int64(key&0xffffffff)); err != nil {
			t.Fatal(err)
		}
		return n
	}
	done := func(id string) bool {
		t.Helper()
		var status string
		if err := db.Read.GetContext(ctx, &status, `SELECT status FROM batches WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		return status == "done"
	}
	for _, id := range ids {
		switch n := holders(id); {
		case n > 1:
			t.Fatalf("batch %s is followed by %d replicas at once", id, n)
		case n == 0 && !done(id):
			t.Fatalf("batch %s is followed by nobody, with both replicas alive, and not done", id)
		}
	}

	// kill -9 of the replica that sent the most batches (at least 8 of
	// the 16): the other finishes following them.
	vi := 0
	if len(sentBy[1]) > len(sentBy[0]) {
		vi = 1
	}
	victim, survivor := replicas[vi], replicas[1-vi]
	victim.child.Kill(t)
	var orphans []string
	for _, id := range sentBy[vi] {
		if !done(id) {
			orphans = append(orphans, id)
		}
	}
	if len(orphans) == 0 {
		t.Fatalf("every batch %s sent was done before it was killed; the simulator's transition (%s) is too short to test a takeover", victim.name, simOpts.Transition)
	}
	t.Logf("%s killed with %d of its %d batches still followed", victim.name, len(orphans), len(sentBy[vi]))
	// The survivor looks for batches nobody claims every follow interval
	// (5 s) and takes them over; the servers stop 10 s after their request.
	testutil.Eventually(t, 2*time.Minute, survivor.name+" records every batch done", func() error {
		for _, id := range ids {
			if n := holders(id); n > 1 {
				t.Fatalf("batch %s is followed by %d replicas at once", id, n)
			}
			if !done(id) {
				return fmt.Errorf("batch %s is not done", id)
			}
		}
		return nil
	})
	var final []struct {
		Server string `db:"server_id"`
		Status string `db:"final_status"`
	}
	if err := db.Read.SelectContext(ctx, &final, `SELECT server_id, final_status FROM batch_servers`); err != nil {
		t.Fatal(err)
	}
	for _, f := range final {
		if f.Status != string(modelarts.StatusStopped) {
			t.Errorf("server %s ended %q, want %s", f.Server, f.Status, modelarts.StatusStopped)
		}
	}
	if len(final) != len(ids) {
		t.Errorf("%d servers recorded in the batches, want %d", len(final), len(ids))
	}
	// The survivor serves the batches it took over.
	for _, id := range orphans {
		if res := survivor.admin.Get(t, "/batches/"+id); res.Status != http.StatusOK {
			t.Errorf("GET /batches/%s on %s: status %d", id, survivor.name, res.Status)
		}
	}

	if n := mutatingRequests(simLog); n != len(ids) {
		t.Errorf("the simulator received %d batch requests in all, want %d: a batch was sent twice", n, len(ids))
	}
	var unknown int
	if err := db.Read.GetContext(ctx, &unknown, `SELECT count(*) FROM audit_entries WHERE kind = ? OR outcome = ?`,
		string(audit.KindOutcomeUnknown), string(audit.OutcomeUnknown)); err != nil {
		t.Fatal(err)
	}
	if unknown != 0 {
		t.Errorf("%d audit entries say outcome unknown; every request was answered before the kill", unknown)
	}
	var chunks int
	if err := db.Read.GetContext(ctx, &chunks, `SELECT count(*) FROM batch_chunks WHERE outcome = 'ok'`); err != nil || chunks != len(ids) {
		t.Errorf("%d requests recorded ok (%v), want %d", chunks, err, len(ids))
	}
	verify := runCLI(t, envOf(map[string]string{"CONSOLE_DB": dbURL, "CONSOLE_AUDIT_KEY": apptest.TestAuditKey}), "", "audit", "verify")
	if verify.Err != nil || !strings.Contains(verify.Stdout, "audit chain intact") {
		t.Fatalf("console audit verify after 2 × 16 actions on two replicas: %v\n%s%s", verify.Err, verify.Stdout, verify.Stderr)
	}
}

// TestReplicasNeedTheSameKeys: on PostgreSQL a console does not start
// without the audit key and the secret key given, since no key file can sit
// beside a URL and every replica must chain the log and open sealed
// secrets with the same keys.
func TestReplicasNeedTheSameKeys(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	for _, c := range []struct {
		name  string
		edit  func(*config.Config)
		wantS string
	}{
		{"no audit key", func(c *config.Config) { c.AuditKey = "" }, "CONSOLE_AUDIT_KEY"},
		{"no secret key", func(c *config.Config) { c.SecretsKey = "" }, "CONSOLE_SECRET_KEY"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := replicaConfig(dbURL, "http://127.0.0.1:1")
			c.edit(&cfg)
			a, err := app.New(ctx, cfg, slog.New(slog.DiscardHandler), io.Discard)
			if err == nil {
				a.Close()
				t.Fatalf("a console on PostgreSQL started without %s", c.wantS)
			}
			if !strings.Contains(err.Error(), c.wantS) {
				t.Errorf("error %q does not name %s", err, c.wantS)
			}
		})
	}
}
