package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	playwright "github.com/mxschmitt/playwright-go"
)

// driverVersion is the playwright-core version that the Go module in go.mod
// (github.com/mxschmitt/playwright-go v0.6401.0) runs; `make test-deps`
// builds it into ../.cache/playwright-driver-<driverVersion>.
const driverVersion = "1.64.1"

// browser is the one Chromium every test of the package shares; each test
// gets its own browser context (cookies, storage, trace) from newPage.
var browser playwright.Browser

// driverDir is the Playwright driver directory in use (for the trace
// viewer hint printed with failure artifacts).
var driverDir string

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

// runMain starts the Playwright driver and Chromium once for the package.
// A missing browser or driver is a failure with instructions, never a skip:
// `make test` installs both, and CI must not pass without running journeys.
func runMain(m *testing.M) int {
	exe := os.Getenv("CHROMIUM_PATH")
	if exe == "" {
		exe = "/usr/bin/chromium"
	}
	if _, err := os.Stat(exe); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: no Chromium at %s (%v).\n"+
			"e2e: run `make test-deps` as root (apt-get installs Debian's chromium), or set CHROMIUM_PATH.\n"+
			"e2e: `make test-unit` runs every test but these browser journeys.\n", exe, err)
		return 1
	}
	opts := &playwright.RunOptions{SkipInstallBrowsers: true, Verbose: false}
	driverDir = os.Getenv("PLAYWRIGHT_DRIVER_PATH")
	if driverDir == "" {
		// go test runs in this directory; use the driver `make test-deps` built.
		dir, err := filepath.Abs(filepath.Join("..", ".cache", "playwright-driver-"+driverVersion))
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		opts.DriverDirectory, driverDir = dir, dir
	}
	pw, err := playwright.Run(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: start the Playwright driver: %v\n"+
			"e2e: run `make test-deps` (builds playwright-core %s into .cache/playwright-driver-%s),\n"+
			"e2e: or set PLAYWRIGHT_DRIVER_PATH to a driver directory of that version.\n", err, driverVersion, driverVersion)
		return 1
	}
	defer func() { _ = pw.Stop() }()
	browser, err = pw.Chromium.Launch(playwright.BrowserTypeLaunchOptions{
		ExecutablePath: playwright.String(exe),
		Headless:       playwright.Bool(true),
		Args: []string{"--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: launch %s: %v\n", exe, err)
		return 1
	}
	defer func() { _ = browser.Close() }()
	return m.Run()
}
