#!/usr/bin/env bash
# vendor-assets.sh: refresh the front-end assets committed under static/vendor
# from the npm registry, at the pinned versions below. The console embeds
# static/ into its binary, so nothing is fetched at run time.
set -euo pipefail

HTMX_VERSION=2.0.11
PICO_VERSION=2.1.1

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$tmp"
npm pack --silent "htmx.org@$HTMX_VERSION" "@picocss/pico@$PICO_VERSION" >/dev/null
mkdir htmx pico
tar -xzf "htmx.org-$HTMX_VERSION.tgz" -C htmx
tar -xzf "picocss-pico-$PICO_VERSION.tgz" -C pico

mkdir -p "$out"
cp htmx/package/dist/htmx.min.js "$out/htmx.min.js"
cp htmx/package/LICENSE "$out/htmx.LICENSE"
cp pico/package/css/pico.min.css "$out/pico.min.css"
cp pico/package/LICENSE.md "$out/pico.LICENSE.md"
cat >"$out/VERSIONS" <<V
htmx.org $HTMX_VERSION
@picocss/pico $PICO_VERSION
V
echo "vendored htmx $HTMX_VERSION and pico $PICO_VERSION into $out"
