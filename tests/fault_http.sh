#!/bin/bash
# HTTP and TLS faults on the API port: slow headers, huge headers, invalid
# requests, TLS garbage, abandoned handshakes and 1,000 idle connections.
# Each one is answered with the right status (or a TLS alert) or closed
# after a timeout; afterwards the server is the same process, serves the
# same certificate and holds no more descriptors than before.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require

# 1,000 connections need about as many descriptors in this shell's
# children and in the server.
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096 2>/dev/null ||
	t_skip "cannot raise the descriptor limit to 4096 (hard limit $(ulimit -Hn))"

mkpki
mkleaf one
install_pair one "$W/live"
srv_control_key
srv_config "handshake_timeout = 2
idle_timeout = 3"
start_server
f_baseline_server
expect_serving one 15

# tls_send FILE [SECONDS]: sends FILE over TLS, keeps the connection open
# for SECONDS (default 0) and prints what the server sent back.
tls_send() {
	{
		cat "$1"
		sleep "${2:-0}"
	} | timeout 30 openssl s_client -quiet -connect "127.0.0.1:$PORT" 2>/dev/null
}

# expect_status WANT CODE FILE WHAT: the response to FILE is status WANT
# with error code CODE in the JSON envelope.
expect_status() {
	tls_send "$3" 1 >"$W/resp.out"
	head -n 1 "$W/resp.out" | grep -q "^HTTP/1.1 $1 " ||
		t_fail "$4: expected status $1, got '$(head -n 1 "$W/resp.out")'"
	grep -q "{\"error\":{\"code\":\"$2\",\"message\":\"[^\"]*\"}}" "$W/resp.out" ||
		t_fail "$4: no $2 error envelope in: $(tail -n 1 "$W/resp.out")"
	f_check_server one "$4"
}

# ---- slow headers ----------------------------------------------------------
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n' >"$W/slow.req"
tls_send "$W/slow.req" 8 >"$W/slow.out"
head -n 1 "$W/slow.out" | grep -q '^HTTP/1.1 408 ' || t_fail "slow headers: got '$(head -n 1 "$W/slow.out")'"
grep -q '"code":"request_timeout"' "$W/slow.out" || t_fail "slow headers: no request_timeout envelope"
f_check_server one "slow headers"
t_pass "slow headers: 408 request_timeout after handshake_timeout"

# ---- huge headers ----------------------------------------------------------
{
	printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n'
	for i in $(seq 64); do
		printf 'X-Fill-%d: %01000d\r\n' "$i" 0
	done
	printf '\r\n'
} >"$W/huge.req"
expect_status 431 header_too_large "$W/huge.req" "64 KiB of headers"
t_pass "huge headers: 431 header_too_large"

# ---- invalid requests --------------------------------------------------------
ncases=0
while IFS='|' read -r want code what request; do
	[ -n "$want" ] || continue
	printf '%b' "$request" >"$W/bad$ncases.req"
	expect_status "$want" "$code" "$W/bad$ncases.req" "$what"
	ncases=$((ncases + 1))
done <<'CASES'
400|bad_request|a request line of garbage|NOT HTTP AT ALL\r\n\r\n
400|bad_request|HTTP/1.1 without Host|GET /healthz HTTP/1.1\r\n\r\n
400|bad_request|a NUL in a header|GET /healthz HTTP/1.1\r\nHost: a\x00b\r\n\r\n
400|bad_request|a space before the colon|GET /healthz HTTP/1.1\r\nHost : a\r\n\r\n
400|bad_request|two Content-Length values|POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab
400|bad_request|a chunk size that is not hex|POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n
505|http_version_not_supported|an HTTP/9.9 request line|GET /healthz HTTP/9.9\r\nHost: a\r\n\r\n
413|payload_too_large|a 1 GB Content-Length|POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n
CASES
t_pass "invalid requests: $ncases cases answered 400, 505 or 413 with the error envelope"

# ---- TLS garbage -------------------------------------------------------------
# raw_exchange HEX: sends the bytes on a plain TCP connection and prints the
# first bytes the server sends back, as hex ("" when it just closes).
raw_exchange() {
	python3 - "$PORT" "$1" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(bytes.fromhex(sys.argv[2]))
try:
    data = s.recv(64)
except OSError:
    data = b""
print(data.hex())
PY
}

