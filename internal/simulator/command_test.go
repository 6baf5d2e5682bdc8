package simulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devserver-console/console/internal/modelarts"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/testutil"
)

var endpointRE = regexp.MustCompile(`endpoint=(http://127\.0\.0\.1:\d+)`)

func TestCommandServesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testutil.LogBuffer
	done := make(chan error, 1)
	go func() {
		done <- simulator.Command(ctx, []string{
			"--addr", "127.0.0.1:0", "--servers", "12", "--seed", "7", "--transition", "50ms",
			"--project-id", project, "--ak", testAK, "--sk", testSK, "--fail-servers", "x, y",
		}, &stdout, &stderr)
	}()

	var endpoint string
	testutil.Eventually(t, 5*time.Second, "the simulator logs its endpoint", func() error {
		if m := endpointRE.FindStringSubmatch(stderr.String()); m != nil {
			endpoint = m[1]
			return nil
		}
		select {
		case err := <-done:
			t.Fatalf("Command returned early: %v; log:\n%s", err, stderr.String())
		default:
		}
		return fmt.Errorf("no listening line; log:\n%s", stderr.String())
	})

	// An unsigned request is refused: the keys were applied.
	res, err := http.Get(endpoint + path(""))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned request: status %d, want 401", res.StatusCode)
	}

	// A signed request for the configured project sees the 12-server fleet.
	req, _ := http.NewRequest(http.MethodGet, endpoint+path("/all"), nil)
	if err := modelarts.NewAKSK(testAK, testSK, "", project).Authorize(ctx, req, nil); err != nil {
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
	want := simulator.New(simulator.Options{Servers: 12, Seed: 7}).Servers()
	if page.Data[0].ID != want[0].ID {
		t.Errorf("first server %s, want %s from seed 7", page.Data[0].ID, want[0].ID)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Command after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Command did not return within 10s of cancel")
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
	if stdout.String() != "" {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
}

func TestCommandFlagErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ak-without-sk", []string{"--ak", "A"}, "--ak and --sk must be given together"},
		{"rate-above-one", []string{"--error-rate", "1.5"}, "--error-rate must be between 0 and 1"},
		{"rates-sum", []string{"--error-rate", "0.6", "--drop-rate", "0.6"}, "must not exceed 1"},
		{"zero-servers", []string{"--servers", "0"}, "--servers must be between 1 and 100000"},
		{"bad-transition", []string{"--transition", "0s"}, "--transition must be positive"},
		{"unknown-flag", []string{"--nope"}, "flag provided but not defined"},
		{"stray-argument", []string{"extra"}, "unexpected arguments: extra"},
		{"bad-address", []string{"--addr", "256.0.0.1:bad"}, "listen on 256.0.0.1:bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr testutil.LogBuffer
			err := simulator.Command(context.Background(), tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		var stdout, stderr testutil.LogBuffer
		err := simulator.Command(context.Background(), []string{"-h"}, &stdout, &stderr)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("err = %v, want flag.ErrHelp", err)
		}
		for _, f := range []string{"-addr", "-fail-servers", "-malformed-rate", "-transition", "-project-id"} {
			if !strings.Contains(stdout.String(), f) {
				t.Errorf("usage lacks %s:\n%s", f, stdout.String())
			}
		}
	})
}
