#!/bin/bash
# Credential swaps. A keep-alive session opened before a swap keeps its
# credentials while new handshakes get the new certificate. Reloads come by
# control request and by SIGHUP. A rejected reload keeps the old certificate
# and is audited, and control requests that fail their checks are rejected.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
t_init
srv_require
[ -x "$CTLPROBE" ] || t_fail "control test client $CTLPROBE not built"

srv_pki
srv_control_key
srv_config
start_server
t_log "server on port $PORT"

# ---- control basics --------------------------------------------------------
r=$(ctl --type ping) || t_fail "ping failed: $r"
echo "$r" | grep -q '"pong":true' || t_fail "ping result: $r"
r=$(ctl --type status)
echo "$r" | grep -q '"generation":1' || t_fail "status generation: $r"
echo "$r" | grep -q "\"fingerprint\":\"$(fingerprint one.crt)\"" || t_fail "status fingerprint: $r"
t_pass "ping and status answered"

# A saved session (TLS 1.3 ticket) on leaf one, resumed after the swap below.
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
	timeout 15 openssl s_client -quiet -connect "127.0.0.1:$PORT" -sess_out "$W/one.sess" \
		>"$W/sess1.out" 2>&1
grep -q '^HTTP/1.1 200' "$W/sess1.out" || t_fail "openssl s_client request failed"

# ---- keep-alive session across a swap ----------------------------------------
mkfifo "$W/ka.in"
gnutls-cli --no-ca-verification --print-cert -p "$PORT" 127.0.0.1 <"$W/ka.in" >"$W/ka.out" 2>&1 &
KA_PID=$!
t_track "$KA_PID"
exec 3>"$W/ka.in"
responses() { grep -c '^HTTP/1.1 200' "$W/ka.out"; }
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n' >&3
t_wait_for 10 sh -c "[ \$(grep -c '^HTTP/1.1 200' '$W/ka.out') -ge 1 ]" ||
	t_fail "keep-alive session got no first response"
[ "$(certtool -i <"$W/ka.out" 2>/dev/null | sed -n 's/.*Serial Number (hex): //p' | head -n 1 |
	tr 'A-F' 'a-f')" = "$(serial one.crt)" ] || t_fail "keep-alive session did not start on leaf one"

install_pair two "$W/live"
r=$(ctl --type reload --fingerprint "$(fingerprint two.crt)")
echo "$r" | grep -q '"ok":true' || t_fail "reload to leaf two failed: $r"
echo "$r" | grep -q '"generation":2' || t_fail "reload did not answer generation 2: $r"
echo "$r" | grep -q '"changed":true' || t_fail "reload did not report a change: $r"
[ "$(served)" = "$(serial two.crt)" ] || t_fail "a new handshake does not get leaf two"

# Resumption across the swap either resumes or does a full handshake, never fails.
printf 'GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n' |
	timeout 15 openssl s_client -ign_eof -connect "127.0.0.1:$PORT" -sess_in "$W/one.sess" \
		>"$W/sess2.out" 2>&1
grep -q '^HTTP/1.1 200' "$W/sess2.out" || t_fail "resuming a session from before the swap failed"
grep -qE '^(Reused|New),' "$W/sess2.out" || t_fail "no session line from openssl s_client"
t_log "resumption after the swap: $(grep -E '^(Reused|New),' "$W/sess2.out" | head -n 1)"
if grep -q '^Reused,' "$W/sess2.out"; then
	http_body /metrics | grep -q '^ivicli_tls_handshakes_total{resumed="true"} [1-9]' ||
		t_fail "resumed handshake not counted in /metrics"
fi

tls=$(http_body /v1/tls)
[ "$(echo "$tls" | json_value on_older_credentials)" = 1 ] ||
	t_fail "the keep-alive session is not counted on older credentials: $tls"
printf 'GET /v1/tls HTTP/1.1\r\nHost: a\r\n\r\n' >&3
t_wait_for 10 sh -c "[ \$(grep -c '^HTTP/1.1 200' '$W/ka.out') -ge 2 ]" ||
	t_fail "keep-alive session opened before the swap got no second response"
kill -0 "$KA_PID" || t_fail "keep-alive client exited after the swap"
exec 3>&-
wait "$KA_PID"
t_wait_for 10 sh -c "curl -sk https://127.0.0.1:$PORT/v1/tls | grep -q '\"on_older_credentials\":0'" ||
	t_fail "older credentials still counted after the session closed"
