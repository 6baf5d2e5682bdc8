package audit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// ExitError is returned by RunCommand when the process should exit with
// Code: 1 when verification finds a broken chain, 2 for a usage error.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }

// ExitCode returns Code (the process exit status the command asks for).
func (e *ExitError) ExitCode() int { return e.Code }
func (e *ExitError) Unwrap() error { return e.Err }

const commandUsage = `usage: console audit <command> [flags]

commands:
  verify [--anchor FILE]       walk the hash chain with the audit key; exit 0 when intact, 1 naming the
                               first broken entry; --anchor also proves the log was not cut back past
                               the newest signed checkpoint in FILE (CONSOLE_AUDIT_ANCHOR_FILE)
  export --format csv|jsonl    write entries (oldest first) to stdout or --out
         [--since T] [--until T] [--actor NAME] [--action TYPE] [--server ID|NAME]
         [--outcome success|api_error|transport_error|unknown] [--text WORDS] [--correlation ID]
         T is RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02; as --until it includes that day)
  seed --count N [--seed S]    append N realistic entries (for scale tests; not for production)
`

// RunCommand runs `console audit ARGS...` against s. The caller opens the
// database named by --db / CONSOLE_DB (the server's own database, also while
// the server runs) and maps an *ExitError to the process exit status.
func RunCommand(ctx context.Context, s *Store, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, commandUsage)
		return &ExitError{Code: 2, Err: errors.New("audit: no command given")}
	}
	switch args[0] {
	case "verify":
		return runVerify(ctx, s, args[1:], stdout, stderr)
	case "export":
		return runExport(ctx, s, args[1:], stdout, stderr)
	case "seed":
		return runSeed(ctx, s, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, commandUsage)
		return nil
	}
	fmt.Fprint(stderr, commandUsage)
	return &ExitError{Code: 2, Err: fmt.Errorf("audit: unknown command %q", args[0])}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("console audit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, commandUsage) }
	return fs
}

func usageErr(err error) error { return &ExitError{Code: 2, Err: err} }

func runVerify(ctx context.Context, s *Store, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("verify", stderr)
	anchor := fs.String("anchor", "", "anchor file of signed checkpoints")
	if err := fs.Parse(args); err != nil {
		return usageErr(fmt.Errorf("audit verify: %w", err))
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Errorf("audit verify: unexpected argument %q", fs.Arg(0)))
	}
	var o VerifyOptions
	if *anchor != "" {
		key, _ := s.currentKey()
		cps, err := ReadCheckpointFile(*anchor, key)
		if err != nil {
			fmt.Fprintf(stdout, "anchor REJECTED: %v\n", err)
			return &ExitError{Code: 1, Err: fmt.Errorf("audit verify: %w", err)}
		}
		if len(cps) == 0 {
			fmt.Fprintf(stdout, "anchor REJECTED: %s holds no checkpoint\n", *anchor)
			return &ExitError{Code: 1, Err: fmt.Errorf("audit verify: anchor %s holds no checkpoint", *anchor)}
		}
		o.Checkpoints = cps
	}
	res, err := s.VerifyWith(ctx, o)
	if err != nil {
		return err
	}
	if !res.OK {
		if res.FirstBroken > 0 {
			fmt.Fprintf(stdout, "audit chain BROKEN at entry %d: %s\n", res.FirstBroken, res.Reason)
		} else {
			fmt.Fprintf(stdout, "audit chain BROKEN: %s\n", res.Reason)
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("audit: chain broken at entry %d: %s", res.FirstBroken, res.Reason)}
	}
	fmt.Fprintf(stdout, "audit chain intact: %d entries verified in %s\nhead: entry %d, hash %s\n",
		res.Entries, res.Duration.Round(time.Millisecond), res.HeadID, res.HeadHash)
	if res.KeyedFrom == 1 {
		_, id := s.currentKey()
		fmt.Fprintf(stdout, "keyed: every entry is HMAC-SHA256 under audit key %s\n", id)
	} else if res.KeyedFrom > 0 {
		_, id := s.currentKey()
		fmt.Fprintf(stdout, "keyed: entries from %d on are HMAC-SHA256 under audit key %s; earlier ones plain SHA-256\n", res.KeyedFrom, id)
	} else {
		fmt.Fprintln(stdout, "not keyed: no audit key was given and no entry is keyed; a rewrite of the whole log would not be detected")
	}
	if res.Checkpoints > 0 {
		fmt.Fprintf(stdout, "anchor: %d checkpoints match; the newest, signed at %s, covers entry %d (%d entries)\n",
			res.Checkpoints, AnchorTime(res.Anchor.At), res.Anchor.EntryID, res.Anchor.Count)
	}
	return nil
}

func runExport(ctx context.Context, s *Store, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export", stderr)
	format := fs.String("format", "", "csv or jsonl")
	since := fs.String("since", "", "start of the time range (inclusive)")
	until := fs.String("until", "", "end of the time range (exclusive; a date includes that day)")
	var f Filter
	fs.StringVar(&f.Actor, "actor", "", "actor user name")
	fs.StringVar(&f.Action, "action", "", "action type (START, STOP, ..., or an event such as signin.failure)")
	fs.StringVar(&f.Server, "server", "", "server id or name")
	fs.StringVar(&f.Outcome, "outcome", "", "success, api_error, transport_error or unknown")
	fs.StringVar(&f.Text, "text", "", "words to match in names, ids and error messages")
	fs.StringVar(&f.Correlation, "correlation", "", "batch/correlation id")
	if err := fs.Parse(args); err != nil {
		return usageErr(fmt.Errorf("audit export: %w", err))
	}
	if fs.NArg() > 0 {
		return usageErr(fmt.Errorf("audit export: unexpected argument %q", fs.Arg(0)))
	}
	var err error
	if f.Since, err = ParseTimeBound(*since, false); err != nil {
		return usageErr(fmt.Errorf("audit export: --since: %w", err))
	}
	if f.Until, err = ParseTimeBound(*until, true); err != nil {
		return usageErr(fmt.Errorf("audit export: --until: %w", err))
	}
	if err := f.Validate(); err != nil {
		return usageErr(fmt.Errorf("audit export: %w", err))
	}
	switch *format {
	case "csv":
		return s.ExportCSV(ctx, stdout, f)
	case "jsonl":
		return s.ExportJSONL(ctx, stdout, f)
	}
	fs.Usage()
	return usageErr(fmt.Errorf("audit export: --format must be csv or jsonl, not %q", *format))
}

func runSeed(ctx context.Context, s *Store, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("seed", stderr)
	count := fs.Int("count", 0, "entries to append")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return usageErr(fmt.Errorf("audit seed: %w", err))
	}
	if *count <= 0 {
		return usageErr(errors.New("audit seed: --count must be positive"))
	}
	start := time.Now()
	last := time.Now()
	err := s.Seed(ctx, SeedOptions{Count: *count, Seed: *seed, Progress: func(done int) {
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
