#!/bin/sh
# Bounded smoke run of one libFuzzer target: 5 seconds over its seed corpus
# in tests/fuzz/NAME. Usage: fuzz_run.sh NAME TEST (runs tests/fuzz/fuzz_NAME
# and reports as TEST). The targets exist only in a build made with
# `CC=clang ../configure --enable-fuzzing`; elsewhere the test skips.
#
# Longer run, by hand, from the build directory (new inputs go to the
# first directory, so the seed corpus in the source tree stays as it is):
#   mkdir -p /tmp/frame-corpus
#   ./tests/fuzz/fuzz_frame -max_total_time=600 /tmp/frame-corpus "$top_srcdir/tests/fuzz/frame"
set -u

name=$1
test_name=$2
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir/build}"
fuzzer=$top_builddir/tests/fuzz/fuzz_$name

if [ ! -x "$fuzzer" ]; then
	echo "SKIP [$test_name]: $fuzzer not built; configure with CC=clang ../configure --enable-fuzzing"
	exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ivicli-$test_name.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" || exit 99

"$fuzzer" -max_total_time=5 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work/corpus" "$top_srcdir/tests/fuzz/$name" >"$work/fuzz.log" 2>&1
status=$?
if [ "$status" -ne 0 ]; then
	tail -n 60 "$work/fuzz.log"
	for crash in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -f "$crash" ] || continue
		echo "---- $(basename "$crash") (hex)"
		od -An -tx1 "$crash" | head -n 20
	done
	echo "FAIL [$test_name]: fuzz_$name exited with status $status"
	exit 1
fi
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units)' "$work/fuzz.log"
echo "ok [$test_name]: 5 s of fuzzing found no crash"
