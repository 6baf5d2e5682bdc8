package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/devserver-console/console/internal/app"
	"github.com/devserver-console/console/internal/auth"
	"github.com/devserver-console/console/internal/config"
	"github.com/devserver-console/console/internal/store"
)

const userUsage = `usage: console user COMMAND [--db FILE]

  add NAME --role ROLE   create a user; the password is the first line of stdin
  passwd NAME            set a new password (first line of stdin); ends the user's sessions
  role NAME ROLE         change a user's role
  disable NAME           stop a user from signing in; ends the user's sessions
  enable NAME            let a disabled user sign in again
  reset-factor NAME      remove the user's second factor (a lost device); they set up a new one
  list                   list users
  projects NAME [P,Q|all] show the projects NAME may use, or limit NAME to P and Q ("all" lifts
                         the limit); names are checked against --projects FILE (default
                         $CONSOLE_PROJECTS_FILE), else the single project or the simulator's

Roles: viewer, operator, approver, admin. Passwords: at least 12 characters,
read from stdin so they never appear on a command line.
`

// userCmd runs "console user ...". Every change is recorded in the audit
// log with the operating-system user at the terminal as the actor.
func userCmd(ctx context.Context, args []string, env IO) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help" {
		fmt.Fprint(env.Stderr, userUsage)
		return usagef("user: missing command")
	}
	sub := args[0]
	if sub == "help" || sub == "-h" || sub == "--help" {
		fmt.Fprint(env.Stdout, userUsage)
		return nil
	}
	fs := flagSet("user "+sub, "...", env)
	fs.Usage = func() { fmt.Fprint(env.Stdout, userUsage) }
	db := dbFlag(fs, env)
	var role, projectsFile *string
	switch sub {
	case "add":
		role = fs.String("role", "", "role of the new user")
	case "projects":
		projectsFile = fs.String("projects", env.Getenv("CONSOLE_PROJECTS_FILE"), "YAML file listing the console's projects")
	}
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "passwd": 1, "role": 2, "disable": 1, "enable": 1, "reset-factor": 1, "list": 0, "projects": 1}
	n, known := want[sub]
	switch {
	case !known:
		fmt.Fprint(env.Stderr, userUsage)
		return usagef("user: unknown command %q", sub)
	case sub == "projects" && (len(pos) < 1 || len(pos) > 2):
		return usagef("user projects: want NAME and optionally P,Q or all, got %d argument(s) (see 'console user help')", len(pos))
	case sub == "projects" && len(pos) == 2 && projectList(pos[1]) == nil && pos[1] != "all":
		return usagef("user projects %s: name at least one project, or all", pos[0])
	case sub != "projects" && len(pos) != n:
		return usagef("user %s: want %d argument(s), got %d (see 'console user help')", sub, n, len(pos))
	case sub == "add" && *role == "":
		return usagef("user add %s: --role is required", pos[0])
	}

	sdb, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer sdb.Close()
	au, _, err := openAudit(sdb, *db, env)
	if err != nil {
		return err
	}
	users, err := app.NewUserStore(sdb, au, commandLogger(env))
	if err != nil {
		return err
	}
	who := "command line"
	if u, err := user.Current(); err == nil && u.Username != "" {
		who = "command line (" + u.Username + ")"
	}
	ctx = auth.WithActor(ctx, auth.Actor{Name: who, Role: auth.RoleAdmin, ClientIP: "local"})
	if sub == "projects" {
		return userProjects(ctx, users, pos, *projectsFile, env)
	}
	return runUser(ctx, users, sub, pos, role, env)
}

