package cli_test

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// TestHealth: 'console health' exits 0 while the console is ready and 1
// when nothing answers, finding the console from CONSOLE_ADDR.
func TestHealth(t *testing.T) {
	url, _ := serveConsole(t, map[string]string{
		"CONSOLE_DB": filepath.Join(t.TempDir(), "console.db"), "CONSOLE_SIM_SERVERS": "4",
	})
	addr := strings.TrimPrefix(url, "http://")
	if r := run(t, map[string]string{"CONSOLE_ADDR": addr}, "", "health"); r.code != 0 || !strings.Contains(r.stdout, "database: writable") {
		t.Fatalf("health of a ready console: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	_, port, _ := net.SplitHostPort(addr)
	if r := run(t, map[string]string{"CONSOLE_ADDR": "0.0.0.0:" + port}, "", "health"); r.code != 0 {
		t.Errorf("health with a wildcard CONSOLE_ADDR (reached on loopback): exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, nil, "", "health", "--url", url+"/readyz"); r.code != 0 {
		t.Errorf("health --url: exit %d\n%s", r.code, r.stderr)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if r := run(t, map[string]string{"CONSOLE_ADDR": closed}, "", "health"); r.code != 1 || !strings.Contains(r.stderr, "console: health:") {
		t.Errorf("health with nothing listening: exit %d, stderr %q; want 1", r.code, r.stderr)
	}
	if r := run(t, nil, "", "health", "extra"); r.code != 2 {
		t.Errorf("health with a stray argument: exit %d, want 2", r.code)
	}
}
