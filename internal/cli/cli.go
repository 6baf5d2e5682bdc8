// Package cli is the console's command line: it owns the flags, the usage
// text and the exit status of every subcommand (serve, simulator, user,
// audit, backup, restore, health, migrate-store). The domain packages it calls expose plain
// methods and know nothing of flags, terminals or exit statuses.
//
// Exit statuses: 0 for success (and for -h), 1 for a failure (including a
// broken audit chain and an unhealthy console), 2 for a command line that
// cannot be parsed.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/logging"
)

// Exit statuses.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

const usage = `DevServer Console: batch operations on ModelArts DevServer instances.

Usage:
  console [serve] [flags]          start the web console (default); see 'console serve -h'
  console simulator [flags]        run a standalone ModelArts simulator; see 'console simulator -h'
  console user add NAME --role R   create a user (password on stdin); also passwd, role, disable, enable, list, projects
  console audit verify [--anchor F] check the audit log's keyed hash chain and checkpoints (exit 1 if broken)
  console audit export --format csv|jsonl [--since T] [--until T] [filters]
  console audit verify --db BACKUP prove a backup's audit log intact
  console backup FILE              write a consistent copy of the database, also while the console runs
  console restore FILE             check a backup and put it in place of the (stopped) console's database
  console health [--url URL]       exit 0 when the running console answers /readyz (the image's health check)
  console migrate-store --from FILE --to postgres://...
                                   move a (stopped) console's database to PostgreSQL, the audit chain
                                   verified on both sides (docs/replicas.md)

'user', 'audit', 'backup' and 'restore' take --db FILE or postgres://... (default $CONSOLE_DB or ./data/console.db).
Secrets (keys, tokens, passwords) are read from the environment or from files, never from flags.
`

// IO is what a command reads and writes besides its arguments.
type IO struct {
	Getenv func(string) string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Main runs the console command line (the arguments after the program
// name) until it is done or ctx ends, reports a failure on stderr and
// returns the process exit status.
func Main(ctx context.Context, args []string, env IO) int {
	if env.Getenv == nil {
		env.Getenv = func(string) string { return "" }
	}
	if env.Stdin == nil {
		env.Stdin = strings.NewReader("")
	}
	err := run(ctx, args, env)
	code := ExitStatus(err)
	if code != ExitOK && err.Error() != "" {
		fmt.Fprintln(env.Stderr, "console:", err)
	}
	return code
}

// ExitStatus is the process exit status for what a command returned.
func ExitStatus(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	}
	return ExitFailure
}

// usageError is a command line that cannot be parsed (exit status 2).
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a usage error.
func usagef(format string, a ...any) error { return &usageError{fmt.Errorf(format, a...)} }

type command func(ctx context.Context, args []string, env IO) error

func run(ctx context.Context, args []string, env IO) error {
	name := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		name = "help"
	}
	commands := map[string]command{
		"serve":     serve,
		"simulator": simulatorCmd,
		"user":      userCmd,
		"audit":     auditCmd,
		"backup":    backupCmd,
		"restore":   restoreCmd,
		"health":    healthCmd,

		"migrate-store": migrateStoreCmd,
	}
	if name == "help" {
		fmt.Fprint(env.Stdout, usage)
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprint(env.Stderr, usage)
		return usagef("unknown command %q", name)
	}
	return cmd(ctx, args, env)
}

// flagSet returns a flag set for "console NAME" whose -h prints help to
// stdout and whose errors print the usage to stderr.
func flagSet(name, synopsis string, env IO) *flag.FlagSet {
	fs := flag.NewFlagSet("console "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(env.Stdout, "usage: console %s %s\n\n", name, synopsis)
		fs.SetOutput(env.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args into fs, accepting flags before and after positional
// arguments, and returns the positional ones. -h prints the usage and
// returns flag.ErrHelp; anything else wrong is a usage error.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v (see '%s -h')", fs.Name(), err, fs.Name())
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// dbFlag registers --db on fs: the database file, default $CONSOLE_DB, else
// the serve default.
func dbFlag(fs *flag.FlagSet, env IO) *string {
	def := env.Getenv("CONSOLE_DB")
	if def == "" {
		def = config.Default().DBPath
	}
	return fs.String("db", def, "SQLite database file or postgres:// URL ($CONSOLE_DB)")
}

// commandLogger is the log of the commands other than serve: warnings and
// errors, to stderr.
func commandLogger(env IO) *slog.Logger {
	return logging.New(env.Stderr, "warn", env.Getenv("CONSOLE_LOG_FORMAT"))
}
