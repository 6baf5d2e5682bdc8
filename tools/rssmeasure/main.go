// Command rssmeasure measures the resident memory (RSS) of console
// binaries side by side: idle after a first start, idle after a burst of
// sign-ins, and idle after a restart on the same database. It reports the
// figures; it asserts nothing. Linux only (it reads /proc/PID/status).
//
//	go build -o /tmp/console-new ./cmd/console
//	git worktree add /tmp/console-ref-src REF && (cd /tmp/console-ref-src && go build -o /tmp/console-ref ./cmd/console)
//	go run ./tools/rssmeasure -bin ref=/tmp/console-ref -bin new=/tmp/console-new
//
// Each binary runs in turn on its own fresh database, on the embedded
// simulator, bound to a loopback port.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const adminPassword = "rss-measure-password-1"

type binFlag []string

func (b *binFlag) String() string     { return strings.Join(*b, ",") }
func (b *binFlag) Set(v string) error { *b = append(*b, v); return nil }

func main() {
	var bins binFlag
	flag.Var(&bins, "bin", "name=path of a console binary (repeat; measured in order)")
	settle := flag.Duration("settle", 10*time.Second, "idle time before each reading")
	signins := flag.Int("signins", 8, "sign-ins in the burst")
	parallel := flag.Int("parallel", 4, "sign-ins at once in the burst")
	flag.Parse()
	if len(bins) == 0 {
		fmt.Fprintln(os.Stderr, "rssmeasure: give at least one -bin name=path")
		os.Exit(2)
	}
	fmt.Printf("settle %v, %d sign-ins, %d at once\n\n", *settle, *signins, *parallel)
	fmt.Println("| binary | first start, idle | after sign-ins, idle | restart, idle |")
	fmt.Println("| --- | ---: | ---: | ---: |")
	for _, b := range bins {
		name, path, ok := strings.Cut(b, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "rssmeasure: -bin %q: want name=path\n", b)
			os.Exit(2)
		}
		r, err := measure(path, *settle, *signins, *parallel)
		if err != nil {
			fmt.Fprintf(os.Stderr, "rssmeasure: %s: %v\n", name, err)
			os.Exit(1)
		}
		fmt.Printf("| %s | %s | %s | %s |\n", name, mib(r[0]), mib(r[1]), mib(r[2]))
	}
}

func mib(kb int) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

// measure returns the RSS in KiB: idle after the first start, idle after
// the sign-ins, idle after a restart.
func measure(bin string, settle time.Duration, signins, parallel int) ([3]int, error) {
	var out [3]int
	dir, err := os.MkdirTemp("", "rssmeasure-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "console.db")

	p, base, err := start(bin, db)
	if err != nil {
		return out, err
	}
	time.Sleep(settle)
	if out[0], err = rss(p.Process.Pid); err != nil {
		return out, errors.Join(err, stop(p))
	}
	if err := signInBurst(base, signins, parallel); err != nil {
		return out, errors.Join(err, stop(p))
	}
	time.Sleep(settle)
	if out[1], err = rss(p.Process.Pid); err != nil {
		return out, errors.Join(err, stop(p))
	}
	if err := stop(p); err != nil {
		return out, err
	}
	if p, _, err = start(bin, db); err != nil {
		return out, err
	}
	time.Sleep(settle)
	out[2], err = rss(p.Process.Pid)
	return out, errors.Join(err, stop(p))
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the console and waits until it is ready.
func start(bin, db string) (*exec.Cmd, string, error) {
	addr, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "CONSOLE_DB="+db, "CONSOLE_ADDR="+addr, "CONSOLE_ADMIN_PASSWORD="+adminPassword, "CONSOLE_LOG_LEVEL=warn")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(base + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return cmd, base, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, "", errors.Join(errors.New("not ready within 30 s"), stop(cmd))
}

func stop(cmd *exec.Cmd) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		return errors.New("did not stop within 20 s")
	}
}

// rss reads VmRSS (KiB) of pid.
func rss(pid int) (int, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signInBurst signs admin in n times, parallel at a time, through the form.
func signInBurst(base string, n, parallel int) error {
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = signIn(base)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func signIn(base string) error {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := c.Get(base + "/signin")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return err
	}
	m := csrfRE.FindSubmatch(body)
	if m == nil {
		return errors.New("no CSRF token on the sign-in page")
	}
	r, err = c.PostForm(base+"/signin", url.Values{"_csrf": {string(m[1])}, "username": {"admin"}, "password": {adminPassword}})
	if err != nil {
		return err
	}
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("sign-in: status %d", r.StatusCode)
	}
	return nil
}