http_body /v1/tls | grep -q '"by_generation":\[{"generation":2,' ||
	t_fail "generation 1 still listed after its last session closed: $(http_body /v1/tls)"
audit_has cert-reloaded "\"serial\":\"0*$(serial two.crt | nozero)\"" ||
	t_fail "no cert-reloaded audit line for leaf two"
t_pass "old session kept leaf one, new handshakes got leaf two, generation 1 freed"

# ---- unchanged and stale ---------------------------------------------------
r=$(ctl --type reload --fingerprint "$(fingerprint two.crt)")
echo "$r" | grep -q '"changed":false' || t_fail "identical files were not reported unchanged: $r"
echo "$r" | grep -q '"generation":2' || t_fail "unchanged reload moved the generation: $r"
r=$(ctl --type reload --fingerprint "$(fingerprint one.crt)")
echo "$r" | grep -q '"code":"stale_fingerprint"' || t_fail "stale fingerprint accepted: $r"
audit_has cert-reload-rejected "\"code\":\"stale_fingerprint\",\"fingerprint\":\"$(fingerprint two.crt)\",\"requested_fingerprint\":\"$(fingerprint one.crt)\"" ||
	t_fail "stale_fingerprint audit line does not name the leaf on disk and the requested one"
grep -q ' warning: tls: reload from control socket rejected: .*(stale_fingerprint); keeping the current certificate' "$W/server.log" ||
	t_fail "stale_fingerprint rejection not logged as a warning"
t_pass "unchanged reload kept generation 2, stale fingerprint rejected"

# ---- rejected reloads --------------------------------------------------------
# reject CODE: sends a reload, expects CODE, leaf two still served, one more audit line.
reject() {
	before=$(count_lines '"action":"cert-reload-rejected"' "$W/audit.log")
	r=$(ctl --type reload --fingerprint "$(fingerprint "$W/live/tls.crt")")
	echo "$r" | grep -q "\"code\":\"$1\"" || t_fail "expected $1, got: $r"
	[ "$(served)" = "$(serial two.crt)" ] || t_fail "after $1 the server does not serve leaf two"
	after=$(count_lines '"action":"cert-reload-rejected"' "$W/audit.log")
	[ "$after" -eq $((before + 1)) ] || t_fail "no audit line for $1"
	audit_has cert-reload-rejected "\"code\":\"$1\"" || t_fail "audit line lacks code $1"
}

cp one.key "$W/live/tls.key"
reject key_mismatch
# A restart with these files would fail too, so the rejection is an error.
grep -q ' error: tls: reload from control socket rejected: .*(key_mismatch); keeping the current certificate' "$W/server.log" ||
	t_fail "key_mismatch rejection not logged at error level"
audit_has cert-reload-rejected "\"code\":\"key_mismatch\",\"fingerprint\":\"$(fingerprint two.crt)\",\"requested_fingerprint\":\"$(fingerprint two.crt)\"" ||
	t_fail "key_mismatch audit line lacks the leaf fingerprint on disk"

mkleaf expired ecdsa "activation_date = \"$(date -u -d '-10 days' '+%Y-%m-%d %H:%M:%S')\"\nexpiration_date = \"$(date -u -d '-1 day' '+%Y-%m-%d %H:%M:%S')\""
install_pair expired "$W/live"
reject cert_expired

grep -q ' error: tls: reload from control socket rejected: .*(cert_expired)' "$W/server.log" ||
	t_fail "cert_expired rejection not logged at error level"

install_pair two "$W/live"
rm "$W/live/tls.key"
reject file_missing
mkdir "$W/live/tls.key"
reject not_a_regular_file
rmdir "$W/live/tls.key"
if [ "$(id -u)" -ne 0 ]; then
	install_pair two "$W/live"
	chmod 000 "$W/live/tls.key"
	reject permission_denied
fi
http_body /v1/tls | grep -q '"last_rejected":{' || t_fail "/v1/tls has no last_rejected"
grep -q '^ivicli_tls_reloads_total{result="rejected"} [1-9]' <(http_body /metrics) ||
	t_fail "rejected reloads not counted in /metrics"
t_pass "wrong key, expired and unreadable files rejected with their codes, audited, leaf two kept"

# ---- SIGHUP ----------------------------------------------------------------
install_pair one "$W/live"
kill -HUP "$SERVER_PID"
expect_serving one 10
t_wait_for 10 audit_has cert-reloaded '"trigger":"signal"' || t_fail "no audit line for the SIGHUP reload"
t_pass "SIGHUP reloaded leaf one"

