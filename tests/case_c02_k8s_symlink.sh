#!/bin/bash
# C02: a Kubernetes secret volume. tls.crt and tls.key link to ..data/...,
# ..data is a symlink swapped by rename to a new timestamped directory, and
# the old generation is deleted at once. The visible names never change, so
# only dot-name events announce the swap. Then 20 generations back to back.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

# gen NAME STAMP: publish NAME as a new generation, the way the kubelet does.
gen() {
	local d="..$2" prev f
	mkdir "sec/$d"
	cp "$1.fullchain.pem" "sec/$d/tls.crt"
	cp "$1.key" "sec/$d/tls.key"
	cp ca.crt "sec/$d/ca.crt"
	prev=$(readlink sec/..data 2>/dev/null || true)
	ln -s "$d" sec/..data_tmp && mv -T sec/..data_tmp sec/..data
	[ -n "$prev" ] && rm -rf "sec/$prev"
	for f in tls.crt tls.key ca.crt; do
		[ -L "sec/$f" ] || ln -s "..data/$f" "sec/$f"
	done
}

t_init
mkpki
w_mkleaves old new
mkdir sec
gen old 2024_01_01_00_00_00.000000001
w_config "$W/sec/tls.crt" "$W/sec/tls.key"
make_control_key
start_server
expect_serving old 15
start_watcher
r0=$(reloads)

gen new 2024_02_01_00_00_00.000000002
expect_serving new 20
expect_reloads $((r0 + 1))
t_pass "..data swap seen: new served after one reload"

# Stress the read race: 20 generations, the previous one removed each time.
r1=$(reloads)
t0=$(date +%s%N)
for i in $(seq 10 29); do
	if [ $((i % 2)) -eq 0 ]; then gen old "2024_03_01_00_00_$i.0"; else gen new "2024_03_01_00_00_$i.0"; fi
done
expect_serving new 20
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
expect_still new 2
alive "$WATCHER_PID" watcher
alive "$SERVER_PID" server
# The watcher may send a fingerprint the server no longer finds (stale), but
# never a mixed pair.
[ "$(count_lines 'key_mismatch' "$W/audit.log")" -eq 0 ] ||
	t_fail "the server saw a mixed generation: $(grep -m 1 key_mismatch "$W/audit.log")"
t_pass "20 generations back to back: last one served, no mixed pair reached the server"

# The reload rate cap allows a burst of 5, then one reload per 0.5 s
# (5 * settle_ms of 50 ms, at least 0.5 s). The bound follows the measured
# time, so a slow machine does not fail it.
flood=$(($(reloads) - r1))
cap=$((5 + elapsed_ms / 500 + 1))
[ "$flood" -le "$cap" ] || t_fail "$flood reloads for 20 generations in $elapsed_ms ms, expected at most $cap"
t_pass "20 generations back to back: $flood reloads in $elapsed_ms ms, at most $cap"
