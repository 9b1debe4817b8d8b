#!/bin/sh
# Runs the config.toml fuzz target for 5 s over its seed corpus. Skips
# (77) when the build was not configured with --enable-fuzzing.
set -u
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"

fuzzer=$top_builddir/tests/fuzz/fuzz_config
if [ ! -x "$fuzzer" ]; then
	echo "SKIP: $fuzzer not built (configure with CC=clang --enable-fuzzing)"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ivicli-fuzz-config.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"

# New inputs go to the scratch corpus; the seeds in the source tree stay as
# they are. A crash leaves its input in $work and fails the test.
"$fuzzer" -max_total_time=5 -timeout=10 -rss_limit_mb=1024 \
	-artifact_prefix="$work/" "$work/corpus" "$top_srcdir/tests/fuzz/config" \
	>"$work/fuzz.log" 2>&1
status=$?
if [ "$status" -ne 0 ]; then
	tail -n 40 "$work/fuzz.log"
	for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-*; do
		[ -f "$f" ] && echo "failing input: $(basename "$f") ($(wc -c <"$f") bytes)"
	done
	exit 1
fi
grep -E '^Done|#[0-9]+.*DONE' "$work/fuzz.log" | tail -n 1
exit 0
