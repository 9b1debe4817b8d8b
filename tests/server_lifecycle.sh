#!/bin/bash
# Start-up, configuration checks, modes and stopping: --check-config exit
# statuses, start-up failures, plain HTTP, self-signed, localhost on IPv4
# and IPv6, sd_notify messages, an unwritable audit file, `ivicli api stop`,
# and SIGTERM letting a request in progress finish.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
t_init
srv_require

srv_pki
srv_control_key
srv_config "handshake_timeout = 10"

# expect_status WANT ARGS...: runs `ivicli ARGS` and checks its exit status.
expect_status() {
	want=$1
	shift
	"$IVICLI" "$@" >"$W/cmd.out" 2>&1
	got=$?
	[ "$got" -eq "$want" ] || t_fail "ivicli $* exited $got, expected $want: $(cat "$W/cmd.out")"
}

# ---- --check-config ----------------------------------------------------------
expect_status 0 api start --config "$W/config.toml" --check-config
grep -q "configuration OK" "$W/cmd.out" || t_fail "--check-config printed: $(cat "$W/cmd.out")"
expect_status 64 api start --no-such-flag
expect_status 64 api start --port 70000 --check-config
expect_status 66 api start --config "$W/missing.toml" --check-config
cp "$W/config.toml" "$W/good.toml"
printf '\n[api.tls]\nbogus = 1\n' >>"$W/config.toml"
expect_status 78 api start --config "$W/config.toml" --check-config
grep -q "config.toml" "$W/cmd.out" || t_fail "config error does not name the file: $(cat "$W/cmd.out")"
cp "$W/good.toml" "$W/config.toml"
expect_status 66 api start --config "$W/config.toml" --tls-cert "$W/live/none.crt" --check-config
cp two.key "$W/live/tls.key"
expect_status 65 api start --config "$W/config.toml" --check-config
install_pair one "$W/live"
t_pass "--check-config: 0 good, 64 usage, 66 missing file, 78 bad key, 65 key mismatch"

# ---- start-up failures -------------------------------------------------------
cp two.key "$W/live/tls.key"
expect_status 65 api start --config "$W/config.toml"
[ "$(wc -l <"$W/cmd.out")" -le 2 ] || t_fail "start-up failure printed more than a line or two"
install_pair one "$W/live"
start_server
expect_status 69 api start --config "$W/config.toml" --port "$PORT" --log-level error
t_pass "start-up failures: 65 key mismatch, 69 port in use"

# ---- sd_notify, SIGTERM drain ------------------------------------------------
stop_pid "$SERVER_PID"
if command -v python3 >/dev/null; then
	python3 - "$W/notify.sock" "$W/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a") as log:
    try:
        while True:
            msg = s.recv(4096).decode()
            log.write(msg.replace("\n", " ") + "\n")
            log.flush()
            if "STOPPING=1" in msg:
                break
    except socket.timeout:
        pass
PY
	t_track $!
	t_wait_for 10 test -S "$W/notify.sock" || t_fail "notify listener did not start"
	export NOTIFY_SOCKET="$W/notify.sock"
fi
start_server
unset NOTIFY_SOCKET
kill -HUP "$SERVER_PID"

# A request whose headers are still arriving when SIGTERM comes must finish.
{
	printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n'
	sleep 2
	printf '\r\n'
	sleep 3
} | timeout 20 openssl s_client -quiet -connect "127.0.0.1:$PORT" >"$W/drain.out" 2>/dev/null &
DRAIN_PID=$!
t_track "$DRAIN_PID"
sleep 1
kill -TERM "$SERVER_PID"
sleep 0.3
curl -sk --max-time 3 "https://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 &&
	t_fail "a new connection was accepted after SIGTERM"
wait "$DRAIN_PID"
grep -q '^HTTP/1.1 200' "$W/drain.out" || t_fail "request in progress at SIGTERM got no 200: $(cat "$W/drain.out")"
grep -qi '^Connection: close' "$W/drain.out" || t_fail "response during the drain lacks Connection: close"
wait "$SERVER_PID"
rc=$?
[ "$rc" -eq 0 ] || t_fail "server exited $rc after SIGTERM"
[ ! -e "$W/server.pid" ] || t_fail "pid file left behind"
audit_has stopped || t_fail "no stopped audit line"
t_pass "SIGTERM: no new connections, the request in progress finished, exit 0"
if [ -f "$W/notify.log" ]; then
	t_wait_for 10 grep -q 'STOPPING=1' "$W/notify.log" || t_fail "no STOPPING=1 sent"
	grep -q 'READY=1' "$W/notify.log" || t_fail "no READY=1 sent"
	grep -qE 'RELOADING=1 MONOTONIC_USEC=[0-9]+' "$W/notify.log" || t_fail "no RELOADING=1 sent"
	t_pass "sd_notify: READY=1, RELOADING=1 with MONOTONIC_USEC, STOPPING=1"
