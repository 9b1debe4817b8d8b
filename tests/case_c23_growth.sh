#!/bin/bash
# C23: memory, descriptor and watch growth over many reloads. After a
# warm-up, C23_ROTATIONS (default 100) rotations are each served; the count
# of reloads equals the count of rotations, and the descriptors, inotify
# watches and resident memory of both processes stay flat (RSS growth under
# 1 MiB; not checked under AddressSanitizer, whose quarantine keeps freed
# memory resident on purpose).
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
N=${C23_ROTATIONS:-100}
w_start_live

fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
watches() { cat "/proc/$1/fdinfo/"* 2>/dev/null | grep -c '^inotify' || true; }
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
sample() { echo "$(fds "$1") $(watches "$1") $(rss "$1")"; }
asan() { grep -q libasan "/proc/$1/maps" 2>/dev/null; }

rotate() {
	if [ $(($1 % 2)) -eq 0 ]; then install_pair old live; else install_pair new live; fi
	t_wait_for 20 serving "$([ $(($1 % 2)) -eq 0 ] && echo old || echo new)" ||
		t_fail "rotation $1 was not served (serving '$(served)')"
}

# Warm-up: caches, GnuTLS's lazy tables, the log buffers.
for i in $(seq 1 10); do rotate "$i"; done
r0=$(reloads)
read -r wfd0 wiw0 wrss0 <<<"$(sample "$WATCHER_PID")"
read -r sfd0 siw0 srss0 <<<"$(sample "$SERVER_PID")"
t_log "after warm-up: watcher fds=$wfd0 watches=$wiw0 rss=${wrss0}kB, server fds=$sfd0 rss=${srss0}kB"

for i in $(seq 11 $((10 + N))); do rotate "$i"; done
expect_reloads $((r0 + N))
read -r wfd1 wiw1 wrss1 <<<"$(sample "$WATCHER_PID")"
read -r sfd1 siw1 srss1 <<<"$(sample "$SERVER_PID")"
t_log "after $N rotations: watcher fds=$wfd1 watches=$wiw1 rss=${wrss1}kB, server fds=$sfd1 rss=${srss1}kB"

[ "$wfd1" -eq "$wfd0" ] || t_fail "watcher descriptors went from $wfd0 to $wfd1"
[ "$wiw1" -eq "$wiw0" ] || t_fail "watcher inotify watches went from $wiw0 to $wiw1"
[ "$sfd1" -eq "$sfd0" ] || t_fail "server descriptors went from $sfd0 to $sfd1"
if asan "$WATCHER_PID"; then
	t_log "AddressSanitizer build: resident memory not compared"
else
	[ $((wrss1 - wrss0)) -lt 1024 ] || t_fail "watcher RSS grew by $((wrss1 - wrss0)) kB over $N reloads"
	[ $((srss1 - srss0)) -lt 1024 ] || t_fail "server RSS grew by $((srss1 - srss0)) kB over $N reloads"
fi
t_pass "$N rotations, $N reloads; descriptors, watches and memory flat"
