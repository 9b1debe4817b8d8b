#!/bin/bash
# mTLS. A client certificate from the configured client CA is accepted.
# No certificate, one from another CA, and one made for servers only are
# rejected in the handshake. A client CA rotation by reload lets the new
# CA's clients in without closing a session that is already open.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
t_init
srv_require
[ -x "$CTLPROBE" ] || t_fail "control test client $CTLPROBE not built"

srv_pki
mkca clientca "Example Test Client CA"
mkca otherca "Example Test Other CA"
mkclient alice clientca
mkclient mallory otherca
mkclient bob otherca
# A certificate of the right CA but for TLS servers only.
q certtool --no-text --generate-privkey --key-type=ecdsa --curve=secp256r1 --outfile srvonly.key
printf 'cn = "srvonly.example.test"\ntls_www_server\nsigning_key\nexpiration_days = 30\n' >srvonly.tmpl
q certtool --no-text --generate-certificate --load-privkey srvonly.key --load-ca-certificate clientca.crt \
	--load-ca-privkey clientca.key --template srvonly.tmpl --outfile srvonly.crt
cp clientca.crt "$W/live/clients.pem"
srv_control_key
srv_config "" "client_required = true
client_ca_path = \"$W/live/clients.pem\""
start_server

# client NAME: HTTP status of GET /healthz with NAME's certificate ("none" for no certificate).
client() {
	if [ "$1" = none ]; then
		http_get /healthz
	else
		http_get /healthz --cert "$W/$1.crt" --key "$W/$1.key"
	fi
}

[ "$(client alice)" = 200 ] || t_fail "alice (client CA) was not accepted"
[ "$(client none)" = 000 ] || t_fail "a client without a certificate was not rejected"
[ "$(client mallory)" = 000 ] || t_fail "mallory (other CA) was not rejected"
[ "$(client srvonly)" = 000 ] || t_fail "a server-only certificate was accepted as a client"
gnutls-cli --no-ca-verification -p "$PORT" --x509certfile "$W/alice.crt" --x509keyfile "$W/alice.key" \
	127.0.0.1 </dev/null >/dev/null 2>&1 || t_fail "gnutls-cli with alice's certificate failed"
gnutls-cli --no-ca-verification -p "$PORT" 127.0.0.1 </dev/null >"$W/nocert.out" 2>&1 &&
	t_fail "gnutls-cli without a certificate completed the handshake"
kill -0 "$SERVER_PID" || t_fail "server died"
t_pass "alice accepted; no certificate, other CA and server-only certificate rejected"

# ---- client CA rotation -------------------------------------------------------
mkfifo "$W/ka.in"
gnutls-cli --no-ca-verification -p "$PORT" --x509certfile "$W/alice.crt" --x509keyfile "$W/alice.key" \
	127.0.0.1 <"$W/ka.in" >"$W/ka.out" 2>&1 &
KA_PID=$!
t_track "$KA_PID"
exec 3>"$W/ka.in"
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' >&3
t_wait_for 10 grep -q '^HTTP/1.1 200' "$W/ka.out" || t_fail "alice's session got no response"
# A saved session (TLS 1.3 ticket) from alice, for a resumption attempt after the rotation.
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
	timeout 15 openssl s_client -quiet -connect "127.0.0.1:$PORT" -cert "$W/alice.crt" \
		-key "$W/alice.key" -sess_out "$W/alice.sess" >"$W/sess1.out" 2>&1
grep -q '^HTTP/1.1 200' "$W/sess1.out" || t_fail "openssl s_client with alice's certificate failed"

cp otherca.crt "$W/live/.clients.tmp" && mv -f "$W/live/.clients.tmp" "$W/live/clients.pem"
r=$(ctl --type reload --fingerprint "$(fingerprint "$W/live/tls.crt")")
echo "$r" | grep -q '"changed":true' || t_fail "client CA rotation not reloaded: $r"
grep -q ' notice: tls: reloaded client CA bundle (1 CAs), certificate unchanged (serial ' "$W/server.log" ||
	t_fail "client CA rotation logged like a certificate swap"
audit_has cert-reloaded '"changed":\["client_ca"\]' ||
	t_fail "cert-reloaded audit line does not list only client_ca as changed"
[ "$(client bob)" = 200 ] || t_fail "bob (new client CA) was not accepted after the rotation"
[ "$(client alice)" = 000 ] || t_fail "alice (old client CA) still accepted on a new connection"
# Resuming a session from before the rotation must not bypass the new trust list.
if [ -s "$W/alice.sess" ]; then
	printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
		timeout 15 openssl s_client -quiet -connect "127.0.0.1:$PORT" -cert "$W/alice.crt" \
			-key "$W/alice.key" -sess_in "$W/alice.sess" >"$W/sess2.out" 2>&1
	grep -q '^HTTP/1.1 200' "$W/sess2.out" && t_fail "alice got in by resuming a pre-rotation session"
fi
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' >&3
t_wait_for 10 sh -c "[ \$(grep -c '^HTTP/1.1 200' '$W/ka.out') -ge 2 ]" ||
	t_fail "alice's session from before the rotation was closed"
exec 3>&-
wait "$KA_PID"

echo 'not a certificate' >"$W/live/clients.pem"
r=$(ctl --type reload --fingerprint "$(fingerprint "$W/live/tls.crt")")
echo "$r" | grep -q '"ok":false' || t_fail "a broken client CA bundle was accepted: $r"
[ "$(client bob)" = 200 ] || t_fail "bob rejected after a broken bundle was refused"
t_pass "client CA rotation: bob in, alice out on new connections, open session kept, broken bundle refused"

srv_stop_check
