# Helpers for tests that obtain certificates from a local pebble ACME
# server with certbot. Sourced after tests/lib.sh by tests/e2e_acme.sh.
# pebble and certbot listen on 127.0.0.1 only, on ports picked per run.

ACME_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# acme_free_ports N: prints N distinct TCP ports on 127.0.0.1 that nothing
# listens on now. Another process may take one before we bind it, so
# pebble_start retries with new ports when pebble fails to start.
acme_free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
# Keep every socket bound until all are picked, so the ports differ.
sockets = []
for _ in range(int(sys.argv[1])):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sockets.append(sock)
print(" ".join(str(sock.getsockname()[1]) for sock in sockets))
PY
}

# pebble_tls_cert: CA "pebble-ca" and the certificate pebble serves its
# ACME directory with (pebble-tls.crt/.key, for 127.0.0.1), valid 2 days.
pebble_tls_cert() {
	mkca pebble-ca "Example Test Pebble TLS CA"
	q certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile pebble-tls.key
	printf 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ndns_name = "localhost"\ntls_www_server\nsigning_key\nencryption_key\nexpiration_days = 2\n' >pebble-tls.tmpl
	q certtool --no-text --generate-certificate --load-privkey pebble-tls.key --load-ca-certificate pebble-ca.crt \
		--load-ca-privkey pebble-ca.key --template pebble-tls.tmpl --outfile pebble-tls.crt
}

pebble_up() {
	curl -sf --cacert "$W/pebble-ca.crt" "https://127.0.0.1:$ACME_PORT/dir" >/dev/null
}

# pebble_start: starts pebble with challenge validation switched off (it
# reports every challenge as valid, so nothing has to be reachable) and
# waits until its directory URL responds. Sets PEBBLE_PID, ACME_PORT,
# MANAGEMENT_PORT, HTTP01_PORT and ACME_SERVER (the directory URL).
pebble_start() {
	local attempt ports
	pebble_tls_cert
	for attempt in 1 2 3; do
		ports=$(acme_free_ports 4) || t_fail "cannot pick free ports (python3 failed)"
		read -r ACME_PORT MANAGEMENT_PORT HTTP01_PORT TLS_ALPN_PORT <<<"$ports"
		sed -e "s|@ACME_PORT@|$ACME_PORT|" -e "s|@MANAGEMENT_PORT@|$MANAGEMENT_PORT|" \
			-e "s|@HTTP_PORT@|$HTTP01_PORT|" -e "s|@TLS_PORT@|$TLS_ALPN_PORT|" \
			-e "s|@CERT@|$W/pebble-tls.crt|" -e "s|@KEY@|$W/pebble-tls.key|" \
			"$ACME_DIR/pebble-config.json.in" >"$W/pebble.json"
		PEBBLE_VA_ALWAYS_VALID=1 PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 \
			pebble -config "$W/pebble.json" >>"$W/pebble.log" 2>&1 &
		PEBBLE_PID=$!
		t_track "$PEBBLE_PID"
		if t_wait_for 15 pebble_up; then
			ACME_SERVER="https://127.0.0.1:$ACME_PORT/dir"
			return 0
		fi
		t_log "pebble did not answer on port $ACME_PORT (attempt $attempt); retrying with other ports"
		stop_pid "$PEBBLE_PID"
	done
	t_fail "pebble did not start; see pebble.log"
}

# acme_certbot ARGS...: runs certbot against pebble with its state under
# $W/le, trusting pebble's TLS CA. Output goes to $W/certbot.log.
acme_certbot() {
	echo "+ certbot $*" >>"$W/certbot.log"
	REQUESTS_CA_BUNDLE="$W/pebble-ca.crt" certbot "$@" --non-interactive \
		--server "$ACME_SERVER" --config-dir "$W/le/config" \
		--work-dir "$W/le/work" --logs-dir "$W/le/logs" >>"$W/certbot.log" 2>&1
}

# pebble_root FILE: saves the root that signs pebble's issued chains.
pebble_root() {
	curl -sf --cacert "$W/pebble-ca.crt" -o "$1" "https://127.0.0.1:$MANAGEMENT_PORT/roots/0"
}
