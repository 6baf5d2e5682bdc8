package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/devserver-console/console/internal/audit"
	"github.com/devserver-console/console/internal/store"
)

const auditUsage = `usage: console audit COMMAND [--db FILE] [flags]

commands:
  verify [--anchor FILE]       walk the hash chain with the audit key; exit 0 when intact, 1 naming the
                               first broken entry; --anchor also proves the log was not cut back past
                               the newest signed checkpoint in FILE (CONSOLE_AUDIT_ANCHOR_FILE);
                               --db a backup's file proves the backup's log intact
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
		anchor       string
	)
	if sub == "verify" {
		fs.StringVar(&anchor, "anchor", "", "anchor file of signed checkpoints ($CONSOLE_AUDIT_ANCHOR_FILE)")
	}
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
	s, _, err := openAudit(sdb, *db, env)
	if err != nil {
		return err
	}
	if sub == "export" {
		return export(s, ctx, env.Stdout, f)
	}
	return verify(ctx, s, anchor, env.Stdout)
}

// openAudit opens the audit log in sdb with the audit key the server uses:
// $CONSOLE_AUDIT_KEY, else the file named by $CONSOLE_AUDIT_KEY_FILE, else
// the file beside keyDB, the console's database (a backup's or a staged
// restore's log is chained under the key of the database it came from or
// replaces). No key is created: a log that is not keyed yet stays plain.
// keyFile is the file the key was read from ("" when none or given as text).
func openAudit(sdb *store.DB, keyDB string, env IO) (s *audit.Store, keyFile string, err error) {
	if store.IsPostgresURL(keyDB) && env.Getenv("CONSOLE_AUDIT_KEY") == "" && env.Getenv("CONSOLE_AUDIT_KEY_FILE") == "" {
		// No key file sits beside a URL: the replicas' key must be given.
		return nil, "", errors.New("a PostgreSQL database's audit log is checked with the replicas' key: set CONSOLE_AUDIT_KEY or CONSOLE_AUDIT_KEY_FILE")
	}
	k, err := audit.LoadKey(audit.KeySource{
		Text:   env.Getenv("CONSOLE_AUDIT_KEY"),
		File:   env.Getenv("CONSOLE_AUDIT_KEY_FILE"),
		DBPath: keyDB,
	}, false)
	if err != nil {
		return nil, "", err
	}
	s = audit.New(sdb, commandLogger(env))
	if k.Key != nil {
		s.SetKey(k.Key)
	}
	return s, k.Path, nil
}

// verify walks the audit log's hash chain, and with anchor != "" checks it
// against the signed checkpoints in that file, and says what it found; a
// broken chain or a rejected anchor is a failure (exit status 1).
func verify(ctx context.Context, s *audit.Store, anchor string, out io.Writer) error {
	var o audit.VerifyOptions
	if anchor != "" {
		cps, err := s.ReadCheckpointFile(anchor)
		if err != nil {
			fmt.Fprintf(out, "anchor REJECTED: %v\n", err)
			return fmt.Errorf("audit verify: %w", err)
		}
		if len(cps) == 0 {
			fmt.Fprintf(out, "anchor REJECTED: %s holds no checkpoint\n", anchor)
			return fmt.Errorf("audit verify: anchor %s holds no checkpoint", anchor)
		}
		o.Checkpoints = cps
	}
	res, err := s.VerifyWith(ctx, o)
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
	switch {
	case res.KeyedFrom == 1:
		fmt.Fprintf(out, "keyed: every entry is HMAC-SHA256 under audit key %s\n", s.KeyID())
	case res.KeyedFrom > 0:
		fmt.Fprintf(out, "keyed: entries from %d on are HMAC-SHA256 under audit key %s; earlier ones plain SHA-256\n", res.KeyedFrom, s.KeyID())
	default:
		fmt.Fprintln(out, "not keyed: no audit key was given and no entry is keyed; a rewrite of the whole log would not be detected")
	}
	if res.Checkpoints > 0 {
		fmt.Fprintf(out, "anchor: %d checkpoints match; the newest, signed at %s, covers entry %d (%d entries)\n",
			res.Checkpoints, audit.AnchorTime(res.Anchor.At), res.Anchor.EntryID, res.Anchor.Count)
	}
	return nil
}
