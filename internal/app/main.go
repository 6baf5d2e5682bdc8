package app

import (
	"context"
	"errors"
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
  console audit verify             check the audit log's hash chain (exit 1 if broken)
  console audit export --format csv|jsonl [--since T] [--until T]

'user' and 'audit' take --db FILE (default $CONSOLE_DB or ./data/console.db).
`

// Main runs the console command line: args are the arguments after the
// program name.
func Main(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
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
		au := audit.New(db, slog.New(slog.NewTextHandler(stderr, nil)))
		users, err := NewUserStore(db, au, slog.New(slog.NewTextHandler(stderr, nil)))
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
		return audit.RunCommand(ctx, audit.New(db, slog.New(slog.NewTextHandler(stderr, nil))), rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// serve loads the configuration, builds the console and serves it until ctx
// is cancelled.
func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	log := NewLogger(stderr, cfg.LogLevel)
	a, err := New(ctx, cfg, log, stdout)
	if err != nil {
		return err
	}
	defer a.Close()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
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
