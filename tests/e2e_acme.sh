#!/bin/bash
# Real ACME renewal: certbot obtains a certificate for api.example.test from
# a local pebble ACME server, the server starts on certbot's live/ links,
# and two forced renewals are picked up without a restart:
#  1. with the watcher stopped, by `ivicli-certwatch notify` as certbot's
#     deploy hook alone;
#  2. with the watcher running and no hook.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/acme/pebble.sh"

NAME=api.example.test

for tool in pebble certbot python3 curl; do
	command -v "$tool" >/dev/null ||
		t_skip "$tool not installed (Debian packages pebble, certbot, curl; ./quickstart test installs them)"
done
t_init
e2e_require_programs

pebble_start
t_log "pebble listens on 127.0.0.1:$ACME_PORT (pid $PEBBLE_PID)"

# ---- issue the first certificate --------------------------------------

acme_certbot certonly --standalone --http-01-address 127.0.0.1 --http-01-port "$HTTP01_PORT" \
	--register-unsafely-without-email --agree-tos -d "$NAME" ||
	t_fail "certbot certonly against pebble failed; see certbot.log"
LIVE="$W/le/config/live/$NAME"
if [ ! -L "$LIVE/fullchain.pem" ] || [ ! -L "$LIVE/privkey.pem" ]; then
	t_fail "certbot did not create the live/ links in $LIVE"
fi
s1=$(serial "$LIVE/cert.pem")
t_log "certbot obtained serial $s1"

cat >"$W/config.toml" <<CFG
[api]
bind = "127.0.0.1"
port = 0
pid_file = "$W/server.pid"

[api.tls]
enabled = true
cert_path = "$LIVE/fullchain.pem"
key_path = "$LIVE/privkey.pem"

[audit]
enabled = true
path = "$W/audit.log"

[control]
socket = "$W/run/control.sock"
key_path = "$W/control.key"

[certwatch]
poll_interval_ms = 1000
settle_ms = 50
CFG
make_control_key
start_server
t_wait_for 15 serves_serial "$s1" || t_fail "server does not serve certbot's certificate $s1 (got '$(served)')"

# A client that trusts pebble's root verifies the chain the server sends.
pebble_root "$W/pebble-root.pem" || t_fail "cannot fetch pebble's root from its management interface"
verify_chain() {
	curl -sf --max-time 10 -o /dev/null --cacert "$W/pebble-root.pem" \
		--resolve "$NAME:$PORT:127.0.0.1" "https://$NAME:$PORT/healthz"
}
verify_chain || t_fail "curl trusting pebble's root rejects the chain the server sends"
reloads=$(audit_count cert-reloaded)

# ---- renewal 1: the deploy hook alone, watcher stopped ------------------

hook="$CERTWATCH notify --config $W/config.toml"
acme_certbot renew --force-renewal --no-random-sleep-on-renew --deploy-hook "$hook" ||
	t_fail "certbot renew with the deploy hook failed; see certbot.log"
grep -q 'returned error code' "$W/certbot.log" && t_fail "the deploy hook failed; see certbot.log"
grep -q 'Running deploy-hook command' "$W/le/logs/letsencrypt.log" ||
	t_fail "certbot did not run the deploy hook"
s2=$(serial "$LIVE/cert.pem")
[ "$s2" != "$s1" ] || t_fail "certbot renew did not change the certificate"

# notify exits only after the server's response arrived, so the new
# certificate is served as soon as certbot is done. No waiting here.
got=$(served)
[ "$got" = "$s2" ] || t_fail "after the hook the server serves '$got', expected the renewed $s2"
kill -0 "$SERVER_PID" 2>/dev/null || t_fail "server process $SERVER_PID is gone"
verify_chain || t_fail "the renewed chain does not verify to pebble's root"
expect_audit_count cert-reloaded $((reloads + 1))
t_pass "renewal 1: the deploy hook alone made the server serve $s2"

# ---- renewal 2: the watcher, no hook -------------------------------------

start_watcher
hooks_run=$(grep -c 'Running deploy-hook command' "$W/le/logs/letsencrypt.log")
# certbot saved the hook of renewal 1 in the lineage's renewal config; an
# empty --deploy-hook overrides it for this run.
acme_certbot renew --force-renewal --no-random-sleep-on-renew --deploy-hook "" ||
	t_fail "certbot renew without a hook failed; see certbot.log"
[ "$(grep -c 'Running deploy-hook command' "$W/le/logs/letsencrypt.log")" -eq "$hooks_run" ] ||
	t_fail "certbot still ran a deploy hook in renewal 2"
s3=$(serial "$LIVE/cert.pem")
[ "$s3" != "$s2" ] || t_fail "the second certbot renew did not change the certificate"

t_wait_for 20 serves_serial "$s3" ||
	t_fail "with the watcher running the server serves '$(served)', expected the renewed $s3"
kill -0 "$SERVER_PID" 2>/dev/null || t_fail "server process $SERVER_PID is gone"
[ "$(cat "$W/server.pid")" = "$SERVER_PID" ] || t_fail "the server's pid file changed"
verify_chain || t_fail "the second renewed chain does not verify to pebble's root"
expect_audit_count cert-reloaded $((reloads + 2))
[ "$(audit_count cert-reload-rejected)" -eq 0 ] ||
	t_fail "a reload was rejected while certbot re-pointed its live/ links"
stop_pid "$PEBBLE_PID"
t_pass "renewal 2: the watcher alone made the server serve $s3"
