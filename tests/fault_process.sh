#!/bin/bash
# Process faults. The watcher is killed with SIGKILL while its reload
# request is in flight and at random points of rotations, and a client is
# killed in the middle of a frame. The server is killed with SIGKILL and
# restarted, and the watcher must reconnect and reconcile. Last, the audit
# log sits on a full and on a read-only file system, and the server must
# keep serving and still reload.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require
command -v ss >/dev/null || t_skip "ss not found (Debian package iproute2)"

# Pairs go back and forth, so the rollback check (a notAfter earlier than
# the served one) is turned off because this test is not about it.
w_start_live "allow_rollback = true"
mkleaf third
f_baseline_server
f_baseline_watcher

# pending_control: true when a connection waits in the control socket's accept queue.
pending_control() {
	q=$(ss -xlnH 2>/dev/null | awk -v p="$W/run/control.sock" '$5 == p { print $3; exit }')
	[ "${q:-0}" -gt 0 ]
}

# ---- watcher killed while its reload request is in flight ------------------------
# The server is stopped (SIGSTOP) so that the request waits in the socket
# queue, and the watcher is killed before any response can come.
f_mark
kill -STOP "$SERVER_PID"
install_pair new "$W/live"
expect_wlog "reload: asking the server to load serial $(serial new.crt)" 20
t_wait_for 20 pending_control || t_fail "the watcher's reload request never reached the socket queue"
kill -KILL "$WATCHER_PID"
wait "$WATCHER_PID" 2>/dev/null
kill -CONT "$SERVER_PID"
# The request was complete, so the server acts on it; the response goes nowhere.
expect_serving new 20
expect_reloads 1
f_check_server new "the watcher killed while its request was in flight"

f_mark
start_watcher
expect_wlog "watch: server already serves these files \\(serial $(serial new.crt)" 20
f_expect_none audit 'cert-reload' "a watcher restart after SIGKILL"
f_baseline_watcher
t_pass "watcher killed with its request in flight: the reload happened once, the new watcher reconciled"

# ---- watcher killed at random points of rotations ---------------------------------
for i in 1 2 3 4 5; do
	if [ $((i % 2)) -eq 1 ]; then pair=old; else pair=new; fi
	install_pair "$pair" "$W/live"
	sleep "0.0$((RANDOM % 10))"
	kill -KILL "$WATCHER_PID"
	wait "$WATCHER_PID" 2>/dev/null
	start_watcher
	expect_serving "$pair" 20
done
f_check_server old "five watchers killed during rotations"
f_baseline_watcher
t_pass "watcher killed at random points of 5 rotations: each new watcher brought the server in line"

# ---- a client killed in the middle of a frame -----------------------------------
f_mark
# ctlprobe itself, not the ctl function: $! must be the process to kill.
"$CTLPROBE" --socket "$W/run/control.sock" --key "$W/control.key" --type reload \
	--fingerprint "$(fingerprint new.crt)" --slow-ms 100 >/dev/null 2>&1 &
SLOW_PID=$!
t_track "$SLOW_PID"
sleep 1
kill -KILL "$SLOW_PID"
wait "$SLOW_PID" 2>/dev/null
f_check_server old "a client killed in the middle of a frame"
# The server saw the end of the stream; it did not wait for its read timeout.
f_expect_none slog 'control: peer uid [0-9]+ pid [0-9]+ timed out' "a client killed in the middle of a frame"
f_expect_none audit 'cert-reload' "a client killed in the middle of a frame"
f_expect_code ok --type ping
t_pass "client killed mid-frame: nothing reloaded, no descriptor left"

# ---- server killed and restarted ---------------------------------------------------
f_mark
kill -KILL "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null
[ -S "$W/run/control.sock" ] || t_fail "no stale control socket left to test with"
install_pair new "$W/live"
f_expect_one wlog "control: server not reachable on $W/run/control.sock while " "the server killed"
alive "$WATCHER_PID" watcher

start_server
f_baseline_server
expect_serving new 15
f_expect_one wlog "control: server reachable again on $W/run/control.sock" "the server restarted"
f_check_watcher "a server restart"

