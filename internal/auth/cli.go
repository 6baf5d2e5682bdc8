package auth

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ErrUsage means the command line was wrong; the usage has been printed.
var ErrUsage = errors.New("usage error")

const userUsage = `usage: console user COMMAND

  add NAME --role ROLE   create a user; the password is the first line of stdin
  passwd NAME            set a new password (first line of stdin); ends the user's sessions
  role NAME ROLE         change a user's role
  disable NAME           stop a user from signing in; ends the user's sessions
  enable NAME            let a disabled user sign in again
  reset-factor NAME      remove the user's second factor (a lost device); they set up a new one
  list                   list users

Roles: viewer, operator, approver, admin. Passwords: at least 12 characters.
`

// RunUserCommand runs "console user ...": args are the words after "user"
// (a leading "user" is accepted too). Passwords are read from the first
// line of stdin and never echoed or logged. Every change is recorded
// through the Store's Recorder with the actor from ctx; when ctx has none,
// the actor is named "cli".
func RunUserCommand(ctx context.Context, s *Store, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "user" {
		args = args[1:]
	}
	if ActorFrom(ctx) == (Actor{}) {
		ctx = WithActor(ctx, Actor{Name: "cli"})
	}
	usage := func(format string, a ...any) error {
		fmt.Fprintf(stderr, "console user: "+format+"\n\n", a...)
		fmt.Fprint(stderr, userUsage)
		return fmt.Errorf("%w: "+format, append([]any{ErrUsage}, a...)...)
	}
	if len(args) == 0 {
		return usage("missing command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "add":
		fs := flag.NewFlagSet("user add", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		role := fs.String("role", "", "role of the new user")
		name, err := parseInterleaved(fs, rest)
		if err != nil {
			return usage("%v", err)
		}
		if *role == "" {
			return usage("add %s: --role is required", name)
		}
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := s.CreateUser(ctx, name, Role(*role), pw)
		if u == nil {
			return fmt.Errorf("add %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "Created user %s with role %s.\n", u.Name, u.Role)
		return err
	case "passwd":
		name, err := oneName(rest)
		if err != nil {
			return usage("passwd: %v", err)
		}
		u, err := s.GetByName(ctx, name)
		if err != nil {
			return fmt.Errorf("passwd %s: %w", name, err)
		}
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		if err := s.SetPassword(ctx, u.ID, pw); err != nil {
			return fmt.Errorf("passwd %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "Password of %s changed; their sessions have ended.\n", u.Name)
		return nil
	case "role":
		if len(rest) != 2 {
			return usage("role: want NAME ROLE")
		}
		u, err := s.GetByName(ctx, rest[0])
		if err != nil {
			return fmt.Errorf("role %s: %w", rest[0], err)
		}
		if err := s.SetRole(ctx, u.ID, Role(rest[1])); err != nil {
			return fmt.Errorf("role %s: %w", rest[0], err)
		}
		fmt.Fprintf(stdout, "%s is now %s.\n", u.Name, rest[1])
		return nil
	case "disable", "enable":
		name, err := oneName(rest)
		if err != nil {
			return usage("%s: %v", cmd, err)
		}
		u, err := s.GetByName(ctx, name)
		if err != nil {
			return fmt.Errorf("%s %s: %w", cmd, name, err)
		}
		if cmd == "disable" {
			if err := s.Disable(ctx, u.ID); err != nil {
				return fmt.Errorf("disable %s: %w", name, err)
			}
			fmt.Fprintf(stdout, "Disabled %s; their sessions have ended.\n", u.Name)
			return nil
		}
		if err := s.Enable(ctx, u.ID); err != nil {
			return fmt.Errorf("enable %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "Enabled %s.\n", u.Name)
		return nil
	case "reset-factor":
		name, err := oneName(rest)
		if err != nil {
			return usage("reset-factor: %v", err)
		}
		u, err := s.GetByName(ctx, name)
		if err != nil {
			return fmt.Errorf("reset-factor %s: %w", name, err)
		}
		if !u.HasFactor {
			fmt.Fprintf(stdout, "%s has no second factor.\n", u.Name)
		}
		if err := s.ResetFactor(ctx, u.ID); err != nil {
			return fmt.Errorf("reset-factor %s: %w", name, err)
		}
		if u.HasFactor {
			fmt.Fprintf(stdout, "Removed the second factor of %s; they set up a new one at their next sign-in.\n", u.Name)
		}
		return nil
	case "list":
		if len(rest) != 0 {
			return usage("list takes no arguments")
		}
		users, err := s.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tDISABLED\tSECOND FACTOR\tCREATED")
		for _, u := range users {
			disabled := "no"
			if u.Disabled {
				disabled = "yes"
			}
			factor := "no"
			if u.HasFactor {
				factor = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, disabled, factor, u.CreatedAt.Format("2006-01-02 15:04 MST"))
		}
		return tw.Flush()
	case "help", "-h", "--help":
		fmt.Fprint(stdout, userUsage)
		return nil
	}
	return usage("unknown command %q", cmd)
}

// parseInterleaved parses flags that may come before or after the single
// positional NAME.
func parseInterleaved(fs *flag.FlagSet, args []string) (string, error) {
	var names []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		names = append(names, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(names) != 1 {
		return "", fmt.Errorf("want exactly one NAME, got %d", len(names))
	}
	return names[0], nil
}

func oneName(args []string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("want exactly one NAME, got %d", len(args))
	}
	return args[0], nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	if r == nil {
		return "", errors.New("no password: pipe it on stdin")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password: write it as the first line of stdin")
	}
	return line, nil
}
