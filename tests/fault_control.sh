#!/bin/bash
# Control socket faults: forged, stale, replayed (also across a restart),
# oversized and malformed requests, a client that sends one byte a second,
# 1,000 connections at once, and peers whose uid is not allowed. After each
# one the server is the same process, serves the last good certificate,
# has no more open descriptors than before, and has logged one warning with
# the error code that its signed response carries.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require

mkpki
mkleaf one
mkleaf two
install_pair one "$W/live"
srv_control_key
srv_config "handshake_timeout = 2
idle_timeout = 5"
FP_TWO=$(fingerprint two.crt)

# fresh_server: stops the running server (it must exit 0 with no sanitizer
# report) and starts a new one, so that each group of faults starts with
# an empty rate limiter and a new descriptor baseline.
fresh_server() {
	[ -z "${SERVER_PID:-}" ] || srv_stop_check
	start_server
	f_baseline_server
}

# rejected CODE WHAT: one warning and one control-rejected audit line with CODE.
rejected() {
	f_expect_one slog "control: rejected a request from uid [0-9]+ pid [0-9]+ \\($1\\)" "$2"
	f_expect_one audit "\"action\":\"control-rejected\",.*\"code\":\"$1\"" "$2"
}

# ---- forged and stale requests never reload ------------------------------
fresh_server
expect_serving one 15
install_pair two "$W/live"

f_mark
f_expect_code bad_signature --type reload --fingerprint "$FP_TWO" --bad-mac
rejected bad_signature "a reload with a bad signature"
f_check_server one "a reload with a bad signature"

f_mark
f_expect_code stale_timestamp --type reload --fingerprint "$FP_TWO" --timestamp-offset -3600
rejected stale_timestamp "a reload stamped an hour ago"
f_check_server one "a reload stamped an hour ago"

f_mark
f_expect_code stale_timestamp --type reload --fingerprint "$FP_TWO" --timestamp-offset 3600
rejected stale_timestamp "a reload stamped an hour ahead"
f_check_server one "a reload stamped an hour ahead"
[ "$(audit_count cert-reloaded)" -eq 0 ] || t_fail "a rejected request reloaded the certificate"
t_pass "bad signature and stale timestamps: rejected with their codes, one still served"

# A signed reload sent twice: the first one reloads, the copy is rejected.
f_mark
ctl --type reload --fingerprint "$FP_TWO" --replay 2 >"$W/replay.out" 2>>"$W/ctlprobe.log" ||
	t_fail "ctlprobe --replay 2 failed: $(cat "$W/replay.out")"
[ "$(sed -n 1p "$W/replay.out" | grep -c '"ok":true')" -eq 1 ] ||
	t_fail "first copy of the reload not accepted: $(cat "$W/replay.out")"
sed -n 2p "$W/replay.out" | grep -q '"code":"replayed_nonce"' ||
	t_fail "second copy of the reload not rejected as replayed: $(cat "$W/replay.out")"
rejected replayed_nonce "a replayed reload"
f_check_server two "a replayed reload"
[ "$(audit_count cert-reloaded)" -eq 1 ] || t_fail "expected one reload, got $(audit_count cert-reloaded)"
t_pass "replayed reload: the copy rejected with replayed_nonce, one reload in the audit log"

# ---- a request captured before a restart --------------------------------------
# The new server's nonce cache is empty, so only the timestamp can tell
# that this signed copy was made for the server that ran before.
ctl --type status --output "$W/captured.bin" 2>>"$W/ctlprobe.log" || t_fail "ctlprobe --output failed"
CAPTURED=$(od -An -tx1 "$W/captured.bin" | tr -d ' \n')
f_expect_code ok --raw-hex "$CAPTURED"
# The restart must fall in a later second than the capture.
sleep 1
fresh_server
expect_serving two 15
f_mark
f_expect_code stale_timestamp --raw-hex "$CAPTURED"
rejected stale_timestamp "a request captured before a restart"
f_check_server two "a request captured before a restart"
t_pass "request captured before a restart: rejected as stale by the new server"

# ---- frames the decoder rejects ---------------------------------------------

f_mark
f_expect_code too_large --length-header 65537
rejected too_large "a length header one byte over the cap"
f_check_server two "a length header one byte over the cap"

f_mark
f_expect_code too_large --length-header 4294967295
rejected too_large "a length header of 4 GiB"
f_check_server two "a length header of 4 GiB"

f_mark
f_expect_code bad_frame --garbage 4096
rejected bad_frame "4 KiB of random bytes"
f_check_server two "4 KiB of random bytes"

f_mark
f_expect_code bad_json --payload 'this is not JSON'
rejected bad_json "a signed payload that is not JSON"
f_check_server two "a signed payload that is not JSON"

# A header announcing 100 bytes, then the client goes away: nothing to answer.
f_mark
ctl --length-header 100 --no-read >/dev/null 2>>"$W/ctlprobe.log" || t_fail "ctlprobe --no-read failed"
f_check_server two "a frame cut off after its header"
f_expect_code ok --type ping
t_pass "oversized, random and non-JSON frames: too_large, bad_frame, bad_json; a cut frame dropped"

