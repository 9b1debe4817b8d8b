#!/bin/bash
# The HTTPS API as a client sees it: handshake with curl, gnutls-cli and
# openssl, every endpoint, keep-alive, and each limit and error status.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
t_init
srv_require

srv_pki
srv_control_key
srv_config "max_connections = 2
handshake_timeout = 2
idle_timeout = 30"
start_server
t_log "server on port $PORT"

# ---- handshake -----------------------------------------------------------
out=$(gnutls-cli --x509cafile "$W/ca.crt" -p "$PORT" 127.0.0.1 </dev/null 2>&1)
echo "$out" | grep -q "Handshake was completed" || t_fail "gnutls-cli handshake failed: $out"
echo "$out" | grep -qE "TLS1\.[23]" || t_fail "no TLS 1.2 or 1.3 in: $out"
gnutls-cli --no-ca-verification --priority "NORMAL:-VERS-ALL:+VERS-TLS1.1" -p "$PORT" 127.0.0.1 \
	</dev/null >"$W/tls11.out" 2>&1 && t_fail "a TLS 1.1 handshake was accepted"
gnutls-cli --no-ca-verification --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" -p "$PORT" 127.0.0.1 \
	</dev/null >/dev/null 2>&1 || t_fail "a TLS 1.2 handshake failed"
[ "$(served | nozero)" = "$(serial one.crt | nozero)" ] || t_fail "served serial is not leaf one's"
t_pass "handshake: TLS 1.2 and 1.3 accepted, TLS 1.1 rejected, leaf one served"

# ---- endpoints -------------------------------------------------------------
body=$(curl -sS --cacert "$W/ca.crt" --resolve "localhost:$PORT:127.0.0.1" \
	"https://localhost:$PORT/healthz") || t_fail "curl with CA verification failed"
[ "$body" = '{"status":"ok"}' ] || t_fail "/healthz body: $body"

tls=$(http_body /v1/tls)
[ "$(echo "$tls" | json_value tls_enabled)" = true ] || t_fail "/v1/tls tls_enabled: $tls"
[ "$(echo "$tls" | json_value generation)" = 1 ] || t_fail "/v1/tls generation: $tls"
[ "$(echo "$tls" | json_value serial | nozero)" = "$(serial one.crt | nozero)" ] ||
	t_fail "/v1/tls serial: $tls"
[ "$(echo "$tls" | json_value fingerprint)" = "$(fingerprint one.crt)" ] ||
	t_fail "/v1/tls fingerprint: $tls"
for f in subject issuer sans not_before not_after loaded_at last_reload last_rejected \
	on_older_credentials client_ca_count; do
	echo "$tls" | grep -q "\"$f\":" || t_fail "/v1/tls lacks $f: $tls"
done

curl -sS -k -D "$W/metrics.h" -o "$W/metrics.txt" "https://127.0.0.1:$PORT/metrics" ||
	t_fail "GET /metrics failed"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$W/metrics.h" || t_fail "metrics content type"
grep -q '^ivicli_tls_credentials_generation 1$' "$W/metrics.txt" || t_fail "metrics generation"
grep -qE '^ivicli_tls_cert_not_after_seconds [0-9]+$' "$W/metrics.txt" || t_fail "metrics expiry"
grep -q '^ivicli_tls_reloads_total{result="ok"} 0$' "$W/metrics.txt" || t_fail "metrics reloads"
grep -qE '^ivicli_tls_connections\{generation="1"\} [0-9]+$' "$W/metrics.txt" ||
	t_fail "metrics connections by generation"

head=$(curl -sS -k -I "https://127.0.0.1:$PORT/healthz")
echo "$head" | grep -q '^HTTP/1.1 200' || t_fail "HEAD /healthz: $head"
echo "$head" | grep -qi '^Content-Length: 16' || t_fail "HEAD Content-Length: $head"
t_pass "GET /healthz, /v1/tls, /metrics and HEAD answered"

# ---- keep-alive: three requests on one TLS connection ------------------------
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /v1/tls HTTP/1.1\r\nHost: a\r\n\r\nGET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' >"$W/three.req"
n=$(raw_tls "$W/three.req" | grep -c '^HTTP/1.1 200')
[ "$n" = 3 ] || t_fail "expected 3 responses on one connection, got $n"
t_pass "keep-alive: 3 pipelined requests answered on one connection"

# ---- errors ----------------------------------------------------------------
[ "$(http_get /nope)" = 404 ] || t_fail "unknown path is not 404"
http_body /nope | grep -q '^{"error":{"code":"not_found","message":"[^"]*"}}$' ||
	t_fail "404 body is not the error envelope"
curl -sS -k -X POST -D "$W/405.h" -o "$W/405.b" "https://127.0.0.1:$PORT/healthz"
grep -q '^HTTP/1.1 405' "$W/405.h" || t_fail "POST /healthz is not 405"
grep -qi '^Allow: GET, HEAD' "$W/405.h" || t_fail "405 without Allow"
grep -q '"code":"method_not_allowed"' "$W/405.b" || t_fail "405 body"

