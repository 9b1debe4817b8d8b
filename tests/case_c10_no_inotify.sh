#!/bin/bash
# C10: no inotify events. (a) Files changed in the lower layer of an
# overlay mount: the merged view changes without an event, so the watcher
# must notice overlayfs and poll. (b) All inotify instances of the
# watcher's user already in use: inotify_init1 fails with EMFILE, the
# watcher logs the errno and the sysctl to raise, and polls. In both the
# new certificate is served within a polling interval. Both parts need
# root (mount, useradd); without it they are skipped and the forced
# polling test (watcher_poll.sh) covers the shared polling machinery.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

[ "$(id -u)" -eq 0 ] || t_skip "needs root for the overlay mount and a throwaway user"
command -v setpriv >/dev/null || t_skip "setpriv not found (Debian package util-linux)"

C10_USER=""
C10_MOUNT=""
# Stops our processes before unmounting (the watcher keeps a watch on the
# mount), removes the throwaway user, then runs the usual cleanup.
c10_cleanup() {
	local s=$? pid
	for pid in $T_PIDS; do kill "$pid" 2>/dev/null; done
	for pid in $T_PIDS; do wait "$pid" 2>/dev/null; done
	T_PIDS=""
	[ -n "$C10_MOUNT" ] && { umount "$C10_MOUNT" 2>/dev/null || umount -l "$C10_MOUNT"; }
	[ -n "$C10_USER" ] && userdel "$C10_USER" 2>/dev/null
	(exit "$s")
	t_cleanup
}

t_init
trap 'c10_cleanup' EXIT
T_POLL_MS=300
mkpki
mkleaf old
mkleaf new

# ---- (a) overlay: the change happens below the merged view ---------------
mkdir -p ov/lower ov/upper ov/work ov/merged
cp old.fullchain.pem ov/lower/tls.crt
install -m 600 old.key ov/lower/tls.key
if mount -t overlay overlay -o "lowerdir=$W/ov/lower,upperdir=$W/ov/upper,workdir=$W/ov/work" \
	"$W/ov/merged" 2>"$W/mount.err"; then
	C10_MOUNT="$W/ov/merged"
	w_config "$W/ov/merged/tls.crt" "$W/ov/merged/tls.key"
	make_control_key
	start_server
	expect_serving old 15
	start_watcher
	expect_wlog "polling every 300 ms because $W/ov/merged is on overlayfs" 10
	cat new.fullchain.pem >ov/lower/tls.crt
	cat new.key >ov/lower/tls.key
	cmp -s ov/merged/tls.crt new.fullchain.pem || t_fail "the merged view does not show the new file"
	expect_serving new 20
	t_pass "overlay lower-layer change: detected by polling, new served"
	stop_watcher
	stop_pid "$SERVER_PID"
	umount "$W/ov/merged" && C10_MOUNT=""
else
	t_log "SKIP part (a): overlay mount failed: $(cat "$W/mount.err")"
fi

# ---- (b) every inotify instance of the user taken ------------------------
[ -x /usr/bin/python3 ] || t_skip "part (b) needs /usr/bin/python3 to hold the inotify instances"
C10_USER="ivcw$$"
useradd -M -s /usr/sbin/nologin "$C10_USER" || { C10_USER=""; t_skip "useradd failed"; }
as_user() { setpriv --reuid "$C10_USER" --regid "$C10_USER" --clear-groups "$@"; }
# as_user_exec: as_user for background jobs. A function started with & runs
# in a subshell, so without exec $! would be that subshell, and stopping it
# at cleanup would leave the program running and the user undeletable.
as_user_exec() { exec setpriv --reuid "$C10_USER" --regid "$C10_USER" --clear-groups "$@"; }
# The programs must be reachable by the user; a build under a private home is not.
as_user test -x "$CERTWATCH" || t_skip "part (b): $CERTWATCH is not executable by $C10_USER"

mkdir -p b/live b/run
B="$W/b"
install_pair old "$B/live"
ALLOW="allowed_users = [\"$C10_USER\"]"
cat >"$B/config.toml" <<CFG
[api]
bind = "127.0.0.1"
port = 0

[api.tls]
enabled = true
cert_path = "$B/live/tls.crt"
key_path = "$B/live/tls.key"

[audit]
enabled = true
path = "$B/audit.log"

[control]
socket = "$B/run/control.sock"
key_path = "$B/control.key"
$ALLOW

[certwatch]
poll_interval_ms = 300
settle_ms = 50
CFG
chmod 755 "$W"
chown -R "$C10_USER:" "$B"
as_user "$CERTWATCH" keygen --config "$B/config.toml" >"$W/keygen-b.log" 2>&1 || t_fail "keygen as $C10_USER failed"

# Hold every inotify instance the user may have (bounded: 120 s at most).
as_user_exec /usr/bin/python3 -c '
import ctypes, time
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while n < 100000 and libc.inotify_init1(0) >= 0:
    n += 1
print("holding", n, "inotify instances", flush=True)
time.sleep(120)' >"$W/hold.log" 2>&1 &
HOLD=$!
t_track "$HOLD"
t_wait_for 10 grep -q holding "$W/hold.log" || t_fail "the holder did not start"
as_user inotifywait -t 1 "$W" >/dev/null 2>&1 && t_fail "inotify still works for $C10_USER"

as_user_exec "$IVICLI" api start --config "$B/config.toml" --address-file "$B/server.addr" \
	--log-level debug >>"$W/server-b.log" 2>&1 &
SERVER_PID=$!
t_track "$SERVER_PID"
t_wait_for 15 test -s "$B/server.addr" || t_fail "server as $C10_USER did not start"
PORT=$(awk '{print $2; exit}' "$B/server.addr")
expect_serving old 15
as_user_exec "$CERTWATCH" watch --config "$B/config.toml" --ready-file "$B/watcher.ready" \
	--log-level debug >>"$W/watcher-b.log" 2>&1 &
WATCHER_PID=$!
t_track "$WATCHER_PID"
t_wait_for 15 test -e "$B/watcher.ready" || t_fail "watcher as $C10_USER did not become ready"
grep -q 'inotify_init1 failed (Too many open files): raise the sysctl fs.inotify.max_user_instances' \
	"$W/watcher-b.log" || t_fail "the watcher did not log the errno and the sysctl: $(grep -m 3 watch: "$W/watcher-b.log")"
install_pair new "$B/live"
chown -R "$C10_USER:" "$B/live"
expect_serving new 20
alive "$WATCHER_PID" watcher
t_pass "inotify instances exhausted: errno and sysctl logged, polling served new"
