// Command console is DevServer Console: a web console for batch operations
// on Huawei Cloud ModelArts DevServer instances.
//
// Usage:
//
//	console [serve] [flags]        the web console (default)
//	console simulator [flags]      a standalone ModelArts simulator
//	console user SUBCOMMAND ...    manage users (add, passwd, disable, enable, list)
//	console audit SUBCOMMAND ...   verify or export the audit log
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/devserver-console/console/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// run runs the console command line (the arguments after the program
// name) until it is done or ctx ends: SIGINT or SIGTERM stop a running
// console gracefully.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return app.Main(ctx, args, getenv, stdin, stdout, stderr)
}

// exitCode reports err on stderr and returns the process exit status: 0 for
// success, the status an app.ExitCoder asks for (1 for a broken audit chain,
// 2 for a usage error), else 1.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	code := 1
	var ec app.ExitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintln(stderr, "console:", msg)
	}
	return code
}
