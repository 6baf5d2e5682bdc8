package testutil

import (
	"bufio"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"testing"
)

// RunTestMain is the body of TestMain for a package whose tests re-run the
// test binary as a child process (see ChildCommand). When the environment
// variable name is set, this binary is such a child: it runs child with the
// variable's value and exits 0 if child returns. Otherwise it runs the
// tests.
func RunTestMain(m *testing.M, name string, child func(value string)) {
	if v := os.Getenv(name); v != "" {
		child(v)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// ChildCommand returns the command that re-runs this test binary, running
// no tests, with env plus name=value as its environment, so that
// RunTestMain runs the child instead.
func ChildCommand(name, value string, env []string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(slices.Clip(env), name+"="+value)
	return cmd
}

// Child is a running child process started by StartChild.
type Child struct {
	cmd  *exec.Cmd
	once sync.Once
	done chan struct{} // closed when the child has ended (StartChildLogging)
}

// StartChild starts cmd and returns it with the first line it writes to
// stdout (newline included). The child is killed when the test ends, if it
// has not been already.
func StartChild(t testing.TB, cmd *exec.Cmd) (*Child, string) {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{cmd: cmd}
	t.Cleanup(c.kill)
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child said %q, %v", line, err)
	}
	return c, line
}

// StartChildLogging starts cmd with its stdout and stderr written to the
// returned log, for a child that says what it does in its log (a console's
// "console listening" line, say) rather than on a first line of stdout. The
// child is killed when the test ends, if it has not been already; Exited
// tells whether it ended on its own meanwhile.
func StartChildLogging(t testing.TB, cmd *exec.Cmd) (*Child, *LogBuffer) {
	t.Helper()
	log := &LogBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = cmd.Wait() // the ProcessState tells how it ended
	}()
	t.Cleanup(c.kill)
	return c, log
}

// Exited reports whether a child started by StartChildLogging has ended.
func (c *Child) Exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Child) kill() {
	c.once.Do(func() {
		c.cmd.Process.Signal(syscall.SIGKILL)
		if c.done != nil {
			<-c.done
		} else {
			c.cmd.Wait()
		}
	})
}

// Kill kills the child with SIGKILL, as a crash or the kernel's OOM killer
// would, waits for it, and fails t unless that is how it ended.
func (c *Child) Kill(t testing.TB) {
	t.Helper()
	c.kill()
	if st, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !st.Signaled() || st.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v, want killed by SIGKILL", c.cmd.ProcessState)
	}
}
