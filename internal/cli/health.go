package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/devserver-console/console/internal/config"
)

// healthCmd runs "console health": it asks the running console's /readyz
// and exits 0 when it answers 200. It is the container image's health check,
// since the image has no shell and no HTTP client.
func healthCmd(ctx context.Context, args []string, env IO) error {
	fs := flagSet("health", "[--url URL]", env)
	url := fs.String("url", "", "readiness URL (default: /readyz on $CONSOLE_ADDR, on loopback when it listens on all addresses)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("health: unexpected argument %q", pos[0])
	}
	if *url == "" {
		*url = readyzURL(env.Getenv("CONSOLE_ADDR"))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usagef("health: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	fmt.Fprint(env.Stdout, string(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered %s: %s", *url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

// readyzURL is /readyz on the address the console listens on; a wildcard
// host (0.0.0.0, ::, empty) is reached on loopback.
func readyzURL(addr string) string {
	if addr == "" {
		addr = config.Default().Addr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/readyz"
	}
	switch host {
	case "", "0.0.0.0", "::":
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz"
}
