#!/usr/bin/env bash
# install-test-deps.sh: make sure this machine has what the browser tests (e2e/) need,
# installing only what is missing. `make test-deps` runs it (and `make test` runs that).
#
#   1. Chromium: Debian's package (/usr/bin/chromium), or the one $CHROMIUM_PATH names.
#      Installed with apt-get when missing and we are root.
#   2. The Playwright driver (npm playwright-core, pinned to the version the Go module in
#      go.mod expects) in $PLAYWRIGHT_DRIVER_PATH, by scripts/install-playwright-driver.sh.
#   3. axe-core (npm, pinned version and sha512) in $AXE_CORE_DIR (default
#      <repo>/.cache/axe-core-<version>), by scripts/install-axe-core.sh.
#
# When something is missing and cannot be installed here (not root, no package registry),
# it stops with a non-zero status and prints the exact commands to run. It never skips.
#
# Environment (the Makefile sets the first two):
#   PLAYWRIGHT_DRIVER_PATH   driver dir; default <repo>/.cache/playwright-driver-<version>
#   PLAYWRIGHT_CORE_VERSION  default 1.64.1
#   CHROMIUM_PATH            a Chromium to use instead of /usr/bin/chromium
set -euo pipefail

say() { echo "test-deps: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VERSION="${PLAYWRIGHT_CORE_VERSION:-1.64.1}"
DRIVER_DIR="${PLAYWRIGHT_DRIVER_PATH:-$ROOT/.cache/playwright-driver-$VERSION}"

# The driver version is tied to the Go module version: v0.6401.0 <-> playwright-core 1.64.1.
MODULE_VERSION="$(awk '$1 == "github.com/mxschmitt/playwright-go" { print $2 }' "$ROOT/go.mod")"
case "$MODULE_VERSION/$VERSION" in
  v0.6401.0/1.64.1) ;;
  *)
    say "ERROR: go.mod requires github.com/mxschmitt/playwright-go ${MODULE_VERSION:-(none)}, which does not"
    say "match playwright-core $VERSION. Update PLAYWRIGHT_VERSION in the Makefile and this check together."
    exit 1
    ;;
esac

# --- 1. Chromium ------------------------------------------------------------
APT_CMD="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation"
if [[ -n "${CHROMIUM_PATH:-}" ]]; then
  if [[ ! -x "$CHROMIUM_PATH" ]]; then
    say "ERROR: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file."
    say "Unset CHROMIUM_PATH to use Debian's chromium, or point it at a Chromium binary."
    exit 1
  fi
  say "browser: $CHROMIUM_PATH (from CHROMIUM_PATH)"
elif [[ -x /usr/bin/chromium ]]; then
  say "browser: /usr/bin/chromium"
else
  if [[ "$(id -u)" != 0 ]]; then
    say "ERROR: the browser tests need Chromium and /usr/bin/chromium is missing."
    say "Install it as root, then run make test again:"
    say "    sudo sh -c '$APT_CMD'"
    say "(or set CHROMIUM_PATH to a Chromium binary you already have)"
    exit 1
  fi
  if ! command -v apt-get >/dev/null; then
    say "ERROR: /usr/bin/chromium is missing and this is not a Debian/Ubuntu system (no apt-get)."
    say "Install Chromium with your package manager and set CHROMIUM_PATH to its binary."
    exit 1
  fi
  say "installing chromium and fonts-liberation with apt-get (no recommends)"
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-liberation; } >"$log" 2>&1; then
    tail -n 20 "$log" | sed 's/^/  apt-get: /' >&2
    say "ERROR: apt-get could not install chromium (is the Debian package mirror reachable?)."
    say "Once it is, run as root:"
    say "    $APT_CMD"
    exit 1
  fi
  [[ -x /usr/bin/chromium ]] || { say "ERROR: apt-get finished but /usr/bin/chromium is still missing"; exit 1; }
  say "browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
fi

# --- 2. Playwright driver ---------------------------------------------------
if ! PLAYWRIGHT_CORE_VERSION="$VERSION" "$ROOT/scripts/install-playwright-driver.sh" "$DRIVER_DIR" >/dev/null; then
  say "ERROR: could not install the Playwright driver (playwright-core $VERSION) into $DRIVER_DIR."
  say "It needs Node.js >= 20 with npm, and the npm registry. Once they are available, run:"
  say "    PLAYWRIGHT_CORE_VERSION=$VERSION scripts/install-playwright-driver.sh $DRIVER_DIR"
  exit 1
fi
say "driver: playwright-core $VERSION in $DRIVER_DIR"

# --- 3. axe-core (accessibility checks injected by e2e/a11y_test.go) -------
AXE_DIR="${AXE_CORE_DIR:-$ROOT/.cache/axe-core-${AXE_CORE_VERSION:-4.14.1}}"
if ! "$ROOT/scripts/install-axe-core.sh" "$AXE_DIR" >/dev/null; then
  say "ERROR: could not install axe-core into $AXE_DIR (it needs npm and the npm registry)."
  say "Once they are available, run: scripts/install-axe-core.sh $AXE_DIR"
  exit 1
fi
say "axe-core: $AXE_DIR"
