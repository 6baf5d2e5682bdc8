package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/apptest"
	"github.com/devserver-console/console/internal/cli"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

var listeningRE = regexp.MustCompile(`msg="console listening" url=(http://\S+)`)

// serveConsole runs "console serve" with env until the test ends and
// returns its URL and log.
func serveConsole(t *testing.T, env map[string]string) (string, *testutil.LogBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout testutil.LogBuffer
	stderr := &testutil.LogBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Main(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, cli.IO{
			Getenv: func(k string) string { return env[k] }, Stdout: &stdout, Stderr: stderr,
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("console exited with %d; log:\n%s", code, stderr.String())
			}
		case <-time.After(30 * time.Second):
			t.Error("console did not stop within 30s")
		}
	})
	var url string
	testutil.Eventually(t, 30*time.Second, "the console logs its address", func() error {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
			return nil
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("console exited with %d before listening; log:\n%s", code, stderr.String())
		default:
		}
		return fmt.Errorf("log:\n%s", stderr.String())
	})
	return url, stderr
}

// TestConsoleAgainstStandaloneSimulator runs the console in real-cloud mode
// (an endpoint and credentials, no embedded simulator) against
// 'console simulator' started with --ak/--sk, and with --token: the AK/SK
// signer and the static IAM token are what the console's requests carry,
// and a wrong secret key is refused.
func TestConsoleAgainstStandaloneSimulator(t *testing.T) {
	fleet := simulator.New(simulator.Options{Servers: 12, Seed: 7}).Servers()
	const token = "MIIT-test-token-not-a-real-one"
	tests := []struct {
		name    string
		simArgs []string
		creds   map[string]string
		wantOK  bool
	}{
		{"AK/SK signing", []string{"--ak", testAK, "--sk", testSK}, map[string]string{"HUAWEICLOUD_SDK_AK": testAK, "HUAWEICLOUD_SDK_SK": testSK}, true},
		{"static IAM token", []string{"--token", token}, map[string]string{"MODELARTS_AUTH_TOKEN": token}, true},
		{"a wrong secret key is refused", []string{"--ak", testAK, "--sk", testSK}, map[string]string{"HUAWEICLOUD_SDK_AK": testAK, "HUAWEICLOUD_SDK_SK": "not-" + testSK}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			endpoint, simLog, _ := startSimulator(t, append([]string{"--servers", "12", "--seed", "7", "--project-id", project}, tt.simArgs...)...)
			env := map[string]string{
				"CONSOLE_DB":             filepath.Join(t.TempDir(), "console.db"),
				"CONSOLE_ADMIN_PASSWORD": apptest.AdminPassword,
				"MODELARTS_ENDPOINT":     endpoint,
				"MODELARTS_PROJECT_ID":   project,
				"MODELARTS_TIMEOUT":      "5s",
			}
			for k, v := range tt.creds {
				env[k] = v
			}
			url, log := serveConsole(t, env)
			if strings.Contains(log.String(), "embedded ModelArts simulator") {
				t.Fatal("the console started its embedded simulator instead of using the endpoint")
			}
			c := (&apptest.Env{URL: url}).SignIn(t, "admin", apptest.AdminPassword)
			r := c.Get(t, "/servers")
			listed := strings.Contains(r.Body, fleet[0].Name)
			if tt.wantOK && (r.Status != http.StatusOK || !listed) {
				t.Fatalf("/servers: status %d, lists %s: %v; simulator log:\n%s", r.Status, fleet[0].Name, listed, simLog.String())
			}
			if tt.wantOK {
				// No simulator banner; the header names where the console is
				// connected instead, with the project id on hover.
				doc := r.Doc(t)
				head := doc.Find(`[data-testid="current-project"] .project-current`)
				title, _ := head.Attr("title")
				if !strings.Contains(head.Text(), strings.TrimPrefix(endpoint, "http://")) || !strings.Contains(title, project) {
					t.Errorf("real-cloud header = %q (title %q); want the endpoint %s and the project id on hover", head.Text(), title, endpoint)
				}
				if strings.Contains(r.Body, "embedded ModelArts simulator") {
					t.Error("the simulator banner shows in real-cloud mode")
				}
			}
			if !tt.wantOK {
				if listed || !strings.Contains(simLog.String(), "signature rejected") {
					t.Fatalf("a wrong secret key was not refused: status %d, listed %v; simulator log:\n%s", r.Status, listed, simLog.String())
				}
			}
			for _, secret := range []string{testSK, token} {
				if strings.Contains(log.String(), secret) {
					t.Errorf("the console logged a secret")
				}
			}
		})
	}
}
