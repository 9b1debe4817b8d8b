#!/bin/bash
# What an operator sees of faults on the API port: a request rejected
# with 400, 408, 413, 431 or 505, or a handshake that times out, leaves one
# log line at info level or above naming the peer.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require

mkpki
mkleaf one
install_pair one "$W/live"
srv_control_key
srv_config "handshake_timeout = 2
idle_timeout = 3"
start_server
f_baseline_server
expect_serving one 15

# tls_send FILE [SECONDS]: sends FILE over TLS and prints the response.
tls_send() {
	{
		cat "$1"
		sleep "${2:-1}"
	} | timeout 30 openssl s_client -quiet -connect "127.0.0.1:$PORT" 2>/dev/null
}

# logged WHAT REGEX: one new line at info level or above names the peer and matches REGEX.
logged() {
	f_expect_one slog "127\\.0\\.0\\.1:[0-9]+.*($2)" "$1"
}

f_mark
printf 'NOT HTTP AT ALL\r\n\r\n' >"$W/bad.req"
tls_send "$W/bad.req" | head -n 1 | grep -q '^HTTP/1.1 400 ' || t_fail "garbage request not answered 400"
logged "a 400 for a garbage request line" '400|invalid|bad request'

f_mark
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n' >"$W/slow.req"
tls_send "$W/slow.req" 8 | head -n 1 | grep -q '^HTTP/1.1 408 ' || t_fail "slow headers not answered 408"
logged "a 408 for slow headers" '408|timed out|timeout'

f_mark
{
	printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: '
	head -c 20000 /dev/zero | tr '\0' 'a'
	printf '\r\n\r\n'
} >"$W/huge.req"
tls_send "$W/huge.req" | head -n 1 | grep -q '^HTTP/1.1 431 ' || t_fail "huge header not answered 431"
logged "a 431 for a 20 KB header" '431|too large'

f_mark
printf 'POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n' >"$W/big.req"
tls_send "$W/big.req" | head -n 1 | grep -q '^HTTP/1.1 413 ' || t_fail "1 MB body not answered 413"
logged "a 413 for a 1 MB body" '413|too large'

f_mark
printf 'GET /healthz HTTP/9.9\r\nHost: a\r\n\r\n' >"$W/v99.req"
tls_send "$W/v99.req" | head -n 1 | grep -q '^HTTP/1.1 505 ' || t_fail "HTTP/9.9 not answered 505"
logged "a 505 for HTTP/9.9" '505|version'

f_mark
python3 "$FAULT_CONNS" --tcp 127.0.0.1 "$PORT" --count 1 --send-hex 160301020001000001fc0303 \
	--hold 30 --until-closed >"$W/abandon.json" || t_fail "fault_conns.py failed"
logged "an abandoned handshake" 'timed out|timeout'
f_check_server one "the faults above"
t_pass "400, 408, 431, 413, 505 and a handshake timeout each logged once at info level or above"
srv_stop_check
