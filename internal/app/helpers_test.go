package app_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/app"
)

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a running
// console and the reads of the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envOf returns a getenv over m only, so the tests never see the caller's
// environment.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// served is a console started through app.Main("serve", ...).
type served struct {
	URL    string
	Stdout *syncBuffer
	Stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

var listeningRE = regexp.MustCompile(`msg="console listening" url=(http://\S+)`)

// startServe runs app.Main with "serve" and args in the background and waits
// until it logs the address it listens on. The console is stopped at the
// end of the test if the test did not stop it.
func startServe(t *testing.T, getenv func(string) string, args ...string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{Stdout: &syncBuffer{}, Stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- app.Main(ctx, append([]string{"serve"}, args...), getenv, strings.NewReader(""), s.Stdout, s.Stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			t.Errorf("console did not stop within 30s of the end of the test")
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listeningRE.FindStringSubmatch(s.Stderr.String()); m != nil {
			s.URL = m[1]
			return s
		}
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("console stopped before listening: %v\nlog:\n%s", err, s.Stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("console did not log its address within 60s; log:\n%s", s.Stderr.String())
	return nil
}

// stop cancels the console's context and returns what app.Main returned.
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
	err := app.Main(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errOut)
	return cliResult{Stdout: out.String(), Stderr: errOut.String(), Err: err}
}

// exitCode is the status cmd/console exits with for err.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec app.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return 1
}

// fileExists reports whether path exists.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
