#!/bin/bash
# Certificate file faults under a running server and watcher. The faults
# are a truncated certificate, an empty key, a key the watcher's user
# cannot read, the watched directory removed, the certificate path replaced
# by a directory, a FIFO or a device, a symlink loop, and a 100 MB file.
# For each one the watcher logs one warning with the error code and sends
# nothing, a reload requested on the control socket is rejected with the
# same code, and the server keeps serving the last good certificate. A good
# pair installed afterwards is picked up, so neither program is left stuck.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require

# The watcher warns once a broken set has lasted mismatch_grace seconds.
# The pairs alternate, and the later one may expire a second after the
# earlier one, so allow_rollback keeps the rollback check out of the way.
T_GRACE_S=2
w_start_live "allow_rollback = true"
f_baseline_server
f_baseline_watcher
GOOD=old
CRT="$W/live/tls.crt"
KEY="$W/live/tls.key"

# other_pair: the pair that is not served now.
other_pair() { [ "$GOOD" = old ] && echo new || echo old; }

# put SOURCE DEST: replaces DEST by SOURCE with a rename, as a careful writer does.
put() {
	cp "$1" "$2.tmp" && mv -f "$2.tmp" "$2"
}

# broken WHAT FILE CODE: after the fault WHAT, the watcher warns once about
# FILE with CODE, a control reload is rejected with CODE, the server keeps
# GOOD and neither program leaks a descriptor.
broken() {
	f_expect_one wlog "watch: $2 still unusable after [0-9]+ s \\($3: " "$1"
	f_expect_code "$3" --type reload --fingerprint "$(fingerprint "$GOOD.crt")"
	f_expect_one slog "tls: reload from control socket rejected: $2: .*\\($3\\)" "$1"
	f_expect_one audit "\"action\":\"cert-reload-rejected\",\"code\":\"$3\"" "$1"
	f_expect_none audit '"action":"cert-reloaded"' "$1"
	f_check_server "$GOOD" "$1"
	f_check_watcher "$1"
}

# recovered WHAT: a good pair installed after the fault is served.
recovered() {
	next=$(other_pair)
	install_pair "$next" "$W/live"
	expect_serving "$next" 20
	GOOD=$next
	f_check_watcher "recovery from $1"
	t_pass "$1: one warning, the reload rejected with its code, $GOOD served after recovery"
}

# ---- truncated certificate ---------------------------------------------------
f_mark
head -c 300 "$(other_pair).fullchain.pem" >"$W/cut.pem"
put "$W/cut.pem" "$CRT"
broken "a truncated certificate" "$CRT" truncated
recovered "truncated certificate"

# ---- empty key -------------------------------------------------------------
f_mark
: >"$W/empty.key"
put "$W/empty.key" "$KEY"
broken "an empty key" "$KEY" file_empty
recovered "empty key"

# ---- watched directory removed -----------------------------------------------
f_mark
rm -rf "$W/live"
broken "the watched directory removed" "$CRT" file_missing
recovered "watched directory removed"

# ---- certificate path replaced by a directory, a FIFO, a device ----------------
f_mark
rm -f "$CRT"
mkdir "$CRT"
broken "the certificate path replaced by a directory" "$CRT" not_a_regular_file
rmdir "$CRT"
recovered "certificate path replaced by a directory"

f_mark
rm -f "$CRT"
mkfifo "$CRT"
broken "the certificate path replaced by a FIFO" "$CRT" not_a_regular_file
rm -f "$CRT"
recovered "certificate path replaced by a FIFO"

f_mark
ln -sfn /dev/zero "$CRT"
broken "the certificate path linked to /dev/zero" "$CRT" not_a_regular_file
rm -f "$CRT"
recovered "certificate path linked to /dev/zero"

# ---- symlink loop ------------------------------------------------------------
f_mark
ln -sfn loop-b "$W/live/loop-a"
ln -sfn loop-a "$W/live/loop-b"
ln -sfn loop-a "$W/live/tls.crt.tmp"
mv -fT "$W/live/tls.crt.tmp" "$CRT"
broken "a symlink loop" "$CRT" io_error
f_has_new wlog 'Too many levels of symbolic links' || t_fail "the watcher did not name the symlink loop"
rm -f "$CRT" "$W/live/loop-a" "$W/live/loop-b"
recovered "symlink loop"

# ---- 100 MB file ---------------------------------------------------------------
f_mark
truncate -s 100M "$W/big.pem"
put "$W/big.pem" "$CRT"
rm -f "$W/big.pem"
broken "a 100 MB certificate file" "$CRT" file_too_big
recovered "100 MB certificate file"

# ---- key unreadable by the watcher's user --------------------------------------
if ! f_make_user; then
	t_log "SKIP part: the unreadable key needs root (useradd, chown); not run"
	exit 0
fi
t_log "second user $F_USER (uid $F_UID) runs the watcher"
stop_watcher
chmod 755 "$W"
install -d -o "$F_USER" -m 700 "$W/user"
install -o "$F_USER" -m 600 "$W/control.key" "$W/user/control.key"
sed "s|^key_path = \"$W/control.key\"|key_path = \"$W/user/control.key\"|" "$W/config.toml" >"$W/watcher.toml"
grep -q "$W/user/control.key" "$W/watcher.toml" || t_fail "watcher.toml does not use the user's key copy"
# Both configs allow root and the second user on the control socket.
printf '\n' >>"$W/config.toml"
sed -i "s|^key_path = \"$W/control.key\"|&\nallowed_users = [\"root\", \"$F_USER\"]|" "$W/config.toml"
chown "$F_USER" "$KEY"

srv_stop_check
start_server
chmod 755 "$W/run"
chmod 666 "$W/run/control.sock"
f_baseline_server
expect_serving "$GOOD" 15
setpriv --reuid "$F_UID" --regid "$F_UID" --clear-groups -- "$CERTWATCH" watch \
	--config "$W/watcher.toml" --ready-file "$W/user/ready" --log-level debug >>"$W/watcher.log" 2>&1 &
WATCHER_PID=$!
t_track "$WATCHER_PID"
t_wait_for 15 test -e "$W/user/ready" || t_fail "the watcher as $F_USER did not become ready"
f_baseline_watcher

f_mark
next=$(other_pair)
cp "$next.fullchain.pem" "$W/live/.c" && mv -f "$W/live/.c" "$CRT"
cp "$next.key" "$W/live/.k" && chmod 600 "$W/live/.k" && mv -f "$W/live/.k" "$KEY"
f_expect_one wlog "watch: $KEY still unusable after [0-9]+ s \\(permission_denied: " "a key unreadable by $F_USER"
f_expect_none audit 'cert-reload' "a key unreadable by $F_USER"
f_check_server "$GOOD" "a key unreadable by $F_USER"
f_check_watcher "a key unreadable by $F_USER"

# The same pair, now owned by the watcher's user, goes through.
cp "$next.key" "$W/live/.k" && chown "$F_USER" "$W/live/.k" && chmod 600 "$W/live/.k" &&
	mv -f "$W/live/.k" "$KEY"
expect_serving "$next" 20
f_check_watcher "recovery from an unreadable key"
t_pass "key unreadable by $F_USER: one warning, nothing sent; served once readable"
stop_pid "$WATCHER_PID"
srv_stop_check