# ---- one byte a second ---------------------------------------------------
fresh_server
f_mark
# ctlprobe itself, not the ctl function, so that $! is its pid.
"$CTLPROBE" --socket "$W/run/control.sock" --key "$W/control.key" --type ping --slow-ms 1000 \
	--timeout-ms 30000 >"$W/slow.out" 2>>"$W/ctlprobe.log" &
SLOW_PID=$!
t_track "$SLOW_PID"
sleep 2
kill -0 "$SLOW_PID" 2>/dev/null || t_fail "the slow client ended early: $(cat "$W/slow.out")"
f_expect_code ok --type ping
f_expect_code ok --type status
expect_serving two 15
t_log "ping and status answered while the slow client holds its connection"
f_expect_one slog 'control: peer uid [0-9]+ pid [0-9]+ timed out; closing the connection' "a slow client"
t_wait_for 40 proc_gone "$SLOW_PID" || t_fail "the slow client still runs after the server timed it out"
wait "$SLOW_PID"
[ ! -s "$W/slow.out" ] || t_fail "the slow client got a response: $(cat "$W/slow.out")"
f_check_server two "a client sending one byte a second"
t_pass "slow client: others served meanwhile, dropped after the read timeout"

# ---- 1,000 connections at once ---------------------------------------------
fresh_server
f_mark
python3 "$FAULT_CONNS" --unix "$W/run/control.sock" --count 1000 --hold 30 --until-closed \
	>"$W/conns.json" 2>"$W/conns.err" || t_fail "fault_conns.py failed: $(cat "$W/conns.err")"
t_log "1000 control connections: $(cat "$W/conns.json")"
grep -q '"opened": 1000,' "$W/conns.json" || t_fail "not every connection was opened"
grep -q '"closed_by_server": 1000,' "$W/conns.json" || t_fail "the server did not close every connection"
f_has_new slog 'control: rejected a request from uid [0-9]+ pid [0-9]+ \(busy\)' ||
	t_fail "no warning about connections turned away"
n=$(f_count_new slog 'control: rejected .*\(busy\)')
[ "$n" -le 5 ] || t_fail "$n warnings about busy connections; they should be rate-limited"
f_expect_code ok --type ping
f_check_server two "1000 connections at once"
t_pass "1000 connections: all closed by the server, $n warning lines, ping answered afterwards"

# ---- peers whose uid is not allowed ------------------------------------------
if ! f_make_user; then
	t_log "SKIP part: a second user needs root and useradd; uid checks not run"
	srv_stop_check
	exit 0
fi
t_log "second user $F_USER (uid $F_UID)"
chmod 755 "$W"
install -o "$F_USER" -m 600 "$W/control.key" "$W/user.key"
# uctl ARGS...: ctlprobe run as the second user, with its own copy of the key.
uctl() {
	runuser -u "$F_USER" -- "$CTLPROBE" --socket "$W/run/control.sock" --key "$W/user.key" "$@"
}

fresh_server
f_mark
uctl --type ping >"$W/user.out" 2>"$W/user.err" && t_fail "the second user reached the socket in its 0750 directory"
[ ! -s "$W/user.out" ] || t_fail "the second user got a response: $(cat "$W/user.out")"
grep -qi 'permission denied\|permission' "$W/user.err" || t_fail "ctlprobe did not report a permission error: $(cat "$W/user.err")"
f_expect_none audit control-rejected "a connect refused by the file system"
t_log "socket directory mode 0750 keeps the second user out"

# With the modes opened up, SO_PEERCRED still rejects the user.
chmod 755 "$W/run"
chmod 666 "$W/run/control.sock"
f_mark
out=$(uctl --type reload --fingerprint "$FP_TWO" 2>>"$W/user.err")
echo "$out" | grep -q '"code":"peer_not_allowed"' || t_fail "second user not rejected: $out"
f_expect_one slog "control: rejected a request from uid $F_UID pid [0-9]+ \\(peer_not_allowed\\)" "a request from uid $F_UID"
f_expect_one audit "\"code\":\"peer_not_allowed\",\"peer_uid\":$F_UID," "a request from uid $F_UID"
f_check_server two "a request from uid $F_UID"
t_pass "uid $F_UID not in allowed_users: peer_not_allowed, audited with its uid"

# allowed_users names only the second user: it is served, root is not.
srv_config "handshake_timeout = 2
idle_timeout = 5" "" "allowed_users = [\"$F_USER\"]"
fresh_server
chmod 755 "$W/run"
chmod 666 "$W/run/control.sock"
out=$(uctl --type ping 2>>"$W/user.err")
echo "$out" | grep -q '"ok":true' || t_fail "allowed second user not served: $out"
f_mark
f_expect_code peer_not_allowed --type ping
f_expect_one audit '"code":"peer_not_allowed","peer_uid":0,' "a request from root"
f_check_server two "allowed_users without root"
t_pass "allowed_users = [\"$F_USER\"]: that user served, root rejected"
srv_stop_check
