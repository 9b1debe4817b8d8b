#!/bin/bash
# The server under valgrind memcheck across many certificate swaps: two
# pairs installed in turn, reloaded through the control socket and, every
# tenth swap, through SIGHUP, while one TLS connection opened before the
# first swap stays open on the first credentials. At the end memcheck
# must report no error and nothing definitely lost, the old connection
# must still be answered, and the descriptor count must be what it was.
#
# FAULT_SWAPS sets the number of swaps (default 200; docs/security.md
# records a 1,000-swap run). Skips (77) without valgrind, and in a
# sanitizer build, where memcheck cannot run.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require
command -v valgrind >/dev/null || t_skip "valgrind not found (Debian package valgrind)"
if ldd "$IVICLI" 2>/dev/null | grep -qE 'lib(a|ub)san'; then
	t_skip "$IVICLI is built with sanitizers; memcheck needs a normal build"
fi
SWAPS=${FAULT_SWAPS:-200}
case $SWAPS in
'' | *[!0-9]*) t_fail "FAULT_SWAPS must be a number, got '$SWAPS'" ;;
esac
[ "$SWAPS" -ge 2 ] && [ "$SWAPS" -le 10000 ] || t_fail "FAULT_SWAPS must be between 2 and 10000"

mkpki
mkleaf one
mkleaf two
install_pair one "$W/live"
srv_control_key
# Long timeouts, because memcheck slows the server down many times. Two
# might expire a second after one, so going back to one needs allow_rollback.
srv_config "handshake_timeout = 60
idle_timeout = 3600" "allow_rollback = true"
FP_ONE=$(fingerprint one.crt)
FP_TWO=$(fingerprint two.crt)

# The server runs as valgrind's child through exec, so SERVER_PID is
# valgrind's pid and the server's at once.
cat >"$W/ivicli-memcheck" <<SH
#!/bin/sh
exec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
	--show-leak-kinds=definite --track-fds=no --log-file="$W/memcheck.log" "$IVICLI" "\$@"
SH
chmod +x "$W/ivicli-memcheck"
IVICLI="$W/ivicli-memcheck" start_server
f_baseline_server
expect_serving one 60

# A connection that stays open on generation 1 for the whole run.
mkfifo "$W/held.in"
timeout 3600 openssl s_client -quiet -connect "127.0.0.1:$PORT" <"$W/held.in" >"$W/held.out" 2>&1 &
HELD_PID=$!
t_track "$HELD_PID"
exec 7>"$W/held.in"
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' >&7
t_wait_for 60 grep -q '^HTTP/1.1 200' "$W/held.out" || t_fail "the held connection got no first response"
f_baseline_server

# ---- swaps (not "i": t_wait_for uses it) ---------------------------------------------------------------------
start=$(date +%s)
for swap in $(seq "$SWAPS"); do
	if [ $((swap % 2)) -eq 1 ]; then
		name=two
		fp=$FP_TWO
	else
		name=one
		fp=$FP_ONE
	fi
	install_pair "$name" "$W/live"
	if [ $((swap % 10)) -eq 0 ]; then
		kill -HUP "$SERVER_PID"
		t_wait_for 60 audit_count_is cert-reloaded "$swap" || t_fail "swap $swap by SIGHUP did not happen"
	else
		out=$(ctl --type reload --fingerprint "$fp" --timeout-ms 60000 2>>"$W/ctlprobe.log")
		case $out in
		*'"ok":true'*'"changed":true'*) ;;
		*) t_fail "swap $swap by the control socket failed: $out" ;;
		esac
	fi
	if [ $((swap % 50)) -eq 0 ]; then
		expect_serving "$name" 60
		t_log "$swap swaps in $(($(date +%s) - start)) s"
	fi
done
[ "$(audit_count cert-reloaded)" -eq "$SWAPS" ] ||
	t_fail "expected $SWAPS cert-reloaded lines, found $(audit_count cert-reloaded)"

# The held connection still works on the credentials it started with.
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >&7
t_wait_for 60 sh -c "[ \$(grep -c '^HTTP/1.1 200' '$W/held.out') -ge 2 ]" ||
	t_fail "the connection opened before the swaps got no second response"
exec 7>&-
wait "$HELD_PID"
[ "$((SWAPS % 2))" -eq 0 ] && last=one || last=two
f_check_server "$last" "$SWAPS swaps"
t_pass "$SWAPS swaps ($((SWAPS / 10)) by SIGHUP), the connection from before the first swap still answered"

# ---- memcheck's verdict ------------------------------------------------------------
kill -TERM "$SERVER_PID"
t_wait_for 120 proc_gone "$SERVER_PID" || t_fail "the server did not stop within 120 s of SIGTERM"
wait "$SERVER_PID"
rc=$?
grep -E 'ERROR SUMMARY|definitely lost|All heap blocks' "$W/memcheck.log" | sed 's/^==[0-9]*== //' |
	while read -r line; do t_log "memcheck: $line"; done
[ "$rc" -ne 99 ] || t_fail "memcheck found errors or definite leaks; see memcheck.log: $(grep -A 12 -m 1 -E 'Invalid|uninitialised|definitely lost in' "$W/memcheck.log")"
[ "$rc" -eq 0 ] || t_fail "the server exited with status $rc under memcheck"
grep -q 'ERROR SUMMARY: 0 errors' "$W/memcheck.log" || t_fail "memcheck did not report 0 errors"
t_pass "memcheck: no errors and nothing definitely lost after $SWAPS swaps"
