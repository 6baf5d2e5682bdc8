// Command console is DevServer Console: a web console for batch operations
// on Huawei Cloud ModelArts DevServer instances. Run 'console help' for the
// commands; internal/cli owns them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/devserver-console/console/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.IO{Getenv: os.Getenv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
	stop()
	os.Exit(code)
}
