#!/usr/bin/env bash
# check-tracked-files.sh: fail when git tracks a build product.
#
# A compiled program (ELF, Mach-O or PE/COFF, recognised by its first bytes)
# or any file over 1 MiB outside static/vendor/ is refused: build products
# belong in bin/ (ignored) and large data in no commit at all. Run by
# `make lint`; the list of files is `git ls-files` (what a commit would carry).
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

max=$((1024 * 1024))
bad=0
while IFS= read -r -d '' f; do
	[ -f "$f" ] || continue # deleted in the work tree, or a submodule
	size=$(stat -c %s -- "$f")
	case "$f" in
	static/vendor/*) ;;
	*)
		if [ "$size" -gt "$max" ]; then
			echo "tracked file over 1 MiB: $f ($size bytes); build products and data do not belong in git" >&2
			bad=1
		fi
		;;
	esac
	[ "$size" -ge 4 ] || continue
	magic=$(od -An -tx1 -N4 -- "$f" | tr -d ' \n')
	kind=""
	case "$magic" in
	7f454c46) kind="ELF executable or object" ;;
	feedface | feedfacf | cefaedfe | cffaedfe) kind="Mach-O executable" ;;
	cafebabe | bebafeca) kind="Mach-O universal binary" ;;
	4d5a*) kind="PE (Windows) executable" ;;
	esac
	if [ -n "$kind" ]; then
		echo "tracked binary: $f ($kind); build into bin/ (git-ignored), never commit it" >&2
		bad=1
	fi
done < <(git ls-files -z)
if [ "$bad" -ne 0 ]; then
	echo "remove these with 'git rm --cached FILE' (and add them to .gitignore)" >&2
	exit 1
fi
