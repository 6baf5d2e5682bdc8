package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/cli"
	"github.com/devserver-console/console/internal/fleet"
	"github.com/devserver-console/console/internal/testutil"
)

// envOf returns a getenv over m only, so the tests never see the caller's
// environment.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// served is a console started through cli.Main("serve", ...).
type served struct {
	URL    string
	Stdout *testutil.LogBuffer
	Stderr *testutil.LogBuffer
	cancel context.CancelFunc
	done   chan error
}

var listeningRE = regexp.MustCompile(`msg="console listening" url=(http://\S+)`)

// startServe runs cli.Main with "serve" and args in the background and waits
// until it logs the address it listens on. The console is stopped at the
// end of the test if the test did not stop it.
func startServe(t *testing.T, getenv func(string) string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{Stdout: &testutil.LogBuffer{}, Stderr: &testutil.LogBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- mainErr(cli.Main(ctx, append([]string{"serve"}, args...), cli.IO{Getenv: getenv, Stdout: s.Stdout, Stderr: s.Stderr}), s.Stderr.String())
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Errorf("console did not stop within 30s of the end of the test")
		}
	})
	testutil.Eventually(t, 60*time.Second, "the console logs its address", func() error {
		if m := listeningRE.FindStringSubmatch(s.Stderr.String()); m != nil {
			s.URL = m[1]
			return nil
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("console stopped before listening: %v\nlog:\n%s", err, s.Stderr.String())
		default:
		}
		return fmt.Errorf("log:\n%s", s.Stderr.String())
	})
	return s
}

// stop cancels the console's context and returns what cli.Main returned.
func (s *served) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("console did not stop within 30s of cancellation; log:\n%s", s.Stderr.String())
		return nil
	}
}

// get fetches url and returns the status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// cli runs one console command line to completion.
type cliResult struct {
	Stdout, Stderr string
	Err            error
}

func runCLI(t *testing.T, getenv func(string) string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(context.Background(), args, cli.IO{Getenv: getenv, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut})
	return cliResult{Stdout: out.String(), Stderr: errOut.String(), Err: mainErr(code, errOut.String())}
}

// exitErr is a non-zero exit status with what the command wrote to stderr.
type exitErr struct {
	code   int
	stderr string
}

func (e *exitErr) Error() string { return fmt.Sprintf("exit status %d: %s", e.code, e.stderr) }

// mainErr turns cli.Main's exit status into nil or an *exitErr.
func mainErr(code int, stderr string) error {
	if code == 0 {
		return nil
	}
	return &exitErr{code, stderr}
}

// exitCode is the status cmd/console exits with for err.
func exitCode(err error) int {
	var ee *exitErr
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return -1
	}
	return 0
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// adminAndFleet returns a's bootstrap admin and a fresh snapshot of its
// fleet, for tests that drive batches directly.
func adminAndFleet(t *testing.T, a *app.App) (*auth.User, *fleet.Snapshot) {
	t.Helper()
	ctx := context.Background()
	admin, err := a.Users().GetByName(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	snap, err := a.Fleet().Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return admin, snap
}
