// Package pgtest gives tests a throw-away PostgreSQL: one cluster per test
// run and one empty database per test.
//
// The cluster is the one CONSOLE_TEST_POSTGRES_URL names (`make test` starts
// one for the whole run with the pgrun command in this package), or else one
// this test binary starts itself on first use, from Debian's postgresql
// package (initdb into a temporary directory, a free loopback port, fsync
// off), stopped and removed by Main when the tests end. A binary that dies
// takes its cluster with it (the server gets SIGKILL when the test binary
// goes), and the next start removes the directory it left.
//
// Without PostgreSQL, tests that need it are skipped with the reason, except
// under CI (CI set and not "false"), where they fail: CI must run them.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable holding the URL of a running
// cluster's maintenance database (postgres://user@host:port/postgres).
const EnvURL = "CONSOLE_TEST_POSTGRES_URL"

// EnvBin names an optional directory holding initdb and postgres.
const EnvBin = "CONSOLE_TEST_POSTGRES_BIN"

// dirPrefix starts the name of every temporary cluster directory.
const dirPrefix = "console-pgtest-"

// Cluster is a PostgreSQL server started by Start.
type Cluster struct {
	dir  string
	url  string
	cmd  *exec.Cmd
	done chan error // the server's exit
}

// URL returns the URL of the cluster's maintenance database.
func (c *Cluster) URL() string { return c.url }

// BinDir finds the directory holding initdb and postgres: $CONSOLE_TEST_POSTGRES_BIN,
// else the newest /usr/lib/postgresql/<version>/bin, else pg_config --bindir.
func BinDir() (string, error) {
	if d := os.Getenv(EnvBin); d != "" {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			return "", fmt.Errorf("%s=%s has no initdb: %w", EnvBin, d, err)
		}
		return d, nil
	}
	if vs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(vs) > 0 {
		sort.Slice(vs, func(i, j int) bool { return versionOf(vs[i]) < versionOf(vs[j]) })
		return filepath.Dir(vs[len(vs)-1]), nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		d := strings.TrimSpace(string(out))
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL's initdb was not found (install Debian's postgresql package: scripts/install-postgres.sh, or set " + EnvBin + ")")
}

func versionOf(initdb string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return v
}

// Start initialises a cluster in a new temporary directory and starts it on
// a free loopback port. As root, the server runs as the postgres system user
// (PostgreSQL refuses to run as root). The server is killed if this process
// dies; Stop stops it and removes the directory.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	cred, owner, err := serverUser()
	if err != nil {
		return nil, err
	}
	removeStale()
	dir, err := os.MkdirTemp(tempRoot(owner != nil), dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c := &Cluster{dir: dir}
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if owner != nil {
		if err := os.Chown(dir, owner[0], owner[1]); err != nil {
			return nil, fmt.Errorf("pgtest: give %s to the postgres user: %w", dir, err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// A port that was free a moment ago can be taken before the server binds
	// it: try a few.
	for attempt := 0; ; attempt++ {
		err = c.startServer(ctx, bin, data, cred)
		if err == nil {
			break
		}
		if attempt == 2 || ctx.Err() != nil {
			return nil, err
		}
	}
	ok = true
	return c, nil
}

func (c *Cluster) startServer(ctx context.Context, bin, data string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	args := []string{"-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + c.dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB",
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// The server dies with this process. Pdeathsig fires when the thread
	// that started the child exits, so start it from a thread that is never
	// given back (the goroutine below stays locked to it forever).
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGKILL, Setpgid: true}
	started := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		done <- cmd.Wait()
		select {} // keep this thread: its exit would kill the next server started on it
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c.cmd, c.done = cmd, done
	c.url = (&url.URL{Scheme: "postgres", User: url.User("postgres"), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		Path: "/postgres", RawQuery: "sslmode=disable"}).String()

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			c.cmd = nil
			return fmt.Errorf("pgtest: postgres exited during start-up (%v):\n%s", err, c.logTail())
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(pctx, c.url)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.stopServer()
			return fmt.Errorf("pgtest: postgres did not accept connections: %w\n%s", err, c.logTail())
		}
		time.Sleep(50 * time.Millisecond) // polling the server's readiness, not standing in for synchronisation
	}
}

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// stopServer stops the server at once (SIGQUIT: immediate shutdown, the
// cluster is thrown away) and waits for it.
func (c *Cluster) stopServer() {
	if c.cmd == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		<-c.done
	}
	c.cmd = nil
}

// Stop stops the server and removes the cluster's directory.
func (c *Cluster) Stop() error {
	if c == nil {
		return nil
	}
	c.stopServer()
	if c.dir == "" {
		return nil
	}
	err := os.RemoveAll(c.dir)
	c.dir = ""
	return err
}

// serverUser returns the credentials the server runs with: the postgres
// system user when this process is root (with its uid and gid), else none.
func serverUser() (*syscall.Credential, []int, error) {
	if os.Geteuid() != 0 {
		return nil, nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, nil, fmt.Errorf("pgtest: running as root needs the postgres system user (from Debian's postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, []int{uid, gid}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tempRoot is where cluster directories go: the usual temporary directory,
// or /tmp when the server runs as another user, who may not be able to
// reach into a private $TMPDIR.
func tempRoot(otherUser bool) string {
	if otherUser {
		return "/tmp"
	}
	return os.TempDir()
}

// removeStale removes cluster directories left by test processes that no
// longer run (their servers died with them).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	more, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, d := range more {
		if !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			os.RemoveAll(d)
		}
	}
}
