#!/usr/bin/env bash
# install-postgres.sh: make sure this machine has the PostgreSQL server binaries the
# store tests use (initdb, postgres), installing Debian's postgresql package when they
# are missing. `make test-unit` (and so `make test`) runs it. The tests start their own
# throw-away cluster (internal/testutil/pgtest); the package's own cluster is not used.
#
# When PostgreSQL is missing and cannot be installed here (not root, no apt-get, no
# package registry), it prints the commands to run and fails under CI (CI set and not
# "false"); elsewhere it warns and succeeds, and the tests that need PostgreSQL skip,
# saying so.
#
# Environment:
#   CONSOLE_TEST_POSTGRES_BIN  a directory holding initdb and postgres, instead of
#                              /usr/lib/postgresql/<version>/bin
#   CONSOLE_TEST_POSTGRES_URL  a running cluster to use instead: nothing is installed
set -euo pipefail

say() { echo "test-deps: $*" >&2; }
in_ci() { [[ -n "${CI:-}" && "${CI}" != "false" && "${CI}" != "0" ]]; }
missing() {
  say "$1"
  if in_ci; then exit 1; fi
  say "WARNING: continuing without PostgreSQL: the tests that need it will skip."
  exit 0
}

if [[ -n "${CONSOLE_TEST_POSTGRES_URL:-}" ]]; then
  say "postgresql: using the cluster in CONSOLE_TEST_POSTGRES_URL"
  exit 0
fi
if [[ -n "${CONSOLE_TEST_POSTGRES_BIN:-}" ]]; then
  [[ -x "$CONSOLE_TEST_POSTGRES_BIN/initdb" ]] || missing "ERROR: CONSOLE_TEST_POSTGRES_BIN=$CONSOLE_TEST_POSTGRES_BIN has no initdb."
  say "postgresql: $CONSOLE_TEST_POSTGRES_BIN"
  exit 0
fi
find_initdb() { ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n 1; }
if [[ -n "$(find_initdb)" ]]; then
  say "postgresql: $(dirname "$(find_initdb)")"
  exit 0
fi

APT_CMD="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql"
if [[ "$(id -u)" != 0 ]]; then
  missing "the store tests need PostgreSQL's server binaries. Install them as root: sudo sh -c '$APT_CMD'"
fi
command -v apt-get >/dev/null || missing "PostgreSQL is missing and this is not a Debian/Ubuntu system (no apt-get): install its server and set CONSOLE_TEST_POSTGRES_BIN to the directory holding initdb."

say "installing postgresql with apt-get (no recommends)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql; } >"$log" 2>&1; then
  tail -n 20 "$log" | sed 's/^/  apt-get: /' >&2
  missing "ERROR: apt-get could not install postgresql (is the Debian package mirror reachable?). Once it is, run as root: $APT_CMD"
fi
[[ -n "$(find_initdb)" ]] || missing "ERROR: apt-get finished but no /usr/lib/postgresql/*/bin/initdb appeared"
say "postgresql: installed $(dirname "$(find_initdb)")"
