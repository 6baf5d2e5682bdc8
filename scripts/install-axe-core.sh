#!/usr/bin/env bash
# install-axe-core.sh: fetch axe-core (the accessibility engine the browser tests inject into
# every page) from the npm registry, pinned by version and sha512, into a git-ignored cache dir.
#
# Usage:  scripts/install-axe-core.sh [DIR]
#   DIR  defaults to $AXE_CORE_DIR, else <repo>/.cache/axe-core-<version>.
# Result: DIR/axe.min.js (and DIR/LICENSE). Idempotent: when the pinned version is in place it
# makes no network call.
#
# Environment:
#   AXE_CORE_VERSION  default 4.14.1 (change it together with its sha512 below and e2e's axeVersion)
#   NPM               npm command; default npm.
set -euo pipefail

die() { echo "install-axe-core: ERROR: $*" >&2; exit 1; }
say() { echo "install-axe-core: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
VERSION="${AXE_CORE_VERSION:-4.14.1}"
[[ "$VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "AXE_CORE_VERSION must look like 4.14.1, got '$VERSION'"
DIR="${1:-${AXE_CORE_DIR:-$ROOT/.cache/axe-core-$VERSION}}"

case "$VERSION" in
  4.14.1) WANT='FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==' ;;
  *) die "no pinned sha512 for axe-core $VERSION: add it to this script" ;;
esac

# Already there: the version file written last by a complete install.
if [[ -f "$DIR/axe.min.js" && "$(cat "$DIR/VERSION" 2>/dev/null || true)" == "$VERSION" ]]; then
  say "axe-core $VERSION already in $DIR"
  echo "$DIR"
  exit 0
fi

NPM="${NPM:-npm}"
command -v "$NPM" >/dev/null || die "npm not found (it comes with Node.js)"
command -v node >/dev/null || die "node not found"
mkdir -p "$DIR" || die "cannot create $DIR"
TMP="$(mktemp -d "$DIR/.install.XXXXXX")" || die "cannot create a temp dir in $DIR"
trap 'rm -rf "$TMP"' EXIT

say "fetching axe-core@$VERSION with npm"
if ! (cd "$TMP" && "$NPM" pack --loglevel=error --ignore-scripts "axe-core@$VERSION") >"$TMP/npm.log" 2>&1; then
  sed 's/^/  npm: /' "$TMP/npm.log" >&2
  die "npm pack axe-core@$VERSION failed (is the npm registry reachable?)"
fi
TGZ="$TMP/axe-core-$VERSION.tgz"
[[ -s "$TGZ" ]] || die "npm pack did not produce $TGZ"
GOT="$(node -e 'process.stdout.write(require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$TGZ")"
[[ "$GOT" == "$WANT" ]] || die "sha512 of axe-core-$VERSION.tgz is $GOT, want $WANT"

tar -xzf "$TGZ" -C "$TMP" package/axe.min.js package/LICENSE || die "cannot unpack $TGZ"
mv -f "$TMP/package/axe.min.js" "$DIR/axe.min.js"
mv -f "$TMP/package/LICENSE" "$DIR/LICENSE"
echo "$VERSION" >"$DIR/VERSION"
say "installed axe-core $VERSION in $DIR"
echo "$DIR"
