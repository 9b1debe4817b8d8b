#!/bin/bash
# Scans the server's TLS port with testssl.sh in the server's default TLS
# configuration (no [api.tls] priority) and fails on any finding rated
# HIGH or CRITICAL. Runs testssl.sh with --fast, so it takes a minute or
# two; docs/security.md records a full scan and how to repeat it.
#
# The leaf carries a CRL distribution point, as certificates from public
# and corporate CAs do. Without one, testssl.sh rates the certificate's
# revocation information HIGH, a property of the certificate, not of the
# server.
# Skips (77) when testssl.sh (Debian package testssl.sh) is missing.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/server_lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/fault_lib.sh"
f_init
f_require
TESTSSL=$(command -v testssl || command -v testssl.sh) ||
	t_skip "testssl.sh not found (Debian package testssl.sh)"

mkpki
mkleaf one ecdsa 'crl_dist_points = "http://crl.example.test/int.crl"'
install_pair one "$W/live"
srv_control_key
# Short timeouts only so that connections testssl.sh leaves open end soon.
srv_config "handshake_timeout = 10
idle_timeout = 10"
grep -q '^priority' "$W/config.toml" && t_fail "the scan must use the default priority string"
start_server
f_baseline_server
expect_serving one 15

# --nodns none: no lookups, the scan stays on 127.0.0.1.
timeout 1200 nice "$TESTSSL" --quiet --warnings off --color 0 --nodns none --fast \
	--add-ca "$W/ca.crt" --connect-timeout 10 --openssl-timeout 10 \
	--jsonfile "$W/scan.json" "127.0.0.1:$PORT" >"$W/scan.out" 2>&1
rc=$?
[ -s "$W/scan.json" ] || t_fail "testssl.sh wrote no JSON (exit status $rc): $(tail -n 20 "$W/scan.out")"

# Lists every finding above INFO and fails on HIGH or CRITICAL.
python3 - "$W/scan.json" <<'PY' || t_fail "testssl.sh rated a finding HIGH or CRITICAL"
import collections, json, sys

findings = json.load(open(sys.argv[1]))
counts = collections.Counter(f["severity"] for f in findings)
print("[tls_scan] severities: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
bad = 0
for f in findings:
    if f["severity"] in ("OK", "INFO", "DEBUG"):
        continue
    print("[tls_scan] %s %s: %s" % (f["severity"], f["id"], f["finding"][:160]))
    if f["severity"] in ("HIGH", "CRITICAL"):
        bad += 1
sys.exit(1 if bad else 0)
PY
f_check_server one "a testssl.sh scan"
t_pass "testssl.sh: nothing rated HIGH or CRITICAL"
srv_stop_check