printf 'GET /healthz HTTP/1.1\r\n\r\n' >"$W/nohost.req"
raw_tls "$W/nohost.req" | grep -q '^HTTP/1.1 400' || t_fail "request without Host is not 400"
printf 'NOT HTTP AT ALL\r\n\r\n' >"$W/garbage.req"
raw_tls "$W/garbage.req" | grep -q '^HTTP/1.1 400' || t_fail "garbage is not 400"

printf 'POST /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n' >"$W/big.req"
raw_tls "$W/big.req" | grep -q '^HTTP/1.1 413' || t_fail "a 1 MB body is not 413"
{
	printf 'POST /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'
	for i in $(seq 40); do printf '400\r\n%01024d\r\n' 0; done
	printf '0\r\n\r\n'
} >"$W/chunked.req"
raw_tls "$W/chunked.req" | grep -q '^HTTP/1.1 413' || t_fail "a 40 KiB chunked body is not 413"

{
	printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: '
	head -c 10000 /dev/zero | tr '\0' 'a'
	printf '\r\n\r\n'
} >"$W/hdr.req"
raw_tls "$W/hdr.req" | grep -q '^HTTP/1.1 431' || t_fail "a 10 KB header is not 431"
{
	printf 'GET /'
	head -c 10000 /dev/zero | tr '\0' 'a'
	printf ' HTTP/1.1\r\nHost: a\r\n\r\n'
} >"$W/url.req"
raw_tls "$W/url.req" | grep -q '^HTTP/1.1 431' || t_fail "a 10 KB request line is not 431"

# Slow headers: the request line, then nothing for longer than handshake_timeout (2 s).
{
	printf 'GET /healthz HTTP/1.1\r\n'
	sleep 6
} | timeout 15 openssl s_client -quiet -connect "127.0.0.1:$PORT" >"$W/slow.out" 2>/dev/null
grep -q '^HTTP/1.1 408' "$W/slow.out" || t_fail "slow headers did not get 408: $(cat "$W/slow.out")"
grep -q '"code":"request_timeout"' "$W/slow.out" || t_fail "408 body"
t_pass "404, 405 with Allow, 400, 413, 431 and 408 answered with the envelope"

# ---- connection limit ------------------------------------------------------
# Two idle TLS connections fill max_connections = 2; the next client gets 503.
for i in 1 2; do
	sleep 8 | gnutls-cli --no-ca-verification -p "$PORT" 127.0.0.1 >"$W/hold$i.out" 2>&1 &
	t_track $!
done
t_wait_for 10 grep -q "Handshake was completed" "$W/hold1.out" || t_fail "holder 1 did not connect"
t_wait_for 10 grep -q "Handshake was completed" "$W/hold2.out" || t_fail "holder 2 did not connect"
code=$(http_get /healthz)
[ "$code" = 503 ] || t_fail "third connection got $code, expected 503"
http_body /healthz | grep -q '"code":"unavailable"' || t_fail "503 body"
t_wait_for 20 sh -c "[ \"\$(curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:$PORT/healthz)\" = 200 ]" ||
	t_fail "server did not answer 200 again after the holders left"
t_pass "503 at the connection limit, 200 again once connections closed"

grep -q '^ivicli_http_responses_total{code="503"} [1-9]' <(http_body /metrics) ||
	t_fail "503 responses not counted"

# ---- descriptor exhaustion -------------------------------------------------
# With RLIMIT_NOFILE just above what is open, accept(2) fails with EMFILE:
# the server pauses accepting instead of spinning, and serves again once
# descriptors are free.
if command -v prlimit >/dev/null; then
	limit_before=$(prlimit --pid "$SERVER_PID" --nofile --output SOFT,HARD --noheadings)
	fds=$(fd_count "$SERVER_PID")
	hard=$(echo "$limit_before" | awk '{print $2}')
	# Only the soft limit moves: raising a hard limit again needs CAP_SYS_RESOURCE.
	prlimit --pid "$SERVER_PID" --nofile=$((fds + 2)):"$hard" || t_fail "prlimit failed"
	for i in 1 2 3 4 5 6; do
		sleep 6 | timeout 20 gnutls-cli --no-ca-verification -p "$PORT" 127.0.0.1 \
			>"$W/emfile$i.out" 2>&1 &
		t_track $!
	done
	t_wait_for 10 grep -q 'pausing for' "$W/server.log" || t_fail "no EMFILE pause logged"
	ticks0=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
	sleep 2
	ticks1=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
	# A spinning accept loop would burn about 200 ticks (2 s of CPU) here.
	[ $((ticks1 - ticks0)) -lt 100 ] || t_fail "server used $((ticks1 - ticks0)) ticks in 2 s while out of descriptors"
	prlimit --pid "$SERVER_PID" --nofile="$(echo "$limit_before" | awk '{print $1 ":" $2}')" ||
		t_fail "prlimit could not restore the limit"
	t_wait_for 30 sh -c "[ \"\$(curl -sk -o /dev/null -w '%{http_code}' https://127.0.0.1:$PORT/healthz)\" = 200 ]" ||
		t_fail "server did not serve again after descriptors were free"
	t_pass "EMFILE: accepting paused ($((ticks1 - ticks0)) ticks in 2 s), serving again afterwards"
else
	t_log "prlimit not found (Debian package util-linux); EMFILE check skipped"
fi
kill -0 "$SERVER_PID" || t_fail "server died"
t_pass "server still running"
