// Command auditseed fills a console database's audit log with realistic,
// backdated, hash-chained entries, for scale tests and the audit benchmarks
// (docs/audit.md). It is test support, deliberately not part of the shipped
// console binary: such entries must never reach a production log.
//
//	go run ./tools/auditseed --db /tmp/bench.db --count 1000000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/logging"
	"github.com/devserver-console/console/internal/store"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "auditseed:", err)
			os.Exit(1)
		}
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("auditseed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "database file to seed (created if missing; never a production database)")
	count := fs.Int("count", 0, "entries to append")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || *count <= 0 || fs.NArg() > 0 {
		fs.Usage()
		return errors.New("want --db FILE and a positive --count")
	}
	sdb, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer sdb.Close()
	s := audit.New(sdb, logging.New(stderr, "warn", logging.FormatText))
	start, last := time.Now(), time.Now()
	err = audit.Seed(ctx, s, audit.SeedOptions{Count: *count, Seed: *seed, Progress: func(done int) {
		if time.Since(last) >= 5*time.Second {
			last = time.Now()
			fmt.Fprintf(stderr, "seeded %d of %d entries\n", done, *count)
		}
	}})
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(stdout, "seeded %d entries in %s (%.0f entries/s)\n", *count, el.Round(time.Millisecond), float64(*count)/el.Seconds())
	return nil
}
