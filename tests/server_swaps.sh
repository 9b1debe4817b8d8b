#!/bin/bash
# 1,000 credential swaps, alternating two pairs, sent as control reloads:
# every swap lands, open descriptors come back to where they started, and
# in a sanitizer build the server exits with no leak reported.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
t_init
srv_require
[ -x "$CTLPROBE" ] || t_fail "control test client $CTLPROBE not built"

SWAPS=${SERVER_SWAPS:-1000}
LIMIT_S=${SERVER_SWAPS_LIMIT_S:-900}

srv_pki
srv_control_key
srv_config
start_server
fp_one=$(fingerprint one.crt)
fp_two=$(fingerprint two.crt)

# Warm up with one request so that lazily opened descriptors are counted.
[ "$(http_get /healthz)" = 200 ] || t_fail "first request failed"
fds_before=$(fd_count "$SERVER_PID")
rss_before=$(awk '/VmRSS/{print $2}' "/proc/$SERVER_PID/status")
t_log "before: $fds_before fds, RSS $rss_before kB"

# A session kept open through the first 10 swaps keeps a reference to generation 1.
mkfifo "$W/ka.in"
gnutls-cli --no-ca-verification -p "$PORT" 127.0.0.1 <"$W/ka.in" >"$W/ka.out" 2>&1 &
KA_PID=$!
t_track "$KA_PID"
exec 3>"$W/ka.in"
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' >&3
t_wait_for 10 grep -q '^HTTP/1.1 200' "$W/ka.out" || t_fail "keep-alive session got no response"

end=$(($(date +%s) + LIMIT_S))
swap=0
while [ "$swap" -lt "$SWAPS" ] && [ "$(date +%s)" -lt "$end" ]; do
	swap=$((swap + 1))
	if [ $((swap % 2)) -eq 1 ]; then
		install_pair two "$W/live"
		fp=$fp_two
	else
		install_pair one "$W/live"
		fp=$fp_one
	fi
	r=$(ctl --type reload --fingerprint "$fp")
	case $r in
	*'"changed":true'*) ;;
	*) t_fail "swap $swap failed: $r" ;;
	esac
	if [ "$swap" -eq 10 ]; then
		printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' >&3
		t_wait_for 10 sh -c "[ \$(grep -c '^HTTP/1.1 200' '$W/ka.out') -ge 2 ]" ||
			t_fail "session from generation 1 failed after 10 swaps"
		exec 3>&-
		wait "$KA_PID"
	fi
	if [ $((swap % 100)) -eq 0 ]; then
		want=$([ $((swap % 2)) -eq 1 ] && echo two || echo one)
		serving "$want" || t_fail "after swap $swap: expected $want, got $(served)"
		t_log "swap $swap: $(fd_count "$SERVER_PID") fds, RSS $(awk '/VmRSS/{print $2}' "/proc/$SERVER_PID/status") kB"
	fi
done
[ "$swap" -eq "$SWAPS" ] || t_fail "only $swap of $SWAPS swaps within $LIMIT_S s"

tls=$(http_body /v1/tls)
[ "$(echo "$tls" | json_value generation)" = $((SWAPS + 1)) ] ||
	t_fail "generation is not $((SWAPS + 1)): $tls"
echo "$tls" | grep -q "\"by_generation\":\[{\"generation\":$((SWAPS + 1)),\"connections\":[0-9]*}\]" ||
	t_fail "older generations still alive: $tls"

t_wait_for 10 sh -c "[ \$(ls /proc/$SERVER_PID/fd | wc -l) -le $fds_before ]" ||
	t_fail "fds grew: $fds_before before, $(fd_count "$SERVER_PID") after $SWAPS swaps"
fds_after=$(fd_count "$SERVER_PID")
rss_after=$(awk '/VmRSS/{print $2}' "/proc/$SERVER_PID/status")
t_log "after $SWAPS swaps: $fds_after fds (before $fds_before), RSS $rss_after kB (before $rss_before)"
[ "$(count_lines '"action":"cert-reloaded"' "$W/audit.log")" -eq "$SWAPS" ] ||
	t_fail "audit lines for reloads: $(count_lines '"action":"cert-reloaded"' "$W/audit.log"), expected $SWAPS"
t_pass "$SWAPS swaps, fds $fds_before -> $fds_after, generation $((SWAPS + 1))"

srv_stop_check
t_pass "server stopped cleanly with no sanitizer report"
