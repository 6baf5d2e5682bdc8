package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/user"
	"strings"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/simulator"
	"github.com/devserver-console/console/internal/store"
)

// ExitCoder is an error that asks for a particular process exit status.
type ExitCoder interface {
	error
	ExitCode() int
}

const usage = `DevServer Console: batch operations on ModelArts DevServer instances.

Usage:
  console [serve] [flags]          start the web console (default); see 'console serve -h'
  console simulator [flags]        run a standalone ModelArts simulator; see 'console simulator -h'
  console user add NAME --role R   create a user (password on stdin); also passwd, disable, enable, list
  console audit verify [--anchor F] check the audit log's keyed hash chain and checkpoints (exit 1 if broken)
  console audit export --format csv|jsonl [--since T] [--until T]

'user' and 'audit' take --db FILE (default $CONSOLE_DB or ./data/console.db).
`

// Exit statuses other than 0 (success) and 1 (any other failure).
const (
	// ExitUsage is the status of a command line that could not be parsed.
	ExitUsage = 2
)

// exitError is an error that asks for a particular exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) ExitCode() int { return e.code }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the console command line: args are the arguments after the
// program name. It returns nil for success (including -h), an ExitCoder for
// a usage error (status 2) or a broken audit chain (status 1, from
// 'audit verify'), and any other error for status 1.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := run(ctx, args, getenv, stdin, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return nil
	case errors.Is(err, auth.ErrUsage):
		var ec ExitCoder
		if !errors.As(err, &ec) {
			return &exitError{code: ExitUsage, err: err}
		}
	}
	return err
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd = "help"
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "simulator":
		return simulator.Command(ctx, args, stdout, stderr)
	case "user":
		db, rest, err := openDB(ctx, args, getenv)
		if err != nil {
			return err
		}
		defer db.Close()
		log := NewLogger(stderr, "warn")
		au, err := cliAudit(db, getenv, log)
		if err != nil {
			return err
		}
		users, err := NewUserStore(db, au, log)
		if err != nil {
			return err
		}
		return runUserCommand(ctx, users, rest, stdin, stdout, stderr)
	case "audit":
		db, rest, err := openDB(ctx, args, getenv)
		if err != nil {
			return err
		}
		defer db.Close()
		au, err := cliAudit(db, getenv, NewLogger(stderr, "warn"))
		if err != nil {
			return err
		}
		return audit.RunCommand(ctx, au, rest, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return &exitError{code: ExitUsage, err: fmt.Errorf("unknown command %q", cmd)}
	}
}

// serve loads the configuration, builds the console and serves it until ctx
// is cancelled.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	cfg, err := config.Load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := NewLogger(stderr, cfg.LogLevel)
	// Listen before building the console, so a busy port is reported
	// before anything is written to the database.
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	a, err := New(ctx, cfg, log, stdout)
	if err != nil {
		ln.Close()
		return err
	}
	defer func() {
		if cerr := a.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close: %w", cerr)
		}
	}()
	log.Info("console listening", "url", "http://"+ln.Addr().String(), "db", cfg.DBPath, "simulator", cfg.Simulated())
	return a.Serve(ctx, ln)
}

// NewLogger returns the console's structured logger.
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// openDB opens the database named by a --db flag in args (removed from the
// returned args), else by $CONSOLE_DB, else the default path.
func openDB(ctx context.Context, args []string, getenv func(string) string) (*store.DB, []string, error) {
	path := getenv("CONSOLE_DB")
	if path == "" {
		path = config.Default().DBPath
	}
	var rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--db" || a == "-db":
			if i+1 >= len(args) {
				return nil, nil, errors.New("--db needs a file name")
			}
			path = args[i+1]
			i++
		case strings.HasPrefix(a, "--db=") || strings.HasPrefix(a, "-db="):
			path = a[strings.Index(a, "=")+1:]
		default:
			rest = append(rest, a)
		}
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	return db, rest, nil
}

// cliAudit opens the audit log for a command with the audit key the server
// uses (CONSOLE_AUDIT_KEY, CONSOLE_AUDIT_KEY_FILE, or the file beside the
// database), without creating one: a log that is not keyed yet stays plain.
func cliAudit(db *store.DB, getenv func(string) string, log *slog.Logger) (*audit.Store, error) {
	au := audit.New(db, log)
	k, err := audit.LoadKey(audit.KeySource{Text: getenv("CONSOLE_AUDIT_KEY"), File: getenv("CONSOLE_AUDIT_KEY_FILE"), DBPath: db.Path}, false)
	if err != nil {
		return nil, err
	}
	if k.Key != nil {
		au.SetKey(k.Key)
	}
	return au, nil
}

// runUserCommand runs 'console user ...' with the events it causes
// attributed to the operating-system user at the terminal.
func runUserCommand(ctx context.Context, users *auth.Store, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	who := "command line"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = "command line (" + u.Username + ")"
	}
	ctx = auth.WithActor(ctx, auth.Actor{Name: who, Role: auth.RoleAdmin, ClientIP: "local"})
	return auth.RunUserCommand(ctx, users, args, stdin, stdout, stderr)
}
