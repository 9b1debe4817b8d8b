#!/bin/sh
# Bounded smoke run of the HTTP request path fuzz target: 5 seconds from the
# seed corpus in tests/fuzz/http. The target exists only in a build made
# with `CC=clang ../configure --enable-fuzzing`; elsewhere this test skips.
#
# Longer run, by hand, from the build directory (new inputs go to the
# first directory, so the seed corpus in the source tree stays as it is):
#   mkdir -p /tmp/http-corpus
#   ./tests/fuzz/fuzz_http -max_total_time=600 /tmp/http-corpus "$top_srcdir/tests/fuzz/http"
set -u

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
fuzzer=$top_builddir/tests/fuzz/fuzz_http

if [ ! -x "$fuzzer" ]; then
	echo "SKIP [server_fuzz_http]: $fuzzer not built; configure with CC=clang ../configure --enable-fuzzing"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ivicli-server_fuzz_http.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" || exit 99

"$fuzzer" -max_total_time=5 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work/corpus" "$top_srcdir/tests/fuzz/http" >"$work/fuzz.log" 2>&1
status=$?
if [ "$status" -ne 0 ]; then
	tail -n 60 "$work/fuzz.log"
	for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -f "$crash" ] || continue
		echo "---- $(basename "$crash") (hex)"
		od -An -tx1 "$crash" | head -n 20
	done
	echo "FAIL [server_fuzz_http]: fuzz_http exited with status $status"
	exit 1
fi
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$work/fuzz.log"
echo "ok [server_fuzz_http]: 5 s of fuzzing found no crash"