// userProjects runs "console user projects NAME [P,Q|all]": with NAME
// alone it shows the projects NAME may use; P,Q limits NAME to those; "all"
// lifts the limit. Names are checked against the console's projects (the
// projects file, else the single project, else the simulator's).
func userProjects(ctx context.Context, users *auth.Store, pos []string, projectsFile string, env IO) error {
	out := env.Stdout
	u, err := users.GetByName(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("projects %s: %w", pos[0], err)
	}
	if len(pos) == 1 {
		names, err := users.Projects(ctx, u.ID)
		if err != nil {
			return err
		}
		if len(names) == 0 {
			fmt.Fprintf(out, "%s may use every project.\n", u.Name)
		} else {
			fmt.Fprintf(out, "%s may use: %s\n", u.Name, strings.Join(names, ", "))
		}
		return nil
	}
	var names []string
	if pos[1] != "all" {
		known, err := config.KnownProjectNames(projectsFile, env.Getenv)
		if err != nil {
			return err
		}
		for _, n := range projectList(pos[1]) {
			if !slices.Contains(known, n) {
				return fmt.Errorf("projects %s: there is no project named %q (the console has: %s)", u.Name, n, strings.Join(known, ", "))
			}
			names = append(names, n)
		}
	}
	if err := users.SetProjects(ctx, u.ID, names); err != nil {
		return fmt.Errorf("projects %s: %w", u.Name, err)
	}
	if len(names) == 0 {
		fmt.Fprintf(out, "%s may now use every project.\n", u.Name)
	} else {
		fmt.Fprintf(out, "%s may now use: %s\n", u.Name, strings.Join(names, ", "))
	}
	return nil
}

// projectList splits a comma-separated list of project names, dropping
// blanks (nil when there is none).
func projectList(s string) []string {
	var out []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func runUser(ctx context.Context, s *auth.Store, sub string, pos []string, role *string, env IO) error {
	out := env.Stdout
	switch sub {
	case "add":
		pw, err := readPassword(env.Stdin)
		if err != nil {
			return err
		}
		u, err := s.CreateUser(ctx, pos[0], auth.Role(*role), pw)
		if u == nil {
			return fmt.Errorf("add %s: %w", pos[0], err)
		}
		fmt.Fprintf(out, "Created user %s with role %s.\n", u.Name, u.Role)
		return err
	case "list":
		users, err := s.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tDISABLED\tSECOND FACTOR\tCREATED")
		yesNo := map[bool]string{true: "yes", false: "no"}
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, yesNo[u.Disabled], yesNo[u.HasFactor], u.CreatedAt.Format("2006-01-02 15:04 MST"))
		}
		return tw.Flush()
	}
	u, err := s.GetByName(ctx, pos[0])
	if err != nil {
		return fmt.Errorf("%s %s: %w", sub, pos[0], err)
	}
	switch sub {
	case "passwd":
		pw, err := readPassword(env.Stdin)
		if err != nil {
			return err
		}
		if err := s.SetPassword(ctx, u.ID, pw); err != nil {
			return fmt.Errorf("passwd %s: %w", u.Name, err)
		}
		fmt.Fprintf(out, "Password of %s changed; their sessions have ended.\n", u.Name)
	case "role":
		if err := s.SetRole(ctx, u.ID, auth.Role(pos[1])); err != nil {
			return fmt.Errorf("role %s: %w", u.Name, err)
		}
		fmt.Fprintf(out, "%s is now %s.\n", u.Name, pos[1])
	case "disable":
		if err := s.Disable(ctx, u.ID); err != nil {
			return fmt.Errorf("disable %s: %w", u.Name, err)
		}
		fmt.Fprintf(out, "Disabled %s; their sessions have ended.\n", u.Name)
	case "enable":
		if err := s.Enable(ctx, u.ID); err != nil {
			return fmt.Errorf("enable %s: %w", u.Name, err)
		}
		fmt.Fprintf(out, "Enabled %s.\n", u.Name)
	case "reset-factor":
		if !u.HasFactor {
			fmt.Fprintf(out, "%s has no second factor.\n", u.Name)
		}
		if err := s.ResetFactor(ctx, u.ID); err != nil {
			return fmt.Errorf("reset-factor %s: %w", u.Name, err)
		}
		if u.HasFactor {
			fmt.Fprintf(out, "Removed the second factor of %s; they set up a new one at their next sign-in.\n", u.Name)
		}
	}
	return nil
}

// readPassword reads the first line of r, without its line ending.
func readPassword(r io.Reader) (string, error) {
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
