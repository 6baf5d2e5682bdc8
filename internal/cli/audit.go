package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

const auditUsage = `usage: console audit COMMAND [--db FILE] [flags]

commands:
  verify                       walk the hash chain; exit 0 when intact, 1 naming the first broken entry
                               (--db a backup's file proves the backup's log intact)
  export --format csv|jsonl    write entries (oldest first) to stdout
         [--since T] [--until T] [--actor NAME] [--action TYPE] [--server ID|NAME]
         [--outcome success|api_error|transport_error|unknown] [--text WORDS] [--correlation ID]
         T is RFC 3339 (2026-01-02T15:04:05Z) or a date (2026-01-02; as --until it includes that day)
`

// auditCmd runs "console audit ...".
func auditCmd(ctx context.Context, args []string, env IO) error {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, auditUsage)
		return usagef("audit: no command given")
	}
	sub := args[0]
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(env.Stdout, auditUsage)
		return nil
	case "verify", "export":
	default:
		fmt.Fprint(env.Stderr, auditUsage)
		return usagef("audit: unknown command %q", sub)
	}
	fs := flagSet("audit "+sub, "", env)
	fs.Usage = func() { fmt.Fprint(env.Stdout, auditUsage) }
	db := dbFlag(fs, env)
	var (
		f            audit.Filter
		format       = fs.String("format", "", "csv or jsonl")
		since, until string
	)
	if sub == "export" {
		fs.StringVar(&since, "since", "", "start of the time range (inclusive)")
		fs.StringVar(&until, "until", "", "end of the time range (exclusive; a date includes that day)")
		fs.StringVar(&f.Actor, "actor", "", "actor user name")
		fs.StringVar(&f.Action, "action", "", "action type (START, STOP, ..., or an event such as signin.failure)")
		fs.StringVar(&f.Server, "server", "", "server id or name")
		fs.StringVar(&f.Outcome, "outcome", "", "success, api_error, transport_error or unknown")
		fs.StringVar(&f.Text, "text", "", "words to match in names, ids and error messages")
		fs.StringVar(&f.Correlation, "correlation", "", "batch/correlation id")
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("audit %s: unexpected argument %q", sub, pos[0])
	}
	var export func(*audit.Store, context.Context, io.Writer, audit.Filter) error
	if sub == "export" {
		if f.Since, err = audit.ParseTimeBound(since, false); err != nil {
			return usagef("audit export: --since: %v", err)
		}
		if f.Until, err = audit.ParseTimeBound(until, true); err != nil {
			return usagef("audit export: --until: %v", err)
		}
		if err := f.Validate(); err != nil {
			return usagef("audit export: %v", err)
		}
		switch *format {
		case "csv":
			export = (*audit.Store).ExportCSV
		case "jsonl":
			export = (*audit.Store).ExportJSONL
		default:
			fmt.Fprint(env.Stderr, auditUsage)
			return usagef("audit export: --format must be csv or jsonl, not %q", *format)
		}
	}

	sdb, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer sdb.Close()
	s := audit.New(sdb, commandLogger(env))
	if sub == "export" {
		return export(s, ctx, env.Stdout, f)
	}
	return verify(ctx, s, env.Stdout)
}

// verify walks the audit log's hash chain and says what it found; a broken
// chain is a failure (exit status 1).
func verify(ctx context.Context, s *audit.Store, out io.Writer) error {
	res, err := s.Verify(ctx)
	if err != nil {
		return err
	}
	if !res.OK {
		if res.FirstBroken > 0 {
			fmt.Fprintf(out, "audit chain BROKEN at entry %d: %s\n", res.FirstBroken, res.Reason)
		} else {
			fmt.Fprintf(out, "audit chain BROKEN: %s\n", res.Reason)
		}
		return fmt.Errorf("audit: chain broken at entry %d: %s", res.FirstBroken, res.Reason)
	}
	fmt.Fprintf(out, "audit chain intact: %d entries verified in %s\nhead: entry %d, hash %s\n",
		res.Entries, res.Duration.Round(time.Millisecond), res.HeadID, res.HeadHash)
	return nil
}
