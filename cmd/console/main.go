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
	"os"
	"os/signal"
	"syscall"

	"github.com/devserver-console/console/internal/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := app.Main(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ec app.ExitCoder
		if errors.As(err, &ec) {
			if msg := err.Error(); msg != "" {
				fmt.Fprintln(os.Stderr, "console:", msg)
			}
			os.Exit(ec.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "console:", err)
		os.Exit(1)
	}
}
