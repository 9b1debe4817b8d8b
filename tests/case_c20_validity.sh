#!/bin/bash
# C20: well-formed, matching pairs outside their validity period or older
# than what is served. Expired: refused, one warning per content with
# serial, notBefore and notAfter. Not yet valid beyond the clock-skew
# tolerance: refused, retried at notBefore without any file event.
# Within the tolerance: accepted. Older notAfter than served (rollback):
# refused with a warning.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
. "$top_srcdir/tests/e2e_lib.sh"
. "$top_srcdir/tests/watcher_lib.sh"

t_init
w_start_live
install_pair new live
expect_serving new 20

at() { date -u -d "$1" '+%Y-%m-%d %H:%M:%S'; }
mkleaf expired ecdsa 'activation_date = "2024-01-01 00:00:00"\nexpiration_date = "2024-04-01 00:00:00"'
mkleaf future ecdsa "activation_date = \"$(at '+2 hours')\""
mkleaf skewed ecdsa "activation_date = \"$(at '+90 seconds')\"\nexpiration_date = \"$(at '+100 days')\""
mkleaf older ecdsa "activation_date = \"$(at '-30 days')\"\nexpiration_date = \"$(at '+60 days')\""
r0=$(reloads)

install_pair expired live
expect_wlog "rejected .*live/tls.crt \\(cert_expired.*serial $(serial expired.crt), not before 2024-01-01T00:00:00Z, not after 2024-04-01T00:00:00Z" 20
expect_still new 1
touch live/tls.crt
cp expired.fullchain.pem live/.c && mv -f live/.c live/tls.crt
sleep 1
[ "$(wlog_count 'cert_expired')" -eq 1 ] || t_fail "the expired set was reported $(wlog_count cert_expired) times"
t_pass "expired: refused, reported once with serial and dates"

install_pair future live
expect_wlog 'rejected .*cert_not_yet_valid' 20
expect_wlog 'checking the not yet valid set again at' 5
expect_still new 1
t_pass "not yet valid (+2 h): refused, retry scheduled at notBefore"

install_pair skewed live
expect_serving skewed 20
t_pass "notBefore 90 s ahead, inside the 300 s clock-skew tolerance: accepted"

install_pair older live
expect_wlog 'not replacing served serial .*rollback' 20
expect_still skewed 1
t_pass "rollback (earlier notAfter): refused with a warning"

# Retry at notBefore: no tolerance, a certificate valid in a few seconds.
w_config "$W/live/tls.crt" "$W/live/tls.key" "clock_skew = 0"
kill -HUP "$WATCHER_PID"
expect_wlog 'received SIGHUP' 5
mkleaf soon ecdsa "activation_date = \"$(at '+8 seconds')\"\nexpiration_date = \"$(at '+120 days')\""
r1=$(reloads)
install_pair soon live
expect_wlog "rejected .*cert_not_yet_valid.*serial $(serial soon.crt)" 10
serving skewed || t_fail "a not yet valid certificate is served"
expect_serving soon 30
expect_reloads $((r1 + 1))
t_pass "not yet valid by a few seconds: served at notBefore with no file event"

# The served set itself near expiry: one warning with its notAfter after SIGHUP.
soon_na=$(date -u -d "$(openssl x509 -in soon.crt -noout -enddate | cut -d= -f2)" '+%Y-%m-%dT%H:%M:%SZ')
[ "$(wlog_count 'expires soon')" -eq 0 ] || t_fail "an expiry warning was logged with the default expiry_warn_days"
w_config "$W/live/tls.crt" "$W/live/tls.key" $'clock_skew = 0\nexpiry_warn_days = 200'
kill -HUP "$WATCHER_PID"
expect_wlog "warning: watch: the certificate in .*live/tls.crt \\(serial $(serial soon.crt)\\) expires soon: not after $soon_na" 10
sleep 1
[ "$(wlog_count 'expires soon')" -eq 1 ] || t_fail "the expiry warning was logged $(wlog_count 'expires soon') times"
t_pass "served set expiring within expiry_warn_days: one warning with notAfter after SIGHUP"