f_mark
garbage=$(head -c 512 /dev/urandom | od -An -tx1 | tr -d ' \n')
# A first byte of 0x16 would start a handshake record: keep the garbage garbage.
garbage="00${garbage#??}"
reply=$(raw_exchange "$garbage")
case $reply in
15*) t_log "random bytes answered with a TLS alert ($reply)" ;;
"") t_log "random bytes: the server closed without an alert" ;;
*) t_fail "random bytes answered with something that is not a TLS alert: $reply" ;;
esac
f_expect_one slog 'tls: handshake with 127\.0\.0\.1:[0-9]+ failed \(' "512 random bytes on the TLS port"
f_check_server one "512 random bytes on the TLS port"

f_mark
plain=$(printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' | od -An -tx1 | tr -d ' \n')
reply=$(raw_exchange "$plain")
case $reply in
15*|"") ;;
*) t_fail "plain HTTP on the TLS port answered with: $reply" ;;
esac
f_expect_one slog 'tls: handshake with 127\.0\.0\.1:[0-9]+ failed \(' "plain HTTP on the TLS port"
f_check_server one "plain HTTP on the TLS port"
t_pass "TLS garbage and plain HTTP: alert or close, nothing else"

# ---- abandoned handshakes ------------------------------------------------------
# A TLS record that announces 512 bytes of ClientHello and ends after 6 of them.
PARTIAL_HELLO=160301020001000001fc0303
f_mark
python3 "$FAULT_CONNS" --tcp 127.0.0.1 "$PORT" --count 1 --send-hex "$PARTIAL_HELLO" \
	--hold 30 --until-closed >"$W/abandon.json" || t_fail "fault_conns.py failed"
grep -q '"closed_by_server": 1,' "$W/abandon.json" ||
	t_fail "a cut ClientHello was not timed out: $(cat "$W/abandon.json")"
f_check_server one "an abandoned handshake"

python3 "$FAULT_CONNS" --tcp 127.0.0.1 "$PORT" --count 1 --hold 60 --until-closed \
	>"$W/silent.json" || t_fail "fault_conns.py failed"
grep -q '"closed_by_server": 1,' "$W/silent.json" ||
	t_fail "a connection that never sent a byte was not closed: $(cat "$W/silent.json")"
f_check_server one "a connection that never sent a byte"
t_pass "abandoned handshakes: a cut ClientHello and a silent connection both timed out"

# ---- 1,000 idle connections --------------------------------------------------------
# serve_during TEXT ARGS...: runs fault_conns.py ARGS in the background and,
# once the server has accepted them, checks that a new client is served.
serve_during() {
	what=$1
	shift
	python3 "$FAULT_CONNS" --tcp 127.0.0.1 "$PORT" "$@" >"$W/idle.json" 2>"$W/idle.err" &
	IDLE_PID=$!
	t_track "$IDLE_PID"
	t_wait_for 120 sh -c "[ \$(ls /proc/$SERVER_PID/fd | wc -l) -ge $((F_SERVER_FDS + 900)) ]" ||
		t_fail "the server never held 900 of the $what (it holds $(fd_count "$SERVER_PID"))"
	code=$(http_get /healthz)
	[ "$code" = 200 ] || t_fail "a new client got $code while the server held 1000 $what"
	[ "$(served)" = "$(serial one.crt)" ] || t_fail "wrong certificate served during 1000 $what"
	wait "$IDLE_PID" || t_fail "fault_conns.py failed: $(cat "$W/idle.err")"
	t_log "1000 $what: $(cat "$W/idle.json")"
	grep -q '"opened": 1000,' "$W/idle.json" || t_fail "not all 1000 $what were opened"
	grep -q '"closed_by_server": 1000,' "$W/idle.json" || t_fail "the server did not time out all 1000 $what"
	f_check_server one "1000 $what"
}

# Opening 1,000 connections one after another can take longer than a few
# seconds on a loaded machine, and the first ones must still be open when
# the last one is: this part runs with 20-second timeouts.
srv_stop_check
srv_config "handshake_timeout = 20
idle_timeout = 20"
start_server
f_baseline_server
expect_serving one 15
serve_during "idle TLS connections" --count 1000 --tls --hold 180 --until-closed
t_pass "1000 idle TLS connections: a new client served meanwhile, all closed after idle_timeout"
serve_during "cut handshakes" --count 1000 --send-hex "$PARTIAL_HELLO" --hold 180 --until-closed
t_pass "1000 cut handshakes: a new client served meanwhile, all closed after handshake_timeout"
srv_stop_check