# A rejected SIGHUP reload is audited like a control one, with no requested fingerprint.
cp two.key "$W/live/tls.key"
kill -HUP "$SERVER_PID"
t_wait_for 10 audit_has cert-reload-rejected '"code":"key_mismatch".*"trigger":"signal"' ||
	t_fail "no audit line for the rejected SIGHUP reload"
audit_has cert-reload-rejected "\"code\":\"key_mismatch\",\"fingerprint\":\"$(fingerprint one.crt)\",\"requested_fingerprint\":null,.*\"trigger\":\"signal\"" ||
	t_fail "SIGHUP rejection audit line lacks the leaf fingerprint or a null requested_fingerprint"
grep -q ' error: tls: reload from SIGHUP rejected: .*(key_mismatch); keeping the current certificate' "$W/server.log" ||
	t_fail "SIGHUP key_mismatch rejection not logged at error level"
expect_serving one 10
t_pass "rejected SIGHUP reload logged as an error and audited"

# ---- key type change ---------------------------------------------------------------
mkleaf rsaleaf rsa
install_pair rsaleaf "$W/live"
r=$(ctl --type reload --fingerprint "$(fingerprint rsaleaf.crt)")
echo "$r" | grep -q '"changed":true' || t_fail "reload to the RSA leaf failed: $r"
grep -q ' notice: tls: key type changed: ECDSA P-256 -> RSA$' "$W/server.log" ||
	t_fail "no notice for the key type change"
audit_has cert-reloaded '"changed":\["certificate","key"\]' ||
	t_fail "cert-reloaded audit line does not list certificate and key as changed"
t_pass "ECDSA to RSA swap logged as a key type change"

# ---- control requests that fail their checks -----------------------------------
r=$(ctl --type ping --bad-mac)
echo "$r" | grep -q '"code":"bad_signature"' || t_fail "bad MAC not rejected: $r"
r=$(ctl --type ping --timestamp-offset -3600)
echo "$r" | grep -q '"code":"stale_timestamp"' || t_fail "stale timestamp not rejected: $r"
r=$(ctl --type ping --replay 2)
echo "$r" | grep -q '"code":"replayed_nonce"' || t_fail "replayed nonce not rejected: $r"
ctl --garbage 64 >/dev/null 2>&1
ctl --length-header 100000000 >/dev/null 2>&1
audit_has control-rejected "\"code\":\"bad_signature\".*\"peer_uid\":$(id -u),\"peer_pid\":[0-9]+" ||
	t_fail "control rejection not audited with peer uid and pid"
audit_has control-rejected '"code":"replayed_nonce"' || t_fail "replay not audited"
r=$(ctl --type ping)
echo "$r" | grep -q '"pong":true' || t_fail "server stopped answering after bad peers: $r"
kill -0 "$SERVER_PID" || t_fail "server died"
t_pass "bad MAC, stale timestamp, replay, garbage and oversize frames rejected and audited"

srv_stop_check
t_pass "server stopped cleanly"

# ---- PKCS#12: the slow import runs off the event loop --------------------------
# certtool writes 600,000 PBKDF2 iterations. A request sent while the reload
# decrypts must still get its response.
for n in one two; do
	certtool --to-p12 --load-certificate "$n.fullchain.pem" --load-privkey "$n.key" \
		--p12-name api.example.test --pkcs-cipher aes-256 --password s3cret --outder \
		--outfile "$n.p12" >/dev/null 2>&1 || t_fail "certtool could not write $n.p12"
done
cp one.p12 "$W/live/tls.p12"
srv_config "" "password_env = \"IVI_TEST_P12_PASSWORD\""
sed -i -e "s|cert_path = \"$W/live/tls.crt\"|cert_path = \"$W/live/tls.p12\"|" \
	-e "\\|key_path = \"$W/live/tls.key\"|d" "$W/config.toml"
IVI_TEST_P12_PASSWORD=s3cret start_server
expect_serving one 10
cp two.p12 "$W/live/.tls.p12" && mv -f "$W/live/.tls.p12" "$W/live/tls.p12"
ctl --type reload --fingerprint "$(fingerprint two.crt)" >"$W/p12.reload" &
RELOAD_PID=$!
[ "$(http_get /healthz)" = 200 ] || t_fail "no answer while a PKCS#12 reload runs"
wait "$RELOAD_PID"
grep -q '"changed":true' "$W/p12.reload" || t_fail "PKCS#12 reload failed: $(cat "$W/p12.reload")"
expect_serving two 10
srv_stop_check
t_pass "PKCS#12 pair swapped; requests answered during the import"
