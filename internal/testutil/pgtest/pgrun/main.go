// Command pgrun starts a throw-away PostgreSQL cluster, runs a command with
// CONSOLE_TEST_POSTGRES_URL naming it, then stops the cluster and removes
// its files, whatever the command's outcome. It exits with the command's
// status. `make test` runs the Go tests under it, so every test binary of
// the run shares one cluster (initdb takes seconds on a small machine).
//
//	go run ./internal/testutil/pgtest/pgrun -- go test ./...
//
// When CONSOLE_TEST_POSTGRES_URL is set already, the command runs against
// that cluster. When no cluster can be started, pgrun fails under CI; on a
// developer's machine it says why and runs the command without one (the
// tests that need PostgreSQL then skip, saying so).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/devserver-console/console/internal/testutil/pgtest"
)

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: pgrun [--] command [args...]")
		return 2
	}
	// Signals reach the command (same process group); pgrun waits for it
	// and then cleans up instead of dying first.
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)

	env := os.Environ()
	if u := os.Getenv(pgtest.EnvURL); u != "" {
		fmt.Fprintln(os.Stderr, "pgrun: using the test PostgreSQL in", pgtest.EnvURL)
	} else if c, err := pgtest.Start(context.Background()); err != nil {
		if pgtest.InCI() {
			fmt.Fprintln(os.Stderr, "pgrun:", err)
			return 1
		}
		fmt.Fprintln(os.Stderr, "pgrun: WARNING: no test PostgreSQL, so the tests that need it will skip:", err)
	} else {
		defer func() {
			if err := c.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "pgrun: remove the test cluster:", err)
			}
		}()
		fmt.Fprintln(os.Stderr, "pgrun: test PostgreSQL at", c.URL())
		env = append(env, pgtest.EnvURL+"="+c.URL())
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = env
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if code := exit.ExitCode(); code > 0 {
			return code
		}
		return 1
	default:
		fmt.Fprintln(os.Stderr, "pgrun:", err)
		return 1
	}
}