fi

# ---- ivicli api stop ---------------------------------------------------------
start_server
expect_status 0 api stop --config "$W/config.toml"
wait "$SERVER_PID"
rc=$?
[ "$rc" -eq 0 ] || t_fail "server exited $rc after api stop"
expect_status 69 api stop --config "$W/config.toml"
t_pass "api stop: 0 with a running server, 69 without"

# ---- plain HTTP ----------------------------------------------------------------
cat >"$W/plain.toml" <<CFG
[api]
bind = "127.0.0.1"
port = 0

[audit]
enabled = true
path = "$W/audit.log"

[control]
socket = "$W/run/control.sock"
key_path = "$W/control.key"
CFG
rm -f "$W/server.addr"
"$IVICLI" api start --config "$W/plain.toml" --address-file "$W/server.addr" >>"$W/server.log" 2>&1 &
SERVER_PID=$!
t_track "$SERVER_PID"
t_wait_for 15 test -s "$W/server.addr" || t_fail "plain server did not start"
PORT=$(awk '{print $2; exit}' "$W/server.addr")
body=$(curl -sS "http://127.0.0.1:$PORT/v1/tls") || t_fail "plain GET /v1/tls failed"
echo "$body" | grep -q '"tls_enabled":false' || t_fail "plain /v1/tls: $body"
echo "$body" | grep -q '"certificate":null' || t_fail "plain /v1/tls certificate: $body"
if [ -x "$CTLPROBE" ]; then
	ctl --type reload --fingerprint "$(fingerprint "$W/live/tls.crt")" | grep -q '"code":"reload_disabled"' || t_fail "plain reload not disabled"
fi
srv_stop_check
t_pass "plain HTTP: /v1/tls says TLS is off, reload disabled"

# ---- self-signed on localhost (IPv4 and IPv6) ------------------------------------
rm -f "$W/server.addr"
"$IVICLI" api start --config "$W/plain.toml" --bind localhost --tls-self-signed \
	--address-file "$W/server.addr" >>"$W/server.log" 2>&1 &
SERVER_PID=$!
t_track "$SERVER_PID"
t_wait_for 15 test -s "$W/server.addr" || t_fail "self-signed server did not start"
PORT=$(awk '{print $2; exit}' "$W/server.addr")
head -n 1 "$W/server.addr" | grep -q '^127.0.0.1 ' || t_fail "first listener is not 127.0.0.1"
grep -q 'self-signed' "$W/server.log" || t_fail "no self-signed warning logged"
certs=$(gnutls-cli --no-ca-verification --print-cert -p "$PORT" 127.0.0.1 </dev/null 2>/dev/null | certtool -i 2>/dev/null)
echo "$certs" | grep -q 'DNSname: localhost' || t_fail "self-signed certificate lacks DNS:localhost"
if grep -q '^::1 ' "$W/server.addr"; then
	[ "$(curl -sk -o /dev/null -w '%{http_code}' "https://[::1]:$PORT/healthz")" = 200 ] ||
		t_fail "no answer on ::1"
	t_pass "localhost: listening on 127.0.0.1 and ::1"
else
	t_log "no IPv6 loopback here; IPv4 only"
fi
if [ -x "$CTLPROBE" ]; then
	ctl --type reload --fingerprint "$(fingerprint "$W/live/tls.crt")" | grep -q '"code":"reload_disabled"' || t_fail "self-signed reload not disabled"
fi
srv_stop_check
t_pass "self-signed: warning logged, SAN localhost, reload disabled"

# ---- unwritable audit file -----------------------------------------------------
srv_config "" "" ""
sed -i "s|path = \"$W/audit.log\"|path = \"$W/no-such-dir/audit.log\"|" "$W/config.toml"
start_server
[ "$(http_get /healthz)" = 200 ] || t_fail "server does not serve with an unwritable audit file"
grep -q 'audit: cannot open' "$W/server.log" || t_fail "unwritable audit file not logged"
srv_stop_check
t_pass "unwritable audit file: error logged, serving continued"
