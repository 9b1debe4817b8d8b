#!/bin/sh
# Quick run of the benchmark harness (bench/run --quick), so the harness
# keeps working: every figure must be produced, and our server must show
# no failed handshake or request and no old-certificate handshake after a
# cut-over. Times and rates are never asserted.
. "${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

PATH=$PATH:/usr/sbin:/sbin
for tool in nginx haproxy wrk; do
	command -v "$tool" >/dev/null ||
		t_skip "$tool not found; install the Debian packages nginx, haproxy and wrk (bench/run installs them)"
done
PROBE=$top_builddir/bench/probe
for b in "$IVICLI" "$CERTWATCH" "$PROBE"; do
	[ -x "$b" ] || t_skip "$b is not built"
done
t_init

IVI_PROBE=$PROBE TMPDIR=$W "$top_srcdir/bench/run" --quick --no-install --results "$W/results" \
	>"$W/bench.log" 2>&1 || t_fail "bench/run --quick exited with $? (see bench.log)"
cat "$W/bench.log"

# value KEY: the figure recorded under KEY, or empty.
value() { sed -n "s/^$1=//p" "$W/results" | tail -n 1; }

missing=""
for s in ours nginx haproxy; do
	for k in lat.p50_us lat.p99_us lat.max_us rot.p99_us fail.handshakes fail.requests \
		base.handshake_failures base.request_failures old.total rotload.rps base.rps \
		base.cpu_us close.rps close.cpu_us keep.rps keep.cpu_us; do
		[ -n "$(value "$s.$k")" ] || missing="$missing $s.$k"
	done
done
for k in latn.p50_us latn.p99_us latn.max_us mem.rss_before_kb mem.rss_after_kb mem.fd_before \
	mem.fd_after idle.cpu_ms idle.wakeups; do
	[ -n "$(value "ours.$k")" ] || missing="$missing ours.$k"
done
[ -z "$missing" ] || t_fail "figures not produced:$missing"

for k in fail.handshakes fail.requests base.handshake_failures base.request_failures old.total; do
	[ "$(value "ours.$k")" = 0 ] || t_fail "ours.$k is $(value "ours.$k"), expected 0"
done
t_pass "every figure produced; ours had no failure and no old-certificate handshake"
