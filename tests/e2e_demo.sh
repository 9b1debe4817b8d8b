#!/bin/bash
# The README demo (tests/demo.sh) against this build: it must succeed, show
# two different serials served by one server pid, stop what it started and
# remove its directory.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"

t_init
command -v curl >/dev/null || t_skip "curl not found (Debian package curl)"
e2e_require_programs

"$top_srcdir/tests/demo.sh" "$top_builddir" >"$W/demo.log" 2>&1
status=$?
cat "$W/demo.log"
[ "$status" -eq 0 ] || t_fail "demo.sh exited $status"

serials=$(sed -n 's/^ *serial: *\([0-9a-f]*\)$/\1/p' "$W/demo.log")
[ "$(printf '%s\n' "$serials" | grep -c .)" -eq 2 ] || t_fail "expected two 'serial:' lines, got: $serials"
first=$(printf '%s\n' "$serials" | head -n 1)
second=$(printf '%s\n' "$serials" | tail -n 1)
[ "$first" != "$second" ] || t_fail "the demo showed the same serial twice ($first)"

pids=$(sed -n 's/^ *server pid: *\([0-9][0-9]*\).*/\1/p' "$W/demo.log")
[ "$(printf '%s\n' "$pids" | grep -c .)" -eq 2 ] || t_fail "expected two 'server pid:' lines, got: $pids"
[ "$(printf '%s\n' "$pids" | sort -u | wc -l)" -eq 1 ] || t_fail "the server pid changed: $pids"

grep -q '"cert-reloaded"' "$W/demo.log" || t_fail "the demo did not show a cert-reloaded audit line"

# It cleaned up: its directory is gone and its two processes have exited.
dir=$(sed -n 's/^working directory: \([^ ]*\) .*/\1/p' "$W/demo.log")
[ -n "$dir" ] || t_fail "the demo did not print its working directory"
[ ! -e "$dir" ] || t_fail "the demo left $dir behind"
for pid in $(sed -n 's/^ *pid: *\([0-9][0-9]*\)$/\1/p' "$W/demo.log") $(printf '%s\n' "$pids" | head -n 1); do
	if kill -0 "$pid" 2>/dev/null && grep -q ivicli "/proc/$pid/cmdline" 2>/dev/null; then
		t_fail "process $pid started by the demo is still running"
	fi
done
t_pass "demo: serial $first then $second, server pid $(printf '%s\n' "$pids" | head -n 1) throughout"
