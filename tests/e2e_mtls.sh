#!/bin/bash
# mTLS client CA rotation: the server requires client certificates verified
# against live/clients-ca.pem. Replacing that bundle (by rename, then in
# place) changes which clients new handshakes accept, while a session that
# was established before the rotation keeps working. A broken bundle is
# refused and the previous trust list stays.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"

t_init
command -v curl >/dev/null || t_skip "curl not found (Debian package curl)"
e2e_require_programs

mkpki
mkleaf srv
mkca cca1 "Example Test Client CA 1"
mkca cca2 "Example Test Client CA 2"
mkclient alice cca1
mkclient bob cca2

install_pair srv live
cp cca1.crt live/clients-ca.pem
write_config "client_required = true
client_ca_path = \"$W/live/clients-ca.pem\""
make_control_key
start_server
start_watcher

# accepted NAME: true when a new connection with NAME's client certificate
# gets an HTTP 200 from /healthz.
accepted() {
	local r rc code ser
	r=$(https_request "https://127.0.0.1:$PORT/healthz" --cacert "$W/ca.crt" \
		--cert "$W/$1.crt" --key "$W/$1.key")
	read -r rc code ser <<<"$r"
	[ "$rc" = 0 ] && [ "$code" = 200 ]
}
rejected() { ! accepted "$1"; }

# replace_bundle FILE: renames a copy of FILE over live/clients-ca.pem.
replace_bundle() {
	cp "$1" live/.clients-ca.pem.tmp && mv -f live/.clients-ca.pem.tmp live/clients-ca.pem
}

t_wait_for 15 accepted alice || t_fail "alice (client CA 1) is not accepted at start"
rejected bob || t_fail "bob (client CA 2) is accepted before the rotation"
r=$(https_request "https://127.0.0.1:$PORT/healthz" --cacert "$W/ca.crt")
read -r rc code ser <<<"$r"
[ "$rc" != 0 ] || [ "$code" != 200 ] || t_fail "a client without a certificate is accepted"
reloads=$(audit_count cert-reloaded)

# ---- a session established before the rotation --------------------------

mkfifo session.in
gnutls-cli --x509cafile "$W/ca.crt" --verify-hostname localhost \
	--x509certfile "$W/alice.crt" --x509keyfile "$W/alice.key" \
	-p "$PORT" 127.0.0.1 <session.in >session.log 2>&1 &
SESSION_PID=$!
t_track "$SESSION_PID"
exec 3>session.in
send_request() { printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n' >&3; }
# Response bodies end without a newline, so a status line can follow one on
# the same line: count occurrences, not lines.
responses() { grep -o 'HTTP/1.1 200 ' session.log 2>/dev/null | wc -l; }
responses_are() { [ "$(responses)" -eq "$1" ]; }

send_request
t_wait_for 15 responses_are 1 || t_fail "the long-lived session got no answer before the rotation"

# ---- rotation by rename: client CA 2 replaces client CA 1 ----------------

replace_bundle cca2.crt
t_wait_for 20 accepted bob || t_fail "bob (client CA 2) is still rejected after the rotation"
rejected alice || t_fail "alice (client CA 1) is still accepted after CA 1 left the bundle"
expect_audit_count cert-reloaded $((reloads + 1))

send_request
t_wait_for 15 responses_are 2 || t_fail "the session established before the rotation stopped answering"
kill -0 "$SESSION_PID" 2>/dev/null || t_fail "the session established before the rotation was closed"
exec 3>&-
wait "$SESSION_PID" 2>/dev/null
t_pass "client CA rotated by rename: bob accepted, alice rejected, old session kept"

# ---- in-place rewrite: an overlap bundle with both CAs -------------------

cat cca1.crt cca2.crt >live/clients-ca.pem
t_wait_for 20 accepted alice || t_fail "alice is rejected with the overlap bundle"
accepted bob || t_fail "bob is rejected with the overlap bundle"
expect_audit_count cert-reloaded $((reloads + 2))
t_pass "overlap bundle rewritten in place: both clients accepted"

# ---- a broken bundle is refused, the trust list stays --------------------

echo 'not a certificate' >bad-bundle.pem
mentions() { grep -c 'clients-ca\.pem' "$W/watcher.log" 2>/dev/null || true; }
mentions_above() { [ "$(mentions)" -gt "$1" ]; }
before=$(mentions)
replace_bundle bad-bundle.pem
# The watcher logs its verdict on the file (at debug level at the latest);
# after that nothing may reach the server.
t_wait_for 20 mentions_above "$before" || t_fail "the watcher logged nothing about the broken bundle"
sleep 1
accepted alice || t_fail "alice is rejected after a broken bundle was written"
accepted bob || t_fail "bob is rejected after a broken bundle was written"
[ "$(audit_count cert-reloaded)" -eq $((reloads + 2)) ] || t_fail "the server reloaded a broken client CA bundle"
kill -0 "$SERVER_PID" 2>/dev/null || t_fail "server process $SERVER_PID is gone"
t_pass "broken bundle refused; both clients still accepted"