# The reconnected watcher still drives reloads.
f_mark
install_pair third "$W/live"
expect_serving third 20
f_expect_one audit '"action":"cert-reloaded"' "a rotation after the server restart"
f_check_server third "a rotation after the server restart"
t_pass "server killed and restarted: stale socket replaced, watcher reconnected and reloads again"

# ---- audit log on a full file system -------------------------------------------------
# Root mounts a small tmpfs and fills it. Other users get a symlink to
# /dev/full as the audit path, where every write fails with ENOSPC.
srv_stop_check
if [ "$(id -u)" -eq 0 ] && mkdir "$W/full" && mount -t tmpfs -o size=64k tmpfs "$W/full" 2>>"$W/mount.log"; then
	F_MOUNTS="$W/full"
	FULL_KIND="a full 64 KiB tmpfs"
else
	mkdir -p "$W/full"
	ln -s /dev/full "$W/full/audit.log"
	FULL_KIND="/dev/full"
fi
sed -i "s|^path = \"$W/audit.log\"|path = \"$W/full/audit.log\"|" "$W/config.toml"
start_server
f_baseline_server
expect_serving third 15
if [ -n "${F_MOUNTS:-}" ]; then
	dd if=/dev/zero of="$W/full/fill" bs=4k >/dev/null 2>&1
	# Events fill the last page of the audit file until a write fails.
	for i in $(seq 60); do
		ctl --bad-mac >/dev/null 2>&1
		grep -q 'audit: cannot' "$W/server.log" && break
	done
fi
f_mark
install_pair old "$W/live"
f_expect_code ok --type reload --fingerprint "$(fingerprint old.crt)"
f_check_server old "a reload with the audit log on $FULL_KIND"
grep -qE "error: audit: cannot (write to|write a whole line to|open) $W/full/audit.log \\(No space left on device\\)" "$W/server.log" ||
	t_fail "no error line for the audit log on $FULL_KIND"
for i in 1 2 3 4 5 6; do
	f_expect_code bad_signature --bad-mac
done
n=$(grep -c 'audit: cannot' "$W/server.log")
[ "$n" -le 3 ] || t_fail "$n audit error lines for repeated failures; they should be rate-limited"
f_check_server old "repeated audit failures on $FULL_KIND"
t_pass "audit log on $FULL_KIND: reload done, $n error lines, serving continued"
srv_stop_check
for m in ${F_MOUNTS:-}; do
	umount "$m"
done
F_MOUNTS=""

# ---- audit log on a read-only file system ------------------------------------------
# Root remounts a tmpfs read-only under the running server. For other
# users the audit file sits in a directory with mode 0555.
mkdir -p "$W/ro"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=64k tmpfs "$W/ro" 2>>"$W/mount.log"; then
	F_MOUNTS="$W/ro"
	RO_KIND="a read-only tmpfs"
else
	RO_KIND="a directory with mode 0555"
fi
sed -i "s|^path = \"$W/full/audit.log\"|path = \"$W/ro/audit.log\"|" "$W/config.toml"
start_server
f_baseline_server
expect_serving old 15
grep -q '"action":"started"' "$W/ro/audit.log" || t_fail "no started line in $W/ro/audit.log"
if [ -n "${F_MOUNTS:-}" ]; then
	mount -o remount,ro "$W/ro" || t_fail "cannot remount $W/ro read-only"
	ERR="Read-only file system"
else
	rm -f "$W/ro/audit.log"
	chmod 555 "$W/ro"
	ERR="Permission denied"
fi
f_mark
install_pair new "$W/live"
f_expect_code ok --type reload --fingerprint "$(fingerprint new.crt)"
f_expect_one slog "error: audit: cannot open $W/ro/audit.log \\($ERR\\)" "a reload with the audit log on $RO_KIND"
f_check_server new "a reload with the audit log on $RO_KIND"
t_pass "audit log on $RO_KIND: reload done, one error line, serving continued"
srv_stop_check
