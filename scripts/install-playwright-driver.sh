#!/usr/bin/env bash
# install-playwright-driver.sh: build the Playwright driver that the browser tests
# (e2e/) use, from the npm package playwright-core, without Playwright's own download
# servers (which this project's machines cannot reach).
#
# Usage:  scripts/install-playwright-driver.sh DRIVER_DIR
#   DRIVER_DIR  defaults to $PLAYWRIGHT_DRIVER_PATH. `make test-deps` passes
#               .cache/playwright-driver-<version> (git-ignored).
#
# Environment:
#   PLAYWRIGHT_CORE_VERSION  default 1.64.1: the driver version that the Go module
#                            github.com/mxschmitt/playwright-go v0.6401.0 (see go.mod) refuses
#                            to run without. Change both together.
#   PLAYWRIGHT_NODEJS_PATH   Node.js (>= 20) to run the driver with; default `command -v node`.
#   NPM                      npm command; default npm.
#
# Result (the layout playwright-go looks for):
#   DRIVER_DIR/package/cli.js   the unpacked playwright-core tarball
#   DRIVER_DIR/node             symlink to the system Node.js
# No browser is downloaded: the tests launch Debian's /usr/bin/chromium.
#
# Idempotent: when the right version is already in place it only re-checks it, offline.
# Only DRIVER_DIR/package and DRIVER_DIR/node are ever replaced.
set -euo pipefail

die() { echo "install-playwright-driver: ERROR: $*" >&2; exit 1; }
say() { echo "install-playwright-driver: $*" >&2; }

VERSION="${PLAYWRIGHT_CORE_VERSION:-1.64.1}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "PLAYWRIGHT_CORE_VERSION must look like 1.64.1, got '$VERSION'"

DIR="${1:-${PLAYWRIGHT_DRIVER_PATH:-}}"
[[ -n "$DIR" ]] || die "usage: $0 DRIVER_DIR (or set PLAYWRIGHT_DRIVER_PATH)"
case "$DIR" in
  / | /usr | /usr/local | /bin | /etc | "${HOME:-/}") die "refusing to install into '$DIR'" ;;
esac
mkdir -p "$DIR" || die "cannot create $DIR"
DIR="$(cd "$DIR" && pwd -P)"

# Node.js: playwright-go runs DIR/node, so we link the system one there.
NODE="${PLAYWRIGHT_NODEJS_PATH:-$(command -v node || true)}"
[[ -n "$NODE" && -x "$NODE" ]] || die "Node.js not found: install Node.js 20 or newer, or set PLAYWRIGHT_NODEJS_PATH"
NODE="$(readlink -f "$NODE")"
"$NODE" -v >/dev/null 2>&1 || die "cannot run $NODE"

# Refuse a Node.js older than the package's engines.node (1.64 needs >= 20).
check_node() {
  local want have
  want="$("$NODE" -p 'String((require(process.argv[1]).engines||{}).node||"").replace(/[^0-9.]/g,"").split(".")[0]' "$1/package.json" 2>/dev/null || true)"
  [[ "$want" =~ ^[0-9]+$ ]] || return 0
  have="$("$NODE" -p 'process.versions.node.split(".")[0]')"
  ((have >= want)) || die "playwright-core $VERSION needs Node.js >= $want; $NODE is $("$NODE" -v)"
}

# playwright-go's own installer adds a null check to the bundle (Playwright >= 1.60 reads
# pageError.location unguarded; it only bites Firefox). We apply the same edit so the tree
# matches what the library would have built. No-op when the pattern is absent.
patch_bundle() {
  local f="$1/lib/coreBundle.js"
  [[ -f "$f" ]] || return 0
  grep -q 'pageError\.location\.url' "$f" || return 0
  sed -i \
    -e 's/pageError\.location\.url/pageError.location?.url || ""/g' \
    -e 's/pageError\.location\.lineNumber/pageError.location?.lineNumber || 0/g' \
    -e 's/pageError\.location\.columnNumber/pageError.location?.columnNumber || 0/g' \
    "$f" || die "cannot patch $f"
}

installed_version() { "$NODE" "$DIR/package/cli.js" --version 2>/dev/null || true; }

link_node() {
  if [[ "$(readlink -f "$DIR/node" 2>/dev/null || true)" != "$NODE" ]]; then
    rm -f "$DIR/node"
    ln -s "$NODE" "$DIR/node" || die "cannot create $DIR/node"
  fi
}

# Already there: check, link, done (no network).
if [[ -f "$DIR/package/cli.js" ]] && installed_version | grep -qx "Version $VERSION"; then
  check_node "$DIR/package"
  patch_bundle "$DIR/package"
  link_node
  say "playwright-core $VERSION already in $DIR"
  echo "$DIR"
  exit 0
fi

NPM="${NPM:-npm}"
command -v "$NPM" >/dev/null || die "npm not found (it comes with Node.js)"
command -v tar >/dev/null || die "tar not found"

TMP="$(mktemp -d "$DIR/.install.XXXXXX")" || die "cannot create a temp dir in $DIR"
trap 'rm -rf "$TMP"' EXIT

say "fetching playwright-core@$VERSION with npm"
# npm pack verifies the registry's integrity hash and runs no install scripts.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if ! (cd "$TMP" && "$NPM" pack --loglevel=error --ignore-scripts "playwright-core@$VERSION") >"$TMP/npm.log" 2>&1; then
  sed 's/^/  npm: /' "$TMP/npm.log" >&2
  die "npm pack playwright-core@$VERSION failed (is the npm registry reachable? does the version exist?)"
fi
TGZ="$TMP/playwright-core-$VERSION.tgz"
[[ -s "$TGZ" ]] || die "npm pack did not produce $TGZ"

# Our own pin of the tarball's sha512, on top of npm's check.
case "$VERSION" in
  1.64.1) WANT='BC4s8y6SEVA6Q1rSxZTto8hI1KUI3xXlHGZgvGqP4IqPdI/a6FX9H29IDNz7vKo9l21b6LfYosScPL6M3xxyDQ==' ;;
  1.52.0) WANT='l2osTgLXSMeuLZOML9qYODUQoPPnUsKsb5/P6LJ2e6uPKXUdPK5WYhN4z03G+YNbWmGDY4YENauNu4ZKczreHg==' ;;
  *) WANT='' ;;
esac
if [[ -n "$WANT" ]]; then
  GOT="$("$NODE" -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$TGZ")"
  [[ "$GOT" == "$WANT" ]] || die "sha512 of playwright-core-$VERSION.tgz is $GOT, want $WANT"
else
  say "warning: no pinned sha512 for $VERSION; relying on npm's integrity check only"
fi

mkdir -p "$TMP/x"
tar -xzf "$TGZ" -C "$TMP/x" || die "cannot unpack $TGZ"
[[ -f "$TMP/x/package/cli.js" ]] || die "the tarball has no package/cli.js"
check_node "$TMP/x/package"
patch_bundle "$TMP/x/package"

rm -rf "$DIR/package.old"
if [[ -e "$DIR/package" ]]; then mv "$DIR/package" "$DIR/package.old"; fi
mv "$TMP/x/package" "$DIR/package" || die "cannot move the driver into $DIR"
rm -rf "$DIR/package.old"
link_node

GOT_VERSION="$(installed_version)"
[[ "$GOT_VERSION" == "Version $VERSION" ]] || die "'$DIR/node $DIR/package/cli.js --version' printed '$GOT_VERSION', want 'Version $VERSION'"
say "installed playwright-core $VERSION in $DIR"
echo "$DIR"
